import { expect } from "chai";
import { MockAggregator__factory } from "../../typechain-types";
import {
  createClient,
  createOperator,
  DaemonProcess,
  eventually,
  sleep,
  startDevnet,
  TOKEN,
  vin,
  type Devnet,
} from "../node/harness";

/**
 * `vin subscribe`, `vin subscription` and `vin feed` against a real hardhat node: a client subscribes the penguin
 * classifier in TEE mode over the last 4 answers of a price feed, starts its due round as a keeper, a TEE daemon
 * serves it, and `vin feed` reads the answer (and verifies its job); then top-up, cancel and withdraw, and the errors.
 */
describe("vin subscribe / vin feed (against a real hardhat node)", () => {
  let net: Devnet;
  let client: { config: string; address: string };
  let daemon: DaemonProcess;
  let priceFeed: string;
  let feed: string;
  const as = (...args: string[]) => vin(["--config", client.config, ...args]);

  before(async () => {
    net = await startDevnet();
    client = await createClient(net, "subscriber");
    const aggregator = await new MockAggregator__factory(net.deployer).deploy(
      await net.deployer.getAddress(),
      8,
      "TEST / USD",
    );
    await (
      await aggregator.updateAnswers([391n * 10n ** 7n, 187n * 10n ** 7n, 181n * 10n ** 8n, 3750n * 10n ** 8n])
    ).wait();
    priceFeed = await aggregator.getAddress();
    // The CLI starts the rounds here (`vin subscription start`), not the daemon.
    const operator = await createOperator(net, "tee", {
      modes: "tee",
      patch: { confirmations: 0, keepSubscriptions: false },
    });
    daemon = new DaemonProcess(operator);
    await daemon.waitForLog(/operator node started/);
    // The feed's answers lie strictly before the first round's due time.
    await sleep(1_500);
  });

  after(async () => {
    await daemon?.stop();
    await net?.chain.stop();
  });

  it("vin subscribe funds a subscription over a price feed and prints its feed", async () => {
    const result = await as(
      "subscribe",
      "--model",
      net.modelId.toString(),
      "--mode",
      "tee",
      "--feed",
      priceFeed,
      "--input",
      "window:4",
      "--answer",
      "label",
      "--period",
      "300",
      "--rounds",
      "4",
      "--round-duration",
      "60",
      "--description",
      "penguin species from a feed",
    );
    expect(result.code, result.stderr).to.equal(0);
    const match =
      /^subscription 1: 4 rounds of model 1@1 in tee mode, one every 300 s from .*, funded with ([\d.]+) tokens\nfeed (0x[0-9a-fA-F]{40}) /.exec(
        result.stdout,
      );
    expect(match, result.stdout).to.not.equal(null);
    feed = match![2]!;
    const [jobCost] = await net.contracts.escrow.quote(net.modelId, 1, 1, 1, TOKEN / 2n);
    expect(match![1]).to.equal(String(Number(4n * (jobCost + TOKEN / 100n)) / 1e18));
  });

  it("vin subscription start starts the due round; starting it again exits 5 naming SubscriptionManagerRoundStarted", async () => {
    const started = await as("subscription", "start", "1");
    expect(started.code, started.stderr).to.equal(0);
    expect(started.stdout).to.match(/^round 0 of subscription 1 started \(0x[0-9a-f]{64}\)\n$/);
    const again = await as("subscription", "start", "1");
    expect(again.code).to.equal(5);
    expect(again.stderr).to.match(/SubscriptionManagerRoundStarted\(subscriptionId=1, round=0\)/);
  });

  it("vin feed reads the TEE-verified answer, its subscription and its job, and --verify re-verifies the job", async () => {
    const manager = net.system.subscriptionManager;
    await eventually(
      "round 0 answered",
      async () => ((await manager.subscriptionOf(1)).latestRound === 1n ? true : undefined),
      daemon,
    );
    const result = await vin(["--config", client.config, "feed", feed, "--verify"]);
    expect(result.code, result.stderr).to.equal(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).to.equal(`penguin species from a feed: feed ${feed}, 0 decimals, version 1`);
    expect(lines[1]).to.match(
      /^subscription 1 of manager 0x[0-9a-fA-F]{40}: model 1@1, tee mode, 1 node\(s\) per round; active; 1\/4 rounds started or missed, one every 300 s;/,
    );
    expect(lines[3]).to.match(/^latest round 1: [0-2] \(updated .* s ago; input as of .*; job 1\)$/);
    expect(lines.at(-1)).to.match(/^job 1 verified: \d+ checks passed$/);
    const json = JSON.parse((await vin(["--config", client.config, "--json", "feed", feed])).stdout) as {
      decimals: number;
      latest: { roundId: string; jobId: string };
      subscription: { mode: number };
    };
    expect([json.decimals, json.latest.roundId, json.latest.jobId, json.subscription.mode]).to.deep.equal([
      0,
      "1",
      "1",
      1,
    ]);
  });

  it("vin feed reads a plain price feed too", async () => {
    const result = await vin(["--config", client.config, "feed", priceFeed, "--rounds", "2"]);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(
      /^TEST \/ USD: feed 0x[0-9a-fA-F]{40}, 8 decimals, version 4\nlatest round 4: 3750\.00000000 \(updated .*\)\nround 3: 181\.00000000 /,
    );
  });

  it("vin subscription list, top-up, cancel and withdraw", async () => {
    const list = await as("subscription", "list", "--mine");
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.match(
      /^1 {2}active {2}model 1@1 tee {2}every 300 s {2}round \d\/4 {2}.* feed 0x[0-9a-fA-F]{40} {2}penguin species from a feed\n$/,
    );
    const topUp = await as("subscription", "top-up", "1", "2");
    expect(topUp.code, topUp.stderr).to.equal(0);
    const cancel = await as("subscription", "cancel", "1");
    expect(cancel.code, cancel.stderr).to.equal(0);
    expect(cancel.stdout).to.match(/^subscription 1 cancelled: [\d.]+ tokens paid back/);
    const withdraw = await as("subscription", "withdraw", "1");
    expect(withdraw.code).to.equal(5);
    expect(withdraw.stderr).to.match(/SubscriptionManagerNothingToWithdraw/);
  });

  it("exits 2 for bad input before any transaction", async () => {
    const nonce = await net.provider.getTransactionCount(client.address);
    for (const args of [
      ["subscribe", "--model", "1", "--rounds", "3"],
      ["subscribe", "--model", "1", "--feed", priceFeed, "--rounds", "3", "--until", "2030-01-01"],
      ["subscribe", "--model", "1", "--feed", priceFeed, "--rounds", "3", "--input", "median"],
      ["subscribe", "--model", "1", "--mode", "zk", "--feed", priceFeed, "--rounds", "3"],
      ["feed", "0x1234"],
    ]) {
      const result = await as(...args);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).to.equal(2);
      expect(result.stderr).to.match(/^error: /);
    }
    expect(await net.provider.getTransactionCount(client.address)).to.equal(nonce);
  });
});

import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { FeedConsumerExample__factory, SubscriptionFeed__factory } from "../../typechain-types";
import { getJobRequest } from "../../src/sdk/jobs";
import { verifyResult } from "../../src/sdk/verifyResult";
import { decodeInput } from "../../src/core/job";
import { toJobId } from "../../src/core/ids";
import { Mode } from "../../src/core/modes";
import { buildVolatilityRegressor, runOnnx } from "../../src/models";
import { startDevnet, type Devnet } from "../../src/devnet/devnet";
import { freePort } from "../../src/devnet/chain";
import { startDevnetSubscriptions, type DevnetSubscriptions } from "../../src/devnet/subscription";
import { decodeZkJobInput } from "../../src/zkml/job";
import { releaseSnarkjs } from "../../src/zkml/prover";
import type { AnyBundledModel } from "../../src/models";

/**
 * `npm start`'s subscriptions on a real devnet: the S&P 500 price feed replayed, the volatility model subscribed in
 * TEE and ZK mode, the keeper starting rounds and the operator daemons serving them. Each feed advances round by
 * round with answers the model computes from the round's on-chain input, every round's job re-verifies, and the
 * example consumer reads the feed like a price feed.
 */
describe("devnet subscriptions: a live verified feed (against a real hardhat node)", function () {
  let devnet: Devnet<AnyBundledModel>;
  let subscriptions: DevnetSubscriptions;
  const lines: string[] = [];

  before(async () => {
    devnet = await startDevnet<AnyBundledModel>({
      hre,
      port: await freePort(),
      workDir: process.env.VIN_TEST_WORKDIR ?? mkdtempSync(path.join(os.tmpdir(), "vin-subscriptions-")),
      network: "subscription-test",
      models: [{ model: buildVolatilityRegressor(), zk: { minPower: 12 } }],
      operators: [
        { name: "tee", modes: ["tee"] },
        { name: "zk", modes: ["zk"] },
      ],
      settings: { confirmations: 0 },
    });
    subscriptions = await startDevnetSubscriptions(devnet, {
      period: 10,
      tickMs: 3_000,
      waitRounds: 2,
      log: (line) => lines.push(line),
    });
  });

  after(async () => {
    subscriptions?.stop();
    await devnet?.stop();
    await releaseSnarkjs();
  });

  it("publishes verified answers round by round in TEE and ZK mode, each the model's answer to its round's input", async () => {
    expect(subscriptions.feeds.map((f) => f.mode)).to.deep.equal([Mode.Tee, Mode.Zk]);
    const model = devnet.models[0]!;
    for (const { feed: address, mode } of subscriptions.feeds) {
      const feed = SubscriptionFeed__factory.connect(address, devnet.provider);
      const [roundId, answer, startedAt, updatedAt, answeredInRound] = await feed.latestRoundData();
      expect(roundId).to.be.greaterThanOrEqual(2n);
      expect(answeredInRound).to.equal(roundId);
      expect(updatedAt).to.be.greaterThan(startedAt);
      expect(await feed.decimals()).to.equal(4n);
      const jobId = await feed.jobOf(roundId);
      const { input } = await getJobRequest({
        escrow: devnet.contracts.escrow,
        provider: devnet.provider,
        jobId: toJobId(jobId),
        fromBlock: 0,
      });
      const x = mode === Mode.Zk ? decodeZkJobInput(input).x : decodeInput(input);
      const [[value]] = (await runOnnx(model.model.onnx, [x])) as [[number]];
      // TEE: the ONNX value in units of 10^-4; ZK: the circuit's fixed point (2^-scaleBits), close to it.
      const tolerance = mode === Mode.Zk ? 300 : 1;
      expect(Math.abs(Number(answer) - value * 1e4)).to.be.lessThanOrEqual(tolerance);
      const report = await verifyResult({
        contracts: devnet.contracts,
        provider: devnet.provider,
        jobId: toJobId(jobId),
        fromBlock: 0,
      });
      if (mode === Mode.Tee) expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
      else expect(report.checks.find((c) => c.name === "Groth16 proof (off-chain)")?.ok).to.equal(true);
    }
    for (const mode of ["TEE", "ZK"])
      expect(
        lines.filter((l) => l.includes(`[${mode}] feed round `)).length,
        lines.join("\n"),
      ).to.be.greaterThanOrEqual(2);
  });

  it("keeps advancing: a later round is answered while the feed ticks", async () => {
    const feed = SubscriptionFeed__factory.connect(subscriptions.feeds[0]!.feed, devnet.provider);
    const [before] = await feed.latestRoundData();
    const deadline = Date.now() + 120_000;
    let latest = before;
    while (latest === before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      [latest] = await feed.latestRoundData();
    }
    expect(latest).to.be.greaterThan(before);
  });

  it("the example consumer read the TEE feed through latestRoundData and accepted a fresh, verified round", async () => {
    const consumer = FeedConsumerExample__factory.connect(subscriptions.consumer, devnet.provider);
    expect(await consumer.roundId()).to.be.greaterThanOrEqual(2n);
    expect(await consumer.feed()).to.equal(subscriptions.feeds[0]!.feed);
    const [answer] = await consumer.read();
    expect(answer).to.be.greaterThan(0n);
  });
});

import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import pino from "pino";
import { Writable } from "node:stream";
import { Mode } from "../../../src/core/modes";
import { keepSubscriptions, signerRoundStarter, SubscriptionKeeper } from "../../../src/node/subscription-keeper";
import type { TxSender } from "../../../src/node/sender";
import { TOKEN } from "../../fixtures/system";
import { loadSubscriptions, PERIOD, subscribe, type SubscriptionFixture } from "./subscriptions.fixture";

/** A logger whose lines are kept, to assert what the keeper said. */
function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: "debug" }, stream), lines };
}

async function keeperOf(
  fx: SubscriptionFixture,
  signer = fx.keeper,
  modes: number[] = [Mode.Tee],
  extra: Partial<ConstructorParameters<typeof SubscriptionKeeper>[0]> = {},
) {
  const { log, lines } = capture();
  const keeper = new SubscriptionKeeper({
    manager: fx.manager.connect(hre.ethers.provider),
    provider: hre.ethers.provider,
    start: signerRoundStarter(fx.manager.connect(signer)),
    modes: new Set(modes),
    startBlock: 0,
    rpcTimeoutMs: 10_000,
    log,
    ...extra,
  });
  return { keeper, lines };
}

describe("SubscriptionKeeper", () => {
  it("starts each due round of the subscriptions in its modes once, and nothing before it is due", async () => {
    const fx = await loadSubscriptions();
    const tee = await subscribe(fx);
    await subscribe(fx, { mode: Mode.Vanilla });
    const { keeper } = await keeperOf(fx);
    expect(await keeper.check()).to.deep.equal([]);
    expect([...keeper.followed.keys()]).to.deep.equal([tee.id]);
    await time.increaseTo(tee.startTime);
    const started = await keeper.check();
    expect(started.map((s) => [s.subscriptionId, s.round])).to.deep.equal([[tee.id, 0n]]);
    expect((await fx.manager.roundOf(tee.id, 0)).jobId).to.not.equal(0n);
    expect(await keeper.check()).to.deep.equal([]);
    await time.increaseTo(tee.startTime + BigInt(PERIOD));
    expect((await keeper.check()).map((s) => s.round)).to.deep.equal([1n]);
    expect(await fx.manager.keeperRewardsOf(fx.keeper.address)).to.be.greaterThan(0n);
  });

  it("loses a race quietly: a round another keeper started in between is not an error", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx);
    const rival = signerRoundStarter(fx.manager.connect(fx.nodes[1]));
    const own = signerRoundStarter(fx.manager.connect(fx.keeper));
    const { log, lines } = capture();
    const keeper = new SubscriptionKeeper({
      manager: fx.manager.connect(hre.ethers.provider),
      provider: hre.ethers.provider,
      // The rival's transaction lands between this keeper's reads and its own send.
      start: async (subscription, round) => {
        await rival(subscription, round);
        return own(subscription, round);
      },
      modes: new Set([Mode.Tee]),
      startBlock: 0,
      rpcTimeoutMs: 10_000,
      log,
    });
    await time.increaseTo(startTime);
    expect(await keeper.check()).to.deep.equal([]);
    expect(lines.some((l) => l.msg === "round started by another" && l.subscription === id.toString())).to.equal(true);
    expect(await fx.manager.keeperRewardsOf(fx.nodes[1]!.address)).to.be.greaterThan(0n);
  });

  it("leaves rounds it cannot serve or that are unfunded or underpaid, saying why once", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx, { rounds: 1 });
    await fx.system.registry.connect(fx.owner).setPrice(1, 10n * TOKEN);
    const { keeper, lines } = await keeperOf(fx);
    await time.increaseTo(startTime);
    await keeper.check();
    await keeper.check();
    const reasons = lines.filter((l) => String(l.msg).startsWith("round not started:"));
    expect(reasons.length).to.equal(1);
    expect(String(reasons[0]!.msg)).to.match(/costs .* the subscription holds/);
    // A keeper asking a higher reward, and one whose node is not eligible for TEE, leave it too.
    const greedy = await keeperOf(fx, fx.keeper, [Mode.Tee], { minKeeperReward: TOKEN });
    await greedy.keeper.check();
    expect(greedy.lines.some((l) => /keeper reward .* below/.test(String(l.msg)))).to.equal(true);
    const ineligible = await keeperOf(fx, fx.keeper, [Mode.Tee], {
      eligibility: { staking: fx.system.staking, address: fx.other.address },
    });
    await ineligible.keeper.check();
    expect(ineligible.lines.some((l) => /not eligible for mode tee/.test(String(l.msg)))).to.equal(true);
    expect((await fx.manager.subscriptionOf(id)).nextRound).to.equal(0n);
  });

  it("stops following a subscription once it is cancelled or over", async () => {
    const fx = await loadSubscriptions();
    const a = await subscribe(fx, { rounds: 1 });
    const b = await subscribe(fx);
    const { keeper } = await keeperOf(fx, fx.keeper, [Mode.Tee], {
      eligibility: { staking: fx.system.staking, address: fx.nodes[0]!.address },
    });
    await keeper.check();
    await fx.manager.connect(fx.subscriber).cancel(b.id);
    await time.increaseTo(a.startTime + BigInt(PERIOD));
    await keeper.check();
    expect([...keeper.followed.keys()]).to.deep.equal([]);
  });

  it("keepSubscriptions (the daemon's loop) starts each round once through the outbox, one key per round, until aborted", async () => {
    const fx = await loadSubscriptions();
    const { id, startTime } = await subscribe(fx);
    const node = fx.nodes[0]!;
    const keys: string[] = [];
    // An outbox that sends from the node's signer: what matters here is what the loop asks it to send.
    const sender = {
      async send(request: { key: string; to: string; data: string }) {
        keys.push(request.key);
        const tx = await node.sendTransaction({ to: request.to, data: request.data });
        return { hash: tx.hash };
      },
      async wait(tx: { hash: string }) {
        const receipt = await hre.ethers.provider.waitForTransaction(tx.hash);
        return { hash: tx.hash, status: receipt!.status };
      },
    } as unknown as Pick<TxSender, "send" | "wait">;
    const abort = new AbortController();
    await time.increaseTo(startTime);
    const { log } = capture();
    const loop = keepSubscriptions({
      manager: fx.manager.connect(hre.ethers.provider),
      provider: hre.ethers.provider,
      staking: fx.system.staking,
      sender,
      address: node.address,
      modes: new Set([Mode.Tee]),
      startBlock: 0,
      rpcTimeoutMs: 10_000,
      intervalMs: 50,
      log,
      signal: abort.signal,
    });
    while ((await fx.manager.subscriptionOf(id)).nextRound === 0n) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    abort.abort();
    await loop;
    const manager = await fx.manager.getAddress();
    expect(keys).to.deep.equal([`startRound:${manager}:${id}:0`]);
    expect(await fx.manager.keeperRewardsOf(node.address)).to.be.greaterThan(0n);
  });
});

import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { keccak256 } from "ethers";
import { Mode, modeMask } from "../../../src/core/modes";
import { resultCommitment } from "../../../src/core/job";
import {
  COLLATERAL,
  DEGENERATE_KEY,
  degenerateProof,
  factoryVerifier,
  FEE_PER_NODE,
  keyHash,
  STAKE,
  teeProof,
  zkOutput,
  zkProofBytes,
  zkVersionInput,
} from "../../fixtures/system";
import { inputCommitment } from "../../../src/zkml/claim";
import { decodeZkJobInput } from "../../../src/zkml/job";
import { quantizeInput, type QuantizedModel } from "../../../src/zkml/quantize";
import {
  JOB_COST,
  KEEPER_REWARD,
  loadSubscriptions,
  PERIOD,
  startRound,
  subscribe,
  teeValueOutput,
  type SubscriptionFixture,
} from "./subscriptions.fixture";

/** What the manager's books say it owes, and what backs it: they must be equal. */
async function books(fx: SubscriptionFixture, ids: bigint[], keepers: string[]): Promise<[bigint, bigint]> {
  const manager = await fx.manager.getAddress();
  let owed = 0n;
  for (const id of ids) owed += (await fx.manager.subscriptionOf(id)).balance;
  for (const k of keepers) owed += await fx.manager.keeperRewardsOf(k);
  const held = (await fx.system.token.balanceOf(manager)) + (await fx.manager.credited());
  expect(await fx.manager.credited()).to.equal(await fx.system.escrow.claimable(manager));
  return [owed, held];
}

describe("SubscriptionManager rounds", () => {
  describe("a served round", () => {
    it("publishes a settled TEE round's output as the feed's answer, with its job as settlement reference", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime, feed } = await subscribe(fx);
      await time.increaseTo(startTime);
      const { job } = await startRound(fx, id);
      const node = fx.nodes[0]!;
      await fx.system.escrow.connect(node).claimSlot(job);
      const output = teeValueOutput(12_345);
      const tx = fx.system.escrow.connect(node).submit(job, output, await teeProof(fx, job, output));
      await expect(tx).to.emit(fx.manager, "RoundAnswered").withArgs(id, 0, job.id, 12_345, 0);
      await expect(tx)
        .to.emit(fx.system.escrow, "CallbackDelivered")
        .withArgs(job.id, await fx.manager.getAddress(), true);
      const settledAt = BigInt(await time.latest());
      expect(await feed.latestRoundData()).to.deep.equal([1n, 12_345n, startTime, settledAt, 1n]);
      expect(await feed.getRoundData(1)).to.deep.equal([1n, 12_345n, startTime, settledAt, 1n]);
      expect(await feed.jobOf(1)).to.equal(job.id);
      expect((await fx.manager.subscriptionOf(id)).latestRound).to.equal(1n);
      expect(await fx.manager.roundOf(id, 0)).to.deep.equal([12_345n, settledAt, job.id]);
      expect(await fx.system.escrow.claimable(node.address)).to.equal(FEE_PER_NODE);
    });

    it("keeps the latest round as latestRoundData when an earlier round settles after it", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime, feed } = await subscribe(fx, { roundDuration: 2 * PERIOD });
      await time.increaseTo(startTime);
      const first = (await startRound(fx, id)).job;
      await time.increaseTo(startTime + BigInt(PERIOD));
      const second = (await startRound(fx, id)).job;
      const node = fx.nodes[0]!;
      for (const [job, value] of [
        [second, 200],
        [first, 100],
      ] as const) {
        await fx.system.escrow.connect(node).claimSlot(job);
        const output = teeValueOutput(value);
        await fx.system.escrow.connect(node).submit(job, output, await teeProof(fx, job, output));
      }
      const [roundId, answer] = await feed.latestRoundData();
      expect([roundId, answer]).to.deep.equal([2n, 200n]);
      expect((await feed.getRoundData(1))[1]).to.equal(100n);
    });

    it("credits a k = 3 round's dissenter's unpaid fee to the balance and publishes the majority's output", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime, feed } = await subscribe(fx, { mode: Mode.Vanilla, redundancy: 3 });
      await time.increaseTo(startTime);
      const before = (await fx.manager.subscriptionOf(id)).balance;
      const { job } = await startRound(fx, id);
      const jobCost = (await fx.manager.roundCost(id))[0];
      const outputs = [teeValueOutput(7), teeValueOutput(7), teeValueOutput(9)];
      const salts = outputs.map((_, i) => keccak256(`0x0${i + 1}`));
      for (const n of fx.nodes) await fx.system.escrow.connect(n).claimSlot(job);
      for (const [i, n] of fx.nodes.entries())
        await fx.system.escrow.connect(n).commit(job, resultCommitment(job.id, n.address, outputs[i]!, salts[i]!));
      await fx.system.escrow.connect(fx.nodes[0]).reveal(job, outputs[0]!, salts[0]!, "0x");
      await fx.system.escrow.connect(fx.nodes[1]).reveal(job, outputs[1]!, salts[1]!, "0x");
      // The dissenter's fee and the protocol fee on it (5%) come back.
      const credit = FEE_PER_NODE + (FEE_PER_NODE * 5n) / 100n;
      await expect(fx.system.escrow.connect(fx.nodes[2]).reveal(job, outputs[2]!, salts[2]!, "0x"))
        .to.emit(fx.manager, "RoundAnswered")
        .withArgs(id, 0, job.id, 7, credit);
      expect((await fx.manager.subscriptionOf(id)).balance).to.equal(before - jobCost - KEEPER_REWARD + credit);
      expect((await feed.latestRoundData())[1]).to.equal(7n);
      const [owed, held] = await books(fx, [id], [fx.keeper.address]);
      expect(held).to.equal(owed);
    });

    it("rejects a settled output of another format (RoundOutputRejected): the round has no answer", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime, feed } = await subscribe(fx, { mode: Mode.Vanilla });
      await time.increaseTo(startTime);
      const { job } = await startRound(fx, id);
      await fx.system.escrow.connect(fx.nodes[0]).claimSlot(job);
      await expect(fx.system.escrow.connect(fx.nodes[0]).submit(job, "0x010203", "0x"))
        .to.emit(fx.manager, "RoundOutputRejected")
        .withArgs(id, 0, job.id, keccak256("0x010203"), 0);
      await expect(feed.latestRoundData())
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNoData")
        .withArgs(id, 0);
      await expect(feed.getRoundData(1))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNoData")
        .withArgs(id, 1);
    });
  });

  describe("a ZK round", () => {
    it("commits to the chain input as the circuit does, settles with a proof of that commitment and publishes its value", async () => {
      const fx = await loadSubscriptions();
      // Version 2: ZK only, bound to the factory verifier of a degenerate key (any signal has a proof): what is under
      // test is that the proof must be of the manager's commitment, which the escrow and the verifier check.
      const verifier = await factoryVerifier(fx, DEGENERATE_KEY);
      await fx.system.registry.connect(fx.owner).publishVersion(1n, zkVersionInput(verifier, keyHash(DEGENERATE_KEY)));
      const node = fx.nodes[0]!;
      await fx.system.staking.connect(node).register(modeMask([Mode.Vanilla, Mode.Tee, Mode.Zk]));
      const { id, startTime, feed } = await subscribe(fx, {
        mode: Mode.Zk,
        version: 2,
        zkScaleBits: 12,
        zkInputBits: 26,
      });
      await time.increaseTo(startTime);
      const { job, input } = await startRound(fx, id);
      const x = decodeZkJobInput(input);
      expect(x.salt).to.equal(0n);
      const model = { inputSize: 4, scaleBits: 12, inputBits: 26, inputRange: 2 ** 14 } as unknown as QuantizedModel;
      const commitment = inputCommitment(model, quantizeInput(model, x.x), 0n);
      expect(BigInt(job.inputHash)).to.equal(commitment);
      await fx.system.escrow.connect(node).claimSlot(job);
      const packed = (1n << 47n) + 6144n; // 1.5 at scale 2^12
      const signal = (commitment << 48n) | packed;
      const wrong = await degenerateProof(((commitment ^ 1n) << 48n) | packed);
      await expect(
        fx.system.escrow.connect(node).submit(job, zkOutput(packed), zkProofBytes(packed, wrong)),
      ).to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierInvalidProof");
      const proof = await degenerateProof(signal);
      await expect(fx.system.escrow.connect(node).submit(job, zkOutput(packed), zkProofBytes(packed, proof)))
        .to.emit(fx.manager, "RoundAnswered")
        .withArgs(id, 0, job.id, 15_000, 0);
      expect((await feed.latestRoundData())[1]).to.equal(15_000n);
      expect(await feed.terms()).to.deep.equal([1n, 2n, BigInt(Mode.Zk), 1n]);
    });
  });

  describe("an unserved round", () => {
    it("is refunded to the balance and the node that claimed it slashed, exactly as a job is", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime } = await subscribe(fx);
      await time.increaseTo(startTime);
      const { job } = await startRound(fx, id);
      const node = fx.nodes[1]!;
      await fx.system.escrow.connect(node).claimSlot(job);
      const balance = (await fx.manager.subscriptionOf(id)).balance;
      await time.increaseTo(job.deadline);
      // The requester's share of the slash: half of the collateral.
      const credit = JOB_COST + COLLATERAL / 2n;
      const tx = fx.system.escrow.connect(fx.other).expire(job);
      await expect(tx)
        .to.emit(fx.system.escrow, "NodeSlashed")
        .withArgs(job.id, node.address, COLLATERAL, COLLATERAL / 2n);
      await expect(tx).to.emit(fx.manager, "RoundRefunded").withArgs(id, 0, job.id, credit);
      expect((await fx.manager.subscriptionOf(id)).balance).to.equal(balance + credit);
      expect(await fx.manager.credited()).to.equal(credit);
      expect((await fx.system.staking.operatorOf(node.address)).staked).to.equal(STAKE - COLLATERAL);
      const [owed, held] = await books(fx, [id], [fx.keeper.address]);
      expect(held).to.equal(owed);
    });

    it("is refunded in full without a slash when no node claimed it", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime, feed } = await subscribe(fx);
      await time.increaseTo(startTime);
      const { job } = await startRound(fx, id);
      await time.increaseTo(job.deadline);
      await expect(fx.system.escrow.expire(job)).to.emit(fx.manager, "RoundRefunded").withArgs(id, 0, job.id, JOB_COST);
      await expect(feed.getRoundData(1)).to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNoData");
      expect(await feed.jobOf(1)).to.equal(job.id);
    });

    it("spends refunds held as escrow credits on later rounds (claimed from the escrow when tokens run short)", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime } = await subscribe(fx, { rounds: 2, roundDuration: 60 });
      await time.increaseTo(startTime);
      const first = (await startRound(fx, id)).job;
      // Drain the manager's tokens but round 1's funds: round 0's refund must come from the escrow.
      await time.increaseTo(first.deadline);
      await fx.system.escrow.expire(first);
      const manager = await fx.manager.getAddress();
      expect(await fx.system.token.balanceOf(manager)).to.equal(JOB_COST + 2n * KEEPER_REWARD);
      await time.increaseTo(startTime + BigInt(PERIOD));
      await startRound(fx, id);
      // Tokens sufficed for round 1: the credit is still in the escrow.
      expect(await fx.manager.credited()).to.equal(JOB_COST);
      await time.increaseTo(startTime + 2n * BigInt(PERIOD));
      const paid = await fx.manager.connect(fx.subscriber).withdraw.staticCall(id, fx.subscriber.address);
      await expect(fx.manager.connect(fx.subscriber).withdraw(id, fx.subscriber.address))
        .to.emit(fx.system.escrow, "Claimed")
        .withArgs(manager, manager, JOB_COST);
      expect(paid).to.equal(JOB_COST);
      expect(await fx.manager.credited()).to.equal(0n);
      const [owed, held] = await books(fx, [id], [fx.keeper.address]);
      expect(held).to.equal(owed);
      expect(owed).to.equal(2n * KEEPER_REWARD);
    });
  });

  describe("cancellation mid-round", () => {
    it("pays out the unspent rounds at once; the open round still settles, and its refund can be withdrawn", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime, feed } = await subscribe(fx, { rounds: 3 });
      await time.increaseTo(startTime);
      const { job } = await startRound(fx, id);
      const before = await fx.system.token.balanceOf(fx.subscriber.address);
      await expect(fx.manager.connect(fx.subscriber).cancel(id))
        .to.emit(fx.manager, "SubscriptionCancelled")
        .withArgs(id, 2n * (JOB_COST + KEEPER_REWARD));
      expect((await fx.system.token.balanceOf(fx.subscriber.address)) - before).to.equal(
        2n * (JOB_COST + KEEPER_REWARD),
      );
      // The open round is the escrow's: a node still serves it and it is published.
      const node = fx.nodes[0]!;
      await fx.system.escrow.connect(node).claimSlot(job);
      const output = teeValueOutput(42);
      await fx.system.escrow.connect(node).submit(job, output, await teeProof(fx, job, output));
      expect((await feed.latestRoundData())[1]).to.equal(42n);
      await expect(fx.manager.connect(fx.subscriber).withdraw(id, fx.subscriber.address))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerNothingToWithdraw")
        .withArgs(fx.subscriber.address);
    });

    it("returns an open round's refund to the cancelled subscription, for withdraw", async () => {
      const fx = await loadSubscriptions();
      const { id, startTime } = await subscribe(fx, { rounds: 3 });
      await time.increaseTo(startTime);
      const { job } = await startRound(fx, id);
      await fx.system.escrow.connect(fx.nodes[2]).claimSlot(job);
      await fx.manager.connect(fx.subscriber).cancel(id);
      await time.increaseTo(job.deadline);
      await fx.system.escrow.expire(job);
      const credit = JOB_COST + COLLATERAL / 2n;
      expect((await fx.manager.subscriptionOf(id)).balance).to.equal(credit);
      await expect(fx.manager.connect(fx.subscriber).withdraw(id, fx.other.address))
        .to.emit(fx.manager, "SubscriptionWithdrawn")
        .withArgs(id, fx.other.address, credit);
      const [owed, held] = await books(fx, [id], [fx.keeper.address]);
      expect(held).to.equal(owed);
      expect(owed).to.equal(KEEPER_REWARD);
    });
  });

  describe("onInferenceResult", () => {
    it("reverts with SubscriptionManagerUnauthorizedCallback from anyone but the escrow", async () => {
      const fx = await loadSubscriptions();
      await expect(fx.manager.connect(fx.other).onInferenceResult(1, true, keccak256("0x"), "0x"))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerUnauthorizedCallback")
        .withArgs(fx.other.address);
    });

    it("reverts with SubscriptionManagerUnknownJob for a job that is not a pending round", async () => {
      const fx = await loadSubscriptions();
      const escrow = await fx.system.escrow.getAddress();
      await hre.network.provider.send("hardhat_setBalance", [escrow, "0xde0b6b3a7640000"]);
      const asEscrow = await hre.ethers.getImpersonatedSigner(escrow);
      await expect(fx.manager.connect(asEscrow).onInferenceResult(9, true, keccak256("0x"), "0x"))
        .to.be.revertedWithCustomError(fx.manager, "SubscriptionManagerUnknownJob")
        .withArgs(9);
    });
  });
});

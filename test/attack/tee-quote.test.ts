import { expect } from "chai";
import { mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet } from "ethers";
import { COLLATERAL, STAKE, requestJob, teeProof, governor } from "../fixtures/system";
import { attest, loadQuoteSystem, registerWithQuote, type QuoteFixture } from "../tee/system";
import { TeeVerifier__factory } from "../../typechain-types";
import { DevEnclave } from "../../src/tee";
import { jobTotal, RefundReason, type Job } from "../../src/core/job";
import { Mode } from "../../src/core/modes";

/** A k = 1 TEE job on the attested model (its version binds the development TD), claimed by node 0. */
async function claimedJob(fx: QuoteFixture): Promise<Job> {
  const job = await requestJob(fx, { modelId: fx.attestedModelId, mode: Mode.Tee });
  await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
  return job;
}

/** Expires `job` at its deadline: node 0 excused (full refund, no slash, stake whole and unlocked). */
async function expectExcused(fx: QuoteFixture, job: Job): Promise<void> {
  const { escrow, staking } = fx.system;
  const node = fx.nodes[0]!;
  await time.increaseTo(job.deadline);
  const tx = escrow.connect(fx.other).expire(job);
  await expect(tx)
    .to.emit(escrow, "JobRefunded")
    .withArgs(job.id, fx.requester.address, jobTotal(job), RefundReason.Expired);
  await expect(tx).to.emit(escrow, "NodeExcused").withArgs(job.id, node.address);
  await expect(tx).not.to.emit(escrow, "NodeSlashed");
  expect(await escrow.claimable(fx.requester.address)).to.equal(jobTotal(job));
  expect(await escrow.lockedStake(node.address)).to.equal(0n);
  expect((await staking.operatorOf(node.address)).staked).to.equal(STAKE);
}

/** Expires `job` at its deadline: node 0 slashed as any node that did not deliver. */
async function expectSlashed(fx: QuoteFixture, job: Job): Promise<void> {
  const { escrow, staking } = fx.system;
  const node = fx.nodes[0]!;
  if (BigInt(await time.latest()) < job.deadline) await time.increaseTo(job.deadline);
  const tx = escrow.connect(fx.other).expire(job);
  await expect(tx)
    .to.emit(escrow, "NodeSlashed")
    .withArgs(job.id, node.address, COLLATERAL, COLLATERAL / 2n);
  await expect(tx).not.to.emit(escrow, "NodeExcused");
  expect((await staking.operatorOf(node.address)).staked).to.equal(STAKE - COLLATERAL);
}

describe("attack: enclave registration with quotes (issue #12)", () => {
  describe("replayed or misdirected quotes", () => {
    it("a quote replayed after its window is refused with TeeVerifierStaleQuote", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!;
      const a = await registerWithQuote(fx, node);
      await mine(300);
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(...a.args))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierStaleQuote")
        .withArgs(a.binding.anchorBlock, a.binding.anchorBlock + 303n);
    });

    it("a quote taken from another operator's registration is refused: it binds that operator", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const [victim, thief] = [fx.nodes[0]!, fx.nodes[1]!];
      const a = await attest(fx, victim.address);
      await expect(teeVerifier.connect(thief).registerEnclaveWithQuote(...a.args)).to.be.revertedWithCustomError(
        teeVerifier,
        "TeeVerifierReportDataMismatch",
      );
      // Registered by its operator first, the key cannot be taken either.
      await teeVerifier.connect(victim).registerEnclaveWithQuote(...a.args);
      await expect(teeVerifier.connect(thief).registerEnclaveWithQuote(...a.args))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierOperatorMismatch")
        .withArgs(a.wallet.address, victim.address, thief.address);
    });

    it("a quote made for another chain, or for another verifier on this chain, is refused", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!;
      const otherChain = await attest(fx, node.address, { binding: { chainId: 10n } });
      await expect(
        teeVerifier.connect(node).registerEnclaveWithQuote(...otherChain.args),
      ).to.be.revertedWithCustomError(teeVerifier, "TeeVerifierReportDataMismatch");
      // A second deployment of the verifier, configured like the first: a quote for the first does not register there.
      const twin = await new TeeVerifier__factory(fx.deployer).deploy(
        await fx.system.registry.getAddress(),
        fx.deployer.address,
      );
      await twin.setParameters({
        dcapVerifier: await fx.system.dcapVerifier.getAddress(),
        maxEnclaveAge: 3600,
        staking: await fx.system.staking.getAddress(),
      });
      const forFirst = await attest(fx, node.address);
      await expect(twin.connect(node).registerEnclaveWithQuote(...forFirst.args)).to.be.revertedWithCustomError(
        twin,
        "TeeVerifierReportDataMismatch",
      );
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(...forFirst.args)).to.emit(
        teeVerifier,
        "EnclaveAttested",
      );
    });
  });

  describe("revocations in mid-job", () => {
    it("a measurement revoked after the claim: the result is refused, the job refunded at expiry and the node excused", async () => {
      const fx = await loadQuoteSystem();
      const a = await registerWithQuote(fx, fx.nodes[0]!);
      const job = await claimedJob(fx);
      await expect(
        fx.system.teeVerifier.connect(await governor(fx)).revokeMeasurement(DevEnclave.TD_MEASUREMENT),
      ).to.emit(fx.system.teeVerifier, "MeasurementRevoked");
      await expect(
        fx.system.escrow
          .connect(fx.nodes[0]!)
          .submit(job, "0x01", await teeProof(fx, job, "0x01", { signer: a.wallet })),
      )
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierMeasurementRevoked")
        .withArgs(DevEnclave.TD_MEASUREMENT);
      await expectExcused(fx, job);
    });

    it("an enclave registered with a quote and revoked after the claim: refunded and excused likewise", async () => {
      const fx = await loadQuoteSystem();
      const a = await registerWithQuote(fx, fx.nodes[0]!);
      const job = await claimedJob(fx);
      await fx.system.teeVerifier.connect(await governor(fx)).revokeEnclave(a.wallet.address);
      await expect(
        fx.system.escrow
          .connect(fx.nodes[0]!)
          .submit(job, "0x01", await teeProof(fx, job, "0x01", { signer: a.wallet })),
      )
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierEnclaveRevoked")
        .withArgs(a.wallet.address);
      await expectExcused(fx, job);
    });

    it("a measurement revoked before the claim does not excuse: the node claimed knowing it, and is slashed", async () => {
      const fx = await loadQuoteSystem();
      await registerWithQuote(fx, fx.nodes[0]!);
      await fx.system.teeVerifier.connect(await governor(fx)).revokeMeasurement(DevEnclave.TD_MEASUREMENT);
      const job = await claimedJob(fx);
      await expectSlashed(fx, job);
    });

    it("a measurement revoked after the deadline does not excuse: the node had already failed", async () => {
      const fx = await loadQuoteSystem();
      await registerWithQuote(fx, fx.nodes[0]!);
      const job = await claimedJob(fx);
      await time.increaseTo(job.deadline + 5n);
      await fx.system.teeVerifier.connect(await governor(fx)).revokeMeasurement(DevEnclave.TD_MEASUREMENT);
      await expectSlashed(fx, job);
    });

    it("a revoked measurement that the node's enclave did not have excuses nothing", async () => {
      const fx = await loadQuoteSystem();
      // The node's enclave reports another TD; the version binds only the development TD, which is then revoked.
      await registerWithQuote(fx, fx.nodes[0]!, { measurements: Uint8Array.from({ length: 240 }, (_, i) => 255 - i) });
      const job = await claimedJob(fx);
      await fx.system.teeVerifier.connect(await governor(fx)).revokeMeasurement(DevEnclave.TD_MEASUREMENT);
      await expectSlashed(fx, job);
    });
  });

  describe("registrations that cannot serve the job", () => {
    it("an expired registration: refused with TeeVerifierEnclaveExpired, and the node that claimed past its expiry is slashed", async () => {
      const fx = await loadQuoteSystem();
      const a = await registerWithQuote(fx, fx.nodes[0]!);
      const { expiresAt } = await fx.system.teeVerifier.enclaveOf(a.wallet.address);
      await time.increaseTo(expiresAt - 60n);
      const job = await claimedJob(fx);
      await time.increaseTo(expiresAt);
      await expect(
        fx.system.escrow
          .connect(fx.nodes[0]!)
          .submit(job, "0x01", await teeProof(fx, job, "0x01", { signer: a.wallet })),
      )
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierEnclaveExpired")
        .withArgs(a.wallet.address, expiresAt);
      await expectSlashed(fx, job);
    });

    it("re-attesting before the expiry renews the registration, and the node delivers", async () => {
      const fx = await loadQuoteSystem();
      const a = await registerWithQuote(fx, fx.nodes[0]!);
      const { expiresAt } = await fx.system.teeVerifier.enclaveOf(a.wallet.address);
      await time.increaseTo(expiresAt - 60n);
      const job = await claimedJob(fx);
      await registerWithQuote(fx, fx.nodes[0]!, { wallet: a.wallet });
      await time.increaseTo(expiresAt + 1n);
      await expect(
        fx.system.escrow
          .connect(fx.nodes[0]!)
          .submit(job, "0x01", await teeProof(fx, job, "0x01", { signer: a.wallet })),
      ).to.emit(fx.system.escrow, "JobSettled");
    });

    it("a disallowed measurement: an enclave whose quote reports another TD is refused and its node slashed", async () => {
      const fx = await loadQuoteSystem();
      const other = Uint8Array.from({ length: 240 }, (_, i) => i ^ 0x5a);
      const a = await registerWithQuote(fx, fx.nodes[0]!, { measurements: other });
      const job = await claimedJob(fx);
      await expect(
        fx.system.escrow
          .connect(fx.nodes[0]!)
          .submit(job, "0x01", await teeProof(fx, job, "0x01", { signer: a.wallet })),
      ).to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierMeasurementNotAccepted");
      await expectSlashed(fx, job);
    });

    it("a node cannot excuse itself by having its enclave attest for a sock puppet: the key does not move, nothing is disrupted", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const [node, puppet] = [fx.nodes[0]!, fx.nodes[1]!];
      const a = await registerWithQuote(fx, node);
      const job = await claimedJob(fx);
      const moved = await attest(fx, puppet.address, { wallet: a.wallet });
      await expect(teeVerifier.connect(puppet).registerEnclaveWithQuote(...moved.args))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierOperatorMismatch")
        .withArgs(a.wallet.address, node.address, puppet.address);
      // A fresh key of its own for the puppet does not touch the node either.
      await registerWithQuote(fx, puppet, { wallet: Wallet.createRandom() });
      expect(await teeVerifier.disruptedAt(node.address)).to.equal(0n);
      await expectSlashed(fx, job);
    });
  });
});

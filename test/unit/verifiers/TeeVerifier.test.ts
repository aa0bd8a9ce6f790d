import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { keccak256, toUtf8Bytes, Wallet } from "ethers";
import { governance, loadSystem, MEASUREMENT, requestJob, teeProof, type Fixture } from "../../fixtures/system";
import { Mode } from "../../../src/core/modes";
import type { Job } from "../../../src/core/job";

async function claimedTeeJob(fx: Fixture): Promise<Job> {
  const job = await requestJob(fx, { mode: Mode.Tee });
  await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
  return job;
}

describe("TeeVerifier", () => {
  describe("verify", () => {
    it("reverts with TeeVerifierInvalidSignature for a proof that is not a signature", async () => {
      const fx = await loadSystem();
      const job = await claimedTeeJob(fx);
      for (const proof of ["0x", "0x1234", `0x${"00".repeat(65)}`]) {
        await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", proof)).to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierInvalidSignature");
      }
    });

    it("reverts with TeeVerifierUnknownEnclave for an unregistered key", async () => {
      const fx = await loadSystem();
      const job = await claimedTeeJob(fx);
      const rogue = Wallet.createRandom();
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", await teeProof(fx, job, "0x01", { signer: rogue })))
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierUnknownEnclave")
        .withArgs(rogue.address);
    });

    it("reverts with TeeVerifierEnclaveExpired after the registration's expiry", async () => {
      const fx = await loadSystem();
      const job = await claimedTeeJob(fx);
      const expiresAt = BigInt(await time.latest()) + 100n;
      await fx.system.teeVerifier.registerEnclave(fx.enclave.address, fx.nodes[0]!.address, MEASUREMENT, expiresAt);
      await time.increaseTo(expiresAt);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", await teeProof(fx, job, "0x01")))
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierEnclaveExpired")
        .withArgs(fx.enclave.address, expiresAt);
    });

    it("reverts with TeeVerifierEnclaveRevoked after revocation, and a revoked key cannot be registered again", async () => {
      const fx = await loadSystem();
      const job = await claimedTeeJob(fx);
      await expect(fx.system.teeVerifier.revokeEnclave(fx.enclave.address)).to.emit(fx.system.teeVerifier, "EnclaveRevoked").withArgs(fx.enclave.address);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", await teeProof(fx, job, "0x01")))
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierEnclaveRevoked")
        .withArgs(fx.enclave.address);
      const expiresAt = BigInt(await time.latest()) + 100n;
      await expect(fx.system.teeVerifier.registerEnclave(fx.enclave.address, fx.nodes[0]!.address, MEASUREMENT, expiresAt))
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierEnclaveRevoked")
        .withArgs(fx.enclave.address);
    });

    it("reverts with TeeVerifierOperatorMismatch when another node submits the enclave's signature", async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx, { mode: Mode.Tee });
      const thief = fx.nodes[1]!;
      await fx.system.escrow.connect(thief).claimSlot(job);
      await expect(fx.system.escrow.connect(thief).submit(job, "0x01", await teeProof(fx, job, "0x01", { node: thief.address })))
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierOperatorMismatch")
        .withArgs(fx.enclave.address, fx.nodes[0]!.address, thief.address);
    });

    it("reverts with TeeVerifierMeasurementNotAccepted when the version does not accept the enclave", async () => {
      const fx = await loadSystem();
      const job = await claimedTeeJob(fx);
      const other = keccak256(toUtf8Bytes("other measurement"));
      await fx.system.teeVerifier.registerEnclave(fx.enclave.address, fx.nodes[0]!.address, other, BigInt(await time.latest()) + 100n);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", await teeProof(fx, job, "0x01")))
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierMeasurementNotAccepted")
        .withArgs(1n, 1n, other);
    });

    it("binds the signature to the escrow: a digest for another escrow recovers another key", async () => {
      const fx = await loadSystem();
      const job = await claimedTeeJob(fx);
      const proof = await teeProof(fx, job, "0x01", { escrow: fx.other.address });
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", proof)).to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierUnknownEnclave");
    });
  });

  describe("registerEnclave (deprecated attestor path)", () => {
    it("registers a key with its operator, measurement and expiry and emits EnclaveRegistered", async () => {
      const fx = await loadSystem();
      const key = Wallet.createRandom().address;
      const expiresAt = BigInt(await time.latest()) + 1000n;
      await expect(fx.system.teeVerifier.registerEnclave(key, fx.nodes[1]!.address, MEASUREMENT, expiresAt))
        .to.emit(fx.system.teeVerifier, "EnclaveRegistered")
        .withArgs(key, fx.nodes[1]!.address, MEASUREMENT, expiresAt);
      const enclave = await fx.system.teeVerifier.enclaveOf(key);
      expect([enclave.operator, enclave.expiresAt, enclave.revoked, enclave.measurement, enclave.hpkePublicKey]).to.deep.equal([
        fx.nodes[1]!.address,
        expiresAt,
        false,
        MEASUREMENT,
        hre.ethers.ZeroHash,
      ]);
    });

    it("reverts with TeeVerifierInvalidEnclave for zero fields or an expiry out of range", async () => {
      const fx = await loadSystem();
      const key = Wallet.createRandom().address;
      const node = fx.nodes[1]!.address;
      const zero = hre.ethers.ZeroAddress;
      const ttl = 30n * 24n * 3600n;
      const cases: ((now: bigint) => [string, string, string, bigint])[] = [
        (now) => [zero, node, MEASUREMENT, now + 10n],
        (now) => [key, zero, MEASUREMENT, now + 10n],
        (now) => [key, node, hre.ethers.ZeroHash, now + 10n],
        (now) => [key, node, MEASUREMENT, now],
        (now) => [key, node, MEASUREMENT, now + ttl + 1n],
      ];
      for (const make of cases) {
        const now = BigInt(await time.latest()) + 10n;
        await time.setNextBlockTimestamp(now);
        const [signer, operator, measurement, expiresAt] = make(now);
        await expect(fx.system.teeVerifier.registerEnclave(signer, operator, measurement, expiresAt))
          .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierInvalidEnclave")
          .withArgs(signer, operator, measurement, expiresAt, now + ttl);
      }
    });

    it("is for the attestor only; revocation for the attestor or governance", async () => {
      const fx = await loadSystem();
      const role = await fx.system.teeVerifier.ATTESTOR_ROLE();
      await expect(fx.system.teeVerifier.connect(fx.other).registerEnclave(fx.other.address, fx.other.address, MEASUREMENT, BigInt(await time.latest()) + 100n))
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "AccessControlUnauthorizedAccount")
        .withArgs(fx.other.address, role);
      await expect(fx.system.teeVerifier.connect(fx.other).revokeEnclave(fx.enclave.address))
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "AccessControlUnauthorizedAccount")
        .withArgs(fx.other.address, role);
      await expect(fx.system.teeVerifier.revokeEnclave(fx.other.address)).to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierUnknownEnclave").withArgs(fx.other.address);
      await governance(fx, fx.system.teeVerifier, fx.system.teeVerifier.interface.encodeFunctionData("revokeEnclave", [fx.enclave.address]));
      expect((await fx.system.teeVerifier.enclaveOf(fx.enclave.address)).revoked).to.equal(true);
    });
  });

  describe("disruption: disruptedAt, OperatorDisrupted and excuses (issue #10 §3)", () => {
    it("is zero for an operator whose enclaves were never revoked or taken away, and excuses nothing", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      expect(await teeVerifier.disruptedAt(fx.nodes[0]!.address)).to.equal(0n);
      expect(await teeVerifier.excuses(fx.nodes[0]!.address, 1n, 1n, 0n, 2n ** 64n - 1n)).to.equal(false);
      expect(await teeVerifier.excuses(fx.nodes[0]!.address, 1n, 1n, BigInt(await time.latest()), 2n ** 64n - 1n)).to.equal(false);
    });

    it("records a revocation as a disruption of the enclave's operator and emits OperatorDisrupted(operator, at)", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      const at = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(at);
      const tx = teeVerifier.revokeEnclave(fx.enclave.address);
      await expect(tx).to.emit(teeVerifier, "OperatorDisrupted").withArgs(fx.nodes[0]!.address, at);
      await expect(tx).to.emit(teeVerifier, "EnclaveRevoked").withArgs(fx.enclave.address);
      expect(await teeVerifier.disruptedAt(fx.nodes[0]!.address)).to.equal(at);
      expect(await teeVerifier.disruptedAt(fx.nodes[1]!.address)).to.equal(0n);
    });

    it("records a re-registration of a key to another operator as a disruption of the previous operator only", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      const at = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(at);
      const tx = teeVerifier.registerEnclave(fx.enclave.address, fx.nodes[1]!.address, MEASUREMENT, at + 1_000n);
      await expect(tx).to.emit(teeVerifier, "OperatorDisrupted").withArgs(fx.nodes[0]!.address, at);
      await expect(tx).to.emit(teeVerifier, "EnclaveRegistered").withArgs(fx.enclave.address, fx.nodes[1]!.address, MEASUREMENT, at + 1_000n);
      expect(await teeVerifier.disruptedAt(fx.nodes[0]!.address)).to.equal(at);
      expect(await teeVerifier.disruptedAt(fx.nodes[1]!.address)).to.equal(0n);
    });

    it("does not count a renewal to the same operator, or a first registration, as a disruption", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      const expiresAt = BigInt(await time.latest()) + 1_000n;
      await expect(teeVerifier.registerEnclave(fx.enclave.address, fx.nodes[0]!.address, MEASUREMENT, expiresAt)).not.to.emit(teeVerifier, "OperatorDisrupted");
      await expect(teeVerifier.registerEnclave(Wallet.createRandom().address, fx.nodes[1]!.address, MEASUREMENT, expiresAt)).not.to.emit(teeVerifier, "OperatorDisrupted");
      for (const node of fx.nodes.slice(0, 2)) expect(await teeVerifier.disruptedAt(node.address)).to.equal(0n);
    });

    it("excuses a claim made at or before a disruption whose deadline is at or after it, nothing else", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!.address;
      await teeVerifier.revokeEnclave(fx.enclave.address);
      const at = await teeVerifier.disruptedAt(node);
      expect(at).to.equal(BigInt(await time.latest()));
      expect(await teeVerifier.excuses(node, 1n, 1n, at - 1n, at + 10n)).to.equal(true);
      expect(await teeVerifier.excuses(node, 1n, 1n, at, at)).to.equal(true);
      expect(await teeVerifier.excuses(node, 1n, 1n, at + 1n, at + 10n)).to.equal(false);
      // A disruption after the deadline: the node had already failed.
      expect(await teeVerifier.excuses(node, 1n, 1n, at - 10n, at - 1n)).to.equal(false);
      expect(await teeVerifier.excuses(fx.nodes[1]!.address, 1n, 1n, at - 1n, at + 10n)).to.equal(false);
    });

    it("keeps every disruption: a later one does not hide an earlier one inside a job's window", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!.address;
      const other = Wallet.createRandom().address;
      await teeVerifier.registerEnclave(other, node, MEASUREMENT, BigInt(await time.latest()) + 1_000n);
      await teeVerifier.revokeEnclave(fx.enclave.address);
      const first = await teeVerifier.disruptedAt(node);
      await time.increase(500);
      await teeVerifier.revokeEnclave(other);
      const second = await teeVerifier.disruptedAt(node);
      expect(second > first + 400n).to.equal(true);
      expect(await teeVerifier.excuses(node, 1n, 1n, first - 5n, first + 5n)).to.equal(true);
      expect(await teeVerifier.excuses(node, 1n, 1n, first + 1n, second - 1n)).to.equal(false);
      expect(await teeVerifier.excuses(node, 1n, 1n, first + 1n, second)).to.equal(true);
    });

    it("does not count an enclave's own expiry as a disruption", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      const expiresAt = BigInt(await time.latest()) + 100n;
      await teeVerifier.registerEnclave(fx.enclave.address, fx.nodes[0]!.address, MEASUREMENT, expiresAt);
      const claimedAt = BigInt(await time.latest());
      await time.increaseTo(expiresAt + 1n);
      expect(await teeVerifier.disruptedAt(fx.nodes[0]!.address)).to.equal(0n);
      expect(await teeVerifier.excuses(fx.nodes[0]!.address, 1n, 1n, claimedAt, expiresAt + 10n)).to.equal(false);
    });

    it("accepts no request-time objection: checkRequest passes any terms", async () => {
      const fx = await loadSystem();
      await fx.system.teeVerifier.checkRequest(1n, 1n, 7, hre.ethers.ZeroHash);
    });
  });

  it("exposes its mode and the EIP-712 digest nodes sign", async () => {
    const fx = await loadSystem();
    expect(await fx.system.teeVerifier.mode()).to.equal(BigInt(Mode.Tee));
    expect(await fx.system.vanillaVerifier.mode()).to.equal(BigInt(Mode.Vanilla));
    const claim = { jobId: 1n, modelId: 1n, version: 1n, inputHash: MEASUREMENT, outputHash: MEASUREMENT, node: fx.nodes[0]!.address };
    const { chainId } = await hre.ethers.provider.getNetwork();
    const { TypedDataEncoder } = await import("ethers");
    const { INFERENCE_RESULT_TYPES, teeDomain } = await import("../../../src/core/tee");
    const escrow = await fx.system.escrow.getAddress();
    const expected = TypedDataEncoder.hash(teeDomain(chainId, await fx.system.teeVerifier.getAddress()), INFERENCE_RESULT_TYPES, { ...claim, escrow });
    expect(await fx.system.teeVerifier.resultDigest(claim, escrow)).to.equal(expected);
  });
});

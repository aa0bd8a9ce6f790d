import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, type Interface } from "ethers";
import {
  governance,
  loadSystem,
  MEASUREMENT,
  registerByQuote,
  requestJob,
  tdMeasurements,
  teeProof,
  type Fixture,
  governor,
} from "../../fixtures/system";
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
        await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", proof)).to.be.revertedWithCustomError(
          fx.system.teeVerifier,
          "TeeVerifierInvalidSignature",
        );
      }
    });

    it("reverts with TeeVerifierUnknownEnclave for an unregistered key", async () => {
      const fx = await loadSystem();
      const job = await claimedTeeJob(fx);
      const rogue = Wallet.createRandom();
      await expect(
        fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", await teeProof(fx, job, "0x01", { signer: rogue })),
      )
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierUnknownEnclave")
        .withArgs(rogue.address);
    });

    it("reverts with TeeVerifierEnclaveExpired after the registration's expiry", async () => {
      const fx = await loadSystem();
      const { expiresAt } = await fx.system.teeVerifier.enclaveOf(fx.enclave.address);
      await time.increaseTo(expiresAt - 60n);
      const job = await claimedTeeJob(fx);
      await time.increaseTo(expiresAt);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", await teeProof(fx, job, "0x01")))
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierEnclaveExpired")
        .withArgs(fx.enclave.address, expiresAt);
    });

    it("reverts with TeeVerifierEnclaveRevoked after revocation, and a revoked key cannot be registered again", async () => {
      const fx = await loadSystem();
      const job = await claimedTeeJob(fx);
      await expect(fx.system.teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address))
        .to.emit(fx.system.teeVerifier, "EnclaveRevoked")
        .withArgs(fx.enclave.address);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", await teeProof(fx, job, "0x01")))
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierEnclaveRevoked")
        .withArgs(fx.enclave.address);
      await expect(registerByQuote(fx.system, fx.nodes[0]!, fx.enclave))
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierEnclaveRevoked")
        .withArgs(fx.enclave.address);
    });

    it("reverts with TeeVerifierOperatorMismatch when another node submits the enclave's signature", async () => {
      const fx = await loadSystem();
      const job = await requestJob(fx, { mode: Mode.Tee });
      const thief = fx.nodes[1]!;
      await fx.system.escrow.connect(thief).claimSlot(job);
      await expect(
        fx.system.escrow.connect(thief).submit(job, "0x01", await teeProof(fx, job, "0x01", { node: thief.address })),
      )
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierOperatorMismatch")
        .withArgs(fx.enclave.address, fx.nodes[0]!.address, thief.address);
    });

    it("reverts with TeeVerifierMeasurementNotAccepted when the version does not accept the enclave", async () => {
      const fx = await loadSystem();
      const job = await claimedTeeJob(fx);
      // The node re-attests its key from software with another measurement, which the version does not bind.
      const other = await registerByQuote(fx.system, fx.nodes[0]!, fx.enclave, tdMeasurements("other TD"));
      expect(other).to.not.equal(MEASUREMENT);
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", await teeProof(fx, job, "0x01")))
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierMeasurementNotAccepted")
        .withArgs(1n, 1n, other);
    });

    it("binds the signature to the escrow: a digest for another escrow recovers another key", async () => {
      const fx = await loadSystem();
      const job = await claimedTeeJob(fx);
      const proof = await teeProof(fx, job, "0x01", { escrow: fx.other.address });
      await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", proof)).to.be.revertedWithCustomError(
        fx.system.teeVerifier,
        "TeeVerifierUnknownEnclave",
      );
    });
  });

  describe("access: no privileged registration", () => {
    it("has no attestor: no ATTESTOR_ROLE and no registration other than by quote", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      const abi: Interface = teeVerifier.interface;
      expect(abi.getFunction("ATTESTOR_ROLE")).to.equal(null);
      expect(abi.getFunction("registerEnclave(address,address,bytes32,uint64)")).to.equal(null);
      const registrations = teeVerifier.interface.fragments.filter(
        (f) => f.type === "function" && "name" in f && /^register/.test(String(f.name)),
      );
      expect(registrations.map((f) => ("name" in f ? f.name : ""))).to.deep.equal(["registerEnclaveWithQuote"]);
    });

    it("revocation is for governance only: reverts with AccessControlUnauthorizedAccount(DEFAULT_ADMIN_ROLE) for anyone else", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      const role = await teeVerifier.DEFAULT_ADMIN_ROLE();
      for (const caller of [fx.other, fx.deployer, fx.nodes[0]!]) {
        await expect(teeVerifier.connect(caller).revokeEnclave(fx.enclave.address))
          .to.be.revertedWithCustomError(teeVerifier, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, role);
        await expect(teeVerifier.connect(caller).revokeMeasurement(MEASUREMENT))
          .to.be.revertedWithCustomError(teeVerifier, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, role);
      }
      const timelock = await hre.ethers.getImpersonatedSigner(await fx.system.timelock.getAddress());
      await hre.network.provider.send("hardhat_setBalance", [timelock.address, "0x56bc75e2d63100000"]);
      await expect(teeVerifier.connect(timelock).revokeEnclave(fx.other.address))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierUnknownEnclave")
        .withArgs(fx.other.address);
      await governance(
        fx,
        teeVerifier,
        teeVerifier.interface.encodeFunctionData("revokeEnclave", [fx.enclave.address]),
      );
      expect((await teeVerifier.enclaveOf(fx.enclave.address)).revoked).to.equal(true);
    });
  });

  describe("disruption: disruptedAt, OperatorDisrupted and excuses (issue #10 §3)", () => {
    it("is zero for an operator whose enclaves were never revoked or taken away, and excuses nothing", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      expect(await teeVerifier.disruptedAt(fx.nodes[0]!.address)).to.equal(0n);
      expect(await teeVerifier.excuses(fx.nodes[0]!.address, 1n, 1n, 0n, 2n ** 64n - 1n)).to.equal(false);
      expect(
        await teeVerifier.excuses(fx.nodes[0]!.address, 1n, 1n, BigInt(await time.latest()), 2n ** 64n - 1n),
      ).to.equal(false);
    });

    it("records a revocation as a disruption of the enclave's operator and emits OperatorDisrupted(operator, at)", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      const at = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(at);
      const tx = teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
      await expect(tx).to.emit(teeVerifier, "OperatorDisrupted").withArgs(fx.nodes[0]!.address, at);
      await expect(tx).to.emit(teeVerifier, "EnclaveRevoked").withArgs(fx.enclave.address);
      expect(await teeVerifier.disruptedAt(fx.nodes[0]!.address)).to.equal(at);
      expect(await teeVerifier.disruptedAt(fx.nodes[1]!.address)).to.equal(0n);
    });

    it("cannot be caused by another operator: a quote for someone else's key is refused (TeeVerifierOperatorMismatch), disrupting no one", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      await expect(registerByQuote(fx.system, fx.nodes[1]!, fx.enclave))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierOperatorMismatch")
        .withArgs(fx.enclave.address, fx.nodes[0]!.address, fx.nodes[1]!.address);
      expect((await teeVerifier.enclaveOf(fx.enclave.address)).operator).to.equal(fx.nodes[0]!.address);
      for (const node of fx.nodes.slice(0, 2)) expect(await teeVerifier.disruptedAt(node.address)).to.equal(0n);
    });

    it("does not count a renewal to the same operator, or a first registration, as a disruption", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      const from = await hre.ethers.provider.getBlockNumber();
      await registerByQuote(fx.system, fx.nodes[0]!, fx.enclave);
      await registerByQuote(fx.system, fx.nodes[1]!, Wallet.createRandom());
      expect(await teeVerifier.queryFilter(teeVerifier.filters.EnclaveRegistered(), from + 1)).to.have.length(2);
      expect(await teeVerifier.queryFilter(teeVerifier.filters.OperatorDisrupted(), from + 1)).to.have.length(0);
      for (const node of fx.nodes.slice(0, 2)) expect(await teeVerifier.disruptedAt(node.address)).to.equal(0n);
    });

    it("excuses a claim made at or before a disruption whose deadline is at or after it, nothing else", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!.address;
      await teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
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
      const otherKey = Wallet.createRandom();
      const other = otherKey.address;
      await registerByQuote(fx.system, fx.nodes[0]!, otherKey);
      await teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
      const first = await teeVerifier.disruptedAt(node);
      await time.increase(500);
      await teeVerifier.connect(await governor(fx)).revokeEnclave(other);
      const second = await teeVerifier.disruptedAt(node);
      expect(second > first + 400n).to.equal(true);
      expect(await teeVerifier.excuses(node, 1n, 1n, first - 5n, first + 5n)).to.equal(true);
      expect(await teeVerifier.excuses(node, 1n, 1n, first + 1n, second - 1n)).to.equal(false);
      expect(await teeVerifier.excuses(node, 1n, 1n, first + 1n, second)).to.equal(true);
    });

    it("does not count an enclave's own expiry as a disruption", async () => {
      const fx = await loadSystem();
      const { teeVerifier } = fx.system;
      const { expiresAt } = await teeVerifier.enclaveOf(fx.enclave.address);
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
    const claim = {
      jobId: 1n,
      modelId: 1n,
      version: 1n,
      inputHash: MEASUREMENT,
      outputHash: MEASUREMENT,
      node: fx.nodes[0]!.address,
    };
    const { chainId } = await hre.ethers.provider.getNetwork();
    const { TypedDataEncoder } = await import("ethers");
    const { INFERENCE_RESULT_TYPES, teeDomain } = await import("../../../src/core/tee");
    const escrow = await fx.system.escrow.getAddress();
    const expected = TypedDataEncoder.hash(
      teeDomain(chainId, await fx.system.teeVerifier.getAddress()),
      INFERENCE_RESULT_TYPES,
      { ...claim, escrow },
    );
    expect(await fx.system.teeVerifier.resultDigest(claim, escrow)).to.equal(expected);
  });
});

import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { Signature, TypedDataEncoder, hexlify, keccak256, randomBytes, recoverAddress } from "ethers";
import { COLLATERAL, loadSystem, requestJob, type Fixture } from "../fixtures/system";
import { Mode } from "../../src/core/modes";
import { resultCommitment, type Job } from "../../src/core/job";
import { INFERENCE_RESULT_TYPES, teeDomain } from "../../src/core/tee";
import { JobEscrow__factory } from "../../typechain-types";
import { DEFAULT_ESCROW_PARAMETERS, escrowLibraries } from "../../deploy/system";
import { teeSign } from "../fixtures/system";

const OUTPUT = "0x2a";

/** The key that `signature` recovers to under `escrow`'s claim for `job` (what the verifier will look up). */
async function recovered(fx: Fixture, job: Job, escrow: string, signature: string): Promise<string> {
  const { chainId } = await hre.ethers.provider.getNetwork();
  const digest = TypedDataEncoder.hash(
    teeDomain(chainId, await fx.system.teeVerifier.getAddress()),
    INFERENCE_RESULT_TYPES,
    {
      escrow,
      jobId: job.id,
      modelId: job.modelId,
      version: job.version,
      inputHash: job.inputHash,
      outputHash: keccak256(OUTPUT),
      node: fx.nodes[0]!.address,
    },
  );
  return recoverAddress(digest, signature);
}

describe("attack: TEE signature replay", () => {
  it("rejects a signature replayed on another job with TeeVerifierUnknownEnclave", async () => {
    const fx = await loadSystem();
    const { escrow, teeVerifier } = fx.system;
    const first = await requestJob(fx, { mode: Mode.Tee });
    const second = await requestJob(fx, { mode: Mode.Tee });
    for (const job of [first, second]) await escrow.connect(fx.nodes[0]!).claimSlot(job);
    const { signature } = await teeSign(fx, first, OUTPUT);
    await escrow.connect(fx.nodes[0]!).submit(first, OUTPUT, signature);
    const signer = await recovered(fx, second, await escrow.getAddress(), signature);
    expect(signer).to.not.equal(fx.enclave.address);
    await expect(escrow.connect(fx.nodes[0]!).submit(second, OUTPUT, signature))
      .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierUnknownEnclave")
      .withArgs(signer);
    // And on the job it was made for, once settled, it is refused before any check of the proof.
    await expect(escrow.connect(fx.nodes[0]!).submit(first, OUTPUT, signature))
      .to.be.revertedWithCustomError(escrow, "JobEscrowJobNotOpen")
      .withArgs(first.id, 2);
  });

  it("rejects a signature made for another escrow with the same job id and terms", async () => {
    const fx = await loadSystem();
    const { escrow, teeVerifier, registry, staking } = fx.system;
    // A second escrow on the same registry, staking and verifier (its deployer is its admin).
    const other = await new JobEscrow__factory(
      escrowLibraries(fx.system.record.contracts.settlementLib.address),
      fx.deployer,
    ).deploy(registry, staking, fx.deployer.address, fx.deployer.address, DEFAULT_ESCROW_PARAMETERS);
    await other.setVerifier(Mode.Tee, teeVerifier);
    await fx.system.token.connect(fx.requester).approve(other, hre.ethers.MaxUint256);
    const job = await requestJob(fx, { mode: Mode.Tee });
    const twin = await requestJob(
      { ...fx, system: { ...fx.system, escrow: other } },
      { mode: Mode.Tee, deadline: job.deadline },
    );
    expect(twin.id).to.equal(job.id);
    expect(twin.inputHash).to.equal(job.inputHash);
    const { signature } = await teeSign(fx, job, OUTPUT);
    await other.connect(fx.nodes[0]!).claimSlot(twin);
    const signer = await recovered(fx, twin, await other.getAddress(), signature);
    await expect(other.connect(fx.nodes[0]!).submit(twin, OUTPUT, signature))
      .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierUnknownEnclave")
      .withArgs(signer);
    // The escrow it was made for accepts it.
    await escrow.connect(fx.nodes[0]!).claimSlot(job);
    await expect(escrow.connect(fx.nodes[0]!).submit(job, OUTPUT, signature)).to.emit(escrow, "JobSettled");
  });

  it("rejects a signature made under another chain's domain", async () => {
    const fx = await loadSystem();
    const { escrow, teeVerifier } = fx.system;
    const job = await requestJob(fx, { mode: Mode.Tee });
    await escrow.connect(fx.nodes[0]!).claimSlot(job);
    const { signature } = await teeSign(fx, job, OUTPUT, { chainId: 1n });
    const signer = await recovered(fx, job, await escrow.getAddress(), signature);
    expect(signer).to.not.equal(fx.enclave.address);
    await expect(escrow.connect(fx.nodes[0]!).submit(job, OUTPUT, signature))
      .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierUnknownEnclave")
      .withArgs(signer);
  });

  it("rejects the malleated twin (high s) of a valid signature with TeeVerifierInvalidSignature", async () => {
    const fx = await loadSystem();
    const { escrow, teeVerifier } = fx.system;
    const job = await requestJob(fx, { mode: Mode.Tee });
    await escrow.connect(fx.nodes[0]!).claimSlot(job);
    const { signature } = await teeSign(fx, job, OUTPUT);
    const sig = Signature.from(signature);
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const highS = hexlify(
      Uint8Array.from([
        ...hre.ethers.getBytes(sig.r),
        ...hre.ethers.getBytes(hre.ethers.toBeHex(n - BigInt(sig.s), 32)),
        sig.v === 27 ? 28 : 27,
      ]),
    );
    await expect(escrow.connect(fx.nodes[0]!).submit(job, OUTPUT, highS)).to.be.revertedWithCustomError(
      teeVerifier,
      "TeeVerifierInvalidSignature",
    );
  });
});

describe("attack: copying a redundant job's answer from the mempool", () => {
  it("lets the copier commit another node's commitment but never reveal it (JobEscrowCommitmentMismatch); the copier is slashed", async () => {
    const fx = await loadSystem();
    const { escrow, staking } = fx.system;
    const [honest, copier, third] = fx.nodes as [(typeof fx.nodes)[0], (typeof fx.nodes)[0], (typeof fx.nodes)[0]];
    const job = await requestJob(fx, { redundancy: 3 });
    for (const n of [honest, copier, third]) await escrow.connect(n).claimSlot(job);
    const salt = hexlify(randomBytes(32));
    const seen = resultCommitment(job.id, honest.address, OUTPUT, salt);
    await escrow.connect(honest).commit(job, seen);
    await escrow.connect(copier).commit(job, seen); // copied from the pending transaction
    const thirdSalt = hexlify(randomBytes(32));
    await escrow.connect(third).commit(job, resultCommitment(job.id, third.address, OUTPUT, thirdSalt));
    await escrow.connect(honest).reveal(job, OUTPUT, salt, "0x");
    // Even with the honest node's output and salt (now public), the commitment names the honest node.
    await expect(escrow.connect(copier).reveal(job, OUTPUT, salt, "0x"))
      .to.be.revertedWithCustomError(escrow, "JobEscrowCommitmentMismatch")
      .withArgs(job.id, copier.address);
    await escrow.connect(third).reveal(job, OUTPUT, thirdSalt, "0x");
    await time.increaseTo(job.revealDeadline);
    const tx = escrow.expire(job);
    await expect(tx).to.emit(escrow, "JobSettled").withArgs(job.id, keccak256(OUTPUT), 2, OUTPUT);
    await expect(tx)
      .to.emit(escrow, "NodeSlashed")
      .withArgs(job.id, copier.address, COLLATERAL, COLLATERAL / 2n);
    await expect(tx)
      .to.emit(staking, "Slashed")
      .withArgs(copier.address, await escrow.getAddress(), COLLATERAL, 0n);
  });
});

import { expect } from "chai";
import hre from "hardhat";
import { keccak256, toUtf8Bytes, verifyTypedData, Wallet } from "ethers";
import { G1_GENERATOR, G2_GENERATOR, teeSign, loadSystem, zkProofBytes } from "../fixtures/system";
import { INFERENCE_RESULT_TYPES, teeDomain } from "../../src/core/tee";
import { encodeDualProof } from "../../src/modes";
import {
  claimedDualJob,
  dualVersion,
  OUTPUT,
  PACKED,
  teeHalf,
  zkHalf,
} from "../unit/verifiers/DualInferenceVerifier.fixture";

describe("attack: a dual job settled with only one of its two proofs (issue #12 §7)", () => {
  it("a valid ZK proof with a signature from an unregistered enclave does not settle (TeeVerifierUnknownEnclave)", async () => {
    const fx = await loadSystem();
    await dualVersion(fx);
    const job = await claimedDualJob(fx);
    const rogue = Wallet.createRandom();
    const signature = await teeHalf(fx, job, { signer: rogue });
    await expect(
      fx.system.escrow.connect(fx.nodes[0]!).submit(job, OUTPUT, encodeDualProof(await zkHalf(job), signature)),
    )
      .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierUnknownEnclave")
      .withArgs(rogue.address);
    expect((await fx.system.escrow.stateOf(job.id)).status).to.equal(1n);
  });

  it("a valid ZK proof with a signature from an enclave whose measurement the version does not bind does not settle", async () => {
    const fx = await loadSystem();
    const other = keccak256(toUtf8Bytes("another-enclave-build"));
    const version = await dualVersion(fx, [other]);
    const job = await claimedDualJob(fx, version);
    const measurement = (await fx.system.teeVerifier.enclaveOf(fx.enclave.address)).measurement;
    await expect(
      fx.system.escrow
        .connect(fx.nodes[0]!)
        .submit(job, OUTPUT, encodeDualProof(await zkHalf(job), await teeHalf(fx, job))),
    )
      .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierMeasurementNotAccepted")
      .withArgs(1n, version, measurement);
  });

  it("a valid ZK proof with the enclave's TEE-mode signature (TeeVerifier's domain) does not settle: signatures are per mode", async () => {
    const fx = await loadSystem();
    await dualVersion(fx);
    const job = await claimedDualJob(fx);
    const teeModeSignature = (await teeSign(fx, job, OUTPUT)).signature;
    const dual = await fx.system.dualVerifier.getAddress();
    const message = {
      escrow: await fx.system.escrow.getAddress(),
      jobId: job.id,
      modelId: job.modelId,
      version: job.version,
      inputHash: job.inputHash,
      outputHash: keccak256(OUTPUT),
      node: fx.nodes[0]!.address,
    };
    const recovered = verifyTypedData(
      teeDomain((await hre.ethers.provider.getNetwork()).chainId, dual),
      INFERENCE_RESULT_TYPES,
      message,
      teeModeSignature,
    );
    await expect(
      fx.system.escrow.connect(fx.nodes[0]!).submit(job, OUTPUT, encodeDualProof(await zkHalf(job), teeModeSignature)),
    )
      .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierUnknownEnclave")
      .withArgs(recovered);
  });

  it("a valid enclave signature with a forged proof does not settle (ZkInferenceVerifierInvalidProof)", async () => {
    const fx = await loadSystem();
    await dualVersion(fx);
    const job = await claimedDualJob(fx);
    const forged = zkProofBytes(PACKED, { a: G1_GENERATOR, b: G2_GENERATOR, c: G1_GENERATOR });
    await expect(
      fx.system.escrow.connect(fx.nodes[0]!).submit(job, OUTPUT, encodeDualProof(forged, await teeHalf(fx, job))),
    )
      .to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierInvalidProof")
      .withArgs(job.id);
    expect((await fx.system.escrow.stateOf(job.id)).status).to.equal(1n);
  });

  it("another node cannot settle with the enclave of the node that registered it (TeeVerifierOperatorMismatch)", async () => {
    const fx = await loadSystem();
    await dualVersion(fx);
    const job = await claimedDualJob(fx);
    const thief = fx.nodes[1]!;
    // The enclave signs for the thief as node; the escrow only accepts the assigned node anyway, so ask the verifier.
    const claim = {
      jobId: job.id,
      modelId: job.modelId,
      version: job.version,
      inputHash: job.inputHash,
      outputHash: keccak256(OUTPUT),
      node: thief.address,
    };
    const signature = await teeHalf(fx, job, { node: thief.address });
    const escrow = await fx.system.escrow.getAddress();
    await expect(
      fx.system.dualVerifier
        .connect(hre.ethers.provider)
        .verify(claim, encodeDualProof(await zkHalf(job), signature), { from: escrow }),
    )
      .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierOperatorMismatch")
      .withArgs(fx.enclave.address, fx.nodes[0]!.address, thief.address);
  });
});

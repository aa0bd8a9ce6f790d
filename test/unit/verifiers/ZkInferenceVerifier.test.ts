import { expect } from "chai";
import hre from "hardhat";
import { keccak256, toBeHex } from "ethers";
import {
  DEGENERATE_KEY,
  degenerateProof,
  factoryVerifier,
  keyHash,
  loadSystem,
  requestJob,
  requestParams,
  syntheticKey,
  zkBatchProofBytes,
  zkOutput,
  zkProofBytes,
  zkVersionInput,
  type Fixture,
} from "../../fixtures/system";
import { Mode, modeMask } from "../../../src/core/modes";

const INPUT_BITS = 200n;

/** Publishes version 2 of the fixture's model with a ZK binding to the factory verifier of a synthetic key. */
async function zkVersion(fx: Fixture): Promise<void> {
  const key = syntheticKey(42);
  await fx.system.registry
    .connect(fx.owner)
    .publishVersion(1n, zkVersionInput(await factoryVerifier(fx, key), keyHash(key)));
}

describe("ZkInferenceVerifier at request time (issue #10 §4)", () => {
  it("refuses a ZK request with redundancy 3: ZkInferenceVerifierRedundancyUnsupported(3)", async () => {
    const fx = await loadSystem();
    await zkVersion(fx);
    const params = await requestParams({
      mode: Mode.Zk,
      version: 2,
      redundancy: 3,
      input: "0x",
      inputCommitment: toBeHex(1n, 32),
    });
    await expect(fx.system.escrow.connect(fx.requester).request(params))
      .to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierRedundancyUnsupported")
      .withArgs(3);
  });

  it("refuses a ZK request whose input commitment has more than 200 bits: ZkInferenceVerifierCommitmentOutOfRange", async () => {
    const fx = await loadSystem();
    await zkVersion(fx);
    const tooWide = [1n << INPUT_BITS, (1n << 256n) - 1n];
    for (const commitment of tooWide) {
      const params = await requestParams({
        mode: Mode.Zk,
        version: 2,
        input: "0x",
        inputCommitment: toBeHex(commitment, 32),
      });
      await expect(fx.system.escrow.connect(fx.requester).request(params))
        .to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierCommitmentOutOfRange")
        .withArgs(toBeHex(commitment, 32), INPUT_BITS);
    }
    // An inline input's keccak256 commitment is a full 256-bit word: refused too, before any node can claim it.
    const inline = await requestParams({ mode: Mode.Zk, version: 2 });
    await expect(fx.system.escrow.connect(fx.requester).request(inline))
      .to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierCommitmentOutOfRange")
      .withArgs(keccak256(inline.input), INPUT_BITS);
    expect(await fx.system.escrow.jobCount()).to.equal(0n);
  });

  it("accepts a k = 1 ZK request with the widest commitment the circuit opens (2^200 - 1)", async () => {
    const fx = await loadSystem();
    await zkVersion(fx);
    const commitment = toBeHex((1n << INPUT_BITS) - 1n, 32);
    const job = await requestJob(fx, { mode: Mode.Zk, version: 2, input: "0x", inputCommitment: commitment });
    expect([job.inputHash, job.verifier]).to.deep.equal([commitment, await fx.system.zkVerifier.getAddress()]);
  });

  it("binds the whole commitment in the public signal, inputHash * 2^48 + packedOutput, and checks both ranges", async () => {
    const fx = await loadSystem();
    const { zkVerifier } = fx.system;
    const commitment = (1n << INPUT_BITS) - 3n;
    expect(await zkVerifier.claimSignal(toBeHex(commitment, 32), 5n)).to.equal(commitment * (1n << 48n) + 5n);
    await expect(zkVerifier.claimSignal(toBeHex(1n << INPUT_BITS, 32), 5n))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierCommitmentOutOfRange")
      .withArgs(toBeHex(1n << INPUT_BITS, 32), INPUT_BITS);
    await expect(zkVerifier.claimSignal(toBeHex(commitment, 32), 1n << 48n))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierOutputOutOfRange")
      .withArgs(1n << 48n);
  });

  it("never excuses a node; it alone checks requests, and passes a k = 1 request within range", async () => {
    const fx = await loadSystem();
    const { zkVerifier, vanillaVerifier } = fx.system;
    for (const verifier of [zkVerifier, vanillaVerifier]) {
      expect(await verifier.excuses(fx.nodes[0]!.address, 1n, 1n, 0n, 2n ** 64n - 1n)).to.equal(false);
      expect(await verifier.excuses(fx.nodes[0]!.address, 1n, 1n, 2n ** 64n - 1n, 2n ** 64n - 1n)).to.equal(false);
    }
    // Only the ZK verifier asks the escrow to call checkRequest; the others have nothing to refuse at request time.
    expect(await zkVerifier.checksRequests()).to.equal(true);
    expect(await vanillaVerifier.checksRequests()).to.equal(false);
    expect(await fx.system.teeVerifier.checksRequests()).to.equal(false);
    await zkVerifier.checkRequest(1n, 1n, 1, hre.ethers.ZeroHash);
    await vanillaVerifier.checkRequest(1n, 1n, 7, toBeHex(hre.ethers.MaxUint256, 32));
  });
});

/** Publishes versions 2 and 3 of the fixture's model bound to the factory verifier of DEGENERATE_KEY; node 0 serves ZK. */
async function degenerateVersions(fx: Fixture): Promise<void> {
  const verifier = await factoryVerifier(fx, DEGENERATE_KEY);
  for (const content of ["zk-v2", "zk-v3"])
    await fx.system.registry
      .connect(fx.owner)
      .publishVersion(1n, zkVersionInput(verifier, keyHash(DEGENERATE_KEY), content));
  await fx.system.staking.connect(fx.nodes[0]!).register(modeMask([Mode.Vanilla, Mode.Tee, Mode.Zk]));
}

/** A claim as the escrow builds it for a ZK job on `version` with `commitment`, node 0 and output `packed`. */
function claimOf(fx: Fixture, jobId: bigint, version: bigint, commitment: bigint, packed: bigint) {
  return {
    jobId,
    modelId: 1n,
    version,
    inputHash: toBeHex(commitment, 32),
    outputHash: keccak256(zkOutput(packed)),
    node: fx.nodes[0]!.address,
  };
}

describe("ZkInferenceVerifier.verify and verifyBatch (a degenerate key under which any signal can be proved)", () => {
  const COMMITMENT = (1n << INPUT_BITS) - 12_345n;
  const signal = (commitment: bigint, packed: bigint) => (commitment << 48n) | packed;

  it("settles a ZK job through the escrow with a proof of inputHash * 2^48 + output, but not with one for another commitment (ZkInferenceVerifierInvalidProof)", async () => {
    const fx = await loadSystem();
    await degenerateVersions(fx);
    const { escrow, zkVerifier } = fx.system;
    const node = fx.nodes[0]!;
    const job = await requestJob(fx, {
      mode: Mode.Zk,
      version: 2,
      input: "0x",
      inputCommitment: toBeHex(COMMITMENT, 32),
    });
    await escrow.connect(node).claimSlot(job);
    // Only the high bit of the commitment differs: the whole 200 bits are in the signal.
    const other = await degenerateProof(signal(COMMITMENT ^ (1n << 199n), 7n));
    await expect(escrow.connect(node).submit(job, zkOutput(7n), zkProofBytes(7n, other)))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierInvalidProof")
      .withArgs(job.id);
    const proof = await degenerateProof(signal(COMMITMENT, 7n));
    await expect(escrow.connect(node).submit(job, zkOutput(7n), zkProofBytes(7n, proof)))
      .to.emit(escrow, "JobSettled")
      .withArgs(job.id, keccak256(zkOutput(7n)), 1, zkOutput(7n));
    expect(await escrow.resultOf(job.id)).to.deep.equal([keccak256(zkOutput(7n)), zkOutput(7n)]);
  });

  it("reverts with ZkInferenceVerifierMalformedProof, ZkInferenceVerifierOutputMismatch and ZkInferenceVerifierOutputOutOfRange", async () => {
    const fx = await loadSystem();
    await degenerateVersions(fx);
    const { zkVerifier } = fx.system;
    const claim = claimOf(fx, 1n, 2n, COMMITMENT, 7n);
    const proof = await degenerateProof(signal(COMMITMENT, 7n));
    await zkVerifier.verify(claim, zkProofBytes(7n, proof));
    const bytes = zkProofBytes(7n, proof);
    await expect(zkVerifier.verify(claim, bytes.slice(0, -64)))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierMalformedProof")
      .withArgs(9n * 32n - 32n);
    await expect(zkVerifier.verify(claim, zkProofBytes(8n, proof)))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierOutputMismatch")
      .withArgs(1n, claim.outputHash, 8n);
    await expect(zkVerifier.verify(claim, zkProofBytes(1n << 48n, proof)))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierOutputOutOfRange")
      .withArgs(1n << 48n);
  });

  it("settles a batch of ZK jobs with one batched proof through submitBatch", async () => {
    const fx = await loadSystem();
    await degenerateVersions(fx);
    const { escrow } = fx.system;
    const node = fx.nodes[0]!;
    const commitments = [COMMITMENT, 99n];
    const jobs = [];
    for (const c of commitments)
      jobs.push(await requestJob(fx, { mode: Mode.Zk, version: 2, input: "0x", inputCommitment: toBeHex(c, 32) }));
    for (const job of jobs) await escrow.connect(node).claimSlot(job);
    const packed = [3n, 4n];
    const proofs = await Promise.all(commitments.map((c, i) => degenerateProof(signal(c, packed[i]!))));
    const tx = escrow.connect(node).submitBatch(jobs, packed.map(zkOutput), zkBatchProofBytes(packed, proofs));
    for (const [i, job] of jobs.entries())
      await expect(tx)
        .to.emit(escrow, "JobSettled")
        .withArgs(job.id, keccak256(zkOutput(packed[i]!)), 1, zkOutput(packed[i]!));
  });

  it("verifyBatch reverts with ZkInferenceVerifierInvalidBatch, ZkInferenceVerifierBatchLengthMismatch and ZkInferenceVerifierMixedBatch", async () => {
    const fx = await loadSystem();
    await degenerateVersions(fx);
    const { zkVerifier } = fx.system;
    const claims = [claimOf(fx, 1n, 2n, COMMITMENT, 3n), claimOf(fx, 2n, 2n, 99n, 4n)];
    const good = [await degenerateProof(signal(COMMITMENT, 3n)), await degenerateProof(signal(99n, 4n))];
    await zkVerifier.verifyBatch(claims, zkBatchProofBytes([3n, 4n], good));
    const forged = [good[0]!, await degenerateProof(signal(98n, 4n))];
    await expect(zkVerifier.verifyBatch(claims, zkBatchProofBytes([3n, 4n], forged)))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierInvalidBatch")
      .withArgs(2n);
    await expect(zkVerifier.verifyBatch(claims, zkBatchProofBytes([3n], [good[0]!])))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierBatchLengthMismatch")
      .withArgs(2n, 1n, 1n);
    await expect(zkVerifier.verifyBatch([], zkBatchProofBytes([], [])))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierBatchLengthMismatch")
      .withArgs(0n, 0n, 0n);
    const mixed = [claims[0]!, claimOf(fx, 2n, 3n, 99n, 4n)];
    await expect(zkVerifier.verifyBatch(mixed, zkBatchProofBytes([3n, 4n], good)))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierMixedBatch")
      .withArgs(1n);
  });
});

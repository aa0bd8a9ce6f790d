import { expect } from "chai";
import type { BaseContract, Signer } from "ethers";
import { ethers } from "hardhat";
import {
  claimSignal,
  encodeZkBatchProof,
  encodeZkProof,
  inputCommitment,
  packedOutputOf,
  zkOutputHash,
  type SolidityProof,
} from "../../src/zkml/claim";
import { ZkmlOverflowError } from "../../src/zkml/errors";
import { SNARK_FIELD } from "../../src/zkml/field";
import type { ZkModel } from "../../src/zkml/pipeline";
import { proveInference, releaseSnarkjs } from "../../src/zkml/prover";
import { quantizeInput } from "../../src/zkml/quantize";
import { evaluateQuantized } from "../../src/zkml/reference";
import { verifyingKeyArgs } from "../../src/zkml/solidity";
import { zkModels } from "./fixtures";
import { compileSolidity } from "./solc";
import {
  Groth16VerifierFactory__factory,
  Groth16Verifier__factory,
  ZkInferenceVerifier__factory,
  type Groth16Verifier,
  type ZkInferenceVerifier,
} from "../../typechain-types";
import { deployZkVerifier } from "../../src/zkml/deploy";

/** Test-only registry: answers `bindingOf` with one ZK binding per (model, version). */
const MOCK_REGISTRY = `
// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;
import {IModelRegistry} from "contracts/interfaces/IModelRegistry.sol";
import {ModelId, Mode} from "contracts/types/Ids.sol";
contract MockZkRegistry {
    mapping(uint64 => mapping(uint32 => address)) public verifiers;
    function setVerifier(uint64 modelId, uint32 version, address verifier) external { verifiers[modelId][version] = verifier; }
    function bindingOf(ModelId modelId, uint32 version, Mode mode) external view returns (IModelRegistry.ModeBinding memory b) {
        b.mode = mode;
        b.verifier = verifiers[ModelId.unwrap(modelId)][version];
        b.bindings = new bytes32[](1);
    }
}`;

const hex32 = (v: bigint): string => "0x" + v.toString(16).padStart(64, "0");

/** One proved inference: what a node holds before submitting. */
interface Proved {
  inputHash: bigint;
  packedOutput: bigint;
  proof: SolidityProof;
}

describe("zkml/verifier (Solidity)", () => {
  let a: ZkModel;
  let b: ZkModel;
  let signer: Signer;
  let node: string;
  let adapter: ZkInferenceVerifier;
  let verifierA: Groth16Verifier;
  let registry: BaseContract;

  async function proveFor(zk: ZkModel, x: number[], salt = 5n): Promise<Proved> {
    const input = quantizeInput(zk.model, x);
    const p = await proveInference(
      { wasmPath: zk.circuit.wasmPath, zkeyPath: zk.setup.zkeyPath },
      { model: zk.model, input, inputSalt: salt },
    );
    return {
      inputHash: inputCommitment(zk.model, input, salt),
      packedOutput: packedOutputOf(zk.model, evaluateQuantized(zk.model, input)),
      proof: p.solidity,
    };
  }

  const claimOf = (p: Proved, jobId: bigint, version = 1, packedOutput = p.packedOutput) => ({
    jobId,
    modelId: 1n,
    version,
    inputHash: hex32(p.inputHash),
    outputHash: zkOutputHash(packedOutput),
    node,
  });
  const proofArgs = (p: SolidityProof) => ({ a: p.a, b: p.b, c: p.c });

  before(async () => {
    ({ a, b } = await zkModels());
    [signer] = await ethers.getSigners();
    node = ethers.Wallet.createRandom().address;
    const mock = compileSolidity({ "test/MockZkRegistry.sol": MOCK_REGISTRY }).get("MockZkRegistry");
    if (mock === undefined) throw new Error("MockZkRegistry did not compile");
    registry = await new ethers.ContractFactory(mock.abi as never, mock.bytecode, signer).deploy();
    adapter = await new ZkInferenceVerifier__factory(signer).deploy(await registry.getAddress());
    // Verifiers come from the factory, as every verifier a real registry accepts.
    const factory = await (await new Groth16VerifierFactory__factory(signer).deploy()).getAddress();
    const deployedA = await deployZkVerifier(signer, factory, a.setup.vk);
    const deployedB = await deployZkVerifier(signer, factory, b.setup.vk);
    verifierA = Groth16Verifier__factory.connect(deployedA.verifier, signer);
    await registry.getFunction("setVerifier")(1n, 1, deployedA.verifier);
    await registry.getFunction("setVerifier")(1n, 2, deployedB.verifier);
  });

  after(releaseSnarkjs);

  describe("Groth16Verifier.verifyProof", () => {
    let p: Proved;
    before(async () => {
      p = await proveFor(a, [1, -1, 2, 0.5]);
    });

    it("accepts the proof for its claim and reports the verifying key it was deployed with", async () => {
      expect(
        await verifierA.verifyProof(p.proof.a, p.proof.b, p.proof.c, [claimSignal(p.inputHash, p.packedOutput)]),
      ).to.equal(true);
      expect(await verifierA.verifyingKey()).to.deep.equal(verifyingKeyArgs(a.setup.vk));
    });

    it("rejects another claim, a signal ≥ p, a point off the curve, and an A coordinate ≥ q", async () => {
      const s = claimSignal(p.inputHash, p.packedOutput);
      const { a: pa, b: pb, c: pc } = p.proof;
      expect(await verifierA.verifyProof(pa, pb, pc, [s ^ 1n])).to.equal(false);
      expect(await verifierA.verifyProof(pa, pb, pc, [s + SNARK_FIELD])).to.equal(false);
      expect(await verifierA.verifyProof([pa[0], pa[1] + 1n], pb, pc, [s])).to.equal(false);
      expect(await verifierA.verifyProof(pa, pb, [pc[0], pc[1] + 1n], [s])).to.equal(false);
      const q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;
      expect(await verifierA.verifyProof([pa[0], pa[1] + q], pb, pc, [s])).to.equal(false);
    });
  });

  describe("ZkInferenceVerifier.verify", () => {
    let p: Proved;
    let other: Proved;
    before(async () => {
      p = await proveFor(a, [1, -1, 2, 0.5]);
      other = await proveFor(a, [-2, 1, -1, 3], 9n);
    });

    it("accepts a proof for the claim it was made for, whatever the job id or node", async () => {
      await adapter.verify(claimOf(p, 7n), encodeZkProof(p.packedOutput, p.proof));
      await adapter.verify(
        { ...claimOf(p, 8n), node: ethers.Wallet.createRandom().address },
        encodeZkProof(p.packedOutput, p.proof),
      );
      expect(await adapter.claimSignal(hex32(p.inputHash), p.packedOutput)).to.equal(
        claimSignal(p.inputHash, p.packedOutput),
      );
    });

    it("reverts with ZkInferenceVerifierInvalidProof for another output, another input, or another model's verifier", async () => {
      const wrong = (p.packedOutput + 1n) % 3n;
      await expect(adapter.verify(claimOf(p, 7n, 1, wrong), encodeZkProof(wrong, p.proof)))
        .to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierInvalidProof")
        .withArgs(7n);
      await expect(
        adapter.verify(
          { ...claimOf(p, 7n), inputHash: hex32(other.inputHash) },
          encodeZkProof(p.packedOutput, p.proof),
        ),
      ).to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierInvalidProof");
      await expect(adapter.verify(claimOf(p, 7n, 2), encodeZkProof(p.packedOutput, p.proof)))
        .to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierInvalidProof")
        .withArgs(7n);
    });

    it("reverts with ZkInferenceVerifierOutputMismatch when the output bytes are not the proved output", async () => {
      const wrong = (p.packedOutput + 1n) % 3n;
      await expect(adapter.verify(claimOf(p, 7n, 1, wrong), encodeZkProof(p.packedOutput, p.proof)))
        .to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierOutputMismatch")
        .withArgs(7n, zkOutputHash(wrong), p.packedOutput);
    });

    it("reverts with named errors for an input hash of more than 200 bits, an output over 48 bits, a truncated proof, an unbound version", async () => {
      // The same low 200 bits with one more bit set: a claim on it can never be the circuit's.
      const widened = hex32(p.inputHash + (1n << 200n));
      await expect(adapter.verify({ ...claimOf(p, 7n), inputHash: widened }, encodeZkProof(p.packedOutput, p.proof)))
        .to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierCommitmentOutOfRange")
        .withArgs(widened, 200n);
      await expect(adapter.verify(claimOf(p, 7n), encodeZkProof(1n << 48n, p.proof)))
        .to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierOutputOutOfRange")
        .withArgs(1n << 48n);
      await expect(adapter.verify(claimOf(p, 7n), encodeZkProof(p.packedOutput, p.proof).slice(0, -64)))
        .to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierMalformedProof")
        .withArgs(256n);
      await expect(
        adapter.verify(claimOf(p, 7n, 3), encodeZkProof(p.packedOutput, p.proof)),
      ).to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierNoVerifier");
    });
  });

  describe("ZkInferenceVerifier.checkRequest", () => {
    it("accepts a k = 1 request whose commitment is an input commitment as the SDK computes it (below 2^200)", async () => {
      const p = await proveFor(a, [0.5, 1, -1, 2], 12n);
      expect(p.inputHash >> 200n).to.equal(0n);
      await adapter.checkRequest(1n, 1, 1, hex32(p.inputHash));
      await adapter.checkRequest(1n, 1, 1, hex32((1n << 200n) - 1n));
    });

    it("reverts with ZkInferenceVerifierCommitmentOutOfRange for a commitment of 2^200 or more, as the off-chain claim refuses it", async () => {
      for (const hash of [1n << 200n, SNARK_FIELD - 1n]) {
        await expect(adapter.checkRequest(1n, 1, 1, hex32(hash)))
          .to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierCommitmentOutOfRange")
          .withArgs(hex32(hash), 200n);
        expect(() => claimSignal(hash, 0n)).to.throw(ZkmlOverflowError, "does not fit 200 bits");
      }
    });

    it("reverts with ZkInferenceVerifierRedundancyUnsupported for k other than 1", async () => {
      for (const k of [0, 2, 3])
        await expect(adapter.checkRequest(1n, 1, k, hex32(1n)))
          .to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierRedundancyUnsupported")
          .withArgs(k);
    });
  });

  describe("batches (random linear combination)", () => {
    let proved: Proved[];
    const signals = (ps: Proved[]) => ps.map((q) => claimSignal(q.inputHash, q.packedOutput));

    before(async () => {
      proved = [];
      for (const [i, x] of [
        [1, 2, 3, -1],
        [0, 0, 0, 0],
        [-3.5, 2, 1, 0.5],
        [2, -2, 2, -2],
      ].entries())
        proved.push(await proveFor(a, x, BigInt(20 + i)));
    });

    it("accepts batches of valid proofs (n = 1 and n = 4), directly and through the adapter", async () => {
      for (const ps of [proved.slice(0, 1), proved]) {
        expect(
          await verifierA.verifyBatch(
            ps.map((q) => proofArgs(q.proof)),
            signals(ps),
          ),
        ).to.equal(true);
      }
      await adapter.verifyBatch(
        proved.map((q, i) => claimOf(q, BigInt(i + 1))),
        encodeZkBatchProof(proved.map((q) => ({ packedOutput: q.packedOutput, proof: q.proof }))),
      );
    });

    it("rejects a batch with one changed signal, two swapped proofs, a signal ≥ p, or a point off the curve", async () => {
      const ps = proved.map((q) => proofArgs(q.proof));
      const sig = signals(proved);
      expect(await verifierA.verifyBatch(ps, [sig[0]!, sig[1]! ^ 1n, sig[2]!, sig[3]!])).to.equal(false);
      expect(await verifierA.verifyBatch([ps[1]!, ps[0]!, ps[2]!, ps[3]!], sig)).to.equal(false);
      expect(await verifierA.verifyBatch(ps, [sig[0]!, sig[1]!, sig[2]!, sig[3]! + SNARK_FIELD])).to.equal(false);
      const offCurve = { ...ps[2]!, c: [ps[2]!.c[0], ps[2]!.c[1] + 1n] as [bigint, bigint] };
      expect(await verifierA.verifyBatch([ps[0]!, ps[1]!, offCurve, ps[3]!], sig)).to.equal(false);
      // The first proof has r = 1: make sure it is checked too.
      expect(await verifierA.verifyBatch(ps, [sig[0]! ^ 1n, sig[1]!, sig[2]!, sig[3]!])).to.equal(false);
      const q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;
      const bigA = { ...ps[1]!, a: [ps[1]!.a[0], ps[1]!.a[1] + q] as [bigint, bigint] };
      expect(await verifierA.verifyBatch([ps[0]!, bigA, ps[2]!, ps[3]!], sig)).to.equal(false);
      const offCurveA = { ...ps[1]!, a: [ps[1]!.a[0], ps[1]!.a[1] + 1n] as [bigint, bigint] };
      expect(await verifierA.verifyBatch([ps[0]!, offCurveA, ps[2]!, ps[3]!], sig)).to.equal(false);
      const offCurveC0 = { ...ps[0]!, c: [ps[0]!.c[0], ps[0]!.c[1] + 1n] as [bigint, bigint] };
      expect(await verifierA.verifyBatch([offCurveC0, ps[1]!, ps[2]!, ps[3]!], sig)).to.equal(false);
    });

    it("reverts with Groth16VerifierLengthMismatch for an empty or uneven batch", async () => {
      await expect(verifierA.verifyBatch([], []))
        .to.be.revertedWithCustomError(verifierA, "Groth16VerifierLengthMismatch")
        .withArgs(0n, 0n);
      await expect(verifierA.verifyBatch([proofArgs(proved[0]!.proof)], []))
        .to.be.revertedWithCustomError(verifierA, "Groth16VerifierLengthMismatch")
        .withArgs(1n, 0n);
    });

    it("the adapter rejects a batch with one false claim, mixed versions, or uneven lengths", async () => {
      const claims = proved.map((q, i) => claimOf(q, BigInt(i + 1)));
      const items = proved.map((q) => ({ packedOutput: q.packedOutput, proof: q.proof }));
      const wrong = (proved[1]!.packedOutput + 1n) % 3n;
      await expect(
        adapter.verifyBatch(
          claims.map((c, i) => (i === 1 ? claimOf(proved[1]!, 2n, 1, wrong) : c)),
          encodeZkBatchProof(items.map((it, i) => (i === 1 ? { ...it, packedOutput: wrong } : it))),
        ),
      )
        .to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierInvalidBatch")
        .withArgs(4n);
      await expect(
        adapter.verifyBatch(
          claims.map((c, i) => (i === 2 ? { ...c, version: 2 } : c)),
          encodeZkBatchProof(items),
        ),
      )
        .to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierMixedBatch")
        .withArgs(2n);
      await expect(adapter.verifyBatch(claims, encodeZkBatchProof(items.slice(1))))
        .to.be.revertedWithCustomError(adapter, "ZkInferenceVerifierBatchLengthMismatch")
        .withArgs(4n, 3n, 3n);
    });
  });
});

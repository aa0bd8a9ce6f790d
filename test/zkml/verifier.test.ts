import { expect } from "chai";
import type { BaseContract, ContractFactory, Signer } from "ethers";
import { ethers } from "hardhat";
import { readFile } from "node:fs/promises";
import { SNARK_FIELD } from "../../src/zkml/field";
import type { ZkModel } from "../../src/zkml/pipeline";
import { claimContext, encodeProofBytes, proveInference, releaseSnarkjs, type ProofResult } from "../../src/zkml/prover";
import { quantizeInput } from "../../src/zkml/quantize";
import { verificationKeyToSolidity } from "../../src/zkml/solidity";
import { zkModels } from "./fixtures";
import { compileSolidity, type CompiledContract } from "./solc";
import { Groth16BatchVerifier__factory, ZkInferenceVerifier__factory } from "../../typechain-types";

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

describe("zkml/verifier (Solidity)", () => {
  let a: ZkModel;
  let b: ZkModel;
  let escrow: Signer;
  let node: string;
  let adapter: BaseContract;
  let registry: BaseContract;
  let verifierB: string;
  const compiled = new Map<string, CompiledContract>();

  /** Project contracts come from the TypeChain factories of Hardhat's build (which coverage regenerates with
   *  instrumented bytecode); generated verifiers and the mock registry are compiled here. */
  const PROJECT_FACTORIES: Record<string, (signer: Signer) => ContractFactory> = {
    ZkInferenceVerifier: (signer) => new ZkInferenceVerifier__factory(signer) as unknown as ContractFactory,
    Groth16BatchVerifier: (signer) => new Groth16BatchVerifier__factory(signer) as unknown as ContractFactory,
  };

  async function deploy(name: string, args: unknown[] = []): Promise<BaseContract> {
    let factory: ContractFactory;
    const project = PROJECT_FACTORIES[name];
    if (project !== undefined) {
      factory = project(escrow);
    } else {
      const c = compiled.get(name);
      if (c === undefined) throw new Error(`not compiled: ${name}`);
      factory = new ethers.ContractFactory(c.abi as never, c.bytecode, escrow);
    }
    const contract = await factory.deploy(...args);
    await contract.waitForDeployment();
    return contract;
  }

  async function proveFor(zk: ZkModel, x: number[], jobId: bigint, nodeAddr: string): Promise<ProofResult> {
    const context = claimContext({ chainId: 31337n, escrow: await escrow.getAddress(), jobId, node: nodeAddr });
    return proveInference({ wasmPath: zk.circuit.wasmPath, zkeyPath: zk.setup.zkeyPath }, { model: zk.model, input: quantizeInput(zk.model, x), inputSalt: 5n, outputSalt: 6n, context });
  }

  const claimOf = (p: ProofResult, jobId: bigint, version = 1): Record<string, unknown> => ({
    jobId,
    modelId: 1n,
    version,
    inputHash: hex32(p.inputCommitment),
    outputHash: hex32(p.outputCommitment),
    node,
  });

  const call = (c: BaseContract, fn: string, ...args: unknown[]): Promise<unknown> => c.getFunction(fn).staticCall(...args);

  before(async () => {
    ({ a, b } = await zkModels());
    [escrow] = await ethers.getSigners();
    node = ethers.Wallet.createRandom().address;
    const sources: Record<string, string> = { "contracts/verifiers/zk/IGroth16Verifier.sol": await readFile("contracts/verifiers/zk/IGroth16Verifier.sol", "utf8") };
    sources["test/MockZkRegistry.sol"] = MOCK_REGISTRY;
    for (const [k, v] of compileSolidity(sources)) compiled.set(k, v);
    compiled.set("VerifierA", compileSolidity({ "A.sol": await readFile(a.setup.verifierSolPath, "utf8") }).get("Groth16Verifier") as CompiledContract);
    compiled.set("VerifierB", compileSolidity({ "B.sol": await readFile(b.setup.verifierSolPath, "utf8") }).get("Groth16Verifier") as CompiledContract);
    registry = await deploy("MockZkRegistry");
    adapter = await deploy("ZkInferenceVerifier", [await registry.getAddress()]);
    verifierB = await (await deploy("VerifierB")).getAddress();
    await registry.getFunction("setVerifier")(1n, 1, await (await deploy("VerifierA")).getAddress());
    await registry.getFunction("setVerifier")(1n, 2, verifierB);
  });

  after(releaseSnarkjs);

  describe("ZkInferenceVerifier.verify", () => {
    let p: ProofResult;
    before(async () => {
      p = await proveFor(a, [1, -1, 2, 0.5], 7n, node);
    });

    it("accepts a proof for the claim it was made for, with the same context on both sides", async () => {
      const claim = claimOf(p, 7n);
      expect(await call(adapter, "contextOf", await escrow.getAddress(), claim)).to.equal(p.context);
      await call(adapter, "verify", claim, encodeProofBytes(p.solidity));
      const gas = await adapter.getFunction("verify").estimateGas(claim, encodeProofBytes(p.solidity));
      console.log(`      verify gas (estimate, incl. 21k base): ${gas}`);
    });

    it("reverts with ZkInferenceVerifierInvalidProof for a wrong output, another job, or another node", async () => {
      const other = await proveFor(a, [-2, 1, -1, 3], 7n, node);
      const proof = encodeProofBytes(p.solidity);
      for (const claim of [
        { ...claimOf(p, 7n), outputHash: hex32(other.outputCommitment) },
        { ...claimOf(p, 7n), inputHash: hex32(other.inputCommitment) },
        claimOf(p, 8n),
        { ...claimOf(p, 7n), node: ethers.Wallet.createRandom().address },
      ]) {
        await expect(call(adapter, "verify", claim, proof)).to.be.revertedWithCustomError(adapter as never, "ZkInferenceVerifierInvalidProof");
      }
    });

    it("reverts with ZkInferenceVerifierInvalidProof under another model's verifier", async () => {
      await expect(call(adapter, "verify", claimOf(p, 7n, 2), encodeProofBytes(p.solidity)))
        .to.be.revertedWithCustomError(adapter as never, "ZkInferenceVerifierInvalidProof")
        .withArgs(7n);
    });

    it("reverts with ZkInferenceVerifierHashNotInField for an output hash aliased by + p", async () => {
      const aliased = hex32(p.outputCommitment + SNARK_FIELD);
      await expect(call(adapter, "verify", { ...claimOf(p, 7n), outputHash: aliased }, encodeProofBytes(p.solidity)))
        .to.be.revertedWithCustomError(adapter as never, "ZkInferenceVerifierHashNotInField")
        .withArgs(aliased);
    });

    it("reverts with ZkInferenceVerifierMalformedProof for a truncated proof", async () => {
      const proof = encodeProofBytes(p.solidity).slice(0, -64);
      await expect(call(adapter, "verify", claimOf(p, 7n), proof)).to.be.revertedWithCustomError(adapter as never, "ZkInferenceVerifierMalformedProof").withArgs(224n);
    });
  });

  describe("Groth16BatchVerifier", () => {
    let batch: BaseContract;
    let proofs: ProofResult[];
    const asArgs = (ps: ProofResult[]): [unknown[], bigint[][]] => [ps.map((q) => ({ a: q.solidity.a, b: q.solidity.b, c: q.solidity.c })), ps.map((q) => q.solidity.input)];

    before(async () => {
      const vk = verificationKeyToSolidity(a.setup.vk);
      batch = await deploy("Groth16BatchVerifier", [vk.alpha1, vk.beta2, vk.gamma2, vk.delta2, vk.ic]);
      proofs = [];
      for (const [i, x] of [[1, 2, 3, -1], [0, 0, 0, 0], [-3.5, 2, 1, 0.5]].entries()) proofs.push(await proveFor(a, x, BigInt(i + 1), node));
    });

    it("accepts a batch of valid proofs with n + 3 pairings", async () => {
      expect(await call(batch, "publicInputCount")).to.equal(3n);
      expect(await call(batch, "verifyBatch", ...asArgs(proofs))).to.equal(true);
      expect(await call(batch, "verifyBatch", ...asArgs(proofs.slice(0, 1)))).to.equal(true);
      const gas = await batch.getFunction("verifyBatch").estimateGas(...asArgs(proofs));
      console.log(`      verifyBatch(3) gas (estimate, incl. 21k base): ${gas}`);
    });

    it("rejects a batch in which one public input was changed", async () => {
      const [ps, inputs] = asArgs(proofs);
      inputs[1] = [inputs[1][0], inputs[2][1], inputs[1][2]];
      expect(await call(batch, "verifyBatch", ps, inputs)).to.equal(false);
    });

    it("rejects a batch in which two proofs were swapped", async () => {
      const [ps, inputs] = asArgs(proofs);
      expect(await call(batch, "verifyBatch", [ps[1], ps[0], ps[2]], inputs)).to.equal(false);
    });

    it("reverts with Groth16BatchVerifierInputNotInField for an input ≥ p", async () => {
      const [ps, inputs] = asArgs(proofs);
      inputs[2] = [inputs[2][0] + SNARK_FIELD, inputs[2][1], inputs[2][2]];
      await expect(call(batch, "verifyBatch", ps, inputs)).to.be.revertedWithCustomError(batch as never, "Groth16BatchVerifierInputNotInField").withArgs(2n, 0n);
    });
  });
});

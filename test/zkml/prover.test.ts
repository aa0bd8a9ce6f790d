import { expect } from "chai";
import { readFile } from "node:fs/promises";
import * as snarkjs from "snarkjs";
import { computeCommitments } from "../../src/zkml/commitments";
import { sha256File } from "../../src/zkml/hash";
import { evaluateQuantized } from "../../src/zkml/reference";
import type { ZkModel } from "../../src/zkml/pipeline";
import { claimContext, proveInference, releaseSnarkjs, verifyInference, type ProofResult } from "../../src/zkml/prover";
import { quantizeInput } from "../../src/zkml/quantize";
import { verificationKeyHash } from "../../src/zkml/setup";
import { zkModels } from "./fixtures";

const NODE = "0x00000000000000000000000000000000000000a1";
const ESCROW = "0x00000000000000000000000000000000000000e5";

describe("zkml/prover", () => {
  let a: ZkModel;
  let b: ZkModel;
  let base: ProofResult;
  const context = claimContext({ chainId: 31337n, escrow: ESCROW, jobId: 1n, node: NODE });

  function prove(zk: ZkModel, x: number[], inputSalt = 101n, outputSalt = 202n, ctx = context): Promise<ProofResult> {
    return proveInference({ wasmPath: zk.circuit.wasmPath, zkeyPath: zk.setup.zkeyPath }, { model: zk.model, input: quantizeInput(zk.model, x), inputSalt, outputSalt, context: ctx });
  }

  const verify = (zk: ZkModel, signals: string[], p: ProofResult): Promise<boolean> => verifyInference(zk.setup.vk, signals, p.proof);

  before(async () => {
    ({ a, b } = await zkModels());
    base = await prove(a, [1.5, -2, 0.25, 3]);
  });

  after(releaseSnarkjs);

  it("proves an inference whose public signals are [inputCommitment, outputCommitment, context]", async () => {
    expect(base.publicSignals).to.have.length(3);
    expect(base.context).to.equal(context);
    expect(await verify(a, base.publicSignals, base)).to.equal(true);
    console.log(`      groth16 fullProve: ${base.proveSeconds.toFixed(2)} s for ${a.nConstraints} constraints`);
  });

  it("computes, without proving, the same commitments and the reference output", async () => {
    const input = quantizeInput(a.model, [1.5, -2, 0.25, 3]);
    const c = await computeCommitments(a.circuit, { model: a.model, input, inputSalt: 101n, outputSalt: 202n, context: 0n });
    expect([c.inputCommitment, c.outputCommitment]).to.deep.equal([base.inputCommitment, base.outputCommitment]);
    const ref = evaluateQuantized(a.model, input);
    expect([c.output, c.argmax]).to.deep.equal([ref.output, ref.argmax]);
  });

  it("commits deterministically to salted inputs and outputs", async () => {
    const again = await prove(a, [1.5, -2, 0.25, 3]);
    expect([again.inputCommitment, again.outputCommitment]).to.deep.equal([base.inputCommitment, base.outputCommitment]);
    const resalted = await prove(a, [1.5, -2, 0.25, 3], 102n, 203n);
    expect(resalted.inputCommitment).to.not.equal(base.inputCommitment);
    expect(resalted.outputCommitment).to.not.equal(base.outputCommitment);
  });

  it("fails verification for a wrong output (another inference's output commitment)", async () => {
    const other = await prove(a, [-3, 2, -1, -0.5]);
    expect(other.outputCommitment).to.not.equal(base.outputCommitment);
    expect(await verify(a, [base.publicSignals[0], other.publicSignals[1], base.publicSignals[2]], base)).to.equal(false);
  });

  it("fails verification for a tampered input commitment", async () => {
    const tampered = (base.inputCommitment + 1n).toString();
    expect(await verify(a, [tampered, base.publicSignals[1], base.publicSignals[2]], base)).to.equal(false);
  });

  it("fails verification for another claim's context (job, node)", async () => {
    const stolen = claimContext({ chainId: 31337n, escrow: ESCROW, jobId: 1n, node: "0x00000000000000000000000000000000000000b2" });
    expect(await verify(a, [base.publicSignals[0], base.publicSignals[1], stolen.toString()], base)).to.equal(false);
  });

  it("fails verification under another model's verifying key", async () => {
    const proofB = await prove(b, [1.5, -2, 0.25, 3]);
    expect(await verify(b, proofB.publicSignals, proofB)).to.equal(true);
    expect(await verify(b, base.publicSignals, base)).to.equal(false);
    expect(await verify(a, proofB.publicSignals, proofB)).to.equal(false);
  });

  it("formats calldata exactly as snarkjs's Solidity export does", async () => {
    const text = await snarkjs.groth16.exportSolidityCallData(base.proof, base.publicSignals);
    const flat = (JSON.parse(`[${text}]`) as unknown[]).flat(3).map((v) => BigInt(String(v)));
    const s = base.solidity;
    expect(flat).to.deep.equal([...s.a, ...s.b.flat(), ...s.c, ...s.input]);
  });

  it("hashes every artefact and derives distinct verifying-key hashes per model", async () => {
    expect(a.setup.vkHash).to.equal(verificationKeyHash(JSON.parse(await readFile(a.setup.vkPath, "utf8")) as snarkjs.VerificationKey));
    expect(a.setup.vkHash).to.match(/^0x[0-9a-f]{64}$/).and.not.equal(b.setup.vkHash);
    expect(await sha256File(a.setup.zkeyPath)).to.equal(a.setup.sha256.zkey);
    expect(await sha256File(a.ptau.path)).to.equal(a.ptau.sha256);
    expect(await readFile(a.setup.verifierSolPath, "utf8")).to.contain("function verifyProof");
  });

  it("has a zkey that snarkjs verifies against the r1cs and the ceremony", async () => {
    expect(await snarkjs.zKey.verifyFromR1cs(a.circuit.r1csPath, a.ptau.path, a.setup.zkeyPath)).to.equal(true);
  });
});

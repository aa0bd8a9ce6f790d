import { expect } from "chai";
import { readFile } from "node:fs/promises";
import * as snarkjs from "snarkjs";
import {
  claimSignal,
  decodeZkOutput,
  encodeZkOutput,
  inputCommitment,
  packedOutputOf,
  packInput,
  VALUE_OFFSET,
  vectorCommit,
} from "../../src/zkml/claim";
import { runWitness } from "../../src/zkml/commitments";
import { compileCircuit, generateCircuit } from "../../src/zkml/circom";
import { sha256File } from "../../src/core/hash";
import { lowerToMlp } from "../../src/zkml/mlp";
import { parseOnnx } from "../../src/zkml/onnx";
import { writeMlpOnnx } from "../../src/zkml/onnx-writer";
import { evaluateQuantized } from "../../src/zkml/reference";
import type { ZkModel } from "../../src/zkml/pipeline";
import {
  CircuitProver,
  proveInference,
  releaseSnarkjs,
  verifyInference,
  type ProofResult,
} from "../../src/zkml/prover";
import { quantizeInput, quantizeMlp } from "../../src/zkml/quantize";
import { verificationKeyHash } from "../../src/zkml/setup";
import { randomMlp, rng, zkModels } from "./fixtures";

describe("zkml/prover", () => {
  let a: ZkModel;
  let b: ZkModel;
  let base: ProofResult;
  const X = [1.5, -2, 0.25, 3];

  function prove(zk: ZkModel, x: number[], inputSalt = 101n): Promise<ProofResult> {
    return proveInference(
      { wasmPath: zk.circuit.wasmPath, zkeyPath: zk.setup.zkeyPath },
      { model: zk.model, input: quantizeInput(zk.model, x), inputSalt },
    );
  }

  const verify = (zk: ZkModel, signal: bigint, p: ProofResult): Promise<boolean> =>
    verifyInference(zk.setup.vk, [signal.toString()], p.proof);

  before(async () => {
    ({ a, b } = await zkModels());
    base = await prove(a, X);
  });

  after(releaseSnarkjs);

  it("proves an inference whose one public signal is the claim on the input commitment and the output", async () => {
    const input = quantizeInput(a.model, X);
    const expected = claimSignal(
      inputCommitment(a.model, input, 101n),
      packedOutputOf(a.model, evaluateQuantized(a.model, input)),
    );
    expect(base.publicSignals).to.deep.equal([expected.toString()]);
    expect(base.claim).to.equal(expected);
    expect(await verify(a, base.claim, base)).to.equal(true);
    console.log(
      `      groth16 prove (witness + proof): ${base.proveSeconds.toFixed(2)} s for ${a.nConstraints} constraints`,
    );
  });

  it("computes the input commitment in TypeScript exactly as the circuit does (poseidon-lite vs witness)", async () => {
    const r = rng(3);
    for (let i = 0; i < 8; i++) {
      const input = quantizeInput(
        a.model,
        Array.from({ length: 4 }, () => r() * 8 - 4),
      );
      const salt = BigInt(Math.floor(r() * 2 ** 40)) * 1_000_003n;
      const c = await runWitness(a.circuit, { model: a.model, input, inputSalt: salt });
      const ref = evaluateQuantized(a.model, input);
      expect(c.inputCommitment).to.equal(inputCommitment(a.model, input, salt));
      expect(c.poseidonCommitment).to.equal(vectorCommit(salt, packInput(a.model, input)));
      expect(c.inputCommitment).to.equal(c.poseidonCommitment % (1n << 200n));
      expect([c.output, c.argmax, c.packedOutput]).to.deep.equal([ref.output, ref.argmax, BigInt(ref.argmax)]);
      expect(c.claim).to.equal(claimSignal(c.inputCommitment, c.packedOutput));
    }
  });

  it("salts the commitment: the same input under another salt commits differently", async () => {
    const input = quantizeInput(a.model, X);
    expect(inputCommitment(a.model, input, 101n)).to.equal(inputCommitment(a.model, input, 101n));
    expect(inputCommitment(a.model, input, 102n)).to.not.equal(inputCommitment(a.model, input, 101n));
    const again = await prove(a, X, 102n);
    expect(again.claim).to.not.equal(base.claim);
  });

  it("fails verification for a wrong output (the right input commitment, another class)", async () => {
    const input = quantizeInput(a.model, X);
    const ic = inputCommitment(a.model, input, 101n);
    const right = packedOutputOf(a.model, evaluateQuantized(a.model, input));
    for (let wrong = 0n; wrong < 3n; wrong++) {
      if (wrong === right) continue;
      expect(await verify(a, claimSignal(ic, wrong), base)).to.equal(false);
    }
  });

  it("fails verification for a tampered input (another input or salt) with the same output", async () => {
    const packed = base.claim & ((1n << 48n) - 1n);
    const otherInput = quantizeInput(a.model, [1.5, -2, 0.25, 2.99]);
    expect(await verify(a, claimSignal(inputCommitment(a.model, otherInput, 101n), packed), base)).to.equal(false);
    expect(
      await verify(a, claimSignal(inputCommitment(a.model, quantizeInput(a.model, X), 100n), packed), base),
    ).to.equal(false);
  });

  it("fails verification under another model's verifying key", async () => {
    const proofB = await prove(b, X);
    expect(await verify(b, proofB.claim, proofB)).to.equal(true);
    expect(await verify(b, base.claim, base)).to.equal(false);
    expect(await verify(a, proofB.claim, proofB)).to.equal(false);
  });

  it("formats calldata exactly as snarkjs's Solidity export does", async () => {
    const text = await snarkjs.groth16.exportSolidityCallData(base.proof, base.publicSignals);
    const flat = (JSON.parse(`[${text}]`) as unknown[]).flat(3).map((v) => BigInt(String(v)));
    const s = base.solidity;
    expect(flat).to.deep.equal([...s.a, ...s.b.flat(), ...s.c, ...s.input]);
  });

  it("hashes every artefact and derives distinct verifying-key hashes per model", async () => {
    expect(a.setup.vkHash).to.equal(
      verificationKeyHash(JSON.parse(await readFile(a.setup.vkPath, "utf8")) as snarkjs.VerificationKey),
    );
    expect(a.setup.vkHash)
      .to.match(/^0x[0-9a-f]{64}$/)
      .and.not.equal(b.setup.vkHash);
    expect(await sha256File(a.setup.zkeyPath)).to.equal(a.setup.sha256.zkey);
    expect(await sha256File(a.ptau.path)).to.equal(a.ptau.sha256);
  });

  it("proves the same claim with a loaded CircuitProver (wasm and zkey as bytes, as a node holds them)", async () => {
    const prover = await CircuitProver.load({
      wasm: await readFile(a.circuit.wasmPath),
      zkey: await readFile(a.setup.zkeyPath),
    });
    const input = quantizeInput(a.model, X);
    const first = await prover.prove({ model: a.model, input, inputSalt: 101n });
    const second = await prover.prove({ model: a.model, input, inputSalt: 101n });
    expect([first.claim, second.claim]).to.deep.equal([base.claim, base.claim]);
    expect(await verify(a, first.claim, first)).to.equal(true);
    const lim = 1n << BigInt(a.model.inputBits);
    await prover.prove({ model: a.model, input: [lim - 1n, 0n, 0n, 0n], inputSalt: 1n }).then(
      () => undefined,
      (e: unknown) => expect.fail(`an input at the range's edge must prove: ${String(e)}`),
    );
  });

  it("has a zkey that snarkjs verifies against the r1cs and the ceremony", async () => {
    expect(await snarkjs.zKey.verifyFromR1cs(a.circuit.r1csPath, a.ptau.path, a.setup.zkeyPath)).to.equal(true);
  });

  it("publishes a regressor's fixed-point output (offset by 2^47) and decodes it back", async () => {
    const model = quantizeMlp(lowerToMlp(parseOnnx(writeMlpOnnx(randomMlp([4, 6, 1], 9)))), {
      inputRange: 4,
      scaleBits: 8,
    });
    const circuit = await compileCircuit(generateCircuit(model), {
      outDir: ".cache/zk/tmp/regressor",
      optimization: 1,
    });
    const r = rng(12);
    let negative = 0;
    for (let i = 0; i < 10; i++) {
      const input = quantizeInput(
        model,
        Array.from({ length: 4 }, () => r() * 8 - 4),
      );
      const c = await runWitness(circuit, { model, input, inputSalt: 7n });
      const ref = evaluateQuantized(model, input);
      expect(c.packedOutput).to.equal(ref.output[0]! + VALUE_OFFSET);
      const decoded = decodeZkOutput(model, encodeZkOutput(c.packedOutput));
      expect(decoded.fixedPoint).to.equal(ref.output[0]);
      expect(decoded.value).to.equal(Number(ref.output[0]) / 2 ** model.scaleBits);
      if (ref.output[0]! < 0n) negative++;
    }
    expect(negative, "negative outputs among the samples").to.be.greaterThan(0);
  });
});

import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as snarkjs from "snarkjs";
import { insecureDevSetup, type InsecureDevSetup } from "../../bench/zk/insecure-dev-setup";
import { kerasStyleCircuit, kerasStyleInput } from "../../bench/zk/keras-style";
import { compileCircuit, type CompiledCircuit } from "../../src/zkml/circom";
import { releaseSnarkjs } from "../../src/zkml/prover";
import { quantizeInput } from "../../src/zkml/quantize";
import { evaluateQuantized } from "../../src/zkml/reference";
import { ensurePtau } from "../../src/zkml/setup";
import { TEST_POWER, zkModels } from "./fixtures";

/** Two public inputs, a private one, a range check and a public output: out = a·b·c + (c < a·b). */
const TINY = `pragma circom 2.1.0;
include "comparators.circom";
template Tiny() {
    signal input a;
    signal input b;
    signal input c;
    signal output out;
    signal ab <== a * b;
    component lt = LessThan(16);
    lt.in[0] <== c;
    lt.in[1] <== ab;
    out <== ab * c + lt.out;
}
component main { public [a, b] } = Tiny();
`;

describe("bench/zk/insecure-dev-setup", () => {
  let dir: string;
  let tiny: CompiledCircuit;
  let dev: InsecureDevSetup;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "insecure-dev-setup-"));
    tiny = await compileCircuit(TINY, { outDir: join(dir, "tiny"), name: "tiny" });
    dev = await insecureDevSetup({ r1csPath: tiny.r1csPath, outDir: join(dir, "tiny") });
  });

  after(async () => {
    await releaseSnarkjs();
    await rm(dir, { recursive: true, force: true });
  });

  it("writes a key snarkjs.groth16.fullProve proves with and whose proofs snarkjs.groth16.verify accepts", async () => {
    const { proof, publicSignals } = await snarkjs.groth16.fullProve({ a: 6, b: 7, c: 5 }, tiny.wasmPath, dev.zkeyPath);
    expect(publicSignals).to.deep.equal(["211", "6", "7"]);
    expect(dev.vk.nPublic).to.equal(3);
    expect(await snarkjs.groth16.verify(dev.vk, publicSignals, proof)).to.equal(true);
  });

  it("gives proofs that do not verify for another public signal", async () => {
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(
      { a: 6, b: 7, c: 50 },
      tiny.wasmPath,
      dev.zkeyPath,
    );
    expect(publicSignals).to.deep.equal(["2100", "6", "7"]);
    for (let i = 0; i < publicSignals.length; i++) {
      const wrong = publicSignals.map((s, j) => (j === i ? (BigInt(s) + 1n).toString() : s));
      expect(await snarkjs.groth16.verify(dev.vk, wrong, proof)).to.equal(false);
    }
  });

  it("derives the key from its seed: the same seed reuses it, another seed's key rejects this key's proofs", async () => {
    const again = await insecureDevSetup({ r1csPath: tiny.r1csPath, outDir: join(dir, "tiny") });
    expect(again.generationSeconds).to.equal(0);
    expect(again.sha256.zkey).to.equal(dev.sha256.zkey);
    const other = await insecureDevSetup({ r1csPath: tiny.r1csPath, outDir: join(dir, "other"), seed: "other" });
    expect(other.sha256.zkey).to.not.equal(dev.sha256.zkey);
    const { proof, publicSignals } = await snarkjs.groth16.fullProve({ a: 3, b: 4, c: 1 }, tiny.wasmPath, dev.zkeyPath);
    expect(await snarkjs.groth16.verify(other.vk, publicSignals, proof)).to.equal(false);
    expect(await snarkjs.groth16.verify(dev.vk, publicSignals, proof)).to.equal(true);
  });

  it("is not a ceremony's key: snarkjs's zkey verification against a powers of tau rejects it", async () => {
    const zkey = await readFile(dev.zkeyPath);
    // The last section (10, the contribution transcript) holds a zero hash and no contributions.
    expect(zkey.subarray(zkey.length - 68).every((b) => b === 0)).to.equal(true);
    const ptau = await ensurePtau({ power: TEST_POWER });
    expect(await snarkjs.zKey.verifyFromR1cs(tiny.r1csPath, ptau.path, dev.zkeyPath)).to.equal(false);
  });

  it("proves the keras2circom-style circuit of a test model: its output is the reference argmax", async () => {
    const { a } = await zkModels();
    const keras = await compileCircuit(kerasStyleCircuit(a.model), { outDir: join(dir, "keras") });
    const key = await insecureDevSetup({ r1csPath: keras.r1csPath, outDir: join(dir, "keras") });
    const input = quantizeInput(a.model, [1.5, -2, 0.25, 3]);
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(
      kerasStyleInput(a.model, input),
      keras.wasmPath,
      key.zkeyPath,
    );
    const { argmax } = evaluateQuantized(a.model, input);
    expect(publicSignals).to.deep.equal([String(argmax)]);
    expect(await snarkjs.groth16.verify(key.vk, publicSignals, proof)).to.equal(true);
    expect(await snarkjs.groth16.verify(key.vk, [String((argmax + 1) % 3)], proof)).to.equal(false);
  });
});

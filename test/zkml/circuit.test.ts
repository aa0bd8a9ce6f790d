import { expect } from "chai";
import { ZkmlConstraintError, ZkmlInputRangeError } from "../../src/zkml/errors";
import { fromField, SNARK_FIELD, toField } from "../../src/zkml/field";
import { CLAIM_INPUT_BITS, claimSignal, inputCommitment, packInput, vectorCommit } from "../../src/zkml/claim";
import { buildCircuitInput, randomSalt } from "../../src/zkml/prover";
import { findViolatedConstraints, loadR1cs, type R1cs } from "../../src/zkml/r1cs-check";
import { evaluateQuantized } from "../../src/zkml/reference";
import { readSymbols } from "../../src/zkml/sym";
import { calculateWitness } from "../../src/zkml/witness";
import type { ZkModel } from "../../src/zkml/pipeline";
import { compileCircuit, generateCircuit } from "../../src/zkml/circom";
import { lowerToMlp } from "../../src/zkml/mlp";
import { parseOnnx } from "../../src/zkml/onnx";
import { writeMlpOnnx } from "../../src/zkml/onnx-writer";
import { quantizeMlp } from "../../src/zkml/quantize";
import { randomMlp, rng, TEST_INPUT_RANGE, TEST_SCALE_BITS, TEST_SIZES, zkModels } from "./fixtures";

/** Random quantized inputs over the whole range the circuit accepts, plus its extremes. */
function randomInputs(zk: ZkModel, count: number, seed: number): bigint[][] {
  const lim = 1 << zk.model.inputBits;
  const r = rng(seed);
  const xs = Array.from({ length: count }, () =>
    Array.from({ length: zk.model.inputSize }, () => BigInt(Math.floor(r() * 2 * lim) - lim)),
  );
  xs.push(
    new Array<bigint>(zk.model.inputSize).fill(BigInt(-lim)),
    new Array<bigint>(zk.model.inputSize).fill(BigInt(lim - 1)),
  );
  return xs;
}

describe("zkml/circuit", () => {
  let zk: ZkModel;
  let r1cs: R1cs;
  let sym: Map<string, number>;

  before(async () => {
    ({ a: zk } = await zkModels());
    r1cs = await loadR1cs(zk.circuit.r1csPath);
    sym = await readSymbols(zk.circuit.symPath);
  });

  const idx = (name: string): number => {
    const i = sym.get(name);
    if (i === undefined) throw new Error(`signal ${name} is not in the witness`);
    return i;
  };

  async function witnessFor(input: bigint[]): Promise<bigint[]> {
    return calculateWitness(zk.circuit.wasmPath, buildCircuitInput({ model: zk.model, input, inputSalt: 11n }));
  }

  it("has witnesses bit-exact with the reference evaluator on random inputs", async () => {
    for (const x of randomInputs(zk, 60, 5)) {
      const w = await witnessFor(x);
      const ref = evaluateQuantized(zk.model, x);
      const out = ref.output.map((_, i) => fromField(w[idx(`main.out[${i}]`)]));
      expect(out, `input ${x.join(",")}`).to.deep.equal(ref.output);
      expect(Number(w[idx("main.packedOutput")])).to.equal(ref.argmax);
      ref.activations[0].forEach((v, j) => expect(fromField(w[idx(`main.a0[${j}]`)])).to.equal(v));
      // The circuit computes the whole Poseidon commitment; a job commits to (and the claim carries) its low 200 bits.
      expect(w[idx("main.inputCommitment")]).to.equal(vectorCommit(11n, packInput(zk.model, x)));
      expect(w[idx("main.inputCommitment")] % (1n << BigInt(CLAIM_INPUT_BITS))).to.equal(
        inputCommitment(zk.model, x, 11n),
      );
      expect(w[idx("main.claim")]).to.equal(claimSignal(inputCommitment(zk.model, x, 11n), BigInt(ref.argmax)));
    }
  });

  it("is satisfied by honest witnesses (so the checker can pass)", async () => {
    for (const x of randomInputs(zk, 3, 6))
      expect(findViolatedConstraints(r1cs, await witnessFor(x))).to.deep.equal([]);
  });

  it("rejects an input outside the range, in the prover and in the circuit", async () => {
    const lim = 1n << BigInt(zk.model.inputBits);
    expect(() => buildCircuitInput({ model: zk.model, input: [lim, 0n, 0n, 0n], inputSalt: 1n })).to.throw(
      ZkmlInputRangeError,
      `input[0] = ${lim}`,
    );
    const raw = { in: [lim, 0n, 0n, 0n].map(String), inputSalt: "1" };
    await calculateWitness(zk.circuit.wasmPath, raw).then(
      () => expect.fail("expected a constraint error"),
      (err: unknown) => expect(err).to.be.instanceOf(ZkmlConstraintError),
    );
  });

  describe("hand-made witnesses", () => {
    let x: bigint[];
    let honest: bigint[];
    let active: number;
    const s = (): bigint => BigInt(zk.model.scaleBits);
    const k = (): number => zk.model.layers[0].quotientBits;

    before(async () => {
      // Find an input with a positive (active) ReLU in layer 0.
      for (const cand of randomInputs(zk, 50, 8)) {
        const ref = evaluateQuantized(zk.model, cand);
        const j = ref.activations[0].findIndex((v) => v > 0n);
        if (j >= 0) {
          x = cand;
          active = j;
          break;
        }
      }
      honest = await witnessFor(x);
    });

    function tampered(edit: (w: bigint[]) => void): bigint[] {
      const w = [...honest];
      edit(w);
      return w;
    }

    /** Asserts that some violated constraint involves signal `name`: the check meant to catch the edit did. */
    function expectViolationAt(w: bigint[], name: string): void {
      const i = idx(name);
      const bad = findViolatedConstraints(r1cs, w);
      expect(bad, "violated constraints").to.not.be.empty;
      const touching = bad.filter((c) => r1cs.constraints[c].some((lc) => lc.has(i)));
      expect(touching, `violated constraints involving ${name}`).to.not.be.empty;
    }

    function setBits(w: bigint[], prefix: string, value: bigint, n: number): void {
      for (let i = 0; i < n; i++) w[idx(`${prefix}.bits[${i}]`)] = (value >> BigInt(i)) & 1n;
    }

    it("fails when a ReLU is flipped to zero (sign bit cleared)", () => {
      const p = `main.l0[${active}]`;
      const w = tampered((w) => {
        w[idx(`main.a0[${active}]`)] = 0n;
        w[idx(`${p}.qRange.bits[${k() - 1}]`)] = 0n;
      });
      expectViolationAt(w, `${p}.qs`);
    });

    it("fails when the remainder is shifted by 2^s (quotient one lower, bits re-decomposed)", () => {
      const p = `main.l0[${active}]`;
      const w = tampered((w) => {
        const qs = w[idx(`${p}.qs`)] - 1n;
        const r = w[idx(`${p}.r`)] + (1n << s());
        w[idx(`${p}.qs`)] = qs;
        w[idx(`${p}.r`)] = r;
        setBits(w, `${p}.qRange`, qs, k());
        setBits(w, `${p}.rRange`, r, zk.model.scaleBits);
        w[idx(`main.a0[${active}]`)] = qs - (1n << BigInt(k() - 1));
      });
      expectViolationAt(w, `${p}.r`);
    });

    it("fails when the remainder is a negative field element (quotient one higher)", () => {
      const p = `main.l0[${active}]`;
      const w = tampered((w) => {
        const qs = w[idx(`${p}.qs`)] + 1n;
        const r = toField(w[idx(`${p}.r`)] - (1n << s()));
        w[idx(`${p}.qs`)] = qs;
        w[idx(`${p}.r`)] = r;
        setBits(w, `${p}.qRange`, qs, k());
        setBits(w, `${p}.rRange`, r % (1n << s()), zk.model.scaleBits);
      });
      expectViolationAt(w, `${p}.r`);
    });

    it("fails when the argmax selects another index", () => {
      const ref = evaluateQuantized(zk.model, x);
      const other = (ref.argmax + 1) % zk.model.outputSize;
      const w = tampered((w) => {
        w[idx(`main.am.sel[${ref.argmax}]`)] = 0n;
        w[idx(`main.am.sel[${other}]`)] = 1n;
        w[idx(`main.am.picked[${ref.argmax}]`)] = 0n;
        w[idx(`main.am.picked[${other}]`)] = toField(ref.output[other]);
        w[idx("main.packedOutput")] = BigInt(other);
        w[idx("main.claim")] = claimSignal(inputCommitment(zk.model, x, 11n), BigInt(other));
        w[idx("main.am.max")] = toField(ref.output[other]);
      });
      expectViolationAt(w, "main.am.max");
    });

    it("fails when the public claim is changed (another output or commitment bits)", () => {
      expectViolationAt(
        tampered((w) => (w[idx("main.claim")] += 1n)),
        "main.claim",
      );
      expectViolationAt(
        tampered((w) => (w[idx("main.claim")] += 1n << 48n)),
        "main.claim",
      );
    });

    it("fails when a bit of the commitment's decomposition is flipped to change the claim", () => {
      const w = tampered((w) => {
        const bit = idx("main.icBits.out[0]");
        w[bit] = 1n - w[bit];
        w[idx("main.claim")] += (w[bit] === 1n ? 1n : -1n) << 48n;
      });
      expectViolationAt(w, "main.inputCommitment");
    });

    it("finds no violation when nothing is changed (control)", () => {
      expect(
        findViolatedConstraints(
          r1cs,
          tampered(() => undefined),
        ),
      ).to.deep.equal([]);
      expect(SNARK_FIELD > 0n).to.equal(true);
      expect(randomSalt() < SNARK_FIELD).to.equal(true);
    });
  });

  describe("ties", () => {
    it("accepts only the first of tied maxima", async () => {
      // Output 2 duplicates output 0, so they always tie.
      const layers = randomMlp(TEST_SIZES, 4);
      layers[1].weights[2] = [...layers[1].weights[0]];
      layers[1].bias[2] = layers[1].bias[0];
      const model = quantizeMlp(lowerToMlp(parseOnnx(writeMlpOnnx(layers))), {
        inputRange: TEST_INPUT_RANGE,
        scaleBits: TEST_SCALE_BITS,
      });
      const circuit = await compileCircuit(generateCircuit(model), { outDir: ".cache/zk/tmp/ties", optimization: 1 });
      const tieR1cs = await loadR1cs(circuit.r1csPath);
      const tieSym = await readSymbols(circuit.symPath);
      const at = (name: string): number => tieSym.get(name) ?? -1;
      const r = rng(10);
      let checked = 0;
      for (let n = 0; n < 200 && checked < 3; n++) {
        const x = Array.from({ length: model.inputSize }, () => BigInt(Math.floor(r() * 2048) - 1024));
        const ref = evaluateQuantized(model, x);
        if (ref.argmax !== 0) continue;
        checked++;
        const w = await calculateWitness(circuit.wasmPath, buildCircuitInput({ model, input: x, inputSalt: 1n }));
        expect(w[at("main.packedOutput")]).to.equal(0n);
        // Claim index 2 instead: same maximum value, later index.
        w[at("main.am.sel[0]")] = 0n;
        w[at("main.am.sel[2]")] = 1n;
        w[at("main.am.picked[0]")] = 0n;
        w[at("main.am.picked[2]")] = toField(ref.output[2]);
        w[at("main.packedOutput")] = 2n;
        w[at("main.claim")] += 2n;
        const bad = findViolatedConstraints(tieR1cs, w);
        expect(bad.filter((c) => tieR1cs.constraints[c].some((lc) => lc.has(at("main.am.sel[2]"))))).to.not.be.empty;
      }
      expect(checked, "inputs whose maximum is tied").to.equal(3);
    });
  });
});

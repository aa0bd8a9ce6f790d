import { expect } from "chai";
import * as snarkjs from "snarkjs";
import { buildSlotCircuit, generateBatchCircuit, type SlotCircuit } from "../../src/zkml/batch-circuit";
import { buildSlotInput, SlotProver, type SlotJob } from "../../src/zkml/batch-prover";
import { claimSignal, inputCommitment, packedOutputOf } from "../../src/zkml/claim";
import { ZkmlConstraintError } from "../../src/zkml/errors";
import { fromField } from "../../src/zkml/field";
import { releaseSnarkjs } from "../../src/zkml/prover";
import { findViolatedConstraints, loadR1cs } from "../../src/zkml/r1cs-check";
import { evaluateQuantized } from "../../src/zkml/reference";
import { readSymbols } from "../../src/zkml/sym";
import { calculateWitness } from "../../src/zkml/witness";
import type { QuantizedModel } from "../../src/zkml/quantize";
import { rng, zkModels } from "./fixtures";

/** `count` jobs with random inputs over the whole range and distinct salts. */
function randomJobs(model: QuantizedModel, count: number, seed: number): SlotJob[] {
  const lim = 1 << model.inputBits;
  const r = rng(seed);
  return Array.from({ length: count }, (_, k) => ({
    input: Array.from({ length: model.inputSize }, () => BigInt(Math.floor(r() * 2 * lim) - lim)),
    inputSalt: 1000n + BigInt(seed * 100 + k),
  }));
}

/** The claim the single-job circuit would publish for `job`, from the reference evaluator. */
function referenceClaim(model: QuantizedModel, job: SlotJob): bigint {
  const ref = evaluateQuantized(model, job.input);
  return claimSignal(inputCommitment(model, job.input, job.inputSalt), packedOutputOf(model, ref));
}

describe("zkml/batch-circuit: N slots of a model in one circuit", () => {
  let model: QuantizedModel;

  before(async () => {
    ({
      a: { model },
    } = await zkModels());
  });

  describe("witness (2 slots, named signals kept)", () => {
    let slots2: SlotCircuit;
    let sym: Map<string, number>;
    const idx = (name: string): number => {
      const i = sym.get(name);
      if (i === undefined) throw new Error(`signal ${name} is not in the witness`);
      return i;
    };

    before(async () => {
      slots2 = await buildSlotCircuit({ model, slots: 2, optimization: 1, minPower: 12 });
      sym = await readSymbols(slots2.circuit.symPath);
    });

    it("publishes one claim per slot, in slot order, bit-exact with the reference evaluator", async () => {
      for (let seed = 1; seed <= 8; seed++) {
        const jobs = randomJobs(model, 2, seed);
        const w = await calculateWitness(slots2.circuit.wasmPath, buildSlotInput(model, 2, jobs));
        jobs.forEach((job, k) => {
          const ref = evaluateQuantized(model, job.input);
          ref.output.forEach((v, i) => expect(fromField(w[idx(`main.slot[${k}].out[${i}]`)]!)).to.equal(v));
          expect(w[idx(`main.claim[${k}]`)]).to.equal(referenceClaim(model, job));
        });
      }
    });

    it("is violated by a wrong output in either slot", async () => {
      const r1cs = await loadR1cs(slots2.circuit.r1csPath);
      const jobs = randomJobs(model, 2, 9);
      const honest = await calculateWitness(slots2.circuit.wasmPath, buildSlotInput(model, 2, jobs));
      expect(findViolatedConstraints(r1cs, honest)).to.deep.equal([]);
      for (let k = 0; k < 2; k++) {
        const w = [...honest];
        const packed = w[idx(`main.slot[${k}].packedOutput`)]!;
        const wrong = (packed + 1n) % 3n;
        w[idx(`main.slot[${k}].packedOutput`)] = wrong;
        w[idx(`main.claim[${k}]`)] = w[idx(`main.claim[${k}]`)]! - packed + wrong;
        expect(findViolatedConstraints(r1cs, w), `slot ${k}`).to.not.deep.equal([]);
      }
    });

    it("pads the slots past the last job with a copy of job 0", () => {
      const jobs = randomJobs(model, 1, 10);
      const input = buildSlotInput(model, 2, jobs);
      expect(input["inputSalt"]).to.deep.equal([jobs[0]!.inputSalt.toString(), jobs[0]!.inputSalt.toString()]);
      expect(input["in"]).to.have.length(2 * model.inputSize);
    });

    it("refuses no jobs, more jobs than slots, and slot counts outside [2, 64]", () => {
      expect(() => buildSlotInput(model, 2, [])).to.throw(ZkmlConstraintError, "1 to 2 jobs, not 0");
      expect(() => buildSlotInput(model, 2, randomJobs(model, 3, 11))).to.throw(ZkmlConstraintError, "not 3");
      expect(() => generateBatchCircuit(model, 1)).to.throw(ZkmlConstraintError, "2 to 64 slots, not 1");
      expect(() => generateBatchCircuit(model, 65)).to.throw(ZkmlConstraintError, "not 65");
    });
  });

  describe("proofs (4 slots)", () => {
    let slots4: SlotCircuit;
    let prover: SlotProver;

    before(async () => {
      slots4 = await buildSlotCircuit({ model, slots: 4, minPower: 12 });
      prover = await SlotProver.load({ wasm: slots4.circuit.wasmPath, zkey: slots4.setup.zkeyPath }, model, 4);
    });

    after(releaseSnarkjs);

    const verify = (proof: snarkjs.Groth16Proof, claims: bigint[]): Promise<boolean> =>
      snarkjs.groth16.verify(
        slots4.setup.vk,
        claims.map((c) => c.toString()),
        proof,
      );

    it("proves 3 jobs with slot 3 repeating job 0, and only with that padding", async () => {
      const jobs = randomJobs(model, 3, 12);
      const res = await prover.prove(jobs);
      const expected = [...jobs, jobs[0]!].map((j) => referenceClaim(model, j));
      expect(res.claims).to.deep.equal(expected);
      expect(await verify(res.proof, expected)).to.equal(true);
      // A padded slot cannot carry a claim of its own: another genuine claim there fails.
      const other = referenceClaim(model, randomJobs(model, 1, 13)[0]!);
      expect(await verify(res.proof, [...expected.slice(0, 3), other])).to.equal(false);
    });

    it("fails for swapped slots and for a wrong output in any slot", async () => {
      const jobs = randomJobs(model, 4, 14);
      const res = await prover.prove(jobs);
      const claims = jobs.map((j) => referenceClaim(model, j));
      expect(await verify(res.proof, claims)).to.equal(true);
      expect(await verify(res.proof, [claims[1]!, claims[0]!, claims[2]!, claims[3]!])).to.equal(false);
      for (let k = 0; k < 4; k++) {
        const wrong = [...claims];
        wrong[k] = wrong[k]! + 1n;
        expect(await verify(res.proof, wrong), `slot ${k}`).to.equal(false);
      }
    });
  });
});

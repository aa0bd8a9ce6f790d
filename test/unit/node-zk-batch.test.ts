import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AbiCoder, ZeroAddress, type Result } from "ethers";
import pino from "pino";
import { JobEscrow__factory } from "../../typechain-types";
import { RevertError } from "../../src/core/errors";
import type { Job } from "../../src/core/job";
import { Mode } from "../../src/core/modes";
import { SUBMIT_ALONE, ZkBatcher, type SubmissionStrategy } from "../../src/node/batcher";
import type { SendRequest } from "../../src/node/sender";
import { NodeStore, type JobRow } from "../../src/node/store";
import { ModelError } from "../../src/node/errors";
import { validateZkBatch } from "../../src/node/zk-batch-config";
import { ZkSlotBatcher, type ZkSlotBatcherOptions } from "../../src/node/zk-batch";
import type { SlotProverSource } from "../../src/node/zk";
import { buildSlotInput, type SlotJob, type SlotProver } from "../../src/zkml/batch-prover";
import { SLOT_PROOF } from "../../src/zkml/batch-solidity";
import { claimSignal, encodeZkOutput, inputCommitment, packedOutputOf } from "../../src/zkml/claim";
import { zkJobRequest } from "../../src/zkml/job";
import { quantizeMlp, type QuantizedModel } from "../../src/zkml/quantize";
import { evaluateQuantized } from "../../src/zkml/reference";
import { randomMlp } from "../zkml/fixtures";

const VERIFIER = "0x00000000000000000000000000000000000000a1";
const ESCROW = "0x00000000000000000000000000000000000000e5";
const iface = JobEscrow__factory.createInterface();

/** The test classifier (4-6-3) quantized: jobs are opened and evaluated for real, only the Groth16 proof is faked. */
const model: QuantizedModel = quantizeMlp(
  { inputName: "x", outputName: "y", inputSize: 4, layers: randomMlp([4, 6, 3], 1) },
  { inputRange: 4, scaleBits: 8 },
);

/** A prover that computes the claims a real N-slot proof carries (padding included) but makes no proof. */
class FakeProver {
  readonly proved: SlotJob[][] = [];
  constructor(readonly slots: number) {}
  readonly model = model;
  prove(jobs: readonly SlotJob[]) {
    this.proved.push([...jobs]);
    const input = buildSlotInput(model, this.slots, jobs);
    const padded = Array.from({ length: this.slots }, (_, i) => jobs[i] ?? jobs[0]!);
    expect(input.inputSalt).to.deep.equal(padded.map((j) => j.inputSalt.toString()));
    const claims = padded.map((j) =>
      claimSignal(
        inputCommitment(model, j.input, j.inputSalt),
        packedOutputOf(model, evaluateQuantized(model, j.input)),
      ),
    );
    const zero: [bigint, bigint] = [0n, 0n];
    return Promise.resolve({
      proof: {} as never,
      claims,
      solidity: { a: zero, b: [zero, zero] as [[bigint, bigint], [bigint, bigint]], c: zero, input: claims },
      proveSeconds: 0,
    });
  }
}

interface Harness {
  store: NodeStore;
  batcher: ZkSlotBatcher;
  prover: FakeProver;
  sent: SendRequest[];
  logs: { msg: string; [k: string]: unknown }[];
  loads: string[];
  /** Resolves once the batcher has woken the scheduler `count` times in all. */
  woken(count?: number): Promise<void>;
  /** A computed ZK job (its output computed, its proof left to the batch) of `modelId`, deadline in `deadlineIn` s. */
  computed(id: number, options?: { modelId?: bigint; deadlineIn?: number }): Promise<JobRow>;
}

function harness(
  options: Partial<ZkSlotBatcherOptions> & {
    refuse?: boolean;
    send?: (request: SendRequest) => Promise<void>;
    fallback?: SubmissionStrategy;
    /** The database of an earlier run (a restart). */
    store?: NodeStore;
  } = {},
): Harness {
  const store = options.store ?? new NodeStore(NodeStore.pathIn(mkdtempSync(path.join(os.tmpdir(), "vin-zk-batch-"))));
  const prover = new FakeProver(options.slots ?? 4);
  const sent: SendRequest[] = [];
  const logs: Harness["logs"] = [];
  const loads: string[] = [];
  let wakes = 0;
  const waiting: { count: number; resolve: () => void }[] = [];
  const wake = () => {
    wakes++;
    for (const w of waiting.filter((w) => w.count <= wakes)) w.resolve();
  };
  const provers: SlotProverSource = {
    load: (job) => {
      loads.push(`${job.modelId}@${job.version}`);
      return options.refuse
        ? Promise.reject(new ModelError(`model ${job.modelId}@${job.version} has no 4-slot verifier bound`))
        : Promise.resolve(prover as unknown as SlotProver);
    },
  };
  const batcher = new ZkSlotBatcher(
    {
      store,
      sender: {
        send: async (request) => {
          await options.send?.(request);
          sent.push(request);
          return {} as never;
        },
      },
      iface,
      provers,
      // Inline, unsealed inputs: the stored bytes are the requester's.
      open: (row) => Promise.resolve(row.input),
      log: pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line)) }),
      wake: () => wake(),
      fallback: options.fallback ?? SUBMIT_ALONE,
    },
    {
      escrow: ESCROW,
      slots: options.slots ?? 4,
      maxWaitMs: options.maxWaitMs ?? 3_600_000,
      deadlineMarginMs: options.deadlineMarginMs ?? 60_000,
    },
  );
  const computed = async (id: number, o: { modelId?: bigint; deadlineIn?: number } = {}) => {
    const request = zkJobRequest(model, [id % 4, -1, 0.5, 2 - (id % 3)], BigInt(100 + id));
    const job: Job = {
      id: BigInt(id),
      requester: ZeroAddress,
      modelId: o.modelId ?? 2n,
      version: 1n,
      mode: BigInt(Mode.Zk),
      redundancy: 1n,
      deadline: BigInt(Math.floor(Date.now() / 1000) + (o.deadlineIn ?? 3_600)),
      revealDeadline: 0n,
      inputHash: request.inputCommitment,
      modelOwner: ZeroAddress,
      verifier: VERIFIER,
      modelFee: 0n,
      feePerNode: 1n,
      protocolFee: 0n,
      collateral: 0n,
      callback: ZeroAddress,
      callbackGasLimit: 0n,
      slashBeneficiaryBps: 0n,
    };
    store.recordRequest({ job, input: request.input, inputUri: "", requestBlock: 1 });
    const seen = store.jobs.get(job.id)!;
    const output = await batcher.deferProof(seen, request.input);
    store.jobs.transition(job.id, "claimed");
    if (output !== undefined) store.jobs.transition(job.id, "computed", { output });
    return store.jobs.get(job.id)!;
  };
  return {
    store,
    batcher,
    prover,
    sent,
    logs,
    loads,
    woken: (count = 1) => new Promise<void>((resolve) => waiting.push({ count, resolve })),
    computed,
  };
}

/** The jobs and slot proof of a `submitBatch` calldata. */
function decodeBatch(data: string): { jobIds: bigint[]; outputs: string[]; slots: bigint; packed: bigint[] } {
  const call = iface.parseTransaction({ data })!;
  expect(call.name).to.equal("submitBatch");
  const [tag, slots, packed] = AbiCoder.defaultAbiCoder().decode(
    ["uint256", "uint256", "uint256[]", "tuple(uint256[2] a, uint256[2][2] b, uint256[2] c)"],
    call.args.proof as string,
  );
  expect(tag).to.equal(SLOT_PROOF);
  return {
    jobIds: (call.args.jobs as Result[]).map((j) => j[0] as bigint),
    outputs: call.args.outputs as string[],
    slots: slots as bigint,
    packed: [...(packed as bigint[])],
  };
}

describe("node: ZkSlotBatcher (one N-slot proof for the ZK jobs of a version)", () => {
  describe("deferProof", () => {
    it("returns the job's output (its circuit's packed answer) and leaves the proof to the batch", async () => {
      const h = harness();
      const row = await h.computed(1);
      expect(row.state).to.equal("computed");
      expect(row.proof).to.equal(undefined);
      const request = zkJobRequest(model, [1, -1, 0.5, 1], 101n);
      const quantized = request.quantized;
      expect(row.output).to.equal(encodeZkOutput(packedOutputOf(model, evaluateQuantized(model, quantized))));
    });

    it("returns undefined for a job within deadlineMarginMs of its deadline, which is proved alone", async () => {
      const h = harness({ deadlineMarginMs: 120_000 });
      const row = await h.computed(1, { deadlineIn: 60 });
      expect(row.state).to.equal("claimed");
      expect(h.logs.map((l) => l.msg)).to.include("ZK job near its deadline: proved on its own, not batched");
    });

    it("returns undefined, and logs why once per version, when the version has no usable slot key", async () => {
      const h = harness({ refuse: true });
      expect((await h.computed(1)).state).to.equal("claimed");
      expect((await h.computed(2)).state).to.equal("claimed");
      const warnings = h.logs.filter((l) => l.msg === "ZK jobs of this version are proved one by one");
      expect(warnings).to.have.length(1);
      expect(warnings[0]!.reason).to.equal("model 2@1 has no 4-slot verifier bound");
    });

    it("returns undefined for a job that is not ZK", async () => {
      const h = harness();
      const row = await h.computed(1);
      expect(await h.batcher.deferProof({ ...row, job: { ...row.job, mode: BigInt(Mode.Vanilla) } }, row.input)).to.be
        .undefined;
    });

    it("returns undefined for an input that does not open the job's commitment", async () => {
      const h = harness();
      const row = await h.computed(1);
      const other = zkJobRequest(model, [0, 0, 0, 0], 5n).input;
      expect(await h.batcher.deferProof(row, other)).to.equal(undefined);
    });
  });

  describe("add", () => {
    it("sends one submitBatch with one slot proof as soon as N jobs of a version wait", async () => {
      const h = harness({ slots: 4 });
      const rows = [];
      for (let i = 1; i <= 4; i++) rows.push(await h.computed(i));
      const woken = h.woken();
      for (const row of rows) {
        expect(h.batcher.batches(row)).to.equal(true);
        h.batcher.add(row);
      }
      await woken;
      expect(h.sent).to.have.length(1);
      expect(h.sent[0]!.key).to.equal("batch:1,2,3,4");
      const batch = decodeBatch(h.sent[0]!.data);
      expect(batch.jobIds).to.deep.equal([1n, 2n, 3n, 4n]);
      expect(batch.slots).to.equal(4n);
      expect(batch.packed).to.deep.equal(rows.map((r) => BigInt(r.output!)));
      expect(batch.outputs).to.deep.equal(rows.map((r) => r.output));
      expect(h.prover.proved).to.have.length(1);
      expect(h.prover.proved[0]).to.have.length(4);
      for (const row of rows) expect(h.store.jobs.get(row.jobId)!.state).to.equal("submitted");
      expect(h.store.outbox.batchMembers("batch:1,2,3,4")).to.deep.equal([1n, 2n, 3n, 4n]);
    });

    it("proves fewer jobs than slots, padded, once the first has waited maxWaitMs", async () => {
      const h = harness({ slots: 4, maxWaitMs: 30 });
      const rows = [await h.computed(1), await h.computed(2)];
      const woken = h.woken();
      for (const row of rows) h.batcher.add(row);
      expect(h.sent).to.have.length(0);
      await woken;
      const batch = decodeBatch(h.sent[0]!.data);
      expect(batch.jobIds).to.deep.equal([1n, 2n]);
      expect(batch.slots).to.equal(4n);
      expect(h.prover.proved[0]).to.have.length(2);
    });

    it("keeps versions apart: jobs of two models go in two proofs", async () => {
      const h = harness({ slots: 2 });
      const rows = [
        await h.computed(1, { modelId: 2n }),
        await h.computed(2, { modelId: 3n }),
        await h.computed(3, { modelId: 2n }),
        await h.computed(4, { modelId: 3n }),
      ];
      const both = h.woken(2);
      for (const row of rows) h.batcher.add(row);
      await both;
      expect(h.sent.map((s) => decodeBatch(s.data).jobIds).sort((a, b) => Number(a[0]! - b[0]!))).to.deep.equal([
        [1n, 3n],
        [2n, 4n],
      ]);
    });

    it("proves a waiting group at once when a job comes within deadlineMarginMs of its deadline", async () => {
      const h = harness({ slots: 4, deadlineMarginMs: 60_000 });
      const far = await h.computed(1);
      // Computed while far enough from its deadline, then held: by the time it is added the margin is reached.
      const near = await h.computed(2, { deadlineIn: 3_600 });
      h.batcher.add(far);
      expect(h.sent).to.have.length(0);
      const woken = h.woken();
      h.batcher.add({ ...near, job: { ...near.job, deadline: BigInt(Math.floor(Date.now() / 1000) + 30) } });
      await woken;
      expect(decodeBatch(h.sent[0]!.data).jobIds).to.deep.equal([1n, 2n]);
    });

    it("hands the jobs back to be proved alone when submitBatch would revert", async () => {
      const h = harness({
        slots: 2,
        send: () => Promise.reject(new RevertError("JobEscrowDeadlinePassed(2)", "JobEscrowDeadlinePassed", {})),
      });
      const rows = [await h.computed(1), await h.computed(2)];
      const woken = h.woken();
      for (const row of rows) h.batcher.add(row);
      await woken;
      for (const row of rows) {
        expect(h.batcher.batches(row)).to.equal(false);
        expect(h.store.jobs.get(row.jobId)!.state).to.equal("computed");
      }
      expect(await h.batcher.deferProof(rows[0]!, rows[0]!.input)).to.equal(undefined);
      h.batcher.settled(1n);
      expect(h.batcher.batches(rows[0]!)).to.equal(true);
    });

    it("leaves the jobs computed (batched again later) when sending fails in transport", async () => {
      const h = harness({ slots: 2, send: () => Promise.reject(new Error("connection refused")) });
      const rows = [await h.computed(1), await h.computed(2)];
      for (const row of rows) h.batcher.add(row);
      await h.batcher.stop();
      expect(h.sent).to.have.length(0);
      expect(h.logs.map((l) => l.msg)).to.include("slot-proof submission failed; will retry");
      for (const row of rows) {
        expect(h.store.jobs.get(row.jobId)!.state).to.equal("computed");
        expect(h.batcher.batches(row)).to.equal(true);
      }
    });

    it("after a crash before the batch was stored, a restart batches the computed jobs again", async () => {
      const first = harness({ slots: 2, send: () => Promise.reject(new Error("process killed")) });
      const rows = [await first.computed(1), await first.computed(2)];
      for (const row of rows) first.batcher.add(row);
      await first.batcher.stop();
      expect(first.prover.proved).to.have.length(1);
      const again = harness({ slots: 2, store: first.store });
      const woken = again.woken();
      for (const row of again.store.jobs.inStates(["computed"])) {
        expect(again.batcher.batches(row)).to.equal(true);
        again.batcher.add(row);
      }
      await woken;
      expect(decodeBatch(again.sent[0]!.data).jobIds).to.deep.equal([1n, 2n]);
      for (const row of rows) expect(again.store.jobs.get(row.jobId)!.state).to.equal("submitted");
    });

    it("sends jobs that carry their own proof to the fallback strategy", async () => {
      const added: bigint[] = [];
      const fallback: SubmissionStrategy = {
        ...SUBMIT_ALONE,
        batches: () => true,
        add: (r) => void added.push(r.jobId),
      };
      const h = harness({ fallback });
      const row = { ...(await h.computed(1)), proof: "0x1234" };
      expect(h.batcher.batches(row)).to.equal(true);
      h.batcher.add(row);
      expect(added).to.deep.equal([1n]);
      expect(h.sent).to.have.length(0);
    });
  });

  describe("the RLC batcher (ZkBatcher) after a restart without zkBatch", () => {
    it("leaves a ZK job computed without its proof to be submitted alone (which proves it); batches a proved one", async () => {
      const h = harness();
      const row = await h.computed(1);
      expect(row.proof).to.equal(undefined);
      const rlc = new ZkBatcher(
        h.store,
        undefined as never,
        JobEscrow__factory.createInterface(),
        pino({ level: "silent" }),
        { escrow: ZeroAddress, maxBatch: 16, windowMs: 1_000 },
        { wake: () => undefined },
      );
      expect(rlc.batches(row)).to.equal(false);
      expect(rlc.batches({ ...row, proof: "0x01" })).to.equal(true);
    });
  });

  describe("validateZkBatch", () => {
    const fail = (field: string, what: string): never => {
      throw new Error(`"${field}" ${what}`);
    };

    it("takes slots and maxWaitMs, with the default deadline margin", () => {
      expect(validateZkBatch({ slots: 4, maxWaitMs: 2_000 }, fail)).to.deep.equal({
        slots: 4,
        maxWaitMs: 2_000,
        deadlineMarginMs: 60_000,
      });
    });

    it("refuses a slot count the verifier does not accept, an unknown key and a missing setting, naming the field", () => {
      expect(() => validateZkBatch({ slots: 1, maxWaitMs: 0 }, fail)).to.throw(
        '"zkBatch.slots" must be an integer from 2 to 64 (the slot circuits ZkInferenceVerifier accepts), got 1',
      );
      expect(() => validateZkBatch({ slots: 65, maxWaitMs: 0 }, fail)).to.throw(/"zkBatch.slots" must be an integer/);
      expect(() => validateZkBatch({ slots: 4, maxWaitMs: 0, window: 1 }, fail)).to.throw(
        '"zkBatch.window" is not a zkBatch setting',
      );
      expect(() => validateZkBatch({ slots: 4 }, fail)).to.throw('"zkBatch.maxWaitMs" is required');
      expect(() => validateZkBatch([], fail)).to.throw(/"zkBatch" must be an object/);
    });
  });
});

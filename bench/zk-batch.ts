/**
 * One Groth16 proof for N jobs (issue #15 §1): per-job ZK settlement gas through `JobEscrow.submitBatch` at
 * N = 1, 4, 16, 64 for the N-slot circuit (one proof, N public claims) and for the random-linear-combination batch
 * of N single-job proofs, and the proving time per job of the N-slot circuit against N.
 *
 * Subject: the bundled penguin classifier (4-8-3), whose N-slot circuits fit this machine's development ceremonies.
 * An N-slot circuit needs a powers-of-tau of 2^p >= N x (constraints per slot); a slot whose ceremony is not in
 * `.cache/zk/ptau` (BENCH_ZK_BATCH_MAX_POWER, default 15) is not proven. Its settlement gas is then measured with a
 * stand-in circuit of the same number of public signals (`claim[i] = c[i] * d[i]`): a Groth16 verification's cost
 * depends on the number of public signals and jobs only, never on the circuit, which the rows at N where both exist
 * show (`standinVsReal`).
 *
 * Usage: npx hardhat run bench/zk-batch.ts   (npm run bench:zk-batch). Writes bench/results/zk-batch.json.
 * `npm run bench:zk` runs the same measurement ({@link measureZkBatch}) and writes its rows into bench/results/zk.json.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { keccak256, toBeHex, toUtf8Bytes } from "ethers";
import { bundledModel, clampToRange } from "../src/models";
import { Mode, modeMask } from "../src/core/modes";
import { buildSlotCircuit, type SlotCircuit } from "../src/zkml/batch-circuit";
import { SlotProver, type SlotJob } from "../src/zkml/batch-prover";
import { encodeZkSlotProof, slotVerifyingKeyArgs } from "../src/zkml/batch-solidity";
import {
  claimSignal,
  encodeZkBatchProof,
  encodeZkOutput,
  encodeZkProof,
  inputCommitment,
  packedOutputOf,
  type SolidityProof,
} from "../src/zkml/claim";
import { compileCircuit } from "../src/zkml/circom";
import { deployZkCircuit, registerZkModel } from "../src/zkml/deploy";
import { buildZkModel, type ZkModel } from "../src/zkml/pipeline";
import { CircuitProver, releaseSnarkjs, toSolidityProof } from "../src/zkml/prover";
import { quantizeInput } from "../src/zkml/quantize";
import { evaluateQuantized } from "../src/zkml/reference";
import { DEFAULT_ZK_CACHE, ensurePtau, ptauPowerFor } from "../src/zkml/setup";
import { MODEL_PRICE, requestJob, systemFixture, type Fixture } from "../test/fixtures/system";
import * as snarkjs from "snarkjs";
import { report, type Row } from "./lib/report";

const GAS_N = [1, 4, 16, 64];
const PROVE_N = [1, 2, 4, 8, 16];
const RUNS = 3;
const MAX_POWER = Number(process.env.BENCH_ZK_BATCH_MAX_POWER ?? 15);
const CARD = toUtf8Bytes("---\nname: bench-zk-batch\ntask: classification\nlicense: mit\n---\n");

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Whether the ceremony of `power` is already generated (a bench never waits for a new one). */
function ptauCached(power: number): boolean {
  return existsSync(join(DEFAULT_ZK_CACHE, "ptau", `pot${power}_final.ptau`));
}

/** The slot counts whose penguin circuit fits a cached ceremony, built and set up. */
async function slotCircuits(zk: ZkModel): Promise<Map<number, SlotCircuit>> {
  const out = new Map<number, SlotCircuit>();
  const perSlot = zk.nConstraints;
  for (const n of [...new Set([...PROVE_N, ...GAS_N])].filter((n) => n > 1).sort((a, b) => a - b)) {
    // O2 circuits of N slots are at most N x the single O2 circuit; the exact power is checked after compiling.
    const estimate = ptauPowerFor(n * perSlot, n);
    if (estimate > MAX_POWER || !ptauCached(estimate)) {
      console.error(`   ${n} slots: needs ptau 2^${estimate}, not cached: not proven`);
      continue;
    }
    const started = Date.now();
    const c = await buildSlotCircuit({ model: zk.model, slots: n, minPower: 12, log: (l) => console.error(`   ${l}`) });
    console.error(
      `   ${n} slots: ${c.nConstraints} constraints, ptau 2^${c.ptau.power}, ${(Date.now() - started) / 1000} s`,
    );
    out.set(n, c);
  }
  return out;
}

/** A stand-in N-signal circuit (`claim[i] <== c[i] * d[i]`) and its setup, for gas only. */
async function standinCircuit(n: number): Promise<{ zkeyPath: string; wasmPath: string; vk: snarkjs.VerificationKey }> {
  const source = [
    "pragma circom 2.1.0;",
    "template Standin(N) {",
    "    signal input c[N];",
    "    signal input d[N];",
    "    signal output claim[N];",
    "    for (var i = 0; i < N; i++) claim[i] <== c[i] * d[i];",
    "}",
    `component main = Standin(${n});`,
    "",
  ].join("\n");
  const dir = join(DEFAULT_ZK_CACHE, "tmp", `standin-${n}`);
  const circuit = await compileCircuit(source, { outDir: dir, name: "standin" });
  const ptau = await ensurePtau({ power: 11 });
  const zkeyPath = join(dir, "standin.zkey");
  await snarkjs.zKey.newZKey(circuit.r1csPath, ptau.path, zkeyPath);
  return { zkeyPath, wasmPath: circuit.wasmPath, vk: await snarkjs.zKey.exportVerificationKey(zkeyPath) };
}

interface BenchJob {
  job: Awaited<ReturnType<typeof requestJob>>;
  slot: SlotJob;
  packedOutput: bigint;
  output: string;
}

/** Requests and claims `count` ZK jobs of `modelId` on the penguin inputs (cycled, distinct salts). */
async function jobs(fx: Fixture, zk: ZkModel, modelId: bigint, inputs: bigint[][], count: number, salt: bigint) {
  const out: BenchJob[] = [];
  for (let i = 0; i < count; i++) {
    const input = inputs[i % inputs.length]!;
    const inputSalt = salt + BigInt(i);
    const job = await requestJob(fx, {
      modelId,
      mode: Mode.Zk,
      input: "0x01",
      inputCommitment: toBeHex(inputCommitment(zk.model, input, inputSalt), 32),
    });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    const packedOutput = packedOutputOf(zk.model, evaluateQuantized(zk.model, input));
    out.push({ job, slot: { input, inputSalt }, packedOutput, output: encodeZkOutput(packedOutput) });
  }
  return out;
}

/** Gas of `ZkInferenceVerifier.verifyBatch` alone for the escrow's claims: the estimate minus the 21,000 base. */
async function verifyGas(fx: Fixture, list: BenchJob[], proof: string): Promise<number> {
  const claims = list.map((j) => ({
    jobId: j.job.id,
    modelId: j.job.modelId,
    version: j.job.version,
    inputHash: j.job.inputHash,
    outputHash: keccak256(j.output),
    node: fx.nodes[0]!.address,
  }));
  return Number(await fx.system.zkVerifier.verifyBatch.estimateGas(claims, proof)) - 21_000;
}

async function submitBatch(fx: Fixture, list: BenchJob[], proof: string): Promise<number> {
  const tx = await fx.system.escrow.connect(fx.nodes[0]!).submitBatch(
    list.map((j) => j.job),
    list.map((j) => j.output),
    proof,
  );
  return Number((await tx.wait())!.gasUsed);
}

/** The rows and details of the N-slot measurement, on a fresh deployment of the system. */
export interface ZkBatchMeasurement {
  rows: Row[];
  detail: Record<string, unknown>;
}

/**
 * Measures per-job ZK settlement gas at N = 1, 4, 16, 64 for both batching schemes and the N-slot proving time per
 * job; deploys its own system on the Hardhat network.
 *
 * @example
 * const { rows, detail } = await measureZkBatch();
 */
export async function measureZkBatch(): Promise<ZkBatchMeasurement> {
  const penguin = bundledModel("penguin-species-mlp");
  console.error("== penguin-species-mlp");
  const built = await buildZkModel({ onnx: penguin.onnx, inputRange: penguin.inputRange });
  // The single-job key is read once and its verifying key exported from those bytes: a concurrent setup of the same
  // circuit with another ceremony (tests share `.cache/zk/models`) must not swap the key under the bench.
  const zkey = await readFile(built.setup.zkeyPath);
  const zk: ZkModel = {
    ...built,
    setup: { ...built.setup, vk: await snarkjs.zKey.exportVerificationKey({ type: "mem", data: zkey }) },
  };
  const inputs = penguin.test.x.slice(0, 64).map((x) => quantizeInput(zk.model, clampToRange(x, penguin.inputRange)));
  const slots = await slotCircuits(zk);

  const fx = await systemFixture();
  await fx.system.staking.connect(fx.nodes[0]!).register(modeMask([Mode.Vanilla, Mode.Tee, Mode.Zk]));
  const deployment = await deployZkCircuit(fx.deployer, zk, {
    verifierFactory: await fx.system.verifierFactory.getAddress(),
  });
  const register = async () =>
    (
      await registerZkModel({
        registry: fx.system.registry.connect(fx.owner),
        deployment,
        onnx: penguin.onnx,
        card: CARD,
        price: MODEL_PRICE,
      })
    ).modelId;
  const real = await register();
  const standin = await register();
  const zkv = fx.system.zkVerifier.connect(fx.owner);

  const rows: Row[] = [];
  const detail: Record<string, unknown> = { model: "penguin-species-mlp", constraintsPerJob: zk.nConstraints };

  // Proving time per job against N.
  const single = await CircuitProver.load({ wasm: zk.circuit.wasmPath, zkey });
  const singleProofs: SolidityProof[] = [];
  const proveTimes: Record<number, number> = {};
  for (const n of PROVE_N) {
    const seconds: number[] = [];
    if (n === 1) {
      for (let r = 0; r <= RUNS; r++) {
        const started = process.hrtime.bigint();
        const res = await single.prove({ model: zk.model, input: inputs[r]!, inputSalt: 1n + BigInt(r) });
        if (r > 0) seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
        singleProofs.push(res.solidity);
      }
    } else {
      const c = slots.get(n);
      if (c === undefined) continue;
      const prover = await SlotProver.load({ wasm: c.circuit.wasmPath, zkey: c.setup.zkeyPath }, zk.model, n);
      const batch = Array.from({ length: n }, (_, i) => ({
        input: inputs[i % inputs.length]!,
        inputSalt: 7n + BigInt(i),
      }));
      for (let r = 0; r <= RUNS; r++) {
        const started = process.hrtime.bigint();
        const res = await prover.prove(batch);
        if (r > 0) seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
        const expected = batch.map((j) =>
          claimSignal(
            inputCommitment(zk.model, j.input, j.inputSalt),
            packedOutputOf(zk.model, evaluateQuantized(zk.model, j.input)),
          ),
        );
        if (res.claims.some((cl, i) => cl !== expected[i]))
          throw new Error(`${n} slots: a claim differs from the reference`);
      }
    }
    proveTimes[n] = median(seconds) / n;
    rows.push({
      key: `provePerJob${n}`,
      value: Math.round(proveTimes[n]! * 1000),
      unit: "ms/job",
      note: `${n === 1 ? "single-job circuit" : `${n}-slot circuit, ${slots.get(n)!.nConstraints} constraints, ptau 2^${slots.get(n)!.ptau.power}`}: median of ${RUNS} proofs (witness + Groth16, circuit loaded once) / ${n}`,
    });
  }
  detail["provePerJobSeconds"] = proveTimes;

  // Settlement gas through the escrow.
  let salt = 1_000n;
  const fresh = async (modelId: bigint, n: number) => jobs(fx, zk, modelId, inputs, n, (salt += 1_000n));
  const perJob: Record<string, Record<number, number>> = { slots: {}, rlc: {}, standin: {} };
  const verify: Record<string, Record<number, number>> = { slots: {}, rlc: {}, standin: {} };
  for (const n of GAS_N) {
    // RLC batch of n single-job proofs.
    const list = await fresh(real, n);
    const items: { packedOutput: bigint; proof: SolidityProof }[] = [];
    for (const j of list) {
      const res = await single.prove({ model: zk.model, input: j.slot.input, inputSalt: j.slot.inputSalt });
      items.push({ packedOutput: j.packedOutput, proof: res.solidity });
    }
    verify["rlc"]![n] = (await verifyGas(fx, list, encodeZkBatchProof(items))) / n;
    perJob["rlc"]![n] = (await submitBatch(fx, list, encodeZkBatchProof(items))) / n;
    if (n === 1) {
      const one = await fresh(real, 1);
      const res = await single.prove({ model: zk.model, input: one[0]!.slot.input, inputSalt: one[0]!.slot.inputSalt });
      const tx = await fx.system.escrow
        .connect(fx.nodes[0]!)
        .submit(one[0]!.job, one[0]!.output, encodeZkProof(one[0]!.packedOutput, res.solidity));
      perJob["slots"]![1] = Number((await tx.wait())!.gasUsed);
      continue;
    }
    const c = slots.get(n);
    if (c !== undefined) {
      await zkv.setSlotVerifier(real, 1, slotVerifyingKeyArgs(c.setup.vk));
      const prover = await SlotProver.load({ wasm: c.circuit.wasmPath, zkey: c.setup.zkeyPath }, zk.model, n);
      const batch = await fresh(real, n);
      const { solidity } = await prover.prove(batch.map((j) => j.slot));
      const proof = encodeZkSlotProof(
        n,
        batch.map((j) => j.packedOutput),
        solidity,
      );
      verify["slots"]![n] = (await verifyGas(fx, batch, proof)) / n;
      perJob["slots"]![n] = (await submitBatch(fx, batch, proof)) / n;
    }
    const s = await standinCircuit(n);
    await zkv.setSlotVerifier(standin, 1, slotVerifyingKeyArgs(s.vk));
    const batch = await fresh(standin, n);
    const claims = batch.map((j) =>
      claimSignal(inputCommitment(zk.model, j.slot.input, j.slot.inputSalt), j.packedOutput),
    );
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(
      { c: claims.map(String), d: claims.map(() => "1") },
      s.wasmPath,
      s.zkeyPath,
    );
    const standinProof = encodeZkSlotProof(
      n,
      batch.map((j) => j.packedOutput),
      toSolidityProof(proof, publicSignals),
    );
    verify["standin"]![n] = (await verifyGas(fx, batch, standinProof)) / n;
    perJob["standin"]![n] = (await submitBatch(fx, batch, standinProof)) / n;
    perJob["slots"]![n] ??= perJob["standin"]![n]!;
    verify["slots"]![n] ??= verify["standin"]![n]!;
  }
  for (const n of GAS_N) {
    const measured = n === 1 || slots.has(n);
    rows.push({
      key: `zkSettlePerJob${n}`,
      value: Math.round(perJob["slots"]![n]!),
      unit: "gas/job",
      target: n === 16 ? 40_000 : n === 1 ? 240_000 : undefined,
      note:
        n === 1
          ? "JobEscrow.submit of one ZK job (single-job circuit), whole transaction"
          : `submitBatch of ${n} jobs with one ${n}-slot proof, whole transaction / ${n}${measured ? "" : " (stand-in circuit of the same public signals: the penguin circuit needs a larger ceremony)"}`,
    });
    rows.push({
      key: `zkSettlePerJobRlc${n}`,
      value: Math.round(perJob["rlc"]![n]!),
      unit: "gas/job",
      note: `submitBatch of ${n} single-job proofs, random linear combination, whole transaction / ${n}`,
    });
  }
  for (const n of GAS_N.filter((n) => n > 1)) {
    rows.push({
      key: `zkVerifyPerJob${n}`,
      value: Math.round(verify["slots"]![n]!),
      unit: "gas/job",
      note: `of which ZkInferenceVerifier.verifyBatch with the ${n}-slot proof (estimate - 21,000, with its calldata) / ${n}; RLC: ${Math.round(verify["rlc"]![n]!).toLocaleString("en-US")}`,
    });
  }
  for (const n of GAS_N.filter((n) => slots.has(n))) {
    rows.push({
      key: `standinVsReal${n}`,
      value: Math.round((perJob["standin"]![n]! - perJob["slots"]![n]!) * n),
      unit: "gas",
      note: `stand-in minus penguin ${n}-slot settlement, whole transaction (calldata bytes of the proof differ)`,
    });
  }
  detail["settlePerJobGas"] = perJob;
  detail["verifyPerJobGas"] = verify;
  await releaseSnarkjs();
  return { rows, detail };
}

async function main(): Promise<void> {
  const { rows, detail } = await measureZkBatch();
  report("zk-batch", "One Groth16 proof for N ZK jobs (penguin-species-mlp)", rows, { detail });
}

// Run as a script (hardhat run bench/zk-batch.ts), not when bench/zk.ts imports the measurement.
if (require.main === module)
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );

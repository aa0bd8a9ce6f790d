/**
 * Child process of `bench/zk.ts`: proves a list of inputs with one circuit and reports timings, proofs and the
 * process's peak resident memory (its own process, so each circuit's peak is measured alone).
 *
 * stdin: JSON `{ wasmPath, zkeyPath, model, inputs: string[][], salt, prover? }` (bigints as decimal strings).
 * `prover`: "ours" (default: CircuitProver, loaded once as a node keeps it), "snarkjs" (plain
 * `snarkjs.groth16.fullProve` of the same circuit, which reads the wasm and the key on every call) or
 * "keras-style" (`fullProve` of the keras2circom-style circuit at `wasmPath`/`zkeyPath`, see keras-style.ts).
 * stdout: JSON `{ loadSeconds, seconds: number[], cpuSeconds: number[] (the process's, worker threads included), maxRssBytes, proofs: { claim, a, b, c, jsonBytes }[] }`.
 */
import { readFileSync } from "node:fs";
import * as snarkjs from "snarkjs";
import { buildCircuitInput, CircuitProver, releaseSnarkjs, toSolidityProof } from "../../src/zkml/prover";
import type { QuantizedModel } from "../../src/zkml/quantize";
import type { CircuitInput } from "../../src/zkml/witness";
import { kerasStyleInput } from "./keras-style";

interface Job {
  wasmPath: string;
  zkeyPath: string;
  model: QuantizedModel;
  inputs: string[][];
  salt: string;
  prover?: "ours" | "snarkjs" | "keras-style";
}

type Prove = (input: bigint[], inputSalt: bigint) => Promise<{ proof: snarkjs.Groth16Proof; publicSignals: string[] }>;

/** A prover of the kind `job.prover` names. */
async function proverOf(job: Job): Promise<Prove> {
  const fullProve = (input: CircuitInput) => snarkjs.groth16.fullProve(input, job.wasmPath, job.zkeyPath);
  switch (job.prover ?? "ours") {
    case "ours": {
      const prover = await CircuitProver.load({ wasm: job.wasmPath, zkey: job.zkeyPath });
      return (input, inputSalt) => prover.prove({ model: job.model, input, inputSalt });
    }
    case "snarkjs":
      return (input, inputSalt) => fullProve(buildCircuitInput({ model: job.model, input, inputSalt }));
    case "keras-style":
      return (input) => fullProve(kerasStyleInput(job.model, input));
  }
}

function revive(_key: string, value: unknown): unknown {
  return typeof value === "string" && /^-?\d+n$/.test(value) ? BigInt(value.slice(0, -1)) : value;
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(0, "utf8"), revive) as Job;
  const seconds: number[] = [];
  const cpuSeconds: number[] = [];
  const proofs: unknown[] = [];
  // As a node does: load the circuit once, then prove each job (witness + Groth16).
  const loadStarted = process.hrtime.bigint();
  const prove = await proverOf(job);
  const loadSeconds = Number(process.hrtime.bigint() - loadStarted) / 1e9;
  for (const [i, raw] of job.inputs.entries()) {
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const p = await prove(
      raw.map((v) => BigInt(v)),
      BigInt(job.salt) + BigInt(i),
    );
    seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
    const used = process.cpuUsage(cpu);
    cpuSeconds.push((used.user + used.system) / 1e6);
    const s = toSolidityProof(p.proof, p.publicSignals);
    proofs.push({
      claim: p.publicSignals[0]!,
      a: s.a.map(String),
      b: s.b.map((r) => r.map(String)),
      c: s.c.map(String),
      jsonBytes: JSON.stringify(p.proof).length,
    });
  }
  await releaseSnarkjs();
  process.stdout.write(
    JSON.stringify({ loadSeconds, seconds, cpuSeconds, maxRssBytes: process.resourceUsage().maxRSS * 1024, proofs }),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

/**
 * Child process of `bench/zk.ts`: proves a list of inputs with one circuit and reports timings, proofs and the
 * process's peak resident memory (its own process, so each circuit's peak is measured alone).
 *
 * stdin: JSON `{ wasmPath, zkeyPath, model, inputs: string[][], salt }` (bigints as decimal strings).
 * stdout: JSON `{ loadSeconds, seconds: number[], maxRssBytes, proofs: { claim, a, b, c, jsonBytes }[] }`.
 */
import { readFileSync } from "node:fs";
import { CircuitProver, releaseSnarkjs } from "../../src/zkml/prover";
import type { QuantizedModel } from "../../src/zkml/quantize";

interface Job {
  wasmPath: string;
  zkeyPath: string;
  model: QuantizedModel;
  inputs: string[][];
  salt: string;
}

function revive(_key: string, value: unknown): unknown {
  return typeof value === "string" && /^-?\d+n$/.test(value) ? BigInt(value.slice(0, -1)) : value;
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(0, "utf8"), revive) as Job;
  const seconds: number[] = [];
  const proofs: unknown[] = [];
  // As a node does: load the circuit once, then prove each job (witness + Groth16).
  const loadStarted = process.hrtime.bigint();
  const prover = await CircuitProver.load({ wasm: job.wasmPath, zkey: job.zkeyPath });
  const loadSeconds = Number(process.hrtime.bigint() - loadStarted) / 1e9;
  for (const [i, raw] of job.inputs.entries()) {
    const started = process.hrtime.bigint();
    const p = await prover.prove({
      model: job.model,
      input: raw.map((v) => BigInt(v)),
      inputSalt: BigInt(job.salt) + BigInt(i),
    });
    seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
    const s = p.solidity;
    proofs.push({
      claim: p.claim.toString(),
      a: s.a.map(String),
      b: s.b.map((r) => r.map(String)),
      c: s.c.map(String),
      jsonBytes: JSON.stringify(p.proof).length,
    });
  }
  await releaseSnarkjs();
  process.stdout.write(
    JSON.stringify({ loadSeconds, seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024, proofs }),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

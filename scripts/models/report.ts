/**
 * Trains every bundled model and measures it on its held-out rows three ways: the float network in TypeScript,
 * the ONNX file in onnxruntime-node (must agree with TypeScript), and the ZK circuit's fixed-point arithmetic
 * (the reference evaluator, bit-exact with the witness). Prints a table and writes `bench/results/models.json`.
 *
 * Usage: npx ts-node scripts/models/report.ts [--export <dir>]   (--export also writes each <name>.onnx and <name>.md)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  BUNDLED_MODEL_NAMES,
  MAX_ACCURACY_LOSS,
  bundledModel,
  evaluateCircuit,
  forward,
  percent,
  runOnnx,
  type AnyBundledModel,
  type CircuitEvaluation,
} from "../../src/models";

interface ModelReport extends CircuitEvaluation {
  name: string;
  kind: AnyBundledModel["kind"];
  trainRows: number;
  testRows: number;
  inputRange: number;
  /** Largest |onnxruntime − TypeScript| output over the held-out rows. */
  onnxMaxDeviation: number;
  trainSeconds: number;
  baseline?: { name: string; mae: number; rmse: number };
  withinBound?: boolean;
}

async function measure(model: AnyBundledModel, trainSeconds: number): Promise<ModelReport> {
  const circuit = evaluateCircuit(model);
  const onnx = await runOnnx(model.onnx, model.test.x);
  const onnxMaxDeviation = Math.max(
    ...onnx.flatMap((out, i) => out.map((v, j) => Math.abs(v - forward(model.layers, model.test.x[i]!)[j]!))),
  );
  const common = {
    ...circuit,
    name: model.name,
    kind: model.kind,
    trainRows: model.trainRows,
    testRows: model.test.x.length,
    inputRange: model.inputRange,
    onnxMaxDeviation,
    trainSeconds,
  };
  if (model.kind === "classifier") return { ...common, withinBound: circuit.loss <= MAX_ACCURACY_LOSS };
  return {
    ...common,
    baseline: { name: model.metrics.baseline, mae: model.metrics.baselineMae, rmse: model.metrics.baselineRmse },
  };
}

function row(r: ModelReport): string[] {
  const figure = (v: number) => (r.metric === "accuracy" ? percent(v) : v.toFixed(4));
  const difference =
    r.metric === "accuracy"
      ? `${(-r.loss * 100).toFixed(2)} pp`
      : `${r.loss >= 0 ? "+" : ""}${r.loss.toExponential(1)}`;
  return [
    r.name,
    r.kind,
    `${r.trainRows}/${r.testRows}`,
    r.metric,
    figure(r.float),
    figure(r.circuit),
    difference,
    String(r.scaleBits),
    String(r.inputSize),
    `±${r.inputRange}`,
    String(r.rangeBits),
    r.maxDeviation.toExponential(1),
    r.onnxMaxDeviation.toExponential(1),
  ];
}

function printTable(rows: string[][]): void {
  const header = [
    "model",
    "kind",
    "train/test",
    "metric",
    "float",
    "circuit",
    "difference",
    "scaleBits",
    "inputs",
    "range",
    "rangeBits",
    "max|Δout|",
    "max|ort−ts|",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    console.log(
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    );
  line(header);
  line(widths.map((w) => "-".repeat(w)));
  rows.forEach(line);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const exportDir = args.includes("--export") ? args[args.indexOf("--export") + 1] : undefined;
  const reports: ModelReport[] = [];
  const models: AnyBundledModel[] = [];
  for (const name of BUNDLED_MODEL_NAMES) {
    const started = process.hrtime.bigint();
    const model = bundledModel(name);
    models.push(model);
    reports.push(await measure(model, Number(process.hrtime.bigint() - started) / 1e9));
  }
  console.log("\nBundled models on their held-out rows: float (TypeScript), circuit (reference evaluator)\n");
  printTable(reports.map(row));
  for (const r of reports) {
    if (r.baseline !== undefined)
      console.log(
        `\n${r.name}: float RMSE ${r.floatRmse?.toFixed(4)}, circuit RMSE ${r.circuitRmse?.toFixed(4)}; naive (${r.baseline.name}) MAE ${r.baseline.mae.toFixed(4)}, RMSE ${r.baseline.rmse.toFixed(4)}`,
      );
    if (r.withinBound === false)
      console.log(
        `\n${r.name}: circuit accuracy loss ${(r.loss * 100).toFixed(2)} pp exceeds ${MAX_ACCURACY_LOSS * 100} pp`,
      );
  }
  const dir = path.join(__dirname, "..", "..", "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "models.json");
  writeFileSync(
    file,
    `${JSON.stringify({ models: reports, maxAccuracyLoss: MAX_ACCURACY_LOSS, node: process.version, measuredAt: new Date().toISOString() }, null, 2)}\n`,
  );
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
  if (exportDir !== undefined) exportModels(models, exportDir);
  if (reports.some((r) => r.withinBound === false)) process.exitCode = 1;
}

function exportModels(models: AnyBundledModel[], dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const m of models) {
    writeFileSync(path.join(dir, `${m.name}.onnx`), m.onnx);
    writeFileSync(path.join(dir, `${m.name}.md`), m.card);
  }
  console.log(`exported ${models.length} ONNX files and cards to ${dir}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

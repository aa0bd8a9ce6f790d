/**
 * Fails when the coverage of contracts/ (written by `hardhat coverage` to coverage/coverage-summary.json) is below
 * the thresholds: 95% of lines and 90% of branches.
 *
 * Run: npm run coverage (it calls this after measuring)
 */
import { readFileSync } from "node:fs";
import path from "node:path";

const THRESHOLDS = { lines: 95, branches: 90 } as const;

interface Metric {
  total: number;
  covered: number;
  pct: number;
}
type Summary = Record<string, Record<"lines" | "branches" | "statements" | "functions", Metric>>;

const file = path.join(__dirname, "..", "coverage", "coverage-summary.json");
let summary: Summary;
try {
  summary = JSON.parse(readFileSync(file, "utf8")) as Summary;
} catch (cause) {
  console.error(`error: cannot read ${file}; run \`npx hardhat coverage\` first (${cause instanceof Error ? cause.message : String(cause)})`);
  process.exit(2);
}
const total = summary.total;
if (total === undefined) {
  console.error(`error: ${file} has no "total" entry`);
  process.exit(2);
}
let failed = false;
for (const [metric, threshold] of Object.entries(THRESHOLDS) as [keyof typeof THRESHOLDS, number][]) {
  const { pct, covered, total: count } = total[metric];
  const ok = pct >= threshold;
  failed ||= !ok;
  console.log(`coverage of contracts/: ${metric} ${pct.toFixed(2)}% (${covered}/${count}), threshold ${threshold}%: ${ok ? "met" : "NOT MET"}`);
}
for (const [name, metrics] of Object.entries(summary)) {
  if (name === "total") continue;
  if (metrics.lines.pct < THRESHOLDS.lines || metrics.branches.pct < THRESHOLDS.branches) {
    console.log(`  below a threshold: ${path.relative(path.join(__dirname, ".."), name)} lines ${metrics.lines.pct}% branches ${metrics.branches.pct}%`);
  }
}
process.exit(failed ? 1 : 0);

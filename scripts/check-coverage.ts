/**
 * Fails when the coverage of contracts/ is below the thresholds: 95% of lines and 90% of branches. Reads the
 * coverage.json that `hardhat coverage` writes; given several (from separate runs), it sums their hits first.
 *
 * Run: npm run coverage   (or: ts-node scripts/check-coverage.ts coverage.json [more.json ...])
 */
import { readFileSync } from "node:fs";

const THRESHOLDS = { lines: 95, branches: 90 } as const;

interface FileCoverage {
  l: Record<string, number>;
  b: Record<string, number[]>;
}
type Coverage = Record<string, FileCoverage>;

function load(file: string): Coverage {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Coverage;
  } catch (cause) {
    console.error(
      `error: cannot read coverage file ${file}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    process.exit(2);
  }
}

/** Sums the line and branch hits of every run, file by file. */
export function merge(runs: Coverage[]): Coverage {
  const merged: Coverage = {};
  for (const run of runs) {
    for (const [file, cov] of Object.entries(run)) {
      const into = (merged[file] ??= { l: {}, b: {} });
      for (const [line, hits] of Object.entries(cov.l)) into.l[line] = (into.l[line] ?? 0) + hits;
      for (const [branch, arms] of Object.entries(cov.b))
        into.b[branch] = arms.map((hits, i) => hits + (into.b[branch]?.[i] ?? 0));
    }
  }
  return merged;
}

function percent(covered: number, total: number): number {
  return total === 0 ? 100 : (100 * covered) / total;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: ts-node scripts/check-coverage.ts <coverage.json> [more.json ...]");
  process.exit(2);
}
const merged = merge(files.map(load));
const totals = { lines: { covered: 0, total: 0 }, branches: { covered: 0, total: 0 } };
for (const [file, cov] of Object.entries(merged)) {
  const lines = Object.values(cov.l);
  const arms = Object.values(cov.b).flat();
  const fileLines = { covered: lines.filter((h) => h > 0).length, total: lines.length };
  const fileBranches = { covered: arms.filter((h) => h > 0).length, total: arms.length };
  totals.lines.covered += fileLines.covered;
  totals.lines.total += fileLines.total;
  totals.branches.covered += fileBranches.covered;
  totals.branches.total += fileBranches.total;
  const lp = percent(fileLines.covered, fileLines.total);
  const bp = percent(fileBranches.covered, fileBranches.total);
  if (lp < THRESHOLDS.lines || bp < THRESHOLDS.branches)
    console.log(`  below a threshold on its own: ${file} lines ${lp.toFixed(1)}% branches ${bp.toFixed(1)}%`);
}
let failed = false;
for (const metric of ["lines", "branches"] as const) {
  const { covered, total } = totals[metric];
  const pct = percent(covered, total);
  const ok = pct >= THRESHOLDS[metric];
  failed ||= !ok;
  console.log(
    `coverage of contracts/: ${metric} ${pct.toFixed(2)}% (${covered}/${total}), threshold ${THRESHOLDS[metric]}%: ${ok ? "met" : "NOT MET"}`,
  );
}
process.exit(failed ? 1 : 0);

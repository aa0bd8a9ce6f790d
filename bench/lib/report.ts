import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface Row {
  key: string;
  value: number;
  unit: string;
  target?: number;
  /** Whether lower is better (the default) or higher. */
  higherIsBetter?: boolean;
  note?: string;
}

/** Prints `rows` as a table and writes them to `bench/results/<name>.json`; returns the file's path. */
export function report(name: string, title: string, rows: Row[], extra: Record<string, unknown> = {}): string {
  const lines = rows.map((row) => {
    const met =
      row.target === undefined
        ? ""
        : (row.higherIsBetter ? row.value >= row.target : row.value <= row.target)
          ? "met"
          : "MISSED";
    return [
      row.key,
      fmt(row.value),
      row.unit,
      row.target === undefined ? "" : `${row.higherIsBetter ? ">=" : "<="} ${fmt(row.target)}`,
      met,
      row.note ?? "",
    ];
  });
  const header = ["operation", "value", "unit", "target", "", "what it measures"];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const print = (cells: string[]) =>
    console.log(
      cells
        .map((c, i) => (i === 1 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    );
  console.log(`\n${title}\n`);
  print(header);
  print(widths.map((w) => "-".repeat(w)));
  for (const line of lines) print(line);
  const dir = path.join(__dirname, "..", "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  const values = Object.fromEntries(rows.map((r) => [r.key, r.value]));
  writeFileSync(
    file,
    `${JSON.stringify({ ...values, details: rows, ...extra, measuredAt: new Date().toISOString() }, null, 2)}\n`,
  );
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
  return file;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString("en-US") : n.toFixed(3);
}

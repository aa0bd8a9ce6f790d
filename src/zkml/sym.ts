import { readFile } from "node:fs/promises";

/**
 * Reads a circom `.sym` file into a map from signal name (e.g. `main.l0[3].qs`) to witness index.
 * Signals removed by the optimiser (witness index -1) are left out.
 */
export async function readSymbols(path: string): Promise<Map<string, number>> {
  const map = new Map<string, number>();
  for (const line of (await readFile(path, "utf8")).split("\n")) {
    const parts = line.split(",");
    if (parts.length < 4) continue;
    const idx = Number(parts[1]);
    if (idx >= 0) map.set(parts.slice(3).join(","), idx);
  }
  return map;
}

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";

/** Returns the sha256 of `data` as 0x-prefixed hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return "0x" + createHash("sha256").update(data).digest("hex");
}

/** Returns the sha256 of a file's content as 0x-prefixed hex. */
export async function sha256File(path: string): Promise<string> {
  return sha256Hex(await readFile(path));
}

/**
 * Serialises JSON canonically: object keys sorted, no whitespace. Used to hash verification keys so the
 * hash does not depend on key order or formatting.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return "{" + entries.map(([k, v]) => JSON.stringify(k) + ":" + canonicalJson(v)).join(",") + "}";
  }
  return JSON.stringify(value);
}

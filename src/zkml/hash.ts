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

/** SHA-256, the one way the off-chain code hashes files and cards (as `FileRef.sha256` and `cardHash` record them). */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** SHA-256 of `data` (bytes, or a string as UTF-8), as a 0x-prefixed hex string. */
export function sha256Hex(data: Uint8Array | string): string {
  return `0x${createHash("sha256").update(data).digest("hex")}`;
}

/** SHA-256 of a file, streamed, as a 0x-prefixed hex string. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `0x${hash.digest("hex")}`;
}

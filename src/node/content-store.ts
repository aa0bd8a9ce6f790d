import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cidToString } from "../hub/cid";
import { VinError } from "../sdk/errors";

/** Content-addressed file storage: bytes are fetched by CID. The hub adds an IPFS implementation later. */
export interface ContentStore {
  /** The bytes of `cid` (binary CID), or a ContentNotFoundError if this store does not have them. */
  get(cid: Uint8Array, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
}

/** No store the node can read holds the content (it may still be published later). */
export class ContentNotFoundError extends VinError {
  override readonly name = "ContentNotFoundError";
}

/** A directory of files, each named by its CID string (`bafk...`). */
export class FsContentStore implements ContentStore {
  constructor(readonly dir: string) {}

  async get(cid: Uint8Array): Promise<Uint8Array> {
    const file = path.join(this.dir, cidToString(cid));
    if (!existsSync(file)) throw new ContentNotFoundError(`content ${cidToString(cid)} is not in ${this.dir}: copy the file there under that name`);
    return new Uint8Array(readFileSync(file));
  }

  /** Stores `bytes` under `cid` (for publishing and tests). */
  put(cid: Uint8Array, bytes: Uint8Array): string {
    mkdirSync(this.dir, { recursive: true });
    const file = path.join(this.dir, cidToString(cid));
    writeFileSync(file, bytes);
    return file;
  }
}

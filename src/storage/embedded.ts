import { mkdirSync } from "node:fs";
import path from "node:path";
import type { UnixFS, AddOptions } from "@helia/unixfs";
import type { FsBlockstore } from "blockstore-fs";
import {
  type ContentOptions,
  type ContentStore,
  DEFAULT_MAX_CONTENT_BYTES,
  checkSize,
  readLocalFile,
} from "./content-store";
import { StorageNotFoundError } from "./errors";
import { StateError } from "../core/errors";
import { importEsm } from "../core/esm";
import { parseCid, unixfsOver } from "./unixfs";

type BlockstoreFsModule = typeof import("blockstore-fs");

/** Options of {@link EmbeddedContentStore.open}. */
export interface EmbeddedContentStoreOptions {
  /** Largest content accepted by `add` and read by `cat`. Default 1 GiB. */
  maxBytes?: number;
}

/**
 * An IPFS content store inside the process: UnixFS (`@helia/unixfs`) over an on-disk blockstore
 * (`blockstore-fs`) under `<dir>/blocks`. There is no Helia node and no libp2p: nothing listens, dials or
 * announces, so `cat` of content the store does not hold fails at once instead of searching the network.
 * Blocks are never garbage-collected. CIDs match what Kubo gives with `ipfs add --cid-version=1`.
 * @example
 * const store = await EmbeddedContentStore.open(".vin/ipfs");
 * const cid = await store.add(bytes);
 * const same = await store.cat(cid);
 */
export class EmbeddedContentStore implements ContentStore {
  private constructor(
    private readonly blockstore: FsBlockstore,
    private readonly fs: UnixFS,
    private readonly importOptions: AddOptions,
    private readonly maxBytes: number,
  ) {}

  /** Opens (creating it if needed) the store in `dir`. */
  static async open(dir: string, options: EmbeddedContentStoreOptions = {}): Promise<EmbeddedContentStore> {
    const location = path.join(dir, "blocks");
    try {
      mkdirSync(location, { recursive: true });
      const { FsBlockstore } = await importEsm<BlockstoreFsModule>("blockstore-fs");
      const blockstore = new FsBlockstore(location);
      await blockstore.open();
      const { fs, options: importOptions } = await unixfsOver(blockstore);
      return new EmbeddedContentStore(blockstore, fs, importOptions, options.maxBytes ?? DEFAULT_MAX_CONTENT_BYTES);
    } catch (cause) {
      throw new StateError(`Cannot open the content store in ${dir}.`, {
        cause,
        details: cause instanceof Error ? cause.message : undefined,
      });
    }
  }

  async add(bytes: Uint8Array, options: ContentOptions = {}): Promise<string> {
    checkSize(bytes.length, this.maxBytes);
    const cid = await this.fs.addBytes(bytes, { ...this.importOptions, signal: options.signal });
    return cid.toString();
  }

  async cat(cid: string, options: ContentOptions = {}): Promise<Uint8Array> {
    const parsed = await parseCid(cid);
    if (!(await this.blockstore.has(parsed))) throw new StorageNotFoundError(cid);
    return readLocalFile(this.fs, parsed, cid, this.maxBytes, options.signal);
  }

  async has(cid: string): Promise<boolean> {
    return this.blockstore.has(await parseCid(cid));
  }

  async close(): Promise<void> {
    await this.blockstore.close();
  }
}

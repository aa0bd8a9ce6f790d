import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cidToString } from "../core/cid";
import { BaseError } from "../core/errors";
import { StorageNotFoundError, openContentStore, type ContentStore as IpfsStore } from "../storage";

/** Content-addressed file storage: bytes are fetched by CID (models and inputs given by URI). */
export interface ContentStore {
  /** The bytes of `cid` (binary CID), or a ContentNotFoundError if this store does not have them. */
  get(cid: Uint8Array, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
}

/** No store the node can read holds the content (it may still be published later). */
export class ContentNotFoundError extends BaseError {
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

/** An IPFS store of `src/storage` (embedded UnixFS blockstore or a Kubo node); `cat` checks bytes against the CID. */
export class IpfsContentStore implements ContentStore {
  constructor(
    private readonly ipfs: IpfsStore,
    readonly where: string,
  ) {}

  async get(cid: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    try {
      return await this.ipfs.cat(cidToString(cid), { signal: options.signal });
    } catch (error) {
      if (error instanceof StorageNotFoundError) throw new ContentNotFoundError(`content ${cidToString(cid)} is not in ${this.where}`, { cause: error });
      throw error;
    }
  }

  close(): Promise<void> {
    return this.ipfs.close();
  }
}

/** Several stores tried in order: the first that has the content answers. */
export class ContentStores implements ContentStore {
  constructor(private readonly stores: readonly ContentStore[]) {}

  async get(cid: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const missing: ContentNotFoundError[] = [];
    for (const store of this.stores) {
      try {
        return await store.get(cid, options);
      } catch (error) {
        if (!(error instanceof ContentNotFoundError)) throw error;
        missing.push(error);
      }
    }
    throw new ContentNotFoundError(`content ${cidToString(cid)} is in none of the node's content stores (${missing.map((e) => e.message).join("; ")})`, { cause: missing[0] });
  }
}

export interface NodeContentConfig {
  contentDir: string;
  /** An embedded IPFS store (UnixFS blockstore directory, as `vin publish --ipfs-dir` writes). */
  ipfsDir?: string;
  /** A Kubo node's RPC URL. */
  kuboUrl?: string;
  /** Time limit of one Kubo request. */
  timeoutMs: number;
}

/**
 * The content the node can read: its content directory first, then the configured IPFS store, if any.
 * @example const content = await openNodeContent({ contentDir, ipfsDir: ".vin/ipfs", timeoutMs: 30_000 });
 */
export async function openNodeContent(config: NodeContentConfig): Promise<{ store: ContentStore; close(): Promise<void> }> {
  const stores: ContentStore[] = [new FsContentStore(config.contentDir)];
  const ipfs: IpfsContentStore[] = [];
  if (config.ipfsDir !== undefined) ipfs.push(new IpfsContentStore(await openContentStore({ dir: config.ipfsDir }), `the IPFS store ${config.ipfsDir}`));
  if (config.kuboUrl !== undefined) ipfs.push(new IpfsContentStore(await openContentStore({ kuboUrl: config.kuboUrl, timeoutMs: config.timeoutMs }), `the Kubo node ${config.kuboUrl}`));
  return { store: new ContentStores([...stores, ...ipfs]), close: async () => void (await Promise.all(ipfs.map((s) => s.close()))) };
}

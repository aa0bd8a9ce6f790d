/**
 * The content an operator node reads (model files, inputs given by URI) through core's `ContentStore`: a directory
 * of files named by CID, then the configured IPFS stores of src/storage, tried in that order.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cidFromString, cidToString, isRawCid, rawCid } from "../core/cid";
import type { ContentOptions, ContentStore } from "../core/content";
import { IntegrityError, NotFoundError } from "../core/errors";
import { computeCid, openContentStore } from "../storage";

/** A base32 CIDv1 string, the only names a content directory uses (and never a path). */
const CID_NAME = /^b[a-z2-7]+$/;

/**
 * A directory of files, each named by its CID string (`bafk…`): the raw-block CID of its bytes, or the UnixFS CID
 * `ipfs add --cid-version=1` gives them. `cat` checks the bytes against the name, so a corrupted or misnamed file is
 * refused, never served.
 * @example
 * const store = new FsContentStore(".vin/content");
 * const cid = await store.add(bytes); // "bafkrei…"
 * const same = await store.cat(cid);
 */
export class FsContentStore implements ContentStore {
  constructor(readonly dir: string) {}

  /** Stores `bytes` under their raw-block CID and returns it. */
  async add(bytes: Uint8Array): Promise<string> {
    const cid = cidToString(rawCid(bytes));
    this.write(cid, bytes);
    return cid;
  }

  /**
   * Stores `bytes` under `cid` (a raw-block CID, or the UnixFS CID computed by src/storage's `computeCid`).
   * @throws IntegrityError when `bytes` are not the content of `cid`.
   */
  async put(cid: string, bytes: Uint8Array): Promise<void> {
    const actual = await cidOf(cid, bytes);
    if (actual !== cid)
      throw new IntegrityError(`refusing to store content with CID ${actual} under ${cid} in ${this.dir}`, {
        context: { cid, actual },
      });
    this.write(cid, bytes);
  }

  /**
   * The content of `cid`, checked against it.
   * @throws NotFoundError when the directory has no file of that name; IntegrityError naming the file when its bytes
   * are not the content of `cid`.
   */
  async cat(cid: string): Promise<Uint8Array> {
    const file = this.fileOf(cid);
    if (file === undefined)
      throw new NotFoundError(`content ${cid} is not in ${this.dir}: its files are named by base32 CIDv1s`, {
        context: { cid },
      });
    if (!existsSync(file))
      throw new NotFoundError(`content ${cid} is not in ${this.dir}: copy the file there under that name`, {
        context: { cid },
      });
    const bytes = new Uint8Array(readFileSync(file));
    const actual = await cidOf(cid, bytes);
    if (actual !== cid)
      throw new IntegrityError(
        `${file} holds content with CID ${actual}, not the ${cid} it is named by: replace or remove it`,
        { context: { file, cid, actual } },
      );
    return bytes;
  }

  async has(cid: string): Promise<boolean> {
    const file = this.fileOf(cid);
    return file !== undefined && existsSync(file);
  }

  async close(): Promise<void> {}

  private fileOf(cid: string): string | undefined {
    return CID_NAME.test(cid) ? path.join(this.dir, cid) : undefined;
  }

  private write(cid: string, bytes: Uint8Array): void {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(path.join(this.dir, cid), bytes);
  }
}

/** The CID of `bytes` computed as `cid` was: a raw block (its multihash the SHA-256 of the bytes) or a UnixFS file. */
async function cidOf(cid: string, bytes: Uint8Array): Promise<string> {
  return isRawCid(cidFromString(cid)) ? cidToString(rawCid(bytes)) : computeCid(bytes);
}

/** A store of a {@link ContentStores} chain, and how its errors name it. */
export interface NamedContentStore {
  store: ContentStore;
  /** E.g. "the IPFS store .vin/ipfs". */
  where: string;
}

/**
 * Several stores tried in order: the first that holds the content answers; content no store holds is a
 * NotFoundError naming every store. Any other failure (a mismatching file, a store that cannot be reached) is
 * thrown at once. `add` stores in the first.
 */
export class ContentStores implements ContentStore {
  constructor(private readonly stores: readonly NamedContentStore[]) {}

  add(bytes: Uint8Array, options: ContentOptions = {}): Promise<string> {
    return this.stores[0]!.store.add(bytes, options);
  }

  async cat(cid: string, options: ContentOptions = {}): Promise<Uint8Array> {
    const missing: NotFoundError[] = [];
    for (const { store } of this.stores) {
      try {
        return await store.cat(cid, options);
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        missing.push(error);
      }
    }
    // Each store's own message when it names the store (the directory's says what to do), else where it looked.
    const reasons = this.stores.map(({ where }, i) =>
      missing[i]!.shortMessage.includes(where) ? missing[i]!.shortMessage : `not in ${where}`,
    );
    throw new NotFoundError(`content ${cid} is in none of the node's content stores (${reasons.join("; ")})`, {
      cause: missing[0],
      context: { cid },
    });
  }

  async has(cid: string, options: ContentOptions = {}): Promise<boolean> {
    for (const { store } of this.stores) if (await store.has(cid, options)) return true;
    return false;
  }

  async close(): Promise<void> {
    await Promise.all(this.stores.map(({ store }) => store.close()));
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
  /** The node's IPFS peer (read last; closed by its owner, not here). */
  peer?: ContentStore;
}

/**
 * The content the node can read: its content directory first, then the configured IPFS store, if any.
 * @example const content = await openNodeContent({ contentDir, ipfsDir: ".vin/ipfs", timeoutMs: 30_000 });
 */
export async function openNodeContent(
  config: NodeContentConfig,
): Promise<{ store: ContentStores; close(): Promise<void> }> {
  const stores: NamedContentStore[] = [{ store: new FsContentStore(config.contentDir), where: config.contentDir }];
  if (config.ipfsDir !== undefined)
    stores.push({ store: await openContentStore({ dir: config.ipfsDir }), where: `the IPFS store ${config.ipfsDir}` });
  if (config.kuboUrl !== undefined)
    stores.push({
      store: await openContentStore({ kuboUrl: config.kuboUrl, timeoutMs: config.timeoutMs }),
      where: `the Kubo node ${config.kuboUrl}`,
    });
  const owned = new ContentStores(stores);
  if (config.peer === undefined) return { store: owned, close: () => owned.close() };
  const store = new ContentStores([...stores, { store: config.peer, where: "the node's IPFS peer and its providers" }]);
  return { store, close: () => owned.close() };
}

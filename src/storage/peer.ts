import { setMaxListeners } from "node:events";
import { mkdirSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { AddOptions, UnixFS } from "@helia/unixfs";
import type { HeliaWithLibp2p } from "@helia/libp2p";
import type { PeerId, PrivateKey } from "@libp2p/interface";
import type { FsBlockstore } from "blockstore-fs";
import type { CID } from "multiformats/cid";
import {
  type ContentOptions,
  type ContentStore,
  DEFAULT_MAX_CONTENT_BYTES,
  checkSize,
  readLocalFile,
} from "./content-store";
import { type ProviderAttempt, StorageNotFoundError, StorageTooLargeError, StorageUnavailableError } from "./errors";
import { fetchGatewayBlock, verifyBlock } from "./gateway";
import { parseCid, unixfsOver } from "./unixfs";
import type { Provider, ProviderSource } from "../core/content";
import { BaseError, InputError, IntegrityError, NotFoundError, StateError, TimeoutError } from "../core/errors";
import { importEsm } from "../core/esm";
import { type Logger, silentLogger } from "../core/log";

export type { Provider, ProviderSource };

/** Progress of fetching content the store lacks. */
export interface FetchProgress {
  cid: string;
  /** File bytes received so far (leaf data, not counting DAG nodes). */
  bytes: number;
  /** The file's size, from the root's UnixFS metadata, once the root is known. */
  total?: number;
  /** Label of the provider (or gateway URL) the bytes come from. */
  provider: string;
}

/** Options of {@link PeerContentStore.open}. */
export interface PeerContentStoreOptions {
  /** Blocks in `<dir>/blocks` (the layout of EmbeddedContentStore), peer key in `<dir>/peer.key`, pins in `<dir>/pins.json`. */
  dir: string;
  /** libp2p listen addresses, e.g. `["/ip4/127.0.0.1/tcp/0"]`. Default none: the store only dials. */
  listen?: string[];
  /** The providers to try for content the store lacks. Default none. */
  providers?: ProviderSource;
  /** Trustless HTTP gateways (base URLs), tried after the providers. */
  gateways?: string[];
  /** A provider that sends no block for this long is given up (a stall). Default 10 s. */
  providerTimeoutMs?: number;
  /** Time limit of dialing a provider. Default 5 s. */
  dialTimeoutMs?: number;
  /** Largest content accepted by `add` and read by `cat`. Default 1 GiB. */
  maxBytes?: number;
  log?: Logger;
}

/** Options of {@link PeerContentStore.cat} and {@link PeerContentStore.pin}. */
export interface FetchOptions extends ContentOptions {
  onProgress?: (progress: FetchProgress) => void;
}

/** Options of {@link PeerContentStore.probe}. */
export interface ProbeOptions {
  /** Time limit of the whole probe. Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What {@link PeerContentStore.probe} found. */
export type ProbeResult = { ok: true; bytes: number; ms: number } | { ok: false; reason: string; ms: number };

/** The bits of `@helia/bitswap`'s want list used to ask one peer, and only that peer, for a block. */
interface WantList {
  wantSessionBlock(
    cid: CID,
    peerId: PeerId,
    options: { signal: AbortSignal },
  ): Promise<{ has: boolean; block?: Uint8Array }>;
  addEventListener(type: "block", listener: (event: CustomEvent<ReceivedBlock>) => void): void;
  removeEventListener(type: "block", listener: (event: CustomEvent<ReceivedBlock>) => void): void;
}
interface ReceivedBlock {
  sender: PeerId;
  cid: CID;
}

/** Where the blocks of one fetch attempt come from: one peer or one gateway. */
interface BlockFetcher {
  label: string;
  get(cid: CID, signal: AbortSignal): Promise<Uint8Array>;
  close(): void;
}

type HeliaModule = typeof import("helia");
type Libp2pHelia = HeliaWithLibp2p;

const DAG_PB = 0x70;
const RAW = 0x55;
const EMPTY = new Uint8Array();
const PEER_CONCURRENCY = 32;
const GATEWAY_CONCURRENCY = 8;

/**
 * An IPFS peer holding content: Helia with libp2p (TCP, Noise, Yamux, identify) and bitswap over the on-disk
 * blockstore of {@link EmbeddedContentStore} (`<dir>/blocks`, same Kubo-compatible CIDs). It listens where told and
 * dials only the providers and gateways it is given: no bootstrap list, no mDNS, no DHT. Content it holds (added or
 * pinned) is served to any peer over bitswap. Content it lacks is fetched from the providers one at a time (each
 * block asked of that peer alone, so a block is known to come from it), then from trustless gateways; a provider
 * that cannot be dialed, sends nothing for `providerTimeoutMs`, lacks a block or sends a block that does not hash to
 * its CID is given up with that reason. Every block is checked against its CID, and `cat` checks the whole file too.
 * @example
 * const store = await PeerContentStore.open({ dir: ".vin/ipfs", listen: ["/ip4/0.0.0.0/tcp/4001"], providers });
 * const cid = await store.add(bytes); // pinned and served
 * const same = await other.cat(cid, { onProgress: (p) => console.log(p.bytes, p.total, p.provider) });
 */
export class PeerContentStore implements ContentStore {
  /**
   * Digests (hex multihash) asked of a peer by a fetch still open, each with the number of open fetches that asked
   * it: a block from a peer that matches none of them is a corrupted one. A fetch's entries go when it closes.
   */
  private readonly asked = new Map<string, number>();
  private pinsWrite: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly helia: Libp2pHelia,
    private readonly wantList: WantList,
    private readonly blockstore: FsBlockstore,
    private readonly fs: UnixFS,
    private readonly importOptions: AddOptions,
    private readonly dir: string,
    private readonly options: PeerContentStoreOptions,
  ) {}

  /** Opens (creating it if needed) the store in `options.dir` and starts its peer. */
  static async open(options: PeerContentStoreOptions): Promise<PeerContentStore> {
    installPromiseWithResolvers();
    const blocksDir = path.join(options.dir, "blocks");
    try {
      mkdirSync(blocksDir, { recursive: true });
      const { FsBlockstore } = await importEsm<typeof import("blockstore-fs")>("blockstore-fs");
      const blockstore = new FsBlockstore(blocksDir);
      await blockstore.open();
      const privateKey = await loadPeerKey(options.dir);
      const helia = await startHelia(blockstore, privateKey, options.listen ?? []);
      const { fs, options: importOptions } = await unixfsOver(blockstore);
      return new PeerContentStore(helia, wantListOf(helia), blockstore, fs, importOptions, options.dir, options);
    } catch (cause) {
      throw new StateError(`Cannot open the IPFS peer in ${options.dir}.`, {
        cause,
        details: cause instanceof Error ? cause.message : undefined,
      });
    }
  }

  /** This peer's id (`12D3Koo…`), stable across restarts (from `<dir>/peer.key`). */
  get peerId(): string {
    return this.helia.libp2p.peerId.toString();
  }

  /** The addresses peers dial to reach this store, each ending in `/p2p/<peerId>`. Empty when not listening. */
  multiaddrs(): string[] {
    const suffix = `/p2p/${this.peerId}`;
    return this.helia.libp2p.getMultiaddrs().map((ma) => {
      const text = ma.toString();
      return text.endsWith(suffix) ? text : `${text}${suffix}`;
    });
  }

  /** Stores and pins `bytes`; returns their CID (the one `ipfs add --cid-version=1` gives). */
  async add(bytes: Uint8Array, options: ContentOptions = {}): Promise<string> {
    checkSize(bytes.length, this.maxBytes);
    const cid = (await this.fs.addBytes(bytes, { ...this.importOptions, signal: options.signal })).toString();
    await this.updatePins((pins) => pins.add(cid));
    return cid;
  }

  /**
   * The content of `cid`: from local blocks, else fetched (see the class) and kept; verified against the CID.
   * @throws {StorageUnavailableError} naming each provider tried and why; {StorageIntegrityError}; {StorageTooLargeError}.
   */
  async cat(cid: string, options: FetchOptions = {}): Promise<Uint8Array> {
    // UnixFS adds a listener per block to the caller's signal.
    if (options.signal !== undefined) setMaxListeners(Infinity, options.signal);
    const root = await parseCid(cid);
    const limit = this.limitOf(options);
    await this.fetchMissing(root, options);
    // A small DAG may declare a large file (one leaf linked many times): refused before anything is assembled.
    const localRoot = root.code === DAG_PB ? await this.localBlock(root, false) : undefined;
    if (localRoot !== undefined) checkDeclaredSize(localRoot, limit);
    return readLocalFile(this.fs, root, cid, limit, options.signal);
  }

  /** Whether every block of `cid` is held locally (never fetches). */
  async has(cid: string): Promise<boolean> {
    try {
      await walkDag(await parseCid(cid), async (block) => (await this.localBlock(block, true)) as Uint8Array);
      return true;
    } catch (error) {
      if (error instanceof NotFoundError) return false;
      throw error;
    }
  }

  /** The bytes of one block held locally, or undefined (what {@link trustlessGatewayHandler} serves). */
  async block(cid: string): Promise<Uint8Array | undefined> {
    const parsed = await parseCid(cid);
    if (!(await this.blockstore.has(parsed))) return undefined;
    return concat(this.blockstore.get(parsed));
  }

  /** Fetches `cid` as `cat` does (without assembling the file) and keeps it: it is then served to peers. */
  async pin(cid: string, options: FetchOptions = {}): Promise<void> {
    const root = await parseCid(cid);
    await this.fetchMissing(root, options);
    await this.updatePins((pins) => pins.add(root.toString()));
  }

  /** Forgets the pin and deletes the blocks of `cid` that no other pin uses. */
  async unpin(cid: string): Promise<void> {
    const root = (await parseCid(cid)).toString();
    const remaining = await this.updatePins((pins) => pins.delete(root));
    const kept = new Set<string>();
    for (const other of remaining) await this.collectLocal(await parseCid(other), kept);
    const dropped = new Set<string>();
    await this.collectLocal(await parseCid(root), dropped);
    for (const key of dropped) if (!kept.has(key)) await this.blockstore.delete(await parseCid(key));
  }

  /** The pinned CIDs. */
  async pins(): Promise<string[]> {
    return [...(await this.readPins())];
  }

  /**
   * Whether `provider` alone serves every block of `cid`, each verified. Blocks are checked and discarded, never
   * read from or written to this store.
   * @example const r = await store.probe(cid, { multiaddrs, label: "0xabc…" }); if (!r.ok) console.log(r.reason);
   */
  async probe(cid: string, provider: Provider | { gateway: string }, options: ProbeOptions = {}): Promise<ProbeResult> {
    const started = Date.now();
    const root = await parseCid(cid);
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 60_000);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    let bytes = 0;
    const result = await this.attempt(root, provider, signal, (_cid, block) => {
      if (_cid.code === RAW) bytes += block.length;
    });
    const ms = Date.now() - started;
    if (result !== undefined) return { ok: false, reason: result.reason, ms };
    return { ok: true, bytes, ms };
  }

  async close(): Promise<void> {
    await this.pinsWrite.catch(() => undefined);
    await this.helia.stop();
    await this.blockstore.close();
  }

  private get maxBytes(): number {
    return this.options.maxBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  }

  /** The smaller of the call's limit and the store's. */
  private limitOf(options: ContentOptions): number {
    if (options.maxBytes === undefined) return this.maxBytes;
    if (!(options.maxBytes >= 0)) throw new InputError(`maxBytes must be a number of bytes, not ${options.maxBytes}`);
    return Math.min(options.maxBytes, this.maxBytes);
  }

  private get log(): Logger {
    return this.options.log ?? silentLogger;
  }

  /**
   * Makes every block of `root` local: from the providers in turn, then the gateways. A root declaring a file larger
   * than the limit is refused before anything else is fetched, and a fetch that receives more bytes than the limit
   * (plus {@link dagAllowance}) is stopped there: the content is too large whoever serves it, so no other source is
   * tried, and the blocks this fetch wrote are deleted (those another pin uses are kept).
   * @throws {StorageTooLargeError}; {StorageUnavailableError}; {TimeoutError} when `options.signal` aborts.
   */
  private async fetchMissing(root: CID, options: FetchOptions): Promise<void> {
    if (await this.has(root.toString())) return;
    const limit = this.limitOf(options);
    // A root kept by an earlier, interrupted fetch is not fetched again: the total comes from it.
    const localRoot = root.code === DAG_PB ? await this.localBlock(root, false) : undefined;
    if (localRoot !== undefined) checkDeclaredSize(localRoot, limit);
    const sources: Array<Provider | { gateway: string }> = [
      ...((await this.options.providers?.()) ?? []),
      ...(this.options.gateways ?? []).map((gateway) => ({ gateway })),
    ];
    const attempts: ProviderAttempt[] = [];
    const total = localRoot === undefined ? undefined : unixfsSizeOf(localRoot);
    const written: CID[] = [];
    const writes = new Set<Promise<void>>();
    const maxReceived = limit + dagAllowance(limit);
    // Bytes received from every source of this fetch (a block is received once: then it is local).
    let received = 0;
    try {
      for (const source of sources) {
        const label = labelOf(source);
        const progress = new ProgressCounter(root.toString(), label, options.onProgress, total);
        const failure = await this.attempt(
          root,
          source,
          options.signal,
          async (cid, block) => {
            if (cid.equals(root) && cid.code === DAG_PB) checkDeclaredSize(block, limit);
            received += block.length;
            if (received > maxReceived) throw new StorageTooLargeError(received, maxReceived);
            written.push(cid);
            const write = this.blockstore.put(cid, block).then(() => undefined);
            writes.add(write);
            await write.finally(() => writes.delete(write));
            progress.add(cid, block);
          },
          (cid) => this.localBlock(cid, false),
        );
        if (failure === undefined) return;
        if (options.signal?.aborted) throw new TimeoutError(`Fetching ${root} was aborted`, { cause: failure.cause });
        this.log.warn({ cid: root.toString(), provider: label, reason: failure.reason }, "provider skipped");
        attempts.push({ provider: label, reason: failure.reason });
      }
    } catch (error) {
      if (error instanceof StorageTooLargeError) {
        // Writes still in flight land before the deletion, so none is left behind.
        await Promise.allSettled([...writes]);
        await this.deleteUnpinned(written);
      }
      throw error;
    }
    throw new StorageUnavailableError(root.toString(), attempts);
  }

  /** Deletes those of `blocks` that no pin uses. */
  private async deleteUnpinned(blocks: CID[]): Promise<void> {
    const kept = new Set<string>();
    for (const pin of await this.readPins()) await this.collectLocal(await parseCid(pin), kept);
    for (const cid of blocks) if (!kept.has(cid.toString())) await this.blockstore.delete(cid);
  }

  /**
   * Walks the DAG of `root` through one source, giving each block it fetches to `onFetched`. Resolves undefined on
   * success, or the reason the source was given up.
   */
  private async attempt(
    root: CID,
    source: Provider | { gateway: string },
    outer: AbortSignal | undefined,
    onFetched: (cid: CID, block: Uint8Array) => void | Promise<void>,
    local?: (cid: CID) => Promise<Uint8Array | undefined>,
  ): Promise<{ reason: string; cause?: unknown } | undefined> {
    const stallMs = this.options.providerTimeoutMs ?? 10_000;
    const failure = new AbortController();
    const signal = outer === undefined ? failure.signal : AbortSignal.any([failure.signal, outer]);
    // One listener per block in flight, on the caller's signal too (a daemon's lives as long as the process).
    setMaxListeners(Infinity, signal, failure.signal, ...(outer === undefined ? [] : [outer]));
    let last = Date.now();
    const watchdog = setInterval(
      () => {
        if (Date.now() - last >= stallMs)
          failure.abort(new ProviderFailure(`stalled: sent no block for ${stallMs} ms`));
      },
      Math.max(10, Math.min(250, stallMs / 4)),
    );
    let fetcher: BlockFetcher | undefined;
    try {
      fetcher = await this.fetcherFor(source, signal, failure);
      const remote = fetcher;
      await walkDag(
        root,
        async (cid) => {
          const held = await local?.(cid);
          if (held !== undefined) return held;
          const block = await remote.get(cid, signal);
          last = Date.now();
          // A block arriving after the attempt was given up is not kept.
          signal.throwIfAborted();
          try {
            await onFetched(cid, block);
          } catch (error) {
            // Too large for any source: stop the blocks in flight too.
            if (error instanceof StorageTooLargeError) failure.abort(error);
            throw error;
          }
          return block;
        },
        { concurrency: "gateway" in source ? GATEWAY_CONCURRENCY : PEER_CONCURRENCY, signal },
      );
      return undefined;
    } catch (error) {
      const reason = failure.signal.aborted ? failure.signal.reason : error;
      // Not the source's fault: the content itself is refused.
      if (reason instanceof StorageTooLargeError) throw reason;
      return { reason: reasonOf(reason), cause: reason };
    } finally {
      clearInterval(watchdog);
      fetcher?.close();
    }
  }

  private async fetcherFor(
    source: Provider | { gateway: string },
    signal: AbortSignal,
    failure: AbortController,
  ): Promise<BlockFetcher> {
    if ("gateway" in source) {
      const timeoutMs = this.options.providerTimeoutMs ?? 10_000;
      return {
        label: source.gateway,
        get: (cid, s) => fetchGatewayBlock(source.gateway, cid, { signal: s, timeoutMs }),
        close: () => undefined,
      };
    }
    return this.peerFetcher(source, signal, failure);
  }

  /** Dials `provider` and asks it, and only it, for blocks; a block from it that matches no request fails it. */
  private async peerFetcher(provider: Provider, signal: AbortSignal, failure: AbortController): Promise<BlockFetcher> {
    if (provider.multiaddrs.length === 0) throw new ProviderFailure("announces no address");
    const { multiaddr } = await importEsm<typeof import("@multiformats/multiaddr")>("@multiformats/multiaddr");
    const dialMs = this.options.dialTimeoutMs ?? 5_000;
    let peerId: PeerId;
    try {
      const addresses = provider.multiaddrs.map((address) => multiaddr(address));
      const connection = await this.helia.libp2p.dial(addresses, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(dialMs)]),
      });
      peerId = connection.remotePeer;
    } catch (cause) {
      if (signal.aborted) throw cause;
      throw new ProviderFailure(`unreachable: cannot dial within ${dialMs} ms (${firstLineOf(cause)})`, { cause });
    }
    const onBlock = (event: CustomEvent<ReceivedBlock>): void => {
      const { sender, cid } = event.detail;
      if (!sender.equals(peerId) || this.asked.has(digestKey(cid))) return;
      // Bitswap names a received block by the hash of its bytes: bytes sent for a block we asked for that hash to
      // nothing we asked for are a corrupted copy (the want itself would only stall).
      failure.abort(new ProviderFailure(`sent a corrupted block (its bytes hash to ${cid}, which was not asked for)`));
    };
    this.wantList.addEventListener("block", onBlock);
    const mine = new Set<string>();
    return {
      label: provider.label,
      get: async (cid, s) => {
        const key = digestKey(cid);
        if (!mine.has(key)) {
          mine.add(key);
          this.asked.set(key, (this.asked.get(key) ?? 0) + 1);
        }
        const answer = await this.wantList.wantSessionBlock(cid, peerId, { signal: s });
        if (!answer.has || answer.block === undefined) throw new ProviderFailure(`does not have block ${cid}`);
        // Bitswap matched the block by the hash of its bytes; checking again costs one hash per block.
        verifyBlock(cid, answer.block);
        return answer.block;
      },
      close: () => {
        this.wantList.removeEventListener("block", onBlock);
        for (const key of mine) {
          const count = (this.asked.get(key) ?? 1) - 1;
          if (count > 0) this.asked.set(key, count);
          else this.asked.delete(key);
        }
      },
    };
  }

  /**
   * A local block as a DAG walk needs it — a dag-pb node's bytes, a raw leaf's presence only (empty bytes, so that
   * `has` of a large file does not read it) — or undefined (NotFoundError when `required`).
   */
  private async localBlock(cid: CID, required: boolean): Promise<Uint8Array | undefined> {
    if (await this.blockstore.has(cid)) return cid.code === RAW ? EMPTY : concat(this.blockstore.get(cid));
    if (required) throw new StorageNotFoundError(cid.toString());
    return undefined;
  }

  /** Adds the keys of every local block of `root` to `into` (missing blocks are skipped). */
  private async collectLocal(root: CID, into: Set<string>): Promise<void> {
    await walkDag(root, async (cid) => {
      into.add(cid.toString());
      return (await this.localBlock(cid, false)) ?? new Uint8Array();
    });
  }

  private async readPins(): Promise<Set<string>> {
    try {
      return new Set(JSON.parse(await readFile(path.join(this.dir, "pins.json"), "utf8")) as string[]);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Set();
      throw error;
    }
  }

  /** Applies `change` to the pin set and writes it (atomically, one write at a time); returns the new set. */
  private async updatePins(change: (pins: Set<string>) => unknown): Promise<Set<string>> {
    const next = this.pinsWrite.then(async () => {
      const pins = await this.readPins();
      change(pins);
      const file = path.join(this.dir, "pins.json");
      await writeFile(`${file}.tmp`, JSON.stringify([...pins].sort(), null, 2));
      await rename(`${file}.tmp`, file);
      return pins;
    });
    this.pinsWrite = next.catch(() => undefined);
    return next;
  }
}

/** A reason to give a provider up, worded for the list in {@link StorageUnavailableError}. */
class ProviderFailure extends BaseError {
  override name = "ProviderFailure";
}

function reasonOf(error: unknown): string {
  if (error instanceof ProviderFailure) return error.shortMessage;
  if (error instanceof IntegrityError) return `sent a corrupted block: ${error.shortMessage}`;
  if (error instanceof NotFoundError) return `does not have it: ${error.shortMessage}`;
  if (error instanceof TimeoutError) return `timed out: ${error.shortMessage}`;
  return firstLineOf(error);
}

function firstLineOf(error: unknown): string {
  if (error instanceof BaseError) return error.shortMessage;
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

function labelOf(source: Provider | { gateway: string }): string {
  return "gateway" in source ? source.gateway : source.label;
}

function digestKey(cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString("hex");
}

/** Counts file bytes as blocks arrive and reports them. */
class ProgressCounter {
  private bytes = 0;

  constructor(
    private readonly cid: string,
    private readonly provider: string,
    private readonly report?: (progress: FetchProgress) => void,
    private total?: number,
  ) {}

  add(cid: CID, block: Uint8Array): void {
    if (this.report === undefined) return;
    if (cid.code === RAW) {
      this.bytes += block.length;
      if (cid.toString() === this.cid) this.total = block.length;
    } else if (cid.code === DAG_PB && cid.toString() === this.cid) {
      this.total = unixfsSizeOf(block);
    }
    this.report({ cid: this.cid, bytes: this.bytes, total: this.total, provider: this.provider });
  }
}

let dagPb: typeof import("@ipld/dag-pb") | undefined;
let unixfsCodec: typeof import("ipfs-unixfs") | undefined;

/**
 * Room for the DAG's own nodes in the bytes a fetch may receive beyond the file's size: a sixteenth of the limit plus
 * 64 KiB (with 256 KiB chunks the links take well under 1%).
 */
function dagAllowance(limit: number): number {
  return Math.floor(limit / 16) + 64 * 1024;
}

/**
 * Refuses a UnixFS root declaring a file larger than `limit` (its size is its data plus the sum of its blockSizes).
 * A root that is not UnixFS declares nothing and passes.
 * @throws {StorageTooLargeError}
 */
function checkDeclaredSize(rootBlock: Uint8Array, limit: number): void {
  let size: number | undefined;
  try {
    size = unixfsSizeOf(rootBlock);
  } catch {
    // Not a UnixFS node: its size is found as its blocks arrive.
  }
  if (size !== undefined) checkSize(size, limit);
}

function unixfsSizeOf(block: Uint8Array): number | undefined {
  if (dagPb === undefined || unixfsCodec === undefined) return undefined;
  const node = dagPb.decode(block);
  if (node.Data === undefined) return undefined;
  return Number(unixfsCodec.UnixFS.unmarshal(node.Data).fileSize());
}

/**
 * Gets every block of the DAG under `root` through `get` (up to `concurrency` at once), following dag-pb links.
 * Rejects with the first error.
 */
async function walkDag(
  root: CID,
  get: (cid: CID) => Promise<Uint8Array>,
  options: { concurrency?: number; signal?: AbortSignal } = {},
): Promise<void> {
  [dagPb, unixfsCodec] = await Promise.all([
    importEsm<typeof import("@ipld/dag-pb")>("@ipld/dag-pb"),
    importEsm<typeof import("ipfs-unixfs")>("ipfs-unixfs"),
  ]);
  const codec = dagPb;
  const concurrency = options.concurrency ?? 1;
  const pending: CID[] = [root];
  const seen = new Set<string>([root.toString()]);
  let active = 0;
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (error: unknown): void => {
      failed = true;
      reject(error);
    };
    const pump = (): void => {
      if (failed) return;
      if (options.signal?.aborted) return fail(options.signal.reason);
      if (pending.length === 0 && active === 0) return resolve();
      while (active < concurrency && pending.length > 0) {
        const cid = pending.shift() as CID;
        active++;
        get(cid)
          .then((block) => {
            if (cid.code === DAG_PB && block.length > 0) {
              for (const link of codec.decode(block).Links) {
                const key = link.Hash.toString();
                if (!seen.has(key)) {
                  seen.add(key);
                  pending.push(link.Hash);
                }
              }
            }
            active--;
            pump();
          })
          .catch(fail);
      }
    };
    pump();
  });
}

async function concat(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** Helia with libp2p (TCP, Noise, Yamux, identify) and bitswap, and nothing that dials on its own. */
async function startHelia(blockstore: FsBlockstore, privateKey: PrivateKey, listen: string[]): Promise<Libp2pHelia> {
  const [{ createHeliaLight }, { withLibp2pLight }, { withBitswap }, { tcp }, { noise }, { yamux }, { identify }, ds] =
    await Promise.all([
      importEsm<HeliaModule>("helia"),
      importEsm<typeof import("@helia/libp2p")>("@helia/libp2p"),
      importEsm<typeof import("@helia/bitswap")>("@helia/bitswap"),
      importEsm<typeof import("@libp2p/tcp")>("@libp2p/tcp"),
      importEsm<typeof import("@chainsafe/libp2p-noise")>("@chainsafe/libp2p-noise"),
      importEsm<typeof import("@chainsafe/libp2p-yamux")>("@chainsafe/libp2p-yamux"),
      importEsm<typeof import("@libp2p/identify")>("@libp2p/identify"),
      importEsm<typeof import("datastore-core")>("datastore-core"),
    ]);
  const datastore = new ds.MemoryDatastore();
  const light = createHeliaLight({ blockstore, datastore, routers: [], blockBrokers: [] });
  const helia = withBitswap(
    withLibp2pLight(light, {
      privateKey,
      datastore,
      addresses: { listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
      // Pings a protocol the peers do not serve and would hang up on them.
      connectionMonitor: { enabled: false },
    }),
    {
      // A block asked for again (a probe after a fetch, a retry from another session) is sent again.
      doNotResendBlockWindow: 1,
      sendBlocksMaxQueueLength: 1024,
    },
  );
  await helia.start();
  return helia as unknown as Libp2pHelia;
}

/** The want list of the bitswap broker `withBitswap` added (not part of Helia's public types). */
function wantListOf(helia: Libp2pHelia): WantList {
  const brokers = (helia as unknown as { blockBrokers?: Array<{ name: string; bitswap?: { wantList?: WantList } }> })
    .blockBrokers;
  const wantList = brokers?.find((broker) => broker.name === "bitswap")?.bitswap?.wantList;
  if (wantList === undefined || typeof wantList.wantSessionBlock !== "function") {
    throw new StateError("This version of @helia/bitswap has no per-peer want list (wantSessionBlock).");
  }
  return wantList;
}

/** The Ed25519 key of this peer, created in `<dir>/peer.key` (mode 0600) on first use. */
async function loadPeerKey(dir: string): Promise<PrivateKey> {
  const keys = await importEsm<typeof import("@libp2p/crypto/keys")>("@libp2p/crypto/keys");
  const file = path.join(dir, "peer.key");
  try {
    return keys.privateKeyFromProtobuf(await readFile(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const key = await keys.generateKeyPair("Ed25519");
  try {
    await writeFile(file, keys.privateKeyToProtobuf(key), { mode: 0o600, flag: "wx" });
    return key;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return keys.privateKeyFromProtobuf(await readFile(file));
    throw error;
  }
}

/** `Promise.withResolvers` (Node 22+), which libp2p calls; installed once, before libp2p loads. */
function installPromiseWithResolvers(): void {
  const promise = Promise as unknown as { withResolvers?: unknown };
  if (typeof promise.withResolvers === "function") return;
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

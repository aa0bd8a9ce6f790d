/**
 * Replication of model files by the operators who serve them (issue #18): a node running an IPFS peer pins the files
 * of the model versions it serves, so that it serves them to peers and the publisher's copy stops being special, and
 * announces in ProviderDirectory where its peer listens, so that hubs, nodes and clients find it without a central
 * index.
 */
import path from "node:path";
import type { ModelRegistry } from "../../typechain-types";
import { cidString } from "../core/cid";
import { fetchVerified, type ContentOptions, type ContentStore, type Provider } from "../core/content";
import { requireProviderDirectory } from "../core/contracts";
import { firstLine, RevertError } from "../core/errors";
import { MODE_BY_NAME, modeMask } from "../core/modes";
import type { Logger } from "../core/log";
import { providerSource } from "../core/providers";
import { sleep, withRetry } from "../core/retry";
import { PeerContentStore } from "../storage";
import type { OperatorContext } from "./context";

/** Between two replication passes over the registry. */
const REPLICATION_INTERVAL_MS = 30_000;
/** How long the operators read from ProviderDirectory are reused. */
const PROVIDERS_TTL_MS = 30_000;

/** A node's IPFS peer: its store (read by the model loader after the content directory) and its replicator. */
export interface NodePeer {
  store: PeerContentStore;
  /** The multiaddrs announced in ProviderDirectory. */
  announced: string[];
  replicator: Replicator;
  close(): Promise<void>;
}

/**
 * Starts the node's IPFS peer when the config sets `p2pListen` (else returns undefined): a PeerContentStore over
 * `ipfsDir` (default `<dataDir>/ipfs`) listening where configured, fetching what it lacks from `ipfsPeers`, the
 * operators announced in ProviderDirectory (not itself) and `ipfsGateways`; announces its own addresses there; pins
 * the files of the versions it serves (`pinModels`), one pass now in the background and one every 30 s.
 * @example const peer = await startNodePeer(ctx, log); // peer?.store serves model files to the loader
 */
export async function startNodePeer(
  ctx: Pick<OperatorContext, "contracts" | "sender" | "wallet" | "config">,
  log: Logger,
): Promise<NodePeer | undefined> {
  const { config, contracts } = ctx;
  if (config.p2pListen === undefined) return undefined;
  const peerLog = log.child({ component: "ipfs" });
  const configured: Provider[] = (config.ipfsPeers ?? []).map((address) => ({ multiaddrs: [address], label: address }));
  const announcedOnChain =
    contracts.providerDirectory === undefined
      ? undefined
      : providerSource(contracts, {
          ttlMs: PROVIDERS_TTL_MS,
          exclude: [ctx.wallet.address],
          timeoutMs: config.rpcTimeoutMs,
          log: peerLog,
          allowPrivate: config.ipfsAllowPrivate,
        });
  const providers = async (): Promise<Provider[]> => {
    if (announcedOnChain === undefined) return configured;
    try {
      // In a new order each time: an operator placed first in the directory cannot make every fetch start with it.
      return [...configured, ...shuffled(await announcedOnChain())];
    } catch (error) {
      peerLog.warn({ err: firstLine(error) }, "providers announced on-chain unreadable: trying the configured ones");
      return configured;
    }
  };
  const store = await PeerContentStore.open({
    dir: config.ipfsDir ?? path.join(config.dataDir, "ipfs"),
    listen: config.p2pListen,
    providers,
    ...(config.ipfsGateways === undefined ? {} : { gateways: config.ipfsGateways }),
    // A fraction of one fetch's time limit each, so that a provider that stalls leaves time for the next ones.
    dialTimeoutMs: Math.max(100, Math.min(5_000, Math.floor(config.contentTimeoutMs / 6))),
    providerTimeoutMs: Math.max(100, Math.min(10_000, Math.floor(config.contentTimeoutMs / 3))),
    log: peerLog,
  });
  const announced =
    config.p2pAnnounce?.map((address) => `${address}/p2p/${store.peerId}`) ?? reachableAddresses(store.multiaddrs());
  if (config.p2pAnnounce === undefined && announced.length < store.multiaddrs().length)
    log.warn(
      { listening: store.multiaddrs(), announced },
      "announcing only some listening addresses (not loopback when others exist, at most 4): set p2pAnnounce to choose",
    );
  log.info({ peerId: store.peerId, multiaddrs: announced }, "IPFS peer started");
  if (contracts.providerDirectory !== undefined)
    await announceProviders(ctx, announced, log).catch((error: unknown) =>
      log.warn({ err: firstLine(error) }, "IPFS addresses not announced: peers find this node only if told of it"),
    );
  const replicator = new Replicator({
    registry: contracts.registry,
    store,
    models: config.pinModels === "all" || config.pinModels === "none" ? config.pinModels : config.pinModels.map(BigInt),
    modes: modeMask(config.modes.map((name) => MODE_BY_NAME[name])),
    log: peerLog,
    intervalMs: REPLICATION_INTERVAL_MS,
    rpcTimeoutMs: config.rpcTimeoutMs,
  });
  replicator.start();
  return {
    store,
    announced,
    replicator,
    async close() {
      await replicator.stop();
      await store.close();
    },
  };
}

/** The part of the IPFS peer the replicator uses. */
export interface PinningStore extends Pick<ContentStore, "cat"> {
  /** Fetches every block of `cid` (from providers when missing) and keeps it. */
  pin(cid: string, options?: ContentOptions): Promise<void>;
  /** Stops keeping `cid` (its blocks no other pin uses are deleted). */
  unpin(cid: string): Promise<void>;
  /** The CIDs pinned. */
  pins(): Promise<string[]>;
}

/** Options of {@link Replicator}. */
export interface ReplicatorOptions {
  registry: Pick<ModelRegistry, "modelCount" | "versionCount" | "versionOf" | "filesOf">;
  store: PinningStore;
  /** The models whose active (not deprecated) versions are pinned: "all", "none" or ids. */
  models: "all" | "none" | readonly bigint[];
  /** The modes the node serves (`modeMask`): only versions supporting one of them are pinned. */
  modes: number;
  log: Logger;
  /** Between two passes over the registry. */
  intervalMs: number;
  rpcTimeoutMs: number;
}

/** What one pass pinned, and what it could not. */
export interface ReplicationPass {
  /** Files pinned in this pass (not those pinned before). */
  pinned: { modelId: bigint; version: bigint; path: string; cid: string }[];
  /** Files this pass could not pin, with why; tried again next pass. */
  failed: { modelId: bigint; version: bigint; path: string; cid: string; reason: string }[];
  /** Files of the versions served, pinned now or before. */
  held: number;
}

/**
 * Pins the files of the versions a node serves, one pass over the registry every `intervalMs`: each file is fetched
 * (from the peers that have it: the publisher or other operators), its CID and SHA-256 checked, and kept. A file that
 * cannot be fetched now is tried again next pass. Deprecated versions are not pinned (their pins are kept).
 * @example const replicator = new Replicator({ registry, store: peer, models: "all", log, intervalMs: 30_000, rpcTimeoutMs: 10_000 }); replicator.start();
 */
export class Replicator {
  private readonly held = new Set<string>();
  /** Each version's files, read once: a published version's files never change (ModelRegistry has no setter). */
  private readonly files = new Map<string, Awaited<ReturnType<ReplicatorOptions["registry"]["filesOf"]>>>();
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly options: ReplicatorOptions) {}

  /** One pass over the registry. */
  async pass(signal?: AbortSignal): Promise<ReplicationPass> {
    const { registry, store, log } = this.options;
    const result: ReplicationPass = { pinned: [], failed: [], held: 0 };
    if (this.options.models === "none") return result;
    const retry = { timeoutMs: this.options.rpcTimeoutMs };
    for (const cid of await store.pins()) this.held.add(cid);
    const count = await withRetry("registry.modelCount", () => registry.modelCount(), retry);
    const ids =
      this.options.models === "all"
        ? Array.from({ length: Number(count) }, (_, i) => BigInt(i + 1))
        : this.options.models.filter((id) => id >= 1n && id <= count);
    for (const modelId of ids) {
      const versions = await withRetry("registry.versionCount", () => registry.versionCount(modelId), retry);
      for (let version = 1n; version <= versions; version++) {
        signal?.throwIfAborted();
        const info = await withRetry("registry.versionOf", () => registry.versionOf(modelId, version), retry);
        // A version this node cannot serve is not its to keep (anyone may publish one; see SECURITY.md).
        if (info.deprecated || (Number(info.modes) & this.options.modes) === 0) continue;
        const key = `${modelId}@${version}`;
        const files =
          this.files.get(key) ?? (await withRetry("registry.filesOf", () => registry.filesOf(modelId, version), retry));
        this.files.set(key, files);
        for (const file of files) {
          const cid = cidString(file.cid);
          result.held++;
          if (this.held.has(cid)) continue;
          const entry = { modelId, version, path: file.path, cid };
          try {
            await store.pin(cid, { signal });
            // The CID was checked block by block; the SHA-256 the version records is checked too, and a file that
            // does not match is not kept (nor served, nor counted as held by the next pass).
            await fetchVerified(store, { path: file.path, cid, sha256: file.sha256 }, { signal }).catch(
              async (error: unknown) => {
                await store.unpin(cid).catch(() => undefined);
                throw error;
              },
            );
            this.held.add(cid);
            result.pinned.push(entry);
            log.info({ modelId: modelId.toString(), version: version.toString(), path: file.path, cid }, "file pinned");
          } catch (error) {
            if (signal?.aborted) throw error;
            result.failed.push({ ...entry, reason: firstLine(error) });
            result.held--;
            log.warn(
              { modelId: modelId.toString(), version: version.toString(), path: file.path, cid, err: firstLine(error) },
              "file not pinned: tried again next pass",
            );
          }
        }
      }
    }
    return result;
  }

  /** Runs passes until {@link stop}. */
  start(): void {
    if (this.running !== undefined) return;
    const signal = this.abort.signal;
    this.running = (async () => {
      while (!signal.aborted) {
        try {
          await this.pass(signal);
        } catch (error) {
          if (signal.aborted) return;
          this.options.log.warn({ err: firstLine(error) }, "replication pass failed: tried again later");
        }
        await sleep(this.options.intervalMs, signal).catch(() => undefined);
      }
    })();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }
}

/** A copy of `items` in random order (Fisher–Yates). */
function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** The directory's MAX_ADDRESSES. */
const MAX_ANNOUNCED = 4;

/**
 * The addresses worth announcing of those a peer listens on: loopback ones only when there is nothing else (a node
 * listening on 0.0.0.0 listens on 127.0.0.1 too, which no other machine can dial), at most the directory's four.
 */
export function reachableAddresses(multiaddrs: readonly string[]): string[] {
  const loopback = (a: string) => a.startsWith("/ip4/127.") || a.startsWith("/ip6/::1/");
  const others = multiaddrs.filter((a) => !loopback(a));
  return (others.length > 0 ? others : [...multiaddrs]).slice(0, MAX_ANNOUNCED);
}

/** What {@link announceProviders} did. */
export interface AnnounceProvidersReturnType {
  action: "unchanged" | "announced";
  /** The addresses ProviderDirectory held before. */
  previous: string[];
  tx?: string;
}

/**
 * Makes ProviderDirectory hold `multiaddrs` for the operator: reads `addressesOf(operator)` and sends `announce`
 * through the operator's outbox when they differ.
 * @throws ConfigError when the deployment has no ProviderDirectory; RevertError when the directory refuses (e.g. an
 *   operator without stake).
 * @example await announceProviders(ctx, peer.multiaddrs(), log);
 */
export async function announceProviders(
  ctx: Pick<OperatorContext, "contracts" | "sender" | "wallet" | "config">,
  multiaddrs: readonly string[],
  log?: Logger,
): Promise<AnnounceProvidersReturnType> {
  const directory = requireProviderDirectory(ctx.contracts);
  const operator = ctx.wallet.address;
  const previous = [
    ...(await withRetry("providerDirectory.addressesOf", () => directory.addressesOf(operator), {
      timeoutMs: ctx.config.rpcTimeoutMs,
    })),
  ];
  if (previous.length === multiaddrs.length && previous.every((a, i) => a === multiaddrs[i]))
    return { action: "unchanged", previous };
  const context = { contract: "providerDirectory", call: "announce" };
  const to = await directory.getAddress();
  const data = directory.interface.encodeFunctionData("announce", [[...multiaddrs]]);
  const tx = await ctx.sender.send({ key: `announce:${Date.now()}`, kind: "announce", to, data, context });
  const receipt = await ctx.sender.wait(tx);
  if (receipt.status !== 1) {
    await ctx.sender.simulate({ to, data, context });
    throw new RevertError(`providerDirectory.announce reverted in ${receipt.hash}`, undefined, {}, { context });
  }
  log?.info({ operator, multiaddrs, previous, tx: receipt.hash }, "IPFS addresses announced in ProviderDirectory");
  return { action: "announced", previous, tx: receipt.hash };
}

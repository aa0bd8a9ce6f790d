/**
 * The devnet's publisher as an IPFS peer of its own: `vin ipfs serve` over the directory the models were published to,
 * in a child process, so that operators fetch model files from it over libp2p (not from a shared folder) and so that
 * it can be killed to show that the operators' copies keep every model reachable.
 */
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { cidString } from "../core/cid";
import { fetchVerified, type Provider, type RecordedFile } from "../core/content";
import { BaseError } from "../core/errors";
import { providerSource, readProviders } from "../core/providers";
import { sleep } from "../core/retry";
import { startLocalHub, type LocalHub } from "../hub/local";
import { PeerContentStore } from "../storage";
import type { Devnet } from "./devnet";
import { spawnVin } from "./vin-process";

/** A running `vin ipfs serve`. */
export interface PublisherPeer {
  peerId: string;
  /** Where it listens, with `/p2p/<peerId>`: what operators are given as `ipfsPeers`. */
  multiaddrs: string[];
  child: ChildProcess;
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to its process group, SIGKILL after 5 s. */
  stop(): Promise<void>;
  /** SIGKILL at once: the publisher goes away without a goodbye. */
  kill(): Promise<void>;
}

/**
 * Starts `vin ipfs serve --ipfs-dir <ipfsDir> --listen /ip4/127.0.0.1/tcp/0 --json` and waits for its addresses.
 * @example const publisher = await startPublisherPeer({ ipfsDir: ".vin/ipfs", logFile: ".vin/nodes/publisher.log" });
 */
export async function startPublisherPeer(options: { ipfsDir: string; logFile: string }): Promise<PublisherPeer> {
  const peer = spawnVin({
    args: ["--ipfs-dir", options.ipfsDir, "ipfs", "serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--json"],
    name: "the publisher's IPFS peer",
    readyWord: "listened",
    logFile: options.logFile,
    ready: (line) => {
      if (!line.startsWith('{"peerId"')) return undefined;
      const parsed = JSON.parse(line) as { peerId: string; multiaddrs: string[] };
      return { peerId: parsed.peerId, multiaddrs: parsed.multiaddrs };
    },
  });
  const { peerId, multiaddrs } = await peer.ready;
  return {
    peerId,
    multiaddrs,
    child: peer.child,
    logFile: options.logFile,
    exited: peer.exited,
    stop: peer.stop,
    kill: peer.kill,
  };
}

/** Between two probes of every file from every provider by the devnet's hub. */
const HUB_PROBE_INTERVAL_MS = 60_000;

/**
 * The devnet's hub. With the publisher's IPFS peer running (`p2p`), the hub is a peer too: it fetches cards from the
 * publisher and the operators announced on-chain, and probes each of them for every file (shown on the model page,
 * with a warning under two providers); without it, it reads the publisher's store `ipfsDir` directly.
 */
export async function startDevnetHub(devnet: Devnet, ipfsDir: string, port: number): Promise<LocalHub> {
  const base = { rpcUrl: devnet.chain.url, deployment: devnet.system.record, port };
  if (devnet.publisherPeer === undefined) return startLocalHub({ ...base, contentStoreDir: ipfsDir });
  const publisher: Provider = { multiaddrs: devnet.publisherPeer.multiaddrs, label: "publisher" };
  const operators = providerSource(devnet.contracts, { ttlMs: 10_000, allowPrivate: true });
  const providers = async (): Promise<Provider[]> => [publisher, ...(await operators())];
  const store = await PeerContentStore.open({ dir: path.join(devnet.workDir, "hub-ipfs"), providers });
  try {
    const hub = await startLocalHub({
      ...base,
      contentStore: store,
      retrievability: {
        probe: (cid, provider, options) => store.probe(cid, provider, options),
        providers,
        intervalMs: HUB_PROBE_INTERVAL_MS,
        timeoutMs: 30_000,
        concurrency: 2,
      },
    });
    return {
      ...hub,
      async stop() {
        await hub.stop();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** What {@link publisherGoesAway} saw. */
export interface PublisherGoneReport {
  files: number;
  bytes: number;
  /** The operators (by address) that served every file before the publisher went away. */
  providers: string[];
  /** How long the fresh peer took to fetch every file from the operators once the publisher was killed. */
  pullMs: number;
}

/**
 * Waits until every operator announced on-chain serves every file of every published version (each probed alone),
 * kills the publisher's IPFS peer, then fetches every file into a fresh store from the operators only, checking each
 * CID and the SHA-256 the registry records: the publisher's copy is no longer needed.
 * @throws BaseError when an operator still lacks a file after `timeoutMs`, or a file cannot be fetched afterwards.
 */
export async function publisherGoesAway(
  devnet: Devnet,
  options: { timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<PublisherGoneReport> {
  const publisher = devnet.publisherPeer;
  if (publisher === undefined) throw new BaseError("the devnet runs no publisher peer: start it with p2p");
  const log = options.log ?? (() => undefined);
  const files = new Map<string, RecordedFile>();
  for (const { modelId } of devnet.models)
    for (const f of await devnet.contracts.registry.filesOf(modelId, 1n))
      files.set(cidString(f.cid), { path: f.path, cid: cidString(f.cid), sha256: f.sha256 });
  const operators = await readProviders(devnet.contracts, { allowPrivate: true });
  const probeDir = path.join(devnet.workDir, "probe-ipfs");
  rmSync(probeDir, { recursive: true, force: true });
  const prober = await PeerContentStore.open({ dir: probeDir });
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  try {
    for (const operator of operators)
      for (const file of files.values())
        for (;;) {
          const probe = await prober.probe(file.cid, operator, { timeoutMs: 30_000 });
          if (probe.ok) break;
          if (Date.now() > deadline)
            throw new BaseError(
              `operator ${operator.label} does not serve ${file.path} (${file.cid}): ${probe.reason}`,
            );
          await sleep(2_000);
        }
  } finally {
    await prober.close();
  }
  log(
    `model files over IPFS: each of the ${operators.length} operators announced in ProviderDirectory serves all ${files.size} files of the ${devnet.models.length} models (each probed alone)`,
  );
  await publisher.kill();
  log(`killed the publisher's IPFS peer ${publisher.peerId} (SIGKILL)`);
  const pullDir = path.join(devnet.workDir, "pull-ipfs");
  rmSync(pullDir, { recursive: true, force: true });
  const reader = await PeerContentStore.open({
    dir: pullDir,
    providers: providerSource(devnet.contracts, { ttlMs: 60_000, allowPrivate: true }),
  });
  const started = Date.now();
  let bytes = 0;
  try {
    for (const file of files.values()) bytes += (await fetchVerified(reader, file)).length;
  } finally {
    await reader.close();
  }
  const pullMs = Date.now() - started;
  log(
    `then a fresh IPFS peer fetched all ${files.size} files (${(bytes / 1e6).toFixed(1)} MB) from the operators alone in ${(pullMs / 1000).toFixed(1)} s, every block checked against its CID and every file against the registry's SHA-256`,
  );
  return { files: files.size, bytes, providers: operators.map((o) => o.label), pullMs };
}

/**
 * The devnet's publisher as an IPFS peer of its own: `vin ipfs serve` over the directory the models were published to,
 * in a child process, so that operators fetch model files from it over libp2p (not from a shared folder) and so that
 * it can be killed to show that the operators' copies keep every model reachable.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Provider } from "../core/content";
import { BaseError } from "../core/errors";
import { providerSource } from "../core/providers";
import { startLocalHub, type LocalHub } from "../hub/local";
import { PeerContentStore } from "../storage";
import { stopProcess } from "./chain";
import type { Devnet } from "./devnet";

const ROOT = path.resolve(__dirname, "..", "..");
const VIN = path.join(ROOT, "src", "cli", "main.ts");

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
  const file = createWriteStream(options.logFile, { flags: "a" });
  const child = spawn(
    process.execPath,
    [
      "-r",
      "ts-node/register/transpile-only",
      VIN,
      "--ipfs-dir",
      options.ipfsDir,
      "ipfs",
      "serve",
      "--listen",
      "/ip4/127.0.0.1/tcp/0",
      "--json",
    ],
    {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      file.end();
      resolve({ code, signal });
    }),
  );
  const started = new Promise<{ peerId: string; multiaddrs: string[] }>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.pipe(file, { end: false });
      createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
        if (!line.startsWith('{"peerId"')) return;
        const parsed = JSON.parse(line) as { peerId: string; multiaddrs: string[] };
        resolve({ peerId: parsed.peerId, multiaddrs: parsed.multiaddrs });
      });
    }
    void exited.then(({ code, signal }) =>
      reject(
        new BaseError(
          `the publisher's IPFS peer exited (${signal ?? `code ${code}`}) before it listened; its log: ${path.relative(process.cwd(), options.logFile)}`,
        ),
      ),
    );
  });
  const { peerId, multiaddrs } = await started;
  return {
    peerId,
    multiaddrs,
    child,
    logFile: options.logFile,
    exited,
    stop: () => stopProcess(child),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
      await exited;
    },
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
  const operators = providerSource(devnet.contracts, { ttlMs: 10_000 });
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

/**
 * One IPFS peer in a process of its own, driven over IPC by the tests and the storage bench (as a publisher or an
 * operator would run on its own host). Started with `fork(PEER_SCRIPT, [], { execArgv: TS_NODE })`; it sends
 * `{ ready, peerId, multiaddrs, gateway }` once listening (a trustless gateway on 127.0.0.1 beside the peer), then
 * answers each `{ id, op, ... }` with `{ id, ok, result }` or `{ id, ok: false, error }`.
 *
 * Environment: PEER_DIR (its store), PEER_STALL_MS (providerTimeoutMs), PEER_DIAL_MS (dialTimeoutMs).
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { PeerContentStore, trustlessGatewayHandler, type Provider } from "../../../src/storage";

/** A request from the parent. */
export type PeerRequest = { id: number } & (
  | { op: "add"; file: string }
  | { op: "pin"; cid: string; providers: Provider[]; gateways?: string[] }
  | { op: "cat"; cid: string; providers: Provider[]; gateways?: string[] }
  | { op: "probe"; cid: string; provider: Provider | { gateway: string } }
  | { op: "has"; cid: string }
  | { op: "close" }
);

/** What `cat` answers: the fetched file's length and SHA-256 (not its bytes), and who served it. */
export interface CatResult {
  length: number;
  sha256: string;
  ms: number;
  providers: string[];
}

let providers: Provider[] = [];
let gateways: string[] = [];

async function main(): Promise<void> {
  const store = await PeerContentStore.open({
    dir: process.env.PEER_DIR as string,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    providers: async () => providers,
    // The store reads its gateways on each fetch; the parent sets them per request.
    get gateways() {
      return gateways;
    },
    providerTimeoutMs: Number(process.env.PEER_STALL_MS ?? 10_000),
    dialTimeoutMs: Number(process.env.PEER_DIAL_MS ?? 5_000),
  });
  const gatewayHandler = trustlessGatewayHandler(store);
  const server = createServer((req, res) => {
    if (!gatewayHandler(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const gateway = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.on("message", (request: PeerRequest) => {
    void handle(store, request).then(
      (result) => process.send?.({ id: request.id, ok: true, result }),
      (error: Error) =>
        process.send?.({ id: request.id, ok: false, error: { name: error.name, message: error.message } }),
    );
    if (request.op === "close") server.close();
  });
  process.send?.({ ready: true, peerId: store.peerId, multiaddrs: store.multiaddrs(), gateway });
}

async function handle(store: PeerContentStore, request: PeerRequest): Promise<unknown> {
  switch (request.op) {
    case "add":
      return store.add(await readFile(request.file));
    case "pin":
      providers = request.providers;
      gateways = request.gateways ?? [];
      await store.pin(request.cid);
      return store.pins();
    case "cat": {
      providers = request.providers;
      gateways = request.gateways ?? [];
      const served = new Set<string>();
      const started = Date.now();
      const bytes = await store.cat(request.cid, { onProgress: (p) => served.add(p.provider) });
      const result: CatResult = {
        length: bytes.length,
        sha256: createHash("sha256").update(bytes).digest("hex"),
        ms: Date.now() - started,
        providers: [...served],
      };
      return result;
    }
    case "probe":
      return store.probe(request.cid, request.provider);
    case "has":
      return store.has(request.cid);
    case "close":
      await store.close();
      setImmediate(() => process.exit(0));
      return true;
  }
}

// Only as a forked child: `hardhat test` loads every file under test/, this one included, and must not start a peer.
if (require.main === module && process.send !== undefined)
  void main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });

import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { importEsm } from "../../src/core/esm";
import { IntegrityError } from "../../src/core/errors";
import type { Job } from "../../src/core/job";
import { InputFetcher, InputRefusedError } from "../../src/node/inputs";
import {
  EmbeddedContentStore,
  MAX_GATEWAY_BLOCK_BYTES,
  PeerContentStore,
  RAW_BLOCK_TYPE,
  StorageTooLargeError,
  StorageUnavailableError,
  computeCid,
  fetchGatewayBlock,
  openContentStore,
  parseCid,
  trustlessGatewayHandler,
  type BlockSource,
  type FetchProgress,
  type Provider,
} from "../../src/storage";
import { startPeer, type PeerProcess } from "./peer-fixtures/harness";
import type { CatResult } from "./peer-fixtures/peer";

const SIZE = 4 * 1024 * 1024 + 12_345;

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The file path blockstore-fs keeps `cid` in (its default NextToLast sharding, base32upper multihash). */
async function blockFile(blocksDir: string, cid: string): Promise<string> {
  const { base32upper } = await importEsm<typeof import("multiformats/bases/base32")>("multiformats/bases/base32");
  const name = base32upper.encoder.encode((await parseCid(cid)).multihash.bytes);
  return path.join(blocksDir, name.slice(-2), `${name}.data`);
}

/** The CID of the second leaf of a file's root (a raw block of 256 KiB). */
async function secondLeaf(blocksDir: string, root: string): Promise<string> {
  const dagPb = await importEsm<typeof import("@ipld/dag-pb")>("@ipld/dag-pb");
  const node = dagPb.decode(readFileSync(await blockFile(blocksDir, root)));
  return node.Links[1]!.Hash.toString();
}

describe("PeerContentStore (separate processes on 127.0.0.1)", function () {
  // Hang guards only; nothing below is timed.
  this.timeout(300_000);

  const dirs: string[] = [];
  const peers: PeerProcess[] = [];
  const stores: PeerContentStore[] = [];
  const tmp = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), "vin-peer-"));
    dirs.push(dir);
    return dir;
  };
  const peer = async (label: string, dir = tmp(), options = {}): Promise<PeerProcess> => {
    const started = await startPeer(label, dir, options);
    peers.push(started);
    return started;
  };
  /** The providers each store gave up, with the reason it logged. */
  let skipped: Array<{ provider: string; reason: string }> = [];
  const log = pino({ level: "warn" }, { write: (line: string) => void skipped.push(JSON.parse(line)) });
  beforeEach(() => (skipped = []));
  const reader = async (providers: Provider[], options: { gateways?: string[]; providerTimeoutMs?: number } = {}) => {
    const store = await PeerContentStore.open({
      dir: tmp(),
      providers: async () => providers,
      dialTimeoutMs: 3_000,
      log,
      ...options,
    });
    stores.push(store);
    return store;
  };

  let bytes: Buffer;
  let cid: string;
  let publisher: PeerProcess;
  let operators: PeerProcess[];
  let corrupt: PeerProcess;
  let corruptLeaf: string;

  before(async function () {
    bytes = randomBytes(SIZE);
    const file = path.join(tmp(), "model.bin");
    writeFileSync(file, bytes);
    publisher = await peer("publisher");
    cid = await publisher.call<string>({ op: "add", file });
    operators = await Promise.all(["operator-1", "operator-2", "operator-3"].map((label) => peer(label)));
    for (const operator of operators) {
      const pins = await operator.call<string[]>({ op: "pin", cid, providers: [publisher.provider()] });
      expect(pins).to.deep.equal([cid]);
    }
    await publisher.kill();

    // A provider holding every block, one of them replaced by other bytes under the right CID.
    const corruptDir = tmp();
    const embedded = await EmbeddedContentStore.open(corruptDir);
    expect(await embedded.add(bytes)).to.equal(cid);
    await embedded.close();
    corruptLeaf = await secondLeaf(path.join(corruptDir, "blocks"), cid);
    const leafFile = await blockFile(path.join(corruptDir, "blocks"), corruptLeaf);
    writeFileSync(leafFile, randomBytes(statSync(leafFile).size));
    corrupt = await peer("corrupt", corruptDir);
  });

  after(async function () {
    for (const p of peers) if (p.child.signalCode === null) p.child.kill("SIGCONT");
    await Promise.all(stores.map((store) => store.close()));
    await Promise.all(peers.map((p) => p.close()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  describe("add", function () {
    it("gives the CID the embedded store and computeCid give, and pins it", async function () {
      expect(cid).to.equal(await computeCid(bytes));
      const store = await reader([]);
      const small = randomBytes(1000);
      expect(await store.add(small)).to.equal(await computeCid(small));
      expect(await store.pins()).to.deep.equal([await computeCid(small)]);
    });

    it("keeps its Ed25519 peer key in <dir>/peer.key (0600) across restarts", async function () {
      const dir = tmp();
      const first = await PeerContentStore.open({ dir });
      const id = first.peerId;
      await first.close();
      expect(statSync(path.join(dir, "peer.key")).mode & 0o777).to.equal(0o600);
      const second = await PeerContentStore.open({ dir });
      expect(second.peerId).to.equal(id);
      await second.close();
    });

    it("opens an embedded store's directory as is", async function () {
      const dir = tmp();
      const embedded = await EmbeddedContentStore.open(dir);
      const small = randomBytes(300_000);
      const smallCid = await embedded.add(small);
      await embedded.close();
      const store = await openContentStore({ peer: { dir } });
      stores.push(store as PeerContentStore);
      expect(await store.has(smallCid)).to.equal(true);
      expect(sha256(await store.cat(smallCid))).to.equal(sha256(small));
    });
  });

  describe("after the publisher's process is killed", function () {
    it("a new operator pins every block from the other operators, and a fresh reader fetches it from that one", async function () {
      const newcomer = await peer("operator-4");
      const providers = [publisher.provider(), ...operators.map((o) => o.provider())];
      expect(await newcomer.call<string[]>({ op: "pin", cid, providers })).to.deep.equal([cid]);
      expect(await newcomer.call<boolean>({ op: "has", cid })).to.equal(true);

      const fresh = await peer("reader");
      const got = await fresh.call<CatResult>({
        op: "cat",
        cid,
        providers: [publisher.provider(), newcomer.provider()],
      });
      expect(got.length).to.equal(SIZE);
      expect(got.sha256).to.equal(sha256(bytes));
      expect(got.providers).to.deep.equal(["operator-4"]);
    });

    it("fails with StorageUnavailableError naming the publisher and why when only it is asked", async function () {
      const store = await reader([publisher.provider()]);
      const error = await store.cat(cid).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(StorageUnavailableError);
      const { attempts } = error as StorageUnavailableError;
      expect(attempts.map((a) => a.provider)).to.deep.equal(["publisher"]);
      expect(attempts[0]!.reason).to.match(/^unreachable: cannot dial/);
      expect(await store.has(cid)).to.equal(false);
    });
  });

  describe("a provider that serves a corrupted block", function () {
    it("is skipped with that reason, and the next provider serves every byte", async function () {
      const store = await reader([corrupt.provider(), operators[0]!.provider()]);
      const served = new Set<string>();
      const got = await store.cat(cid, { onProgress: (p) => served.add(p.provider) });
      expect(sha256(got)).to.equal(sha256(bytes));
      expect(served.has("operator-1")).to.equal(true);
      expect(skipped.map(({ provider }) => provider)).to.deep.equal(["corrupt"]);
      expect(skipped[0]!.reason).to.match(/^sent a corrupted block/);
      expect(await store.has(cid)).to.equal(true);
    });

    it("is named in the error with the corrupted block when it is the only provider", async function () {
      const store = await reader([corrupt.provider()]);
      const error = (await store.cat(cid).catch((e: unknown) => e)) as StorageUnavailableError;
      expect(error).to.be.instanceOf(StorageUnavailableError);
      expect(error.attempts).to.have.length(1);
      expect(error.attempts[0]!.provider).to.equal("corrupt");
      expect(error.attempts[0]!.reason).to.match(/^sent a corrupted block/);
      // The good blocks it sent are kept; the corrupted one is not.
      expect(await store.has(cid)).to.equal(false);
      expect(await store.block(corruptLeaf)).to.equal(undefined);
    });
  });

  describe("a provider that stalls", function () {
    let silent: TcpServer;
    const sockets: Socket[] = [];
    before(async function () {
      // Accepts connections and never says a word.
      silent = createTcpServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    });
    after(function () {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });

    it("is given up after the dial timeout when it accepts TCP and never answers, and the next one serves", async function () {
      const port = (silent.address() as AddressInfo).port;
      const mute = { label: "mute", multiaddrs: [`/ip4/127.0.0.1/tcp/${port}/p2p/${operators[0]!.peerId}`] };
      const store = await reader([mute, operators[1]!.provider()]);
      const served = new Set<string>();
      const progress: FetchProgress[] = [];
      const got = await store.cat(cid, {
        onProgress: (p) => {
          served.add(p.provider);
          progress.push(p);
        },
      });
      expect(sha256(got)).to.equal(sha256(bytes));
      // Progress counts file bytes up to the size the root records.
      expect(progress.at(-1)).to.deep.equal({ cid, bytes: SIZE, total: SIZE, provider: "operator-2" });
      expect(progress.map((p) => p.bytes)).to.deep.equal([...progress.map((p) => p.bytes)].sort((a, b) => a - b));
      expect([...served]).to.deep.equal(["operator-2"]);
      expect(skipped.map(({ provider }) => provider)).to.deep.equal(["mute"]);
      expect(skipped[0]!.reason).to.match(/^unreachable: cannot dial within 3000 ms/);

      const alone = await reader([mute]);
      const error = (await alone.cat(cid).catch((e: unknown) => e)) as StorageUnavailableError;
      expect(error).to.be.instanceOf(StorageUnavailableError);
      expect(error.attempts[0]!.reason).to.match(/^unreachable: cannot dial within 3000 ms/);
    });

    it("is given up when a connected provider's process stops sending blocks (SIGSTOP), and the next one serves", async function () {
      const stopped = operators[2]!;
      const store = await reader([stopped.provider(), operators[1]!.provider()], { providerTimeoutMs: 2_000 });
      // Connected first, so the stall is in the transfer, not in the dial.
      expect((await store.probe(cid, stopped.provider())).ok).to.equal(true);
      stopped.child.kill("SIGSTOP");
      try {
        const served = new Set<string>();
        const got = await store.cat(cid, { onProgress: (p) => served.add(p.provider) });
        expect(sha256(got)).to.equal(sha256(bytes));
        expect([...served]).to.deep.equal(["operator-2"]);
        expect(skipped).to.have.length(1);
        expect(skipped[0]).to.include({ provider: "operator-3", reason: "stalled: sent no block for 2000 ms" });

        const alone = await reader([stopped.provider()], { providerTimeoutMs: 2_000 });
        await alone.probe(cid, operators[1]!.provider()); // a connection of its own to someone else
        const error = (await alone.cat(cid).catch((e: unknown) => e)) as StorageUnavailableError;
        expect(error).to.be.instanceOf(StorageUnavailableError);
        expect(error.attempts[0]!.reason).to.match(/^(stalled: sent no block for 2000 ms|unreachable: cannot dial)/);
      } finally {
        stopped.child.kill("SIGCONT");
      }
    });
  });

  describe("trustless gateways", function () {
    it("serve every block, each verified, when no peer does", async function () {
      const store = await reader([publisher.provider()], { gateways: [operators[0]!.gateway] });
      const served = new Set<string>();
      const got = await store.cat(cid, { onProgress: (p) => served.add(p.provider) });
      expect(sha256(got)).to.equal(sha256(bytes));
      expect([...served]).to.deep.equal([operators[0]!.gateway]);
    });

    it("are refused when they serve a corrupted block", async function () {
      const store = await reader([], { gateways: [corrupt.gateway] });
      const error = (await store.cat(cid).catch((e: unknown) => e)) as StorageUnavailableError;
      expect(error).to.be.instanceOf(StorageUnavailableError);
      expect(error.attempts[0]!.provider).to.equal(corrupt.gateway);
      expect(error.attempts[0]!.reason).to.match(/corrupted block/);
      expect(error.attempts[0]!.reason).to.contain(corruptLeaf);
    });

    describe("trustlessGatewayHandler", function () {
      let server: Server;
      let base: string;
      let store: PeerContentStore;
      let small: string;
      before(async function () {
        store = await reader([]);
        small = await store.add(randomBytes(1000));
        const handler = trustlessGatewayHandler(store);
        server = createServer((req, res) => {
          if (!handler(req, res)) res.writeHead(418).end();
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      });
      after(() => server.close());

      it("answers GET ?format=raw with the block, and HEAD with its length", async function () {
        const got = await fetch(`${base}/ipfs/${small}?format=raw`);
        expect(got.status).to.equal(200);
        expect(got.headers.get("content-type")).to.equal("application/vnd.ipld.raw");
        const body = new Uint8Array(await got.arrayBuffer());
        expect(await computeCid(body)).to.equal(small);
        const head = await fetch(`${base}/ipfs/${small}`, {
          method: "HEAD",
          headers: { accept: "application/vnd.ipld.raw" },
        });
        expect(head.status).to.equal(200);
        expect(head.headers.get("content-length")).to.equal("1000");
      });

      it("answers 400 for a bad CID, 404 for a block it lacks, 406 for another format", async function () {
        expect((await fetch(`${base}/ipfs/not-a-cid?format=raw`)).status).to.equal(400);
        expect((await fetch(`${base}/ipfs/${cid}?format=raw`)).status).to.equal(404);
        expect((await fetch(`${base}/ipfs/${small}?format=car`)).status).to.equal(406);
        expect((await fetch(`${base}/ipfs/${small}`)).status).to.equal(406);
      });

      it("leaves other paths to the server", async function () {
        expect((await fetch(`${base}/api/models`)).status).to.equal(418);
      });
    });
  });

  describe("probe", function () {
    it("counts the providers that serve every block, verified, each alone", async function () {
      const store = await reader([]);
      const candidates = [publisher.provider(), ...operators.map((o) => o.provider()), corrupt.provider()];
      const results = [];
      for (const candidate of candidates) results.push(await store.probe(cid, candidate, { timeoutMs: 30_000 }));
      expect(results.map((r) => r.ok)).to.deep.equal([false, true, true, true, false]);
      for (const result of results) if (result.ok) expect(result.bytes).to.equal(SIZE);
      expect(results[4]).to.include({ ok: false });
      expect((results[4] as { reason: string }).reason).to.match(/^sent a corrupted block/);
      const viaGateway = await store.probe(cid, { gateway: operators[1]!.gateway });
      expect(viaGateway).to.include({ ok: true, bytes: SIZE });
      // Probing stores nothing.
      expect(await store.has(cid)).to.equal(false);
    });
  });

  describe("the blocks asked of peers", function () {
    it("are forgotten once the fetch that asked them ends", async function () {
      const store = await reader([operators[0]!.provider()]);
      expect(sha256(await store.cat(cid))).to.equal(sha256(bytes));
      await store.probe(cid, operators[1]!.provider(), { timeoutMs: 30_000 });
      // Private: what the store remembers between fetches.
      expect((store as unknown as { asked: { size: number } }).asked.size).to.equal(0);
    });
  });
});

/** A trustless gateway over `blocks` (CID → bytes, or a store), recording the paths asked. */
async function blockGateway(
  blocks: Map<string, Uint8Array> | BlockSource,
): Promise<{ url: string; asked: string[]; server: Server }> {
  const asked: string[] = [];
  const handler = trustlessGatewayHandler(blocks instanceof Map ? { block: async (cid) => blocks.get(cid) } : blocks);
  const server = createServer((req, res) => {
    asked.push(new URL(req.url ?? "/", "http://gateway").pathname);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked, server };
}

/**
 * A UnixFS file root (dag-pb) linking `leaves[links[i]]` in turn, declaring `blockSizes` (the leaves' true sizes
 * unless given): with repeated links, a small DAG that declares a large file.
 */
async function craftedFile(
  leaves: Uint8Array[],
  links: number[],
  blockSizes?: bigint[],
): Promise<{ root: string; blocks: Map<string, Uint8Array> }> {
  const [dagPb, { UnixFS }, { CID }, { sha256: hasher }] = await Promise.all([
    importEsm<typeof import("@ipld/dag-pb")>("@ipld/dag-pb"),
    importEsm<typeof import("ipfs-unixfs")>("ipfs-unixfs"),
    importEsm<typeof import("multiformats/cid")>("multiformats/cid"),
    importEsm<typeof import("multiformats/hashes/sha2")>("multiformats/hashes/sha2"),
  ]);
  const blocks = new Map<string, Uint8Array>();
  const leafCids = await Promise.all(
    leaves.map(async (leaf) => {
      const leafCid = CID.createV1(0x55, await hasher.digest(leaf));
      blocks.set(leafCid.toString(), leaf);
      return leafCid;
    }),
  );
  const data = new UnixFS({ type: "file", blockSizes: blockSizes ?? links.map((i) => BigInt(leaves[i]!.length)) });
  const node = dagPb.encode(
    dagPb.prepare({
      Data: data.marshal(),
      Links: links.map((i) => ({ Hash: leafCids[i]!, Tsize: leaves[i]!.length })),
    }),
  );
  const root = CID.createV1(0x70, await hasher.digest(node));
  blocks.set(root.toString(), node);
  return { root: root.toString(), blocks };
}

/** The number of blocks a store keeps in `<dir>/blocks`. */
function blocksIn(dir: string): number {
  const blocksDir = path.join(dir, "blocks");
  return readdirSync(blocksDir, { recursive: true }).filter((name) => String(name).endsWith(".data")).length;
}

describe("PeerContentStore size limits (gateways on 127.0.0.1)", function () {
  // Hang guards only; nothing below is timed.
  this.timeout(120_000);

  const dirs: string[] = [];
  const stores: PeerContentStore[] = [];
  const servers: Server[] = [];
  const tmp = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), "vin-peer-limit-"));
    dirs.push(dir);
    return dir;
  };
  const open = async (dir: string, gateways: string[], maxBytes?: number): Promise<PeerContentStore> => {
    const store = await PeerContentStore.open({ dir, gateways, maxBytes });
    stores.push(store);
    return store;
  };
  const gateway = async (blocks: Map<string, Uint8Array> | BlockSource) => {
    const served = await blockGateway(blocks);
    servers.push(served.server);
    return served;
  };
  /** The error `promise` rejects with (fails the test if it resolves). */
  const rejection = async (promise: Promise<unknown>): Promise<Error> => {
    const outcome = await promise.then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    if (outcome === undefined) throw new Error("expected a rejection");
    return outcome;
  };

  after(async function () {
    await Promise.all(stores.map((store) => store.close()));
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  describe("pin", function () {
    it("refuses a 3 MB file under maxBytes 1e6 from its root alone, tries no other source and keeps no block", async function () {
      const source = await open(tmp(), []);
      const big = randomBytes(3_000_000);
      const bigCid = await source.add(big);
      const first = await gateway(source);
      const second = await gateway(new Map());
      const dir = tmp();
      const store = await open(dir, [first.url, second.url], 1e6);
      const error = await rejection(store.pin(bigCid));
      expect(error).to.be.instanceOf(StorageTooLargeError);
      expect((error as StorageTooLargeError).size).to.equal(3_000_000);
      expect(first.asked).to.deep.equal([`/ipfs/${bigCid}`]);
      expect(second.asked).to.deep.equal([]);
      expect(blocksIn(dir)).to.equal(0);
      expect(await store.pins()).to.deep.equal([]);
    });

    it("stops a fetch that receives more than the limit under a root declaring less, and deletes what it wrote", async function () {
      const leaves = [randomBytes(200_000), randomBytes(200_000), randomBytes(200_000)];
      const { root, blocks } = await craftedFile(leaves, [0, 1, 2], [1n, 1n, 1n]);
      const first = await gateway(blocks);
      const second = await gateway(blocks);
      const dir = tmp();
      const store = await open(dir, [first.url, second.url], 300_000);
      const error = await rejection(store.pin(root));
      expect(error).to.be.instanceOf(StorageTooLargeError);
      expect(first.asked.length).to.be.greaterThan(1);
      expect(second.asked).to.deep.equal([]);
      expect(blocksIn(dir)).to.equal(0);
      expect(await store.pins()).to.deep.equal([]);
    });

    it("honours the call's maxBytes when smaller than the store's", async function () {
      const leaves = [randomBytes(100_000), randomBytes(100_000)];
      const { root, blocks } = await craftedFile(leaves, [0, 1]);
      const served = await gateway(blocks);
      const dir = tmp();
      const store = await open(dir, [served.url]);
      const error = await rejection(store.pin(root, { maxBytes: 150_000 }));
      expect(error).to.be.instanceOf(StorageTooLargeError);
      expect((error as StorageTooLargeError).size).to.equal(200_000);
      expect(blocksIn(dir)).to.equal(0);
      await store.pin(root, { maxBytes: 200_000 });
      expect(blocksIn(dir)).to.equal(3);
    });
  });

  describe("cat of a small DAG declaring a large file (one leaf linked 50 times)", function () {
    let amplified: { root: string; blocks: Map<string, Uint8Array> };
    before(async function () {
      amplified = await craftedFile([randomBytes(100_000)], Array<number>(50).fill(0));
    });

    it("is refused from the root's declared size, before any leaf is fetched", async function () {
      const served = await gateway(amplified.blocks);
      const store = await open(tmp(), [served.url], 1e6);
      const error = await rejection(store.cat(amplified.root));
      expect(error).to.be.instanceOf(StorageTooLargeError);
      expect((error as StorageTooLargeError).size).to.equal(5_000_000);
      expect(served.asked).to.deep.equal([`/ipfs/${amplified.root}`]);
    });

    it("is refused under the call's maxBytes, and so when its blocks are already held", async function () {
      const served = await gateway(amplified.blocks);
      const store = await open(tmp(), [served.url]);
      const fetched = await rejection(store.cat(amplified.root, { maxBytes: 1e6 }));
      expect(fetched).to.be.instanceOf(StorageTooLargeError);
      expect((fetched as StorageTooLargeError).size).to.equal(5_000_000);
      // 5 MB is within the store's own limit: pinned (two blocks), then refused before assembly.
      await store.pin(amplified.root);
      expect(await store.has(amplified.root)).to.equal(true);
      const held = await rejection(store.cat(amplified.root, { maxBytes: 1e6 }));
      expect(held).to.be.instanceOf(StorageTooLargeError);
      expect((held as StorageTooLargeError).size).to.equal(5_000_000);
    });

    it("is refused by InputFetcher at the node's input limit, without retries", async function () {
      const served = await gateway(amplified.blocks);
      const store = await open(tmp(), [served.url]);
      const inputs = new InputFetcher(store, { timeoutMs: 30_000, maxBytes: 1 << 20 });
      const error = await rejection(inputs.fetch({ id: 7n } as unknown as Job, `ipfs://${amplified.root}`));
      expect(error).to.be.instanceOf(InputRefusedError);
      expect(error.message).to.contain("larger than this node accepts");
      expect(served.asked).to.deep.equal([`/ipfs/${amplified.root}`]);
    });
  });

  describe("a gateway answering more than a block can hold", function () {
    const oversized = async (withLength: boolean) => {
      const server = createServer((req, res) => {
        res.writeHead(200, {
          "content-type": RAW_BLOCK_TYPE,
          ...(withLength ? { "content-length": 3 * 1024 * 1024 } : {}),
        });
        const chunk = Buffer.alloc(64 * 1024, 1);
        let sent = 0;
        const more = (): void => {
          while (sent < 3 * 1024 * 1024) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once("drain", more);
          }
          res.end();
        };
        res.on("error", () => undefined);
        more();
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };

    it("is refused from its content-length, and while streaming when it sends none", async function () {
      const cidOfBlock = await parseCid(await computeCid(randomBytes(1000)));
      for (const withLength of [true, false]) {
        const url = await oversized(withLength);
        const error = await rejection(fetchGatewayBlock(url, cidOfBlock, { attempts: 1 }));
        expect(error).to.be.instanceOf(IntegrityError);
        expect(error.message).to.contain(`more than a block can hold (${MAX_GATEWAY_BLOCK_BYTES})`);
      }
    });
  });
});

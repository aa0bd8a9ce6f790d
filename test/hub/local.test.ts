import hre from "hardhat";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type LocalHub, publishBundledModel, startLocalHub } from "../../src/hub/local";
import type { SearchResult } from "../../src/hub/search";
import { sha256Hex } from "../../src/core/hash";
import { PeerContentStore } from "../../src/storage";
import { systemFixture, type Fixture } from "../fixtures/system";

/** Serves the in-process Hardhat network as JSON-RPC over HTTP on 127.0.0.1, as `hardhat node` would. */
async function rpcServer(): Promise<{ url: string; server: Server }> {
  const answer = async (call: { id: unknown; method: string; params?: unknown[] }) => {
    try {
      return {
        jsonrpc: "2.0",
        id: call.id,
        result: await hre.network.provider.request({ method: call.method, params: call.params ?? [] }),
      };
    } catch (error) {
      return { jsonrpc: "2.0", id: call.id, error: { code: -32000, message: (error as Error).message } };
    }
  };
  const server = createServer(async (req, res) => {
    const body = JSON.parse(Buffer.concat(await req.toArray()).toString()) as
      Parameters<typeof answer>[0] | Parameters<typeof answer>[0][];
    const reply = Array.isArray(body) ? await Promise.all(body.map(answer)) : await answer(body);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(reply));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("local network hub", () => {
  let dir: string;
  let fx: Fixture;
  let rpc: { url: string; server: Server };
  let hub: LocalHub | undefined;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "vin-local-hub-"));
    rpc = await rpcServer();
  });
  beforeEach(async () => {
    fx = await loadFixture(systemFixture);
  });
  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
  });
  after(async () => {
    rpc.server.closeAllConnections();
    await new Promise((resolve) => rpc.server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const search = async (query: string): Promise<SearchResult> =>
    (await fetch(`${hub!.url}/api/search?q=${encodeURIComponent(query)}`)).json() as Promise<SearchResult>;

  it("serves the bundled model published before it started, over a JSON-RPC URL", async () => {
    const published = await publishBundledModel({
      signer: fx.owner,
      registry: fx.system.record.contracts.registry.address,
      contentStoreDir: dir,
    });
    expect(published.files.map((f) => f.path)).to.deep.equal(["model.onnx", "README.md"]);
    hub = await startLocalHub({ rpcUrl: rpc.url, deployment: fx.system.record, contentStoreDir: dir, port: 0 });
    const { hits } = await search("penguin species");
    expect(hits.map((h) => [h.modelId, h.name, h.modes])).to.deep.equal([
      [Number(published.modelId), "penguin-species-mlp", [0, 1]],
    ]);
    expect(hits[0]!.files.map((f) => f.cid)).to.deep.equal(published.files.map((f) => f.cid));
    expect(await (await fetch(`${hub.url}/`)).text()).to.contain("<title>Model hub</title>");
  });

  it("serves the network's concentration figures from the deployment's staking, escrow and registry", async () => {
    hub = await startLocalHub({ rpcUrl: rpc.url, deployment: fx.system.record, contentStoreDir: dir, port: 0 });
    const response = await fetch(`${hub.url}/api/network`);
    expect(response.status).to.equal(200);
    const body = (await response.json()) as { fromBlock: number; operators: number; stake: { total: string } };
    const staked = await fx.system.staking.totalStaked();
    expect(body.fromBlock).to.equal(fx.system.record.startBlock);
    expect(BigInt(body.stake.total)).to.equal(staked);
    expect(body.operators).to.be.greaterThan(0);
  });

  it("indexes a model published while it runs", async () => {
    hub = await startLocalHub({
      rpcUrl: rpc.url,
      deployment: fx.system.record,
      contentStoreDir: dir,
      port: 0,
      pollIntervalMs: 100,
    });
    expect((await search("penguin")).hits).to.deep.equal([]);
    const published = await publishBundledModel({
      signer: fx.owner,
      registry: fx.system.record.contracts.registry.address,
      contentStoreDir: dir,
    });
    let hits: SearchResult["hits"] = [];
    while (hits.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      hits = (await search("penguin")).hits;
    }
    expect(hits[0]!.modelId).to.equal(Number(published.modelId));
  });

  it("serves the blocks it holds as a trustless gateway when its store is an IPFS peer, and the page beside them", async () => {
    const published = await publishBundledModel({
      signer: fx.owner,
      registry: fx.system.record.contracts.registry.address,
      contentStoreDir: dir,
    });
    const peer = await PeerContentStore.open({ dir });
    try {
      hub = await startLocalHub({ rpcUrl: rpc.url, deployment: fx.system.record, contentStore: peer, port: 0 });
      // The card fits one raw block: the block is the file.
      const card = published.files.find((f) => f.path === "README.md")!;
      const response = await fetch(`${hub.url}/ipfs/${card.cid}?format=raw`);
      expect(response.status).to.equal(200);
      expect(response.headers.get("content-type")).to.equal("application/vnd.ipld.raw");
      expect(sha256Hex(new Uint8Array(await response.arrayBuffer()))).to.equal(card.sha256);
      const absent = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
      expect((await fetch(`${hub.url}/ipfs/${absent}?format=raw`)).status).to.equal(404);
      expect((await fetch(`${hub.url}/ipfs/not-a-cid?format=raw`)).status).to.equal(400);
      expect(await (await fetch(`${hub.url}/`)).text()).to.contain("<title>Model hub</title>");
    } finally {
      await hub?.stop();
      hub = undefined;
      await peer.close();
    }
  });
});

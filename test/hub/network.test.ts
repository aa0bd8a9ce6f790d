import { expect } from "chai";
import hre from "hardhat";
import { hexlify, randomBytes } from "ethers";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { NotFoundError } from "../../src/core/errors";
import type { ContentStore } from "../../src/core/content";
import { resultCommitment } from "../../src/core/job";
import { Mode } from "../../src/core/modes";
import {
  networkFigures,
  networkFiguresJson,
  parseNetworkFigures,
  readNetworkEvents,
  type NetworkFigures,
} from "../../src/economics";
import { networkStats } from "../../src/cli/commands/network";
import { fetchNetworkFigures } from "../../src/hub/client";
import { type RunningHubServer, startHubServer } from "../../src/hub/http";
import { HubIndexer, type HubIndexerOptions } from "../../src/hub/indexer";
import { NETWORK_CURSOR } from "../../src/hub/network";
import { SearchEngine } from "../../src/hub/search";
import { HubStore } from "../../src/hub/store";
import { requestJob, STAKE, systemFixture, type Fixture } from "../fixtures/system";
import { settleJob } from "./chain";

/** A content store that holds nothing: the fixture's cards are not what these tests look at. */
const noContent: ContentStore = {
  add: () => Promise.reject(new Error("read-only")),
  cat: (cid) => Promise.reject(new NotFoundError(`no ${cid}`)),
  has: () => Promise.resolve(false),
  close: () => Promise.resolve(),
};

/**
 * Three operators of 1,000 tokens each (vanilla and TEE): a k = 1 job served by node 1, a k = 3 job settled 2-1 (node 3
 * dissents), node 3 unstakes 400 tokens.
 */
async function busyNetwork(): Promise<Fixture> {
  const fx = await systemFixture();
  const { escrow, staking } = fx.system;
  const [n1, n2, n3] = [fx.nodes[0]!, fx.nodes[1]!, fx.nodes[2]!];
  const single = await requestJob(fx);
  await escrow.connect(n1).claimSlot(single);
  await escrow.connect(n1).submit(single, "0x2a", "0x");
  const triple = await requestJob(fx, { redundancy: 3 });
  const salts = [hexlify(randomBytes(32)), hexlify(randomBytes(32)), hexlify(randomBytes(32))];
  const outputs = ["0x07", "0x07", "0x08"];
  for (const node of [n1, n2, n3]) await escrow.connect(node).claimSlot(triple);
  for (const [i, node] of [n1, n2, n3].entries())
    await escrow.connect(node).commit(triple, resultCommitment(triple.id, node.address, outputs[i]!, salts[i]!));
  for (const [i, node] of [n1, n2, n3].entries())
    await escrow.connect(node).reveal(triple, outputs[i]!, salts[i]!, "0x");
  await staking.connect(n3).unstake((STAKE * 2n) / 5n);
  return fx;
}

describe("hub: the network's figures from the indexer's tables", () => {
  let fx: Fixture;
  let store: HubStore;
  let server: RunningHubServer | undefined;

  const indexer = (options: Partial<HubIndexerOptions> = {}) =>
    new HubIndexer({
      provider: hre.ethers.provider,
      registry: fx.system.record.contracts.registry.address,
      escrow: fx.system.record.contracts.escrow.address,
      staking: fx.system.record.contracts.staking.address,
      startBlock: fx.system.record.startBlock,
      store,
      content: noContent,
      confirmations: 0,
      cardAttempts: 1,
      maxBlockRange: 7,
      ...options,
    });
  const serve = async (ix: HubIndexer) => {
    server = await startHubServer({ store, engine: new SearchEngine(store), port: 0, network: ix.network });
    return server.url;
  };
  const get = async (path: string) => {
    const res = await fetch(server!.url + path);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /** What `vin network stats --json [--window]` computes, reading blocks start..toBlock over RPC. */
  const fromChain = async (toBlock: number, window?: number): Promise<NetworkFigures> => {
    const fromBlock = fx.system.record.startBlock;
    return networkFigures(await readNetworkEvents(fx.system, fromBlock, toBlock), { fromBlock, toBlock, window });
  };

  beforeEach(async () => {
    fx = await loadFixture(busyNetwork);
    store = HubStore.open(":memory:");
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    store.close();
  });

  it("answers the figures the CLI computes from the chain over the same blocks", async () => {
    const ix = indexer();
    await ix.syncOnce();
    const url = await serve(ix);
    const head = await hre.ethers.provider.getBlockNumber();

    const { status, body } = await get("/api/network");
    expect(status).to.equal(200);
    expect(body).to.include({ fromBlock: fx.system.record.startBlock, toBlock: head });
    expect(body).to.deep.equal(networkFiguresJson(await fromChain(head)));
    const hub = await fetchNetworkFigures({ hubUrl: url });
    expect(hub.concentration).to.deep.equal(
      await networkStats(fx.system, fx.system.record.startBlock, head),
      "vin network stats --hub and vin network stats",
    );
    // The figures are the busy network's, not an empty one's.
    expect(hub.concentration.jobs).to.deep.equal({ total: 2, redundant: 1 });
    expect(hub.concentration.stake.total).to.equal(3n * STAKE - (STAKE * 2n) / 5n);
    expect(hub.concentration.nakamoto).to.deep.equal({ thresholdBps: 5_000, byStake: 2, byJobs: 1 });
    expect(hub.concentration.jobShares.map((s) => [s.address, s.jobsServed])).to.deep.equal([
      [fx.nodes[0]!.address.toLowerCase(), 2],
      [fx.nodes[1]!.address.toLowerCase(), 1],
      [fx.nodes[2]!.address.toLowerCase(), 0],
    ]);
  });

  it("answers the history per ?window blocks the CLI computes with --window", async () => {
    const ix = indexer();
    await ix.syncOnce();
    await serve(ix);
    const head = await hre.ethers.provider.getBlockNumber();
    const { status, body } = await get("/api/network?window=5");
    expect(status).to.equal(200);
    const expected = await fromChain(head, 5);
    expect(expected.history!.length).to.be.greaterThan(3);
    expect(body).to.deep.equal(networkFiguresJson(expected));
    expect(parseNetworkFigures(body)).to.deep.equal(expected);
  });

  it("counts a job settled later once the indexer has indexed its block", async () => {
    const ix = indexer();
    await ix.syncOnce();
    await serve(ix);
    await settleJob(fx, fx.modelId, 1, Mode.Vanilla);
    expect((await get("/api/network")).body.jobs).to.deep.equal({ total: 2, redundant: 1 });
    await ix.syncOnce();
    const { body } = await get("/api/network");
    const head = await hre.ethers.provider.getBlockNumber();
    expect(body.jobs).to.deep.equal({ total: 3, redundant: 1 });
    expect(body).to.deep.equal(networkFiguresJson(await fromChain(head)));
  });

  it("forgets the events of blocks a reorganisation dropped", async () => {
    const ix = indexer();
    await ix.syncOnce();
    await serve(ix);
    const snapshot = (await hre.ethers.provider.send("evm_snapshot", [])) as string;
    await settleJob(fx, fx.modelId, 1, Mode.Vanilla);
    await settleJob(fx, fx.modelId, 1, Mode.Vanilla);
    await ix.syncOnce();
    expect((await get("/api/network")).body.jobs).to.deep.equal({ total: 4, redundant: 1 });

    await hre.ethers.provider.send("evm_revert", [snapshot]);
    await fx.system.staking.connect(fx.nodes[1]!).unstake(STAKE / 2n);
    await mine(6);
    await ix.syncOnce();
    const head = await hre.ethers.provider.getBlockNumber();
    const { body } = await get("/api/network");
    expect(body.jobs).to.deep.equal({ total: 2, redundant: 1 });
    expect(body).to.deep.equal(networkFiguresJson(await fromChain(head)));
    const cursor = store.cursor(NETWORK_CURSOR);
    expect(cursor.blockHash(cursor.cursor()!)).to.equal((await hre.ethers.provider.getBlock("latest"))!.hash);
  });

  it("reads the network's events from the start block in a store indexed without them", async () => {
    const before = indexer({ staking: undefined });
    await before.syncOnce();
    expect(before.network).to.equal(undefined);
    const head = await hre.ethers.provider.getBlockNumber();
    expect(before.cursor).to.equal(head);

    const after = indexer();
    expect(after.network!.indexedTo).to.equal(fx.system.record.startBlock - 1);
    await serve(after);
    const unindexed = await get("/api/network");
    expect(unindexed.status).to.equal(503);
    expect(unindexed.body.message).to.match(/has not indexed the network's events yet \(from block \d+\)/);

    await after.syncOnce();
    expect(after.network!.indexedTo).to.equal(head);
    const { status, body } = await get("/api/network");
    expect(status).to.equal(200);
    expect(body).to.deep.equal(networkFiguresJson(await fromChain(head)));
    expect(body.jobs).to.deep.equal({ total: 2, redundant: 1 });
  });

  it("keeps its figures in the database: a new indexer on the same store answers them before syncing", async () => {
    await indexer().syncOnce();
    const head = await hre.ethers.provider.getBlockNumber();
    await serve(indexer());
    expect((await get("/api/network")).body).to.deep.equal(networkFiguresJson(await fromChain(head)));
  });

  it("answers 404 when the hub does not index NodeStaking", async () => {
    const ix = indexer({ staking: undefined });
    await ix.syncOnce();
    await serve(ix);
    const { status, body } = await get("/api/network");
    expect(status).to.equal(404);
    expect(body).to.include({ error: "NotFound" });
  });

  for (const query of ["window=0", "window=x", "window=1.5", "window=1&window=2", "window=1000000000000"]) {
    it(`answers 400 naming \`window\` for ?${query}`, async () => {
      const ix = indexer();
      await ix.syncOnce();
      await serve(ix);
      const { status, body } = await get(`/api/network?${query}`);
      expect(status).to.equal(400);
      expect(body).to.include({ error: "HubParamError", param: "window" });
    });
  }
});

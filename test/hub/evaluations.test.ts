import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { cidString } from "../../src/core/cid";
import { HubIndexer, type HubIndexerOptions } from "../../src/hub/indexer";
import { startHubServer } from "../../src/hub/http";
import { SearchEngine } from "../../src/hub/search";
import { HubStore } from "../../src/hub/store";
import { EmbeddedContentStore } from "../../src/storage";
import { governor, MEASUREMENT } from "../fixtures/system";
import {
  BASELINE,
  datasetInput,
  evaluationFixture,
  requestEvaluation,
  ROW_COUNT,
  submitResult,
  type EvaluationFixture,
} from "../fixtures/evaluation";

describe("hub: verified evaluations", () => {
  let dir: string;
  let content: EmbeddedContentStore;
  let store: HubStore;
  let fx: EvaluationFixture;

  const options = (extra: Partial<HubIndexerOptions> = {}): HubIndexerOptions => ({
    provider: hre.ethers.provider,
    registry: fx.system.record.contracts.registry.address,
    escrow: fx.system.record.contracts.escrow.address,
    teeVerifier: fx.system.record.contracts.teeVerifier.address,
    evaluationRegistry: fx.system.record.contracts.evaluationRegistry.address,
    startBlock: fx.system.record.startBlock,
    store,
    content,
    confirmations: 0,
    cardAttempts: 1,
    ...extra,
  });
  const indexer = () => new HubIndexer(options());

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "vin-hub-evaluations-"));
    content = await EmbeddedContentStore.open(dir);
  });
  after(async () => {
    await content.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    fx = await evaluationFixture();
    store = HubStore.open(":memory:");
  });
  afterEach(() => store.close());

  it("shows a version's verified evaluation with its dataset, method, and the trivial baseline beside it", async () => {
    await submitResult(fx, await requestEvaluation(fx), 812_500n);
    const hub = indexer();
    await hub.syncOnce();
    const [e] = hub.evaluations!.ofVersion(1, 1);
    const block = (await hre.ethers.provider.getBlock("latest"))!;
    const input = datasetInput();
    expect(e).to.deep.include({
      requestId: "1",
      value: "812500",
      beatsBaseline: true,
      method: "tee",
      enclave: fx.enclave.address.toLowerCase(),
      operator: fx.nodes[0]!.address,
      measurement: MEASUREMENT.toLowerCase(),
      block: block.number,
      evaluatedAt: block.timestamp,
      valid: true,
    });
    expect(e!.dataset).to.deep.equal({
      datasetId: 1,
      name: input.name,
      split: input.split,
      metric: "accuracy",
      higherIsBetter: true,
      rowCount: Number(ROW_COUNT),
      rowsCid: cidString(input.rowsCid),
      rowsSha256: String(input.rowsSha256).toLowerCase(),
      baseline: input.baseline,
      baselineValue: BASELINE.toString(),
      registrant: fx.other.address,
    });
    expect(hub.evaluations!.ofVersion(1, 2)).to.deep.equal([]);
  });

  it("keeps the latest result per dataset, one row per dataset, and says when the version is below its baseline", async () => {
    await fx.system.evaluationRegistry.registerDataset(datasetInput({ name: "second", baselineValue: 900_000n }));
    await submitResult(fx, await requestEvaluation(fx), 700_000n);
    await submitResult(fx, await requestEvaluation(fx), 710_000n);
    await submitResult(fx, await requestEvaluation(fx, { datasetId: 2n }), 850_000n);
    const hub = indexer();
    await hub.syncOnce();
    const rows = hub.evaluations!.ofVersion(1, 1);
    expect(rows.map((r) => [r.dataset.datasetId, r.requestId, r.value, r.beatsBaseline])).to.deep.equal([
      [1, "2", "710000", true],
      [2, "3", "850000", false],
    ]);
  });

  it("marks an evaluation no longer valid once the hub sees its enclave, or its measurement, revoked", async () => {
    await submitResult(fx, await requestEvaluation(fx), 700_000n);
    const hub = indexer();
    await hub.syncOnce();
    expect(hub.evaluations!.ofVersion(1, 1)[0]!.valid).to.equal(true);
    await fx.system.teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
    await hub.syncOnce();
    expect(hub.evaluations!.ofVersion(1, 1)[0]!.valid).to.equal(false);
  });

  it("rewinds what dropped blocks wrote, and indexes from its own cursor in a store indexed before it", async () => {
    const hub = indexer();
    await hub.syncOnce();
    await time.increase(1);
    await submitResult(fx, await requestEvaluation(fx), 700_000n);
    const recordedAt = await hre.ethers.provider.getBlockNumber();
    await hub.syncOnce();
    expect(hub.evaluations!.ofVersion(1, 1)).to.have.length(1);
    hub.evaluations!.rewindTo(recordedAt - 1);
    expect(hub.evaluations!.ofVersion(1, 1)).to.deep.equal([]);
    // A second store whose main cursor is already at the head: the evaluations are read from the start block.
    const fresh = HubStore.open(":memory:");
    try {
      await new HubIndexer(options({ store: fresh, evaluationRegistry: undefined })).syncOnce();
      const later = new HubIndexer(options({ store: fresh }));
      await later.syncOnce();
      expect(later.evaluations!.ofVersion(1, 1).map((r) => r.value)).to.deep.equal(["700000"]);
    } finally {
      fresh.close();
    }
  });

  it("serves the evaluations per version in GET /api/models/:id", async () => {
    await submitResult(fx, await requestEvaluation(fx), 650_000n);
    const hub = indexer();
    await hub.syncOnce();
    const server = await startHubServer({ store, engine: new SearchEngine(store), port: 0 });
    try {
      const body = (await (await fetch(`${server.url}/api/models/1`)).json()) as {
        versions: { version: number; evaluations: { value: string; dataset: { baselineValue: string } }[] }[];
      };
      const [v] = body.versions;
      expect(v!.evaluations.map((e) => [e.value, e.dataset.baselineValue])).to.deep.equal([
        ["650000", BASELINE.toString()],
      ]);
    } finally {
      await server.close();
    }
  });
});

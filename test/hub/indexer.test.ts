import hre from "hardhat";
import { keccak256, toUtf8Bytes, Wallet } from "ethers";
import { pino } from "pino";
import { expect } from "chai";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HubIndexer, type HubIndexerOptions } from "../../src/hub/indexer";
import { SearchEngine } from "../../src/hub/search";
import { modelIdNumber } from "../../src/hub/ids";
import { HubStore } from "../../src/hub/store";
import { Mode } from "../../src/core/modes";
import { EmbeddedContentStore } from "../../src/storage";
import { FIXTURE_TD, MEASUREMENT, registerByQuote, requestJob, tdMeasurements, governor } from "../fixtures/system";
import { startHubServer } from "../../src/hub/http";
import {
  buildHubWorld,
  modelFiles,
  PAID_PER_JOB,
  publishAs,
  setEscrowParameters,
  settleFreeJob,
  settleJob,
  settleRequested,
  VANILLA,
  type HubWorld,
} from "./chain";

describe("HubIndexer", () => {
  let dir: string;
  let content: EmbeddedContentStore;
  let world: HubWorld;
  let store: HubStore;
  let engine: SearchEngine;

  const hubWorld = () => buildHubWorld(content);
  const indexer = (options: Partial<HubIndexerOptions> = {}) =>
    new HubIndexer({
      provider: hre.ethers.provider,
      registry: world.fx.system.record.contracts.registry.address,
      escrow: world.fx.system.record.contracts.escrow.address,
      startBlock: world.fx.system.record.startBlock,
      store,
      content,
      confirmations: 0,
      ...options,
    });
  const names = (query: string) => engine.search(query, {}, "relevance", {}).hits.map((h) => `${h.name}@${h.version}`);
  const id = (n: bigint) => modelIdNumber(n);

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "vin-indexer-"));
    content = await EmbeddedContentStore.open(dir);
  });
  after(async () => {
    await content.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    world = await loadFixture(hubWorld);
    store = HubStore.open(":memory:");
    engine = new SearchEngine(store, { vocabularyMaxAgeMs: 0 });
  });
  afterEach(() => store.close());

  describe("syncOnce", () => {
    it("indexes every published model with its files, and search finds them by words of their cards", async () => {
      await indexer({ maxBlockRange: 7 }).syncOnce();
      expect(names("flippers")).to.deep.equal(["acme/penguin-mlp@1"]);
      expect(names("phishing scams")).to.deep.equal(["mail/spam-guard@2"]);
      const penguins = store.getModel(id(world.penguins))!;
      expect(penguins.owner).to.equal(world.fx.owner.address.toLowerCase());
      expect(penguins.versions[0]!.modes).to.deep.equal([Mode.Vanilla, Mode.Tee]);
      const onchain = await world.fx.system.registry.filesOf(world.penguins, 1);
      expect(penguins.versions[0]!.files.map((f) => f.path)).to.deep.equal(onchain.map((f) => f.path));
      expect(penguins.versions[0]!.files[1]!.cid).to.match(/^bafkrei/);
      expect(penguins.versions[0]!.files.map((f) => f.sha256)).to.deep.equal(onchain.map((f) => f.sha256));
    });

    it("counts settled jobs per version and mode, not requested ones, with what each paid", async () => {
      await indexer().syncOnce();
      expect(store.getModel(id(world.penguins))!.versions[0]!.usage).to.deep.equal([
        { mode: Mode.Vanilla, jobs: 2, paid: (2n * PAID_PER_JOB).toString(), belowFloor: 0 },
        { mode: Mode.Tee, jobs: 1, paid: PAID_PER_JOB.toString(), belowFloor: 0 },
      ]);
      expect(store.getModel(id(world.penguins))).to.deep.include({
        verifiedJobs: 3,
        paidVolume: (3n * PAID_PER_JOB).toString(),
        belowFloorJobs: 0,
      });
      const spam = store.getModel(id(world.spam))!;
      expect(spam.versions.map((v) => [v.version, v.verifiedJobs, v.paidVolume])).to.deep.equal([
        [2, 0, "0"],
        [1, 1, PAID_PER_JOB.toString()],
      ]);
    });

    it("does not index a card whose hash differs from the registered card hash", async () => {
      const ix = indexer();
      await ix.syncOnce();
      expect(ix.cardStatus(Number(world.badCard), 1)?.status).to.equal("invalid");
      expect(ix.cardStatus(Number(world.badCard), 1)?.error).to.contain("does not match the published card hash");
      expect(store.getModel(id(world.badCard))!.versions[0]!.card).to.equal(null);
      expect(store.getModel(id(world.badCard))!.searchVersion).to.equal(null);
      expect(names("walruses")).to.deep.equal([]);
    });

    it("logs each leniency of an accepted card as a warning", async () => {
      const card =
        "\n---\nname: sea/lenient-seal\npipeline_tag: tabular-classification\nlicense: mit\ntags: seals\n---\n# Seals\n";
      const { modelId } = await publishAs(
        world.fx,
        content,
        [
          { path: "README.md", bytes: toUtf8Bytes(card) },
          { path: "m.onnx", bytes: toUtf8Bytes("seal") },
        ],
        [VANILLA],
      );
      const lines: { msg: string; modelId?: number; version?: number; warning?: string }[] = [];
      const logger = pino(
        { level: "warn" },
        { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) },
      );
      await indexer({ logger }).syncOnce();
      expect(
        lines.filter((l) => l.msg === "model card read leniently").map((l) => [l.modelId, l.version, l.warning]),
      ).to.deep.equal([
        [Number(modelId), 1, "1 blank line(s) before the opening `---` were ignored"],
        [Number(modelId), 1, "`tags` is a single string; read as a list of one tag"],
      ]);
      expect(names("seals")).to.deep.equal(["sea/lenient-seal@1"]);
    });

    it("keeps a version whose card the content store lacks pending and unsearchable", async () => {
      const ix = indexer();
      await ix.syncOnce();
      expect(ix.cardStatus(1, 1)?.status).to.equal("pending");
      expect(store.getModel(id(1n))!.searchVersion).to.equal(null);
    });

    it("stops confirmations blocks behind the head and picks up later blocks on the next poll", async () => {
      const ix = indexer({ confirmations: 2 });
      const head = await hre.ethers.provider.getBlockNumber();
      expect((await ix.syncOnce()).to).to.equal(head - 2);
      expect(ix.cursor).to.equal(head - 2);
      await settleJob(world.fx, world.penguins, 1, Mode.Vanilla);
      await mine(2);
      const report = await ix.syncOnce();
      expect(report.from).to.equal(head - 1);
      expect(store.getModel(id(world.penguins))!.versions[0]!.usage[0]).to.deep.include({
        mode: Mode.Vanilla,
        jobs: 3,
      });
    });

    it("resumes after a restart from the cursor in the store, counting nothing twice", async () => {
      const first = await indexer().syncOnce();
      await settleJob(world.fx, world.penguins, 1, Mode.Vanilla);
      const report = await indexer().syncOnce();
      expect(report.from).to.equal(first.to + 1);
      expect(report.events).to.be.greaterThan(0);
      expect(store.getModel(id(world.penguins))!.versions[0]!.usage[0]).to.deep.include({
        mode: Mode.Vanilla,
        jobs: 3,
      });
      expect(store.stats().versions).to.equal(5);
    });
  });

  describe("start", () => {
    it("fetches a pending card again at later polls, and the version becomes searchable", async () => {
      const lateDir = mkdtempSync(path.join(tmpdir(), "vin-indexer-late-"));
      const late = await EmbeddedContentStore.open(lateDir);
      try {
        const ix = indexer({ content: late, pollIntervalMs: 20 });
        await ix.syncOnce();
        expect(ix.cardStatus(1, 1)?.status).to.equal("pending");
        await late.add(toUtf8Bytes("---\nname: model-weights\ntask: classification\nlicense: mit\n---\n"));
        ix.start();
        while (ix.cardStatus(1, 1)?.status === "pending") await new Promise((resolve) => setTimeout(resolve, 20));
        await ix.stop();
        expect(ix.cardStatus(1, 1)?.status).to.equal("valid");
        expect(store.getModel(id(1n))!.searchVersion).to.equal(1);
      } finally {
        await late.close();
        rmSync(lateDir, { recursive: true, force: true });
      }
    });
  });

  describe("usage floor", () => {
    const penguinUsage = () => store.getModel(id(world.penguins))!.versions[0]!;

    it("does not count a settled job with price 0 and node fee 0, and shows it below the floor", async () => {
      const free = await settleFreeJob(world.fx, content);
      await indexer().syncOnce();
      const version = store.getModel(id(free))!.versions[0]!;
      expect(version).to.deep.include({ verifiedJobs: 0, paidVolume: "0", belowFloorJobs: 1 });
      expect(version.usage).to.deep.equal([{ mode: Mode.Vanilla, jobs: 0, paid: "0", belowFloor: 1 }]);
      expect(engine.search("", { minUsage: 1 }, "usage").hits.map((h) => h.name)).not.to.include("free/echo");
    });

    it("counts a job whose protocol fee reaches the floor with its exact payment", async () => {
      const { escrow } = world.fx.system;
      await settleJob(world.fx, world.penguins, 1, Mode.Vanilla, {
        feePerNode: 3n * 10n ** 17n,
        collateral: 10n ** 18n,
      });
      await indexer().syncOnce();
      const [vanilla] = penguinUsage().usage;
      const [, , protocolFee] = await escrow.quote(world.penguins, 1, Mode.Vanilla, 1, 3n * 10n ** 17n);
      expect(vanilla).to.deep.equal({
        mode: Mode.Vanilla,
        jobs: 3,
        paid: (2n * PAID_PER_JOB + 2n * 10n ** 18n + 3n * 10n ** 17n + protocolFee).toString(),
        belowFloor: 0,
      });
    });

    it("applies a floor raised through ParametersUpdated to jobs requested afterwards, not to those requested before", async () => {
      const before = await requestJob(world.fx, { modelId: world.penguins, version: 1, mode: Mode.Vanilla });
      await setEscrowParameters(world.fx, { usageFeeFloor: 10n ** 18n }); // above the 0.15-token protocol fee of a default job
      const after = await requestJob(world.fx, { modelId: world.penguins, version: 1, mode: Mode.Vanilla });
      await settleRequested(world.fx, before);
      await settleRequested(world.fx, after);
      await indexer().syncOnce();
      expect(penguinUsage().usage[0]).to.deep.equal({
        mode: Mode.Vanilla,
        jobs: 3,
        paid: (3n * PAID_PER_JOB).toString(),
        belowFloor: 1,
      });
    });

    it("reads the floor from the escrow when indexing starts after the escrow's deployment", async () => {
      await setEscrowParameters(world.fx, { usageFeeFloor: 10n ** 18n });
      const startBlock = (await hre.ethers.provider.getBlockNumber()) + 1;
      const { modelId } = await publishAs(world.fx, content, modelFiles("sea/krill-counter", "krill swarms"), [
        VANILLA,
      ]);
      await settleJob(world.fx, modelId, 1, Mode.Vanilla);
      await setEscrowParameters(world.fx, { usageFeeFloor: 10n ** 15n });
      await settleJob(world.fx, modelId, 1, Mode.Vanilla);
      await indexer({ startBlock }).syncOnce();
      expect(store.getModel(id(modelId))!.versions[0]!.usage).to.deep.equal([
        { mode: Mode.Vanilla, jobs: 1, paid: PAID_PER_JOB.toString(), belowFloor: 1 },
      ]);
    });
  });

  describe("TEE measurements", () => {
    const OTHER_TD = tdMeasurements("another-enclave-build");
    const OTHER = keccak256(OTHER_TD);
    const teeIndexer = (options: Partial<HubIndexerOptions> = {}) =>
      indexer({ teeVerifier: world.fx.system.record.contracts.teeVerifier.address, ...options });
    /** Registers `key` (default a fresh one) for node 1 by quote, reporting MEASUREMENT's TD or OTHER's; lasts `maxEnclaveAge`. */
    const registerEnclave = async (
      measurement: string,
      key: { address: string; privateKey: string } = Wallet.createRandom(),
    ) => {
      await registerByQuote(world.fx.system, world.fx.nodes[1]!, key, measurement === OTHER ? OTHER_TD : FIXTURE_TD);
      return key.address;
    };
    let ixOf: HubIndexer | undefined;
    const teeOf = (modelId: bigint, version: number) => ixOf!.teeIndex.bindingOf(id(modelId), version);

    it("lists a TEE version's measurements with their revocation and their unexpired, unrevoked enclaves", async () => {
      const { modelId } = await publishAs(world.fx, content, modelFiles("tee/two-builds", "two enclave builds"), [
        VANILLA,
        { mode: "tee", measurements: [MEASUREMENT, OTHER] },
      ]);
      // A key under OTHER registered first, so that it expires 600 s before the others.
      await registerEnclave(OTHER);
      await time.increase(Number((await world.fx.system.teeVerifier.parameters()).maxEnclaveAge) - 600);
      await registerByQuote(world.fx.system, world.fx.nodes[0]!, world.fx.enclave);
      await registerEnclave(MEASUREMENT);
      const revoked = await registerEnclave(MEASUREMENT);
      await (await world.fx.system.teeVerifier.connect(await governor(world.fx)).revokeEnclave(revoked)).wait();
      const moved = Wallet.createRandom();
      await registerEnclave(OTHER, moved);
      // Re-attested from the other build: the key now counts under MEASUREMENT only.
      await registerEnclave(MEASUREMENT, moved);
      ixOf = teeIndexer();
      await ixOf.syncOnce();
      // The fixture's enclave (renewed) and one new key under MEASUREMENT, plus the key re-registered from OTHER; OTHER keeps its first key.
      expect(teeOf(modelId, 1)?.measurements).to.deep.equal([
        { measurement: MEASUREMENT, revoked: false, revokedAt: null, enclaves: 3 },
        { measurement: OTHER, revoked: false, revokedAt: null, enclaves: 1 },
      ]);

      await time.increase(601);
      await (await world.fx.system.teeVerifier.connect(await governor(world.fx)).revokeMeasurement(OTHER)).wait();
      await ixOf.syncOnce();
      const revokedAt = Number(await world.fx.system.teeVerifier.measurementRevokedAt(OTHER));
      expect(revokedAt).to.be.greaterThan(0);
      expect(teeOf(modelId, 1)).to.deep.equal({
        asOf: (await hre.ethers.provider.getBlock("latest"))!.timestamp,
        measurements: [
          { measurement: MEASUREMENT, revoked: false, revokedAt: null, enclaves: 3 },
          { measurement: OTHER, revoked: true, revokedAt, enclaves: 0 },
        ],
      });
      expect(teeOf(world.penguins, 1)?.measurements).to.deep.equal([
        { measurement: MEASUREMENT, revoked: false, revokedAt: null, enclaves: 3 },
      ]);
    });

    it("has no TEE binding for a version published without TEE", async () => {
      const { modelId } = await publishAs(world.fx, content, modelFiles("plain/only", "plain vanilla"), [VANILLA]);
      ixOf = teeIndexer();
      await ixOf.syncOnce();
      expect(ixOf.teeIndex.bindingOf(id(modelId), 1)).to.equal(undefined);
    });

    it("forgets registrations and revocations of blocks a reorganisation dropped", async () => {
      ixOf = teeIndexer({ maxBlockRange: 4 });
      await ixOf.syncOnce();
      const snapshot = (await hre.ethers.provider.send("evm_snapshot", [])) as string;
      await registerEnclave(MEASUREMENT);
      await (await world.fx.system.teeVerifier.connect(await governor(world.fx)).revokeMeasurement(MEASUREMENT)).wait();
      await ixOf.syncOnce();
      expect(teeOf(world.penguins, 1)?.measurements[0]).to.deep.include({ revoked: true, enclaves: 2 });

      await hre.ethers.provider.send("evm_revert", [snapshot]);
      await registerEnclave(OTHER);
      await mine(5);
      const report = await ixOf.syncOnce();
      expect(report.rewoundTo).to.be.a("number");
      expect(teeOf(world.penguins, 1)?.measurements).to.deep.equal([
        { measurement: MEASUREMENT, revoked: false, revokedAt: null, enclaves: 1 },
      ]);
    });

    it("serves each version's TEE binding in the model JSON of the API", async () => {
      ixOf = teeIndexer();
      await ixOf.syncOnce();
      const server = await startHubServer({ store, engine, port: 0 });
      try {
        const body = (await (await fetch(`${server.url}/api/models/${world.penguins}`)).json()) as {
          versions: { version: number; tee: unknown }[];
        };
        expect(body.versions.map((v) => [v.version, v.tee])).to.deep.equal([
          [
            1,
            {
              asOf: ixOf.teeIndex.chainTime(),
              measurements: [{ measurement: MEASUREMENT, revoked: false, revokedAt: null, enclaves: 1 }],
            },
          ],
        ]);
        const spam = (await (await fetch(`${server.url}/api/models/${world.spam}`)).json()) as {
          versions: { tee: unknown }[];
        };
        expect(spam.versions.every((v) => v.tee === null)).to.equal(true);
      } finally {
        await server.close();
      }
    });
  });

  describe("reorganisations", () => {
    it("rewinds to the common ancestor and re-indexes the new branch", async () => {
      const ix = indexer({ maxBlockRange: 4 });
      await ix.syncOnce();
      const forkBlock = await hre.ethers.provider.getBlockNumber();
      const snapshot = (await hre.ethers.provider.send("evm_snapshot", [])) as string;
      await publishAs(world.fx, content, modelFiles("sea/walrus-counter", "walrus colonies on ice"), [VANILLA]);
      await settleJob(world.fx, world.penguins, 1, Mode.Tee);
      await setEscrowParameters(world.fx, { usageFeeFloor: 10n ** 18n });
      await settleJob(world.fx, world.penguins, 1, Mode.Vanilla);
      await ix.syncOnce();
      expect(names("walrus")).to.deep.equal(["sea/walrus-counter@1"]);
      expect(store.getModel(id(world.penguins))).to.deep.include({
        verifiedJobs: 4,
        paidVolume: (4n * PAID_PER_JOB).toString(),
        belowFloorJobs: 1,
      });

      await hre.ethers.provider.send("evm_revert", [snapshot]);
      await publishAs(world.fx, content, modelFiles("sea/narwhal-finder", "narwhal pods"), [VANILLA]);
      await settleJob(world.fx, world.penguins, 1, Mode.Vanilla); // under the floor of this branch: counted
      await mine(5);
      const report = await ix.syncOnce();

      expect(report.rewoundTo).to.equal(forkBlock);
      expect(names("walrus")).to.deep.equal([]);
      expect(names("narwhal")).to.deep.equal(["sea/narwhal-finder@1"]);
      expect(store.getModel(id(world.penguins))!.versions[0]!.usage).to.deep.equal([
        { mode: Mode.Vanilla, jobs: 3, paid: (3n * PAID_PER_JOB).toString(), belowFloor: 0 },
        { mode: Mode.Tee, jobs: 1, paid: PAID_PER_JOB.toString(), belowFloor: 0 },
      ]);
      expect(store.getModel(id(world.penguins))).to.deep.include({
        verifiedJobs: 4,
        paidVolume: (4n * PAID_PER_JOB).toString(),
        belowFloorJobs: 0,
      });
      const cursor = store.cursor("chain");
      expect(cursor.blockHash(cursor.cursor()!)).to.equal((await hre.ethers.provider.getBlock("latest"))!.hash);
    });

    it("rewinds to an earlier checkpoint when the reorganisation is deeper than the last range", async () => {
      const ix = indexer({ maxBlockRange: 2 });
      await ix.syncOnce();
      const snapshot = (await hre.ethers.provider.send("evm_snapshot", [])) as string;
      const forkBlock = await hre.ethers.provider.getBlockNumber();
      await mine(3);
      await ix.syncOnce();
      await settleJob(world.fx, world.penguins, 1, Mode.Vanilla);
      await ix.syncOnce();
      await hre.ethers.provider.send("evm_revert", [snapshot]);
      await world.fx.system.token.mint(world.fx.other.address, 1n); // the new branch differs from its first block
      await mine(12);
      const report = await ix.syncOnce();
      expect(report.rewoundTo).to.equal(forkBlock);
      expect(store.getModel(id(world.penguins))!.versions[0]!.usage[0]).to.deep.equal({
        mode: Mode.Vanilla,
        jobs: 2,
        paid: (2n * PAID_PER_JOB).toString(),
        belowFloor: 0,
      });
    });
  });
});

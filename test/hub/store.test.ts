import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { StoreInvalidInputError, StoreUnknownModelError, StoreUnknownVersionError } from "../../src/hub/errors";
import { Mode } from "../../src/core/modes";
import { FTS_COLUMNS, SCHEMA_VERSION } from "../../src/hub/schema";
import { SearchEngine } from "../../src/hub/search";
import { HubStore } from "../../src/hub/store";
import { address, freshHub, hash, id, JOB_PAYMENT, publish, versionInput } from "./fixtures";

/** Documents per term as the full-text index counts them. */
function indexedDocumentCounts(store: HubStore): Map<string, number> {
  return new Map(
    (store.db.prepare("SELECT term, doc FROM search_vocab").all() as { term: string; doc: number }[]).map((r) => [
      r.term,
      r.doc,
    ]),
  );
}

/** Documents per term in the text `search_docs` keeps of each indexed row. */
function keptDocumentCounts(store: HubStore): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of store.db
    .prepare(`SELECT ${FTS_COLUMNS.map((c) => c.name).join(", ")} FROM search_docs`)
    .raw()
    .all() as string[][]) {
    for (const term of new Set(
      row
        .join(" ")
        .split(" ")
        .filter((t) => t !== ""),
    ))
      counts.set(term, (counts.get(term) ?? 0) + 1);
  }
  return new Map([...counts].sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe("HubStore", () => {
  describe("upsertVersions", () => {
    it("stores a batch of versions in one transaction", () => {
      const { store, engine } = freshHub();
      store.upsertModel({ modelId: id(1), owner: address(1), price: 5n, block: 1 });
      store.upsertVersions(
        [1, 2, 3].map((version) => versionInput({ model: 1, version, fields: { name: `org/fraudnet-v${version}` } })),
      );
      expect(store.stats()).to.deep.equal({ models: 1, versions: 3, searchable: 1 });
      expect(engine.search("fraudnet").hits.map((h) => h.version)).to.deep.equal([3]);
    });

    it("leaves nothing written when one version of the batch is invalid", () => {
      const { store, engine } = freshHub();
      store.upsertModel({ modelId: id(1), owner: address(1), price: 5n, block: 1 });
      const bad = { ...versionInput({ model: 1, version: 3 }), cardHash: "0x1234" };
      const batch = [
        versionInput({ model: 1, version: 1, fields: { name: "org/fraudnet" } }),
        versionInput({ model: 1, version: 2 }),
        bad,
      ];
      expect(() => store.upsertVersions(batch))
        .to.throw(StoreInvalidInputError)
        .with.property("field", "cardHash");
      expect(store.stats()).to.deep.equal({ models: 1, versions: 0, searchable: 0 });
      expect(engine.search("fraudnet").hits).to.deep.equal([]);
    });

    it("leaves nothing written when a version names an unknown model", () => {
      const { store } = freshHub();
      store.upsertModel({ modelId: id(1), owner: address(1), price: 5n, block: 1 });
      expect(() => store.upsertVersions([versionInput({ model: 1 }), versionInput({ model: 2 })]))
        .to.throw(StoreUnknownModelError)
        .with.property("modelId", 2);
      expect(store.stats().versions).to.equal(0);
    });
  });

  describe("batch", () => {
    it("rolls back every write and the cursor when the batch throws", () => {
      const { store } = freshHub();
      const cursor = store.cursor("registry");
      cursor.setCursor(10);
      expect(() =>
        cursor.atomically(() => {
          publish(store, { model: 1 });
          cursor.setCursor(20);
          throw new Error("RPC failed mid-range");
        }),
      ).to.throw("RPC failed mid-range");
      expect(cursor.cursor()).to.equal(10);
      expect(store.getModel(id(1))).to.equal(undefined);
    });

    it("keeps the search index consistent after a rolled-back batch", () => {
      const { store, engine } = freshHub();
      publish(store, { model: 1, fields: { name: "org/alpha-lstm" } });
      expect(() =>
        store.batch(() => {
          publish(store, { model: 1, version: 2, fields: { name: "org/beta-lstm" } });
          throw new Error("abort");
        }),
      ).to.throw("abort");
      expect(engine.search("lstm").hits.map((h) => [h.name, h.version])).to.deep.equal([["org/alpha-lstm", 1]]);
    });
  });

  describe("upsertVersion", () => {
    it("is idempotent when an event is replayed", () => {
      const { store } = freshHub();
      publish(store, { model: 1 });
      publish(store, { model: 1 });
      const model = store.getModel(id(1));
      expect(model?.versions).to.have.length(1);
      expect(model?.versions[0]?.files).to.have.length(1);
    });

    it("records a version without its card as not searchable until setCard", () => {
      const { store, engine } = freshHub();
      publish(store, { model: 1, fields: { name: "org/chexnet" }, withCard: false });
      expect(engine.search("chexnet").hits).to.have.length(0);
      const card = versionInput({ model: 1, fields: { name: "org/chexnet" } }).card;
      if (card === undefined) throw new Error("fixture has a card");
      store.setCard(id(1), 1, card);
      expect(engine.search("chexnet").hits.map((h) => h.modelId)).to.deep.equal([1]);
    });

    it("throws StoreInvalidInputError naming the field for a bad publisher", () => {
      const { store } = freshHub();
      store.upsertModel({ modelId: id(1), owner: address(1), price: 5n, block: 1 });
      expect(() => store.upsertVersion({ ...versionInput({ model: 1 }), publisher: "alice" }))
        .to.throw(StoreInvalidInputError)
        .with.property("field", "publisher");
    });

    it("throws StoreInvalidInputError for an empty modes bitmask", () => {
      const { store } = freshHub();
      store.upsertModel({ modelId: id(1), owner: address(1), price: 5n, block: 1 });
      expect(() => store.upsertVersion({ ...versionInput({ model: 1 }), modes: 0 }))
        .to.throw(StoreInvalidInputError)
        .with.property("field", "modes");
    });
  });

  describe("markDeprecated", () => {
    it("makes search fall back to the previous version, then drop the model", () => {
      const { store, engine } = freshHub();
      publish(store, { model: 1, version: 1, fields: { name: "org/whisper-de" } });
      publish(store, { model: 1, version: 2, fields: { name: "org/whisper-de" } });
      store.markDeprecated(id(1), 2, 100);
      expect(engine.search("whisper").hits.map((h) => h.version)).to.deep.equal([1]);
      store.markDeprecated(id(1), 1, 101);
      expect(engine.search("whisper").hits).to.have.length(0);
      expect(store.getModel(id(1))?.versions.map((v) => v.deprecated)).to.deep.equal([true, true]);
    });

    it("throws StoreUnknownVersionError for a version never published", () => {
      const { store } = freshHub();
      publish(store, { model: 1 });
      expect(() => store.markDeprecated(id(1), 9, 1))
        .to.throw(StoreUnknownVersionError)
        .with.property("version", 9);
    });
  });

  describe("addVerifiedUsage", () => {
    it("accumulates settled jobs and their exact paid volume per mode and in total, beyond 2^63 wei", () => {
      const { store } = freshHub();
      publish(store, { model: 1, modes: 0b111 });
      const big = 9_223_372_036_854_775_807n; // 2^63 - 1: two of them overflow a 64-bit integer
      store.addVerifiedUsage({ modelId: id(1), version: 1, mode: Mode.Zk, jobs: 3, paid: big, block: 50 });
      store.addVerifiedUsage({ modelId: id(1), version: 1, mode: Mode.Zk, jobs: 2, paid: big + 3n, block: 51 });
      store.addVerifiedUsage({ modelId: id(1), version: 1, mode: Mode.Tee, jobs: 1, paid: 1n, block: 51 });
      const version = store.getModel(id(1))?.versions[0];
      expect(version?.usage).to.deep.equal([
        { mode: 1, jobs: 1, paid: "1", belowFloor: 0 },
        { mode: 2, jobs: 5, paid: (2n * big + 3n).toString(), belowFloor: 0 },
      ]);
      expect(version).to.deep.include({ verifiedJobs: 6, paidVolume: (2n * big + 4n).toString(), belowFloorJobs: 0 });
    });

    it("throws StoreInvalidInputError for a non-positive job count or a negative amount", () => {
      const { store } = freshHub();
      publish(store, { model: 1 });
      expect(() =>
        store.addVerifiedUsage({ modelId: id(1), version: 1, mode: Mode.Vanilla, jobs: 0, paid: 1n, block: 1 }),
      )
        .to.throw(StoreInvalidInputError)
        .with.property("field", "jobs");
      expect(() =>
        store.addVerifiedUsage({ modelId: id(1), version: 1, mode: Mode.Vanilla, jobs: 1, paid: -1n, block: 1 }),
      )
        .to.throw(StoreInvalidInputError)
        .with.property("field", "paid");
    });
  });

  describe("addBelowFloorUsage", () => {
    it("records settled jobs below the usage floor apart: not in verified jobs, paid volume or sort by usage", () => {
      const { store, engine } = freshHub();
      publish(store, { model: 1, fields: { name: "org/counted-model" }, usage: { 0: 2 } });
      publish(store, { model: 2, fields: { name: "org/free-model" } });
      store.addBelowFloorUsage({ modelId: id(2), version: 1, mode: Mode.Vanilla, jobs: 500, block: 60 });
      store.addBelowFloorUsage({ modelId: id(1), version: 1, mode: Mode.Vanilla, jobs: 1, block: 60 });
      expect(store.getModel(id(2))).to.deep.include({ verifiedJobs: 0, paidVolume: "0", belowFloorJobs: 500 });
      expect(store.getModel(id(2))?.versions[0]?.usage).to.deep.equal([
        { mode: 0, jobs: 0, paid: "0", belowFloor: 500 },
      ]);
      expect(store.getModel(id(1))?.versions[0]?.usage).to.deep.equal([
        { mode: 0, jobs: 2, paid: (2n * JOB_PAYMENT).toString(), belowFloor: 1 },
      ]);
      expect(engine.search("", {}, "usage").hits.map((h) => [h.name, h.verifiedJobs, h.belowFloorJobs])).to.deep.equal([
        ["org/counted-model", 2, 1],
        ["org/free-model", 0, 500],
      ]);
      expect(engine.search("", { minUsage: 1 }).hits.map((h) => h.name)).to.deep.equal(["org/counted-model"]);
    });
  });

  describe("rewindTo", () => {
    it("undoes versions, deprecations, usage, owners and models recorded after the block", () => {
      const { store, engine } = freshHub();
      publish(store, { model: 1, version: 1, block: 10, fields: { name: "org/pd-scorecard" }, usage: { 0: 4 } });
      store.setOwner(id(1), address(77), 30);
      publish(store, { model: 1, version: 2, block: 30, fields: { name: "org/pd-scorecard" } });
      store.markDeprecated(id(1), 1, 31);
      store.addVerifiedUsage({ modelId: id(1), version: 1, mode: Mode.Vanilla, jobs: 6, paid: 10n ** 25n, block: 32 });
      store.addBelowFloorUsage({ modelId: id(1), version: 1, mode: Mode.Vanilla, jobs: 2, block: 32 });
      publish(store, { model: 2, block: 33, fields: { name: "org/pd-new" } });

      store.rewindTo(20);

      const model = store.getModel(id(1));
      expect(model?.owner).to.equal(address(1));
      expect(
        model?.versions.map((v) => [v.version, v.deprecated, v.verifiedJobs, v.paidVolume, v.belowFloorJobs]),
      ).to.deep.equal([[1, false, 4, (4n * JOB_PAYMENT).toString(), 0]]);
      expect(model?.versions[0]?.usage).to.deep.equal([
        { mode: 0, jobs: 4, paid: (4n * JOB_PAYMENT).toString(), belowFloor: 0 },
      ]);
      expect(store.getModel(id(2))).to.equal(undefined);
      expect(engine.search("pd").hits.map((h) => [h.modelId, h.version])).to.deep.equal([[1, 1]]);
    });
  });

  describe("open", () => {
    it("drops a store written before usage had a floor and paid volume, so the indexer re-indexes the chain", () => {
      const dir = mkdtempSync(path.join(tmpdir(), "vin-hub-store-"));
      try {
        const file = path.join(dir, "hub.sqlite");
        const old = HubStore.open(file);
        publish(old, { model: 1, usage: { 0: 3 } });
        old.cursor("chain").setCursor(99);
        old.db.exec("CREATE TABLE hub_indexer_jobs (job_id TEXT PRIMARY KEY, model_id INTEGER NOT NULL)");
        old.db.pragma("user_version = 2");
        old.close();

        const store = HubStore.open(file);
        expect(store.getModel(id(1))).to.equal(undefined);
        expect(store.cursor("chain").cursor()).to.equal(undefined);
        expect(store.db.prepare("SELECT name FROM sqlite_master WHERE name = 'hub_indexer_jobs'").get()).to.equal(
          undefined,
        );
        expect(store.db.pragma("user_version", { simple: true })).to.equal(SCHEMA_VERSION);
        publish(store, { model: 1, usage: { 0: 1 } });
        expect(store.getModel(id(1))?.verifiedJobs).to.equal(1);
        store.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("rebuilds the search tables of a store from schema version 3 from its stored cards", () => {
      const dir = mkdtempSync(path.join(tmpdir(), "vin-hub-store-"));
      try {
        const file = path.join(dir, "hub.sqlite");
        const old = HubStore.open(file);
        publish(old, {
          model: 1,
          fields: { name: "org/dual-licensed", license: ["mit", "cc-by-4.0"] },
          usage: { 0: 2 },
        });
        old.db.exec("DROP TABLE search_licenses");
        old.db.pragma("user_version = 3");
        old.close();

        const store = HubStore.open(file);
        const engine = new SearchEngine(store, { vocabularyMaxAgeMs: 0 });
        expect(engine.search("dual", { license: "cc-by-4.0" }).hits.map((h) => [h.name, h.verifiedJobs])).to.deep.equal(
          [["org/dual-licensed", 2]],
        );
        store.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("keeps a store of the current schema as it is", () => {
      const dir = mkdtempSync(path.join(tmpdir(), "vin-hub-store-"));
      try {
        const file = path.join(dir, "hub.sqlite");
        const first = HubStore.open(file);
        publish(first, { model: 1, usage: { 0: 3 } });
        first.close();
        const store = HubStore.open(file);
        expect(store.getModel(id(1))).to.deep.include({ verifiedJobs: 3, paidVolume: (3n * JOB_PAYMENT).toString() });
        store.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("search index", () => {
    it("holds exactly one row per searchable model and passes FTS5's integrity check after every kind of write", () => {
      const { store } = freshHub();
      for (let model = 1; model <= 4; model++) publish(store, { model, version: 1, block: model });
      publish(store, { model: 1, version: 2, block: 20 });
      publish(store, { model: 2, version: 2, block: 21, withCard: false });
      store.markDeprecated(id(3), 1, 22);
      store.rewindTo(20);
      publish(store, { model: 4, version: 2, block: 23 });
      const { n } = store.db.prepare("SELECT count(*) AS n FROM search_docs").get() as { n: number };
      expect(n).to.equal(store.stats().searchable).and.to.equal(4); // the rewind undid the deprecation
      expect(() => store.db.exec("INSERT INTO search_fts(search_fts) VALUES('integrity-check')")).not.to.throw();
      // Every term of the index is in exactly the rows whose kept text holds it: deletes removed what was indexed.
      expect(indexedDocumentCounts(store)).to.deep.equal(keptDocumentCounts(store));
    });

    it("removes a replaced row's terms from the full-text index", () => {
      const { store, engine } = freshHub();
      publish(store, { model: 1, version: 1, block: 1, fields: { name: "org/walrus-counter" } });
      publish(store, { model: 1, version: 2, block: 2, fields: { name: "org/narwhal-counter" } });
      expect(indexedDocumentCounts(store).get("walrus")).to.equal(undefined);
      expect(indexedDocumentCounts(store).get("narwhal")).to.equal(1);
      expect(engine.search("walrus").hits).to.deep.equal([]);
    });
  });

  describe("cursor", () => {
    it("keeps each follower's last processed block and recent block hashes", () => {
      const { store } = freshHub();
      const [registry, other] = [store.cursor("registry"), store.cursor("other")];
      expect(registry.cursor()).to.equal(undefined);
      registry.atomically(() => {
        registry.recordBlocks(
          [
            { number: 41, hash: hash(41) },
            { number: 42, hash: hash(42) },
          ],
          0,
        );
        registry.setCursor(42);
      });
      expect([registry.cursor(), registry.blockHash(42), other.cursor()]).to.deep.equal([42, hash(42), undefined]);
      expect(store.cursor("registry").blockHashes()).to.deep.equal([
        { number: 41, hash: hash(41) },
        { number: 42, hash: hash(42) },
      ]);
    });

    it("commits the search documents of writes made in the cursor's transaction", () => {
      const { store, engine } = freshHub();
      const cursor = store.cursor("chain");
      cursor.atomically(() => {
        publish(store, { model: 1, fields: { name: "org/walrus-counter" } });
        cursor.setCursor(5);
      });
      expect(engine.search("walrus").hits.map((h) => h.name)).to.deep.equal(["org/walrus-counter"]);
    });

    it("moves the cursor and block hashes of a store written before the hub used core's follower", () => {
      const dir = mkdtempSync(path.join(tmpdir(), "vin-hub-store-"));
      try {
        const file = path.join(dir, "hub.sqlite");
        const old = HubStore.open(file);
        publish(old, { model: 1, usage: { 0: 3 } });
        old.db.exec(`CREATE TABLE cursor (name TEXT PRIMARY KEY, block INTEGER NOT NULL, block_hash TEXT NOT NULL);
          CREATE TABLE hub_indexer_checkpoints (name TEXT NOT NULL, block INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (name, block));
          INSERT INTO cursor VALUES ('chain', 30, '${hash(30)}');
          INSERT INTO hub_indexer_checkpoints VALUES ('chain', 10, '${hash(10)}'), ('chain', 20, '${hash(20)}'), ('chain', 30, '${hash(30)}')`);
        old.close();

        const store = HubStore.open(file);
        const cursor = store.cursor("chain");
        expect(cursor.cursor()).to.equal(30);
        expect(cursor.blockHashes()).to.deep.equal([10, 20, 30].map((n) => ({ number: n, hash: hash(n) })));
        expect(
          store.db.prepare("SELECT name FROM sqlite_master WHERE name IN ('cursor', 'hub_indexer_checkpoints')").all(),
        ).to.deep.equal([]);
        expect(store.getModel(id(1))?.verifiedJobs).to.equal(3);
        store.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

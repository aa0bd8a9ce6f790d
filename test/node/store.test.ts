import { expect } from "chai";
import Database from "better-sqlite3";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ZeroAddress, ZeroHash } from "ethers";
import { JobEscrow__factory } from "../../typechain-types/factories/contracts/escrow/JobEscrow__factory";
import type { Job } from "../../src/core/job";
import {
  kindOf,
  MIGRATIONS,
  NodeStore,
  OUTBOX_KINDS,
  outboxKey,
  SCHEMA,
  stateAfterRewind,
  type TxRow,
} from "../../src/node/store";

const job = (id: bigint): Job => ({
  id,
  requester: ZeroAddress,
  modelId: 1n,
  version: 1n,
  mode: 0n,
  redundancy: 1n,
  deadline: 100n,
  revealDeadline: 100n,
  inputHash: ZeroHash,
  modelOwner: ZeroAddress,
  verifier: ZeroAddress,
  modelFee: 1n,
  feePerNode: 2n,
  protocolFee: 3n,
  collateral: 4n,
  callback: ZeroAddress,
  callbackGasLimit: 0n,
  slashBeneficiaryBps: 5_000n,
});
const attempt = (hash: string) => ({
  hash,
  raw: "0x01",
  maxFeePerGas: 2n,
  maxPriorityFeePerGas: 1n,
  createdAt: Date.now(),
});

describe("NodeStore", () => {
  const file = () => NodeStore.pathIn(mkdtempSync(path.join(os.tmpdir(), "vin-store-")));

  describe("jobs.transition", () => {
    it("walks seen -> claimed -> computed -> submitted -> settled and keeps the output", () => {
      const { jobs } = new NodeStore(file());
      jobs.insert({ job: job(1n), input: "0x5b315d", inputUri: "", requestBlock: 1 });
      jobs.transition(1n, "claimed");
      jobs.transition(1n, "computed", { output: "0xabcd" });
      jobs.transition(1n, "submitted");
      jobs.transition(1n, "settled");
      const row = jobs.get(1n)!;
      expect(row).to.include({ state: "settled", output: "0xabcd" });
      expect(row.job).to.deep.equal(job(1n));
      expect(row.settledAt).to.be.a("number");
    });

    it("refuses a transition the state machine does not allow", () => {
      const { jobs } = new NodeStore(file());
      jobs.insert({ job: job(2n), input: "0x", inputUri: "", requestBlock: 1 });
      expect(() => jobs.transition(2n, "submitted")).to.throw(/no transition from seen to submitted/);
      jobs.transition(2n, "skipped", { reason: "filled" });
      expect(() => jobs.transition(2n, "claimed")).to.throw(/no transition from skipped to claimed/);
    });

    it("ignores a job seen twice", () => {
      const { jobs } = new NodeStore(file());
      expect(jobs.insert({ job: job(3n), input: "0x", inputUri: "", requestBlock: 1 })).to.equal(true);
      jobs.transition(3n, "claimed");
      expect(jobs.insert({ job: job(3n), input: "0x", inputUri: "", requestBlock: 1 })).to.equal(false);
      expect(jobs.get(3n)!.state).to.equal("claimed");
    });
  });

  describe("outbox", () => {
    it("stores one transaction per key: a second signing for the same key is rejected", () => {
      const { outbox } = new NodeStore(file());
      outbox.insert(
        {
          key: outboxKey.submit(1n),
          kind: "submit",
          jobId: 1n,
          nonce: 0,
          to: ZeroAddress,
          data: "0x",
          gasLimit: 21_000n,
        },
        attempt("0xaa"),
      );
      expect(() =>
        outbox.insert(
          {
            key: outboxKey.submit(1n),
            kind: "submit",
            jobId: 1n,
            nonce: 1,
            to: ZeroAddress,
            data: "0x01",
            gasLimit: 21_000n,
          },
          attempt("0xbb"),
        ),
      ).to.throw(/UNIQUE/);
      expect(outbox.pending().map((t) => t.hash)).to.deep.equal(["0xaa"]);
    });

    it("keeps replacements with the transaction, and everything survives a reopen", () => {
      const f = file();
      const store = new NodeStore(f);
      const tx = store.outbox.insert(
        { key: outboxKey.claimSlot(1n), kind: "claimSlot", nonce: 4, to: ZeroAddress, data: "0x", gasLimit: 50_000n },
        attempt("0x01"),
      );
      store.outbox.addAttempt(tx.id, attempt("0x02"));
      store.outbox.setExpectedNonce(5);
      store.close();
      const { outbox } = new NodeStore(f);
      expect(outbox.attempts(tx.id).map((a) => a.hash)).to.deep.equal(["0x01", "0x02"]);
      expect(outbox.get(outboxKey.claimSlot(1n))).to.include({ hash: "0x02", nonce: 4, status: "pending" });
      expect(outbox.expectedNonce()).to.equal(5);
      expect(outbox.maxNonce()).to.equal(4);
    });
  });

  describe("outboxKey", () => {
    it("starts every key with its kind, and gives every kind a builder", () => {
      expect(Object.keys(outboxKey).sort()).to.deep.equal([...OUTBOX_KINDS].sort());
      const keys: [string, string][] = [
        [outboxKey.claimSlot(7n), "claimSlot"],
        [outboxKey.submit(7n), "submit"],
        [outboxKey.commit(7n), "commit"],
        [outboxKey.reveal(7n), "reveal"],
        [outboxKey.batch([7n, 9n]), "batch"],
        [outboxKey.withdrawEarnings(1_700_000_000_000), "withdrawEarnings"],
      ];
      for (const [key, kind] of keys) expect(kindOf(key), key).to.equal(kind);
    });

    it("names a job's transactions by its id, a batch by its members, a withdrawal by its time", () => {
      expect([outboxKey.claimSlot(7n), outboxKey.submit(7n), outboxKey.commit(7n), outboxKey.reveal(7n)]).to.deep.equal(
        ["claimSlot:7", "submit:7", "commit:7", "reveal:7"],
      );
      expect(outboxKey.batch([3n, 12n])).to.equal("batch:3,12");
      expect(outboxKey.withdrawEarnings(1_700_000_000_000)).to.equal("withdrawEarnings:1700000000000");
      expect(outboxKey.claimSlot(7n)).to.not.equal(outboxKey.withdrawEarnings(7));
    });
  });

  describe("reorganisations", () => {
    it("recordRequest keeps a known job, restores a stale one with the same terms, and orphans one whose id now has other terms", () => {
      const store = new NodeStore(file());
      const { jobs, outbox } = store;
      expect(store.recordRequest({ job: job(1n), input: "0x01", inputUri: "", requestBlock: 5 })).to.equal("inserted");
      jobs.transition(1n, "claimed");
      outbox.insert(
        {
          key: outboxKey.claimSlot(1n),
          kind: "claimSlot",
          jobId: 1n,
          nonce: 0,
          to: ZeroAddress,
          data: "0x",
          gasLimit: 1n,
        },
        attempt("0xc1"),
      );
      outbox.finish(outbox.get(outboxKey.claimSlot(1n))!.id, { status: "mined", block: 6 });
      expect(store.recordRequest({ job: job(1n), input: "0x01", inputUri: "", requestBlock: 5 })).to.equal("known");

      const undone = store.rewind(4);
      expect(undone).to.deep.include({ txs: 1, stale: 1 });
      expect(undone.jobs).to.deep.equal([{ jobId: 1n, from: "claimed", to: "seen" }]);
      expect(outbox.get(outboxKey.claimSlot(1n))).to.include({ status: "pending" });
      expect(jobs.inStates(["seen"])).to.deep.equal([]); // stale: not acted on
      expect(store.recordRequest({ job: job(1n), input: "0x01", inputUri: "", requestBlock: 7 })).to.equal("restored");
      expect(jobs.get(1n)).to.include({ state: "seen", stale: false, requestBlock: 7 });

      const other = { ...job(1n), feePerNode: 9n };
      expect(store.recordRequest({ job: other, input: "0x02", inputUri: "", requestBlock: 8 })).to.equal("replaced");
      expect(jobs.get(1n)!.job).to.deep.equal(other);
      expect(jobs.orphaned(1n).map((o) => o.job)).to.deep.equal([job(1n)]);
      expect(outbox.get(outboxKey.claimSlot(1n))).to.equal(undefined);
      expect(outbox.pending().map((t) => [t.key, t.jobId])).to.deep.equal([["claimSlot:1~orphaned-1", undefined]]);
      expect(() => jobs.transition(1n, "claimed", {}, job(1n))).to.throw(/replaced by other terms/);
    });

    it("rewind voids receipts and events of the dropped blocks only; the follower forgets their hashes in the same transaction", () => {
      const store = new NodeStore(file());
      const { jobs, outbox, cursor } = store;
      store.recordRequest({ job: job(2n), input: "0x01", inputUri: "", requestBlock: 3 });
      jobs.transition(2n, "claimed");
      jobs.transition(2n, "computed", { output: "0xaa" });
      jobs.transition(2n, "submitted");
      jobs.transition(2n, "settled", { finalBlock: 9 });
      for (const [kind, nonce, block] of [
        ["claimSlot", 0, 4],
        ["submit", 1, 9],
      ] as const) {
        outbox.insert(
          { key: outboxKey[kind](2n), kind, jobId: 2n, nonce, to: ZeroAddress, data: "0x", gasLimit: 1n },
          attempt(`0x0${nonce}`),
        );
        outbox.finish(outbox.get(outboxKey[kind](2n))!.id, { status: "mined", block });
      }
      cursor.recordBlocks(
        [4, 8, 9].map((number) => ({ number, hash: `0x${number}` })),
        0,
      );
      cursor.setCursor(9);
      // What the chain follower does on a reorganisation (core/follower.ts): the node's rewind, then its own.
      const rewound = cursor.atomically(() => {
        const undone = store.rewind(8);
        cursor.forgetAbove(8);
        cursor.setCursor(8);
        return undone;
      });
      expect(rewound.jobs).to.deep.equal([{ jobId: 2n, from: "settled", to: "computed" }]);
      expect(jobs.get(2n)).to.include({ state: "computed", output: "0xaa", stale: false, finalBlock: undefined });
      expect(outbox.pending().map((t) => t.key)).to.deep.equal(["submit:2"]);
      expect(cursor.blockHashes().map((b) => b.number)).to.deep.equal([4, 8]);
      expect(cursor.cursor()).to.equal(8);
    });
  });

  describe("batched submissions", () => {
    it("a planned batch is none until its transaction is stored; then it belongs to every member, and a rewind reaches them all", () => {
      const store = new NodeStore(file());
      const { jobs, outbox } = store;
      for (const id of [1n, 2n, 3n]) {
        store.recordRequest({ job: job(id), input: "0x01", inputUri: "", requestBlock: 3 });
        outbox.insert(
          {
            key: outboxKey.claimSlot(id),
            kind: "claimSlot",
            jobId: id,
            nonce: Number(id),
            to: ZeroAddress,
            data: "0x",
            gasLimit: 1n,
          },
          attempt(`0x0${id}`),
        );
        outbox.finish(outbox.get(outboxKey.claimSlot(id))!.id, { status: "mined", block: 4 });
        jobs.transition(id, "claimed");
        jobs.transition(id, "computed", { output: "0xaa" });
      }
      outbox.planBatch(outboxKey.batch([1n, 2n, 3n]), [1n, 2n, 3n]);
      expect(outbox.batchOf(1n)).to.equal(undefined);
      // A crash before signing: the next batch replaces the plan.
      outbox.planBatch(outboxKey.batch([1n, 2n]), [1n, 2n]);
      expect(outbox.batchMembers("batch:1,2,3")).to.deep.equal([3n]);
      outbox.insert(
        { key: outboxKey.batch([1n, 2n]), kind: "batch", nonce: 9, to: ZeroAddress, data: "0x", gasLimit: 1n },
        attempt("0x09"),
      );
      expect(outbox.batchOf(1n)?.key).to.equal("batch:1,2");
      expect(outbox.batchOf(3n)).to.equal(undefined);
      expect(outbox.ofJob(2n).map((t) => t.key)).to.deep.equal(["claimSlot:2", "batch:1,2"]);
      for (const id of [1n, 2n]) jobs.transition(id, "submitted");
      outbox.finish(outbox.get("batch:1,2")!.id, { status: "mined", block: 9 });
      for (const id of [1n, 2n]) jobs.transition(id, "settled", { finalBlock: 9 });
      const moved = store.rewind(8).jobs.map((j) => [j.jobId, j.to]);
      expect(moved).to.deep.equal([
        [1n, "computed"],
        [2n, "computed"],
      ]);
      expect(jobs.get(3n)?.state).to.equal("computed");
    });
  });

  describe("stateAfterRewind", () => {
    const row = (redundancy: bigint, output?: string) => ({
      jobId: 1n,
      state: "settled" as const,
      job: { ...job(1n), redundancy },
      input: "0x",
      inputUri: "",
      output,
      seenAt: 0,
      requestBlock: 1,
      stale: false,
    });
    const tx = (
      kind: "claimSlot" | "submit" | "commit" | "reveal",
      status: "pending" | "mined" | "reverted",
    ): TxRow => ({
      id: 1,
      key: outboxKey[kind](1n),
      kind,
      nonce: 0,
      to: ZeroAddress,
      data: "0x",
      gasLimit: 1n,
      status,
      hash: "0x",
      createdAt: 0,
      updatedAt: 0,
    });

    it("is the furthest state the job's mined transactions support", () => {
      expect(stateAfterRewind(row(1n), [])).to.equal("seen");
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claimSlot", "pending")])).to.equal("seen");
      expect(stateAfterRewind(row(1n), [tx("claimSlot", "mined")])).to.equal("claimed");
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claimSlot", "mined"), tx("submit", "pending")])).to.equal(
        "computed",
      );
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claimSlot", "mined"), tx("submit", "mined")])).to.equal("settled");
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claimSlot", "mined"), tx("submit", "reverted")])).to.equal(
        "failed",
      );
      expect(
        stateAfterRewind(row(2n, "0xaa"), [tx("claimSlot", "mined"), tx("commit", "mined"), tx("reveal", "pending")]),
      ).to.equal("committed");
      expect(
        stateAfterRewind(row(2n, "0xaa"), [tx("claimSlot", "mined"), tx("commit", "mined"), tx("reveal", "mined")]),
      ).to.equal("revealed");
    });

    it("lets a job's own submission decide after its batch reverted", () => {
      const batch = (status: "pending" | "mined" | "reverted"): TxRow => ({
        ...tx("submit", status),
        kind: "batch",
        key: outboxKey.batch([1n, 2n]),
      });
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claimSlot", "mined"), batch("mined")])).to.equal("settled");
      expect(
        stateAfterRewind(row(1n, "0xaa"), [tx("claimSlot", "mined"), batch("reverted"), tx("submit", "mined")]),
      ).to.equal("settled");
      expect(
        stateAfterRewind(row(1n, "0xaa"), [tx("claimSlot", "mined"), batch("reverted"), tx("submit", "pending")]),
      ).to.equal("computed");
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claimSlot", "mined"), batch("reverted")])).to.equal("failed");
    });

    it("reads nothing from a withdrawal of earnings (escrow.claim is not a slot claim)", () => {
      const withdrawal: TxRow = {
        ...tx("claimSlot", "mined"),
        kind: "withdrawEarnings",
        key: outboxKey.withdrawEarnings(1),
      };
      expect(stateAfterRewind(row(1n, "0xaa"), [withdrawal])).to.equal("seen");
    });
  });

  describe("migration from schema 2 (outbox kinds before store/outbox.ts, the cursor in meta)", () => {
    const escrow = JobEscrow__factory.createInterface();
    const node = "0x00000000000000000000000000000000000000a1";
    const claimSlot = escrow.encodeFunctionData("claimSlot", [job(1n)]);
    const withdraw = escrow.encodeFunctionData("claim", [node]);

    /** A data directory as the node left it before the migration: version 2, its keys and kinds spelled by hand. */
    function oldDatabase(): string {
      const f = file();
      const db = new Database(f);
      db.exec(SCHEMA);
      db.exec(MIGRATIONS[0]!);
      db.exec(MIGRATIONS[1]!);
      db.pragma("user_version = 2");
      const insert = db.prepare(
        "INSERT INTO txs (key, job_id, kind, nonce, to_addr, data, gas_limit, status, hash, block, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, '1', ?, ?, ?, 0, 0)",
      );
      const rows: [string, string | null, string, string, string, number | null][] = [
        ["claim:1", "1", "claim", claimSlot, "mined", 30], // the daemon's claimSlot
        ["submit:1", "1", "submit", "0x", "pending", null],
        ["reward:1700000000000", null, "reward", withdraw, "pending", null], // the daemon's escrow.claim
        ["claim:1700000000001", null, "claim", withdraw, "mined", 31], // vin claim's escrow.claim
        ["claim:2~orphaned-1", null, "claim", claimSlot, "mined", 29], // a claimSlot of a job a reorganisation orphaned
        ["batch:3,4", null, "submit", "0x", "mined", 32],
        ["stake:1700000000002", null, "stake", "0x", "mined", 28],
      ];
      rows.forEach(([key, jobId, kind, data, status, block], nonce) =>
        insert.run(key, jobId, kind, nonce, ZeroAddress, data, status, `0x${nonce}`, block),
      );
      db.prepare("INSERT INTO batch_members (job_id, tx_key) VALUES (?, ?), (?, ?)").run(
        "3",
        "batch:3,4",
        "4",
        "batch:3,4",
      );
      for (const [key, value] of [
        ["lastProcessedBlock", "41"],
        ["expectedNonce", "7"],
        ["address", node],
      ])
        db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)").run(key, value);
      db.prepare("INSERT INTO blocks (number, hash) VALUES (40, '0x40'), (41, '0x41')").run();
      db.close();
      return f;
    }

    it("names each transaction by its kind, so the node finds what it signed before under the new keys", () => {
      const store = new NodeStore(oldDatabase());
      expect(store.db.version).to.equal(MIGRATIONS.length);
      const rows = store.db.sqlite.prepare("SELECT key, kind FROM txs ORDER BY nonce").all() as {
        key: string;
        kind: string;
      }[];
      expect(rows).to.deep.equal([
        { key: "claimSlot:1", kind: "claimSlot" },
        { key: "submit:1", kind: "submit" },
        { key: "withdrawEarnings:1700000000000", kind: "withdrawEarnings" },
        { key: "withdrawEarnings:1700000000001", kind: "withdrawEarnings" },
        { key: "claimSlot:2~orphaned-1", kind: "claimSlot" },
        { key: "batch:3,4", kind: "batch" },
        { key: "stake:1700000000002", kind: "stake" },
      ]);
      for (const row of rows) expect(kindOf(row.key)).to.equal(row.kind);
      expect(store.outbox.get(outboxKey.claimSlot(1n))).to.include({ status: "mined", block: 30, data: claimSlot });
      expect(store.outbox.batchOf(4n)).to.include({ key: outboxKey.batch([3n, 4n]), kind: "batch" });
      expect(store.outbox.pending().map((t) => t.kind)).to.deep.equal(["submit", "withdrawEarnings"]);
      expect(store.outbox.expectedNonce()).to.equal(7);
    });

    it("moves the chain cursor and the remembered block hashes to core's follower tables", () => {
      const store = new NodeStore(oldDatabase());
      expect(store.cursor.cursor()).to.equal(41);
      expect(store.cursor.blockHashes()).to.deep.equal([
        { number: 40, hash: "0x40" },
        { number: 41, hash: "0x41" },
      ]);
      expect(store.db.getMeta("lastProcessedBlock")).to.equal(undefined);
      expect(store.db.sqlite.prepare("SELECT name FROM sqlite_master WHERE name = 'blocks'").get()).to.equal(undefined);
    });

    it("leaves a migrated database as it is when opened again", () => {
      const f = oldDatabase();
      new NodeStore(f).close();
      const store = new NodeStore(f);
      expect(store.db.version).to.equal(MIGRATIONS.length);
      expect(store.cursor.cursor()).to.equal(41);
      expect(store.outbox.get(outboxKey.withdrawEarnings(1_700_000_000_000))).to.include({
        kind: "withdrawEarnings",
        status: "pending",
      });
    });

    it("gives a new database the same schema as a migrated one", () => {
      const columns = (store: NodeStore) =>
        store.db.sqlite
          .prepare(
            "SELECT m.name AS tbl, p.name AS col FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY m.name, p.cid",
          )
          .all();
      const fresh = new NodeStore(file());
      void fresh.cursor;
      const migrated = new NodeStore(oldDatabase());
      void migrated.cursor;
      expect(columns(fresh)).to.deep.equal(columns(migrated));
    });
  });
});

import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ZeroAddress, ZeroHash } from "ethers";
import type { Job } from "../../src/core/job";
import { JobStore, stateAfterRewind } from "../../src/node/store";

const job = (id: bigint): Job => ({
  id, requester: ZeroAddress, modelId: 1n, version: 1n, mode: 0n, redundancy: 1n, deadline: 100n, revealDeadline: 100n, inputHash: ZeroHash,
  modelOwner: ZeroAddress, verifier: ZeroAddress, modelFee: 1n, feePerNode: 2n, protocolFee: 3n, collateral: 4n, callback: ZeroAddress, callbackGasLimit: 0n, slashBeneficiaryBps: 5_000n,
});
const attempt = (hash: string) => ({ hash, raw: "0x01", maxFeePerGas: 2n, maxPriorityFeePerGas: 1n, createdAt: Date.now() });

describe("JobStore", () => {
  const file = () => JobStore.pathIn(mkdtempSync(path.join(os.tmpdir(), "vin-store-")));

  describe("transition", () => {
    it("walks seen -> claimed -> computed -> submitted -> settled and keeps the output", () => {
      const store = new JobStore(file());
      store.insertJob({ job: job(1n), input: "0x5b315d", inputUri: "", requestBlock: 1 });
      store.transition(1n, "claimed");
      store.transition(1n, "computed", { output: "0xabcd" });
      store.transition(1n, "submitted");
      store.transition(1n, "settled");
      const row = store.getJob(1n)!;
      expect(row).to.include({ state: "settled", output: "0xabcd" });
      expect(row.job).to.deep.equal(job(1n));
      expect(row.settledAt).to.be.a("number");
    });

    it("refuses a transition the state machine does not allow", () => {
      const store = new JobStore(file());
      store.insertJob({ job: job(2n), input: "0x", inputUri: "", requestBlock: 1 });
      expect(() => store.transition(2n, "submitted")).to.throw(/no transition from seen to submitted/);
      store.transition(2n, "skipped", { reason: "filled" });
      expect(() => store.transition(2n, "claimed")).to.throw(/no transition from skipped to claimed/);
    });

    it("ignores a job seen twice", () => {
      const store = new JobStore(file());
      expect(store.insertJob({ job: job(3n), input: "0x", inputUri: "", requestBlock: 1 })).to.equal(true);
      store.transition(3n, "claimed");
      expect(store.insertJob({ job: job(3n), input: "0x", inputUri: "", requestBlock: 1 })).to.equal(false);
      expect(store.getJob(3n)!.state).to.equal("claimed");
    });
  });

  describe("outbox", () => {
    it("stores one transaction per key: a second signing for the same key is rejected", () => {
      const store = new JobStore(file());
      store.insertTx({ key: "submit:1", kind: "submit", jobId: 1n, nonce: 0, to: ZeroAddress, data: "0x", gasLimit: 21_000n }, attempt("0xaa"));
      expect(() => store.insertTx({ key: "submit:1", kind: "submit", jobId: 1n, nonce: 1, to: ZeroAddress, data: "0x01", gasLimit: 21_000n }, attempt("0xbb"))).to.throw(/UNIQUE/);
      expect(store.pendingTxs().map((t) => t.hash)).to.deep.equal(["0xaa"]);
    });

    it("keeps replacements with the transaction, and everything survives a reopen", () => {
      const f = file();
      const store = new JobStore(f);
      const tx = store.insertTx({ key: "claim:1", kind: "claim", nonce: 4, to: ZeroAddress, data: "0x", gasLimit: 50_000n }, attempt("0x01"));
      store.addAttempt(tx.id, attempt("0x02"));
      store.setMeta("expectedNonce", "5");
      store.close();
      const reopened = new JobStore(f);
      expect(reopened.attemptsOf(tx.id).map((a) => a.hash)).to.deep.equal(["0x01", "0x02"]);
      expect(reopened.txByKey("claim:1")).to.include({ hash: "0x02", nonce: 4, status: "pending" });
      expect(reopened.getMeta("expectedNonce")).to.equal("5");
      expect(reopened.maxNonce()).to.equal(4);
    });
  });

  describe("reorganisations", () => {
    it("recordRequest keeps a known job, restores a stale one with the same terms, and orphans one whose id now has other terms", () => {
      const store = new JobStore(file());
      expect(store.recordRequest({ job: job(1n), input: "0x01", inputUri: "", requestBlock: 5 })).to.equal("inserted");
      store.transition(1n, "claimed");
      store.insertTx({ key: "claim:1", kind: "claim", jobId: 1n, nonce: 0, to: ZeroAddress, data: "0x", gasLimit: 1n }, attempt("0xc1"));
      store.finishTx(store.txByKey("claim:1")!.id, { status: "mined", block: 6 });
      expect(store.recordRequest({ job: job(1n), input: "0x01", inputUri: "", requestBlock: 5 })).to.equal("known");

      const undone = store.rewind(4);
      expect(undone).to.deep.include({ txs: 1, stale: 1 });
      expect(undone.jobs).to.deep.equal([{ jobId: 1n, from: "claimed", to: "seen" }]);
      expect(store.txByKey("claim:1")).to.include({ status: "pending" });
      expect(store.jobsIn(["seen"])).to.deep.equal([]); // stale: not acted on
      expect(store.recordRequest({ job: job(1n), input: "0x01", inputUri: "", requestBlock: 7 })).to.equal("restored");
      expect(store.getJob(1n)).to.include({ state: "seen", stale: false, requestBlock: 7 });

      const other = { ...job(1n), feePerNode: 9n };
      expect(store.recordRequest({ job: other, input: "0x02", inputUri: "", requestBlock: 8 })).to.equal("replaced");
      expect(store.getJob(1n)!.job).to.deep.equal(other);
      expect(store.orphanedJobs(1n).map((o) => o.job)).to.deep.equal([job(1n)]);
      expect(store.txByKey("claim:1")).to.equal(undefined);
      expect(store.pendingTxs().map((t) => [t.key, t.jobId])).to.deep.equal([["claim:1~orphaned-1", undefined]]);
      expect(() => store.transition(1n, "claimed", {}, job(1n))).to.throw(/replaced by other terms/);
    });

    it("rewind voids receipts and events of the dropped blocks only, and forgets their hashes", () => {
      const store = new JobStore(file());
      store.recordRequest({ job: job(2n), input: "0x01", inputUri: "", requestBlock: 3 });
      store.transition(2n, "claimed");
      store.transition(2n, "computed", { output: "0xaa" });
      store.transition(2n, "submitted");
      store.transition(2n, "settled", { finalBlock: 9 });
      for (const [key, nonce, block] of [["claim:2", 0, 4], ["submit:2", 1, 9]] as const) {
        store.insertTx({ key, kind: key.split(":")[0]!, jobId: 2n, nonce, to: ZeroAddress, data: "0x", gasLimit: 1n }, attempt(`0x0${nonce}`));
        store.finishTx(store.txByKey(key)!.id, { status: "mined", block });
      }
      store.recordBlocks([4, 8, 9].map((number) => ({ number, hash: `0x${number}` })), 0);
      expect(store.rewind(8).jobs).to.deep.equal([{ jobId: 2n, from: "settled", to: "computed" }]);
      expect(store.getJob(2n)).to.include({ state: "computed", output: "0xaa", stale: false, finalBlock: undefined });
      expect(store.pendingTxs().map((t) => t.key)).to.deep.equal(["submit:2"]);
      expect(store.blockHashes().map((b) => b.number)).to.deep.equal([4, 8]);
    });
  });

  describe("batched submissions", () => {
    it("a planned batch is none until its transaction is stored; then it belongs to every member, and a rewind reaches them all", () => {
      const store = new JobStore(file());
      for (const id of [1n, 2n, 3n]) {
        store.recordRequest({ job: job(id), input: "0x01", inputUri: "", requestBlock: 3 });
        store.insertTx({ key: `claim:${id}`, kind: "claim", jobId: id, nonce: Number(id), to: ZeroAddress, data: "0x", gasLimit: 1n }, attempt(`0x0${id}`));
        store.finishTx(store.txByKey(`claim:${id}`)!.id, { status: "mined", block: 4 });
        store.transition(id, "claimed");
        store.transition(id, "computed", { output: "0xaa" });
      }
      store.planBatch("batch:1,2,3", [1n, 2n, 3n]);
      expect(store.batchTxOf(1n)).to.equal(undefined);
      // A crash before signing: the next batch replaces the plan.
      store.planBatch("batch:1,2", [1n, 2n]);
      expect(store.batchMembers("batch:1,2,3")).to.deep.equal([3n]);
      store.insertTx({ key: "batch:1,2", kind: "submit", nonce: 9, to: ZeroAddress, data: "0x", gasLimit: 1n }, attempt("0x09"));
      expect(store.batchTxOf(1n)?.key).to.equal("batch:1,2");
      expect(store.batchTxOf(3n)).to.equal(undefined);
      expect(store.txsFor(2n).map((t) => t.key)).to.deep.equal(["claim:2", "batch:1,2"]);
      for (const id of [1n, 2n]) store.transition(id, "submitted");
      store.finishTx(store.txByKey("batch:1,2")!.id, { status: "mined", block: 9 });
      for (const id of [1n, 2n]) store.transition(id, "settled", { finalBlock: 9 });
      const moved = store.rewind(8).jobs.map((j) => [j.jobId, j.to]);
      expect(moved).to.deep.equal([[1n, "computed"], [2n, "computed"]]);
      expect(store.getJob(3n)?.state).to.equal("computed");
    });
  });

  describe("stateAfterRewind", () => {
    const row = (redundancy: bigint, output?: string) => ({ jobId: 1n, state: "settled" as const, job: { ...job(1n), redundancy }, input: "0x", inputUri: "", output, seenAt: 0, requestBlock: 1, stale: false });
    const tx = (kind: string, status: "pending" | "mined" | "reverted") => ({ id: 1, key: `${kind}:1`, kind, nonce: 0, to: ZeroAddress, data: "0x", gasLimit: 1n, status, hash: "0x", createdAt: 0, updatedAt: 0 });

    it("is the furthest state the job's mined transactions support", () => {
      expect(stateAfterRewind(row(1n), [])).to.equal("seen");
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claim", "pending")])).to.equal("seen");
      expect(stateAfterRewind(row(1n), [tx("claim", "mined")])).to.equal("claimed");
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claim", "mined"), tx("submit", "pending")])).to.equal("computed");
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claim", "mined"), tx("submit", "mined")])).to.equal("settled");
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claim", "mined"), tx("submit", "reverted")])).to.equal("failed");
      expect(stateAfterRewind(row(2n, "0xaa"), [tx("claim", "mined"), tx("commit", "mined"), tx("reveal", "pending")])).to.equal("committed");
      expect(stateAfterRewind(row(2n, "0xaa"), [tx("claim", "mined"), tx("commit", "mined"), tx("reveal", "mined")])).to.equal("revealed");
    });

    it("lets a job's own submission decide after its batch reverted", () => {
      const batch = (status: "pending" | "mined" | "reverted") => ({ ...tx("submit", status), key: "batch:1,2" });
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claim", "mined"), batch("reverted"), tx("submit", "mined")])).to.equal("settled");
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claim", "mined"), batch("reverted"), tx("submit", "pending")])).to.equal("computed");
      expect(stateAfterRewind(row(1n, "0xaa"), [tx("claim", "mined"), batch("reverted")])).to.equal("failed");
    });
  });
});

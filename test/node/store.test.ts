import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ZeroAddress, ZeroHash } from "ethers";
import type { Job } from "../../src/protocol/job";
import { JobStore } from "../../src/node/store";

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
});

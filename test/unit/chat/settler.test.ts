import { expect } from "chai";
import Database from "better-sqlite3";
import { hexlify, randomBytes, Wallet, ZeroHash } from "ethers";
import { signReceipt, type Receipt, type SignedReceipt } from "../../../src/core/receipts";
import { silentLogger } from "../../../src/core/log";
import { teeDomain } from "../../../src/core/tee";
import { BatchStatus, type LeafProofStruct } from "../../../src/node/receipt-settler";
import { ReceiptSettler, type SettlementChain, type SentTx } from "../../../src/node/receipt-settler";
import { ReceiptStore } from "../../../src/node/store/receipts";
import { ConflictError } from "../../../src/core/errors";

const OPERATOR = Wallet.createRandom().address;
const SETTLEMENT = Wallet.createRandom().address;
const DOMAIN = teeDomain(31337n, Wallet.createRandom().address);
const WINDOW = 3_600n;
const MAX_AGE = 7_200n;
const BOND = 100n;

/** An in-memory ReceiptSettlement and outbox: keys are sent once, transactions revert as `failNext` says. */
class FakeChain implements SettlementChain {
  time = 1_000_000n;
  creditPool = 10_000n;
  bond = 0n;
  locked = 0n;
  earned = 0n;
  withdrawn = 0n;
  failNext = new Set<string>();
  readonly sent = new Map<string, SentTx & { batchId?: bigint; committedAt?: bigint }>();
  readonly batches: { total: bigint; count: number; status: BatchStatus; unopened: number; at: bigint }[] = [];
  readonly openings = new Map<string, boolean>();
  readonly opened: { batchId: bigint; leaf: LeafProofStruct }[] = [];

  now = () => Promise.resolve(this.time);
  parameters = () => Promise.resolve({ challengeWindow: WINDOW, maxReceiptAge: MAX_AGE, batchBond: BOND });
  credit = () => Promise.resolve(this.creditPool);
  unlockedBond = () => Promise.resolve(this.bond - this.locked);
  balance = () => Promise.resolve(this.earned);
  batch = (batchId: bigint) => Promise.resolve(this.batches[Number(batchId) - 1]!);
  pendingOpenings = (batchId: bigint) =>
    Promise.resolve(
      [...this.openings]
        .filter(([key, closed]) => key.startsWith(`${batchId}:`) && !closed)
        .map(([key]) => Number(key.split(":")[1])),
    );
  inFlight = () => false;
  known = (key: string) => this.sent.has(key);
  /** Kinds whose next transaction is mined and then the process "crashes" before seeing its receipt. */
  crashAfter = new Set<string>();

  private once<T extends SentTx>(key: string, effect: () => T): Promise<T> {
    const known = this.sent.get(key);
    if (known !== undefined) return Promise.resolve(known as T);
    const result = this.failNext.delete(key.split(":")[0]!) ? ({ hash: key, status: 0 } as T) : effect();
    this.sent.set(key, result);
    if (this.crashAfter.delete(key.split(":")[0]!)) return Promise.reject(new Error("crash"));
    return Promise.resolve(result);
  }

  depositBond = (key: string, amount: bigint) =>
    this.once(key, () => {
      this.bond += amount;
      return { hash: key, status: 1 };
    });

  commitBatch = (key: string, batch: { count: number; total: bigint }) =>
    this.once(key, () => {
      if (this.creditPool < batch.total || this.bond - this.locked < BOND) throw new Error("commit reverts");
      this.creditPool -= batch.total;
      this.locked += BOND;
      this.batches.push({ ...batch, status: BatchStatus.Pending, unopened: 0, at: this.time });
      return { hash: key, status: 1, batchId: BigInt(this.batches.length), committedAt: this.time };
    });

  openLeaf = (key: string, batchId: bigint, leaf: LeafProofStruct) =>
    this.once(key, () => {
      this.openings.set(`${batchId}:${Number(leaf.index)}`, true);
      this.batches[Number(batchId) - 1]!.unopened -= 1;
      this.opened.push({ batchId, leaf });
      return { hash: key, status: 1 };
    });

  finalize = (key: string, batchId: bigint) =>
    this.once(key, () => {
      const batch = this.batches[Number(batchId) - 1]!;
      if (this.time < batch.at + WINDOW || batch.unopened > 0) return { hash: key, status: 0 };
      batch.status = BatchStatus.Finalized;
      this.locked -= BOND;
      this.earned += batch.total;
      return { hash: key, status: 1 };
    });

  withdraw = (key: string) =>
    this.once(key, () => {
      this.withdrawn += this.earned;
      this.earned = 0n;
      return { hash: key, status: 1 };
    });

  requestOpening(batchId: bigint, index: number): void {
    this.openings.set(`${batchId}:${index}`, false);
    this.batches[Number(batchId) - 1]!.unopened += 1;
  }
}

const enclave = Wallet.createRandom();

async function receipt(issuedAt: bigint, price = 7n): Promise<SignedReceipt> {
  const r: Receipt = {
    settlement: SETTLEMENT,
    operator: OPERATOR,
    enclave: enclave.address,
    modelId: 1n,
    version: 1n,
    requestHash: ZeroHash,
    responseHash: ZeroHash,
    promptTokens: 3n,
    completionTokens: 4n,
    price,
    paymentId: hexlify(randomBytes(32)),
    issuedAt,
  };
  return signReceipt(enclave, DOMAIN, r);
}

function setup(options: { batchMax?: number; batchAgeMs?: number } = {}) {
  const db = new Database(":memory:");
  const store = new ReceiptStore(db);
  const chain = new FakeChain();
  const published = new Map<string, string>();
  const settler = new ReceiptSettler(store, chain, silentLogger, {
    operator: OPERATOR,
    settlement: SETTLEMENT,
    domain: DOMAIN,
    batchMax: options.batchMax ?? 3,
    batchAgeMs: options.batchAgeMs ?? 60_000,
    publish: (hash, data) => published.set(hash, data),
  });
  return { db, store, chain, settler, published };
}

describe("ReceiptSettler", function () {
  describe("record", function () {
    it("refuses a payment id stored before with ConflictError", async function () {
      const { settler, chain } = setup();
      const r = await receipt(chain.time - 1n);
      settler.record(r);
      expect(() => settler.record(r)).to.throw(ConflictError, /stored already/);
    });
  });

  describe("step", function () {
    it("plans a batch once batchMax receipts wait, commits it, and publishes its data", async function () {
      const { settler, chain, store, published } = setup();
      for (let i = 0; i < 2; i++) settler.record(await receipt(chain.time - 1n));
      expect((await settler.step()).planned).to.deep.equal([]);
      settler.record(await receipt(chain.time - 1n));
      const step = await settler.step();
      expect(step.planned).to.deep.equal([1]);
      expect(step.committed).to.deep.equal([1n]);
      expect(chain.creditPool).to.equal(10_000n - 21n);
      expect(chain.bond).to.equal(BOND);
      const [batch] = store.inState("committed");
      expect(batch!.count).to.equal(3);
      expect(published.get(batch!.dataHash)).to.equal(batch!.data);
    });

    it("plans a smaller batch once its oldest receipt has waited batchAgeMs", async function () {
      const { settler, chain } = setup({ batchAgeMs: 30_000 });
      settler.record(await receipt(chain.time - 10n));
      expect((await settler.step()).committed).to.deep.equal([]);
      chain.time += 20n;
      expect((await settler.step()).committed).to.deep.equal([1n]);
      expect(chain.batches[0]!.count).to.equal(1);
    });

    it("waits for a receipt issued at the chain's latest time (a receipt from the future is a fault)", async function () {
      const { settler, chain } = setup({ batchMax: 1 });
      settler.record(await receipt(chain.time));
      expect((await settler.step()).committed).to.deep.equal([]);
      chain.time += 1n;
      expect((await settler.step()).committed).to.deep.equal([1n]);
    });

    it("sets aside receipts at three quarters of maxReceiptAge, never committing them", async function () {
      const { settler, chain, store } = setup({ batchMax: 1 });
      settler.record(await receipt(chain.time - (MAX_AGE * 3n) / 4n));
      expect((await settler.step()).committed).to.deep.equal([]);
      expect(store.counts()).to.deep.equal({ unbatched: 0, expired: 1 });
      expect(chain.batches).to.have.length(0);
    });

    it("waits while the credit pool holds less than the batch's total", async function () {
      const { settler, chain, store } = setup({ batchMax: 1 });
      chain.creditPool = 6n;
      settler.record(await receipt(chain.time - 1n));
      expect((await settler.step()).committed).to.deep.equal([]);
      expect(store.inState("planned")).to.have.length(1);
      chain.creditPool = 7n;
      expect((await settler.step()).committed).to.deep.equal([1n]);
      expect(chain.creditPool).to.equal(0n);
    });

    it("drops a batch that waited for credit until its receipts are too old to commit in time, committing nothing", async function () {
      const { settler, chain, store } = setup({ batchMax: 1 });
      chain.creditPool = 6n;
      settler.record(await receipt(chain.time - 1n));
      expect((await settler.step()).committed).to.deep.equal([]);
      chain.time += (MAX_AGE * 3n) / 4n;
      chain.creditPool = 7n;
      expect((await settler.step()).committed).to.deep.equal([]);
      expect(store.inState("failed")).to.have.length(1);
      expect((await settler.step()).planned).to.deep.equal([]);
      expect(store.counts()).to.deep.equal({ unbatched: 0, expired: 1 });
      expect(chain.batches).to.have.length(0);
      expect(chain.creditPool).to.equal(7n);
    });

    it("gives a reverted commit's receipts to a new batch, each payment id in one committed batch", async function () {
      const { settler, chain, store } = setup({ batchMax: 2 });
      const receipts = [await receipt(chain.time - 1n), await receipt(chain.time - 1n)];
      receipts.forEach((r) => settler.record(r));
      chain.failNext.add("commitReceiptBatch");
      expect((await settler.step()).committed).to.deep.equal([]);
      expect(store.inState("failed").map((b) => b.id)).to.deep.equal([1]);
      const step = await settler.step();
      expect(step.planned).to.deep.equal([2]);
      expect(step.committed).to.deep.equal([1n]);
      expect(store.members(2).map((s) => s.receipt.paymentId)).to.have.members(
        receipts.map((r) => r.receipt.paymentId),
      );
      expect((await settler.step()).planned).to.deep.equal([]);
    });

    it("answers requested openings in the window and finalizes after it, then withdraws the total", async function () {
      const { settler, chain, store } = setup({ batchMax: 2 });
      const receipts = [await receipt(chain.time - 1n, 5n), await receipt(chain.time - 1n, 8n)];
      receipts.forEach((r) => settler.record(r));
      await settler.step();
      chain.requestOpening(1n, 1);
      chain.time += 10n;
      const step = await settler.step();
      expect(step.opened).to.equal(1);
      expect(chain.opened[0]!.leaf.cumulative).to.equal(13n);
      expect(chain.opened[0]!.leaf.receipt.paymentId).to.equal(receipts[1]!.receipt.paymentId);
      expect((await settler.step()).finalized).to.deep.equal([]);
      chain.time += WINDOW;
      const last = await settler.step();
      expect(last.finalized).to.deep.equal([1n]);
      expect(last.withdrawn).to.equal(13n);
      expect(chain.withdrawn).to.equal(13n);
      expect(store.inState("finalized")).to.have.length(1);
      expect(chain.locked).to.equal(0n);
    });

    it("resumes after a restart from the store alone: the same keys, nothing committed twice", async function () {
      const { settler, chain, store, db } = setup({ batchMax: 1 });
      settler.record(await receipt(chain.time - 1n));
      await settler.step();
      const again = new ReceiptSettler(new ReceiptStore(db), chain, silentLogger, {
        operator: OPERATOR,
        settlement: SETTLEMENT,
        domain: DOMAIN,
        batchMax: 1,
        batchAgeMs: 60_000,
      });
      expect((await again.step()).committed).to.deep.equal([]);
      chain.time += WINDOW;
      expect((await again.step()).finalized).to.deep.equal([1n]);
      expect(chain.batches).to.have.length(1);
      expect(store.inState("finalized")).to.have.length(1);
    });

    it("resumes a commit mined before a crash even though the pool no longer holds its total", async function () {
      const { settler, chain, store } = setup({ batchMax: 1 });
      chain.creditPool = 7n;
      settler.record(await receipt(chain.time - 1n));
      chain.crashAfter.add("commitReceiptBatch");
      await settler.step().catch(() => undefined);
      expect(chain.creditPool).to.equal(0n);
      expect(store.inState("planned")).to.have.length(1);
      expect((await settler.step()).committed).to.deep.equal([1n]);
      expect(chain.batches).to.have.length(1);
    });

    it("records a batch the chain shows cancelled", async function () {
      const { settler, chain, store } = setup({ batchMax: 1 });
      settler.record(await receipt(chain.time - 1n));
      await settler.step();
      chain.batches[0]!.status = BatchStatus.Cancelled;
      await settler.step();
      expect(store.inState("cancelled")).to.have.length(1);
    });
  });
});

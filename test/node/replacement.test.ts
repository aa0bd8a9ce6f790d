import { expect } from "chai";
import Database from "better-sqlite3";
import { Transaction, toQuantity } from "ethers";
import { Mode } from "../../src/core/modes";
import { requestInference } from "../../src/sdk/requestInference";
import { toModelId } from "../../src/core/ids";
import { NodeStore, outboxKey } from "../../src/node/store";
import {
  createOperator,
  DaemonProcess,
  eventually,
  jobEvents,
  startDevnet,
  TOKEN,
  type Devnet,
  type Operator,
} from "./harness";

interface StoredAttempt {
  hash: string;
  raw: string;
  maxFee: bigint;
}

/** The outbox as the daemon left it: the transaction stored under `key` and every signed attempt of it. */
function outbox(
  operator: Operator,
  key: string,
): { status: string; hash: string; nonce: number; attempts: StoredAttempt[] } | undefined {
  const db = new Database(NodeStore.pathIn(operator.dataDir), { readonly: true });
  try {
    const tx = db.prepare("SELECT id, status, hash, nonce FROM txs WHERE key = ?").get(key) as
      { id: number; status: string; hash: string; nonce: number } | undefined;
    if (tx === undefined) return undefined;
    const rows = db
      .prepare("SELECT hash, raw, max_fee FROM tx_attempts WHERE tx_id = ? ORDER BY created_at, rowid")
      .all(tx.id) as { hash: string; raw: string; max_fee: string }[];
    return {
      status: tx.status,
      hash: tx.hash,
      nonce: tx.nonce,
      attempts: rows.map((r) => ({ hash: r.hash, raw: r.raw, maxFee: BigInt(r.max_fee) })),
    };
  } finally {
    db.close();
  }
}

describe("operator node: a stuck transaction is replaced (against a real hardhat node)", () => {
  let net: Devnet;
  const daemons: DaemonProcess[] = [];

  before(async () => {
    net = await startDevnet();
  });

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop()));
    await net.provider.send("evm_setAutomine", [true]);
    await net.provider.send("evm_setIntervalMining", [1_000]);
  });

  after(async () => {
    await net?.chain.stop();
  });

  it("re-signs a priced-out submission with higher fees and the same nonce; only the replacement lands, once", async () => {
    const operator = await createOperator(net, "bump", {
      modes: "vanilla",
      patch: { stuckTxMs: 1_000, claimThreshold: "0" },
    });
    const { job } = await requestInference({
      contracts: net.contracts,
      signer: net.requester,
      modelId: toModelId(net.modelId),
      mode: Mode.Vanilla,
      input: net.model.example,
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      durationSeconds: 3_600,
    });
    // The first run claims the slot (mined at once) and computes, then dies before it submits.
    const first = new DaemonProcess(operator, { VIN_CRASH_AT: "after-compute" });
    daemons.push(first);
    expect((await first.exited).signal).to.equal("SIGKILL");

    // From here on nothing is mined unless this test mines it.
    await net.provider.send("evm_setAutomine", [false]);
    await net.provider.send("evm_setIntervalMining", [0]);
    const daemon = new DaemonProcess(operator);
    daemons.push(daemon);
    const key = outboxKey.submit(job.id);
    const signed = await eventually("the signed submission", async () => outbox(operator, key), daemon);
    const original = signed.attempts[0]!;
    // A block whose base fee is twice what the submission pays at most: it stays in the mempool, unmined.
    await net.provider.send("hardhat_setNextBlockBaseFeePerGas", [toQuantity(original.maxFee * 2n)]);
    await net.provider.send("evm_mine", []);
    expect(await net.provider.getTransactionReceipt(original.hash)).to.equal(null);

    const replaced = await eventually(
      "a replacement",
      async () => {
        const tx = outbox(operator, key);
        return tx !== undefined && tx.attempts.length >= 2 ? tx : undefined;
      },
      daemon,
    );
    await daemon.waitForLog(/transaction stuck; replaced with higher fees/);
    await net.provider.send("evm_mine", []);
    await daemon.waitForLog(/"msg":"job settled"/);

    const settled = await jobEvents(net, "JobSettled", job.id);
    expect(settled).to.have.length(1);
    const landed = settled[0]!.transactionHash;
    const stored = outbox(operator, key)!;
    const hashes = stored.attempts.map((a) => a.hash);
    expect(hashes).to.include(landed);
    expect(landed).to.not.equal(original.hash);
    expect(await net.provider.getTransactionReceipt(original.hash)).to.equal(null);
    // Every attempt is the same transaction (nonce, destination, data) at a strictly higher fee than the one before.
    const decoded = stored.attempts.map((a) => Transaction.from(a.raw));
    expect(new Set(decoded.map((t) => t.nonce))).to.deep.equal(new Set([stored.nonce]));
    expect(new Set(decoded.map((t) => `${t.to}:${t.data}`)).size).to.equal(1);
    for (let i = 1; i < decoded.length; i++)
      expect(decoded[i]!.maxFeePerGas! > decoded[i - 1]!.maxFeePerGas!).to.equal(true);
    expect(stored).to.include({ status: "mined", hash: landed });
    expect(replaced.nonce).to.equal(stored.nonce);

    // Nothing was sent twice: one submit in the outbox, and every nonce the chain consumed is one outbox row.
    const db = new Database(NodeStore.pathIn(operator.dataDir), { readonly: true });
    const keys = (db.prepare("SELECT key FROM txs ORDER BY nonce").all() as { key: string }[]).map((r) => r.key);
    const state = (db.prepare("SELECT state FROM jobs WHERE job_id = ?").get(job.id.toString()) as { state: string })
      .state;
    db.close();
    expect(keys.filter((k) => k.startsWith("submit:"))).to.deep.equal([key]);
    expect(await net.provider.getTransactionCount(operator.address, "latest")).to.equal(keys.length);
    expect(state).to.equal("settled");
  });

  it("after a restart, replaces a stuck earnings withdrawal nobody waits for, and does not bump the slot claim queued behind it", async () => {
    const operator = await createOperator(net, "sweep", {
      modes: "vanilla",
      patch: { stuckTxMs: 1_000, claimThreshold: "1" },
    });
    const request = () =>
      requestInference({
        contracts: net.contracts,
        signer: net.requester,
        modelId: toModelId(net.modelId),
        mode: Mode.Vanilla,
        input: net.model.example,
        feePerNode: TOKEN / 2n,
        collateral: 10n * TOKEN,
        durationSeconds: 3_600,
      });
    await request();
    // The first run settles the job, then signs and stores its earnings withdrawal and dies before broadcasting it.
    const first = new DaemonProcess(operator, { VIN_CRASH_AT: "after-sign:withdrawEarnings" });
    daemons.push(first);
    expect((await first.exited).signal).to.equal("SIGKILL");
    const withdrawal = (db: Database.Database) =>
      (db.prepare("SELECT key FROM txs WHERE kind = 'withdrawEarnings'").get() as { key: string }).key;
    const db = new Database(NodeStore.pathIn(operator.dataDir), { readonly: true });
    const withdrawalKey = withdrawal(db);
    db.close();
    const { job } = await request();
    await net.provider.send("evm_mine", []); // one confirmation for the request
    await net.provider.send("evm_setAutomine", [false]);
    await net.provider.send("evm_setIntervalMining", [0]);

    // The restarted node re-broadcasts the withdrawal and claims the new job's slot with the next nonce; nothing is mined.
    const daemon = new DaemonProcess(operator);
    daemons.push(daemon);
    const claimKey = outboxKey.claimSlot(job.id);
    await eventually("the claim of the new job", async () => outbox(operator, claimKey), daemon);
    const before = outbox(operator, withdrawalKey)!.attempts.length;
    await eventually(
      "two more replacements of the withdrawal",
      async () => (outbox(operator, withdrawalKey)!.attempts.length >= before + 2 ? true : undefined),
      daemon,
    );
    // The slot claim waits behind the withdrawal's nonce: raising its fees could not get it mined, so they were not raised.
    expect(outbox(operator, claimKey)!.attempts).to.have.length(1);

    await net.provider.send("evm_mine", []);
    await net.provider.send("evm_setAutomine", [true]);
    await net.provider.send("evm_setIntervalMining", [1_000]);
    await eventually(
      "settlement of the new job",
      async () => ((await jobEvents(net, "JobSettled", job.id)).length > 0 ? true : undefined),
      daemon,
    );

    const stored = outbox(operator, withdrawalKey)!;
    expect(stored.status).to.equal("mined");
    expect(stored.attempts.slice(1).map((a) => a.hash)).to.include(stored.hash);
    expect(new Set(stored.attempts.map((a) => Transaction.from(a.raw).nonce))).to.deep.equal(new Set([stored.nonce]));
    const claimed = await net.contracts.escrow.queryFilter(
      net.contracts.escrow.filters.Claimed(operator.address),
      net.system.record.startBlock,
    );
    expect(claimed.map((e) => e.transactionHash)).to.include(stored.hash);
    // Every nonce the chain consumed is one outbox row, once nothing is pending (a later withdrawal may follow).
    const rows = await eventually(
      "an idle outbox",
      async () => {
        const check = new Database(NodeStore.pathIn(operator.dataDir), { readonly: true });
        const counts = check.prepare("SELECT COUNT(*) AS n, SUM(status = 'pending') AS pending FROM txs").get() as {
          n: number;
          pending: number;
        };
        check.close();
        if (counts.pending !== 0) return undefined;
        // Read together: a withdrawal signed between two separate reads would make them differ for a moment.
        const used = await net.provider.getTransactionCount(operator.address, "latest");
        return used === counts.n ? counts.n : undefined;
      },
      daemon,
    );
    expect(await net.provider.getTransactionCount(operator.address, "latest")).to.be.at.least(rows);
  });
});

import { expect } from "chai";
import { ZeroAddress, ZeroHash, hexlify, keccak256 } from "ethers";
import { OnnxModel, encodeClassification } from "../../src/inference/onnx";
import { Mode } from "../../src/core/modes";
import { encodeInput } from "../../src/core/job";
import { toJobId, toModelId } from "../../src/core/ids";
import { requestInference } from "../../src/sdk/requestInference";
import { waitForResult } from "../../src/sdk/waitForResult";
import { ESCROW_CURSOR, outboxKey } from "../../src/node/store";
import {
  createOperator,
  DaemonProcess,
  eventually,
  jobEvents,
  readDatabase,
  requesterWallet,
  startDevnet,
  TOKEN,
  type Devnet,
  type Operator,
} from "./harness";

/** Another penguin than the model's example (a Gentoo), so that its output differs. */
const OTHER_INPUT = [46.5, 13.5, 210, 4550];

describe("operator node: chain reorganisations (against a real hardhat node)", () => {
  let net: Devnet;
  const daemons: DaemonProcess[] = [];

  const start = (operator: Operator) => {
    const daemon = new DaemonProcess(operator);
    daemons.push(daemon);
    return daemon;
  };
  const outputFor = async (input: number[]) =>
    hexlify(encodeClassification(await (await OnnxModel.load(net.model.onnx)).run(input)));
  /** The block the daemon's chain follower has processed up to (core's follower table in the node's database). */
  const cursorOf = (operator: Operator) =>
    readDatabase(
      operator,
      (db) =>
        (
          db.prepare("SELECT block FROM follower_cursors WHERE name = ?").get(ESCROW_CURSOR) as
            { block: number } | undefined
        )?.block ?? -1,
    );
  /** Takes a snapshot once the daemon has processed the head, so it remembers a block the snapshot keeps. */
  const snapshotAfter = async (operator: Operator, daemon: DaemonProcess): Promise<string> => {
    const head = await net.provider.getBlockNumber();
    await eventually("the daemon at the head", async () => (cursorOf(operator) >= head ? true : undefined), daemon);
    return (await net.provider.send("evm_snapshot", [])) as string;
  };
  /** Reverts the chain to `snapshot` (dropping every later block and transaction) and resets the test's nonce caches. */
  const revert = async (snapshot: string) => {
    expect(await net.provider.send("evm_revert", [snapshot])).to.equal(true);
    net.requester.reset();
    net.deployer.reset();
  };
  const outbox = (operator: Operator) =>
    readDatabase(
      operator,
      (db) =>
        db.prepare("SELECT key, nonce, status, hash FROM txs ORDER BY nonce").all() as {
          key: string;
          nonce: number;
          status: string;
          hash: string;
        }[],
    );
  const idleOutbox = (operator: Operator, daemon: DaemonProcess) =>
    eventually(
      "an idle outbox",
      async () => {
        const txs = outbox(operator);
        return txs.every((t) => t.status !== "pending") ? txs : undefined;
      },
      daemon,
    );

  before(async () => {
    net = await startDevnet();
  });

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop()));
  });

  after(async () => {
    await net?.chain.stop();
  });

  it("a job id that a reorganisation gives to another job: the old job is orphaned, the new one served; old transactions cannot settle it", async () => {
    const operator = await createOperator(net, "reorg-other", {
      modes: "vanilla",
      patch: { confirmations: 0, claimThreshold: "0" },
    });
    const daemon = start(operator);
    await daemon.waitForLog(/operator node started/);
    const snapshot = await snapshotAfter(operator, daemon);
    const request = (input: number[]) =>
      requestInference({
        contracts: net.contracts,
        signer: net.requester,
        modelId: toModelId(net.modelId),
        mode: Mode.Vanilla,
        input,
        feePerNode: TOKEN / 2n,
        collateral: 10n * TOKEN,
        durationSeconds: 3_600,
      });

    // History 1: the job is requested, claimed, computed, submitted and settled; the daemon acts on all of it.
    const { job: dropped } = await request(net.model.example);
    await waitForResult({ escrow: net.contracts.escrow, jobId: toJobId(dropped.id), pollIntervalMs: 200 });
    await daemon.waitForLog(/"msg":"job settled"/);

    // History 2: those blocks never happened; the same job id now names a job with another input.
    await revert(snapshot);
    const { job } = await request(OTHER_INPUT);
    expect(job.id).to.equal(dropped.id);
    expect(job.inputHash).to.not.equal(dropped.inputHash);

    const result = await waitForResult({ escrow: net.contracts.escrow, jobId: toJobId(job.id), pollIntervalMs: 200 });
    expect(result.status === "settled" && result.output).to.equal(await outputFor(OTHER_INPUT));
    const settled = await jobEvents(net, "JobSettled", job.id);
    expect(settled).to.have.length(1);
    const claims = await net.contracts.escrow.queryFilter(
      net.contracts.escrow.filters.SlotClaimed(job.id),
      net.system.record.startBlock,
    );
    expect(claims.map((c) => c.args.node)).to.deep.equal([operator.address]);
    await daemon.waitForLog(/chain reorganisation: blocks this node processed were dropped/);
    await daemon.waitForLog(/this job id names another job: the old one is orphaned/);

    // The database: the job row carries the new terms; the old job is kept aside with its transactions detached.
    const txs = await idleOutbox(operator, daemon);
    const row = readDatabase(
      operator,
      (db) =>
        db.prepare("SELECT state, job FROM jobs WHERE job_id = ?").get(job.id.toString()) as {
          state: string;
          job: string;
        },
    );
    expect(row.state).to.equal("settled");
    expect((JSON.parse(row.job) as { inputHash: string }).inputHash).to.equal(job.inputHash);
    const orphans = readDatabase(
      operator,
      (db) => db.prepare("SELECT job FROM orphaned_jobs WHERE job_id = ?").all(job.id.toString()) as { job: string }[],
    );
    expect(orphans.map((o) => (JSON.parse(o.job) as { inputHash: string }).inputHash)).to.deep.equal([
      dropped.inputHash,
    ]);
    const old = txs.filter((t) => t.key.includes("~orphaned"));
    expect(old.map((t) => t.key.split("~")[0])).to.deep.equal([outboxKey.claimSlot(job.id), outboxKey.submit(job.id)]);
    // Their signed bytes were broadcast again (a dropped transaction returns to the mempool) and could only revert.
    expect(old.map((t) => t.status)).to.deep.equal(["reverted", "reverted"]);
    const current = txs.filter((t) => !t.key.includes("~"));
    expect(current.filter((t) => t.key === outboxKey.submit(job.id)).map((t) => t.hash)).to.deep.equal([
      settled[0]!.transactionHash,
    ]);
    expect(await net.provider.getTransactionCount(operator.address, "latest")).to.equal(txs.length);
  });

  it("after a restart, notices the reorganisation, re-reads the re-included request and lands its own same transactions again", async () => {
    const operator = await createOperator(net, "reorg-same", {
      modes: "vanilla",
      patch: { confirmations: 0, claimThreshold: "0" },
    });
    const wallet = requesterWallet(net);
    await (
      await net.contracts.token.connect(wallet).approve(await net.contracts.escrow.getAddress(), 1_000n * TOKEN)
    ).wait();
    net.requester.reset();
    let daemon = start(operator);
    await daemon.waitForLog(/operator node started/);
    const snapshot = await snapshotAfter(operator, daemon);
    const latest = await net.provider.getBlock("latest");
    const populated = await wallet.populateTransaction(
      await net.contracts.escrow.connect(wallet).request.populateTransaction({
        modelId: net.modelId,
        version: 1,
        mode: Mode.Vanilla,
        redundancy: 1,
        deadline: BigInt(latest!.timestamp + 3_600),
        feePerNode: TOKEN / 2n,
        collateral: 10n * TOKEN,
        maxTotal: 100n * TOKEN,
        callback: ZeroAddress,
        callbackGasLimit: 0,
        inputCommitment: ZeroHash,
        input: encodeInput(OTHER_INPUT),
        inputUri: "",
      }),
    );
    const raw = await wallet.signTransaction(populated);
    const receipt = await (await net.provider.broadcastTransaction(raw)).wait();
    const jobId = net.contracts.escrow.interface.parseLog(receipt!.logs.find((l) => l.address === receipt!.to)!)!.args
      .jobId as bigint;
    const [before] = await eventually(
      "settlement in history 1",
      async () => {
        const logs = await jobEvents(net, "JobSettled", jobId);
        return logs.length > 0 ? logs : undefined;
      },
      daemon,
    );
    await daemon.waitForLog(/"msg":"job settled"/);
    await daemon.stop();
    const sent = outbox(operator);

    // The reorganisation happens while the node is down: the request lands again (the same signed bytes, one block
    // later than before); the node's claim and submission are gone from the chain.
    await revert(snapshot);
    // Mine past the block the request first landed in, so the same bytes land strictly later (how many blocks the
    // node's own transactions took before the snapshot varies with timing).
    do await net.provider.send("evm_mine", []);
    while ((await net.provider.getBlockNumber()) < receipt!.blockNumber);
    const again = await (await net.provider.broadcastTransaction(raw)).wait();
    expect(again!.blockNumber).to.be.greaterThan(receipt!.blockNumber);
    expect(await net.provider.getTransactionCount(operator.address, "latest")).to.be.lessThan(sent.length);

    daemon = start(operator);
    const [after] = await eventually(
      "settlement in history 2",
      async () => {
        const logs = await jobEvents(net, "JobSettled", jobId);
        return logs.length > 0 ? logs : undefined;
      },
      daemon,
    );
    await daemon.waitForLog(/chain reorganisation: blocks this node processed were dropped/);
    await daemon.waitForLog(/job requested again after a chain reorganisation, with the same terms/);
    await daemon.waitForLog(/"msg":"job settled"/);
    // Nothing was signed again: the claim and the submission that settled the job are the very same transactions.
    expect(after!.transactionHash).to.equal(before!.transactionHash);
    const txs = await idleOutbox(operator, daemon);
    expect(txs.map((t) => [t.key, t.hash])).to.deep.equal(sent.map((t) => [t.key, t.hash]));
    expect(txs.every((t) => t.status === "mined")).to.equal(true);
    expect(await net.provider.getTransactionCount(operator.address, "latest")).to.equal(txs.length);
    const row = readDatabase(
      operator,
      (db) =>
        db.prepare("SELECT state, stale FROM jobs WHERE job_id = ?").get(jobId.toString()) as {
          state: string;
          stale: number;
        },
    );
    expect(row).to.deep.equal({ state: "settled", stale: 0 });
    expect(keccak256(net.contracts.escrow.interface.parseLog(after!)!.args.output as string)).to.equal(
      keccak256(await outputFor(OTHER_INPUT)),
    );
  });
});

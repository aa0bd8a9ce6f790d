import { expect } from "chai";
import { toUtf8Bytes, type Result } from "ethers";
import { clampToRange } from "../../src/models";
import { Mode } from "../../src/core/modes";
import { addressesFromRecord, connectContracts } from "../../src/core/contracts";
import { toJobId, toModelId } from "../../src/core/ids";
import { FsContentStore } from "../../src/node/content-store";
import { requestInference } from "../../src/sdk/requestInference";
import { verifyResult } from "../../src/sdk/verifyResult";
import { waitForResult } from "../../src/sdk/waitForResult";
import { buildSlotCircuit } from "../../src/zkml/batch-circuit";
import { decodeZkSlotProof, isZkSlotProof, slotVerifyingKeyArgs } from "../../src/zkml/batch-solidity";
import { decodeZkOutput } from "../../src/zkml/claim";
import { registerZkModel, type ZkDeployment } from "../../src/zkml/deploy";
import { releaseSnarkjs } from "../../src/zkml/prover";
import { quantizeInput } from "../../src/zkml/quantize";
import { evaluateQuantized } from "../../src/zkml/reference";
import { slotVersionFiles, verifySlotProof } from "../../src/zkml/verify-slots";
import { ZK_POWER } from "../zkml/fixtures";
import {
  createOperator,
  DaemonProcess,
  publishZkModel,
  readDatabase,
  startDevnet,
  TOKEN,
  type Devnet,
  type Operator,
} from "./harness";

const SLOTS = 4;

/**
 * A ZK operator configured with `zkBatch` (4 slots) against a real hardhat node: the penguin classifier published
 * with its 4-slot key as version files and the key bound on-chain (`setSlotVerifier`). Three jobs settle with one
 * `submitBatch` carrying one padded 4-slot proof; a version whose published slot key is not the bound one has its key
 * refused and its job proved on its own.
 */
describe("operator node: one N-slot proof for the ZK jobs of a version (against a real hardhat node)", () => {
  let net: Devnet;
  let deployment: ZkDeployment;
  let batched: bigint;
  let mismatched: bigint;
  let operator: Operator;
  let daemon: DaemonProcess;

  const request = async (modelId: bigint, row: number) =>
    requestInference({
      contracts: connectContracts(addressesFromRecord(net.system.record), net.requester),
      signer: net.requester,
      modelId: toModelId(modelId),
      mode: Mode.Zk,
      input: clampToRange(net.model.test.x[row]!, net.model.inputRange),
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      zk: { model: deployment.zk.model },
    });

  const settledIn = async (jobId: bigint, row: number, fromBlock: number): Promise<string> => {
    const result = await waitForResult({
      escrow: net.contracts.escrow,
      jobId: toJobId(jobId),
      pollIntervalMs: 200,
      timeoutMs: 300_000,
    });
    expect(result.status, daemon.output.slice(-3_000)).to.equal("settled");
    const reference = evaluateQuantized(
      deployment.zk.model,
      quantizeInput(deployment.zk.model, clampToRange(net.model.test.x[row]!, net.model.inputRange)),
    );
    expect(decodeZkOutput(deployment.zk.model, result.status === "settled" ? result.output : "0x").classIndex).to.equal(
      reference.argmax,
    );
    const events = await net.contracts.escrow.queryFilter(net.contracts.escrow.filters.JobSettled(jobId), fromBlock);
    expect(events, `job ${jobId} settles once`).to.have.length(1);
    return events[0]!.transactionHash;
  };

  before(async () => {
    net = await startDevnet();
    ({ deployment } = await publishZkModel(net, ZK_POWER));
    const slots = await buildSlotCircuit({ model: deployment.zk.model, slots: SLOTS, minPower: ZK_POWER });
    const withSlots = { ...deployment, files: [...deployment.files, ...(await slotVersionFiles(slots))] };
    const content = new FsContentStore(net.contentDir);
    for (const file of withSlots.files) await content.add(file.bytes);
    const register = async () =>
      (
        await registerZkModel({
          registry: net.contracts.registry.connect(net.requester),
          deployment: withSlots,
          onnx: net.model.onnx,
          card: toUtf8Bytes(net.model.card),
          price: TOKEN,
        })
      ).modelId;
    batched = await register();
    mismatched = await register();
    const zkVerifier = net.system.zkVerifier.connect(net.requester);
    const key = slotVerifyingKeyArgs(slots.setup.vk);
    await (await zkVerifier.setSlotVerifier(batched, 1, key)).wait();
    // A valid key of 4 public signals, but not this circuit's: IC1 and IC2 swapped.
    const other = [...key.slice(0, 16), ...key.slice(18, 20), ...key.slice(16, 18), ...key.slice(20)];
    await (await zkVerifier.setSlotVerifier(mismatched, 1, other)).wait();
    await (
      await net.contracts.token.connect(net.requester).approve(await net.contracts.escrow.getAddress(), 1_000n * TOKEN)
    ).wait();
    operator = await createOperator(net, "zk-slots", {
      modes: "zk",
      patch: { confirmations: 0, zkBatch: { slots: SLOTS, maxWaitMs: 15_000 } },
    });
    daemon = new DaemonProcess(operator);
    await daemon.waitForLog(/operator node started/);
  });

  after(async () => {
    await daemon?.stop();
    await net?.chain.stop();
    await releaseSnarkjs();
  });

  it("settles 3 jobs of one version with one submitBatch carrying one padded 4-slot proof; each result verifies", async () => {
    const rows = [6, 7, 8];
    const jobs = [];
    for (const row of rows) jobs.push(await request(batched, row));
    const fromBlock = jobs[0]!.blockNumber;
    const txs = [];
    for (const [i, requested] of jobs.entries()) txs.push(await settledIn(requested.job.id, rows[i]!, fromBlock));
    expect(new Set(txs).size, "one transaction settled every job").to.equal(1);
    const tx = await net.provider.getTransaction(txs[0]!);
    const call = net.contracts.escrow.interface.parseTransaction(tx!)!;
    expect(call.name).to.equal("submitBatch");
    expect(tx!.from.toLowerCase()).to.equal(operator.address.toLowerCase());
    expect((call.args.jobs as Result[]).map((j) => j[0] as bigint)).to.deep.equal(jobs.map((j) => j.job.id));
    const proof = call.args.proof as string;
    expect(isZkSlotProof(proof)).to.equal(true);
    expect(decodeZkSlotProof(proof).slots).to.equal(SLOTS);
    // No other settling transaction from the operator: a claim per job, then this one submitBatch.
    const head = await net.provider.getBlockNumber();
    let escrowTxs = 0;
    for (let b = fromBlock; b <= head; b++) {
      const block = await net.provider.getBlock(b, true);
      for (const t of block!.prefetchedTransactions)
        if (t.from.toLowerCase() === operator.address.toLowerCase()) {
          const name = net.contracts.escrow.interface.parseTransaction(t)?.name;
          if (name === "submit" || name === "submitBatch") escrowTxs++;
        }
    }
    expect(escrowTxs, "settling transactions sent by the operator").to.equal(1);
    await daemon.waitForLog(/"msg":"3 ZK jobs proved in one 4-slot proof"/);
    const proved = JSON.parse(
      daemon.output.split("\n").find((l) => l.includes('"msg":"3 ZK jobs proved in one 4-slot proof"'))!,
    ) as { jobs: number; slots: number; proveSeconds: number };
    expect(proved).to.include({ jobs: 3, slots: SLOTS });
    console.log(
      `      the daemon proved 3 jobs in one 4-slot proof in ${proved.proveSeconds.toFixed(2)} s (witness + Groth16)`,
    );
    expect(daemon.output).to.match(/"msg":"slot circuit rebuilt and its key verified against the bound slot verifier"/);
    for (const requested of jobs)
      expect(
        readDatabase(
          operator,
          (db) =>
            (
              db.prepare("SELECT state FROM jobs WHERE job_id = ?").get(requested.job.id.toString()) as {
                state: string;
              }
            ).state,
        ),
      ).to.equal("settled");
    // The N-slot proof checks off-chain against the key of the slot verifier the version's owner bound.
    const slotCheck = await verifySlotProof({
      runner: net.provider,
      zkVerifier: jobs[0]!.job.verifier,
      modelId: batched,
      version: 1n,
      inputHashes: jobs.map((j) => j.job.inputHash),
      proof,
    });
    expect(slotCheck.valid).to.equal(true);
    for (const requested of jobs) {
      const report = await verifyResult({
        contracts: net.contracts,
        provider: net.provider,
        jobId: toJobId(requested.job.id),
        fromBlock,
        content: new FsContentStore(net.contentDir),
      });
      // verifyResult reads the slot proof: the slot key rebuilt from the version's files, the job's slot, the proof.
      expect(
        report.checks.filter((c) => !c.ok),
        JSON.stringify(report.checks),
      ).to.deep.equal([]);
      expect(report.ok).to.equal(true);
      expect(report.checks.filter((c) => c.ok).map((c) => c.name)).to.include.members([
        "settled",
        "resultOf hash",
        "one JobSettled",
        "calldata output",
        "4-slot key rebuilt from the version's files",
        "Groth16 proof (off-chain)",
        "JobSettled output",
      ]);
    }
  });

  it("refuses a published slot key that is not the bound one, naming the mismatch, and proves the job on its own", async () => {
    const requested = await request(mismatched, 3);
    const tx = await settledIn(requested.job.id, 3, requested.blockNumber);
    const call = net.contracts.escrow.interface.parseTransaction((await net.provider.getTransaction(tx))!)!;
    expect(call.name).to.equal("submit");
    await daemon.waitForLog(
      new RegExp(
        `"model":"model ${mismatched}@1".*"err":"model ${mismatched}@1: the 4-slot proving key.s verifying key hashes to [^"]*".*"msg":"refusing the version's slot key"`,
      ),
    );
    expect(daemon.output).to.match(
      new RegExp(`"reason":"model ${mismatched}@1: [^"]*hashes to 0x[0-9a-f]{64}, the version binds 0x[0-9a-f]{64}"`),
    );
  });
});

import { expect } from "chai";
import { toUtf8Bytes, ZeroAddress } from "ethers";
import { clampToRange } from "../../src/models";
import { Mode } from "../../src/core/modes";
import { addressesFromRecord, connectContracts } from "../../src/core/contracts";
import { toJobId, toModelId } from "../../src/core/ids";
import { requestInference } from "../../src/sdk/requestInference";
import { verifyResult } from "../../src/sdk/verifyResult";
import { waitForResult } from "../../src/sdk/waitForResult";
import { decodeZkOutput } from "../../src/zkml/claim";
import { registerZkModel, type ZkDeployment } from "../../src/zkml/deploy";
import { writeMlpOnnx } from "../../src/zkml/onnx-writer";
import { FsContentStore } from "../../src/node/content-store";
import { encodeZkJobInput, zkJobRequest } from "../../src/zkml/job";
import { evaluateQuantized } from "../../src/zkml/reference";
import { quantizeInput } from "../../src/zkml/quantize";
import { releaseSnarkjs } from "../../src/zkml/prover";
import { randomMlp, ZK_POWER } from "../zkml/fixtures";
import {
  createOperator,
  DaemonProcess,
  eventually,
  publishZkModel,
  readDatabase,
  startDevnet,
  TOKEN,
  type Devnet,
  type Operator,
} from "./harness";

/**
 * A ZK-mode operator daemon against a real hardhat node: the penguin classifier published with its circuit, a dApp
 * request committed with Poseidon as the circuit does, and the daemon loading the circuit by CID, proving and
 * settling — and refusing, before it claims, a job whose input does not open its commitment.
 */
describe("operator node: ZK mode (against a real hardhat node)", () => {
  let net: Devnet;
  let model: Devnet["model"];
  let deployment: ZkDeployment;
  let modelId: bigint;
  let operator: Operator;
  let daemon: DaemonProcess;

  const jobRow = (jobId: bigint) =>
    readDatabase(
      operator,
      (db) =>
        db.prepare("SELECT state, reason FROM jobs WHERE job_id = ?").get(jobId.toString()) as
          { state: string; reason: string | null } | undefined,
    );

  before(async () => {
    net = await startDevnet();
    model = net.model;
    ({ modelId, deployment } = await publishZkModel(net, ZK_POWER));
    await (
      await net.contracts.token.connect(net.requester).approve(await net.contracts.escrow.getAddress(), 1_000n * TOKEN)
    ).wait();
    // A long batch window, so that the jobs of the batch test below are surely in one batch.
    operator = await createOperator(net, "zk", { modes: "zk", patch: { confirmations: 0, zkBatchWindowMs: 8_000 } });
    daemon = new DaemonProcess(operator);
    await daemon.waitForLog(/operator node started/);
  });

  after(async () => {
    await daemon?.stop();
    await net?.chain.stop();
    await releaseSnarkjs();
  });

  it("proves and settles a ZK job requested through the SDK; the output is the circuit's answer and re-verifies off-chain", async () => {
    const x = clampToRange(model.test.x[3]!, model.inputRange);
    const requested = await requestInference({
      contracts: connectContracts(addressesFromRecord(net.system.record), net.requester),
      signer: net.requester,
      modelId: toModelId(modelId),
      mode: Mode.Zk,
      input: x,
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      zk: { model: deployment.zk.model },
    });
    const result = await waitForResult({
      escrow: net.contracts.escrow,
      jobId: toJobId(requested.job.id),
      pollIntervalMs: 200,
      timeoutMs: 300_000,
    });
    expect(result.status, daemon.output.slice(-2_000)).to.equal("settled");
    const reference = evaluateQuantized(deployment.zk.model, quantizeInput(deployment.zk.model, x));
    expect(decodeZkOutput(deployment.zk.model, result.status === "settled" ? result.output : "0x").classIndex).to.equal(
      reference.argmax,
    );
    await daemon.waitForLog(new RegExp(`"jobId":"${requested.job.id}".*"msg":"job settled"`));
    expect(jobRow(requested.job.id)?.state).to.equal("settled");
    const report = await verifyResult({
      contracts: net.contracts,
      provider: net.provider,
      jobId: toJobId(requested.job.id),
      fromBlock: requested.blockNumber,
      content: new FsContentStore(net.contentDir),
    });
    expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
    // The daemon rebuilt the circuit and checked its setup before its first claim of the version.
    const verified = daemon.output
      .split("\n")
      .filter((l) => l.includes('"msg":"ZK circuit rebuilt and its setup verified"'));
    expect(verified).to.have.length(1);
    const timing = JSON.parse(verified[0]!) as {
      model: string;
      verifier: string;
      vkHash: string;
      compileSeconds: number;
      zkeyVerifySeconds: number;
    };
    expect(timing).to.include({
      model: `model ${modelId}@1`,
      verifier: deployment.verifier,
      vkHash: deployment.vkHash,
    });
    console.log(
      `      the daemon trusted the penguins circuit in ${timing.compileSeconds.toFixed(1)} s (recompile) + ${timing.zkeyVerifySeconds.toFixed(1)} s (zkey verify)`,
    );
  });

  it("settles several ZK jobs of one model version with one submitBatch transaction, each job once", async () => {
    const contracts = connectContracts(addressesFromRecord(net.system.record), net.requester);
    const rows = [6, 7, 8, 9].map((i) => clampToRange(model.test.x[i]!, model.inputRange));
    const jobs = [];
    for (const x of rows)
      jobs.push(
        await requestInference({
          contracts,
          signer: net.requester,
          modelId: toModelId(modelId),
          mode: Mode.Zk,
          input: x,
          feePerNode: TOKEN / 2n,
          collateral: 10n * TOKEN,
          zk: { model: deployment.zk.model },
        }),
      );
    const settled = [];
    for (const [i, requested] of jobs.entries()) {
      const result = await waitForResult({
        escrow: net.contracts.escrow,
        jobId: toJobId(requested.job.id),
        pollIntervalMs: 200,
        timeoutMs: 300_000,
      });
      expect(result.status, daemon.output.slice(-2_000)).to.equal("settled");
      const reference = evaluateQuantized(deployment.zk.model, quantizeInput(deployment.zk.model, rows[i]!));
      expect(
        decodeZkOutput(deployment.zk.model, result.status === "settled" ? result.output : "0x").classIndex,
      ).to.equal(reference.argmax);
      const events = await net.contracts.escrow.queryFilter(
        net.contracts.escrow.filters.JobSettled(requested.job.id),
        requested.blockNumber,
      );
      expect(events, `job ${requested.job.id} settles once`).to.have.length(1);
      settled.push(events[0]!.transactionHash);
    }
    expect(new Set(settled).size, "one transaction settled every job").to.equal(1);
    const tx = await net.provider.getTransaction(settled[0]!);
    expect(net.contracts.escrow.interface.parseTransaction(tx!)?.name).to.equal("submitBatch");
    expect(tx!.from.toLowerCase()).to.equal(operator.address.toLowerCase());
    await daemon.waitForLog(/"msg":"4 ZK jobs submitted in one batch"/);
    for (const requested of jobs) expect(jobRow(requested.job.id)?.state).to.equal("settled");
    const report = await verifyResult({
      contracts: net.contracts,
      provider: net.provider,
      jobId: toJobId(jobs[2]!.job.id),
      fromBlock: jobs[0]!.blockNumber,
      content: new FsContentStore(net.contentDir),
    });
    expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
    expect(
      daemon.output.match(/"msg":"ZK circuit rebuilt and its setup verified"/g),
      "the version is checked once, not per job",
    ).to.have.length(1);
  });

  it("refuses, without claiming, a ZK job whose input does not open its commitment (another salt)", async () => {
    const x = clampToRange(model.test.x[5]!, model.inputRange);
    const committed = zkJobRequest(deployment.zk.model, x, 7n);
    const latest = await net.provider.getBlock("latest");
    const escrow = net.contracts.escrow.connect(net.requester);
    const receipt = await (
      await escrow.request({
        modelId,
        version: 1,
        mode: Mode.Zk,
        redundancy: 1,
        deadline: BigInt(latest!.timestamp + 3_600),
        feePerNode: TOKEN / 2n,
        collateral: 10n * TOKEN,
        maxTotal: 100n * TOKEN,
        callback: ZeroAddress,
        callbackGasLimit: 0,
        inputCommitment: committed.inputCommitment,
        input: encodeZkJobInput({ x, salt: 8n }),
        inputUri: "",
      })
    ).wait();
    const jobId = escrow.interface.parseLog(receipt!.logs.find((l) => l.address === receipt!.to)!)!.args
      .jobId as bigint;
    const row = await eventually(
      `a decision on job ${jobId}`,
      async () => {
        const r = jobRow(jobId);
        return r !== undefined && r.state !== "seen" ? r : undefined;
      },
      daemon,
    );
    expect(row.state).to.equal("skipped");
    expect(row.reason).to.match(
      /the inline input: the input cannot be proved for this job: .*not to the job's inputHash/,
    );
    const claims = await net.contracts.escrow.queryFilter(
      net.contracts.escrow.filters.SlotClaimed(jobId),
      net.system.record.startBlock,
    );
    expect(claims).to.deep.equal([]);
  });

  it("refuses, without claiming, the jobs of a version whose published ONNX file is not its bound circuit's, naming the mismatch", async () => {
    // The chain accepts this version: its verifier is the factory's, with the bound key (the penguin circuit's). Only
    // rebuilding the circuit from the published files shows that the ONNX file is another model's.
    const other = writeMlpOnnx(randomMlp([4, 8, 3], 5), { name: "not-the-circuit" });
    const content = new FsContentStore(net.contentDir);
    for (const bytes of [other, toUtf8Bytes(model.card), ...deployment.files.map((f) => f.bytes)])
      await content.add(bytes);
    const { modelId: mismatched } = await registerZkModel({
      registry: net.contracts.registry.connect(net.requester),
      deployment,
      onnx: other,
      card: toUtf8Bytes(model.card),
      price: TOKEN,
    });
    const requested = await requestInference({
      contracts: connectContracts(addressesFromRecord(net.system.record), net.requester),
      signer: net.requester,
      modelId: toModelId(mismatched),
      mode: Mode.Zk,
      input: clampToRange(model.test.x[2]!, model.inputRange),
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      zk: { model: deployment.zk.model },
    });
    const jobId = requested.job.id;
    const row = await eventually(
      `a decision on job ${jobId}`,
      async () => {
        const r = jobRow(jobId);
        return r !== undefined && r.state !== "seen" ? r : undefined;
      },
      daemon,
    );
    expect(row.state).to.equal("skipped");
    expect(row.reason).to.match(
      new RegExp(
        `^the inline input: model ${mismatched}@1: the ONNX file \\(sha256 0x[0-9a-f]{64}\\) is not the one the circuit was built from \\(${deployment.zk.onnxHash}\\)$`,
      ),
    );
    await daemon.waitForLog(new RegExp(`"model":"model ${mismatched}@1".*"msg":"refusing the version's ZK circuit"`));
    expect(
      await net.contracts.escrow.queryFilter(
        net.contracts.escrow.filters.SlotClaimed(jobId),
        net.system.record.startBlock,
      ),
    ).to.deep.equal([]);
  });
});

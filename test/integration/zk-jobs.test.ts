import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { toUtf8Bytes } from "ethers";
import { COLLATERAL, FEE_PER_NODE, MODEL_PRICE, loadSystem, requestJob, type Fixture } from "../fixtures/system";
import type { Job } from "../../src/core/job";
import { JobStatus } from "../../src/core/job";
import { Mode, modeMask } from "../../src/core/modes";
import { FsContentStore } from "../../src/node/content-store";
import {
  encodeZkBatchProof,
  encodeZkOutput,
  encodeZkProof,
  inputCommitment,
  packedOutputOf,
  zkOutputHash,
  type SolidityProof,
} from "../../src/zkml/claim";
import { deployZkCircuit, registerZkModel, type ZkDeployment } from "../../src/zkml/deploy";
import { writeMlpOnnx } from "../../src/zkml/onnx-writer";
import type { ZkModel } from "../../src/zkml/pipeline";
import { proveInference, releaseSnarkjs } from "../../src/zkml/prover";
import { quantizeInput } from "../../src/zkml/quantize";
import { evaluateQuantized } from "../../src/zkml/reference";
import { randomMlp, TEST_SIZES, zkModels } from "../zkml/fixtures";
import { addressesFromRecord, connectContracts } from "../../src/core/contracts";
import { toJobId } from "../../src/core/ids";
import { verifyResult } from "../../src/sdk/verifyResult";

const hex32 = (v: bigint): string => "0x" + v.toString(16).padStart(64, "0");
const CARD = toUtf8Bytes("---\nname: zk-test\ntask: classification\nlicense: mit\n---\n");

/** A requested and claimed ZK job with the node's proof of it. */
interface ProvedJob {
  job: Job;
  packedOutput: bigint;
  output: string;
  proof: SolidityProof;
}

describe("ZK-mode jobs through the escrow (request, prove, verify on-chain, settle)", () => {
  let fx: Fixture;
  let zk: ZkModel;
  let onnxA: Uint8Array;
  let zkModelId: bigint;
  let deployment: ZkDeployment;
  /** Where the published files go, and where `verifyResult` reads them from. */
  const content = new FsContentStore(mkdtempSync(path.join(os.tmpdir(), "vin-zk-jobs-")));

  const verify = (jobId: bigint) =>
    verifyResult({
      contracts: connectContracts(addressesFromRecord(fx.system.record), hre.ethers.provider),
      provider: hre.ethers.provider,
      jobId: toJobId(jobId),
      fromBlock: 0,
      content,
    });

  /** Publishes model A's circuit (its verifier deployed through the factory) with `onnx` as the version's ONNX file. */
  async function publish(onnx: Uint8Array): Promise<bigint> {
    for (const bytes of [onnx, CARD, ...deployment.files.map((f) => f.bytes)]) await content.add(bytes);
    const { modelId } = await registerZkModel({
      registry: fx.system.registry.connect(fx.owner),
      deployment,
      onnx,
      card: CARD,
      price: MODEL_PRICE,
    });
    return modelId;
  }

  /** Requests a ZK job on `x` (input committed with `salt`), claims it for node 0 and proves it. */
  async function provedJob(x: number[], salt: bigint): Promise<ProvedJob> {
    const input = quantizeInput(zk.model, x);
    const job = await requestJob(fx, {
      modelId: zkModelId,
      mode: Mode.Zk,
      inputCommitment: hex32(inputCommitment(zk.model, input, salt)),
      input: toUtf8Bytes(JSON.stringify({ input: x, salt: salt.toString() })),
    });
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    const p = await proveInference(
      { wasmPath: zk.circuit.wasmPath, zkeyPath: zk.setup.zkeyPath },
      { model: zk.model, input, inputSalt: salt },
    );
    const packedOutput = packedOutputOf(zk.model, evaluateQuantized(zk.model, input));
    return { job, packedOutput, output: encodeZkOutput(packedOutput), proof: p.solidity };
  }

  before(async () => {
    let layersA;
    ({ a: zk, layersA } = await zkModels());
    onnxA = writeMlpOnnx(layersA, { name: "test-a" });
  });

  beforeEach(async () => {
    fx = await loadSystem();
    deployment = await deployZkCircuit(fx.deployer, zk, {
      verifierFactory: await fx.system.verifierFactory.getAddress(),
    });
    zkModelId = await publish(onnxA);
    await fx.system.staking.connect(fx.nodes[0]!).register(modeMask([Mode.Vanilla, Mode.Tee, Mode.Zk]));
  });

  after(releaseSnarkjs);

  it("settles a ZK job by its proof: the output is the proved class, and the node, model owner and protocol are paid", async () => {
    const { escrow } = fx.system;
    const p = await provedJob([1.5, -2, 0.25, 3], 777n);
    const node = fx.nodes[0]!;
    const before = await escrow.claimable(node.address);
    const tx = await escrow.connect(node).submit(p.job, p.output, encodeZkProof(p.packedOutput, p.proof));
    await expect(tx).to.emit(escrow, "JobSettled").withArgs(p.job.id, zkOutputHash(p.packedOutput), 1, p.output);
    expect((await escrow.stateOf(p.job.id)).status).to.equal(JobStatus.Settled);
    expect((await escrow.resultOf(p.job.id))[1]).to.equal(p.output);
    expect(await escrow.claimable(node.address)).to.equal(before + FEE_PER_NODE);
    expect(await escrow.claimable(fx.owner.address)).to.equal(MODEL_PRICE);
    expect(await escrow.lockedStake(node.address)).to.equal(0n);
    console.log(`      ZK submit (verify + settle) gas: ${(await tx.wait())?.gasUsed}`);
    const report = await verify(p.job.id);
    expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
    expect(report.checks.map((c) => c.name)).to.include.members([
      "calldata output",
      "verifier deployed by the registry's factory with the bound key",
      "circuit rebuilt from the version's files",
      "Groth16 proof (off-chain)",
    ]);
    expect(report.zk?.verifier).to.equal(deployment.verifier);
    expect(report.zk?.vkHash).to.equal(zk.setup.vkHash);
    expect(report.zk?.packedOutput).to.equal(p.packedOutput.toString());
  });

  it("verifyResult fails a ZK job whose version's ONNX file is not the one its bound circuit was compiled from", async () => {
    const { escrow } = fx.system;
    // The chain accepts the version (its verifier is the factory's, with the bound key), and the proof settles the
    // job; only rebuilding the circuit from the published files shows that they are another model's.
    zkModelId = await publish(writeMlpOnnx(randomMlp(TEST_SIZES, 2), { name: "test-b", style: "matmul-add" }));
    const p = await provedJob([1.5, -2, 0.25, 3], 778n);
    await escrow.connect(fx.nodes[0]!).submit(p.job, p.output, encodeZkProof(p.packedOutput, p.proof));
    const report = await verify(p.job.id);
    expect(report.ok).to.equal(false);
    const failed = report.checks.filter((c) => !c.ok);
    expect(failed.map((c) => c.name)).to.deep.equal(["circuit rebuilt from the version's files"]);
    expect(failed[0]!.detail).to.match(
      /the ONNX file \(sha256 0x[0-9a-f]{64}\) is not the one the circuit was built from/,
    );
    expect(
      report.checks.find((c) => c.name === "verifier deployed by the registry's factory with the bound key")?.ok,
    ).to.equal(true);
    expect(report.checks.find((c) => c.name === "Groth16 proof (off-chain)")?.ok).to.equal(true);
  });

  it("verifyResult fails a ZK job when it has no content source to rebuild the version's circuit from", async () => {
    const p = await provedJob([1.5, -2, 0.25, 3], 779n);
    await fx.system.escrow.connect(fx.nodes[0]!).submit(p.job, p.output, encodeZkProof(p.packedOutput, p.proof));
    const report = await verifyResult({
      contracts: connectContracts(addressesFromRecord(fx.system.record), hre.ethers.provider),
      provider: hre.ethers.provider,
      jobId: toJobId(p.job.id),
      fromBlock: 0,
    });
    expect(report.ok).to.equal(false);
    expect(report.checks.filter((c) => !c.ok).map((c) => [c.name, c.detail])).to.deep.equal([
      [
        "circuit rebuilt from the version's files",
        "no content source to read the version's files from (pass `content`)",
      ],
    ]);
  });

  it("rejects a wrong output or another input's proof, and the job stays open for the deadline refund", async () => {
    const { escrow } = fx.system;
    const node = fx.nodes[0]!;
    const p = await provedJob([1.5, -2, 0.25, 3], 1n);
    const wrong = (p.packedOutput + 1n) % 3n;
    await expect(
      escrow.connect(node).submit(p.job, encodeZkOutput(wrong), encodeZkProof(p.packedOutput, p.proof)),
    ).to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierOutputMismatch");
    await expect(escrow.connect(node).submit(p.job, encodeZkOutput(wrong), encodeZkProof(wrong, p.proof)))
      .to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierInvalidProof")
      .withArgs(p.job.id);
    const q = await provedJob([-1, 2, 0.5, -3], 2n);
    await expect(
      escrow.connect(node).submit(p.job, q.output, encodeZkProof(q.packedOutput, q.proof)),
    ).to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierInvalidProof");
    expect((await escrow.stateOf(p.job.id)).status).to.equal(JobStatus.Open);
    expect(await escrow.lockedStake(node.address)).to.equal(2n * COLLATERAL);
  });

  it("does not let another node settle a job with a copied proof (the slot is the assigned node's)", async () => {
    const p = await provedJob([1.5, -2, 0.25, 3], 3n);
    await expect(fx.system.escrow.connect(fx.nodes[1]!).submit(p.job, p.output, encodeZkProof(p.packedOutput, p.proof)))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowNotAssigned")
      .withArgs(p.job.id, fx.nodes[1]!.address);
  });

  it("settles four ZK jobs with one submitBatch and one batched pairing check", async () => {
    const { escrow } = fx.system;
    const node = fx.nodes[0]!;
    const jobs: ProvedJob[] = [];
    for (const [i, x] of [
      [1, 2, 3, -1],
      [0, 0, 0, 0],
      [-3.5, 2, 1, 0.5],
      [2, -2, 2, -2],
    ].entries())
      jobs.push(await provedJob(x, BigInt(100 + i)));
    const before = await escrow.claimable(node.address);
    const tx = await escrow.connect(node).submitBatch(
      jobs.map((j) => j.job),
      jobs.map((j) => j.output),
      encodeZkBatchProof(jobs),
    );
    for (const j of jobs)
      await expect(tx).to.emit(escrow, "JobSettled").withArgs(j.job.id, zkOutputHash(j.packedOutput), 1, j.output);
    for (const j of jobs) expect((await escrow.resultOf(j.job.id))[1]).to.equal(j.output);
    expect(await escrow.claimable(node.address)).to.equal(before + 4n * FEE_PER_NODE);
    expect(await escrow.lockedStake(node.address)).to.equal(0n);
    console.log(`      ZK submitBatch(4) gas: ${(await tx.wait())?.gasUsed}`);
    const report = await verify(jobs[2]!.job.id);
    expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
    expect(report.zk?.packedOutput).to.equal(jobs[2]!.packedOutput.toString());
  });

  it("rejects a whole batch holding one false proof, a job listed twice, mixed verifiers or uneven lengths", async () => {
    const { escrow } = fx.system;
    const node = fx.nodes[0]!;
    const jobs: ProvedJob[] = [];
    for (const [i, x] of [
      [1, 2, 3, -1],
      [-3.5, 2, 1, 0.5],
    ].entries())
      jobs.push(await provedJob(x, BigInt(200 + i)));
    const wrong = (jobs[1]!.packedOutput + 1n) % 3n;
    const forged = [jobs[0]!, { ...jobs[1]!, packedOutput: wrong, output: encodeZkOutput(wrong) }];
    await expect(
      escrow.connect(node).submitBatch(
        forged.map((j) => j.job),
        forged.map((j) => j.output),
        encodeZkBatchProof(forged),
      ),
    )
      .to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierInvalidBatch")
      .withArgs(2n);
    const twice = [jobs[0]!, jobs[0]!];
    await expect(
      escrow.connect(node).submitBatch(
        twice.map((j) => j.job),
        twice.map((j) => j.output),
        encodeZkBatchProof(twice),
      ),
    )
      .to.be.revertedWithCustomError(escrow, "JobEscrowJobNotOpen")
      .withArgs(jobs[0]!.job.id, JobStatus.Settled);
    const vanilla = await requestJob(fx);
    await escrow.connect(node).claimSlot(vanilla);
    await expect(
      escrow.connect(node).submitBatch([jobs[0]!.job, vanilla], [jobs[0]!.output, "0x01"], encodeZkBatchProof(jobs)),
    )
      .to.be.revertedWithCustomError(escrow, "JobEscrowBatchVerifierMismatch")
      .withArgs(vanilla.id, await fx.system.vanillaVerifier.getAddress(), await fx.system.zkVerifier.getAddress());
    await expect(escrow.connect(node).submitBatch([jobs[0]!.job], [], "0x"))
      .to.be.revertedWithCustomError(escrow, "JobEscrowInvalidBatch")
      .withArgs(1n, 0n, 64n);
    for (const j of jobs) expect((await escrow.stateOf(j.job.id)).status).to.equal(JobStatus.Open);
    expect(await hre.ethers.provider.getBalance(await escrow.getAddress())).to.equal(0n);
  });
});

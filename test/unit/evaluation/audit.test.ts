/**
 * `auditAddress` on the in-process chain: a VolatilityRiskVault's history (TEE forecasts settled by the fixture's
 * enclave, one refunded, one refused by the vault) re-verified job by job at a pinned block; a version without a
 * verified evaluation fails the audit (or warns); jobs above the pinned block are not seen; a reorganisation below it
 * during the audit fails it; the HTML report names the block and carries the plots.
 */
import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, type BytesLike } from "ethers";
import { VolatilityRiskVault__factory, type VolatilityRiskVault } from "../../../typechain-types";
import { Metric } from "../../../src/core/evaluation";
import { requestedJobs, type Job } from "../../../src/core/job";
import { Mode } from "../../../src/core/modes";
import { encodeClassification } from "../../../src/inference/onnx";
import { auditAddress, PinnedProvider, type AuditAddressParams } from "../../../src/sdk/auditAddress";
import { auditPlots, renderAuditHtml } from "../../../src/sdk/auditReport";
import { requestParams, teeProof, TOKEN, versionInput } from "../../fixtures/system";
import {
  datasetInput,
  evaluationFixture,
  requestEvaluation,
  resultMessage,
  signResult,
  type EvaluationFixture,
} from "../../fixtures/evaluation";
import { expectRejection } from "../../fixtures/assert";

interface AuditFixture extends EvaluationFixture {
  vault: VolatilityRiskVault;
  maeDataset: bigint;
  jobs: Job[];
}

async function evaluate(fx: EvaluationFixture, modelId: bigint, datasetId: bigint, mae: bigint) {
  const id = await requestEvaluation(fx, { modelId, datasetId });
  const m = await resultMessage(fx, id, mae);
  await fx.system.evaluationRegistry.submitEvaluation(id, mae, m.baselineValue, m.rowCount, await signResult(fx, m));
}

async function forecast(fx: EvaluationFixture, vault: VolatilityRiskVault, modelId = fx.modelId): Promise<Job> {
  const tx = await vault.request(
    await requestParams({
      modelId,
      mode: Mode.Tee,
      callback: await vault.getAddress(),
      callbackGasLimit: 300_000,
      deadline: BigInt(await time.latest()) + 3600n,
    }),
  );
  return requestedJobs(fx.system.escrow, await tx.wait())[0]!.job;
}

async function settle(fx: EvaluationFixture, job: Job, output: BytesLike) {
  const node = fx.nodes[0]!;
  await fx.system.escrow.connect(node).claimSlot(job);
  await fx.system.escrow.connect(node).submit(job, output, await teeProof(fx, job, output), { gasLimit: 2_000_000 });
}

const out = (percent: number) => hexlify(encodeClassification([percent]));

/** A vault on model 1 (evaluated MAE 0.3 against a 0.4 baseline) with: two accepted forecasts, one refunded job, one breaker trip. */
async function auditFixture(): Promise<AuditFixture> {
  const fx = await evaluationFixture();
  const e = fx.system.evaluationRegistry;
  await e.registerDataset(
    datasetInput({ metric: Metric.MeanAbsoluteError, baselineValue: 400_000n, name: "volatility held-out" }),
  );
  const maeDataset = await e.datasetCount();
  await evaluate(fx, fx.modelId, maeDataset, 300_000n);
  const vault = await new VolatilityRiskVault__factory(fx.deployer).deploy(
    await fx.system.escrow.getAddress(),
    await e.getAddress(),
    fx.deployer.address,
    {
      modelId: fx.modelId,
      version: 1,
      datasetId: maeDataset,
      evaluationThreshold: 400_000n,
      requireBeatsBaseline: true,
      maxDelay: 3600,
      maxAge: 86_400,
      maxChangeBps: 5_000,
      zkScaleBits: 16,
      minVolatility: 50_000n,
      maxVolatility: 20_000_000n,
      targetVolatility: 1_000_000n,
      maxLeverageBps: 20_000,
    },
  );
  await fx.system.token.mint(await vault.getAddress(), 1_000n * TOKEN);
  await vault.setCapital(1_000n * TOKEN);
  const jobs = [];
  for (const percent of [1.0, 1.1, 3.0]) {
    const job = await forecast(fx, vault);
    await settle(fx, job, out(percent));
    jobs.push(job);
  }
  const unserved = await forecast(fx, vault);
  await time.increaseTo(unserved.deadline + 1n);
  await fx.system.escrow.expire(unserved, { gasLimit: 2_000_000 });
  jobs.push(unserved);
  return { ...fx, vault, maeDataset, jobs };
}

function params(fx: EvaluationFixture, address: string, extra: Partial<AuditAddressParams> = {}): AuditAddressParams {
  return {
    provider: hre.ethers.provider,
    chainId: 31337n,
    deployment: fx.system.record,
    address,
    confirmations: 0,
    ...extra,
  };
}

describe("auditAddress", () => {
  it("re-verifies a consumer's whole history at a pinned block: proof, agreement, evaluation, input, output, price, timing, decision", async () => {
    const fx = await auditFixture();
    const vault = await fx.vault.getAddress();
    const report = await auditAddress(params(fx, vault));
    expect(report.ok, JSON.stringify(report.jobs.flatMap((j) => j.checks.filter((c) => !c.ok)))).to.equal(true);
    expect(report.block.number).to.equal(await hre.ethers.provider.getBlockNumber());
    expect(report.summary).to.deep.equal({ jobs: 4, settled: 3, refunded: 1, open: 0, failedJobs: 0, warnings: 0 });
    const [first, , jump, refunded] = report.jobs;
    const names = first!.checks.map((c) => c.name);
    for (const name of [
      "price taken",
      "input commitment",
      "verify: settled",
      "verify: enclave signature",
      "verify: enclave registered to the node",
      "verify: measurement bound by the model version",
      "redundancy agreement",
      "settled in time",
      "verified evaluation",
      "better than the trivial baseline",
    ])
      expect(names).to.include(name);
    expect(first!.output!.value).to.equal(1);
    expect(first!.price.pulled).to.equal(first!.price.escrowed);
    // The receipts' gas (instrumented contracts cost more under coverage: only its presence is asserted).
    expect(first!.gas.request).to.be.greaterThan(21_000);
    expect(first!.gas.claims).to.have.length(1);
    expect(first!.gas.settle).to.be.greaterThan(21_000);
    expect(first!.verification!.enclave!.signer).to.equal(fx.enclave.address);
    expect(first!.evaluations.map((e) => [e.value, e.dataset.baselineValue, e.beatsBaseline])).to.deep.equal([
      [300_000n, 400_000n, true],
    ]);
    expect(first!.consumer!.detail).to.match(/^acted on: volatility 1\.0000 % per day/);
    expect(jump!.consumer!.detail).to.equal("refused: breaker tripped (volatility 3.0000 % per day)");
    expect(refunded!.status).to.equal("refunded");
    expect(refunded!.price.refunded).to.equal(refunded!.price.escrowed);
    expect(refunded!.consumer!.detail).to.equal("refused: not settled");
  });

  it("fails a job whose model version has no verified evaluation, or only warns with allowUnevaluated", async () => {
    const fx = await auditFixture();
    await fx.system.registry.connect(fx.owner).createModelAndPublish(1n, versionInput("unevaluated"));
    const model = await fx.system.registry.modelCount();
    const job = (
      await fx.system.escrow
        .connect(fx.requester)
        .request(await requestParams({ modelId: model, mode: Mode.Tee }))
        .then((tx) => tx.wait())
        .then((r) => requestedJobs(fx.system.escrow, r))
    )[0]!.job;
    await settle(fx, job, out(1));
    const report = await auditAddress(params(fx, fx.requester.address));
    expect(report.ok).to.equal(false);
    const failed = report.jobs.find((j) => j.jobId === job.id.toString())!;
    expect(failed.checks.find((c) => c.name === "verified evaluation")).to.deep.include({
      ok: false,
      severity: "fail",
    });
    expect((await auditAddress(params(fx, fx.requester.address, { allowUnevaluated: true }))).ok).to.equal(true);
  });

  it("reads at the block `confirmations` below the head: later jobs are not seen", async () => {
    const fx = await auditFixture();
    const vault = await fx.vault.getAddress();
    await hre.network.provider.send("hardhat_mine", ["0x5"]);
    const late = await forecast(fx, fx.vault);
    const report = await auditAddress(params(fx, vault, { confirmations: 3 }));
    expect(report.block.number).to.equal((await hre.ethers.provider.getBlockNumber()) - 3);
    expect(report.jobs.map((j) => j.jobId)).to.not.include(late.id.toString());
    expect(report.jobs).to.have.length(4);
  });

  it("fails when the pinned block's hash changes during the audit (a reorganisation)", async () => {
    const fx = await auditFixture();
    let calls = 0;
    const reorging = {
      send: async (method: string, args: unknown[]) => {
        const result = (await hre.ethers.provider.send(method, args)) as unknown;
        if (method === "eth_getBlockByNumber" && args[1] === false && ++calls > 1)
          return { ...(result as object), hash: `0x${"ab".repeat(32)}` };
        return result;
      },
    };
    const report = await auditAddress(params(fx, await fx.vault.getAddress(), { provider: reorging }));
    expect(report.ok).to.equal(false);
    expect(report.checks[0]).to.deep.include({ name: "pinned block still canonical", ok: false });
  });

  it("the pinned view answers its block for `latest`, hides later transactions and refuses sends", async () => {
    const fx = await auditFixture();
    const pinnedAt = await hre.ethers.provider.getBlockNumber();
    const later = await forecast(fx, fx.vault);
    const pinned = new PinnedProvider(hre.ethers.provider, pinnedAt, 31337n);
    expect(await pinned.getBlockNumber()).to.equal(pinnedAt);
    expect(await fx.system.escrow.connect(pinned).jobCount()).to.equal(BigInt(fx.jobs.length));
    const [requested] = await fx.system.escrow.queryFilter(fx.system.escrow.filters.JobRequested(later.id));
    expect(await pinned.getTransaction(requested!.transactionHash)).to.equal(null);
    await expectRejection(pinned.send("eth_sendRawTransaction", ["0x00"]), Error, /read-only/);
  });

  it("renders one HTML page with the verdict, the pinned block, the evaluations beside their baselines and the plots", async () => {
    const fx = await auditFixture();
    const report = await auditAddress(params(fx, await fx.vault.getAddress()));
    const plots = auditPlots(report);
    expect(plots.map((p) => p.file)).to.deep.equal(["latency.svg", "price.svg", "outputs.svg", "evaluations.svg"]);
    const html = renderAuditHtml(report, plots);
    expect(html).to.contain(`PASSED: 4 jobs (3 settled, 1 refunded, 0 open)`);
    expect(html).to.contain(`read at block ${report.block.number} (hash <code>${report.block.hash}</code>`);
    expect(html).to.contain("0.3000 vs 0.4000 (volatility held-out)");
    expect(html.match(/<svg /g)).to.have.length(4);
    expect(html).to.not.contain("<?xml");
  });
});

/**
 * VolatilityRiskVault: a consumer that sets its risk limit from a volatility forecaster and acts on a forecast only
 * when the version's verified evaluation is good enough, the mode is ZK, TEE or dual, the result is fresh and the
 * breaker is not tripped. Model 1 of the system fixture stands in for the forecaster (the escrow checks enclave
 * signatures, not weights), and a second TEE model is the wrong-but-verified one: its outputs verify and settle, its
 * evaluation is worse than the trivial baseline, and the vault refuses them.
 */
import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, toBeHex, type BytesLike } from "ethers";
import {
  EscrowStandIn__factory,
  VolatilityRiskVault__factory,
  type VolatilityRiskVault,
} from "../../../typechain-types";
import { Metric } from "../../../src/core/evaluation";
import { requestedJobs, type Job } from "../../../src/core/job";
import { Mode } from "../../../src/core/modes";
import { encodeClassification } from "../../../src/inference/onnx";
import { governor, MEASUREMENT, requestParams, teeProof, TOKEN, versionInput } from "../../fixtures/system";
import {
  datasetInput,
  evaluationFixture,
  requestEvaluation,
  resultMessage,
  signResult,
  type EvaluationFixture,
} from "../../fixtures/evaluation";

/** `VolatilityRiskVault.Refusal`. */
enum Refusal {
  None,
  NotSettled,
  WrongModel,
  ModeNotVerified,
  NoEvaluation,
  EvaluationRevoked,
  EvaluationBelowThreshold,
  NotBetterThanBaseline,
  Late,
  Superseded,
  MalformedOutput,
  OutOfRange,
  BreakerTripped,
}

/** The naive forecast's MAE on the dataset: 0.4 % per day. */
const BASELINE_MAE = 400_000n;
const CONFIG = {
  evaluationThreshold: 350_000n,
  requireBeatsBaseline: true,
  maxDelay: 3600,
  maxAge: 86_400,
  maxChangeBps: 5_000,
  zkScaleBits: 16,
  minVolatility: 50_000n,
  maxVolatility: 20_000_000n,
  targetVolatility: 1_000_000n,
  maxLeverageBps: 20_000,
};
const CAPITAL = 1_000n * TOKEN;

interface VaultFixture extends EvaluationFixture {
  /** The MAE dataset the vault pins. */
  maeDataset: bigint;
  /** A second TEE model: the wrong one. */
  wrongModel: bigint;
}

async function vaultFixture(): Promise<VaultFixture> {
  const fx = await evaluationFixture();
  const e = fx.system.evaluationRegistry;
  await e.registerDataset(
    datasetInput({ metric: Metric.MeanAbsoluteError, baselineValue: BASELINE_MAE, name: "sp500 volatility held-out" }),
  );
  await fx.system.registry.connect(fx.owner).createModelAndPublish(1n, versionInput("a wrong volatility model"));
  return { ...fx, maeDataset: await e.datasetCount(), wrongModel: await fx.system.registry.modelCount() };
}

async function deployVault(fx: VaultFixture, overrides: Partial<typeof CONFIG> & { modelId?: bigint } = {}) {
  const { modelId = fx.modelId, ...config } = overrides;
  const vault = await new VolatilityRiskVault__factory(fx.deployer).deploy(
    await fx.system.escrow.getAddress(),
    await fx.system.evaluationRegistry.getAddress(),
    fx.deployer.address,
    { modelId, version: 1, datasetId: fx.maeDataset, ...CONFIG, ...config },
  );
  await fx.system.token.mint(await vault.getAddress(), 1_000n * TOKEN);
  await vault.setCapital(CAPITAL);
  return vault;
}

/** Records a verified evaluation of `modelId`@1 on the MAE dataset with `mae`, signed by the fixture's enclave. */
async function evaluate(fx: VaultFixture, mae: bigint, modelId = fx.modelId): Promise<void> {
  const id = await requestEvaluation(fx, { modelId, datasetId: fx.maeDataset });
  const message = await resultMessage(fx, id, mae);
  await fx.system.evaluationRegistry.submitEvaluation(
    id,
    mae,
    message.baselineValue,
    message.rowCount,
    await signResult(fx, message),
  );
}

/** Has the vault request a TEE forecast of its model; returns the job's terms. */
async function requestForecast(fx: VaultFixture, vault: VolatilityRiskVault, mode = Mode.Tee): Promise<Job> {
  const address = await vault.getAddress();
  const tx = await vault.request(
    await requestParams({
      modelId: await vault.modelId(),
      mode,
      callback: address,
      callbackGasLimit: 300_000,
      deadline: BigInt(await time.latest()) + 7200n,
    }),
  );
  const [requested] = requestedJobs(fx.system.escrow, await tx.wait());
  return requested!.job;
}

/** The TEE output of a forecast of `percent` % per day, as a node encodes it. */
function forecastOutput(percent: number): string {
  return hexlify(encodeClassification([percent]));
}

/** Node 1 claims and settles `job` with `output`, signed by the fixture's enclave: a verified result. */
async function settle(fx: VaultFixture, job: Job, output: BytesLike) {
  const node = fx.nodes[0]!;
  await fx.system.escrow.connect(node).claimSlot(job);
  return fx.system.escrow.connect(node).submit(job, output, await teeProof(fx, job, output), { gasLimit: 2_000_000 });
}

describe("VolatilityRiskVault", () => {
  it("acts on a verified forecast of a version whose evaluation beats the threshold and the baseline", async () => {
    const fx = await vaultFixture();
    await evaluate(fx, 300_000n);
    const vault = await deployVault(fx);
    const job = await requestForecast(fx, vault);
    // 1.25 % per day: exposure = capital × 1 / 1.25 = 800 tokens.
    await expect(settle(fx, job, forecastOutput(1.25)))
      .to.emit(vault, "ForecastAccepted")
      .withArgs(job.id, 1_250_000n, 800n * TOKEN);
    expect(await vault.riskLimit()).to.equal(800n * TOKEN);
    const forecast = await vault.forecast();
    expect([forecast.jobId, forecast.volatility]).to.deep.equal([job.id, 1_250_000n]);
    expect(await vault.evaluationRefusal()).to.equal(Refusal.None);
  });

  it("caps the exposure at maxLeverageBps of capital when the forecast is calm", async () => {
    const fx = await vaultFixture();
    await evaluate(fx, 300_000n);
    const vault = await deployVault(fx);
    await settle(fx, await requestForecast(fx, vault), forecastOutput(0.2));
    expect(await vault.riskLimit()).to.equal(2n * CAPITAL);
  });

  it("refuses a wrong-but-verified model: its output verifies and settles, its evaluation is worse than the baseline", async () => {
    const fx = await vaultFixture();
    await evaluate(fx, 550_000n, fx.wrongModel);
    // A lenient threshold (0.6): only the baseline gate stands between the vault and the wrong model.
    const vault = await deployVault(fx, { modelId: fx.wrongModel, evaluationThreshold: 600_000n });
    const job = await requestForecast(fx, vault);
    const output = forecastOutput(1.1);
    const settled = settle(fx, job, output);
    await expect(settled)
      .to.emit(fx.system.escrow, "JobSettled")
      .withArgs(job.id, hre.ethers.keccak256(output), 1, output);
    await expect(settled).to.emit(vault, "ForecastRefused").withArgs(job.id, Refusal.NotBetterThanBaseline, 0);
    await expect(settled)
      .to.emit(fx.system.escrow, "CallbackDelivered")
      .withArgs(job.id, await vault.getAddress(), true);
    expect((await fx.system.escrow.resultOf(job.id))[1]).to.equal(output);
    expect(await vault.riskLimit()).to.equal(0n);
    expect((await vault.forecast()).acceptedAt).to.equal(0n);
    // With the default threshold (0.35) the same evaluation is refused before the baseline is asked.
    const strict = await deployVault(fx, { modelId: fx.wrongModel });
    expect(await strict.evaluationRefusal()).to.equal(Refusal.EvaluationBelowThreshold);
  });

  it("refuses a version with no verified evaluation, and one evaluated below the threshold though above the baseline", async () => {
    const fx = await vaultFixture();
    const vault = await deployVault(fx);
    const first = await requestForecast(fx, vault);
    await expect(settle(fx, first, forecastOutput(1)))
      .to.emit(vault, "ForecastRefused")
      .withArgs(first.id, Refusal.NoEvaluation, 0);
    await evaluate(fx, 380_000n);
    expect(await vault.evaluationRefusal()).to.equal(Refusal.EvaluationBelowThreshold);
    const second = await requestForecast(fx, vault);
    await expect(settle(fx, second, forecastOutput(1)))
      .to.emit(vault, "ForecastRefused")
      .withArgs(second.id, Refusal.EvaluationBelowThreshold, 0);
    await evaluate(fx, 350_000n); // exactly the threshold is acceptable
    expect(await vault.evaluationRefusal()).to.equal(Refusal.None);
  });

  it("takes no risk once the evaluation's enclave or measurement is revoked", async () => {
    const fx = await vaultFixture();
    await evaluate(fx, 300_000n);
    const vault = await deployVault(fx);
    await settle(fx, await requestForecast(fx, vault), forecastOutput(1));
    expect(await vault.riskLimit()).to.equal(CAPITAL);
    await fx.system.teeVerifier.connect(await governor(fx)).revokeMeasurement(MEASUREMENT);
    expect(await vault.evaluationRefusal()).to.equal(Refusal.EvaluationRevoked);
    expect(await vault.riskLimit()).to.equal(0n);
  });

  it("refuses a request in vanilla mode, for another model or version, or from anyone but the owner", async () => {
    const fx = await vaultFixture();
    const vault = await deployVault(fx);
    const params = await requestParams({ callback: await vault.getAddress(), callbackGasLimit: 300_000 });
    await expect(vault.request({ ...params, mode: Mode.Vanilla }))
      .to.be.revertedWithCustomError(vault, "VolatilityRiskVaultModeNotVerified")
      .withArgs(Mode.Vanilla);
    await expect(vault.request({ ...params, mode: Mode.Tee, modelId: fx.wrongModel }))
      .to.be.revertedWithCustomError(vault, "VolatilityRiskVaultWrongModel")
      .withArgs(fx.wrongModel, 1);
    await expect(vault.request({ ...params, mode: Mode.Tee, version: 2 }))
      .to.be.revertedWithCustomError(vault, "VolatilityRiskVaultWrongModel")
      .withArgs(fx.modelId, 2);
    await expect(vault.connect(fx.other).request({ ...params, mode: Mode.Tee }))
      .to.be.revertedWithCustomError(vault, "VolatilityRiskVaultUnauthorizedCaller")
      .withArgs(fx.other.address);
  });

  it("refuses a result later than maxDelay after its request, and stops acting once the forecast is older than maxAge", async () => {
    const fx = await vaultFixture();
    await evaluate(fx, 300_000n);
    const vault = await deployVault(fx);
    const fresh = await requestForecast(fx, vault);
    await settle(fx, fresh, forecastOutput(1));
    const late = await requestForecast(fx, vault);
    await time.increase(3601);
    await expect(settle(fx, late, forecastOutput(1)))
      .to.emit(vault, "ForecastRefused")
      .withArgs(late.id, Refusal.Late, 0);
    expect(await vault.riskLimit()).to.equal(CAPITAL);
    await time.increase(86_400);
    expect(await vault.riskLimit()).to.equal(0n);
  });

  it("refuses a result of an older request once a newer one's was accepted (Superseded)", async () => {
    const fx = await vaultFixture();
    await evaluate(fx, 300_000n);
    const vault = await deployVault(fx);
    const older = await requestForecast(fx, vault);
    await time.increase(10);
    const newer = await requestForecast(fx, vault);
    await settle(fx, newer, forecastOutput(1));
    await expect(settle(fx, older, forecastOutput(1.1)))
      .to.emit(vault, "ForecastRefused")
      .withArgs(older.id, Refusal.Superseded, 0);
    expect((await vault.forecast()).jobId).to.equal(newer.id);
  });

  it("trips the breaker on a jump beyond maxChangeBps, takes no risk until the owner resets it", async () => {
    const fx = await vaultFixture();
    await evaluate(fx, 300_000n);
    const vault = await deployVault(fx);
    await settle(fx, await requestForecast(fx, vault), forecastOutput(1));
    const jump = await requestForecast(fx, vault);
    const tx = settle(fx, jump, forecastOutput(1.6));
    await expect(tx).to.emit(vault, "BreakerTripped").withArgs(jump.id, 1_000_000n, 1_600_000n);
    await expect(tx).to.emit(vault, "ForecastRefused").withArgs(jump.id, Refusal.BreakerTripped, 1_600_000n);
    expect(await vault.tripped()).to.equal(true);
    expect(await vault.riskLimit()).to.equal(0n);
    const next = await requestForecast(fx, vault);
    await expect(settle(fx, next, forecastOutput(1.05)))
      .to.emit(vault, "ForecastRefused")
      .withArgs(next.id, Refusal.BreakerTripped, 0);
    await expect(vault.connect(fx.other).resetBreaker()).to.be.revertedWithCustomError(
      vault,
      "VolatilityRiskVaultUnauthorizedCaller",
    );
    await expect(vault.resetBreaker()).to.emit(vault, "BreakerReset");
    const after = await requestForecast(fx, vault);
    await expect(settle(fx, after, forecastOutput(1.6))).to.emit(vault, "ForecastAccepted");
    await expect(vault.tripBreaker()).to.emit(vault, "BreakerTripped").withArgs(0n, 1_600_000n, 0n);
    expect(await vault.riskLimit()).to.equal(0n);
  });

  it("refuses a forecast outside [minVolatility, maxVolatility] and a malformed output", async () => {
    const fx = await vaultFixture();
    await evaluate(fx, 300_000n);
    const vault = await deployVault(fx);
    const low = await requestForecast(fx, vault);
    await expect(settle(fx, low, forecastOutput(0.01)))
      .to.emit(vault, "ForecastRefused")
      .withArgs(low.id, Refusal.OutOfRange, 10_000n);
    const negative = await requestForecast(fx, vault);
    await expect(settle(fx, negative, forecastOutput(-2)))
      .to.emit(vault, "ForecastRefused")
      .withArgs(negative.id, Refusal.OutOfRange, -2_000_000n);
    const classifier = await requestForecast(fx, vault);
    await expect(settle(fx, classifier, hexlify(encodeClassification([0.1, 0.9]))))
      .to.emit(vault, "ForecastRefused")
      .withArgs(classifier.id, Refusal.MalformedOutput, 0);
  });

  it("records a refunded job as NotSettled", async () => {
    const fx = await vaultFixture();
    await evaluate(fx, 300_000n);
    const vault = await deployVault(fx);
    const job = await requestForecast(fx, vault);
    await time.increaseTo(job.deadline + 1n);
    await expect(fx.system.escrow.expire(job, { gasLimit: 2_000_000 }))
      .to.emit(vault, "ForecastRefused")
      .withArgs(job.id, Refusal.NotSettled, 0);
  });

  it("reads ZK and dual outputs in the circuit's fixed point, and refuses a TEE-encoded one there", async () => {
    const fx = await vaultFixture();
    await evaluate(fx, 300_000n);
    const standIn = await new EscrowStandIn__factory(fx.deployer).deploy(await fx.system.token.getAddress());
    const vault = await new VolatilityRiskVault__factory(fx.deployer).deploy(
      await standIn.getAddress(),
      await fx.system.evaluationRegistry.getAddress(),
      fx.deployer.address,
      { modelId: fx.modelId, version: 1, datasetId: fx.maeDataset, ...CONFIG },
    );
    await vault.setCapital(CAPITAL);
    const params = await requestParams({ callback: await vault.getAddress(), callbackGasLimit: 300_000 });
    await vault.request({ ...params, mode: Mode.Zk });
    await vault.request({ ...params, mode: Mode.Dual });
    await vault.request({ ...params, mode: Mode.Zk });
    // 1.5 % per day at 16 fractional bits: 1.5 × 2^16 = 98304, packed as value + 2^47.
    const zk = toBeHex(98_304n + 2n ** 47n, 6);
    await expect(standIn.deliver(await vault.getAddress(), 1n, zk))
      .to.emit(vault, "ForecastAccepted")
      .withArgs(1n, 1_500_000n, (CAPITAL * 2n) / 3n);
    await expect(standIn.deliver(await vault.getAddress(), 2n, toBeHex(104_858n + 2n ** 47n, 6)))
      .to.emit(vault, "ForecastAccepted")
      .withArgs(2n, 1_600_006n, (CAPITAL * 1_000_000n) / 1_600_006n);
    await expect(standIn.deliver(await vault.getAddress(), 3n, forecastOutput(1.5)))
      .to.emit(vault, "ForecastRefused")
      .withArgs(3n, Refusal.MalformedOutput, 0);
  });

  it("the owner alone claims the vault's escrow credits and withdraws its tokens; requested() remembers each job's mode", async () => {
    const fx = await vaultFixture();
    const vault = await deployVault(fx);
    const job = await requestForecast(fx, vault);
    expect((await vault.requested(job.id)).mode).to.equal(BigInt(Mode.Tee));
    await time.increaseTo(job.deadline + 1n);
    await fx.system.escrow.expire(job, { gasLimit: 2_000_000 });
    expect((await vault.requested(job.id)).requestedAt).to.equal(0n);
    const address = await vault.getAddress();
    const credits = await fx.system.escrow.claimable(address);
    expect(credits > 0n).to.equal(true);
    await expect(vault.connect(fx.other).claim(fx.other.address))
      .to.be.revertedWithCustomError(vault, "VolatilityRiskVaultUnauthorizedCaller")
      .withArgs(fx.other.address);
    await expect(vault.connect(fx.other).withdrawTokens(fx.other.address, 1n)).to.be.revertedWithCustomError(
      vault,
      "VolatilityRiskVaultUnauthorizedCaller",
    );
    await expect(vault.claim(fx.requester.address))
      .to.emit(fx.system.escrow, "Claimed")
      .withArgs(address, fx.requester.address, credits);
    const held = await fx.system.token.balanceOf(address);
    await vault.withdrawTokens(fx.requester.address, held);
    expect(await fx.system.token.balanceOf(address)).to.equal(0n);
    await expect(vault.connect(fx.other).setCapital(1n)).to.be.revertedWithCustomError(
      vault,
      "VolatilityRiskVaultUnauthorizedCaller",
    );
    await expect(vault.connect(fx.other).tripBreaker()).to.be.revertedWithCustomError(
      vault,
      "VolatilityRiskVaultUnauthorizedCaller",
    );
  });

  it("refuses a configuration it could not act on safely", async () => {
    const fx = await vaultFixture();
    const factory = new VolatilityRiskVault__factory(fx.deployer);
    const args = [
      await fx.system.escrow.getAddress(),
      await fx.system.evaluationRegistry.getAddress(),
      fx.deployer.address,
    ] as const;
    const base = { modelId: fx.modelId, version: 1, datasetId: fx.maeDataset, ...CONFIG };
    for (const [bad, name] of [
      [{ minVolatility: 0n }, "volatility bounds"],
      [{ minVolatility: 3n, maxVolatility: 2n }, "volatility bounds"],
      [{ maxChangeBps: 0 }, "maxChangeBps"],
      [{ maxAge: 0 }, "maxAge/maxDelay"],
      [{ maxDelay: 0 }, "maxAge/maxDelay"],
    ] as const) {
      await expect(factory.deploy(...args, { ...base, ...bad }))
        .to.be.revertedWithCustomError(factory, "VolatilityRiskVaultInvalidConfig")
        .withArgs(name);
    }
  });
});

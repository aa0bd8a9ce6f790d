/**
 * Verified evaluations end to end on a real hardhat node, as `npm start` runs them (src/devnet/evaluations.ts): the
 * weather classifier and the volatility regressor (with its ZK circuit) published, a TEE and a ZK operator's daemons,
 * the TEE operator's evaluation service as a child process (`vin eval serve`); each model's held-out rows registered
 * and evaluated by the enclave; the risk vault acting on a TEE and a ZK forecast of the volatility model.
 */
import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startDevnet, type Devnet } from "../../src/devnet/devnet";
import { runDevnetEvaluations, type DevnetEvaluations } from "../../src/devnet/evaluations";
import { Metric } from "../../src/core/evaluation";
import { Mode } from "../../src/core/modes";
import { buildVolatilityRegressor, buildWeatherClassifier, type AnyBundledModel } from "../../src/models";
import { releaseSnarkjs } from "../../src/zkml/prover";
import { freePort } from "./harness";

describe("verified evaluations on a devnet (real hardhat node, daemons and the evaluation service)", function () {
  let devnet: Devnet<AnyBundledModel>;
  let result: DevnetEvaluations;
  const lines: string[] = [];

  before(async () => {
    const workDir = mkdtempSync(path.join(os.tmpdir(), "vin-evaluations-"));
    devnet = await startDevnet<AnyBundledModel>({
      hre,
      port: await freePort(),
      workDir,
      models: [{ model: buildWeatherClassifier() }, { model: buildVolatilityRegressor(), zk: { minPower: 12 } }],
      operators: [
        { name: "tee", modes: ["tee"] },
        { name: "zk", modes: ["zk"] },
      ],
      settings: { confirmations: 0, pollIntervalMs: 200 },
      log: (line) => lines.push(line),
    });
    result = await runDevnetEvaluations(devnet, { log: (line) => lines.push(line) });
  });

  after(async () => {
    await devnet?.stop();
    await releaseSnarkjs();
  });

  it("records one verified evaluation per model, each beside its trivial baseline, signed by the TEE operator's enclave", () => {
    expect(result.evaluations.map((e) => e.model.name)).to.deep.equal(["seattle-weather-mlp", "sp500-volatility-mlp"]);
    const tee = devnet.operators.find((o) => o.name === "tee")!;
    for (const { evaluation } of result.evaluations) {
      expect(evaluation.valid).to.equal(true);
      expect(evaluation.enclave).to.equal(tee.enclave);
      expect(evaluation.operator).to.equal(tee.address);
    }
    const [weather, volatility] = result.evaluations;
    expect(weather!.evaluation.dataset.metric).to.equal(Metric.Accuracy);
    expect([weather!.evaluation.value, weather!.evaluation.dataset.baselineValue]).to.deep.equal([941_780n, 945_205n]);
    expect(weather!.evaluation.beatsBaseline).to.equal(false);
    expect(volatility!.evaluation.dataset.metric).to.equal(Metric.MeanAbsoluteError);
    expect(volatility!.evaluation.beatsBaseline).to.equal(true);
    expect(result.lines.join("\n")).to.match(/seattle-weather-mlp .* NOT better than the baseline/);
    for (const e of result.evaluations) expect(Number(e.gasUsed)).to.be.within(50_000, 200_000);
  });

  it("the risk vault acted on a TEE and a ZK forecast of the volatility model, its evaluation being better than the baseline", async () => {
    const vault = result.vault!;
    expect(vault.forecasts.map((f) => [f.mode, f.accepted, f.reason])).to.deep.equal([
      [Mode.Tee, true, "accepted"],
      [Mode.Zk, true, "accepted"],
    ]);
    const [tee, zk] = vault.forecasts;
    // The same row: the circuit's fixed point and the float model agree closely.
    expect(zk!.volatility!).to.be.closeTo(tee!.volatility!, 0.01);
    expect(await vault.contract.riskLimit()).to.equal(zk!.riskLimit);
  });
});

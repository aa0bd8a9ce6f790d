/**
 * Verified evaluations end to end on a real hardhat node, as `npm start` runs them (src/devnet/evaluations.ts): the
 * weather classifier and the volatility regressor (with its ZK circuit) published, a TEE and a ZK operator's daemons,
 * the TEE operator's evaluation service as a child process (`vin eval serve`); each model's held-out rows registered
 * and evaluated by the enclave; the risk vault acting on a TEE and a ZK forecast of the volatility model.
 */
import { expect } from "chai";
import hre from "hardhat";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startDevnet, type Devnet } from "../../src/devnet/devnet";
import { runDevnetEvaluations, type DevnetEvaluations } from "../../src/devnet/evaluations";
import { Metric } from "../../src/core/evaluation";
import { Mode } from "../../src/core/modes";
import {
  buildPenguinClassifier,
  buildVolatilityRegressor,
  buildWeatherClassifier,
  type AnyBundledModel,
} from "../../src/models";
import { toJobId, toModelId } from "../../src/core/ids";
import { requestInference } from "../../src/sdk/requestInference";
import { waitForResult } from "../../src/sdk/waitForResult";
import type { AuditReport } from "../../src/sdk/auditAddress";
import { releaseSnarkjs } from "../../src/zkml/prover";
import { freePort, ROOT } from "./harness";

/** Runs `vin <args>` as a child process; resolves with its exit code and output. */
function vin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", path.join(ROOT, "src/cli/main.ts"), ...args],
    {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}

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

  it("audited the vault's history at a pinned block: every job re-verified, the ZK input opened, the report written", () => {
    const { report, html } = result.audit!;
    expect(report.ok, JSON.stringify(report.jobs.flatMap((j) => j.checks.filter((c) => !c.ok)))).to.equal(true);
    expect(report.jobs.map((j) => [j.mode, j.status, j.consumer?.event])).to.deep.equal([
      ["tee", "settled", "ForecastAccepted"],
      ["zk", "settled", "ForecastAccepted"],
    ]);
    const zk = report.jobs[1]!;
    expect(zk.checks.find((c) => c.name === "input commitment")).to.deep.include({ ok: true, severity: "fail" });
    expect(zk.checks.find((c) => c.name === "verify: Groth16 proof (off-chain)")).to.deep.include({ ok: true });
    expect(zk.output!.value).to.be.closeTo(result.vault!.forecasts[1]!.volatility!, 1e-4);
    expect(readFileSync(html, "utf8")).to.contain(`read at block ${report.block.number}`);
    expect(result.lines.join("\n")).to.match(/its audit trail .* PASSED, 2 jobs re-verified/);
  });

  it("vin audit re-verifies the vault from the RPC endpoint alone (exit 0), and fails an account that used an unevaluated model (exit 7)", async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), "vin-audit-"));
    const common = [
      "--rpc",
      devnet.chain.url,
      "--deployment",
      devnet.deploymentFile,
      "--content-dir",
      devnet.contentDir,
    ];
    const vault = await vin(["--json", "audit", result.vault!.address, ...common, "--out", path.join(out, "vault")]);
    expect(vault.code, vault.stderr).to.equal(0);
    const report = JSON.parse(vault.stdout) as AuditReport;
    expect(report.summary.jobs).to.equal(2);
    expect(JSON.parse(readFileSync(path.join(out, "vault", "report.json"), "utf8")).ok).to.equal(true);
    expect(report.jobs[1]!.checks.find((c) => c.name === "input commitment")).to.deep.include({ ok: true });

    const penguins = await devnet.publish({ model: buildPenguinClassifier() });
    const requester = devnet.requester;
    await (await devnet.system.token.mint(await requester.getAddress(), 100n * 10n ** 18n)).wait();
    const requested = await requestInference({
      contracts: devnet.contracts,
      signer: requester,
      modelId: toModelId(penguins.modelId),
      mode: Mode.Tee,
      input: penguins.model.example,
      feePerNode: 10n ** 17n,
      collateral: 10n ** 18n,
    });
    await waitForResult({ escrow: devnet.contracts.escrow, jobId: toJobId(requested.job.id), timeoutMs: 120_000 });
    const failed = await vin(["audit", await requester.getAddress(), ...common, "--out", path.join(out, "requester")]);
    expect(failed.code, failed.stdout + failed.stderr).to.equal(7);
    expect(failed.stdout).to.match(/FAIL verified evaluation: model \d+@1 has no verified evaluation/);
    expect(failed.stderr).to.match(/the audit of 0x[0-9a-fA-F]{40} failed: job \d+ \(verified evaluation\)/);
  });

  it("vin eval: lists the datasets, shows a version's evaluations, requests one and waits for it, and the operator withdraws its fees", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "vin-eval-cli-"));
    const config = path.join(dir, "client.json");
    await devnet.addClient({
      config,
      dataDir: path.join(dir, "client"),
      contentDir: devnet.contentDir,
      tokens: 10n * 10n ** 18n,
    });
    const as = ["--config", config, "--password-file", devnet.passwordFile];
    const datasets = await vin([...as, "--json", "eval", "datasets"]);
    expect(datasets.code, datasets.stderr).to.equal(0);
    const listed = JSON.parse(datasets.stdout) as { datasetId: string; name: string }[];
    expect(listed.map((d) => d.name)).to.deep.equal(["seattle-weather-mlp held-out", "sp500-volatility-mlp held-out"]);
    const [weather] = result.evaluations;
    const show = await vin([...as, "eval", "show", `${weather!.modelId}@1`]);
    expect(show.code, show.stderr).to.equal(0);
    expect(show.stdout).to.match(
      /accuracy 94\.18%, baseline 94\.52% \("rain when precipitation > 0, else dry"\) — NOT better than the baseline/,
    );
    // A wrong model for these rows: the penguin classifier, evaluated on the weather days.
    const penguins = await devnet.publish({ model: buildPenguinClassifier() });
    const requested = await vin([
      ...as,
      "--json",
      "eval",
      "request",
      "--model",
      `${penguins.modelId}@1`,
      "--dataset",
      weather!.datasetId.toString(),
      "--fee",
      "1",
      "--wait",
      "--timeout",
      "240",
    ]);
    expect(requested.code, requested.stderr).to.equal(0);
    const evaluation = JSON.parse(requested.stdout) as { value: string; beatsBaseline: boolean; valid: boolean };
    expect(evaluation.valid).to.equal(true);
    expect(evaluation.beatsBaseline).to.equal(false);
    const tee = devnet.operators.find((o) => o.name === "tee")!;
    const withdraw = await vin([
      "--config",
      tee.config,
      "--password-file",
      tee.passwordFile,
      "--json",
      "eval",
      "withdraw",
    ]);
    expect(withdraw.code, withdraw.stderr).to.equal(0);
    expect(BigInt((JSON.parse(withdraw.stdout) as { amount: string }).amount)).to.equal(3n * 10n ** 18n);
  });
});

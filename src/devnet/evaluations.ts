/**
 * Verified evaluations on a devnet (issue #16): each bundled model's held-out rows registered as a dataset with its
 * trivial baseline, the TEE operator's evaluation service started (`vin eval serve`, a child process beside its
 * daemon, sending from its own hot key), one evaluation requested per model and awaited; then the example financial
 * consumer, a VolatilityRiskVault pinned to the S&P 500 volatility model and its dataset, deployed and asked for a
 * TEE and a ZK forecast, so that it has a history to audit (`vin audit <vault>`).
 */
import path from "node:path";
import { formatUnits, type Signer } from "ethers";
import { requireEvaluationRegistry } from "../core/contracts";
import { BaseError } from "../core/errors";
import { formatMetric, METRIC_NAMES, type DatasetId, type Metric } from "../core/evaluation";
import { toJobId, toModelId } from "../core/ids";
import { requestedJobs } from "../core/job";
import { Mode, MODE_NAMES } from "../core/modes";
import { clampToRange, type AnyBundledModel } from "../models";
import { bundledEvaluationRows } from "../models/evaluation";
import { modeModule } from "../modes";
import { FsContentStore, openNodeContent } from "../node/content-store";
import { loadEvaluatorKey } from "../node/evaluations";
import {
  evaluationOf,
  registerDataset,
  requestEvaluation,
  waitForEvaluation,
  type VersionEvaluation,
} from "../sdk/evaluations";
import { auditAddress, REFUSALS, type AuditReport } from "../sdk/auditAddress";
import { writeAuditReport } from "../sdk/auditReport";
import { waitForResult } from "../sdk/waitForResult";
import { VolatilityRiskVault__factory } from "../../typechain-types/factories/contracts/consumer/VolatilityRiskVault__factory";
import type { VolatilityRiskVault } from "../../typechain-types/contracts/consumer/VolatilityRiskVault";
import { spawnVin } from "./vin-process";
import type { Devnet } from "./devnet";
import type { DevnetOperator, OperatorDaemon } from "./operators";

const TOKEN = 10n ** 18n;

/** A bundled model's verified evaluation on its held-out rows, and what it cost. */
export interface DevnetEvaluation {
  model: AnyBundledModel;
  modelId: bigint;
  datasetId: DatasetId;
  evaluation: VersionEvaluation;
  /** Gas of the `submitEvaluation` that recorded it. */
  gasUsed: bigint;
  transactionHash: string;
}

/** One forecast the vault asked for, and what it did with it. */
export interface VaultForecast {
  jobId: bigint;
  mode: Mode;
  /** The forecast, % per day (undefined when the output was not decoded). */
  volatility?: number;
  accepted: boolean;
  reason: string;
  riskLimit: bigint;
}

export interface DevnetEvaluations {
  evaluations: DevnetEvaluation[];
  vault?: { address: string; contract: VolatilityRiskVault; forecasts: VaultForecast[] };
  /** The audit of the vault's history (`vin audit <vault>`), and where its report was written. */
  audit?: { report: AuditReport; html: string; json: string };
  /** The evaluation service's child process (stopped with the devnet). */
  service: OperatorDaemon;
  lines: string[];
}

export interface DevnetEvaluationOptions {
  /** The TEE operator whose enclave evaluates. Default "tee". */
  operator?: string;
  /** Fee per evaluation, token wei. Default 1 token. */
  fee?: bigint;
  /** Deploy the VolatilityRiskVault and ask it for forecasts. Default true when the volatility model is published. */
  vault?: boolean;
  /** Where the vault's audit report is written. Default `<workDir>/audit`. */
  auditDir?: string;
  log?: (line: string) => void;
}

/**
 * Registers each published bundled model's held-out rows, starts the TEE operator's evaluation service, requests and
 * awaits one verified evaluation per model, then (with the volatility model) deploys the risk vault and has it act on
 * a TEE and a ZK forecast. Returns everything, and the lines to print.
 * @example const { lines } = await runDevnetEvaluations(devnet); lines.forEach((l) => console.log(l));
 */
export async function runDevnetEvaluations(
  devnet: Devnet<AnyBundledModel>,
  options: DevnetEvaluationOptions = {},
): Promise<DevnetEvaluations> {
  const log = options.log ?? (() => undefined);
  const operator = devnet.operators.find((o) => o.name === (options.operator ?? "tee"));
  if (operator?.enclave === undefined)
    throw new BaseError(
      `the devnet has no TEE operator named ${options.operator ?? "tee"}: evaluations need an enclave`,
    );
  const service = await startEvaluationService(devnet, operator, log);
  const content = new FsContentStore(devnet.contentDir);
  const signer = devnet.deployer as unknown as Signer;
  const requester = devnet.requester as unknown as Signer;
  const fee = options.fee ?? TOKEN;
  await (await devnet.system.token.mint(await requester.getAddress(), fee * BigInt(devnet.models.length))).wait();
  const requests = [];
  for (const entry of devnet.models) {
    const { datasetId } = await registerDataset({
      contracts: devnet.contracts,
      signer,
      rows: bundledEvaluationRows(entry.model),
      content,
    });
    const requested = await requestEvaluation({
      contracts: devnet.contracts,
      signer: requester,
      modelId: toModelId(entry.modelId),
      version: 1,
      datasetId,
      fee,
      durationSeconds: 600,
    });
    requests.push({ entry, datasetId, requested });
  }
  const evaluations: DevnetEvaluation[] = [];
  const registry = requireEvaluationRegistry(devnet.contracts);
  for (const { entry, datasetId, requested } of requests) {
    const outcome = await waitForEvaluation({
      contracts: devnet.contracts,
      requestId: requested.requestId,
      timeoutMs: 300_000,
    });
    if (outcome.status !== "evaluated")
      throw new BaseError(
        `evaluation ${requested.requestId} of ${entry.model.name} was not served before its deadline (see ${path.relative(process.cwd(), evaluatorLog(devnet, operator))})`,
      );
    const [recorded] = await registry.queryFilter(registry.filters.EvaluationRecorded(requested.requestId));
    const receipt = await devnet.provider.getTransactionReceipt(recorded!.transactionHash);
    evaluations.push({
      model: entry.model,
      modelId: entry.modelId,
      datasetId,
      evaluation: (await evaluationOf(devnet.contracts, entry.modelId, 1, datasetId))!,
      gasUsed: receipt!.gasUsed,
      transactionHash: recorded!.transactionHash,
    });
  }
  const lines = [
    `\nverified evaluations (each bundled model on its held-out rows, computed and signed by operator ${operator.name}'s enclave ${operator.enclave}, recorded in EvaluationRegistry ${await registry.getAddress()}):`,
    ...evaluations.flatMap(describe),
  ];
  const volatility = devnet.models.find((m) => m.model.name === "sp500-volatility-mlp");
  const wantVault = options.vault ?? volatility !== undefined;
  const result: DevnetEvaluations = { evaluations, service, lines };
  if (wantVault && volatility !== undefined) {
    const evaluated = evaluations.find((e) => e.model === volatility.model)!;
    result.vault = await runVault(devnet, volatility, evaluated, log);
    lines.push(...describeVault(result.vault, volatility.modelId, evaluated));
    result.audit = await auditVault(
      devnet,
      result.vault.address,
      options.auditDir ?? path.join(devnet.workDir, "audit"),
    );
    lines.push(...describeAudit(result.audit, devnet));
  }
  return result;
}

function describe(e: DevnetEvaluation): string[] {
  const { evaluation: v } = e;
  const metric = v.dataset.metric;
  return [
    `  ${e.model.name} (model ${e.modelId}@1) on dataset ${e.datasetId} "${v.dataset.name}" (${v.dataset.rowCount} rows): ${METRIC_NAMES[metric]} ${formatMetric(metric, v.value)} against the baseline's ${formatMetric(metric, v.dataset.baselineValue)} ("${v.dataset.baseline}") — ${v.beatsBaseline ? "better than the baseline" : "NOT better than the baseline"}`,
    `    request ${v.requestId}, recorded in ${e.transactionHash} (${e.gasUsed.toLocaleString("en-US")} gas)`,
  ];
}

/**
 * Starts `vin eval serve` for `operator` as a child process in its own process group (log in
 * `<workDir>/<name>-evaluator.log`), its hot key funded with gas first; resolves once it has started.
 */
export async function startEvaluationService(
  devnet: Devnet<AnyBundledModel>,
  operator: DevnetOperator,
  log: (line: string) => void = () => undefined,
): Promise<OperatorDaemon> {
  const key = loadEvaluatorKey(path.join(operator.dataDir, "evaluator"), { create: true })!;
  await devnet.fund(key.address, { eth: 10n * TOKEN, tokens: 0n });
  const logFile = evaluatorLog(devnet, operator);
  const service = spawnVin({
    args: ["--config", operator.config, "eval", "serve"],
    name: `operator ${operator.name}'s evaluation service`,
    logFile,
    ready: (line) => (line.includes('"evaluation service started"') ? true : undefined),
    onLine: (line) => {
      if (line.includes('"evaluation submitted"'))
        log(`  operator ${operator.name}'s enclave evaluated: ${summary(line)}`);
    },
  });
  const started = service.ready.then(() => undefined);
  started.catch(() => undefined);
  const daemon: OperatorDaemon = {
    operator,
    child: service.child,
    started,
    exited: service.exited,
    stop: service.stop,
  };
  devnet.daemons.push(daemon);
  await started;
  log(
    `operator ${operator.name}'s evaluation service started (hot key ${key.address}); log in ${path.relative(process.cwd(), logFile)}`,
  );
  return daemon;
}

/** Where an operator's evaluation service logs. */
export function evaluatorLog(devnet: Pick<Devnet, "workDir">, operator: Pick<DevnetOperator, "name">): string {
  return path.join(devnet.workDir, `${operator.name}-evaluator.log`);
}

function summary(line: string): string {
  try {
    const e = JSON.parse(line) as { requestId?: string; value?: string; tx?: string };
    return `request ${e.requestId}, value ${e.value}, tx ${e.tx}`;
  } catch {
    return line;
  }
}

/**
 * Deploys the VolatilityRiskVault pinned to the volatility model's version 1 and its dataset (an evaluation no worse
 * than the baseline and better than it; ZK outputs read at the circuit's scale), funds it, and has it request a TEE and
 * a ZK forecast on the model's latest held-out row; waits until the vault has acted on both.
 */
async function runVault(
  devnet: Devnet<AnyBundledModel>,
  entry: Devnet<AnyBundledModel>["models"][number],
  evaluated: DevnetEvaluation,
  log: (line: string) => void,
): Promise<NonNullable<DevnetEvaluations["vault"]>> {
  const owner = devnet.deployer as unknown as Signer;
  const contracts = devnet.system;
  const vault = await new VolatilityRiskVault__factory(owner).deploy(
    await contracts.escrow.getAddress(),
    await contracts.evaluationRegistry.getAddress(),
    await owner.getAddress(),
    {
      modelId: entry.modelId,
      version: 1,
      datasetId: evaluated.datasetId,
      evaluationThreshold: evaluated.evaluation.dataset.baselineValue,
      requireBeatsBaseline: true,
      maxDelay: 600,
      maxAge: 86_400,
      maxChangeBps: 5_000,
      zkScaleBits: entry.zk?.zk.model.scaleBits ?? 0,
      minVolatility: 50_000n,
      maxVolatility: 20_000_000n,
      targetVolatility: 1_000_000n,
      maxLeverageBps: 20_000,
    },
  );
  await vault.waitForDeployment();
  const address = await vault.getAddress();
  log(`deployed VolatilityRiskVault at ${address} (model ${entry.modelId}@1, dataset ${evaluated.datasetId})`);
  await (await contracts.token.connect(owner).mint(address, 100n * TOKEN)).wait();
  await (await vault.setCapital(1_000n * TOKEN)).wait();
  const modes = entry.zk === undefined ? [Mode.Tee] : [Mode.Tee, Mode.Zk];
  const jobs: { jobId: bigint; mode: Mode }[] = [];
  for (const mode of modes) jobs.push({ jobId: await requestForecast(devnet, vault, entry, mode), mode });
  const forecasts: VaultForecast[] = [];
  for (const { jobId, mode } of jobs) {
    await waitForResult({ escrow: contracts.escrow, jobId: toJobId(jobId), timeoutMs: 180_000 });
    forecasts.push(await vaultOutcome(vault, jobId, mode));
  }
  return { address, contract: vault, forecasts };
}

async function requestForecast(
  devnet: Devnet<AnyBundledModel>,
  vault: VolatilityRiskVault,
  entry: Devnet<AnyBundledModel>["models"][number],
  mode: Mode,
): Promise<bigint> {
  const { escrow } = devnet.system;
  const features = mode === Mode.Zk ? clampToRange(entry.model.example, entry.model.inputRange) : entry.model.example;
  const prepared = modeModule(mode).prepareInput({
    features,
    zk: mode === Mode.Zk ? { model: entry.zk!.zk.model } : undefined,
  });
  const feePerNode = TOKEN / 2n;
  const [total] = await escrow.quote(entry.modelId, 1, mode, 1, feePerNode);
  const head = await devnet.provider.getBlock("latest");
  const tx = await vault.request({
    modelId: entry.modelId,
    version: 1,
    mode,
    redundancy: 1,
    deadline: BigInt(head!.timestamp + 600),
    feePerNode,
    collateral: 10n * TOKEN,
    maxTotal: total,
    callback: await vault.getAddress(),
    callbackGasLimit: 300_000,
    inputCommitment: prepared.inputCommitment,
    input: prepared.input,
    inputUri: "",
  });
  const [requested] = requestedJobs(escrow, await tx.wait());
  if (requested === undefined) throw new BaseError(`the vault's request ${tx.hash} emitted no JobRequested event`);
  return requested.job.id;
}

/** What the vault did with job `jobId`, from its `ForecastAccepted` or `ForecastRefused`, waited for briefly. */
async function vaultOutcome(vault: VolatilityRiskVault, jobId: bigint, mode: Mode): Promise<VaultForecast> {
  for (let i = 0; i < 100; i++) {
    const [accepted] = await vault.queryFilter(vault.filters.ForecastAccepted(jobId));
    if (accepted !== undefined)
      return {
        jobId,
        mode,
        volatility: Number(accepted.args.volatility) / 1e6,
        accepted: true,
        reason: "accepted",
        riskLimit: accepted.args.limit,
      };
    const [refused] = await vault.queryFilter(vault.filters.ForecastRefused(jobId));
    if (refused !== undefined)
      return {
        jobId,
        mode,
        ...(refused.args.volatility === 0n ? {} : { volatility: Number(refused.args.volatility) / 1e6 }),
        accepted: false,
        reason: REFUSALS[Number(refused.args.reason)] ?? String(refused.args.reason),
        riskLimit: await vault.riskLimit(),
      };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new BaseError(`the vault did not act on job ${jobId}: its callback failed (see CallbackDelivered)`);
}

/** `vin audit <vault>` in this process: every job of the vault re-verified at the head, the report written to `dir`. */
async function auditVault(
  devnet: Devnet<AnyBundledModel>,
  vault: string,
  dir: string,
): Promise<NonNullable<DevnetEvaluations["audit"]>> {
  // The circuit files: in the content directory, or (over IPFS) in the publisher's store on this machine.
  const content = await openNodeContent({ contentDir: devnet.contentDir, ipfsDir: devnet.ipfsDir, timeoutMs: 30_000 });
  try {
    const report = await auditAddress({
      provider: devnet.provider,
      chainId: BigInt(devnet.system.record.chainId),
      deployment: devnet.system.record,
      address: vault,
      confirmations: 0,
      content: content.store,
    });
    return { report, ...writeAuditReport(report, dir) };
  } finally {
    await content.close();
  }
}

function describeAudit(audit: NonNullable<DevnetEvaluations["audit"]>, devnet: Devnet<AnyBundledModel>): string[] {
  const { report } = audit;
  const gas = report.jobs
    .filter((j) => j.gas.settle !== undefined)
    .map(
      (j) =>
        `job ${j.jobId} [${j.mode}]: request ${j.gas.request}, claim ${j.gas.claims.join("+")}, settle ${j.gas.settle}`,
    );
  return [
    `
its audit trail (vin audit ${report.address}, every read at block ${report.block.number} ${report.block.hash}): ${report.ok ? "PASSED" : "FAILED"}, ${report.summary.jobs} jobs re-verified (proof or enclave, agreement, the version's verified evaluation, input commitment, output, price, timing), ${report.summary.failedJobs} failed`,
    `  gas of the audited jobs: ${gas.join("; ")}`,
    `  report: ${path.relative(process.cwd(), audit.html)} (and report.json, SVG plots beside it); again from any RPC: npm run vin -- audit ${report.address} --rpc ${devnet.chain.url} --deployment ${path.relative(process.cwd(), devnet.deploymentFile)}`,
  ];
}

function describeVault(
  vault: NonNullable<DevnetEvaluations["vault"]>,
  modelId: bigint,
  evaluated: DevnetEvaluation,
): string[] {
  const metric: Metric = evaluated.evaluation.dataset.metric;
  return [
    `\nthe example financial consumer: VolatilityRiskVault ${vault.address}, pinned to model ${modelId}@1 and dataset ${evaluated.datasetId}; it acts on a forecast only from a ZK or TEE job, of a version whose verified ${METRIC_NAMES[metric]} (${formatMetric(metric, evaluated.evaluation.value)}) is no worse than ${formatMetric(metric, evaluated.evaluation.dataset.baselineValue)} and better than the baseline, within 10 minutes of its request, moving under 50%:`,
    ...vault.forecasts.map(
      (f) =>
        `  job ${f.jobId} [${MODE_NAMES[f.mode]}]: forecast ${f.volatility === undefined ? "?" : `${f.volatility.toFixed(4)} % per day`} -> ${f.reason}${f.accepted ? `, risk limit ${formatUnits(f.riskLimit, 18)} tokens of 1000 capital` : ""}`,
    ),
  ];
}

import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { formatEther, isAddress, type Provider } from "ethers";
import { requireEvaluationRegistry, type Contracts } from "../../core/contracts";
import { InputError, VerificationError } from "../../core/errors";
import { EvaluationStatus, formatMetric, toDatasetId, toEvaluationId, type EvaluationId } from "../../core/evaluation";
import { toModelId } from "../../core/ids";
import { withRetry } from "../../core/retry";
import { EvaluationRowsError, parseRows, rowsMetric } from "../../models/evaluation";
import type { NodeConfig } from "../../node/config";
import { openNodeContent } from "../../node/content-store";
import {
  EvaluationService,
  loadEvaluationSigner,
  loadEvaluatorKey,
  openEvaluatorDatabase,
} from "../../node/evaluations";
import { loadKeystore, readPassword } from "../../node/keystore";
import { DataDirLock } from "../../node/lock";
import { createLogger } from "../../core/log";
import { ModelLoader } from "../../node/models";
import {
  getDataset,
  listDatasets,
  metricName,
  parseModelSpec,
  registerDataset,
  requestEvaluation,
  versionEvaluations,
  waitForEvaluation,
  type DatasetInfo,
  type VersionEvaluation,
} from "../../sdk/evaluations";
import { openContentStore } from "../../storage";
import { withChain } from "../context";
import { parseAmount, type Globals } from "../options";
import { print, tokens } from "../output";

/**
 * `vin eval`: verified evaluations of model versions on published datasets (EvaluationRegistry): list and register
 * datasets, request an evaluation and wait for it, show a version's evaluations with their baselines, refund and
 * withdraw, and, for TEE operators, serve requests with the node's enclave.
 */
export function register(program: Command, global: Globals): void {
  const evaluation = program
    .command("eval")
    .description(
      "verified evaluations: datasets, requests, results (each beside its trivial baseline), the TEE service",
    );

  evaluation
    .command("datasets")
    .description("list the registered datasets: rows, metric, baseline, CID")
    .action(async () => {
      const g = global();
      await withChain(g, async (_config, _provider, contracts) => {
        const datasets = await listDatasets(contracts);
        print(!!g.json, datasets, () =>
          datasets.length === 0 ? "no dataset is registered yet" : datasets.map(describeDataset).join("\n"),
        );
      });
    });

  evaluation
    .command("register-dataset <rows>")
    .description(
      "register a vin-evaluation-rows/1 file as a dataset: stored in the content store (--ipfs-dir or --kubo), baseline scored from its predictions",
    )
    .action(async (file: string) => {
      const g = global();
      const rows = readRows(file);
      await withChain(g, async (config, provider, contracts) => {
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const content = await openContentStore(g.kubo === undefined ? { dir: g.ipfsDir } : { kuboUrl: g.kubo });
        try {
          const result = await registerDataset({ contracts, signer, rows, content });
          print(!!g.json, result, () =>
            [
              `registered dataset ${result.datasetId} "${rows.name}" (${rows.x.length} rows, ${rows.metric}; tx ${result.transactionHash})`,
              `rows ${result.rowsCid} (SHA-256 ${result.rowsSha256})`,
              `baseline "${rows.baseline.description}": ${formatMetric(rowsMetric(rows), result.baselineValue)}`,
            ].join("\n"),
          );
        } finally {
          await content.close();
        }
      });
    });

  evaluation
    .command("request")
    .description(
      "ask for a verified evaluation of a model version on a dataset (the fee goes to the serving enclave's operator)",
    )
    .requiredOption("--model <id[@version]>", "model id, optionally with a version (default: latest)")
    .requiredOption("--dataset <id>", "dataset id (vin eval datasets)")
    .option("--fee <tokens>", "fee paid to the operator whose enclave serves it", "1")
    .option("--duration <seconds>", "time until the deadline (60 to 2592000)", "600")
    .option("--wait", "wait for the result (refunding the fee if the deadline passes unserved)")
    .option("--timeout <seconds>", "how long --wait waits", "900")
    .action(
      async (opts: {
        model: string;
        dataset: string;
        fee: string;
        duration: string;
        wait?: boolean;
        timeout: string;
      }) => {
        const g = global();
        const { modelId, version } = parseModelSpec(opts.model);
        const datasetId = toDatasetId(opts.dataset);
        const fee = opts.fee === "0" ? 0n : parseAmount(opts.fee);
        await withChain(g, async (config, provider, contracts) => {
          const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
          const requested = await requestEvaluation({
            contracts,
            signer,
            modelId: toModelId(modelId),
            version,
            datasetId,
            fee,
            durationSeconds: Number(opts.duration),
          });
          const head = `requested evaluation ${requested.requestId} of model ${modelId}@${requested.version} on dataset ${datasetId} (fee ${tokens(fee)}, deadline ${new Date(Number(requested.deadline) * 1000).toISOString()}, tx ${requested.transactionHash})`;
          if (!opts.wait) {
            print(!!g.json, requested, () => head);
            return;
          }
          if (!g.json) process.stderr.write(`${head}\nwaiting for an enclave to serve it ...\n`);
          const outcome = await waitForEvaluation({
            contracts,
            requestId: requested.requestId,
            refunder: signer,
            timeoutMs: Number(opts.timeout) * 1000,
          });
          if (outcome.status === "refunded")
            throw new VerificationError(
              `evaluation request ${requested.requestId} was not served before its deadline: its fee was refunded (withdraw it with \`vin eval withdraw\`)`,
            );
          const evaluations = await versionEvaluations({
            contracts,
            provider,
            modelId,
            version: requested.version,
            fromBlock: requested.blockNumber,
            maxRange: config.maxBlockRange,
          });
          const e = evaluations.find((x) => x.dataset.datasetId === datasetId)!;
          print(!!g.json, e, () => describeEvaluation(e));
        });
      },
    );

  evaluation
    .command("show [model]")
    .description("show a version's verified evaluations (<id> or <id>@<version>), or one request (--request)")
    .option("--request <id>", "one evaluation request instead")
    .action(async (spec: string | undefined, opts: { request?: string }) => {
      const g = global();
      if ((spec === undefined) === (opts.request === undefined))
        throw new InputError("give a model (<id> or <id>@<version>) or --request <id>, not both");
      await withChain(g, async (config, provider, contracts) => {
        if (opts.request !== undefined) return showRequest(g.json === true, contracts, toEvaluationId(opts.request));
        const { modelId, version: given } = parseModelSpec(spec!);
        const version =
          given ?? Number(await withRetry("registry.versionCount", () => contracts.registry.versionCount(modelId)));
        const evaluations = await versionEvaluations({
          contracts,
          provider,
          modelId,
          version,
          fromBlock: config.contracts.startBlock,
          maxRange: config.maxBlockRange,
        });
        print(!!g.json, evaluations, () =>
          evaluations.length === 0
            ? `model ${modelId}@${version} has no verified evaluation: ask for one with \`vin eval request --model ${modelId}@${version} --dataset <id>\``
            : evaluations.map(describeEvaluation).join("\n\n"),
        );
      });
    });

  evaluation
    .command("refund <request>")
    .description("credit the fee of a request unserved by its deadline back to its requester (anyone may)")
    .action(async (id: string) => {
      const g = global();
      const requestId = toEvaluationId(id);
      await withChain(g, async (config, provider, contracts) => {
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const receipt = await (await requireEvaluationRegistry(contracts).connect(signer).refund(requestId)).wait();
        print(
          !!g.json,
          { requestId, tx: receipt?.hash },
          () => `refunded evaluation request ${requestId} (tx ${receipt?.hash})`,
        );
      });
    });

  evaluation
    .command("withdraw")
    .description("withdraw your evaluation credits (fees earned, refunds)")
    .option("--to <address>", "recipient (default: yourself)")
    .action(async (opts: { to?: string }) => {
      const g = global();
      if (opts.to !== undefined && !isAddress(opts.to)) throw new InputError(`--to "${opts.to}" is not an address`);
      await withChain(g, async (config, provider, contracts) => {
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const registry = requireEvaluationRegistry(contracts).connect(signer);
        const amount = await registry.credits(signer.address);
        if (amount === 0n) throw new InputError(`${signer.address} has no evaluation credits to withdraw`);
        const receipt = await (await registry.withdraw(opts.to ?? signer.address)).wait();
        print(!!g.json, { amount, tx: receipt?.hash }, () => `withdrew ${tokens(amount)} (tx ${receipt?.hash})`);
      });
    });

  evaluation
    .command("serve")
    .description(
      "TEE operators: serve evaluation requests with this node's enclave (results sent from a hot key in the data directory; fees credited to the operator)",
    )
    .option("--min-fee <tokens>", "leave requests paying less to others", "0")
    .option("--once", "serve what is queued now, then exit")
    .action(async (opts: { minFee: string; once?: boolean }) => {
      const g = global();
      const minFee = opts.minFee === "0" ? 0n : parseAmount(opts.minFee);
      await withChain(g, (config, provider, contracts) =>
        serve(config, provider, contracts, minFee, opts.once === true),
      );
    });
}

/** Runs the evaluation service of the config's node until SIGTERM or SIGINT (or once). */
async function serve(
  config: NodeConfig,
  provider: Provider,
  contracts: Contracts,
  minFee: bigint,
  once: boolean,
): Promise<void> {
  const log = createLogger();
  const registry = requireEvaluationRegistry(contracts);
  const enclave = loadEvaluationSigner(config.dataDir);
  const dir = path.join(config.dataDir, "evaluator");
  const lock = DataDirLock.acquire(dir, "evaluation service");
  const db = openEvaluatorDatabase(dir);
  const content = await openNodeContent({
    contentDir: config.contentDir,
    ipfsDir: config.ipfsDir,
    kuboUrl: config.kuboUrl,
    timeoutMs: config.contentTimeoutMs,
  });
  try {
    const submitter = loadEvaluatorKey(dir, { create: true })!.connect(provider);
    const balance = await provider.getBalance(submitter.address);
    log.info(
      { enclave: enclave.address, submitter: submitter.address, balance: formatEther(balance) },
      balance === 0n
        ? "evaluation service: fund the submitter with ETH for gas, or results cannot be sent"
        : "evaluation service started",
    );
    const service = new EvaluationService({
      provider,
      contracts: {
        evaluations: registry.connect(submitter),
        registry: contracts.registry,
        teeVerifier: contracts.teeVerifier,
        staking: contracts.staking,
      },
      enclave,
      models: new ModelLoader(contracts.registry, content.store),
      content: content.store,
      db,
      chainId: BigInt(config.chainId),
      startBlock: config.contracts.startBlock,
      log,
      confirmations: config.confirmations,
      pollIntervalMs: config.pollIntervalMs,
      maxBlockRange: config.maxBlockRange,
      rpcTimeoutMs: config.rpcTimeoutMs,
      contentTimeoutMs: config.contentTimeoutMs,
      minFee,
    });
    if (once) {
      const rows = await service.syncOnce();
      print(false, rows, () =>
        rows.map((r) => `request ${r.id}: ${r.state}${r.reason === null ? "" : ` (${r.reason})`}`).join("\n"),
      );
      return;
    }
    const abort = new AbortController();
    const stop = () => abort.abort();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    await service.run(abort.signal);
    log.info("evaluation service stopped");
  } finally {
    await content.close();
    db.close();
    lock.release();
  }
}

async function showRequest(json: boolean, contracts: Contracts, requestId: EvaluationId): Promise<void> {
  const registry = requireEvaluationRegistry(contracts);
  const request = await withRetry("evaluationRegistry.requestOf", () => registry.requestOf(requestId));
  const result = await registry.resultOf(requestId);
  const dataset = await getDataset(contracts, toDatasetId(request.datasetId));
  const status = EvaluationStatus[Number(request.status)]?.toLowerCase() ?? String(request.status);
  const value = {
    requestId,
    modelId: request.modelId,
    version: request.version,
    datasetId: request.datasetId,
    deadline: request.deadline,
    status,
    requester: request.requester,
    fee: request.fee,
    result: { value: result.value, evaluatedAt: result.evaluatedAt, enclave: result.enclave },
    dataset,
  };
  print(json, value, () =>
    [
      `evaluation request ${requestId}: ${status}`,
      `model ${request.modelId}@${request.version} on dataset ${request.datasetId} "${dataset.name}" (${metricName(dataset.metric)})`,
      `requester ${request.requester}, fee ${tokens(request.fee)}, deadline ${new Date(Number(request.deadline) * 1000).toISOString()}`,
      ...(Number(request.status) === EvaluationStatus.Evaluated
        ? [
            `result ${formatMetric(dataset.metric, result.value)} (baseline ${formatMetric(dataset.metric, dataset.baselineValue)}), signed by enclave ${result.enclave} at ${new Date(Number(result.evaluatedAt) * 1000).toISOString()}`,
          ]
        : []),
    ].join("\n"),
  );
}

function describeDataset(d: DatasetInfo): string {
  return [
    `dataset ${d.datasetId} "${d.name}": ${d.rowCount} rows, ${metricName(d.metric)}; baseline ${formatMetric(d.metric, d.baselineValue)} (${d.baseline})`,
    `  split: ${d.split}`,
    `  rows ${d.rowsCid} (SHA-256 ${d.rowsSha256}), registered by ${d.registrant}`,
  ].join("\n");
}

/** A verified evaluation as a person reads it: the figure beside the baseline, and what it is trusted by. */
export function describeEvaluation(e: VersionEvaluation): string {
  const m = e.dataset.metric;
  return [
    `model ${e.modelId}@${e.version} on dataset ${e.dataset.datasetId} "${e.dataset.name}" (${e.dataset.rowCount} rows): ${metricName(m)} ${formatMetric(m, e.value)}, baseline ${formatMetric(m, e.dataset.baselineValue)} ("${e.dataset.baseline}") — ${e.beatsBaseline ? "better than" : "NOT better than"} the baseline`,
    `  verified by TEE enclave ${e.enclave} (measurement ${e.measurement}) of operator ${e.operator}, request ${e.requestId}, ${new Date(Number(e.evaluatedAt) * 1000).toISOString()}${e.valid ? "" : "; its enclave or measurement has since been REVOKED: no longer verified"}`,
    `  split: ${e.dataset.split}`,
  ].join("\n");
}

function readRows(file: string) {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (cause) {
    throw new InputError(`cannot read ${file}: give a vin-evaluation-rows/1 JSON file`, { cause });
  }
  try {
    return parseRows(bytes);
  } catch (error) {
    if (error instanceof EvaluationRowsError) throw new InputError(`${file}: ${error.shortMessage}`, { cause: error });
    throw error;
  }
}

import { readFileSync } from "node:fs";
import path from "node:path";
import { getBytes, keccak256 } from "ethers";
import type { Command } from "commander";
import { decodeClassification } from "../inference/onnx";
import { JobStatus } from "../core/job";
import { Mode, MODE_NAMES } from "../core/modes";
import type { Job } from "../core/job";
import { isModeName, loadConfig, MODE_BY_NAME, type NodeConfig } from "../node/config";
import { loadKeystore, readPassword } from "../node/keystore";
import { connectContracts, type Contracts } from "../core/contracts";
import { InputError, VerificationError } from "../core/errors";
import { getJobRequest } from "../sdk/jobs";
import { toJobId, toModelId, type JobId } from "../core/ids";
import { createProvider, checkEndpoint } from "../core/provider";
import { requestInference } from "../sdk/requestInference";
import { verifyResult, type VerifyResultReturnType } from "../sdk/verifyResult";
import { openNodeContent } from "../node/content-store";
import { parseZkManifest, quantizedModelFor, ZK_FILES } from "../zkml/package";
import type { QuantizedModel } from "../zkml/quantize";
import { waitForResult } from "../sdk/waitForResult";
import { withRetry } from "../core/retry";
import type { JsonRpcProvider } from "ethers";
import { parseAmount, type GlobalOptions } from "./operator";
import { print, tokens } from "./output";

const STATUS = ["none", "open", "settled", "refunded"];

/**
 * Re-verifies a settled job; for ZK, the version's files are read from the content the config names (content
 * directory, IPFS store, Kubo node) to rebuild its circuit and check its proving key.
 */
async function verifyJob(config: NodeConfig, provider: JsonRpcProvider, contracts: Contracts, jobId: JobId, fromBlock: number): Promise<VerifyResultReturnType> {
  const content = await openNodeContent({ contentDir: config.contentDir, ipfsDir: config.ipfsDir, kuboUrl: config.kuboUrl, timeoutMs: config.contentTimeoutMs });
  try {
    return await verifyResult({ contracts, provider, jobId, fromBlock, maxRange: config.maxBlockRange, content: content.store });
  } finally {
    await content.close();
  }
}

async function withChain<T>(global: GlobalOptions, fn: (config: NodeConfig, provider: JsonRpcProvider, contracts: Contracts) => Promise<T>): Promise<T> {
  const config = loadConfig(global.config);
  const provider = createProvider(config.rpcUrl, { chainId: config.chainId, timeoutMs: config.rpcTimeoutMs });
  try {
    await checkEndpoint(provider, config.rpcUrl, config.chainId);
    return await fn(config, provider, connectContracts(config.contracts, provider));
  } finally {
    provider.destroy();
  }
}

function parseModel(spec: string): { modelId: bigint; version?: number } {
  const match = /^(\d+)(?:@(\d+))?$/.exec(spec);
  if (match === null) throw new InputError(`--model "${spec}" must be <id> or <id>@<version>, e.g. 1 or 1@2`);
  return { modelId: BigInt(match[1]!), version: match[2] === undefined ? undefined : Number(match[2]) };
}

function parseFeatures(json: string): number[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (cause) {
    throw new InputError(`--input is not JSON: pass an array of numbers, e.g. '[39.1, 18.7, 181, 3750]'`, { cause });
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "number" && Number.isFinite(v))) throw new InputError("--input must be a non-empty JSON array of numbers");
  return value as number[];
}

/** The quantized model a pulled ZK version's circuit computes (checked against its manifest). */
function loadCircuitModel(dir: string | undefined): QuantizedModel {
  if (dir === undefined) throw new InputError("--mode zk needs --model-dir <dir>: pull the version first with `vin pull <model> --out <dir>`");
  const read = (file: string): Uint8Array => {
    try {
      return readFileSync(path.join(dir, ...file.split("/")));
    } catch (cause) {
      throw new InputError(`--model-dir ${dir} has no ${file}: is it a pulled ZK model version?`, { cause });
    }
  };
  try {
    return quantizedModelFor(read("model.onnx"), parseZkManifest(read(ZK_FILES.manifest)));
  } catch (cause) {
    if (cause instanceof InputError) throw cause;
    throw new InputError(`--model-dir ${dir}: ${(cause as Error).message}`, { cause });
  }
}

function describeOutput(output: string): string {
  if (getBytes(output).length === 6) return `packed ZK output ${BigInt(output)} (class index for classifiers, value + 2^47 at 2^-s for regressors)`;
  try {
    const { label, logits } = decodeClassification(getBytes(output));
    return `class ${label} (logits ${logits.join(", ")})`;
  } catch {
    return output;
  }
}

export function registerDappCommands(program: Command, global: () => GlobalOptions): void {
  program
    .command("request")
    .description("request an inference (and with --wait, print its verified result)")
    .requiredOption("--model <id[@version]>", "model id, optionally with a version (default: latest)")
    .option("--mode <mode>", "vanilla, tee or zk", "vanilla")
    .option("--model-dir <dir>", "zk: the pulled model version (vin pull), holding model.onnx and zk/zk.json")
    .requiredOption("--input <json>", "features as a JSON array of numbers")
    .option("--fee <tokens>", "fee per node", "0.5")
    .option("--collateral <tokens>", "collateral each node locks (at most the fee times the escrow's maxCollateralRatio, 20 on the devnet)", "10")
    .option("--redundancy <k>", "nodes that must agree: odd, 1 to 7 (1 for zk)", "1")
    .option("--duration <seconds>", "time until the deadline", "600")
    .option("--wait", "wait for the result and verify it")
    .option("--timeout <seconds>", "how long --wait waits", "600")
    .action(async (opts: Record<string, string | boolean>) => {
      const g = global();
      const mode = opts.mode as string;
      if (!isModeName(mode)) throw new InputError(`--mode "${mode}" is not supported: use vanilla, tee or zk`);
      const { modelId, version } = parseModel(opts.model as string);
      const input = parseFeatures(opts.input as string);
      const zk = mode === "zk" ? { model: loadCircuitModel(opts["modelDir"] as string | undefined) } : undefined;
      await withChain(g, async (config, provider, contracts) => {
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const requested = await requestInference({
          contracts,
          signer,
          modelId: toModelId(modelId),
          version,
          mode: MODE_BY_NAME[mode],
          input,
          redundancy: Number(opts.redundancy),
          feePerNode: parseAmount(opts.fee as string),
          collateral: parseAmount(opts.collateral as string),
          durationSeconds: Number(opts.duration),
          zk,
        });
        const jobId = toJobId(requested.job.id);
        if (!opts.wait) {
          print(!!g.json, { jobId, total: requested.total, tx: requested.transactionHash }, () => `requested job ${jobId} (escrowed ${tokens(requested.total)}, ${requested.transactionHash})`);
          return;
        }
        // Progress on stderr (stdout keeps the result alone, as --json needs): the job's slots as nodes claim them.
        const progress = g.json ? undefined : watchProgress(contracts, requested.job, (line) => process.stderr.write(`${line}\n`));
        const result = await waitForResult({ escrow: contracts.escrow, jobId, timeoutMs: Number(opts.timeout) * 1000 }).finally(() => progress?.stop());
        if (result.status === "refunded") throw new VerificationError(`job ${jobId} was refunded: no node delivered a result before the deadline`);
        const report = await verifyJob(config, provider, contracts, jobId, requested.blockNumber);
        if (!report.ok) throw new VerificationError(`job ${jobId} settled but failed verification: ${report.checks.filter((c) => !c.ok).map((c) => c.name).join(", ")}`);
        print(!!g.json, { jobId, output: result.output, outputHash: result.outputHash, verified: report }, () => `job ${jobId}: ${describeOutput(result.output)}\noutput hash ${result.outputHash} (verified: ${report.checks.length} checks passed)`);
      });
    });

  program
    .command("job <id>")
    .description("show a job: its terms, state and result")
    .action(async (id: string) => {
      const g = global();
      if (!/^\d+$/.test(id)) throw new InputError(`job id "${id}" is not a number`);
      await withChain(g, async (config, provider, contracts) => {
        const jobId = toJobId(id);
        const request = await getJobRequest({ escrow: contracts.escrow, provider, jobId, fromBlock: config.contracts.startBlock, maxRange: config.maxBlockRange });
        const state = await withRetry("escrow.stateOf", () => contracts.escrow.stateOf(jobId));
        const [outputHash, output] = await withRetry("escrow.resultOf", () => contracts.escrow.resultOf(jobId));
        const status = STATUS[Number(state.status)] ?? String(state.status);
        const value = { jobId, terms: request.job, input: request.input, inputUri: request.inputUri, requestTx: request.transactionHash, status, filled: state.filled, committed: state.committed, revealed: state.revealed, output: output === "0x" ? undefined : output, outputHash: output === "0x" ? undefined : outputHash };
        const { job } = request;
        print(!!g.json, value, () =>
          [
            `job ${jobId}: ${status} (slots filled ${state.filled}/${job.redundancy})`,
            `model ${job.modelId}@${job.version}, mode ${MODE_NAMES[Number(job.mode) as Mode] ?? job.mode}, requester ${job.requester}`,
            `fee per node ${tokens(job.feePerNode)}, collateral ${tokens(job.collateral)}, deadline ${new Date(Number(job.deadline) * 1000).toISOString()}`,
            `input ${new TextDecoder().decode(getBytes(request.input)) || request.inputUri} (hash ${keccak256(request.input)})`,
            ...(output === "0x" ? [] : [`result ${describeOutput(output)}`, `output hash ${outputHash}`]),
          ].join("\n"),
        );
      });
    });

  program
    .command("verify <id>")
    .description("re-verify a settled job off-chain (output hash; TEE: the enclave signature and its registration; ZK: the verifier's factory and key, the circuit rebuilt from the ONNX file, zkey verify, the proof)")
    .action(async (id: string) => {
      const g = global();
      if (!/^\d+$/.test(id)) throw new InputError(`job id "${id}" is not a number`);
      await withChain(g, async (config, provider, contracts) => {
        const report = await verifyJob(config, provider, contracts, toJobId(id), config.contracts.startBlock);
        print(!!g.json, report, () => [`job ${id} (${report.mode}): ${report.ok ? "VERIFIED" : "NOT VERIFIED"}`, ...report.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`)].join("\n"));
        if (!report.ok) throw new VerificationError(`job ${id} failed verification: ${report.checks.filter((c) => !c.ok).map((c) => c.name).join(", ")}`);
      });
    });
}

/**
 * Reports a requested job's progress while `--wait` waits: requested, then each slot claimed, then committed and
 * revealed results for k > 1 (polled every second; a failed poll is skipped, the wait itself decides the outcome).
 */
function watchProgress(contracts: Contracts, job: Job, write: (line: string) => void): { stop(): void } {
  write(`job ${job.id}: requested (model ${job.modelId}@${job.version}, mode ${MODE_NAMES[Number(job.mode) as Mode] ?? job.mode}, deadline ${new Date(Number(job.deadline) * 1000).toISOString()}); waiting for ${job.redundancy} node(s)`);
  let last = "";
  const timer = setInterval(() => {
    contracts.escrow.stateOf(job.id).then(
      (state) => {
        const now = `claimed ${state.filled}/${job.redundancy}${job.redundancy > 1n ? `, committed ${state.committed}, revealed ${state.revealed}` : ""}`;
        if (now !== last && Number(state.status) === JobStatus.Open) write(`job ${job.id}: ${now}`);
        last = now;
      },
      () => undefined,
    );
  }, 1_000);
  return { stop: () => clearInterval(timer) };
}


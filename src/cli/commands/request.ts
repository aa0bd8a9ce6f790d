import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { isAddress, ZeroAddress } from "ethers";
import type { Contracts } from "../../core/contracts";
import { InputError, VerificationError } from "../../core/errors";
import { toJobId, toModelId } from "../../core/ids";
import { JobStatus, type Job } from "../../core/job";
import { isModeName, MODE_BY_NAME, MODE_NAMES, type Mode } from "../../core/modes";
import { loadKeystore, readPassword } from "../../node/keystore";
import { requestInference } from "../../sdk/requestInference";
import { waitForResult } from "../../sdk/waitForResult";
import { parseZkManifest, quantizedModelFor, ZK_FILES } from "../../zkml/package";
import type { QuantizedModel } from "../../zkml/quantize";
import { verifyJob, withChain } from "../context";
import { parseAmount, parseFeatures, type Globals } from "../options";
import { PASSES_OPTION, privateRequest } from "./chat";
import { describeOutput, print, tokens } from "../output";

/** `vin request`: an inference requested (see `requestInference`), and with `--wait` its result verified. */
export function register(program: Command, global: Globals): void {
  program
    .command("request")
    .description("request an inference (and with --wait, print its verified result)")
    .requiredOption("--model <id[@version]>", "model id, optionally with a version (default: latest)")
    .option("--mode <mode>", "vanilla, tee or zk", "vanilla")
    .option("--model-dir <dir>", "zk: the pulled model version (vin pull), holding model.onnx and zk/zk.json")
    .requiredOption("--input <json>", "features as a JSON array of numbers")
    .option("--fee <tokens>", "fee per node", "0.5")
    .option(
      "--collateral <tokens>",
      "collateral each node locks (at most the fee times the escrow's maxCollateralRatio, 20 on the devnet)",
      "10",
    )
    .option("--redundancy <k>", "nodes that must agree: odd, 1 to 7 (1 for zk)", "1")
    .option("--duration <seconds>", "time until the deadline", "600")
    .option(
      "--node <address>",
      "assign the job to this node alone (k = 1): it settles with one transaction, no claim; refunded in full if it does not serve",
    )
    .option(
      "--encrypt",
      "seal the input to the serving nodes' keys (PrivacyRegistry) so it never appears in clear on-chain; only those nodes can take the job",
    )
    .option(
      "--to <nodes>",
      "with --encrypt: the node addresses to seal to, comma-separated (default: up to 8 that can)",
    )
    .option(
      "--private",
      "no on-chain job: one private inference through an Oblivious HTTP relay to an attested TEE gateway (as vin chat)",
    )
    .option(
      "--gateway <operator>",
      "with --private: this operator's gateway (default: the first that may serve the model)",
    )
    .option("--relay <address>", "with --private: the relay listed by this account (default: a random independent one)")
    .option(...PASSES_OPTION)
    .option("--wait", "wait for the result and verify it")
    .option("--timeout <seconds>", "how long --wait waits", "600")
    .action(async (opts: Record<string, string | boolean>) => {
      const g = global();
      if (opts.private === true) {
        if (opts.encrypt === true || opts.wait === true || (opts.mode !== "vanilla" && opts.mode !== "tee"))
          throw new InputError(
            "--private serves the request off-chain through a TEE gateway: drop --encrypt, --wait and --mode (the answer comes back at once, with its enclave receipt)",
          );
        await privateRequest(
          g,
          {
            model: opts.model as string,
            ...(opts.gateway === undefined ? {} : { gateway: opts.gateway as string }),
            ...(opts.relay === undefined ? {} : { relay: opts.relay as string }),
            passes: opts.passes as string,
          },
          parseFeatures(opts.input as string),
        );
        return;
      }
      if (opts.gateway !== undefined || opts.relay !== undefined)
        throw new InputError("--gateway and --relay choose the private path: add --private");
      const mode = opts.mode as string;
      if (!isModeName(mode)) throw new InputError(`--mode "${mode}" is not supported: use vanilla, tee or zk`);
      const { modelId, version } = parseModel(opts.model as string);
      const input = parseFeatures(opts.input as string);
      const zk = mode === "zk" ? { model: loadCircuitModel(opts["modelDir"] as string | undefined) } : undefined;
      const encryptTo = parseEncryptTo(opts.encrypt === true, opts.to as string | undefined);
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
          encryptTo,
          keysFromBlock: config.contracts.startBlock,
          ...(opts.node === undefined ? {} : { node: opts.node as string }),
        });
        const jobId = toJobId(requested.job.id);
        if (!opts.wait) {
          print(
            !!g.json,
            {
              jobId,
              total: requested.total,
              tx: requested.transactionHash,
              sealedTo: requested.sealedTo,
              assignedTo: opts.node,
            },
            () =>
              `requested job ${jobId} (escrowed ${tokens(requested.total)}, ${requested.transactionHash})` +
              (opts.node === undefined ? "" : `\nassigned to node ${opts.node as string}`) +
              (requested.sealedTo === undefined ? "" : `\ninput sealed to ${requested.sealedTo.join(", ")}`),
          );
          return;
        }
        // Progress on stderr (stdout keeps the result alone, as --json needs): the job's slots as nodes claim them.
        const progress = g.json
          ? undefined
          : watchProgress(contracts, requested.job, (line) => process.stderr.write(`${line}\n`));
        const result = await waitForResult({
          escrow: contracts.escrow,
          jobId,
          timeoutMs: Number(opts.timeout) * 1000,
        }).finally(() => progress?.stop());
        if (result.status === "refunded")
          throw new VerificationError(`job ${jobId} was refunded: no node delivered a result before the deadline`);
        const report = await verifyJob(config, provider, contracts, jobId, requested.blockNumber);
        if (!report.ok)
          throw new VerificationError(
            `job ${jobId} settled but failed verification: ${report.checks
              .filter((c) => !c.ok)
              .map((c) => c.name)
              .join(", ")}`,
          );
        print(
          !!g.json,
          { jobId, output: result.output, outputHash: result.outputHash, verified: report },
          () =>
            `job ${jobId}: ${describeOutput(result.output)}\noutput hash ${result.outputHash} (verified: ${report.checks.length} checks passed)`,
        );
      });
    });
}

function parseModel(spec: string): { modelId: bigint; version?: number } {
  const match = /^(\d+)(?:@(\d+))?$/.exec(spec);
  if (match === null) throw new InputError(`--model "${spec}" must be <id> or <id>@<version>, e.g. 1 or 1@2`);
  return { modelId: BigInt(match[1]!), version: match[2] === undefined ? undefined : Number(match[2]) };
}

/** `--encrypt [--to a,b]`: "auto", the listed nodes, or undefined (a clear input). */
function parseEncryptTo(encrypt: boolean, to: string | undefined): "auto" | string[] | undefined {
  if (to === undefined) return encrypt ? "auto" : undefined;
  if (!encrypt) throw new InputError("--to names the nodes to seal the input to: add --encrypt");
  const nodes = to.split(",").map((n) => n.trim());
  const bad = nodes.find((n) => !isAddress(n));
  if (bad !== undefined) throw new InputError(`--to: "${bad}" is not a node address (pass addresses, comma-separated)`);
  return nodes;
}

/** The quantized model a pulled ZK version's circuit computes (checked against its manifest). */
function loadCircuitModel(dir: string | undefined): QuantizedModel {
  if (dir === undefined)
    throw new InputError(
      "--mode zk needs --model-dir <dir>: pull the version first with `vin pull <model> --out <dir>`",
    );
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

/**
 * Reports a requested job's progress while `--wait` waits: requested, then each slot claimed, then committed and
 * revealed results for k > 1 (polled every second; a failed poll is skipped, the wait itself decides the outcome).
 */
function watchProgress(contracts: Contracts, job: Job, write: (line: string) => void): { stop(): void } {
  write(
    `job ${job.id}: requested (model ${job.modelId}@${job.version}, mode ${MODE_NAMES[Number(job.mode) as Mode] ?? job.mode}, deadline ${new Date(Number(job.deadline) * 1000).toISOString()}); waiting for ${job.redundancy} node(s)`,
  );
  let last = "";
  const timer = setInterval(() => {
    contracts.escrow.stateOf(job.id).then(
      (state) => {
        const now =
          state.assignee !== ZeroAddress
            ? `assigned to ${state.assignee}, waiting for its result`
            : `claimed ${state.filled}/${job.redundancy}${job.redundancy > 1n ? `, committed ${state.committed}, revealed ${state.revealed}` : ""}`;
        if (now !== last && Number(state.status) === JobStatus.Open) write(`job ${job.id}: ${now}`);
        last = now;
      },
      () => undefined,
    );
  }, 1_000);
  return { stop: () => clearInterval(timer) };
}

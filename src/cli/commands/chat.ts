import { createInterface } from "node:readline";
import type { Command } from "commander";
import { isAddress } from "ethers";
import type { Contracts } from "../../core/contracts";
import { BaseError, InputError } from "../../core/errors";
import { withRetry } from "../../core/retry";
import { DEFAULT_PASS_WALLET } from "../../sdk/passes";
import { privateInference, type PrivateInferenceReturnType } from "../../sdk/privateInference";
import { withChain } from "../context";
import { parseFeatures, type Globals } from "../options";
import { describeOutput, print } from "../output";

/** What `vin chat` and `vin request --private` take. */
export interface PrivateOptions {
  model: string;
  /** The pass wallet to pay a charging gateway from. */
  passes?: string;
  gateway?: string;
  relay?: string;
  pass?: string;
  timeout?: string;
}

/**
 * `vin chat`: one private inference per line of standard input, each through a relay to an attested gateway (see
 * `privateInference`): the relay sees this machine's address and not the content; the gateway sees the content and
 * not the address.
 */
export function register(program: Command, global: Globals): void {
  program
    .command("chat")
    .description(
      "private inferences through an Oblivious HTTP relay to an attested gateway: one per line of input (a JSON array of features)",
    )
    .requiredOption("--model <id[@version]>", "model id, optionally with a version (default: latest)")
    .option("--gateway <operator>", "use this operator's gateway (default: the first that may serve the model)")
    .option("--relay <address>", "use the relay listed by this account (default: a random independent relay)")
    .option("--timeout <seconds>", "time limit of each exchange", "30")
    .option(...PASSES_OPTION)
    .action(async (opts: PrivateOptions) => {
      const g = global();
      checkPrivateOptions(opts);
      await withChain(g, async (config, provider, contracts) => {
        const chainId = (await provider.getNetwork()).chainId;
        const model = await resolveModel(contracts, opts.model);
        const lines = createInterface({ input: process.stdin, terminal: false });
        if (process.stdin.isTTY)
          process.stderr.write(
            `model ${model.modelId}@${model.version}; one JSON array of features per line, Ctrl-D to end\n`,
          );
        let failed = 0;
        let total = 0;
        for await (const line of lines) {
          if (line.trim() === "") continue;
          total++;
          try {
            const result = await privateInference({
              contracts,
              chainId,
              ...model,
              input: parseFeatures(line, "the line"),
              ...targets(opts, config.contracts.startBlock),
              rpcTimeoutMs: config.rpcTimeoutMs,
            });
            print(!!g.json, summary(result), () => describe(result));
          } catch (error) {
            if (!(error instanceof BaseError)) throw error;
            failed++;
            process.stderr.write(`error (line ${total}): ${error.message}\n`);
          }
        }
        if (failed > 0) throw new InputError(`${failed} of ${total} lines were not answered (see the errors above)`);
      });
    });
}

/**
 * One private inference for `vin request --private`.
 * @throws InputError for bad flags; what `privateInference` throws.
 */
export async function privateRequest(
  global: ReturnType<Globals>,
  opts: PrivateOptions,
  input: number[],
): Promise<void> {
  checkPrivateOptions(opts);
  await withChain(global, async (config, provider, contracts) => {
    const chainId = (await provider.getNetwork()).chainId;
    const model = await resolveModel(contracts, opts.model);
    const result = await privateInference({
      contracts,
      chainId,
      ...model,
      input,
      ...targets(opts, config.contracts.startBlock),
      rpcTimeoutMs: config.rpcTimeoutMs,
    });
    print(!!global.json, summary(result), () => describe(result));
  });
}

function checkPrivateOptions(opts: PrivateOptions): void {
  for (const flag of ["gateway", "relay"] as const) {
    const value = opts[flag];
    if (value !== undefined && !isAddress(value))
      throw new InputError(
        `--${flag} "${value}" is not an address (a listed ${flag === "gateway" ? "operator" : "relay account"}: see \`vin relay list\`)`,
      );
  }
  if (opts.timeout !== undefined && !/^\d{1,5}$/.test(opts.timeout))
    throw new InputError(`--timeout must be a whole number of seconds, got "${opts.timeout}"`);
}

/** `--passes <wallet>`: where a charging gateway's passes come from (`vin passes buy`). */
export const PASSES_OPTION = [
  "--passes <wallet>",
  "pass wallet paying gateways that charge (vin passes buy --operator <gateway operator>)",
  process.env.VIN_PASSES ?? DEFAULT_PASS_WALLET,
] as const;

function targets(opts: PrivateOptions, fromBlock: number) {
  return {
    ...(opts.passes === undefined ? {} : { passes: { wallet: opts.passes, fromBlock } }),
    ...(opts.gateway === undefined ? {} : { gateway: opts.gateway }),
    ...(opts.relay === undefined ? {} : { relay: opts.relay }),
    ...(opts.pass === undefined ? {} : { pass: opts.pass }),
    ...(opts.timeout === undefined ? {} : { timeoutMs: Number(opts.timeout) * 1000 }),
  };
}

async function resolveModel(contracts: Contracts, spec: string): Promise<{ modelId: bigint; version: bigint }> {
  const match = /^(\d{1,19})(?:@(\d{1,10}))?$/.exec(spec);
  if (match === null) throw new InputError(`--model "${spec}" must be <id> or <id>@<version>, e.g. 1 or 1@2`);
  const modelId = BigInt(match[1]!);
  const count = await withRetry("registry.versionCount", () => contracts.registry.versionCount(modelId));
  if (count === 0n) throw new InputError(`model ${modelId} has no published version: check --model`);
  const version = match[2] === undefined ? count : BigInt(match[2]);
  if (version < 1n || version > count)
    throw new InputError(`model ${modelId} has versions 1..${count}, not ${version}`);
  return { modelId, version };
}

function summary(result: PrivateInferenceReturnType) {
  const { response, gateway, relay } = result;
  return {
    output: response.output,
    outputHash: response.outputHash,
    requestId: response.requestId,
    enclave: response.enclave,
    operator: gateway.operator,
    signature: response.signature,
    relay: relay.url,
  };
}

function describe(result: PrivateInferenceReturnType): string {
  const { response, gateway, relay } = result;
  return `${describeOutput(response.output)}\n  receipt signed by enclave ${response.enclave} of operator ${gateway.operator} (checked against TeeVerifier); via relay ${relay.url}`;
}

import { lstatSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { parseUnits } from "ethers";
import { ModelRegistry__factory } from "../../../typechain-types";
import { firstLine } from "../../core/errors";
import { Mode, parseModes as parseModeNames } from "../../core/modes";
import { PublishInputError } from "../../hub/errors";
import { type ModeSpec, loadModelFiles, publishModel } from "../../hub/publish";
import { parseModelRef } from "../../hub/pull";
import type { Globals } from "../options";
import { hubContext, hubOutput, type HubContext } from "./hub";

interface PublishFlags {
  price?: string;
  model?: string;
  modes: string;
  measurement: string[];
  card?: string;
  json?: boolean;
}

/** `vin publish <path>`: a model directory or file and its card to IPFS, then one registry transaction (see `publishModel`). */
export function register(program: Command, global: Globals, context: HubContext = hubContext(global)): void {
  const { out, err } = hubOutput(context);
  program
    .command("publish")
    .description(
      "publish a model directory (with README.md card) or an .onnx file and its card: IPFS, then one registry transaction",
    )
    .argument("<path>", "model directory, or a single model file")
    .option("--price <tokens>", "price per inference, in tokens (new models)")
    .option("--model <id>", "publish the next version of this model instead of creating one")
    .option("--modes <list>", "verification modes: vanilla,tee", "vanilla")
    .option("--measurement <0x..>", "accepted TEE enclave measurement (repeat or comma-separate)", collect, [])
    .option("--card <file>", "model card of a single file (default: README.md beside it)")
    .option("--json", "print the result as JSON")
    .action(async (target: string, opts: PublishFlags) => {
      const files = loadModelFiles(target, opts.card === undefined ? {} : { cardFile: opts.card });
      const modes = parseModes(opts.modes, opts.measurement);
      if (opts.model === undefined && opts.price === undefined)
        throw new PublishInputError("--price is required for a new model");
      const signer = await context.signer();
      const { contracts } = await context.deployment();
      const store = await context.contentStore();
      try {
        const result = await publishModel({
          registry: ModelRegistry__factory.connect(contracts.registry.address, signer),
          store,
          files,
          modes,
          ...(opts.price === undefined ? {} : { price: parsePrice(opts.price, context.tokenDecimals ?? 18) }),
          ...(opts.model === undefined ? {} : { modelId: parseModelRef(opts.model).modelId }),
          log: opts.json ? undefined : out,
          warn: (warning) => err(`warning: ${cardPath(target, opts.card)}: ${warning}`),
        });
        if (opts.json) out(JSON.stringify({ ...result, modelId: result.modelId.toString() }, null, 2));
        else
          out(
            `published ${result.card.name} as model ${result.modelId} version ${result.version} (tx ${result.txHash})`,
          );
      } finally {
        await store.close();
      }
    });
}

/** `vanilla,tee` (core's mode names, any case) with the measurements for tee. */
export function parseModes(list: string, measurements: readonly string[]): ModeSpec[] {
  let modes: Mode[];
  try {
    modes = parseModeNames(list.toLowerCase());
  } catch (cause) {
    throw new PublishInputError(`--modes: ${firstLine(cause)}`, { cause });
  }
  return modes.map((mode): ModeSpec => {
    if (mode === Mode.Vanilla) return { mode: "vanilla" };
    if (mode === Mode.Tee) {
      if (measurements.length === 0)
        throw new PublishInputError("mode tee needs --measurement 0x… (the accepted enclave measurement)");
      return { mode: "tee", measurements };
    }
    throw new PublishInputError("mode zk is published with its verifier by the zkml flow, not by this command");
  });
}

/** The card file a `publish` target uses, for messages. */
function cardPath(target: string, card: string | undefined): string {
  return card ?? path.join(lstatSync(target).isDirectory() ? target : path.dirname(target), "README.md");
}

function parsePrice(value: string, decimals: number): bigint {
  try {
    const price = parseUnits(value, decimals);
    if (price < 0n || price >= 1n << 96n) throw new RangeError("out of range");
    return price;
  } catch (cause) {
    throw new PublishInputError(`--price "${value}" is not a token amount`, { cause });
  }
}

function collect(value: string, previous: string[]): string[] {
  return [
    ...previous,
    ...value
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  ];
}

import type { Command } from "commander";
import { lstatSync } from "node:fs";
import path from "node:path";
import { formatUnits, parseUnits, type Provider, type Signer } from "ethers";
import { ModelRegistry__factory } from "../../typechain-types";
import type { ContentStore } from "../storage/content-store";
import { exitCodeOf, firstLine, InputError, TransportError } from "../core/errors";
import { Mode, MODE_NAMES, parseModes as parseModeNames } from "../core/modes";
import { PublishInputError } from "./errors";
import { type HubDeployment, startLocalHub } from "./local";
import { type ModeSpec, loadModelFiles, publishModel } from "./publish";
import { parseModelRef, pullModel } from "./pull";
import type { SearchHit, SearchResult } from "./search";

/** What the `vin` CLI provides to the hub's commands; each is called only by the commands that need it. */
export interface HubCommandContext {
  /** Chain access for reading (pull) and indexing (hub serve). */
  provider(): Promise<Provider>;
  /** The account that publishes (becomes the model's owner). */
  signer(): Promise<Signer>;
  /** Addresses and start block of the selected network's deployment. */
  deployment(): Promise<HubDeployment>;
  /** The configured content store (embedded directory or Kubo); the command closes it when done. */
  contentStore(): Promise<ContentStore>;
  /**
   * Throw a failure to the caller (the `vin` CLI prints it and exits with its kind's code) instead of printing it
   * and setting `process.exitCode = 1`. Default false.
   */
  rethrow?: boolean;
  /** Hub API asked by `search`, unless `--hub` is given. Default `http://127.0.0.1:8787`. */
  hubUrl?: string;
  /** Decimals of the payment token, for `--price`. Default 18. */
  tokenDecimals?: number;
  stdout?: (line: string) => void;
  stderr?: (line: string) => void;
}

/**
 * Registers `publish`, `pull`, `search` and `hub serve` on the CLI. Failures print one line,
 * `error: <what failed>`, and set `process.exitCode` to the error kind's exit code (src/core/errors.ts) (or, with `context.rethrow`, are thrown to the caller).
 * Call `program.parseAsync()`.
 * @example
 * const program = new Command("vin");
 * registerHubCommands(program, context);
 * await program.parseAsync(process.argv);
 */
export function registerHubCommands(program: Command, context: HubCommandContext): void {
  const out = context.stdout ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = context.stderr ?? ((line: string) => process.stderr.write(`${line}\n`));
  const run =
    <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      try {
        await fn(...args);
      } catch (error) {
        if (context.rethrow) throw error;
        err(`error: ${firstLine(error)}`);
        process.exitCode = exitCodeOf(error);
      }
    };

  program
    .command("publish")
    .description("publish a model directory (with README.md card) or an .onnx file and its card: IPFS, then one registry transaction")
    .argument("<path>", "model directory, or a single model file")
    .option("--price <tokens>", "price per inference, in tokens (new models)")
    .option("--model <id>", "publish the next version of this model instead of creating one")
    .option("--modes <list>", "verification modes: vanilla,tee", "vanilla")
    .option("--measurement <0x..>", "accepted TEE enclave measurement (repeat or comma-separate)", collect, [])
    .option("--card <file>", "model card of a single file (default: README.md beside it)")
    .option("--json", "print the result as JSON")
    .action(
      run(async (target: string, opts: { price?: string; model?: string; modes: string; measurement: string[]; card?: string; json?: boolean }) => {
        const files = loadModelFiles(target, opts.card === undefined ? {} : { cardFile: opts.card });
        const modes = parseModes(opts.modes, opts.measurement);
        if (opts.model === undefined && opts.price === undefined) throw new PublishInputError("--price is required for a new model");
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
          else out(`published ${result.card.name} as model ${result.modelId} version ${result.version} (tx ${result.txHash})`);
        } finally {
          await store.close();
        }
      }),
    );

  program
    .command("pull")
    .description("download a model version by its registered CIDs and verify every file's SHA-256")
    .argument("<model[@version]>", "model id, optionally @version (default: latest)")
    .requiredOption("--out <dir>", "directory to write the files to")
    .option("--force", "write into a non-empty directory")
    .option("--json", "print the result as JSON")
    .action(
      run(async (ref: string, opts: { out: string; force?: boolean; json?: boolean }) => {
        const parsed = parseModelRef(ref);
        const { contracts } = await context.deployment();
        const registry = ModelRegistry__factory.connect(contracts.registry.address, await context.provider());
        const store = await context.contentStore();
        try {
          const result = await pullModel({ ...parsed, registry, store, outDir: opts.out, overwrite: opts.force ?? false, log: opts.json ? undefined : out });
          if (opts.json) out(JSON.stringify({ ...result, modelId: result.modelId.toString() }, null, 2));
          else out(`pulled model ${result.modelId} version ${result.version} (${result.files.length} files) into ${result.outDir}`);
        } finally {
          await store.close();
        }
      }),
    );

  program
    .command("search")
    .description("search the model hub")
    .argument("[query...]", "words to search for")
    .option("--task <task>")
    .option("--license <license>")
    .option("--library <library>")
    .option("--language <language>", "ISO 639-1 code or English name, e.g. fi or Finnish")
    .option("--mode <mode>", "vanilla, tee or zk")
    .option("--min-usage <jobs>", "at least this many verified jobs")
    .option("--sort <order>", "relevance, usage or recency")
    .option("--page <n>")
    .option("--hub <url>", "hub API (default: the configured hub, http://127.0.0.1:8787)")
    .option("--json", "print the API's JSON answer")
    .action(
      run(async (words: string[], opts: Record<string, string | boolean | undefined>) => {
        const base = String(opts.hub ?? context.hubUrl ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
        const params = new URLSearchParams();
        if (words.length > 0) params.set("q", words.join(" "));
        for (const [option, param] of [["task", "task"], ["license", "license"], ["library", "library"], ["language", "language"], ["mode", "mode"], ["minUsage", "minUsage"], ["sort", "sort"], ["page", "page"]]) {
          const value = opts[option!];
          if (typeof value === "string") params.set(param!, value);
        }
        const result = await fetchSearch(`${base}/api/search?${params.toString()}`);
        if (opts.json) return out(JSON.stringify(result, null, 2));
        if (result.hits.length === 0) return out("no models found");
        for (const hit of result.hits) out(formatHit(hit, context.tokenDecimals ?? 18));
        if (result.hasMore) out(`more results: --page ${result.page + 1}`);
      }),
    );

  program
    .command("hub")
    .description("the model hub")
    .command("serve")
    .description("index the registry and escrow and serve the hub's page and API on 127.0.0.1")
    .option("--port <port>", "HTTP port", "8787")
    .option("--db <file>", "SQLite index file (default: in memory, rebuilt at start)")
    .option("--confirmations <n>", "blocks behind the head to wait before indexing", "2")
    .action(
      run(async (opts: { port: string; db?: string; confirmations: string }) => {
        const contentStore = await context.contentStore();
        const hub = await startLocalHub({
          provider: await context.provider(),
          deployment: await context.deployment(),
          contentStore,
          port: integer("--port", opts.port),
          confirmations: integer("--confirmations", opts.confirmations),
          ...(opts.db === undefined ? {} : { dbPath: opts.db }),
        });
        out(`model hub at ${hub.url} (Ctrl-C to stop)`);
        await new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
        await hub.stop();
        await contentStore.close();
      }),
    );
}

/** The card file a `publish` target uses, for messages. */
function cardPath(target: string, card: string | undefined): string {
  return card ?? path.join(lstatSync(target).isDirectory() ? target : path.dirname(target), "README.md");
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
      if (measurements.length === 0) throw new PublishInputError("mode tee needs --measurement 0x… (the accepted enclave measurement)");
      return { mode: "tee", measurements };
    }
    throw new PublishInputError("mode zk is published with its verifier by the zkml flow, not by this command");
  });
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

function integer(option: string, value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new InputError(`${option} must be a non-negative integer, got "${value}".`);
  return Number(value);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(",").map((s) => s.trim()).filter((s) => s !== "")];
}

async function fetchSearch(url: string): Promise<SearchResult> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  } catch (cause) {
    throw new TransportError(`Cannot reach the hub at ${new URL(url).origin} (start it with \`vin hub serve\` or pass --hub).`, { cause });
  }
  const body = (await res.json()) as SearchResult & { message?: string };
  if (!res.ok) {
    const message = body.message ?? `Hub answered HTTP ${res.status}.`;
    throw res.status >= 400 && res.status < 500 ? new InputError(message) : new TransportError(message);
  }
  return body;
}

function formatHit(hit: SearchHit, decimals: number): string {
  const modes = hit.modes.map((m) => MODE_NAMES[m] ?? `mode ${m}`).join(",");
  const about = `[${[hit.task, ...hit.licenses, ...(hit.library === null ? [] : [hit.library])].join(", ")}]`;
  return `${hit.modelId}@${hit.version}  ${hit.name}  ${about}  ${modes}  ${tokenAmount(hit.price, decimals)} / inference  ${usageLine(hit, decimals)}\n    ${hit.summary}`;
}

/**
 * Verified usage as the hub shows it: `12 verified jobs · 34.5 tokens paid (3 below the usage floor, not counted)`.
 * @example usageLine({ verifiedJobs: 1, paidVolume: "10".padEnd(19, "0"), belowFloorJobs: 0 }, 18) // "1 verified job · 1 token paid"
 */
export function usageLine(usage: Pick<SearchHit, "verifiedJobs" | "paidVolume" | "belowFloorJobs">, decimals: number): string {
  const jobs = `${usage.verifiedJobs} verified ${usage.verifiedJobs === 1 ? "job" : "jobs"} · ${tokenAmount(usage.paidVolume, decimals)} paid`;
  return usage.belowFloorJobs > 0 ? `${jobs} (${usage.belowFloorJobs} below the usage floor, not counted)` : jobs;
}

/**
 * A token amount in wei as words: `1 token`, `0.5 tokens`, `12 tokens`.
 * @example tokenAmount("1000000000000000000", 18) // "1 token"
 */
export function tokenAmount(wei: string | bigint, decimals: number): string {
  const amount = formatUnits(wei, decimals).replace(/\.0$/, "");
  return `${amount} ${amount === "1" ? "token" : "tokens"}`;
}

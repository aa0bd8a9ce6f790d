/**
 * Local network helper: sets up operator nodes through the `vin` CLI, each command a child process (init, funding,
 * stake, register, enclave registration), and runs each daemon as a child process. `npm start`
 * (scripts/local-network.ts) uses it to run several operators with different modes next to the chain.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { parseEther, type Signer } from "ethers";
import { stopProcess } from "./chain";
import { rawCid } from "../core/cid";
import { cidBytes, computeCid } from "../storage";
import type { Contracts } from "../core/contracts";
import { BaseError } from "../core/errors";
import { FsContentStore } from "../node/content-store";
import type { ModeName } from "../node/config";
import { DevEnclave } from "../tee/dev-enclave";

const execFileAsync = promisify(execFile);
/** The CLI's entry file, run by ts-node as `npm run vin` does. */
const VIN = path.join(__dirname, "..", "cli", "main.ts");

export interface OperatorSpec {
  name: string;
  modes: ModeName[];
}

export interface LaunchOperatorsParams {
  contracts: Contracts;
  /** deployments/<network>.json */
  deploymentFile: string;
  rpcUrl: string;
  /** Sends gas money and mints test tokens to each operator. */
  funder: Signer;
  /** Holds the TeeVerifier attestor role; registers each TEE node's development enclave. */
  attestor: Signer;
  /**
   * Files every node must be able to fetch by CID (the model's ONNX and card, a circuit's files): stored under their
   * raw CID and under the UnixFS CID `ipfs add` gives them (larger than one block, that is a dag-pb CID).
   */
  files: Uint8Array[];
  workDir: string;
  specs: OperatorSpec[];
  /**
   * Receives human-readable lines only: each operator set up and started, each job it served, its errors. Each
   * daemon's own output (JSON log lines) goes to `<workDir>/<name>.log`.
   */
  log?: (line: string) => void;
}

export interface LaunchedOperator {
  name: string;
  config: string;
  child: ChildProcess;
  /** Resolves when the daemon has logged that it started. */
  started: Promise<void>;
}

/**
 * Creates and starts one operator daemon per spec; `stop()` sends SIGTERM to each and waits.
 * @example const nodes = await launchOperators({ contracts, deploymentFile, rpcUrl, funder, attestor, files: [onnx, card], workDir: ".vin", specs: [{ name: "vanilla", modes: ["vanilla"] }] });
 */
export async function launchOperators(params: LaunchOperatorsParams): Promise<{ operators: LaunchedOperator[]; stop(): Promise<void> }> {
  const log = params.log ?? (() => undefined);
  mkdirSync(params.workDir, { recursive: true });
  const passwordFile = path.join(params.workDir, "password");
  writeFileSync(passwordFile, `dev-${Date.now()}\n`, { mode: 0o600 });
  const contentDir = path.join(params.workDir, "content");
  const content = new FsContentStore(contentDir);
  for (const file of params.files) {
    content.put(rawCid(file), file);
    content.put(await cidBytes(await computeCid(file)), file);
  }
  // Transactions of the funder and the attestor (often one account) run one after another.
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  // Operators are set up side by side: each setup is a few `vin` child processes, mostly start-up time.
  const setUp = async (spec: OperatorSpec): Promise<LaunchedOperator> => {
    const config = path.join(params.workDir, `${spec.name}.json`);
    const cli = (...args: string[]) => run(["--config", config, "--password-file", passwordFile, ...args]);
    const { address, enclave } = JSON.parse(await cli("--json", "init", "--deployment", params.deploymentFile, "--rpc-url", params.rpcUrl, "--data-dir", path.join(params.workDir, spec.name), "--content-dir", contentDir, "--modes", spec.modes.join(","), "--confirmations", "0")) as { address: string; enclave?: string };
    // The funder signs for every operator: its transactions go one at a time, or their nonces would collide.
    await serially(async () => {
      await (await params.funder.sendTransaction({ to: address, value: parseEther("10") })).wait();
      await (await params.contracts.token.connect(params.funder).mint(address, 10_000n * 10n ** 18n)).wait();
    });
    await cli("stake", "1000");
    await cli("register", "--modes", spec.modes.join(","));
    if (enclave !== undefined) {
      const latest = await params.contracts.escrow.runner!.provider!.getBlock("latest");
      await serially(async () => (await params.contracts.teeVerifier.connect(params.attestor).registerEnclave(enclave, address, DevEnclave.MEASUREMENT, BigInt(latest!.timestamp) + 7n * 24n * 3600n)).wait());
    }
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", VIN, "--config", config, "--password-file", passwordFile, "run"], { stdio: ["ignore", "pipe", "pipe"], detached: true });
    const logFile = path.join(params.workDir, `${spec.name}.log`);
    const file = createWriteStream(logFile, { flags: "a" });
    child.once("exit", () => file.end());
    const started = new Promise<void>((resolve, reject) => {
      for (const stream of [child.stdout!, child.stderr!]) {
        stream.pipe(file, { end: false });
        createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
          const event = parseLogLine(line);
          if (event?.msg === "operator node started") resolve();
          const human = describeLogLine(spec.name, line, event, path.relative(process.cwd(), logFile));
          if (human !== undefined) log(human);
        });
      }
      child.once("exit", (code) => reject(new BaseError(`operator ${spec.name} exited with code ${code} before it started (its log: ${logFile})`)));
    });
    log(`operator ${spec.name} ${address} serves ${spec.modes.join(", ")}${enclave ? ` (development enclave ${enclave})` : ""}`);
    return { name: spec.name, config, child, started };
  };
  const settled = await Promise.allSettled(params.specs.map(setUp));
  const operators = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) {
    await Promise.all(operators.map((o) => stopProcess(o.child)));
    throw failed.reason;
  }
  const stop = async () => void (await Promise.all(operators.map((o) => stopProcess(o.child))));
  try {
    await Promise.all(operators.map((o) => o.started));
  } catch (error) {
    await stop();
    throw error;
  }
  return { operators, stop };
}

interface LogEvent {
  level?: number;
  msg?: string;
  jobId?: string;
  outputHash?: string;
  address?: string;
  modes?: string[];
}

/** A daemon's JSON log line (pino), or undefined for any other output. */
function parseLogLine(line: string): LogEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    return JSON.parse(line) as LogEvent;
  } catch {
    return undefined;
  }
}

/** Pino's level of errors: what a person watching the devnet should see without opening the log file. */
const ERROR_LEVEL = 50;

/**
 * The human line, if any, for one line of a daemon's output: its start, each job it served, its errors, and any
 * output that is not a JSON log line (a crash); everything else stays in its log file.
 */
function describeLogLine(name: string, line: string, event: LogEvent | undefined, logFile: string): string | undefined {
  if (event === undefined) return line.trim() === "" ? undefined : `[${name}] ${line}`;
  if (event.msg === "operator node started") return `operator ${name} started (${event.modes?.join(", ") ?? "?"}); log in ${logFile}`;
  if (event.msg === "job settled") return `operator ${name} served job ${event.jobId}: settled with output hash ${event.outputHash}`;
  if ((event.level ?? 0) >= ERROR_LEVEL) return `operator ${name}: ${event.msg ?? line}${event.jobId === undefined ? "" : ` (job ${event.jobId})`}; details in ${logFile}`;
  return undefined;
}

/** Runs a `vin` command in a child process and returns what it printed; a failure is a BaseError with its line. */
async function run(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(process.execPath, ["-r", "ts-node/register/transpile-only", VIN, ...args], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (cause) {
    const stderr = String((cause as { stderr?: unknown }).stderr ?? "").trim();
    throw new BaseError(`vin ${args.filter((a) => !a.startsWith("/")).join(" ")} failed: ${stderr || String((cause as Error).message)}`, { cause });
  }
}

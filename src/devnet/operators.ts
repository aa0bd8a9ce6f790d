/**
 * Operators on a devnet. Each is set up in this process by the functions `vin init`, `vin stake` and
 * `vin register` call (src/node/operator-*.ts), funded by the devnet and, for TEE, its development enclave
 * registered with a development quote by the operator itself, as `vin enclave register` does, before its daemon
 * starts (so no job reaches a node whose enclave is not registered yet); its daemon is a child process (`vin run`), as a real operator's is, its JSON log
 * in a file and only human lines (started, jobs served, errors) passed on.
 */
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import type { ModeName } from "../core/modes";
import type { NodeConfig } from "../node/config";
import { openOperator } from "../node/context";
import { registerEnclave, registrationContext } from "../node/enclave-registration";
import { silentLogger } from "../core/log";
import { registerModes, stakeTokens } from "../node/operator-actions";
import { initOperator } from "../node/operator-init";
import { spawnVin } from "./vin-process";

export interface OperatorSpec {
  name: string;
  modes: ModeName[];
  /** Config settings over the devnet's (polling interval, start block, metrics port, another RPC URL, ...). */
  settings?: Partial<NodeConfig>;
  /**
   * Run an IPFS peer on 127.0.0.1 (a free port) over `<dataDir>/ipfs`: model files fetched from peers, pinned and
   * served (see the node config's `p2pListen`).
   */
  p2p?: boolean;
}

/** An operator set up on a devnet: staked, registered for its modes, its enclave registered for TEE. */
export interface DevnetOperator {
  name: string;
  modes: ModeName[];
  address: string;
  /** Its config file (`<workDir>/<name>.json`). */
  config: string;
  /** Its database, key and lock (`<workDir>/<name>`). */
  dataDir: string;
  passwordFile: string;
  /** The development enclave's address, for TEE. */
  enclave?: string;
}

/** What setting up an operator needs from its devnet. */
export interface OperatorSetupContext {
  workDir: string;
  deploymentFile: string;
  rpcUrl: string;
  contentDir: string;
  password: string;
  passwordFile: string;
  /** scrypt cost of the keystores. */
  scryptN: number;
  /** Settings of every operator, under each spec's own. */
  settings: Partial<NodeConfig>;
  /** Stake of each operator, in token wei. */
  stake: bigint;
  /** Sends the new operator gas money and tokens. */
  fund(address: string): Promise<void>;
}

/**
 * Sets up one operator in this process: `initOperator`, funding, `stakeTokens`, `registerModes`, and for TEE the
 * registration of its development enclave by quote (`registerEnclave`, mined before this returns).
 * @example const operator = await setUpOperator(context, { name: "tee", modes: ["tee"] });
 */
export async function setUpOperator(context: OperatorSetupContext, spec: OperatorSpec): Promise<DevnetOperator> {
  const config = path.join(context.workDir, `${spec.name}.json`);
  const dataDir = path.join(context.workDir, spec.name);
  const { address, enclave } = await initOperator({
    configFile: config,
    password: context.password,
    deploymentFile: context.deploymentFile,
    rpcUrl: context.rpcUrl,
    dataDir,
    contentDir: context.contentDir,
    modes: spec.modes,
    scryptN: context.scryptN,
    settings: {
      // Every peer of a devnet listens on 127.0.0.1.
      ipfsAllowPrivate: true,
      ...context.settings,
      ...(spec.p2p === true ? { p2pListen: ["/ip4/127.0.0.1/tcp/0"], ipfsDir: path.join(dataDir, "ipfs") } : {}),
      ...spec.settings,
    },
  });
  await context.fund(address);
  const operator = await openOperator({
    configFile: config,
    password: context.password,
    purpose: "setup",
    log: silentLogger,
  });
  try {
    await stakeTokens(operator, context.stake);
    await registerModes(operator, spec.modes);
    if (enclave !== undefined) await registerEnclave(registrationContext(operator));
  } finally {
    operator.close();
  }
  return { name: spec.name, modes: spec.modes, address, config, dataDir, passwordFile: context.passwordFile, enclave };
}

export interface StartDaemonOptions {
  /** Environment over this process's (`VIN_LOG_LEVEL`, `VIN_CRASH_AT`, ...). */
  env?: NodeJS.ProcessEnv;
  /** Appends the daemon's output (JSON log lines) to this file. */
  logFile?: string;
  /** Receives the daemon's output as it comes. */
  onOutput?: (chunk: string) => void;
  /** Receives human lines: the daemon started, served a job, logged an error, printed something not JSON. */
  log?: (line: string) => void;
}

/** A daemon child process. */
export interface OperatorDaemon {
  operator: DevnetOperator;
  child: ChildProcess;
  /** Resolves when the daemon logs that it started (at log level info); rejects if it exits first. */
  started: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to its process group, SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/**
 * Starts `vin run` for an operator as a child process in its own process group.
 * @example const daemon = startOperatorDaemon(operator, { logFile: ".vin/nodes/tee.log", log: console.log }); await daemon.started;
 */
export function startOperatorDaemon(operator: DevnetOperator, options: StartDaemonOptions = {}): OperatorDaemon {
  const logName = options.logFile === undefined ? undefined : path.relative(process.cwd(), options.logFile);
  const process_ = spawnVin({
    args: ["--config", operator.config, "--password-file", operator.passwordFile, "run"],
    name: `operator ${operator.name}`,
    logFile: options.logFile,
    env: options.env,
    onOutput: options.onOutput,
    ready: (line) => (parseLogLine(line)?.msg === "operator node started" ? true : undefined),
    onLine: (line) => {
      if (options.log === undefined) return;
      const human = describeLogLine(operator.name, line, parseLogLine(line), logName);
      if (human !== undefined) options.log(human);
    },
  });
  const started = process_.ready.then(() => undefined);
  started.catch(() => undefined);
  return { operator, child: process_.child, started, exited: process_.exited, stop: process_.stop };
}

interface LogEvent {
  level?: number;
  msg?: string;
  jobId?: string;
  outputHash?: string;
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
function describeLogLine(
  name: string,
  line: string,
  event: LogEvent | undefined,
  logFile: string | undefined,
): string | undefined {
  const where = logFile === undefined ? "" : `; log in ${logFile}`;
  if (event === undefined) return line.trim() === "" ? undefined : `[${name}] ${line}`;
  if (event.msg === "operator node started")
    return `operator ${name} started (${event.modes?.join(", ") ?? "?"})${where}`;
  if (event.msg === "job settled")
    return `operator ${name} served job ${event.jobId}: settled with output hash ${event.outputHash}`;
  if ((event.level ?? 0) >= ERROR_LEVEL)
    return `operator ${name}: ${event.msg ?? line}${event.jobId === undefined ? "" : ` (job ${event.jobId})`}${logFile === undefined ? "" : `; details in ${logFile}`}`;
  return undefined;
}

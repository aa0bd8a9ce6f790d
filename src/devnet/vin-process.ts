/**
 * The devnet's one way to run `vin` as a child process: in its own process group (so a stop reaches everything it
 * started), its output appended to a log file and read line by line until it says it is ready.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { BaseError } from "../core/errors";
import { stopProcess } from "./chain";

const ROOT = path.resolve(__dirname, "..", "..");
const VIN = path.join(ROOT, "src", "cli", "main.ts");

/** How a child process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Options of {@link spawnVin}. */
export interface SpawnVinOptions<T> {
  /** The `vin` arguments, global options first: `["--config", file, "run"]`. */
  args: string[];
  /** What the process is, in errors: `operator tee`, `relay relay-1`. */
  name: string;
  /** Reads each output line (stdout and stderr) and returns a value once the line says the process is ready. */
  ready: (line: string) => T | undefined;
  /** What the process does until `ready` answers, in errors: `started`, `listened`. Default `started`. */
  readyWord?: string;
  /** Appends all output here. */
  logFile?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Sees every output line, ready or not (e.g. to print progress). */
  onLine?: (line: string) => void;
  /** Sees every output chunk as it arrives. */
  onOutput?: (chunk: string) => void;
}

/** A running `vin` child process. */
export interface VinProcess<T> {
  child: ChildProcess;
  /** Resolves with `ready`'s first answer; rejects, naming the log, if the process exits first. */
  ready: Promise<T>;
  exited: Promise<ProcessExit>;
  /** SIGTERM to its process group, SIGKILL after 5 s. */
  stop(): Promise<void>;
  /** SIGKILL to its process group at once: the process goes away without a goodbye. */
  kill(): Promise<void>;
}

/**
 * Starts `node -r ts-node/register/transpile-only src/cli/main.ts <args>` from the repository's root.
 * @example const relay = spawnVin({ args: ["relay", "serve"], name: "relay r1", ready: (l) => l.includes('"relay listening"') || undefined }); await relay.ready;
 */
export function spawnVin<T>(options: SpawnVinOptions<T>): VinProcess<T> {
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", VIN, ...options.args], {
    cwd: ROOT,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const file = options.logFile === undefined ? undefined : createWriteStream(options.logFile, { flags: "a" });
  const exited = new Promise<ProcessExit>((resolve) =>
    child.once("exit", (code, signal) => {
      file?.end();
      resolve({ code, signal });
    }),
  );
  const ready = new Promise<T>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      if (file !== undefined) stream.pipe(file, { end: false });
      if (options.onOutput !== undefined) stream.on("data", (chunk: Buffer) => options.onOutput!(chunk.toString()));
      createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
        const value = options.ready(line);
        if (value !== undefined) resolve(value);
        options.onLine?.(line);
      });
    }
    void exited.then(({ code, signal }) => {
      const log = options.logFile === undefined ? "" : `; its log: ${path.relative(process.cwd(), options.logFile)}`;
      reject(
        new BaseError(
          `${options.name} exited (${signal ?? `code ${code}`}) before it ${options.readyWord ?? "started"}${log}`,
        ),
      );
    });
  });
  // Whoever does not wait for readiness must not get an unhandled rejection when the process exits.
  ready.catch(() => undefined);
  return {
    child,
    ready,
    exited,
    stop: () => stopProcess(child),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
      await exited;
    },
  };
}

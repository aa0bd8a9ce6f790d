/**
 * Oblivious HTTP relays on a devnet, each run as a real relay is: by its own account (not an operator), listed in
 * PrivacyRegistry with its bond, serving as a child process (`vin relay serve`) whose JSON log goes to a file.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Provider } from "ethers";
import type { Contracts } from "../core/contracts";
import { BaseError } from "../core/errors";
import { loadConfig } from "../node/config";
import { loadKeystore } from "../node/keystore";
import { listRelay } from "../sdk/relayRegistry";
import { stopProcess } from "./chain";

const ROOT = path.resolve(__dirname, "..", "..");
const VIN = path.join(ROOT, "src", "cli", "main.ts");

/** A running devnet relay. */
export interface DevnetRelay {
  name: string;
  /** The account that listed it. */
  address: string;
  url: string;
  logFile: string;
  stop(): Promise<void>;
}

/** What starting a relay needs from the devnet. */
export interface RelaySetupContext {
  provider: Provider;
  contracts: Contracts;
  workDir: string;
  password: string;
  passwordFile: string;
  /** Makes a funded client account as `vin init` does (the devnet's `addClient`). */
  addClient(options: { config: string; dataDir: string }): Promise<{ address: string; config: string }>;
}

/**
 * Makes an account for relay `name`, lists it at `http://127.0.0.1:<port>/` and starts `vin relay serve` on that port;
 * resolves once it listens.
 */
export async function startDevnetRelay(ctx: RelaySetupContext, name: string, port: number): Promise<DevnetRelay> {
  const config = path.join(ctx.workDir, `${name}.json`);
  const { address } = await ctx.addClient({ config, dataDir: path.join(ctx.workDir, name) });
  const url = `http://127.0.0.1:${port}/`;
  const signer = (await loadKeystore(loadConfig(config).keystore, ctx.password)).connect(ctx.provider);
  await listRelay({ contracts: ctx.contracts, signer, url });
  const logFile = path.join(ctx.workDir, `${name}.log`);
  const file = createWriteStream(logFile, { flags: "a" });
  const child = spawn(
    process.execPath,
    [
      "-r",
      "ts-node/register/transpile-only",
      VIN,
      "--config",
      config,
      "--password-file",
      ctx.passwordFile,
      "relay",
      "serve",
      "--port",
      String(port),
      // The devnet's gateways listen on 127.0.0.1.
      "--allow-private-gateways",
    ],
    {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  await new Promise<void>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.pipe(file, { end: false });
      createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
        if (line.includes('"relay listening"')) resolve();
      });
    }
    child.once("exit", (code, signal) =>
      reject(
        new BaseError(`relay ${name} exited (${signal ?? `code ${code}`}) before it listened; its log: ${logFile}`),
      ),
    );
  });
  child.once("exit", () => file.end());
  return { name, address, url, logFile, stop: () => stopProcess(child) };
}

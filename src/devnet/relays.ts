/**
 * Oblivious HTTP relays on a devnet, each run as a real relay is: by its own account (not an operator), listed in
 * PrivacyRegistry with its bond, serving as a child process (`vin relay serve`) whose JSON log goes to a file.
 */
import path from "node:path";
import type { Provider } from "ethers";
import type { Contracts } from "../core/contracts";
import { loadConfig } from "../node/config";
import { loadKeystore } from "../node/keystore";
import { listRelay } from "../sdk/relayRegistry";
import { spawnVin } from "./vin-process";

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
  const relay = spawnVin({
    args: [
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
    name: `relay ${name}`,
    readyWord: "listened",
    logFile,
    ready: (line) => (line.includes('"relay listening"') ? true : undefined),
  });
  await relay.ready;
  return { name, address, url, logFile, stop: relay.stop };
}

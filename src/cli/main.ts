#!/usr/bin/env node
/**
 * `vin`: the command line of the verifiable inference network, for operators (init, stake, register, run, claim,
 * status), for dApps (request, job, verify) and for the model hub (publish, pull, search, hub serve). Errors print one line and exit non-zero (see output.ts).
 */
import { Command, CommanderError } from "commander";
import { registerDappCommands } from "./dapp";
import { registerFaucetCommand } from "./faucet";
import { registerOperatorCommands, type GlobalOptions } from "./operator";
import { reportError } from "./output";
import { registerHubCommands, type HubCommandContext } from "../hub/commands";
import { loadConfig } from "../node/config";
import { loadKeystore, readPassword } from "../node/keystore";
import { createProvider } from "../core/provider";
import { openContentStore } from "../storage";

interface HubOptions {
  ipfsDir: string;
  kubo?: string;
}

/** What the hub commands (publish, pull, search, hub serve) need, built lazily from the same config as the rest. */
function hubContext(options: () => GlobalOptions & HubOptions): HubCommandContext {
  const config = () => loadConfig(options().config);
  const provider = async () => {
    const c = config();
    return createProvider(c.rpcUrl, { chainId: c.chainId, timeoutMs: c.rpcTimeoutMs });
  };
  return {
    rethrow: true,
    provider,
    signer: async () => (await loadKeystore(config().keystore, readPassword(options().passwordFile))).connect(await provider()),
    deployment: async () => {
      const c = config();
      const record = (address: string) => ({ address, args: [], block: c.contracts.startBlock });
      return {
        chainId: c.chainId,
        startBlock: c.contracts.startBlock,
        contracts: { registry: record(c.contracts.registry), escrow: record(c.contracts.escrow), token: record(c.contracts.token) },
      };
    },
    contentStore: () => {
      const { ipfsDir, kubo } = options();
      return openContentStore(kubo === undefined ? { dir: ipfsDir } : { kuboUrl: kubo });
    },
  };
}

export function buildProgram(): Command {
  const program = new Command("vin")
    .description("verifiable inference network: operator node and dApp client")
    .option("-c, --config <file>", "node/client config written by `vin init`", process.env.VIN_CONFIG ?? "vin.json")
    .option("--password-file <file>", "file holding the keystore password (default: $VIN_PASSWORD)")
    .option("--json", "print machine-readable JSON")
    .option("--ipfs-dir <dir>", "embedded IPFS store for publish and pull", process.env.VIN_IPFS_DIR ?? ".vin/ipfs")
    .option("--kubo <url>", "use a Kubo node's RPC (e.g. http://127.0.0.1:5001) instead of the embedded store", process.env.VIN_KUBO_URL)
    .exitOverride();
  const global = () => program.opts<GlobalOptions & HubOptions>();
  registerOperatorCommands(program, global);
  registerDappCommands(program, global);
  registerFaucetCommand(program, global);
  registerHubCommands(program, hubContext(global));
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    return reportError(error);
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
    if (code !== 0) process.exit(code);
  });
}

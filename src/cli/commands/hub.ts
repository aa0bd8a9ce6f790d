import type { Command } from "commander";
import { createProvider } from "../../core/provider";
import { registerHubCommands, type HubCommandContext } from "../../hub/commands";
import { loadConfig } from "../../node/config";
import { loadKeystore, readPassword } from "../../node/keystore";
import { openContentStore } from "../../storage";
import type { Globals } from "../options";

/**
 * The model hub's commands — `publish`, `pull`, `search`, `hub serve` — registered by the hub (src/hub/commands.ts)
 * over what this CLI gives them: the config's chain, key, deployment and content store, each built when first used.
 */
export function register(program: Command, global: Globals): void {
  registerHubCommands(program, hubContext(global));
}

function hubContext(global: Globals): HubCommandContext {
  const config = () => loadConfig(global().config);
  const provider = async () => {
    const c = config();
    return createProvider(c.rpcUrl, { chainId: c.chainId, timeoutMs: c.rpcTimeoutMs });
  };
  return {
    rethrow: true,
    provider,
    signer: async () => (await loadKeystore(config().keystore, readPassword(global().passwordFile))).connect(await provider()),
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
      const { ipfsDir, kubo } = global();
      return openContentStore(kubo === undefined ? { dir: ipfsDir } : { kuboUrl: kubo });
    },
  };
}

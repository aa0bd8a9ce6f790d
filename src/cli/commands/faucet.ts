import { existsSync } from "node:fs";
import type { Command } from "commander";
import { formatEther, formatUnits, parseUnits } from "ethers";
import { readDeployment } from "../../core/deployment";
import { InputError } from "../../core/errors";
import { createProvider } from "../../core/provider";
import { loadConfig } from "../../node/config";
import { fundAccount } from "../../node/faucet";
import type { GlobalOptions, Globals } from "../options";
import { print } from "../output";

/** `vin faucet <address>`: gas money and test tokens for an address on a local chain (see `fundAccount`). */
export function register(program: Command, global: Globals): void {
  program
    .command("faucet <address>")
    .description("local chains only (31337, 1337): send gas money and mint test tokens to an address")
    .option("--eth <amount>", "ETH to send for gas", "10")
    .option("--tokens <amount>", "test tokens to mint", "1000")
    .option("--rpc-url <url>", "JSON-RPC endpoint (default: the config's, else http://127.0.0.1:8545)")
    .option(
      "--deployment <file>",
      "deployment record (default: the config's contracts, else deployments/localhost.json)",
    )
    .action(async (address: string, opts: { eth: string; tokens: string; rpcUrl?: string; deployment?: string }) => {
      const g = global();
      const [eth, tokens] = [parseAmount(opts.eth, "--eth"), parseAmount(opts.tokens, "--tokens")];
      const target = resolveTarget(g, opts);
      const provider = createProvider(target.rpcUrl, { chainId: target.chainId });
      try {
        const funded = await fundAccount({ provider, token: target.token(), to: address, eth, tokens });
        print(!!g.json, funded, () =>
          [
            ...(funded.ethTx
              ? [`sent ${formatEther(funded.eth)} ETH to ${funded.address} from ${funded.funder} (${funded.ethTx})`]
              : []),
            ...(funded.mintTx
              ? [`minted ${formatUnits(funded.tokens, 18)} test tokens to ${funded.address} (${funded.mintTx})`]
              : []),
            `balance now ${formatEther(funded.balance.eth)} ETH, ${formatUnits(funded.balance.tokens, 18)} tokens`,
          ].join("\n"),
        );
      } finally {
        provider.destroy();
      }
    });
}

/** An amount of ETH or tokens, zero allowed (`--tokens 0` sends gas money only). */
function parseAmount(value: string, flag: string): bigint {
  try {
    const wei = parseUnits(value, 18);
    if (wei >= 0n) return wei;
  } catch {
    // reported below
  }
  throw new InputError(`${flag} "${value}" is not an amount: pass a number such as 10 or 0.5`);
}

/** Where the faucet finds the chain and the token: flags, else the --config file if it exists, else the local defaults. */
function resolveTarget(
  global: GlobalOptions,
  opts: { rpcUrl?: string; deployment?: string },
): { rpcUrl: string; token: () => string; chainId?: number } {
  if (opts.rpcUrl === undefined && opts.deployment === undefined && existsSync(global.config)) {
    const config = loadConfig(global.config);
    return { rpcUrl: config.rpcUrl, token: () => config.contracts.token, chainId: config.chainId };
  }
  const file = opts.deployment ?? "deployments/localhost.json";
  return { rpcUrl: opts.rpcUrl ?? "http://127.0.0.1:8545", token: () => readDeployment(file).contracts.token.address };
}

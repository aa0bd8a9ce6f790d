import type { Command } from "commander";
import { CONFIG_DEFAULTS } from "../../node/config";
import { readPassword } from "../../node/keystore";
import { initOperator } from "../../node/operator-init";
import { parseModeNames, type Globals } from "../options";
import { print } from "../output";

/** `vin init`: a node config and a new encrypted operator key (see `initOperator`). */
export function register(program: Command, global: Globals): void {
  program
    .command("init")
    .description("write a node config and a new encrypted operator key")
    .requiredOption("--deployment <file>", "deployments/<network>.json written by the deploy script")
    .option("--rpc-url <url>", "JSON-RPC endpoint", "http://127.0.0.1:8545")
    .option("--chain-id <id>", "chain id (default: asked from the endpoint)")
    .option("--data-dir <dir>", "database, key and lock file", "vin-data")
    .option("--content-dir <dir>", "model files named by CID (default <data-dir>/content)")
    .option("--modes <list>", "modes to serve: vanilla,tee", "vanilla")
    .option("--metrics-port <port>", "Prometheus port on 127.0.0.1 (0: off)", "0")
    .option("--confirmations <n>", "blocks before a log is acted on", String(CONFIG_DEFAULTS.confirmations))
    .option("--scrypt-n <n>", "scrypt cost of the keystore", "131072")
    .action(async (opts: Record<string, string>) => {
      const g = global();
      const modes = parseModeNames(opts.modes!);
      const initialized = await initOperator({
        configFile: g.config,
        password: () => readPassword(g.passwordFile),
        deploymentFile: opts.deployment!,
        rpcUrl: opts.rpcUrl!,
        chainId: opts.chainId === undefined ? undefined : Number(opts.chainId),
        dataDir: opts.dataDir!,
        contentDir: opts.contentDir,
        modes,
        metricsPort: Number(opts.metricsPort),
        confirmations: Number(opts.confirmations),
        scryptN: Number(opts.scryptN),
      });
      const { address, config, keystore, enclave } = initialized;
      print(!!g.json, { address, config, keystore, enclave }, () =>
        [
          `operator ${address}`,
          `config   ${config}`,
          `keystore ${keystore}`,
          ...(enclave
            ? [`enclave  ${enclave} (DEVELOPMENT ONLY: vin enclave register registers it by quote; vin run does too)`]
            : []),
        ].join("\n"),
      );
    });
}

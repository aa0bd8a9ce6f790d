import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { formatUnits, getAddress, parseUnits, type Interface } from "ethers";
import type { Command } from "commander";
import { modeMask, MODE_NAMES, type Mode } from "../core/modes";
import { addressesFromRecord } from "../core/contracts";
import { ConfigError, InputError } from "../core/errors";
import { createProvider, checkEndpoint } from "../core/provider";
import { withRetry } from "../core/retry";
import { CONFIG_DEFAULTS, isModeName, loadConfig, MODE_BY_NAME, type ModeName, type NodeConfig } from "../node/config";
import { openOperator, type OperatorContext } from "../node/context";
import { startDaemon } from "../node/daemon";
import { loadDevEnclave } from "../node/enclave";
import { createKeystore, readPassword } from "../node/keystore";
import { createLogger } from "../node/log";
import { ALL_STATES, JobStore } from "../node/store";
import { print, tokens } from "./output";

export interface GlobalOptions {
  config: string;
  passwordFile?: string;
  json?: boolean;
}

export function parseModes(list: string): ModeName[] {
  const modes = list.split(",").map((m) => m.trim().toLowerCase());
  for (const m of modes) if (!isModeName(m)) throw new InputError(`unknown mode "${m}": use vanilla, tee, zk or a list (--modes vanilla,tee,zk)`);
  return [...new Set(modes)] as ModeName[];
}

export function parseAmount(amount: string): bigint {
  try {
    const wei = parseUnits(amount, 18);
    if (wei <= 0n) throw new Error("not positive");
    return wei;
  } catch (cause) {
    throw new InputError(`"${amount}" is not a positive token amount (e.g. 100 or 0.5)`, { cause });
  }
}

/** Runs an operator action with the outbox, closing everything afterwards. */
async function withOperator<T>(global: GlobalOptions, purpose: string, fn: (ctx: OperatorContext) => Promise<T>): Promise<T> {
  const log = createLogger(process.env.VIN_LOG_LEVEL ?? "warn");
  const ctx = await openOperator({ configFile: global.config, password: readPassword(global.passwordFile), purpose, log });
  try {
    return await fn(ctx);
  } finally {
    ctx.close();
  }
}

async function sendAndWait(ctx: OperatorContext, contract: "staking" | "escrow" | "token", call: string, args: unknown[]): Promise<string> {
  const target = ctx.contracts[contract] as unknown as { interface: Interface; getAddress(): Promise<string> };
  const data = target.interface.encodeFunctionData(call, args);
  const tx = await ctx.sender.send({ key: `${call}:${Date.now()}`, kind: call, to: await target.getAddress(), data, context: { contract, call } });
  const receipt = await ctx.sender.wait(tx);
  if (receipt.status !== 1) throw new InputError(`${contract}.${call} reverted in ${receipt.hash}`);
  return receipt.hash;
}

export function registerOperatorCommands(program: Command, global: () => GlobalOptions): void {
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
      if (existsSync(g.config)) throw new ConfigError(`${g.config} already exists: it is never overwritten; pass another --config`);
      const password = readPassword(g.passwordFile);
      const modes = parseModes(opts.modes!);
      if (!existsSync(opts.deployment!)) throw new ConfigError(`deployment record ${opts.deployment} not found: deploy first (npm run deploy:local)`);
      let record: { chainId: number; startBlock: number; contracts: Record<string, { address: string }> };
      try {
        record = JSON.parse(readFileSync(opts.deployment!, "utf8")) as typeof record;
      } catch (cause) {
        throw new ConfigError(`deployment record ${opts.deployment} is not valid JSON`, { cause });
      }
      let chainId = opts.chainId === undefined ? undefined : Number(opts.chainId);
      if (chainId === undefined) {
        const provider = createProvider(opts.rpcUrl!);
        try {
          chainId = await checkEndpoint(provider, opts.rpcUrl!);
        } finally {
          provider.destroy();
        }
      }
      if (chainId !== record.chainId) throw new ConfigError(`the deployment record is for chain ${record.chainId}, the endpoint serves chain ${chainId}`);
      const dataDir = path.resolve(opts.dataDir!);
      mkdirSync(dataDir, { recursive: true });
      const keystore = path.join(dataDir, "keystore.json");
      const address = await createKeystore(keystore, password, Number(opts.scryptN));
      const store = new JobStore(JobStore.pathIn(dataDir));
      store.setMeta("expectedNonce", "0");
      store.setMeta("address", address);
      store.close();
      const enclave = modes.includes("tee") ? loadDevEnclave(dataDir, { create: true }) : undefined;
      const config: NodeConfig = {
        ...CONFIG_DEFAULTS,
        rpcUrl: opts.rpcUrl!,
        chainId,
        contracts: addressesFromRecord(record),
        keystore,
        dataDir,
        contentDir: path.resolve(opts.contentDir ?? path.join(dataDir, "content")),
        modes,
        metricsPort: Number(opts.metricsPort),
        confirmations: Number(opts.confirmations),
      };
      mkdirSync(path.dirname(path.resolve(g.config)), { recursive: true });
      writeFileSync(g.config, `${JSON.stringify(config, null, 2)}\n`, { flag: "wx" });
      print(!!g.json, { address, config: g.config, keystore, enclave: enclave?.address }, () =>
        [`operator ${address}`, `config   ${g.config}`, `keystore ${keystore}`, ...(enclave ? [`enclave  ${enclave.address} (DEVELOPMENT ONLY: ask the attestor to register it)`] : [])].join("\n"),
      );
    });

  program
    .command("stake <amount>")
    .description("stake tokens (approves the staking contract first if needed)")
    .action(async (amount: string) => {
      const wei = parseAmount(amount);
      await withOperator(global(), "stake", async (ctx) => {
        const me = ctx.wallet.address;
        const staking = await ctx.contracts.staking.getAddress();
        const balance = await withRetry("token.balanceOf", () => ctx.contracts.token.balanceOf(me));
        if (balance < wei) throw new InputError(`operator ${me} holds ${tokens(balance)}, cannot stake ${tokens(wei)}: fund it first`);
        if ((await withRetry("token.allowance", () => ctx.contracts.token.allowance(me, staking))) < wei) await sendAndWait(ctx, "token", "approve", [staking, wei]);
        const hash = await sendAndWait(ctx, "staking", "stake", [wei]);
        print(!!global().json, { staked: wei, tx: hash }, () => `staked ${tokens(wei)} (${hash})`);
      });
    });

  program
    .command("unstake <amount>")
    .description("start thawing staked tokens")
    .action(async (amount: string) => {
      const wei = parseAmount(amount);
      await withOperator(global(), "unstake", async (ctx) => {
        const hash = await sendAndWait(ctx, "staking", "unstake", [wei]);
        print(!!global().json, { unstaked: wei, tx: hash }, () => `unstaking ${tokens(wei)}; withdraw after the thawing period (${hash})`);
      });
    });

  program
    .command("withdraw")
    .description("withdraw thawed stake to the operator address")
    .action(async () => {
      await withOperator(global(), "withdraw", async (ctx) => {
        const hash = await sendAndWait(ctx, "staking", "withdraw", [ctx.wallet.address]);
        print(!!global().json, { tx: hash }, () => `withdrawn (${hash})`);
      });
    });

  program
    .command("register")
    .description("declare the modes this operator serves")
    .requiredOption("--modes <list>", "vanilla,tee")
    .action(async (opts: { modes: string }) => {
      const modes = parseModes(opts.modes);
      await withOperator(global(), "register", async (ctx) => {
        const hash = await sendAndWait(ctx, "staking", "register", [modeMask(modes.map((m) => MODE_BY_NAME[m]))]);
        print(!!global().json, { modes, tx: hash }, () => `registered for ${modes.join(", ")} (${hash})`);
      });
    });

  program
    .command("claim")
    .description("withdraw earned fees to the operator address")
    .action(async () => {
      await withOperator(global(), "claim", async (ctx) => {
        const amount = await withRetry("escrow.claimable", () => ctx.contracts.escrow.claimable(ctx.wallet.address));
        if (amount === 0n) throw new InputError(`operator ${ctx.wallet.address} has nothing to claim`);
        const hash = await sendAndWait(ctx, "escrow", "claim", [ctx.wallet.address]);
        print(!!global().json, { claimed: amount, tx: hash }, () => `claimed ${tokens(amount)} (${hash})`);
      });
    });

  program
    .command("run")
    .description("run the operator daemon until SIGTERM/SIGINT")
    .option("--takeover", "adopt a key whose transactions this database has not recorded (only if its other instance is gone for good)")
    .option("--max-collateral <tokens>", "largest collateral per job this node locks (over $VIN_MAX_COLLATERAL and the config's maxCollateral, default 50)")
    .action(async (opts: { takeover?: boolean; maxCollateral?: string }) => {
      const log = createLogger();
      // Handlers first: a signal during start-up stops the daemon as soon as it is up, never mid-write.
      const running: { daemon?: Awaited<ReturnType<typeof startDaemon>>; stopRequested?: boolean } = {};
      const shutdown = () => {
        running.stopRequested = true;
        if (running.daemon !== undefined) void running.daemon.stop().then(() => process.exit(0));
      };
      process.once("SIGTERM", shutdown);
      process.once("SIGINT", shutdown);
      running.daemon = await startDaemon({ configFile: global().config, password: readPassword(global().passwordFile), log, takeover: opts.takeover, sources: { flags: opts, env: process.env } });
      if (running.stopRequested) shutdown();
      await running.daemon.stopped;
    });

  program
    .command("status")
    .description("stake, locked and thawing collateral, claimable fees, and jobs by state")
    .action(async () => {
      const g = global();
      const config = loadConfig(g.config);
      const address = keystoreAddress(config.keystore);
      const provider = createProvider(config.rpcUrl, { chainId: config.chainId, timeoutMs: config.rpcTimeoutMs });
      try {
        await checkEndpoint(provider, config.rpcUrl, config.chainId);
        const { connectContracts } = await import("../core/contracts");
        const c = connectContracts(config.contracts, provider);
        const [operator, locked, available, claimable, balance] = await Promise.all([
          c.staking.operatorOf(address),
          c.staking.lockedStake(address),
          c.staking.availableStake(address),
          c.escrow.claimable(address),
          c.token.balanceOf(address),
        ]);
        const dbFile = JobStore.pathIn(config.dataDir);
        let jobs: Record<string, number> = Object.fromEntries(ALL_STATES.map((s) => [s, 0]));
        let earned = 0n;
        let gasPaid = 0n;
        if (existsSync(dbFile)) {
          const store = new JobStore(dbFile, { readonly: true });
          jobs = store.countByState();
          earned = store.earned();
          gasPaid = store.totalFeesPaid();
          store.close();
        }
        const modes = (Object.keys(MODE_NAMES) as unknown as Mode[]).filter((m) => (Number(operator.capabilities) & (1 << Number(m))) !== 0).map((m) => MODE_NAMES[m]);
        const status = { address, staked: operator.staked, locked, available, thawing: operator.thawing, thawEnd: operator.thawEnd, claimable, earned, gasPaid, balance, modes, jobs };
        print(!!g.json, status, () =>
          [
            `operator  ${address} (modes: ${modes.join(", ") || "none"})`,
            `staked    ${tokens(operator.staked)} (locked ${tokens(locked)}, available ${tokens(available)})`,
            `thawing   ${tokens(operator.thawing)}${operator.thawing > 0n ? ` until ${new Date(Number(operator.thawEnd) * 1000).toISOString()}` : ""}`,
            `earned    ${tokens(earned)} from settled jobs; claimable now ${tokens(claimable)}; wallet ${tokens(balance)}`,
            `gas paid  ${formatUnits(gasPaid, 18)} ETH`,
            `jobs      ${Object.entries(jobs).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`).join(", ") || "none"}`,
          ].join("\n"),
        );
      } finally {
        provider.destroy();
      }
    });
}

/** The address of a keystore, read without decrypting it. */
export function keystoreAddress(file: string): string {
  if (!existsSync(file)) throw new ConfigError(`keystore ${file} not found: run \`vin init\` or fix "keystore" in the config`);
  try {
    return getAddress((JSON.parse(readFileSync(file, "utf8")) as { address: string }).address);
  } catch (cause) {
    throw new ConfigError(`keystore ${file} is not a valid keystore file`, { cause });
  }
}

import { mkdirSync } from "node:fs";
import type { JsonRpcProvider, Wallet } from "ethers";
import { connectContracts, type Contracts } from "../core/contracts";
import { createProvider, checkEndpoint } from "../core/provider";
import { loadConfig, type ConfigSources, type NodeConfig } from "./config";
import { loadKeystore } from "./keystore";
import { DataDirLock } from "./lock";
import type { Logger } from "../core/log";
import { TxSender } from "./sender";
import { NodeStore } from "./store";

/** Everything a command that sends operator transactions needs, opened in the order that fails fastest. */
export interface OperatorContext {
  config: NodeConfig;
  wallet: Wallet;
  provider: JsonRpcProvider;
  contracts: Contracts;
  store: NodeStore;
  sender: TxSender;
  lock: DataDirLock;
  close(): void;
}

export interface OpenOperatorOptions {
  configFile: string;
  password: string;
  purpose: string;
  log: Logger;
  takeover?: boolean;
  /** Settings from flags and the environment, over the file's (see `loadConfig`). */
  sources?: ConfigSources;
}

/**
 * Loads config and key, locks the data directory, opens the database, checks the RPC endpoint and that no other
 * instance uses the key. Anything wrong is one VinError; nothing is written before the checks pass.
 * @example const ctx = await openOperator({ configFile: "vin.json", password, purpose: "stake", log }); try { ... } finally { ctx.close(); }
 */
export async function openOperator(options: OpenOperatorOptions): Promise<OperatorContext> {
  const config = loadConfig(options.configFile, options.sources);
  const wallet = await loadKeystore(config.keystore, options.password);
  mkdirSync(config.dataDir, { recursive: true });
  const lock = DataDirLock.acquire(config.dataDir, options.purpose);
  let store: NodeStore | undefined;
  const provider = createProvider(config.rpcUrl, { chainId: config.chainId, timeoutMs: config.rpcTimeoutMs });
  try {
    await checkEndpoint(provider, config.rpcUrl, config.chainId);
    store = new NodeStore(NodeStore.pathIn(config.dataDir));
    const sender = new TxSender(store.outbox, wallet, provider, options.log, {
      chainId: config.chainId,
      rpcTimeoutMs: config.rpcTimeoutMs,
      stuckTxMs: config.stuckTxMs,
      pollIntervalMs: Math.min(config.pollIntervalMs, 500),
    });
    await sender.init({ takeover: options.takeover });
    await sender.recover();
    const s = store;
    return {
      config,
      wallet,
      provider,
      contracts: connectContracts(config.contracts, provider),
      store,
      sender,
      lock,
      close: () => {
        s.close();
        provider.destroy();
        lock.release();
      },
    };
  } catch (error) {
    store?.close();
    provider.destroy();
    lock.release();
    throw error;
  }
}

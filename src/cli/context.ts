/** What commands open before they act, closed again however they end: an operator's outbox, or a chain connection. */
import type { JsonRpcProvider } from "ethers";
import { connectContracts, type Contracts } from "../core/contracts";
import { checkEndpoint, createProvider } from "../core/provider";
import type { JobId } from "../core/ids";
import { loadConfig, type NodeConfig } from "../node/config";
import { openNodeContent } from "../node/content-store";
import { openOperator, type OperatorContext } from "../node/context";
import { readPassword } from "../node/keystore";
import { createLogger } from "../core/log";
import { verifyResult, type VerifyResultReturnType } from "../sdk/verifyResult";
import type { GlobalOptions } from "./options";

/** Runs an operator action with its key, database and outbox (the data directory locked for `purpose`). */
export async function withOperator<T>(
  global: GlobalOptions,
  purpose: string,
  fn: (ctx: OperatorContext) => Promise<T>,
): Promise<T> {
  const log = createLogger({ level: process.env.VIN_LOG_LEVEL ?? "warn" });
  const ctx = await openOperator({
    configFile: global.config,
    password: readPassword(global.passwordFile),
    purpose,
    log,
  });
  try {
    return await fn(ctx);
  } finally {
    ctx.close();
  }
}

/** Runs `fn` with the config's chain: its endpoint checked, the contracts connected for reading. */
export async function withChain<T>(
  global: GlobalOptions,
  fn: (config: NodeConfig, provider: JsonRpcProvider, contracts: Contracts) => Promise<T>,
): Promise<T> {
  const config = loadConfig(global.config);
  const provider = createProvider(config.rpcUrl, { chainId: config.chainId, timeoutMs: config.rpcTimeoutMs });
  try {
    await checkEndpoint(provider, config.rpcUrl, config.chainId);
    return await fn(config, provider, connectContracts(config.contracts, provider));
  } finally {
    provider.destroy();
  }
}

/**
 * Re-verifies a settled job; for ZK, the version's files are read from the content the config names (content
 * directory, IPFS store, Kubo node) to rebuild its circuit and check its proving key.
 */
export async function verifyJob(
  config: NodeConfig,
  provider: JsonRpcProvider,
  contracts: Contracts,
  jobId: JobId,
  fromBlock: number,
): Promise<VerifyResultReturnType> {
  const content = await openNodeContent({
    contentDir: config.contentDir,
    ipfsDir: config.ipfsDir,
    kuboUrl: config.kuboUrl,
    timeoutMs: config.contentTimeoutMs,
  });
  try {
    return await verifyResult({
      contracts,
      provider,
      jobId,
      fromBlock,
      maxRange: config.maxBlockRange,
      content: content.store,
    });
  } finally {
    await content.close();
  }
}

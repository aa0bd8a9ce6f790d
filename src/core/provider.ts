/** The JSON-RPC provider every process uses: fixed network, per-request timeouts, retries left to the caller. */
import { FetchRequest, JsonRpcProvider, Network, type Provider } from "ethers";
import { TransportError } from "./errors";
import { withRetry, type RetryOptions } from "./retry";

export interface ProviderOptions {
  /** Timeout of every HTTP request. Default 10 s. */
  timeoutMs?: number;
  /** Expected chain id; when given, no network detection request is made. */
  chainId?: number;
}

/**
 * A JSON-RPC provider that never retries on its own (the caller's retry policy decides) and never subscribes:
 * every request has a timeout, and the network is fixed so an outage cannot leave it detecting forever. The
 * response cache is off: a cached `eth_getTransactionCount` hands out a nonce that was just used.
 * @example const provider = createProvider("http://127.0.0.1:8545", { chainId: 31337 });
 */
export function createProvider(url: string, options: ProviderOptions = {}): JsonRpcProvider {
  const request = new FetchRequest(url);
  request.timeout = options.timeoutMs ?? 10_000;
  const network = options.chainId === undefined ? undefined : Network.from(options.chainId);
  return new JsonRpcProvider(request, network, {
    staticNetwork: network ?? true,
    batchMaxCount: 1,
    pollingInterval: 1_000,
    cacheTimeout: -1,
  });
}

/**
 * Checks that `url` answers and serves `chainId`; throws one clear TransportError otherwise.
 * @example await checkEndpoint(provider, "http://127.0.0.1:8545", 31337);
 */
export async function checkEndpoint(provider: JsonRpcProvider, url: string, chainId?: number): Promise<number> {
  let actual: number;
  try {
    actual = Number(
      await withRetry("eth_chainId", () => provider.send("eth_chainId", []) as Promise<string>, {
        attempts: 2,
        timeoutMs: 5_000,
      }),
    );
  } catch (cause) {
    throw new TransportError(`cannot reach the RPC endpoint ${url}: start the node or fix "rpcUrl" in the config`, {
      cause,
    });
  }
  if (chainId !== undefined && actual !== chainId) {
    throw new TransportError(
      `the RPC endpoint ${url} serves chain ${actual}, the config expects chain ${chainId}: fix "rpcUrl" or "chainId"`,
    );
  }
  return actual;
}

/** A provider whose head can be read: any ethers provider, and `send` when it speaks JSON-RPC. */
export type HeadReader = Pick<Provider, "getBlockNumber"> & {
  send?: (method: string, params: unknown[]) => Promise<unknown>;
};

/**
 * The chain's head as the node answers it now. A default ethers provider shares identical requests made within
 * 250 ms, so `getBlockNumber` can answer a block older than a state read made just after it; a log query bounded by
 * that head then misses the newest block's events (a job reads as settled and its `JobSettled` as absent). Sent as
 * a plain `eth_blockNumber` when the provider speaks JSON-RPC, which no cache answers; read the state at the block
 * this returns to see one consistent snapshot.
 * @example const head = await headBlockNumber(provider); const state = await escrow.stateOf(id, { blockTag: head });
 */
export async function headBlockNumber(provider: HeadReader, retry?: RetryOptions): Promise<number> {
  const send = provider.send;
  return withRetry(
    "eth_blockNumber",
    async () =>
      typeof send === "function" ? Number(await send.call(provider, "eth_blockNumber", [])) : provider.getBlockNumber(),
    retry,
  );
}

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { isAddress, parseUnits } from "ethers";
import { resolveSetting } from "../core/config";
import type { Addresses } from "../core/contracts";
import { ConfigError } from "../core/errors";
import { isModeName, MODES, type ModeName } from "../core/modes";
import { validateZkBatch, type ZkBatchConfig } from "./zk-batch-config";

export { isModeName, MODE_BY_NAME, type ModeName } from "../core/modes";

/** The mode names a config may list: `"vanilla", "tee" and "zk"`. */
const MODE_LIST = MODES.map((m) => `"${m.name}"`)
  .join(", ")
  .replace(/, ([^,]*)$/, " and $1");

/** The operator node's configuration file (`vin init` writes it). Relative paths are relative to the file. */
export interface NodeConfig {
  rpcUrl: string;
  chainId: number;
  contracts: Addresses;
  /** Encrypted JSON keystore of the operator key. */
  keystore: string;
  /** Database, lock file, enclave key. */
  dataDir: string;
  /** Model files and inputs, each named by its CID string. */
  contentDir: string;
  /** Optional embedded IPFS store (UnixFS blockstore directory) read after `contentDir`. */
  ipfsDir?: string;
  /** Optional Kubo RPC URL (e.g. http://127.0.0.1:5001) read after `contentDir`. */
  kuboUrl?: string;
  /** Time limit of one content fetch (an input by URI, a Kubo request). */
  contentTimeoutMs: number;
  /** Largest input by URI the node accepts, in bytes. */
  maxInputBytes: number;
  modes: ModeName[];
  /** Blocks behind the head before a log is acted on. */
  confirmations: number;
  pollIntervalMs: number;
  /** Largest `eth_getLogs` block range. */
  maxBlockRange: number;
  rpcTimeoutMs: number;
  /** Jobs processed concurrently. */
  workers: number;
  /** Prometheus endpoint on 127.0.0.1; 0 disables it. */
  metricsPort: number;
  /** Claim rewards automatically once claimable reaches this (wei, decimal string); "0" disables. */
  claimThreshold: string;
  /** Jobs paying less per node are ignored (wei, decimal string). */
  minFeePerNode: string;
  /** Jobs asking more collateral than this are ignored (tokens, decimal string, e.g. "50" or "12.5"). */
  maxCollateral: string;
  /** A transaction without a receipt after this long is re-sent with higher fees. */
  stuckTxMs: number;
  /** Most ZK jobs (k = 1, one model version) settled by one `submitBatch`; 1 submits each job on its own. At most 64. */
  zkBatchMax: number;
  /** How long a computed ZK job waits for others to batch with. */
  zkBatchWindowMs: number;
  /**
   * ZK nodes: prove the jobs of one model version together with the version's N-slot key (`{ "slots": 4,
   * "maxWaitMs": 2000 }`, see `ZkBatchConfig`); a version without one is proved job by job as before. Unset (default),
   * every job is proved on its own.
   */
  zkBatch?: ZkBatchConfig;
  /**
   * TEE nodes: port of the Oblivious HTTP gateway the enclave serves private inference on (on 127.0.0.1 unless
   * `gatewayHost` says otherwise); 0 (default) serves none.
   */
  gatewayPort: number;
  /** Address the gateway listens on. Default 127.0.0.1. */
  gatewayHost?: string;
  /** The gateway's public URL, published in PrivacyRegistry. Default `http://<gatewayHost>:<gatewayPort>/`. */
  gatewayUrl?: string;
  /**
   * With a gateway: the price of one Privacy Pass token (tokens, decimal string, e.g. "0.01"). Set, the gateway takes
   * one token per private request, issues tokens bought on-chain at `<gateway>/v1/passes/issue` and redeems spent
   * ones on-chain; unset (default), private requests are free.
   */
  passPrice?: string;
  /** Start the due rounds of subscriptions this node may serve (earning their keeper reward). Default true. */
  keepSubscriptions: boolean;
  /**
   * IPFS peer: libp2p multiaddrs the node listens on (e.g. `["/ip4/0.0.0.0/tcp/4001"]`). Set, the node runs an IPFS
   * peer over `ipfsDir` (default `<dataDir>/ipfs`), fetches model files it lacks from the providers it is told of
   * (`ipfsPeers`, `ipfsGateways`) or finds on-chain (ProviderDirectory), pins the files of the versions it serves
   * (`pinModels`) and serves them to peers, announcing where on-chain (loopback addresses only when it has no
   * other; `p2pAnnounce` chooses). Unset (default), no peer runs.
   */
  p2pListen?: string[];
  /** The multiaddrs announced on-chain, when others reach the node elsewhere than where it listens (NAT, DNS). */
  p2pAnnounce?: string[];
  /** Peers to fetch from besides those announced on-chain: multiaddrs ending in `/p2p/<peer id>`. */
  ipfsPeers?: string[];
  /** Trustless HTTP gateways (`<url>/ipfs/<cid>?format=raw`) tried after peers; every block is checked. */
  ipfsGateways?: string[];
  /**
   * Dial providers announced on-chain at loopback, private or link-local addresses. Default false: an operator's
   * announcement must not aim readers at services on their own host or network. True on devnets only, where every
   * peer listens on 127.0.0.1. (`ipfsPeers` given here are dialled wherever they are.)
   */
  ipfsAllowPrivate: boolean;
  /**
   * With a peer: the models whose active versions the node serves (supporting one of its modes) have their files
   * pinned: "all" (default), "none" or model ids. Anyone may publish a version: list ids to bound what is kept.
   */
  pinModels: "all" | "none" | string[];
  /**
   * TEE nodes: the OpenAI-compatible chat API (issue #14), served in the gateway (`/v1/models`,
   * `/v1/chat/completions`) and, with `chat.port`, directly on 127.0.0.1. Needs the TEE mode and the deployment's
   * ReceiptSettlement (`contracts.receiptSettlement`): every answer carries an enclave-signed receipt the node settles
   * there in batches. Unset (default), no chat is served.
   */
  chat?: ChatConfig;
}

/** The chat API's settings (`NodeConfig.chat`). */
export interface ChatConfig {
  /** The text models served (their versions bound to the enclave's measurement): "all" or model ids as strings. */
  models: "all" | string[];
  /**
   * The operator's price per token of every served model (tokens, decimal string, e.g. "0.000001"), published on
   * ReceiptSettlement (`setPrice`, in force an hour later). Set, requests must pay with a credit token (bought by a
   * deposit into the operator's credit pool, see `vin credit`); unset, the price is whatever is published (0 if
   * none) and requests without a credential are served.
   */
  pricePerToken?: string;
  /** Generations at once; more wait in the queue (`maxQueued`). Default 4. */
  maxConcurrent: number;
  /**
   * Requests that may wait (first in, first out) for a generation slot when all `maxConcurrent` are busy; beyond it
   * they are answered 429 at once. 0 queues none (every busy request is answered 429). Default 64.
   */
  maxQueued: number;
  /** Longest a queued request waits for a slot, in ms, before it is answered 429 (nothing paid). Default 10,000. */
  queueTimeoutMs: number;
  /** Most tokens one request may generate. Default 256. */
  maxTokens: number;
  /** Port of the direct (development) chat API on 127.0.0.1; 0 (default) serves none. */
  port: number;
  /** Receipts per settlement batch, at most (1 to 4,096, the contract's MAX_BATCH). Default 1,000. */
  batchMax: number;
  /** Longest a receipt waits for its batch, in ms (well within the contract's maxReceiptAge). Default 600,000. */
  batchAgeMs: number;
}

/** ReceiptSettlement's `MAX_BATCH`: receipts per `commitBatch`. */
export const MAX_RECEIPT_BATCH = 4_096;

/** Defaults of the chat settings a config may leave out. */
export const CHAT_DEFAULTS: Omit<ChatConfig, "models" | "pricePerToken"> = {
  maxConcurrent: 4,
  maxQueued: 64,
  queueTimeoutMs: 10_000,
  maxTokens: 256,
  port: 0,
  batchMax: 1_000,
  batchAgeMs: 600_000,
};

/** The escrow's `MAX_BATCH`: jobs per `submitBatch`. */
export const MAX_ZK_BATCH = 64;

export const CONFIG_DEFAULTS: Omit<
  NodeConfig,
  | "rpcUrl"
  | "chainId"
  | "contracts"
  | "keystore"
  | "dataDir"
  | "contentDir"
  | "modes"
  | "ipfsDir"
  | "kuboUrl"
  | "gatewayHost"
  | "gatewayUrl"
  | "p2pListen"
  | "p2pAnnounce"
  | "ipfsPeers"
  | "ipfsGateways"
  | "chat"
  | "zkBatch"
> = {
  confirmations: 1,
  pollIntervalMs: 1_000,
  maxBlockRange: 2_000,
  rpcTimeoutMs: 10_000,
  workers: 2,
  metricsPort: 0,
  claimThreshold: "0",
  minFeePerNode: "0",
  maxCollateral: "50",
  stuckTxMs: 60_000,
  contentTimeoutMs: 30_000,
  maxInputBytes: 1_048_576,
  zkBatchMax: 16,
  zkBatchWindowMs: 2_000,
  gatewayPort: 0,
  keepSubscriptions: true,
  pinModels: "all",
  ipfsAllowPrivate: false,
};

/** Settings given besides the file: `vin run`'s flags (commander's option values) and the environment. */
export interface ConfigSources {
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

/**
 * Reads and validates a config file; every problem is reported as one ConfigError naming the file and the field.
 * `maxCollateral` may also come from `vin run --max-collateral` or `VIN_MAX_COLLATERAL` in `sources`, by core's
 * precedence (`resolveSetting`: flag > environment > file > default), the error naming where a bad value came from.
 * @example const config = loadConfig("vin.json", { flags: { maxCollateral: "20" }, env: process.env });
 */
export function loadConfig(file: string, sources: ConfigSources = {}): NodeConfig {
  if (!existsSync(file))
    throw new ConfigError(`config file ${file} not found: create one with \`vin init\` or pass --config`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new ConfigError(`config file ${file} is not valid JSON: fix it or re-create it with \`vin init\``, { cause });
  }
  return validateConfig(raw, file, sources);
}

/** The wei of a token amount such as "50" or "12.5" (18 decimals), or undefined if it is not one. */
export function tokenAmount(value: unknown): bigint | undefined {
  if (typeof value !== "string" || !/^\d+(\.\d{1,18})?$/.test(value)) return undefined;
  return parseUnits(value, 18);
}

function parseTokenAmount(value: unknown): string {
  if (tokenAmount(value) === undefined)
    throw new ConfigError(
      `must be a token amount as a decimal string (e.g. "50" or "12.5"), got ${JSON.stringify(value)}`,
    );
  return value as string;
}

export function validateConfig(raw: unknown, file: string, sources: ConfigSources = {}): NodeConfig {
  const fail = (field: string, what: string): never => {
    throw new ConfigError(`config file ${file}: "${field}" ${what}`);
  };
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail("(root)", "must be a JSON object");
  const c = { ...CONFIG_DEFAULTS, ...(raw as Record<string, unknown>) } as Record<string, unknown>;
  const base = path.dirname(path.resolve(file));
  const str = (k: string) =>
    typeof c[k] === "string" && c[k] !== "" ? (c[k] as string) : fail(k, "must be a non-empty string");
  const int = (k: string, min: number) =>
    Number.isInteger(c[k]) && (c[k] as number) >= min ? (c[k] as number) : fail(k, `must be an integer >= ${min}`);
  const wei = (k: string) =>
    typeof c[k] === "string" && /^\d+$/.test(c[k] as string)
      ? (c[k] as string)
      : fail(k, "must be a decimal string of wei");
  const maxCollateral = resolveSetting(
    "maxCollateral",
    {
      flag: { name: "--max-collateral", value: sources.flags?.maxCollateral },
      env: { name: "VIN_MAX_COLLATERAL", value: sources.env?.VIN_MAX_COLLATERAL },
      file: { name: "maxCollateral", path: file, value: (raw as Record<string, unknown>).maxCollateral },
      default: CONFIG_DEFAULTS.maxCollateral,
    },
    parseTokenAmount,
  );
  const rpcUrl = str("rpcUrl");
  if (!/^https?:\/\//.test(rpcUrl)) fail("rpcUrl", `must be an http(s) URL, got "${rpcUrl}"`);
  const contracts = c.contracts as Record<string, unknown> | undefined;
  if (contracts === undefined || typeof contracts !== "object")
    fail("contracts", "must be an object with escrow, staking, registry, teeVerifier, token, startBlock");
  for (const name of ["escrow", "staking", "registry", "teeVerifier", "token"]) {
    if (typeof contracts![name] !== "string" || !isAddress(contracts![name]))
      fail(`contracts.${name}`, "must be an address");
  }
  if (!Number.isInteger(contracts!.startBlock) || (contracts!.startBlock as number) < 0)
    fail("contracts.startBlock", "must be a block number");
  const optional = (k: string) => (c[k] === undefined ? undefined : str(k));
  const kuboUrl = optional("kuboUrl");
  if (kuboUrl !== undefined && !/^https?:\/\//.test(kuboUrl))
    fail("kuboUrl", `must be an http(s) URL, got "${kuboUrl}"`);
  const ipfsDir = optional("ipfsDir");
  const gatewayHost = optional("gatewayHost");
  const gatewayUrl = optional("gatewayUrl");
  if (gatewayUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(gatewayUrl))
    fail("gatewayUrl", `must be the gateway's public http(s) URL, got "${gatewayUrl}"`);
  const passPrice = optional("passPrice");
  if (passPrice !== undefined && !(tokenAmount(passPrice)! > 0n))
    fail("passPrice", `must be a positive token amount such as "0.01", got "${passPrice}"`);
  const gatewayPort = int("gatewayPort", 0);
  if (gatewayPort > 65_535) fail("gatewayPort", `must be a port (0 to 65535; 0 serves no gateway), got ${gatewayPort}`);
  const list = (k: string, check: (v: string) => boolean, what: string): string[] | undefined => {
    if (c[k] === undefined) return undefined;
    const v = c[k];
    if (!Array.isArray(v) || v.length === 0 || v.length > 16) fail(k, `must be a list of 1 to 16 ${what}`);
    for (const item of v as unknown[])
      if (typeof item !== "string" || !check(item)) fail(k, `must list ${what}, got ${JSON.stringify(item)}`);
    return v as string[];
  };
  const p2pListen = list("p2pListen", isTcpMultiaddr, 'TCP multiaddrs such as "/ip4/0.0.0.0/tcp/4001"');
  const p2pAnnounce = list(
    "p2pAnnounce",
    (a) => isTcpMultiaddr(a) && !a.includes("/p2p/"),
    'TCP multiaddrs without /p2p/ (the node adds its peer id), such as "/dns4/node.example/tcp/4001"',
  );
  if (p2pAnnounce !== undefined && p2pListen === undefined)
    fail("p2pAnnounce", "needs p2pListen: a node that runs no IPFS peer has nothing to announce");
  const ipfsPeers = list(
    "ipfsPeers",
    (a) => isTcpMultiaddr(a) && /\/p2p\/[1-9A-HJ-NP-Za-km-z]{40,100}$/.test(a),
    'multiaddrs ending in /p2p/<peer id>, such as "/ip4/10.0.0.2/tcp/4001/p2p/12D3Koo…"',
  );
  const ipfsGateways = list("ipfsGateways", (u) => /^https?:\/\/[^\s]+$/.test(u), "http(s) URLs of trustless gateways");
  const pinModels = c.pinModels;
  if (
    pinModels !== "all" &&
    pinModels !== "none" &&
    !(Array.isArray(pinModels) && pinModels.every((m) => typeof m === "string" && /^[1-9]\d{0,18}$/.test(m)))
  )
    fail("pinModels", `must be "all", "none" or a list of model ids as strings, got ${JSON.stringify(pinModels)}`);
  const modes = c.modes;
  if (!Array.isArray(modes) || modes.length === 0 || !modes.every(isModeName))
    fail("modes", `must be a non-empty list of ${MODE_LIST}`);
  const chat = c.chat === undefined ? undefined : validateChat(c.chat, modes as ModeName[], fail);
  const zkBatch = c.zkBatch === undefined ? undefined : validateZkBatch(c.zkBatch, fail);
  if (zkBatch !== undefined && !(modes as ModeName[]).includes("zk"))
    fail("zkBatch", 'needs the "zk" mode: it batches ZK proofs');
  return {
    rpcUrl,
    chainId: int("chainId", 1),
    contracts: contracts as unknown as Addresses,
    keystore: path.resolve(base, str("keystore")),
    dataDir: path.resolve(base, str("dataDir")),
    contentDir: path.resolve(base, str("contentDir")),
    ...(ipfsDir === undefined ? {} : { ipfsDir: path.resolve(base, ipfsDir) }),
    ...(kuboUrl === undefined ? {} : { kuboUrl }),
    modes: modes as ModeName[],
    confirmations: int("confirmations", 0),
    pollIntervalMs: int("pollIntervalMs", 50),
    maxBlockRange: int("maxBlockRange", 1),
    rpcTimeoutMs: int("rpcTimeoutMs", 100),
    workers: int("workers", 1),
    metricsPort: int("metricsPort", 0),
    claimThreshold: wei("claimThreshold"),
    minFeePerNode: wei("minFeePerNode"),
    maxCollateral,
    stuckTxMs: int("stuckTxMs", 1_000),
    zkBatchMax:
      int("zkBatchMax", 1) <= MAX_ZK_BATCH
        ? (c.zkBatchMax as number)
        : fail("zkBatchMax", `must be at most ${MAX_ZK_BATCH} (the escrow's MAX_BATCH)`),
    zkBatchWindowMs: int("zkBatchWindowMs", 0),
    contentTimeoutMs: int("contentTimeoutMs", 100),
    maxInputBytes: int("maxInputBytes", 1),
    gatewayPort,
    keepSubscriptions:
      typeof c.keepSubscriptions === "boolean"
        ? c.keepSubscriptions
        : fail("keepSubscriptions", `must be true or false, got ${JSON.stringify(c.keepSubscriptions)}`),
    ...(gatewayHost === undefined ? {} : { gatewayHost }),
    ...(gatewayUrl === undefined ? {} : { gatewayUrl }),
    ...(passPrice === undefined ? {} : { passPrice }),
    ...(p2pListen === undefined ? {} : { p2pListen }),
    ...(p2pAnnounce === undefined ? {} : { p2pAnnounce }),
    ...(ipfsPeers === undefined ? {} : { ipfsPeers }),
    ...(ipfsGateways === undefined ? {} : { ipfsGateways }),
    pinModels: pinModels as NodeConfig["pinModels"],
    ...(chat === undefined ? {} : { chat }),
    ...(zkBatch === undefined ? {} : { zkBatch }),
    ipfsAllowPrivate:
      typeof c.ipfsAllowPrivate === "boolean"
        ? c.ipfsAllowPrivate
        : fail("ipfsAllowPrivate", `must be true or false, got ${JSON.stringify(c.ipfsAllowPrivate)}`),
  };
}

function validateChat(raw: unknown, modes: ModeName[], fail: (field: string, what: string) => never): ChatConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    fail("chat", 'must be an object such as { "models": "all" }');
  if (!modes.includes("tee")) fail("chat", 'needs the "tee" mode: receipts are signed by the enclave');
  const c = { ...CHAT_DEFAULTS, ...(raw as Record<string, unknown>) } as Record<string, unknown>;
  const known = new Set(["models", "pricePerToken", ...Object.keys(CHAT_DEFAULTS)]);
  for (const key of Object.keys(c))
    if (!known.has(key)) fail(`chat.${key}`, `is not a chat setting (they are ${[...known].join(", ")})`);
  const int = (k: string, min: number, max: number): number =>
    Number.isInteger(c[k]) && (c[k] as number) >= min && (c[k] as number) <= max
      ? (c[k] as number)
      : fail(`chat.${k}`, `must be an integer from ${min} to ${max}, got ${JSON.stringify(c[k])}`);
  const models = c.models;
  if (
    models !== "all" &&
    !(
      Array.isArray(models) &&
      models.length > 0 &&
      models.every((m) => typeof m === "string" && /^[1-9]\d{0,18}$/.test(m))
    )
  )
    fail("chat.models", `must be "all" or a non-empty list of model ids as strings, got ${JSON.stringify(models)}`);
  const price = c.pricePerToken;
  if (price !== undefined && !(tokenAmount(price)! > 0n))
    fail("chat.pricePerToken", `must be a positive token amount such as "0.000001", got ${JSON.stringify(price)}`);
  const port = int("port", 0, 65_535);
  return {
    models: models as ChatConfig["models"],
    ...(price === undefined ? {} : { pricePerToken: price as string }),
    maxConcurrent: int("maxConcurrent", 1, 1_024),
    maxQueued: int("maxQueued", 0, 65_536),
    queueTimeoutMs: int("queueTimeoutMs", 1, 600_000),
    maxTokens: int("maxTokens", 1, 1_000_000),
    port,
    batchMax: int("batchMax", 1, MAX_RECEIPT_BATCH),
    batchAgeMs: int("batchAgeMs", 1_000, 7 * 24 * 3_600_000),
  };
}

/** A libp2p TCP multiaddr in text form: `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>`, optionally `/p2p/<peer id>`. */
function isTcpMultiaddr(value: string): boolean {
  const match = /^\/(ip4|ip6|dns|dns4|dns6)\/([^/\s]+)\/tcp\/(\d{1,5})(\/p2p\/[1-9A-HJ-NP-Za-km-z]+)?$/.exec(value);
  return match !== null && Number(match[3]) <= 65_535;
}

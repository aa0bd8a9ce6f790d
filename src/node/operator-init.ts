/**
 * `vin init` as a function: a new encrypted key, an empty node database that knows it, a development enclave for
 * TEE, and the config file that names them. The CLI and the devnet both call it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { addressesFromRecord } from "../core/contracts";
import { ConfigError } from "../core/errors";
import type { ModeName } from "../core/modes";
import { checkEndpoint, createProvider } from "../core/provider";
import { CONFIG_DEFAULTS, type NodeConfig } from "./config";
import { loadDevEnclave } from "./enclave";
import { createKeystore } from "./keystore";
import { NodeStore } from "./store";

export interface InitOperatorParams {
  /** The config file to write; never overwritten. */
  configFile: string;
  /** Encrypts the new key: the password, or how to read it (called once the config file is known not to exist). */
  password: string | (() => string);
  /** `deployments/<network>.json` written by the deploy script. */
  deploymentFile: string;
  rpcUrl: string;
  /** Default: asked from the endpoint. */
  chainId?: number;
  /** Database, key and lock file. */
  dataDir: string;
  /** Model files named by CID. Default `<dataDir>/content`. */
  contentDir?: string;
  modes: ModeName[];
  /** Default 0 (off). */
  metricsPort?: number;
  /** Default {@link CONFIG_DEFAULTS}'s. */
  confirmations?: number;
  /** scrypt cost of the keystore. Default 131072. */
  scryptN?: number;
  /** Settings written over everything above (a devnet's polling interval, a test's start block, ...). */
  settings?: Partial<NodeConfig>;
}

export interface InitOperatorReturnType {
  address: string;
  config: string;
  keystore: string;
  /** The development enclave's signing address, when the node serves TEE (it registers itself by quote: `vin enclave register`, or the daemon at start). */
  enclave?: string;
}

/**
 * Writes a node config and a new encrypted operator key, after checking that the deployment record is for the
 * chain the endpoint serves. Nothing is written before the checks pass.
 * @throws ConfigError when the config exists, the record is missing or not JSON, or names another chain.
 * @example const { address } = await initOperator({ configFile: "vin.json", password, deploymentFile: "deployments/localhost.json", rpcUrl: "http://127.0.0.1:8545", dataDir: "vin-data", modes: ["vanilla"] });
 */
export async function initOperator(params: InitOperatorParams): Promise<InitOperatorReturnType> {
  const { configFile } = params;
  if (existsSync(configFile))
    throw new ConfigError(`${configFile} already exists: it is never overwritten; pass another --config`);
  const password = typeof params.password === "string" ? params.password : params.password();
  const record = readRecord(params.deploymentFile);
  const chainId = params.chainId ?? (await endpointChainId(params.rpcUrl));
  if (chainId !== record.chainId)
    throw new ConfigError(`the deployment record is for chain ${record.chainId}, the endpoint serves chain ${chainId}`);
  const dataDir = path.resolve(params.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const keystore = path.join(dataDir, "keystore.json");
  const address = await createKeystore(keystore, password, params.scryptN ?? 131_072);
  const store = new NodeStore(NodeStore.pathIn(dataDir));
  store.outbox.setExpectedNonce(0);
  store.outbox.setSigner(address);
  store.close();
  const enclave = params.modes.includes("tee") ? loadDevEnclave(dataDir, { create: true }) : undefined;
  const config: NodeConfig = {
    ...CONFIG_DEFAULTS,
    rpcUrl: params.rpcUrl,
    chainId,
    contracts: addressesFromRecord(record),
    keystore,
    dataDir,
    contentDir: path.resolve(params.contentDir ?? path.join(dataDir, "content")),
    modes: params.modes,
    metricsPort: params.metricsPort ?? 0,
    confirmations: params.confirmations ?? CONFIG_DEFAULTS.confirmations,
    ...params.settings,
  };
  mkdirSync(path.dirname(path.resolve(configFile)), { recursive: true });
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`, { flag: "wx" });
  return { address, config: configFile, keystore, enclave: enclave?.address };
}

type DeploymentRecord = { chainId: number; startBlock: number; contracts: Record<string, { address: string }> };

function readRecord(file: string): DeploymentRecord {
  if (!existsSync(file))
    throw new ConfigError(`deployment record ${file} not found: deploy first (npm run deploy:local)`);
  try {
    return JSON.parse(readFileSync(file, "utf8")) as DeploymentRecord;
  } catch (cause) {
    throw new ConfigError(`deployment record ${file} is not valid JSON`, { cause });
  }
}

async function endpointChainId(rpcUrl: string): Promise<number> {
  const provider = createProvider(rpcUrl);
  try {
    return await checkEndpoint(provider, rpcUrl);
  } finally {
    provider.destroy();
  }
}

/**
 * `vin status` as a function: an operator's stake, collateral, fees and jobs, read from the chain and (read-only)
 * from its database, without decrypting its key.
 */
import { existsSync, readFileSync } from "node:fs";
import { getAddress } from "ethers";
import { connectContracts } from "../core/contracts";
import { ConfigError } from "../core/errors";
import { MODE_NAMES, modesOf, type ModeName } from "../core/modes";
import { checkEndpoint, createProvider } from "../core/provider";
import type { NodeConfig } from "./config";
import { ALL_STATES, NodeStore } from "./store";

export interface OperatorStatus {
  address: string;
  staked: bigint;
  locked: bigint;
  available: bigint;
  thawing: bigint;
  /** Unix seconds when the thawing stake can be withdrawn. */
  thawEnd: bigint;
  /** Fees the escrow holds for the operator now. */
  claimable: bigint;
  /** Fees of the jobs this node settled (its database). */
  earned: bigint;
  /** Wei of ETH this node paid for gas (its database). */
  gasPaid: bigint;
  /** Token balance of the operator's address. */
  balance: bigint;
  modes: ModeName[];
  /** Jobs in this node's database, by state. */
  jobs: Record<string, number>;
}

/**
 * Reads an operator's status; the database is read only if it exists.
 * @throws TransportError when the endpoint cannot be reached; ConfigError for a missing or broken keystore.
 * @example const status = await getOperatorStatus(loadConfig("vin.json"));
 */
export async function getOperatorStatus(config: NodeConfig): Promise<OperatorStatus> {
  const address = keystoreAddress(config.keystore);
  const provider = createProvider(config.rpcUrl, { chainId: config.chainId, timeoutMs: config.rpcTimeoutMs });
  try {
    await checkEndpoint(provider, config.rpcUrl, config.chainId);
    const c = connectContracts(config.contracts, provider);
    const [operator, locked, available, claimable, balance] = await Promise.all([
      c.staking.operatorOf(address),
      c.staking.lockedStake(address),
      c.staking.availableStake(address),
      c.escrow.claimable(address),
      c.token.balanceOf(address),
    ]);
    const modes = modesOf(operator.capabilities).map((m) => MODE_NAMES[m]);
    const { jobs, earned, gasPaid } = readDatabase(config.dataDir);
    return {
      address,
      staked: operator.staked,
      locked,
      available,
      thawing: operator.thawing,
      thawEnd: operator.thawEnd,
      claimable,
      earned,
      gasPaid,
      balance,
      modes,
      jobs,
    };
  } finally {
    provider.destroy();
  }
}

function readDatabase(dataDir: string): Pick<OperatorStatus, "jobs" | "earned" | "gasPaid"> {
  const file = NodeStore.pathIn(dataDir);
  if (!existsSync(file)) return { jobs: Object.fromEntries(ALL_STATES.map((s) => [s, 0])), earned: 0n, gasPaid: 0n };
  const store = new NodeStore(file, { readonly: true });
  try {
    return { jobs: store.jobs.countByState(), earned: store.earnings.earned(), gasPaid: store.earnings.feesPaid() };
  } finally {
    store.close();
  }
}

/**
 * The address of a keystore, read without decrypting it.
 * @throws ConfigError when the file is missing or not a keystore.
 */
export function keystoreAddress(file: string): string {
  if (!existsSync(file))
    throw new ConfigError(`keystore ${file} not found: run \`vin init\` or fix "keystore" in the config`);
  try {
    return getAddress((JSON.parse(readFileSync(file, "utf8")) as { address: string }).address);
  } catch (cause) {
    throw new ConfigError(`keystore ${file} is not a valid keystore file`, { cause });
  }
}

/**
 * The deployment: which contracts of the protocol live where on one chain, as `deploy/system.ts` records them in
 * `deployments/<network>.json`. Every process — the node, the SDK, the hub, the CLI, the devnet — reads it through
 * {@link readDeployment}, and nothing else describes a deployment.
 */
import { existsSync, readFileSync } from "node:fs";
import { getAddress, isAddress } from "ethers";
import { ConfigError } from "./errors";

/** The contracts a deployment records. */
export const CONTRACT_NAMES = [
  "token",
  "timelock",
  "verifierFactory",
  "registry",
  "staking",
  "settlementLib",
  "escrow",
  "vanillaVerifier",
  "teeVerifier",
  "dcapVerifier",
  "zkVerifier",
  "dualVerifier",
  "exampleConsumer",
  "privacyRegistry",
  "privacyPassEscrow",
  "evaluationRegistry",
  "subscriptionManager",
  "realizedVolatilitySource",
  "feedWindowSource",
] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

/**
 * Contracts added after deployments still in use: a record without one loads (its readers find it absent), and
 * `deploySystem` adds it on its next run.
 */
export const OPTIONAL_CONTRACT_NAMES = ["providerDirectory", "receiptSettlement"] as const;
export type OptionalContractName = (typeof OPTIONAL_CONTRACT_NAMES)[number];

/** One deployed contract: address, constructor arguments (JSON-safe) and the block it was deployed in. */
export interface ContractRecord {
  address: string;
  args: unknown[];
  block: number;
}

/** A deployment record. `startBlock` is the earliest block any of its contracts was deployed in. */
export interface Deployment {
  network: string;
  chainId: number;
  startBlock: number;
  deployer: string;
  contracts: Record<ContractName, ContractRecord> & Partial<Record<OptionalContractName, ContractRecord>>;
}

/**
 * Reads and checks `deployments/<network>.json`.
 * @throws ConfigError naming the file and what is missing or malformed, and what to run.
 * @example const deployment = readDeployment("deployments/localhost.json");
 */
export function readDeployment(file: string): Deployment {
  if (!existsSync(file))
    throw new ConfigError(
      `deployment record ${file} does not exist: deploy first (\`npm start\` locally, \`npm run deploy:remote\` elsewhere)`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new ConfigError(`deployment record ${file} is not valid JSON: redeploy or restore it`, { cause });
  }
  return parseDeployment(raw, file);
}

/**
 * Checks a deployment record already in memory.
 * @throws ConfigError naming the field that is wrong.
 */
export function parseDeployment(raw: unknown, source = "the deployment record"): Deployment {
  const fail = (field: string, problem: string): never => {
    throw new ConfigError(`${source}: "${field}" ${problem}`);
  };
  if (raw === null || typeof raw !== "object") fail("(root)", "must be an object");
  const r = raw as Record<string, unknown>;
  if (!Number.isSafeInteger(r.chainId) || (r.chainId as number) <= 0) fail("chainId", "must be a positive integer");
  if (!Number.isSafeInteger(r.startBlock) || (r.startBlock as number) < 0) fail("startBlock", "must be a block number");
  const contracts = r.contracts as Record<string, unknown> | undefined;
  if (contracts === undefined || contracts === null || typeof contracts !== "object")
    fail("contracts", "must be an object");
  const out = {} as Deployment["contracts"];
  for (const name of [...CONTRACT_NAMES, ...OPTIONAL_CONTRACT_NAMES]) {
    const c = contracts![name] as Partial<ContractRecord> | undefined;
    if (c === undefined && (OPTIONAL_CONTRACT_NAMES as readonly string[]).includes(name)) continue;
    if (c === undefined) fail(`contracts.${name}`, "is missing: the record predates this version; redeploy");
    if (typeof c!.address !== "string" || !isAddress(c!.address))
      fail(`contracts.${name}.address`, "must be an address");
    out[name] = {
      address: getAddress(c!.address!),
      args: Array.isArray(c!.args) ? c!.args : [],
      block: Number(c!.block ?? 0),
    };
  }
  return {
    network: typeof r.network === "string" ? r.network : "unknown",
    chainId: r.chainId as number,
    startBlock: r.startBlock as number,
    deployer: typeof r.deployer === "string" ? r.deployer : "",
    contracts: out,
  };
}

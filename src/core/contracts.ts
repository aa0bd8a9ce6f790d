/**
 * Typed handles on a deployment's contracts, for every process that talks to the protocol (the operator node, the
 * SDK, the CLI, the devnet). Revert decoding over every ABI is in revert.ts.
 */
import type { ContractRunner } from "ethers";
import { ConfigError } from "./errors";
import { JobEscrow__factory } from "../../typechain-types/factories/contracts/escrow/JobEscrow__factory";
import { NodeStaking__factory } from "../../typechain-types/factories/contracts/staking/NodeStaking__factory";
import { ModelRegistry__factory } from "../../typechain-types/factories/contracts/registry/ModelRegistry__factory";
import { TeeVerifier__factory } from "../../typechain-types/factories/contracts/verifiers/TeeVerifier__factory";
import { PrivacyRegistry__factory } from "../../typechain-types/factories/contracts/privacy/PrivacyRegistry__factory";
import { PrivacyPassEscrow__factory } from "../../typechain-types/factories/contracts/privacy/PrivacyPassEscrow__factory";
import { TestToken__factory } from "../../typechain-types/factories/contracts/mocks/TestToken__factory";
import { EvaluationRegistry__factory } from "../../typechain-types/factories/contracts/evaluation/EvaluationRegistry__factory";
import { SubscriptionManager__factory } from "../../typechain-types/factories/contracts/subscriptions/SubscriptionManager__factory";
import { ProviderDirectory__factory } from "../../typechain-types/factories/contracts/storage/ProviderDirectory__factory";
import type { JobEscrow } from "../../typechain-types/contracts/escrow/JobEscrow";
import type { NodeStaking } from "../../typechain-types/contracts/staking/NodeStaking";
import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import type { TeeVerifier } from "../../typechain-types/contracts/verifiers/TeeVerifier";
import type { PrivacyRegistry } from "../../typechain-types/contracts/privacy/PrivacyRegistry";
import type { PrivacyPassEscrow } from "../../typechain-types/contracts/privacy/PrivacyPassEscrow";
import type { TestToken } from "../../typechain-types/contracts/mocks/TestToken";
import type { EvaluationRegistry } from "../../typechain-types/contracts/evaluation/EvaluationRegistry";
import type { SubscriptionManager } from "../../typechain-types/contracts/subscriptions/SubscriptionManager";
import type { ProviderDirectory } from "../../typechain-types/contracts/storage/ProviderDirectory";
import type { ReceiptSettlement } from "../../typechain-types/contracts/chat/ReceiptSettlement";
import { ReceiptSettlement__factory } from "../../typechain-types/factories/contracts/chat/ReceiptSettlement__factory";

/** Addresses of a deployment, as `deployments/<network>.json` records them, plus the block to scan logs from. */
export interface Addresses {
  escrow: string;
  staking: string;
  registry: string;
  teeVerifier: string;
  token: string;
  /** Optional: operator configs written before the private path do not name it. */
  privacyRegistry?: string;
  /** Optional, as `privacyRegistry`. */
  privacyPassEscrow?: string;
  /** Optional: configs written before verified evaluations do not name it. */
  evaluationRegistry?: string;
  /** Optional: configs written before subscriptions do not name it. */
  subscriptionManager?: string;
  /** Optional, as `subscriptionManager`: the input source of the volatility model's features. */
  realizedVolatilitySource?: string;
  /** Optional, as `subscriptionManager`: the input source of a feed's last answers. */
  feedWindowSource?: string;
  /** Optional: configs and deployment records written before the provider directory do not name it. */
  providerDirectory?: string;
  /** Optional: configs and deployment records written before batched receipt settlement do not name it. */
  receiptSettlement?: string;
  startBlock: number;
}

export interface Contracts {
  escrow: JobEscrow;
  staking: NodeStaking;
  registry: ModelRegistry;
  teeVerifier: TeeVerifier;
  /** The payment token (an ERC-20; `TestToken` covers its ABI). */
  token: TestToken;
  /** Relays, gateways and node keys of the private path; present when the addresses name it. */
  privacyRegistry?: PrivacyRegistry;
  /** Prepaid Privacy Pass tokens of operators' issuer keys (the private path's payment); present when named. */
  privacyPassEscrow?: PrivacyPassEscrow;
  /** Datasets and verified evaluations of model versions; present when the addresses name it. */
  evaluationRegistry?: EvaluationRegistry;
  /** Subscriptions of recurring verified inference and their feeds; present when the addresses name it. */
  subscriptionManager?: SubscriptionManager;
  /** Staked operators' libp2p multiaddrs for the content they serve; present when the addresses name it. */
  providerDirectory?: ProviderDirectory;
  /** Batches of enclave-signed inference receipts and their payment; present when the addresses name it. */
  receiptSettlement?: ReceiptSettlement;
}

/**
 * Typed contract handles for a deployment.
 * @example const { escrow } = connectContracts(addresses, provider); await escrow.jobCount();
 */
export function connectContracts(addresses: Addresses, runner: ContractRunner): Contracts {
  return {
    escrow: JobEscrow__factory.connect(addresses.escrow, runner),
    staking: NodeStaking__factory.connect(addresses.staking, runner),
    registry: ModelRegistry__factory.connect(addresses.registry, runner),
    teeVerifier: TeeVerifier__factory.connect(addresses.teeVerifier, runner),
    token: TestToken__factory.connect(addresses.token, runner),
    ...(addresses.privacyRegistry === undefined
      ? {}
      : { privacyRegistry: PrivacyRegistry__factory.connect(addresses.privacyRegistry, runner) }),
    ...(addresses.privacyPassEscrow === undefined
      ? {}
      : { privacyPassEscrow: PrivacyPassEscrow__factory.connect(addresses.privacyPassEscrow, runner) }),
    ...(addresses.evaluationRegistry === undefined
      ? {}
      : { evaluationRegistry: EvaluationRegistry__factory.connect(addresses.evaluationRegistry, runner) }),
    ...(addresses.subscriptionManager === undefined
      ? {}
      : { subscriptionManager: SubscriptionManager__factory.connect(addresses.subscriptionManager, runner) }),
    ...(addresses.providerDirectory === undefined
      ? {}
      : { providerDirectory: ProviderDirectory__factory.connect(addresses.providerDirectory, runner) }),
    ...(addresses.receiptSettlement === undefined
      ? {}
      : { receiptSettlement: ReceiptSettlement__factory.connect(addresses.receiptSettlement, runner) }),
  };
}

/** The {@link Addresses} of a deployment record (`deployments/<network>.json`, as written by `deploySystem`). */
export function addressesFromRecord(record: {
  startBlock: number;
  contracts: Partial<Record<string, { address: string }>>;
}): Addresses {
  const pick = (name: string): string => {
    const address = record.contracts[name]?.address;
    if (address === undefined) throw new ConfigError(`the deployment record has no "${name}" contract: redeploy`);
    return address;
  };
  return {
    escrow: pick("escrow"),
    staking: pick("staking"),
    registry: pick("registry"),
    teeVerifier: pick("teeVerifier"),
    token: pick("token"),
    ...(record.contracts.privacyRegistry === undefined
      ? {}
      : { privacyRegistry: record.contracts.privacyRegistry.address }),
    ...(record.contracts.privacyPassEscrow === undefined
      ? {}
      : { privacyPassEscrow: record.contracts.privacyPassEscrow.address }),
    ...(record.contracts.evaluationRegistry === undefined
      ? {}
      : { evaluationRegistry: record.contracts.evaluationRegistry.address }),
    ...Object.fromEntries(
      (
        [
          "subscriptionManager",
          "realizedVolatilitySource",
          "feedWindowSource",
          "providerDirectory",
          "receiptSettlement",
        ] as const
      ).flatMap((name) => {
        const address = record.contracts[name]?.address;
        return address === undefined ? [] : [[name, address]];
      }),
    ),
    startBlock: record.startBlock,
  };
}

/**
 * The privacy registry of `contracts`, for the private path's callers.
 * @throws ConfigError when the addresses do not name one (an operator config or deployment record from before it).
 * @example const registry = requirePrivacyRegistry(contracts); await registry.relays();
 */
export function requirePrivacyRegistry(contracts: Pick<Contracts, "privacyRegistry">): PrivacyRegistry {
  if (contracts.privacyRegistry === undefined)
    throw new ConfigError(
      `no "privacyRegistry" address is configured: add the deployment record's privacyRegistry to the config, or redeploy`,
    );
  return contracts.privacyRegistry;
}

/**
 * The Privacy Pass escrow of `contracts`, for buyers and issuers of the private path's tokens.
 * @throws ConfigError when the addresses do not name one (an operator config or deployment record from before it).
 * @example const passes = requirePrivacyPassEscrow(contracts); await passes.issuer(keyId);
 */
export function requirePrivacyPassEscrow(contracts: Pick<Contracts, "privacyPassEscrow">): PrivacyPassEscrow {
  if (contracts.privacyPassEscrow === undefined)
    throw new ConfigError(
      `no "privacyPassEscrow" address is configured: add the deployment record's privacyPassEscrow to the config, or redeploy`,
    );
  return contracts.privacyPassEscrow;
}

/**
 * The evaluation registry of `contracts`, for requesters, evaluating nodes and auditors of verified evaluations.
 * @throws ConfigError when the addresses do not name one (an operator config or deployment record from before it).
 * @example const evaluations = requireEvaluationRegistry(contracts); await evaluations.datasetCount();
 */
export function requireEvaluationRegistry(contracts: Pick<Contracts, "evaluationRegistry">): EvaluationRegistry {
  if (contracts.evaluationRegistry === undefined)
    throw new ConfigError(
      `no "evaluationRegistry" address is configured: add the deployment record's evaluationRegistry to the config (contracts.evaluationRegistry), or redeploy`,
    );
  return contracts.evaluationRegistry;
}

/**
 * The subscription manager of `contracts`, for subscribers, keepers and readers of subscription feeds.
 * @throws ConfigError when the addresses do not name one (an operator config or deployment record from before it).
 * @example const manager = requireSubscriptionManager(contracts); await manager.subscriptionCount();
 */
export function requireSubscriptionManager(contracts: Pick<Contracts, "subscriptionManager">): SubscriptionManager {
  if (contracts.subscriptionManager === undefined)
    throw new ConfigError(
      `no "subscriptionManager" address is configured: add the deployment record's subscriptionManager to the config (contracts.subscriptionManager), or redeploy`,
    );
  return contracts.subscriptionManager;
}

/**
 * The provider directory of `contracts`, for readers and announcers of where operators serve content.
 * @throws ConfigError when the addresses do not name one (an operator config or deployment record from before it).
 * @example const directory = requireProviderDirectory(contracts); await directory.providers();
 */
export function requireProviderDirectory(contracts: Pick<Contracts, "providerDirectory">): ProviderDirectory {
  if (contracts.providerDirectory === undefined)
    throw new ConfigError(
      `no "providerDirectory" address is configured: add the deployment record's providerDirectory to the config (contracts.providerDirectory), or redeploy`,
    );
  return contracts.providerDirectory;
}

/**
 * The receipt settlement contract, or a ConfigError saying how to get one configured.
 * @example const settlement = requireReceiptSettlement(contracts); await settlement.batch(batchId);
 */
export function requireReceiptSettlement(contracts: Pick<Contracts, "receiptSettlement">): ReceiptSettlement {
  if (contracts.receiptSettlement === undefined)
    throw new ConfigError(
      `no "receiptSettlement" address is configured: add the deployment record's receiptSettlement to the config (contracts.receiptSettlement), or redeploy`,
    );
  return contracts.receiptSettlement;
}

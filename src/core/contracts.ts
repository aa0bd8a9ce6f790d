import { Interface, type ContractRunner } from "ethers";
import { JobEscrow__factory } from "../../typechain-types/factories/contracts/escrow/JobEscrow__factory";
import { NodeStaking__factory } from "../../typechain-types/factories/contracts/staking/NodeStaking__factory";
import { ModelRegistry__factory } from "../../typechain-types/factories/contracts/registry/ModelRegistry__factory";
import { TeeVerifier__factory } from "../../typechain-types/factories/contracts/verifiers/TeeVerifier__factory";
import { TestToken__factory } from "../../typechain-types/factories/contracts/mocks/TestToken__factory";
import { ZkInferenceVerifier__factory } from "../../typechain-types/factories/contracts/verifiers/zk/ZkInferenceVerifier__factory";
import { Groth16Verifier__factory } from "../../typechain-types/factories/contracts/verifiers/zk/Groth16Verifier__factory";
import { ExampleConsumer__factory } from "../../typechain-types/factories/contracts/consumer/ExampleConsumer__factory";
import type { JobEscrow } from "../../typechain-types/contracts/escrow/JobEscrow";
import type { NodeStaking } from "../../typechain-types/contracts/staking/NodeStaking";
import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import type { TeeVerifier } from "../../typechain-types/contracts/verifiers/TeeVerifier";
import type { TestToken } from "../../typechain-types/contracts/mocks/TestToken";

/** Addresses of a deployment, as `deployments/<network>.json` records them, plus the block to scan logs from. */
export interface Addresses {
  escrow: string;
  staking: string;
  registry: string;
  teeVerifier: string;
  token: string;
  startBlock: number;
}

export type ContractName = "escrow" | "staking" | "registry" | "teeVerifier" | "token";

export interface Contracts {
  escrow: JobEscrow;
  staking: NodeStaking;
  registry: ModelRegistry;
  teeVerifier: TeeVerifier;
  /** The payment token (an ERC-20; `TestToken` covers its ABI). */
  token: TestToken;
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
  };
}

/** Every ABI whose custom errors may surface from a call into the protocol (verifier errors bubble up through the escrow). */
export const INTERFACES: Record<ContractName, Interface> = {
  escrow: JobEscrow__factory.createInterface() as unknown as Interface,
  staking: NodeStaking__factory.createInterface() as unknown as Interface,
  registry: ModelRegistry__factory.createInterface() as unknown as Interface,
  teeVerifier: TeeVerifier__factory.createInterface() as unknown as Interface,
  token: TestToken__factory.createInterface() as unknown as Interface,
};

/**
 * Every ABI whose custom errors can reach a caller: the contracts above, and those whose errors bubble up through
 * them (the ZK verifier and its Groth16 verifiers, through the escrow; consumer contracts, through a request).
 */
export const ERROR_INTERFACES: readonly Interface[] = [
  ...Object.values(INTERFACES),
  ZkInferenceVerifier__factory.createInterface() as unknown as Interface,
  Groth16Verifier__factory.createInterface() as unknown as Interface,
  ExampleConsumer__factory.createInterface() as unknown as Interface,
];

/** Reads `deployments/<network>.json` (as written by `deploySystem`) into {@link Addresses}. */
export function addressesFromRecord(record: { startBlock: number; contracts: Record<string, { address: string }> }): Addresses {
  const pick = (name: string): string => {
    const address = record.contracts[name]?.address;
    if (address === undefined) throw new Error(`the deployment record has no "${name}" contract`);
    return address;
  };
  return {
    escrow: pick("escrow"),
    staking: pick("staking"),
    registry: pick("registry"),
    teeVerifier: pick("teeVerifier"),
    token: pick("token"),
    startBlock: record.startBlock,
  };
}

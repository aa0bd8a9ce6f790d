/**
 * Deploys the whole protocol: token (a development token on local chains), timelock, registry, staking,
 * escrow, verifiers (with the DCAP quote verifier that enclave registrations go through, rooted at Intel's SGX Root
 * CA, or at the development root on local chains), an example consumer, the privacy registry (relays, gateways and
 * node keys of the private path) and the Privacy Pass escrow (prepaid anonymous tokens of operators' issuer keys), both
 * governed by the timelock from their construction, and the evaluation registry (verified evaluations of model
 * versions on published datasets; no admin), and the subscription manager of recurring verified inference with its
 * two input sources (no admin), and the provider directory (where staked operators announce the libp2p multiaddrs at
 * which they serve model files; no admin), and the receipt settlement of chat (batches of enclave-signed inference
 * receipts, prepaid credit and operators' bonds; no admin); wires them; hands governance to the
 * timelock; and records the result in `deployments/<network>.json`. Re-running it against a network that already has a deployment
 * reuses every contract whose code is still there and redoes only the missing steps.
 *
 * The test fixtures call this same function, so the production deploy path is the tested one.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { keccak256, type Signer } from "ethers";
import {
  DcapVerifier__factory,
  DualInferenceVerifier__factory,
  EvaluationRegistry__factory,
  ExampleConsumer__factory,
  FeedWindowSource__factory,
  Groth16VerifierFactory__factory,
  JobEscrow__factory,
  SettlementLib__factory,
  ModelRegistry__factory,
  NodeStaking__factory,
  PrivacyPassEscrow__factory,
  PrivacyRegistry__factory,
  ProviderDirectory__factory,
  RealizedVolatilitySource__factory,
  ReceiptSettlement__factory,
  SubscriptionManager__factory,
  TeeVerifier__factory,
  ZkInferenceVerifier__factory,
  TestToken__factory,
  TimelockController__factory,
  VanillaVerifier__factory,
  type DcapVerifier,
  type DualInferenceVerifier,
  type EvaluationRegistry,
  type ExampleConsumer,
  type FeedWindowSource,
  type Groth16VerifierFactory,
  type JobEscrow,
  type ModelRegistry,
  type NodeStaking,
  type PrivacyPassEscrow,
  type PrivacyRegistry,
  type ProviderDirectory,
  type RealizedVolatilitySource,
  type SubscriptionManager,
  type TeeVerifier,
  type ZkInferenceVerifier,
  type TestToken,
  type TimelockController,
  type VanillaVerifier,
} from "../typechain-types";
import type { IJobEscrow } from "../typechain-types/contracts/escrow/JobEscrow";
import type { INodeStaking } from "../typechain-types/contracts/staking/NodeStaking";
import type { IPrivacyPassEscrow } from "../typechain-types/contracts/privacy/PrivacyPassEscrow";
import type { IPrivacyRegistry } from "../typechain-types/contracts/privacy/PrivacyRegistry";
import type { IReceiptSettlement, ReceiptSettlement } from "../typechain-types/contracts/chat/ReceiptSettlement";
import type { IDcapVerifier } from "../typechain-types/contracts/verifiers/tee/DcapVerifier";
import { LOCAL_CHAIN_IDS as CORE_LOCAL_CHAIN_IDS } from "../src/core/chains";
import { BaseError } from "../src/core/errors";
import type { ContractName, ContractRecord, Deployment, OptionalContractName } from "../src/core/deployment";
import { Mode } from "../src/core/modes";
import {
  DEVELOPMENT_FMSPC,
  DEVELOPMENT_QE_MRSIGNER,
  developmentRootDer,
  intelRootDer,
  QE_PRODUCT_ID,
  TeeType,
} from "../src/tee";

/** Chains on which a development token may be deployed when no token address is given: core's local chains. */
const LOCAL_CHAIN_IDS = new Set(CORE_LOCAL_CHAIN_IDS.map(BigInt));

export interface DeployOptions {
  /** Address of the ERC-20 used for fees and stake. Required on non-local chains. */
  token?: string;
  /** Receives protocol fees and slash remainders. Defaults to the timelock. */
  treasury?: string;
  /** Can pause new requests. Defaults to the deployer. */
  guardian?: string;
  /** Proposes governance operations to the timelock. Defaults to the deployer. */
  governor?: string;
  /** Timelock delay in seconds. */
  timelockDelay?: number;
  staking?: Partial<INodeStaking.ParametersStruct>;
  escrow?: Partial<IJobEscrow.ParametersStruct>;
  /** The privacy registry's relay bond and unbonding period (default {@link DEFAULT_PRIVACY_PARAMETERS}). */
  privacy?: Partial<IPrivacyRegistry.ParametersStruct>;
  /** The Privacy Pass escrow's issue window (default {@link DEFAULT_PASSES_PARAMETERS}). */
  passes?: Partial<IPrivacyPassEscrow.ParametersStruct>;
  /** The receipt settlement's parameters over {@link DEFAULT_RECEIPT_PARAMETERS}. */
  receipts?: Partial<IReceiptSettlement.ParametersStruct>;
  /** Seconds an enclave registration lasts before it must be renewed (TeeVerifier `maxEnclaveAge`). Default 7 days. */
  maxEnclaveAge?: number;
  /** The DCAP quote verifier's root and initial policy. */
  dcap?: DcapOptions;
  /** Write `deployments/<network>.json` and reuse what it records. Off for the in-process network. */
  persist?: boolean;
  /** Directory of deployment records. */
  deploymentsDir?: string;
  log?: (message: string) => void;
}

/** Minimum TCB of one FMSPC (as `IDcapVerifier.TcbPolicy`; the deployment sets its validity). */
export type TcbMinimum = Omit<IDcapVerifier.TcbPolicyStruct, "validUntil">;

/**
 * The DCAP verifier's root CA and the policy the deployer sets before handing governance to the timelock. Later
 * changes (QE identities, TCB policies as Intel publishes them, certificate revocations) go through the timelock.
 */
export interface DcapOptions {
  /** The root CA certificate (DER). Default: the development root on local chains, Intel's SGX Root CA elsewhere. */
  root?: Uint8Array;
  /**
   * The quoting enclave accepted per TEE type (from Intel's signed QE identity). Default: the development QE on local
   * chains; none elsewhere, so that no quote is accepted until governance transcribes Intel's.
   */
  qeIdentities?: Partial<Record<TeeType, IDcapVerifier.QeIdentityStruct>>;
  /**
   * TCB minimums per FMSPC (12 hex digits, no 0x), in force for `MAX_POLICY_TTL` on local chains and 30 days
   * elsewhere. Default: the development FMSPC with zero minimums on local chains; none elsewhere.
   */
  tcbMinimums?: Record<string, TcbMinimum>;
}

/** Default `maxEnclaveAge`: a week (bounds: 1 hour to 30 days). */
export const DEFAULT_MAX_ENCLAVE_AGE = 7 * 24 * 3600;

export interface System {
  record: Deployment;
  token: TestToken;
  timelock: TimelockController;
  /** Deploys the Groth16 verifiers that ZK model versions may bind (the registry accepts no other). */
  verifierFactory: Groth16VerifierFactory;
  registry: ModelRegistry;
  staking: NodeStaking;
  escrow: JobEscrow;
  vanillaVerifier: VanillaVerifier;
  teeVerifier: TeeVerifier;
  /** Verifies the DCAP quotes enclaves register with (TeeVerifier's `dcapVerifier` parameter). */
  dcapVerifier: DcapVerifier;
  /** Routes ZK claims to each model version's Groth16 verifier (bound in the registry). */
  zkVerifier: ZkInferenceVerifier;
  /**
   * Mode 3 (ZK + TEE): both a proof from `zkVerifier` and a signature of an enclave registered in `teeVerifier`.
   * Found through `escrow.verifierOf(3)`: the deployment record does not list it.
   */
  dualVerifier: DualInferenceVerifier;
  exampleConsumer: ExampleConsumer;
  /** The private path's directory: relays (bonded), TEE operators' OHTTP gateways and nodes' X25519 keys. */
  privacyRegistry: PrivacyRegistry;
  /** Prepaid Privacy Pass tokens (RFC 9578 type 0x0002) of operators' issuer keys: the private path's payment. */
  privacyPassEscrow: PrivacyPassEscrow;
  /** Datasets, evaluation requests and the results attested enclaves sign for them (no admin). */
  evaluationRegistry: EvaluationRegistry;
  /** Subscriptions of recurring verified inference: rounds requested on the escrow, each subscription's feed. */
  subscriptionManager: SubscriptionManager;
  /** Input source: the S&P 500 volatility model's features from an `AggregatorV3Interface` price feed. */
  realizedVolatilitySource: RealizedVolatilitySource;
  /** Input source: the last answers of an `AggregatorV3Interface` feed. */
  feedWindowSource: FeedWindowSource;
  /** Where staked operators announce the libp2p multiaddrs at which they serve model files (no admin). */
  providerDirectory: ProviderDirectory;
  /** Batches of enclave-signed inference receipts, prepaid credit and operators' bonds (no admin). */
  receiptSettlement: ReceiptSettlement;
}

export const DEFAULT_STAKING_PARAMETERS: INodeStaking.ParametersStruct = {
  minimumStake: 100n * 10n ** 18n,
  thawingPeriod: 7 * 24 * 3600,
  maxSlashBps: 10_000,
};

/** A relay bonds 100 tokens (18 decimals) and gets them back a week after unlisting; the same on local chains. */
export const DEFAULT_PRIVACY_PARAMETERS: IPrivacyRegistry.ParametersStruct = {
  relayBond: 100n * 10n ** 18n,
  unbondingPeriod: 7 * 24 * 3600,
};

/** An issuer has a day to acknowledge a purchase (bounds: 1 hour to 7 days); the same on local chains. */
export const DEFAULT_PASSES_PARAMETERS: IPrivacyPassEscrow.ParametersStruct = {
  issueWindow: 24 * 3600,
};

export const DEFAULT_ESCROW_PARAMETERS: IJobEscrow.ParametersStruct = {
  minCollateral: 10n ** 18n,
  protocolFeeBps: 500,
  slashBeneficiaryBps: 5_000,
  minDuration: 30,
  maxDuration: 30 * 24 * 3600,
  revealPeriod: 600,
  maxCallbackGas: 500_000,
  maxCollateralRatio: 20,
  usageFeeFloor: 10n ** 15n,
};

/**
 * Receipt batches can be challenged for 6 hours, receipts must be committed within a day, a pending batch locks a
 * bond of 100 tokens (18 decimals), half of a taken bond rewards its challenger, and asking for a leaf to be opened
 * costs 1 token (paid to whoever opens it).
 */
export const DEFAULT_RECEIPT_PARAMETERS: IReceiptSettlement.ParametersStruct = {
  challengeWindow: 6 * 3600,
  maxReceiptAge: 24 * 3600,
  batchBond: 100n * 10n ** 18n,
  challengerShareBps: 5_000,
  openingFee: 10n ** 18n,
};

/** Raised when a deployment cannot proceed; the message says what to change. */
export class DeployError extends BaseError {
  override readonly name = "DeployError";
}

/** Deploys (or completes) the system on `hre.network`. */
export async function deploySystem(hre: HardhatRuntimeEnvironment, options: DeployOptions = {}): Promise<System> {
  const log = options.log ?? (() => undefined);
  const [deployer] = await hre.ethers.getSigners();
  if (deployer === undefined) {
    throw new DeployError(`network "${hre.network.name}" has no deployer account: set DEPLOYER_KEY`);
  }
  const chainId = (await hre.ethers.provider.getNetwork()).chainId;
  const persist = options.persist ?? hre.network.name !== "hardhat";
  const file = path.join(
    options.deploymentsDir ?? path.join(hre.config.paths.root, "deployments"),
    `${hre.network.name}.json`,
  );
  const previous = persist ? await loadRecord(hre, file, chainId) : undefined;
  const deployerAddress = await deployer.getAddress();
  const guardian = options.guardian ?? deployerAddress;
  const governor = options.governor ?? deployerAddress;
  const contracts = {} as Deployment["contracts"];

  async function ensure(
    name: ContractName | OptionalContractName,
    deploy: () => Promise<{ address: string; args: unknown[]; block: number }>,
  ) {
    const old = previous?.contracts[name];
    if (old !== undefined) {
      log(`reusing ${name} at ${old.address}`);
      contracts[name] = old;
      return old.address;
    }
    const created = await deploy();
    log(`deployed ${name} at ${created.address} (block ${created.block})`);
    contracts[name] = created;
    if (persist) saveRecord(file, record());
    return created.address;
  }

  function record(): Deployment {
    const blocks = Object.values(contracts).map((c) => c.block);
    return {
      network: hre.network.name,
      chainId: Number(chainId),
      startBlock: blocks.length > 0 ? Math.min(...blocks) : 0,
      deployer: deployerAddress,
      contracts,
    };
  }

  const tokenAddress = await ensure("token", async () => {
    if (options.token !== undefined) {
      if (!hre.ethers.isAddress(options.token))
        throw new DeployError(`TOKEN_ADDRESS "${options.token}" is not an address`);
      if ((await hre.ethers.provider.getCode(options.token)) === "0x") {
        throw new DeployError(`TOKEN_ADDRESS ${options.token} has no code on chain ${chainId}`);
      }
      return { address: options.token, args: [], block: await hre.ethers.provider.getBlockNumber() };
    }
    if (!LOCAL_CHAIN_IDS.has(chainId)) {
      throw new DeployError(
        `chain ${chainId} is not a local chain: set TOKEN_ADDRESS to the ERC-20 to use for fees and stake`,
      );
    }
    return deployContract(new TestToken__factory(deployer), []);
  });

  const delay = options.timelockDelay ?? (LOCAL_CHAIN_IDS.has(chainId) ? 60 : 2 * 24 * 3600);
  const timelockAddress = await ensure("timelock", () =>
    deployContract(new TimelockController__factory(deployer), [
      delay,
      [governor],
      [hre.ethers.ZeroAddress],
      hre.ethers.ZeroAddress,
    ]),
  );
  const treasury = options.treasury ?? timelockAddress;
  const factoryAddress = await ensure("verifierFactory", () =>
    deployContract(new Groth16VerifierFactory__factory(deployer), []),
  );
  const registryAddress = await ensure("registry", () =>
    deployContract(new ModelRegistry__factory(deployer), [factoryAddress]),
  );
  const stakingParameters = { ...DEFAULT_STAKING_PARAMETERS, ...options.staking };
  const stakingAddress = await ensure("staking", () =>
    deployContract(new NodeStaking__factory(deployer), [tokenAddress, deployerAddress, stakingParameters]),
  );
  const escrowParameters = { ...DEFAULT_ESCROW_PARAMETERS, ...options.escrow };
  const settlementAddress = await ensure("settlementLib", () =>
    deployContract(new SettlementLib__factory(deployer), []),
  );
  const escrowAddress = await ensure("escrow", () =>
    deployContract(new JobEscrow__factory(escrowLibraries(settlementAddress), deployer), [
      registryAddress,
      stakingAddress,
      treasury,
      deployerAddress,
      escrowParameters,
    ]),
  );
  const vanillaAddress = await ensure("vanillaVerifier", () =>
    deployContract(new VanillaVerifier__factory(deployer), []),
  );
  const teeAddress = await ensure("teeVerifier", () =>
    deployContract(new TeeVerifier__factory(deployer), [registryAddress, deployerAddress]),
  );
  const local = LOCAL_CHAIN_IDS.has(chainId);
  const dcapRoot = options.dcap?.root ?? (local ? developmentRootDer() : intelRootDer());
  const dcapAddress = await ensure("dcapVerifier", () =>
    deployContract(new DcapVerifier__factory(deployer), [deployerAddress, keccak256(dcapRoot)]),
  );
  const zkAddress = await ensure("zkVerifier", () =>
    deployContract(new ZkInferenceVerifier__factory(deployer), [registryAddress]),
  );
  const dualAddress = await ensure("dualVerifier", () =>
    deployContract(new DualInferenceVerifier__factory(deployer), [zkAddress, teeAddress]),
  );
  const consumerAddress = await ensure("exampleConsumer", () =>
    deployContract(new ExampleConsumer__factory(deployer), [escrowAddress, governor]),
  );
  // Last, so that a fresh chain's earlier addresses stay what they were before it existed. Governed by the timelock
  // from the start: the deployer has nothing to set on it.
  const privacyParameters = { ...DEFAULT_PRIVACY_PARAMETERS, ...options.privacy };
  const privacyAddress = await ensure("privacyRegistry", () =>
    deployContract(new PrivacyRegistry__factory(deployer), [
      tokenAddress,
      stakingAddress,
      teeAddress,
      timelockAddress,
      privacyParameters,
    ]),
  );
  // After the privacy registry, for the same reason; paid in NodeStaking's token.
  const passesParameters = { ...DEFAULT_PASSES_PARAMETERS, ...options.passes };
  const passesAddress = await ensure("privacyPassEscrow", () =>
    deployContract(new PrivacyPassEscrow__factory(deployer), [
      tokenAddress,
      stakingAddress,
      timelockAddress,
      passesParameters,
    ]),
  );
  // After the Privacy Pass escrow and before the evaluation registry (which stays last, as its deployment test
  // expects). No admin: nothing to hand over.
  const subscriptionsAddress = await ensure("subscriptionManager", () =>
    deployContract(new SubscriptionManager__factory(deployer), [escrowAddress]),
  );
  const volatilitySourceAddress = await ensure("realizedVolatilitySource", () =>
    deployContract(new RealizedVolatilitySource__factory(deployer), []),
  );
  const windowSourceAddress = await ensure("feedWindowSource", () =>
    deployContract(new FeedWindowSource__factory(deployer), []),
  );

  // After the input sources and before the evaluation registry, for the same reason. No admin: nothing to hand over.
  const directoryAddress = await ensure("providerDirectory", () =>
    deployContract(new ProviderDirectory__factory(deployer), [stakingAddress]),
  );

  // After the provider directory and before the evaluation registry (which stays last, as its deployment test
  // expects); a record from before it gets it on its next run. No admin: nothing to hand over.
  const receiptsAddress = await ensure("receiptSettlement", () =>
    deployContract(new ReceiptSettlement__factory(deployer), [
      tokenAddress,
      teeAddress,
      registryAddress,
      treasury,
      { ...DEFAULT_RECEIPT_PARAMETERS, ...options.receipts },
    ]),
  );

  // After the Privacy Pass escrow (and the subscription manager), for the same reason. It has no admin: nothing to
  // hand over.
  const evaluationAddress = await ensure("evaluationRegistry", () =>
    deployContract(new EvaluationRegistry__factory(deployer), [
      tokenAddress,
      registryAddress,
      teeAddress,
      stakingAddress,
    ]),
  );

  const system: System = {
    record: record(),
    token: TestToken__factory.connect(tokenAddress, deployer),
    timelock: TimelockController__factory.connect(timelockAddress, deployer),
    verifierFactory: Groth16VerifierFactory__factory.connect(factoryAddress, deployer),
    registry: ModelRegistry__factory.connect(registryAddress, deployer),
    staking: NodeStaking__factory.connect(stakingAddress, deployer),
    escrow: JobEscrow__factory.connect(escrowAddress, deployer),
    vanillaVerifier: VanillaVerifier__factory.connect(vanillaAddress, deployer),
    teeVerifier: TeeVerifier__factory.connect(teeAddress, deployer),
    dcapVerifier: DcapVerifier__factory.connect(dcapAddress, deployer),
    zkVerifier: ZkInferenceVerifier__factory.connect(zkAddress, deployer),
    dualVerifier: DualInferenceVerifier__factory.connect(dualAddress, deployer),
    exampleConsumer: ExampleConsumer__factory.connect(consumerAddress, deployer),
    privacyRegistry: PrivacyRegistry__factory.connect(privacyAddress, deployer),
    privacyPassEscrow: PrivacyPassEscrow__factory.connect(passesAddress, deployer),
    evaluationRegistry: EvaluationRegistry__factory.connect(evaluationAddress, deployer),
    subscriptionManager: SubscriptionManager__factory.connect(subscriptionsAddress, deployer),
    realizedVolatilitySource: RealizedVolatilitySource__factory.connect(volatilitySourceAddress, deployer),
    feedWindowSource: FeedWindowSource__factory.connect(windowSourceAddress, deployer),
    providerDirectory: ProviderDirectory__factory.connect(directoryAddress, deployer),
    receiptSettlement: ReceiptSettlement__factory.connect(receiptsAddress, deployer),
  };
  await wire(system, deployer, guardian, log);
  await setUpDcap(
    hre,
    system.dcapVerifier,
    deployer,
    { root: dcapRoot, ...dcapPolicy(options.dcap, local) },
    local,
    log,
  );
  await setUpTee(system, deployer, options.maxEnclaveAge ?? DEFAULT_MAX_ENCLAVE_AGE, log);
  await handOver(system, deployer, log);
  if (persist) saveRecord(file, system.record);
  return system;
}

/** Connects the contracts; each step is skipped when already done, so a re-run is safe. */
async function wire(system: System, deployer: Signer, guardian: string, log: (m: string) => void): Promise<void> {
  const { staking, escrow } = system;
  const escrowAddress = await escrow.getAddress();
  if (!(await staking.stakeLockers()).includes(escrowAddress)) {
    await requireAdmin(staking, deployer, "staking.addStakeLocker(escrow)");
    await (await staking.addStakeLocker(escrowAddress)).wait();
    log("staking: escrow registered as stake locker");
  }
  for (const [mode, verifier] of [
    [Mode.Vanilla, system.vanillaVerifier],
    [Mode.Tee, system.teeVerifier],
    [Mode.Zk, system.zkVerifier],
    [Mode.Dual, system.dualVerifier],
  ] as const) {
    const address = await verifier.getAddress();
    if ((await escrow.verifierOf(mode)) !== address) {
      await requireAdmin(escrow, deployer, `escrow.setVerifier(${mode})`);
      await (await escrow.setVerifier(mode, address)).wait();
      log(`escrow: verifier of mode ${mode} set to ${address}`);
    }
  }
  const pauser = await escrow.PAUSER_ROLE();
  if (!(await escrow.hasRole(pauser, guardian))) {
    await requireAdmin(escrow, deployer, "escrow.grantRole(PAUSER_ROLE, guardian)");
    await (await escrow.grantRole(pauser, guardian)).wait();
    log(`escrow: pauser role granted to ${guardian}`);
  }
}

/** Makes the timelock the only admin of every governed contract. */
async function handOver(system: System, deployer: Signer, log: (m: string) => void): Promise<void> {
  const timelock = await system.timelock.getAddress();
  const me = await deployer.getAddress();
  for (const [name, contract] of [
    ["staking", system.staking],
    ["escrow", system.escrow],
    ["teeVerifier", system.teeVerifier],
    ["dcapVerifier", system.dcapVerifier],
  ] as const) {
    const admin = await contract.DEFAULT_ADMIN_ROLE();
    if (!(await contract.hasRole(admin, timelock))) {
      await (await contract.grantRole(admin, timelock)).wait();
      log(`${name}: admin role granted to the timelock`);
    }
    if (await contract.hasRole(admin, me)) {
      await (await contract.renounceRole(admin, me)).wait();
      log(`${name}: deployer renounced its admin role`);
    }
  }
}

/** The QE identities and TCB minimums to set: the options', or the development ones on local chains. */
function dcapPolicy(options: DcapOptions | undefined, local: boolean): Required<Omit<DcapOptions, "root">> {
  const zero16 = `0x${"00".repeat(16)}`;
  const development = (teeType: TeeType) => ({
    mrSigner: DEVELOPMENT_QE_MRSIGNER,
    isvProdId: QE_PRODUCT_ID[teeType],
    minIsvSvn: 0,
  });
  return {
    qeIdentities:
      options?.qeIdentities ??
      (local ? { [TeeType.Tdx]: development(TeeType.Tdx), [TeeType.Sgx]: development(TeeType.Sgx) } : {}),
    tcbMinimums:
      options?.tcbMinimums ??
      (local ? { [DEVELOPMENT_FMSPC]: { minSgxTcbSvns: zero16, minTdxTcbSvns: zero16, minPceSvn: 0 } } : {}),
  };
}

/**
 * Caches the DCAP verifier's root (anyone may: it checks the self-signature, through the P-256 precompile) and sets
 * the QE identities and TCB minimums that differ from the wanted ones or have lapsed.
 */
async function setUpDcap(
  hre: HardhatRuntimeEnvironment,
  dcap: DcapVerifier,
  deployer: Signer,
  wanted: Required<DcapOptions>,
  local: boolean,
  log: (m: string) => void,
): Promise<void> {
  const root = await dcap.rootCertificate();
  if ((await dcap.certificateOf(root)).notAfter === 0n) {
    try {
      await (await dcap.verifyCertificate(wanted.root, root)).wait();
    } catch (cause) {
      throw new DeployError(
        `dcapVerifier: caching the root CA ${root} failed; the chain needs the P-256 precompile at 0x100 (RIP-7212 / EIP-7951), which Hardhat provides with enableRip7212`,
        { cause },
      );
    }
    log(`dcapVerifier: root CA ${root} cached`);
  }
  for (const [teeType, identity] of Object.entries(wanted.qeIdentities) as unknown as [
    TeeType,
    IDcapVerifier.QeIdentityStruct,
  ][]) {
    const current = await dcap.qeIdentity(teeType);
    const same =
      current.mrSigner.toLowerCase() === String(identity.mrSigner).toLowerCase() &&
      current.isvProdId === BigInt(identity.isvProdId) &&
      current.minIsvSvn === BigInt(identity.minIsvSvn);
    if (same) continue;
    await requireAdmin(dcap, deployer, `dcapVerifier.setQeIdentity(${teeType})`);
    await (await dcap.setQeIdentity(teeType, identity)).wait();
    log(`dcapVerifier: QE identity of TEE type ${teeType} set`);
  }
  const ttl = local ? await dcap.MAX_POLICY_TTL() : 30n * 24n * 3600n;
  for (const [fmspc, minimum] of Object.entries(wanted.tcbMinimums)) {
    const current = await dcap.tcbPolicy(`0x${fmspc}`);
    const now = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
    const same =
      current.minSgxTcbSvns === String(minimum.minSgxTcbSvns).toLowerCase() &&
      current.minTdxTcbSvns === String(minimum.minTdxTcbSvns).toLowerCase() &&
      current.minPceSvn === BigInt(minimum.minPceSvn);
    if (same && current.validUntil > now) continue;
    await requireAdmin(dcap, deployer, `dcapVerifier.setTcbPolicy(${fmspc})`);
    // The policy's validity counts from the next block, whose timestamp is at least `now + 1`.
    await (await dcap.setTcbPolicy(`0x${fmspc}`, { ...minimum, validUntil: now + ttl })).wait();
    log(`dcapVerifier: TCB policy of FMSPC ${fmspc} set`);
  }
}

/** Points TeeVerifier at the DCAP verifier and the staking contract, with `maxEnclaveAge`. */
async function setUpTee(
  system: System,
  deployer: Signer,
  maxEnclaveAge: number,
  log: (m: string) => void,
): Promise<void> {
  const { teeVerifier } = system;
  const wanted = {
    dcapVerifier: await system.dcapVerifier.getAddress(),
    maxEnclaveAge: BigInt(maxEnclaveAge),
    staking: await system.staking.getAddress(),
  };
  const current = await teeVerifier.parameters();
  if (
    current.dcapVerifier === wanted.dcapVerifier &&
    current.maxEnclaveAge === wanted.maxEnclaveAge &&
    current.staking === wanted.staking
  )
    return;
  await requireAdmin(teeVerifier, deployer, "teeVerifier.setParameters");
  await (await teeVerifier.setParameters(wanted)).wait();
  log(`teeVerifier: quote registrations verified by ${wanted.dcapVerifier}, enclaves live ${maxEnclaveAge} s`);
}

interface AdminContract {
  DEFAULT_ADMIN_ROLE(): Promise<string>;
  hasRole(role: string, account: string): Promise<boolean>;
}

async function requireAdmin(contract: AdminContract, deployer: Signer, step: string): Promise<void> {
  const me = await deployer.getAddress();
  if (!(await contract.hasRole(await contract.DEFAULT_ADMIN_ROLE(), me))) {
    throw new DeployError(
      `step "${step}" is missing and the deployer ${me} is no longer admin: propose it through the timelock`,
    );
  }
}

interface Factory {
  deploy(...args: never[]): Promise<{
    waitForDeployment(): Promise<unknown>;
    getAddress(): Promise<string>;
    deploymentTransaction(): { wait(): Promise<{ blockNumber: number } | null> } | null;
  }>;
}

/** The linked libraries of `JobEscrow`, for its TypeChain factory. */
export function escrowLibraries(settlementLib: string): {
  "contracts/libraries/SettlementLib.sol:SettlementLib": string;
} {
  return { "contracts/libraries/SettlementLib.sol:SettlementLib": settlementLib };
}

async function deployContract(factory: Factory, args: unknown[]): Promise<ContractRecord> {
  const contract = await factory.deploy(...(args as never[]));
  const receipt = await contract.deploymentTransaction()?.wait();
  await contract.waitForDeployment();
  return { address: await contract.getAddress(), args: args.map(jsonSafe), block: receipt?.blockNumber ?? 0 };
}

function jsonSafe(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  }
  return value;
}

/** Reads a previous record, keeping only contracts whose code is still on chain. */
async function loadRecord(
  hre: HardhatRuntimeEnvironment,
  file: string,
  chainId: bigint,
): Promise<Deployment | undefined> {
  if (!existsSync(file)) return undefined;
  let record: Deployment;
  try {
    record = JSON.parse(readFileSync(file, "utf8")) as Deployment;
  } catch (cause) {
    throw new DeployError(`${file} is not valid JSON: fix or delete it`, { cause });
  }
  if (BigInt(record.chainId) !== chainId) {
    throw new DeployError(
      `${file} records chain ${record.chainId} but the network is chain ${chainId}: delete it or pick the right network`,
    );
  }
  const live = {} as Deployment["contracts"];
  for (const [name, contract] of Object.entries(record.contracts) as [
    keyof Deployment["contracts"],
    ContractRecord,
  ][]) {
    if ((await hre.ethers.provider.getCode(contract.address)) !== "0x") live[name] = contract;
  }
  return { ...record, contracts: live };
}

function saveRecord(file: string, record: Deployment): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
}

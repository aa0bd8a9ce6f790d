/**
 * What a verification mode is off-chain: one {@link ModeModule} per mode says how a version binds it (registry
 * binding), how a client prepares a request, how a node refuses a job before claiming it and computes it, whether
 * its submissions can be batched, and how a settled result is re-verified. The number, name and label come from
 * the core list (`src/core/modes.ts`); the registry of modules is `src/modes/index.ts`.
 *
 * A module takes what it needs from the process as small interfaces ({@link ModeNode}, {@link ClaimChecks},
 * {@link SettlementContext}): the operator node passes its model loader, enclave and circuit loader, the SDK its
 * contracts and provider.
 */
import type { Provider, TransactionDescription, TransactionResponse, TypedDataDomain } from "ethers";
import type { IModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import type { Contracts } from "../core/contracts";
import type { Job } from "../core/job";
import type { Mode, ModeInfo } from "../core/modes";
import type { InferenceResultMessage } from "../core/tee";
import type { ZkManifest } from "../zkml/package";
import type { CircuitProver } from "../zkml/prover";
import type { QuantizedModel } from "../zkml/quantize";
import type { ContentSource } from "../zkml/verify-version";

/** What binds a mode to a model version, before it is checked (see `IModelRegistry.ModeBinding`). */
export interface BindingSpec {
  /** The mode's verifier contract (ZK: the version's factory-deployed `Groth16Verifier`); none for vanilla and TEE. */
  verifier?: string;
  /** What the verifier accepts (TEE: enclave measurements; ZK: the verifying key hash); none for vanilla. */
  bindings?: readonly string[];
}

/** A request's input as a client gives it. */
export interface RequestInput {
  /** Features of one row. */
  features: number[];
  /** ZK: the quantized model the version's circuit computes, and the salt of the commitment (default random). */
  zk?: { model: QuantizedModel; salt?: bigint };
}

/** A request's input as the escrow takes it. */
export interface PreparedInput {
  input: string | Uint8Array;
  /** `bytes32(0)` when the escrow commits to `keccak256(input)` itself. */
  inputCommitment: string;
  /** ZK: the salt the commitment hides the input with (the requester keeps it to read the result). */
  salt?: bigint;
}

/** A model version's classifier, as a node loads it. */
export interface ModelSource {
  load(modelId: bigint, version: bigint): Promise<{ run(features: number[]): Promise<number[]> }>;
}

/** An enclave's signing key (the development enclave, or a real one). */
export interface EnclaveSigner {
  readonly address: string;
  sign(domain: TypedDataDomain, message: InferenceResultMessage): Promise<string>;
}

/** A model version's circuit, loaded and checked: what a node needs to answer its ZK jobs. */
export interface ZkCircuit {
  manifest: ZkManifest;
  model: QuantizedModel;
  prover: CircuitProver;
}

/**
 * Where a node gets the circuits of versions.
 * A load rejects with a `NotFoundError` when the version cannot be served (a file missing or not matching): the
 * job is refused, not retried.
 */
export interface ZkCircuitSource {
  load(modelId: bigint, version: bigint): Promise<ZkCircuit>;
}

/** What an operator node tells a mode module about itself. */
export interface ModeNode {
  chainId: bigint;
  /** The escrow's address (signed into TEE results). */
  escrow: string;
  /** The node's address. */
  address: string;
  models: ModelSource;
  /** Present when the node serves TEE mode. */
  enclave?: EnclaveSigner;
  /** Present when the node serves ZK mode. */
  zk?: ZkCircuitSource;
}

/** What a node needs, besides models, to serve a mode: `ModeNode` fields the daemon sets up for it. */
export type ModeNeed = "enclave" | "zk";

/** TeeVerifier's record of an enclave key as a node reads it before a claim, with the chain's clock. */
export interface EnclaveReading {
  /** The operator it is registered to (the zero address when it is not registered). */
  operator: string;
  /** When its registration ends: it serves while `block.timestamp < expiresAt`. */
  expiresAt: bigint;
  revoked: boolean;
  /** The measurement its registration records. */
  measurement: string;
  /** When that measurement was revoked (`TeeVerifier.measurementRevokedAt`), zero if it is not. */
  measurementRevokedAt: bigint;
  /** The latest block's timestamp when this was read. */
  now: bigint;
}

/**
 * What a node knows about the job it considers claiming: the job, and the chain reads a mode asks for (the caller
 * caches them). The node builds one per job.
 */
export interface ClaimChecks {
  /** The job being considered. */
  readonly job: Job;
  /** TeeVerifier's record of `enclave` (this node's enclave key). */
  enclave(enclave: string): Promise<EnclaveReading>;
  /** Whether the model version binds `binding` (an enclave measurement, a key hash) to `mode` (`ModelRegistry.isBound`). */
  isBound(modelId: bigint, version: bigint, mode: Mode, binding: string): Promise<boolean>;
}

/** What a node submits for a job: the output and the verifier's proof (`0x` when none). */
export interface ModeResult {
  output: string;
  proof: string;
}

/** The settlement of a job, as `verifyResult` found it, for a mode to re-verify. */
export interface SettlementContext {
  contracts: Contracts;
  provider: Provider;
  job: Job;
  /** The transaction that settled the job (a direct call to the escrow, one of the mode's `settlingCalls`). */
  tx: TransactionResponse;
  /** Its decoded call. */
  call: TransactionDescription;
  /** The settled output's hash (`resultOf`). */
  outputHash: string;
  /** The block of the `JobSettled` event. */
  blockNumber: number;
  /** Where the version's files are read by CID (ZK: to rebuild the circuit). */
  content?: ContentSource;
  /** Records one check of the report. */
  check(name: string, ok: boolean, detail: string): void;
}

/** TEE: the enclave that signed a settled result, as TeeVerifier recorded it at the settlement block. */
export interface SettledEnclave {
  /** The key the result's signature recovers to. */
  signer: string;
  /** The operator it was registered to. */
  operator: string;
  measurement: string;
  /** When its registration ended (or ends): it served while `block.timestamp < expiresAt`. */
  expiresAt: bigint;
  revoked: boolean;
  /** When its measurement was revoked, zero if it was not (at the settlement block). */
  measurementRevokedAt: bigint;
  /** Its X25519 HPKE key (RFC 9180), which its quote bound. */
  hpkePublicKey: string;
  /** The settlement block and its timestamp, as of which all of the above was read. */
  block: number;
  timestamp: bigint;
}

/** What a mode's re-verification reports besides its checks. */
export interface ModeVerification {
  enclave?: SettledEnclave;
  zk?: { verifier: string; vkHash: string; packedOutput: string; compileSeconds?: number; zkeyVerifySeconds?: number };
}

/** One verification mode, off-chain. */
export interface ModeModule extends ModeInfo {
  /**
   * The registry binding of a version serving this mode, checked as `ModelRegistry` checks it.
   * @throws InputError naming the bad verifier or binding.
   */
  binding(spec: BindingSpec): IModelRegistry.ModeBindingStruct;
  /** Why a job of this mode cannot take `redundancy` nodes, or undefined (clients before a request, nodes before a claim). */
  redundancyRefusal(redundancy: bigint | number): string | undefined;
  /**
   * The input and commitment a client sends to the escrow.
   * @throws InputError when the input cannot be committed for this mode.
   */
  prepareInput(request: RequestInput): PreparedInput;
  /** What the node must have set up to serve this mode. */
  readonly needs: readonly ModeNeed[];
  /**
   * Why this node is not ready to take `checks.job` now (TEE: no enclave, or one that cannot settle this job: not
   * registered to the node, revoked, expiring before the job's deadline, its measurement revoked or not bound by the
   * job's version), or undefined.
   */
  readiness(node: ModeNode, checks: ClaimChecks): Promise<string | undefined>;
  /** Why `input` can never be computed for `job`, or undefined: checked before a claim, so a node refuses instead of failing. */
  inputRefusal(job: Job, input: string, node: ModeNode): Promise<string | undefined>;
  /**
   * Computes the job's output and proof.
   * @throws InputError when the input can never be computed; ModeNotServedError when the node lacks what the mode needs.
   */
  compute(job: Job, input: string, node: ModeNode): Promise<ModeResult>;
  /** Whether a node may settle several jobs of this mode in one `submitBatch`. */
  readonly batchable: boolean;
  /** The escrow calls whose calldata carries the proof a settlement is re-verified from; empty when there is none. */
  readonly settlingCalls: readonly string[];
  /** Re-verifies a settled job from its settling call (present when `settlingCalls` is not empty). */
  verifySettlement?(settlement: SettlementContext): Promise<ModeVerification>;
}

/** A job as the escrow records it: its terms, their hash, the events that carry them, and the commitments of its results. */
import { AbiCoder, getBytes, hexlify, keccak256, randomBytes, type Log, type TransactionReceipt } from "ethers";
import { InputError } from "./errors";
import type { IJobEscrow, JobEscrow } from "../../typechain-types/contracts/escrow/JobEscrow";

/** Job status, as `IJobEscrow.JobStatus`. */
export const JobStatus = { None: 0, Open: 1, Settled: 2, Refunded: 3 } as const;
/** Slot phase, as `IJobEscrow.SlotPhase`. */
export const SlotPhase = { None: 0, Claimed: 1, Committed: 2, Revealed: 3 } as const;
/** Refund reason, as `IJobEscrow.RefundReason`. */
export const RefundReason = { Expired: 0, NoMajority: 1 } as const;

/** A job's terms as the escrow hashes them (`IJobEscrow.Job`), with plain TypeScript values. */
export interface Job {
  id: bigint;
  requester: string;
  modelId: bigint;
  version: bigint;
  mode: bigint;
  redundancy: bigint;
  deadline: bigint;
  revealDeadline: bigint;
  inputHash: string;
  modelOwner: string;
  verifier: string;
  modelFee: bigint;
  feePerNode: bigint;
  protocolFee: bigint;
  collateral: bigint;
  callback: string;
  callbackGasLimit: bigint;
  slashBeneficiaryBps: bigint;
}

/** A `JobRequested` event, decoded. */
export interface RequestedJob {
  job: Job;
  input: string;
  inputUri: string;
}

/** Converts the decoded `Job` tuple of an event or call into plain values. */
export function toJob(value: IJobEscrow.JobStructOutput): Job {
  return {
    id: value.id,
    requester: value.requester,
    modelId: value.modelId,
    version: value.version,
    mode: value.mode,
    redundancy: value.redundancy,
    deadline: value.deadline,
    revealDeadline: value.revealDeadline,
    inputHash: value.inputHash,
    modelOwner: value.modelOwner,
    verifier: value.verifier,
    modelFee: value.modelFee,
    feePerNode: value.feePerNode,
    protocolFee: value.protocolFee,
    collateral: value.collateral,
    callback: value.callback,
    callbackGasLimit: value.callbackGasLimit,
    slashBeneficiaryBps: value.slashBeneficiaryBps,
  };
}

/** Everything a job escrows: model price, every node's fee and the protocol fee. */
export function jobTotal(job: Job): bigint {
  return job.modelFee + job.feePerNode * job.redundancy + job.protocolFee;
}

/** Finds and decodes every `JobRequested` event in a receipt. */
export function requestedJobs(escrow: JobEscrow, receipt: TransactionReceipt | null): RequestedJob[] {
  if (receipt === null) return [];
  const jobs: RequestedJob[] = [];
  for (const log of receipt.logs as Log[]) {
    const parsed = escrow.interface.parseLog(log);
    if (parsed?.name !== "JobRequested") continue;
    jobs.push({
      job: toJob(parsed.args.job as IJobEscrow.JobStructOutput),
      input: parsed.args.input as string,
      inputUri: parsed.args.inputUri as string,
    });
  }
  return jobs;
}

const JOB_TUPLE =
  "tuple(uint64 id,address requester,uint64 modelId,uint32 version,uint8 mode,uint8 redundancy,uint64 deadline,uint64 revealDeadline,bytes32 inputHash,address modelOwner,address verifier,uint96 modelFee,uint96 feePerNode,uint96 protocolFee,uint96 collateral,address callback,uint32 callbackGasLimit,uint16 slashBeneficiaryBps)";

/** The hash under which the escrow stores a job's terms (`keccak256(abi.encode(job))`). */
export function hashJob(job: Job): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode([JOB_TUPLE], [job]));
}

/** The commitment a node sends for a redundant job: `keccak256(abi.encode(jobId, node, keccak256(output), salt))`. */
export function resultCommitment(jobId: bigint, node: string, output: string | Uint8Array, salt: string): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["uint64", "address", "bytes32", "bytes32"],
      [jobId, node, keccak256(output), salt],
    ),
  );
}

/**
 * Decodes an inline input written by {@link encodeInput} (a JSON array of finite numbers) or by
 * {@link encodeSaltedInput} (`{"x": [...], "salt": "0x<32 bytes>"}`, whose keccak256 an observer cannot guess).
 */
export function decodeInput(input: string): number[] {
  const text = new TextDecoder().decode(getBytes(input));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InputError(`the input is not JSON: ${text.slice(0, 80)}`, { cause });
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const { x, salt } = value as { x?: unknown; salt?: unknown };
    if (typeof salt !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(salt))
      throw new InputError(`a salted input must carry "salt" as 32 bytes of 0x hex, got ${text.slice(0, 80)}`);
    value = x;
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "number" && Number.isFinite(v))) {
    throw new InputError(`the input must be a non-empty JSON array of numbers, got ${text.slice(0, 80)}`);
  }
  return value as number[];
}

/**
 * Encodes features with a random 32-byte salt (UTF-8 JSON `{"x": [...], "salt": "0x..."}`): the plaintext of a
 * sealed input, so that its keccak256 commitment, public in `JobRequested`, cannot be confirmed by guessing the
 * features.
 */
export function encodeSaltedInput(features: number[], salt: string = hexlify(randomBytes(32))): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ x: features, salt }));
}

/** Encodes features as the inline input of a job (UTF-8 JSON). */
export function encodeInput(features: number[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(features));
}

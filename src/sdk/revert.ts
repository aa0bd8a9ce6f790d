import { isError, type ErrorDescription } from "ethers";
import { ERROR_INTERFACES, type ContractName } from "./contracts";
import { ContractError, RpcError, VinError } from "./errors";

/** Where a failing call was made, for the error message. */
export interface CallContext {
  contract: ContractName;
  call: string;
  jobId?: bigint;
}

/** What the operator should do about the errors a user can fix. */
const HINTS: Record<string, string> = {
  NodeStakingInsufficientStake: "stake more with `vin stake <amount>` or wait for locked collateral to be released",
  JobEscrowInsufficientStake: "stake more with `vin stake <amount>`",
  NodeStakingBelowMinimumStake: "stake at least the minimum with `vin stake <amount>` before `vin register`",
  NodeStakingStillThawing: "wait until the thawing period ends, then `vin withdraw`",
  NodeStakingNothingThawing: "start a withdrawal with `vin unstake <amount>` first",
  JobEscrowNothingToClaim: "nothing to claim yet",
  JobEscrowNodeIneligible: "register the job's mode with `vin register --modes ...` and keep at least the minimum stake",
  ModelRegistryUnknownModel: "check the model id (`vin job`/the hub lists published models)",
  ModelRegistryUnknownVersion: "check the version; omit `@version` to use the latest",
  ModelRegistryVersionDeprecated: "use a newer version of the model",
  ModelRegistryModeNotSupported: "pick a mode the model version supports",
  JobEscrowInsufficientFee: "raise the fee or the allowance",
  JobEscrowInvalidRedundancy: "use an odd number of nodes from 1 to 7",
  JobEscrowInvalidCollateral: "keep the collateral between the escrow's minimum and the node fee times maxCollateralRatio: lower the collateral or raise the fee",
  JobEscrowInvalidCallback: "a callback must be the requester itself: have the consumer contract request the job (InferenceConsumerBase._requestInference)",
  ZkInferenceVerifierRedundancyUnsupported: "request ZK jobs with redundancy 1: the proof settles the answer",
  ZkInferenceVerifierCommitmentOutOfRange: "commit the input as the SDK does for ZK jobs (the low 200 bits of the circuit's Poseidon commitment)",
  ModelRegistryVerifierKeyMismatch: "deploy the version's verifier through the registry's verifier factory with the key whose hash you bind",
  ERC20InsufficientBalance: "fund the account with the payment token",
  ERC20InsufficientAllowance: "approve the contract to spend the payment token",
};

/** Finds revert data in whatever ethers (or a JSON-RPC node) threw. */
export function revertDataOf(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const visit = (value: unknown): string | undefined => {
    if (value === null || typeof value !== "object" || seen.has(value)) return undefined;
    seen.add(value);
    const record = value as Record<string, unknown>;
    if (typeof record.data === "string" && /^0x[0-9a-fA-F]{8}/.test(record.data)) return record.data;
    for (const key of ["error", "info", "cause", "data", "payload"]) {
      const found = visit(record[key]);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return visit(error);
}

/** Decodes revert data against every protocol ABI. */
export function decodeRevert(data: string): ErrorDescription | undefined {
  for (const iface of ERROR_INTERFACES) {
    try {
      const parsed = iface.parseError(data);
      if (parsed !== null) return parsed;
    } catch {
      /* not this ABI */
    }
  }
  return undefined;
}

/** Renders a decoded error as `Name(arg=value, ...)`. */
export function formatDecoded(decoded: ErrorDescription): string {
  const args = decoded.fragment.inputs.map((input, i) => `${input.name}=${String(decoded.args[i])}`);
  return `${decoded.name}(${args.join(", ")})`;
}

/** Whether an error is a transport problem (unreachable, timeout) rather than a revert. */
export function isTransportError(error: unknown): boolean {
  if (error instanceof RpcError) return true;
  if (error instanceof VinError) return false;
  if (revertDataOf(error) !== undefined) return false;
  if (isError(error, "CALL_EXCEPTION")) return false;
  const text = String((error as { message?: unknown })?.message ?? error) + String((error as { code?: unknown })?.code ?? "");
  return /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|socket hang up|timeout|TIMEOUT|NETWORK_ERROR|SERVER_ERROR|fetch failed|other side closed|network/i.test(text);
}

/**
 * Turns what a contract call threw into a {@link ContractError} naming the contract, the call, the job and the
 * decoded custom error; transport failures become {@link RpcError}.
 * @example try { await escrow.claimSlot(job) } catch (e) { throw asContractError(e, { contract: "escrow", call: "claimSlot", jobId: job.id }) }
 */
export function asContractError(error: unknown, context: CallContext): VinError {
  if (error instanceof VinError) return error;
  const where = `${context.contract}.${context.call}${context.jobId === undefined ? "" : `(job ${context.jobId})`}`;
  const data = revertDataOf(error);
  if (data === undefined) {
    if (isTransportError(error)) return new RpcError(`${where} failed: the RPC endpoint did not answer (${shortMessage(error)})`, { cause: error });
    return new ContractError(`${where} reverted: ${shortMessage(error)}`, undefined, {}, { cause: error, details: { ...context } });
  }
  const decoded = decodeRevert(data);
  if (decoded === undefined) return new ContractError(`${where} reverted with unknown data ${data.slice(0, 74)}`, undefined, {}, { cause: error, details: { data } });
  const args = Object.fromEntries(decoded.fragment.inputs.map((input, i) => [input.name, decoded.args[i] as unknown]));
  const hint = HINTS[decoded.name];
  return new ContractError(`${where} reverted with ${formatDecoded(decoded)}${hint === undefined ? "" : `: ${hint}`}`, decoded.name, args, {
    cause: error,
    details: { ...context, data },
  });
}

function shortMessage(error: unknown): string {
  const e = error as { shortMessage?: unknown; message?: unknown };
  return String(e?.shortMessage ?? e?.message ?? error).split("\n")[0]!;
}

/**
 * One revert decoder over every ABI the system deploys: a custom error raised anywhere in the protocol — the
 * escrow, staking, the registry, each verifier (their errors bubble up through the escrow), the verifier factory,
 * the privacy registry, the Privacy Pass escrow, the provider directory, the evaluation registry, the subscription manager, its feeds and input
 * sources, consumer contracts and the token — is decoded into a {@link RevertError} naming the contract, the call, the job
 * and the error with its arguments, with a hint where the user can fix it.
 */
import { Interface, isError, type ErrorDescription } from "ethers";
import {
  DcapVerifier__factory,
  DualInferenceVerifier__factory,
  EvaluationRegistry__factory,
  ExampleConsumer__factory,
  FeedConsumerExample__factory,
  FeedWindowSource__factory,
  Groth16VerifierFactory__factory,
  Groth16SlotVerifier__factory,
  Groth16Verifier__factory,
  JobEscrow__factory,
  ModelRegistry__factory,
  NodeStaking__factory,
  PrivacyPassEscrow__factory,
  PrivacyRegistry__factory,
  ProviderDirectory__factory,
  RealizedVolatilitySource__factory,
  ReceiptSettlement__factory,
  RoundInputEncoder__factory,
  SubscriptionFeed__factory,
  SubscriptionManager__factory,
  TeeVerifier__factory,
  TestToken__factory,
  VanillaVerifier__factory,
  VolatilityRiskVault__factory,
  ZkInferenceVerifier__factory,
} from "../../typechain-types";
import { BaseError, RevertError, TransportError } from "./errors";
import { isTransportError, revertDataOf } from "./transport";

export { revertDataOf };

/** Every ABI whose custom errors can reach a caller. */
const INTERFACES: readonly Interface[] = [
  JobEscrow__factory,
  NodeStaking__factory,
  ModelRegistry__factory,
  TeeVerifier__factory,
  DcapVerifier__factory,
  DualInferenceVerifier__factory,
  VanillaVerifier__factory,
  ZkInferenceVerifier__factory,
  Groth16Verifier__factory,
  Groth16SlotVerifier__factory,
  Groth16VerifierFactory__factory,
  PrivacyRegistry__factory,
  PrivacyPassEscrow__factory,
  ProviderDirectory__factory,
  ReceiptSettlement__factory,
  EvaluationRegistry__factory,
  SubscriptionManager__factory,
  SubscriptionFeed__factory,
  RealizedVolatilitySource__factory,
  FeedWindowSource__factory,
  RoundInputEncoder__factory,
  ExampleConsumer__factory,
  FeedConsumerExample__factory,
  VolatilityRiskVault__factory,
  TestToken__factory,
].map((factory) => factory.createInterface() as unknown as Interface);

/** Where a failing call was made, for the message. */
export interface CallContext {
  /** The contract, as the deployment names it (`escrow`, `staking`, `registry`, `token`, ...). */
  contract: string;
  call: string;
  jobId?: bigint;
}

/** What the user should do about the errors a user can fix. */
const HINTS: Record<string, string> = {
  SubscriptionManagerRoundNotDue: "wait until the round is due (`vin feed <address>` shows the next round)",
  SubscriptionManagerRoundStarted: "this round was started already; the next one starts when it is due",
  SubscriptionManagerEnded:
    "the subscription's last round has passed: withdraw what is left with `vin subscribe withdraw`",
  SubscriptionManagerInsufficientBalance: "top the subscription up with `vin subscribe top-up <id> <amount>`",
  SubscriptionManagerCostAboveMax: "the model's price rose: subscribe again with a higher --max-job-cost",
  SubscriptionManagerStillRunning: "cancel the subscription first (`vin subscribe cancel <id>`), or wait for its end",
  SubscriptionManagerInputMissing: "post the round's input first (`postInput`: commitment and URI)",
  InputSourceStale: "the price feed has no recent answer before the round's due time: the round cannot start",
  InputSourceHistoryTooShort: "the price feed does not have enough rounds yet for this input source",
  NodeStakingInsufficientStake: "stake more with `vin stake <amount>` or wait for locked collateral to be released",
  JobEscrowInsufficientStake: "stake more with `vin stake <amount>`",
  NodeStakingBelowMinimumStake: "stake at least the minimum with `vin stake <amount>` before `vin register`",
  NodeStakingStillThawing: "wait until the thawing period ends, then `vin withdraw`",
  NodeStakingNothingThawing: "start a withdrawal with `vin unstake <amount>` first",
  JobEscrowNothingToClaim: "nothing to claim yet",
  JobEscrowNodeIneligible:
    "register the job's mode with `vin register --modes ...` and keep at least the minimum stake",
  ModelRegistryUnknownModel: "check the model id (the hub lists published models)",
  ModelRegistryUnknownVersion: "check the version; omit `@version` to use the latest",
  ModelRegistryVersionDeprecated: "use a newer version of the model",
  ModelRegistryModeNotSupported: "pick a mode the model version supports",
  JobEscrowInsufficientFee: "raise the fee or the allowance",
  JobEscrowInvalidRedundancy: "use an odd number of nodes from 1 to 7",
  JobEscrowInvalidCollateral:
    "keep the collateral between the escrow's minimum and the node fee times maxCollateralRatio: lower the collateral or raise the fee",
  JobEscrowInvalidCallback:
    "a callback must be the requester itself: have the consumer contract request the job (InferenceConsumerBase._requestInference)",
  ZkInferenceVerifierRedundancyUnsupported: "request ZK jobs with redundancy 1: the proof settles the answer",
  ZkInferenceVerifierCommitmentOutOfRange:
    "commit the input as the SDK does for ZK jobs (the low 200 bits of the circuit's Poseidon commitment)",
  ModelRegistryVerifierKeyMismatch:
    "deploy the version's verifier through the registry's verifier factory with the key whose hash you bind",
  ERC20InsufficientBalance: "fund the account with the payment token (on a local chain: `vin faucet`)",
  ERC20InsufficientAllowance: "approve the contract to spend the payment token",
  PrivacyPassEscrowUnregisteredOperator:
    "register as an operator (`vin stake <amount>`, then `vin register`) before registering an issuer key",
  PrivacyPassEscrowCostAboveMax: "raise maxCost to the key's price times the number of tokens",
  PrivacyPassEscrowIssueWindowOpen: "a purchase can be refunded only from its issueBy on, if still unacknowledged",
  PrivacyPassEscrowIssuerExists: "the key is registered already: generate a new issuer key (a new price is a new key)",
  EvaluationRegistryTeeNotSupported: "evaluations are made by enclaves: pick a version that supports TEE mode",
  EvaluationRegistryUnknownDataset: "list the datasets with `vin eval datasets`",
  EvaluationRegistryInvalidDeadline: "give a deadline between 1 minute and 30 days from now",
  EvaluationRegistryNotExpired: "a request can be refunded only after its deadline",
  EvaluationRegistryNothingToWithdraw: "nothing to withdraw yet",
  EvaluationRegistryBaselineMismatch:
    "the dataset declares another baseline value than its rows give: it can never be evaluated; register a corrected dataset",
};

/** Decodes revert data against every protocol ABI. */
export function decodeRevert(data: string): ErrorDescription | undefined {
  for (const iface of INTERFACES) {
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

/**
 * Turns what a contract call threw into a {@link RevertError} naming the contract, the call, the job and the decoded
 * custom error (with a hint when the user can fix it); transport failures become {@link TransportError}; errors of
 * this hierarchy pass through.
 * @example try { await escrow.claimSlot(job) } catch (e) { throw asRevertError(e, { contract: "escrow", call: "claimSlot", jobId: job.id }) }
 */
export function asRevertError(error: unknown, context: CallContext): BaseError {
  if (error instanceof BaseError) return error;
  const where = `${context.contract}.${context.call}${context.jobId === undefined ? "" : `(job ${context.jobId})`}`;
  const data = revertDataOf(error);
  if (data === undefined) {
    if (isTransportError(error))
      return new TransportError(`${where} failed: the RPC endpoint did not answer (${shortMessageOf(error)})`, {
        cause: error,
        context: { ...context },
      });
    if (isError(error, "CALL_EXCEPTION") || /revert/i.test(shortMessageOf(error))) {
      return new RevertError(
        `${where} reverted: ${shortMessageOf(error)}`,
        undefined,
        {},
        { cause: error, context: { ...context } },
      );
    }
    return new BaseError(`${where} failed: ${shortMessageOf(error)}`, { cause: error, context: { ...context } });
  }
  const decoded = decodeRevert(data);
  if (decoded === undefined)
    return new RevertError(
      `${where} reverted with unknown data ${data.slice(0, 74)}`,
      undefined,
      {},
      { cause: error, context: { ...context, data } },
    );
  const args = Object.fromEntries(decoded.fragment.inputs.map((input, i) => [input.name, decoded.args[i] as unknown]));
  const hint = HINTS[decoded.name];
  return new RevertError(
    `${where} reverted with ${formatDecoded(decoded)}${hint === undefined ? "" : `: ${hint}`}`,
    decoded.name,
    args,
    {
      cause: error,
      context: { ...context, data },
    },
  );
}

/** The first line of what ethers (or anything) says about `error`. */
export function shortMessageOf(error: unknown): string {
  const e = error as { shortMessage?: unknown; message?: unknown };
  return String(e?.shortMessage ?? e?.message ?? error).split("\n")[0]!;
}

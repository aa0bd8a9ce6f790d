/**
 * Subscriptions from a dApp's side: `createSubscription` funds a schedule of rounds of one model version in one mode
 * (`ISubscriptionManager.subscribe`); the rounds then run without the subscriber (keepers start them, nodes serve
 * them) and publish to the subscription's `AggregatorV3Interface` feed (`readFeed` in core reads it).
 */
import { ZeroAddress, type ContractTransactionReceipt, type ContractTransactionResponse, type Signer } from "ethers";
import { requireSubscriptionManager, type Contracts } from "../core/contracts";
import { InputError } from "../core/errors";
import type { ModelId } from "../core/ids";
import { Mode } from "../core/modes";
import { withRetry } from "../core/retry";
import { asRevertError } from "../core/revert";
import { AnswerKind, parseSubscriptionCreated, type SubscriptionInfo } from "../core/subscription";

/** Parameters of {@link createSubscription}. */
export interface CreateSubscriptionParams {
  contracts: Contracts;
  signer: Signer;
  modelId: ModelId;
  /** Model version; default the latest published. */
  version?: number;
  mode: Mode;
  /** Nodes per round: odd, 1 to 7 (1 for ZK and dual). Default 1. */
  redundancy?: number;
  feePerNode: bigint;
  collateral: bigint;
  /** Paid per round to whoever starts it. Default 0.01 token. */
  keeperReward?: bigint;
  /** The most one round's job may cost. Default twice the current quote (a price rise beyond stops the rounds). */
  maxJobCost?: bigint;
  /** Unix time round 0 is due. Default now. */
  startTime?: bigint;
  /** Seconds between rounds. */
  period: number;
  /** The number of rounds; or give `endTime`. */
  rounds?: number;
  /** Unix time before which the last round is due (instead of `rounds`). */
  endTime?: bigint;
  /** Seconds nodes get per round. Default 600. */
  roundDuration?: number;
  /** A regressor's value (default) or a classifier's class index. */
  answerKind?: AnswerKind;
  /** ZK and dual modes: the version's circuit's scale and input width (from its quantized model). */
  zk?: { scaleBits: number; inputBits: number };
  /** Where every round's input comes from: an input source contract and its arguments, or posted per round. */
  input: { source: string; args: string } | "posted";
  /** The feed's description (at most 128 bytes). */
  description?: string;
}

const TOKEN = 10n ** 18n;

/**
 * Creates and funds a subscription: quotes a round, approves the manager for `rounds x (quote + keeper reward)` if
 * needed, subscribes and returns the subscription as its `SubscriptionCreated` event records it (its feed included).
 * @throws InputError for a mode without circuit parameters, or a schedule given twice or not at all; RevertError
 * naming the manager's error (a period out of bounds, a mode disabled, ...).
 * @example const sub = await createSubscription({ contracts, signer, modelId: toModelId(4), mode: Mode.Tee, feePerNode: 10n ** 17n, collateral: 10n ** 18n, period: 3600, rounds: 24, input: { source, args } });
 */
export async function createSubscription(params: CreateSubscriptionParams): Promise<SubscriptionInfo> {
  const { contracts, signer, mode } = params;
  const manager = requireSubscriptionManager(contracts).connect(signer);
  if ((params.rounds === undefined) === (params.endTime === undefined))
    throw new InputError("give the number of rounds or an end time, not both");
  const zkMode = mode === Mode.Zk || mode === Mode.Dual;
  if (zkMode && params.zk === undefined)
    throw new InputError(
      "a ZK subscription needs its circuit's scale and input width: pass the version's quantized model (vin pull it, --model-dir)",
    );
  const version =
    params.version ??
    Number(await withRetry("registry.versionCount", () => contracts.registry.versionCount(params.modelId)));
  const redundancy = params.redundancy ?? 1;
  const [jobCost] = await withRetry("escrow.quote", () =>
    contracts.escrow.quote(params.modelId, version, mode, redundancy, params.feePerNode),
  ).catch((error: unknown) => {
    throw asRevertError(error, { contract: "escrow", call: "quote" });
  });
  const keeperReward = params.keeperReward ?? TOKEN / 100n;
  const now = BigInt((await withRetry("eth_getBlock", () => signer.provider!.getBlock("latest")))!.timestamp);
  const startTime = params.startTime ?? 0n;
  const rounds =
    params.rounds ??
    Number(
      (params.endTime! - (startTime === 0n ? now : startTime) + BigInt(params.period) - 1n) / BigInt(params.period),
    );
  // With an end time the manager counts the rounds from the block that includes the call: allow one more round.
  const funding = BigInt(Math.max(rounds, 0) + (params.endTime === undefined ? 0 : 1)) * (jobCost + keeperReward);
  const owner = await signer.getAddress();
  const managerAddress = await manager.getAddress();
  const allowance = await withRetry("token.allowance", () => contracts.token.allowance(owner, managerAddress));
  if (allowance < funding) {
    await call("approve", () => contracts.token.connect(signer).approve(managerAddress, funding), "token");
  }
  const receipt = await call("subscribe", () =>
    manager.subscribe({
      modelId: params.modelId,
      version,
      mode,
      redundancy,
      feePerNode: params.feePerNode,
      collateral: params.collateral,
      keeperReward,
      maxJobCost: params.maxJobCost ?? jobCost * 2n,
      startTime,
      period: params.period,
      rounds: params.rounds ?? 0,
      endTime: params.endTime ?? 0n,
      roundDuration: params.roundDuration ?? 600,
      answerKind: params.answerKind ?? AnswerKind.Value,
      zkScaleBits: params.zk?.scaleBits ?? 0,
      zkInputBits: params.zk?.inputBits ?? 0,
      inputSource: params.input === "posted" ? ZeroAddress : params.input.source,
      inputArgs: params.input === "posted" ? "0x" : params.input.args,
      description: params.description ?? "",
    }),
  );
  const info = receipt.logs.map((log) => parseSubscriptionCreated(manager, log)).find((i) => i !== undefined);
  if (info === undefined) throw new InputError(`subscribe ${receipt.hash} emitted no SubscriptionCreated`);
  return info;
}

/** Sends a transaction and waits for its receipt; a revert becomes a RevertError naming the contract's error. */
async function call(
  what: string,
  send: () => Promise<ContractTransactionResponse>,
  contract = "subscriptionManager",
): Promise<ContractTransactionReceipt> {
  try {
    const receipt = await (await send()).wait();
    if (receipt === null) throw new InputError(`${what}: no receipt`);
    return receipt;
  } catch (error) {
    throw asRevertError(error, { contract, call: what });
  }
}

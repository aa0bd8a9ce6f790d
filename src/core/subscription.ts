/**
 * Subscriptions of recurring verified inference (`ISubscriptionManager`): the values the contracts use, the input a
 * round's job carries (so anyone can recompute it from the values the chain holds), the arguments of the bundled
 * input sources, and a subscription as its `SubscriptionCreated` event records it. The node, the CLI, the devnet
 * and the hub read subscriptions through here.
 */
import { AbiCoder, getAddress, hexlify, isAddress, toUtf8Bytes, type Log, type Provider } from "ethers";
import { InputError } from "./errors";
import { getLogsChunked } from "./logs";
import type { Mode } from "./modes";
import type { RetryOptions } from "./retry";
import type { SubscriptionManager } from "../../typechain-types/contracts/subscriptions/SubscriptionManager";

/** `ISubscriptionManager.Status`. */
export const SubscriptionStatus = { None: 0, Active: 1, Cancelled: 2 } as const;
/** `ISubscriptionManager.AnswerKind`: a regressor's value (4 decimals) or a classifier's class index. */
export const AnswerKind = { Value: 0, Label: 1 } as const;
export type AnswerKind = (typeof AnswerKind)[keyof typeof AnswerKind];
/** Decimals of a `Value` answer (vanilla and TEE outputs carry values in units of 10^-4). */
export const VALUE_DECIMALS = 4;
/** `RoundInputLib.MAX_FRACTION_BITS`. */
export const MAX_FRACTION_BITS = 32;
/** `RoundInputLib.MAX_JSON_VALUE`: the largest magnitude a double holds exactly. */
export const MAX_JSON_VALUE = (1n << 53n) - 1n;

/**
 * `v / 2^bits` written exactly in decimal, as `RoundInputLib` writes it: no trailing zeros, no point for a whole
 * number, a leading `-` for a negative value.
 * @throws InputError for more than {@link MAX_FRACTION_BITS} bits.
 * @example fixedToDecimal(-98304n, 16) // "-1.5"
 */
export function fixedToDecimal(v: bigint, bits: number): string {
  if (!Number.isInteger(bits) || bits < 0 || bits > MAX_FRACTION_BITS)
    throw new InputError(`fraction bits must be an integer from 0 to ${MAX_FRACTION_BITS}, got ${bits}`);
  const magnitude = v < 0n ? -v : v;
  const whole = magnitude >> BigInt(bits);
  const frac = magnitude & ((1n << BigInt(bits)) - 1n);
  const sign = v < 0n ? "-" : "";
  if (frac === 0n) return `${sign}${whole}`;
  const digits = (frac * 5n ** BigInt(bits)).toString().padStart(bits, "0").replace(/0+$/, "");
  return `${sign}${whole}.${digits}`;
}

/**
 * The inline input of a round's job from its input values (`RoundInputLib.json` / `zkJson`): the UTF-8 JSON array
 * `[v0,v1,...]` for vanilla and TEE, `{"x":[...],"salt":"0x0"}` for ZK and dual modes; hex.
 * @throws InputError for a value beyond {@link MAX_JSON_VALUE} in magnitude.
 * @example roundInput([65536n, -32768n], 16, false) // hex of "[1,-0.5]"
 */
export function roundInput(values: readonly bigint[], fractionBits: number, zk: boolean): string {
  for (const [i, v] of values.entries()) {
    if (v > MAX_JSON_VALUE || v < -MAX_JSON_VALUE)
      throw new InputError(`input value ${i} (${v}) is beyond 2^53 - 1 in magnitude`);
  }
  const array = `[${values.map((v) => fixedToDecimal(v, fractionBits)).join(",")}]`;
  return hexlify(toUtf8Bytes(zk ? `{"x":${array},"salt":"0x0"}` : array));
}

/** A feed answer with `decimals` decimals as a number (for display). */
export function answerToNumber(answer: bigint, decimals: number): number {
  return Number(answer) / 10 ** decimals;
}

const coder = AbiCoder.defaultAbiCoder();

function address(what: string, value: string): string {
  if (!isAddress(value)) throw new InputError(`${what} "${value}" is not an address`);
  return getAddress(value);
}

function maxAgeOf(maxAge: number): number {
  if (!Number.isInteger(maxAge) || maxAge < 1 || maxAge > 0xffffffff)
    throw new InputError(`the feed's maximum age must be 1 to 2^32 - 1 seconds, got ${maxAge}`);
  return maxAge;
}

/**
 * The arguments of `RealizedVolatilitySource`: `abi.encode(feed, maxAge)`.
 * @throws InputError for a bad address or age.
 */
export function volatilitySourceArgs(feed: string, maxAge: number): string {
  return coder.encode(["address", "uint32"], [address("feed", feed), maxAgeOf(maxAge)]);
}

/**
 * The arguments of `FeedWindowSource`: `abi.encode(feed, count, maxAge)`, the last `count` (1 to 64) answers.
 * @throws InputError for a bad address, count or age.
 */
export function feedWindowSourceArgs(feed: string, count: number, maxAge: number): string {
  if (!Number.isInteger(count) || count < 1 || count > 64)
    throw new InputError(`the window must hold 1 to 64 answers, got ${count}`);
  return coder.encode(["address", "uint16", "uint32"], [address("feed", feed), count, maxAgeOf(maxAge)]);
}

/** A subscription as `SubscriptionCreated` records it (its terms never change; its state is `subscriptionOf`). */
export interface SubscriptionInfo {
  id: bigint;
  subscriber: string;
  feed: string;
  modelId: bigint;
  version: bigint;
  mode: Mode;
  redundancy: bigint;
  feePerNode: bigint;
  collateral: bigint;
  keeperReward: bigint;
  maxJobCost: bigint;
  startTime: bigint;
  period: bigint;
  rounds: bigint;
  roundDuration: bigint;
  answerKind: AnswerKind;
  zkScaleBits: number;
  zkInputBits: number;
  /** The input source, or the zero address for inputs the subscriber posts. */
  inputSource: string;
  inputArgs: string;
  description: string;
  funded: bigint;
  /** Where the event is. */
  blockNumber: number;
  transactionHash: string;
}

/**
 * Decodes a `SubscriptionCreated` log of `manager`, or returns undefined for another log.
 * @example const info = parseSubscriptionCreated(manager, receipt.logs[3]);
 */
export function parseSubscriptionCreated(
  manager: Pick<SubscriptionManager, "interface">,
  log: Log,
): SubscriptionInfo | undefined {
  const parsed = manager.interface.parseLog(log);
  if (parsed?.name !== "SubscriptionCreated") return undefined;
  const a = parsed.args;
  const p = a.params as unknown as {
    modelId: bigint;
    version: bigint;
    mode: bigint;
    redundancy: bigint;
    feePerNode: bigint;
    collateral: bigint;
    keeperReward: bigint;
    maxJobCost: bigint;
    roundDuration: bigint;
    period: bigint;
    answerKind: bigint;
    zkScaleBits: bigint;
    zkInputBits: bigint;
    inputSource: string;
    inputArgs: string;
    description: string;
  };
  return {
    id: a.subscriptionId as bigint,
    subscriber: a.subscriber as string,
    feed: a.feed as string,
    modelId: p.modelId,
    version: p.version,
    mode: Number(p.mode) as Mode,
    redundancy: p.redundancy,
    feePerNode: p.feePerNode,
    collateral: p.collateral,
    keeperReward: p.keeperReward,
    maxJobCost: p.maxJobCost,
    startTime: a.startTime as bigint,
    period: p.period,
    rounds: a.rounds as bigint,
    roundDuration: p.roundDuration,
    answerKind: Number(p.answerKind) as AnswerKind,
    zkScaleBits: Number(p.zkScaleBits),
    zkInputBits: Number(p.zkInputBits),
    inputSource: p.inputSource,
    inputArgs: p.inputArgs,
    description: p.description,
    funded: a.funded as bigint,
    blockNumber: log.blockNumber,
    transactionHash: log.transactionHash,
  };
}

/**
 * A subscription id from a number, bigint or decimal string.
 * @throws InputError when it is not a positive integer below 2^64.
 */
export function toSubscriptionId(value: bigint | number | string): bigint {
  let n: bigint;
  try {
    n = BigInt(value);
  } catch (cause) {
    throw new InputError(`subscription id "${String(value)}" is not a whole number`, { cause });
  }
  if (n < 1n || n >= 1n << 64n) throw new InputError(`subscription id ${n} is out of range: ids start at 1`);
  return n;
}

/** Parameters of {@link listSubscriptions}. */
export interface ListSubscriptionsParams {
  manager: Pick<SubscriptionManager, "interface" | "getAddress">;
  provider: Pick<Provider, "getLogs">;
  fromBlock: number;
  toBlock: number;
  /** Largest block range per `eth_getLogs` request (default core's). */
  maxRange?: number;
  retry?: RetryOptions;
}

/**
 * Every subscription created in blocks `fromBlock`..`toBlock`, from the manager's `SubscriptionCreated` events, in
 * the order they were created.
 * @example const subs = await listSubscriptions({ manager, provider, fromBlock: record.startBlock, toBlock: head });
 */
export async function listSubscriptions(params: ListSubscriptionsParams): Promise<SubscriptionInfo[]> {
  const { manager } = params;
  const topic = manager.interface.getEvent("SubscriptionCreated").topicHash;
  const logs = await getLogsChunked(params.provider, {
    address: await manager.getAddress(),
    topics: [topic],
    fromBlock: params.fromBlock,
    toBlock: params.toBlock,
    maxRange: params.maxRange,
    retry: params.retry,
  });
  return logs.flatMap((log) => {
    const info = parseSubscriptionCreated(manager, log);
    return info === undefined ? [] : [info];
  });
}

/**
 * Subscriptions of recurring verified inference (`ISubscriptionManager`): the values the contracts use, the input a
 * round's job carries (so anyone can recompute it from the values the chain holds), the arguments of the bundled
 * input sources, and a subscription as its `SubscriptionCreated` event records it. The node, the CLI, the devnet
 * and the hub read subscriptions through here.
 */
import { AbiCoder, getAddress, hexlify, isAddress, toUtf8Bytes, type Log, type Provider } from "ethers";
import { InputError } from "./errors";
import { getLogsChunked } from "./logs";
import { revertDataOf } from "./transport";
import type { Mode } from "./modes";
import { withRetry, type RetryOptions } from "./retry";
import type { SubscriptionManager } from "../../typechain-types/contracts/subscriptions/SubscriptionManager";
import { SubscriptionFeed__factory } from "../../typechain-types/factories/contracts/subscriptions/SubscriptionFeed__factory";
import { SubscriptionManager__factory } from "../../typechain-types/factories/contracts/subscriptions/SubscriptionManager__factory";

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

/** One answered round of a feed, as `getRoundData` returns it, with its settlement reference when the feed has one. */
export interface FeedRound {
  roundId: bigint;
  answer: bigint;
  /** For a subscription feed: the round's due time, the time its input is as of. */
  startedAt: bigint;
  updatedAt: bigint;
  /** For a subscription feed: the escrow job that settled the round. */
  jobId?: bigint;
}

/** An `AggregatorV3Interface` feed as {@link readFeed} reads it. */
export interface FeedReading {
  address: string;
  description: string;
  decimals: number;
  version: bigint;
  /** The latest round, undefined while the feed has no answer. */
  latest?: FeedRound;
  /** The latest rounds with an answer, newest first (at most the number asked for). */
  rounds: FeedRound[];
  /** Present when the feed is a subscription's (`ISubscriptionFeed`). */
  subscription?: {
    manager: string;
    id: bigint;
    modelId: bigint;
    version: bigint;
    mode: Mode;
    redundancy: bigint;
    status: number;
    startTime: bigint;
    period: bigint;
    rounds: bigint;
    nextRound: bigint;
    balance: bigint;
    /** The round that can start now and when it is due (`currentRound`). */
    current: { round: bigint; dueAt: bigint; startable: boolean };
  };
}

/**
 * Reads an `AggregatorV3Interface` feed: its description, decimals and latest rounds, and, for a subscription's feed,
 * the subscription behind it and each round's job. Rounds without an answer (missed or refunded) are skipped.
 * @throws TransportError when the endpoint does not answer; the call's error when `address` is not a feed.
 * @example const reading = await readFeed(provider, "0x...", { rounds: 5 });
 */
export async function readFeed(
  runner: Provider,
  address: string,
  options: { rounds?: number; retry?: RetryOptions } = {},
): Promise<FeedReading> {
  const feed = SubscriptionFeed__factory.connect(address, runner);
  const read = <T>(what: string, fn: () => Promise<T>) => withRetry(what, fn, options.retry);
  const [description, decimals, version] = await Promise.all([
    read("feed.description", () => feed.description()),
    read("feed.decimals", () => feed.decimals()),
    read("feed.version", () => feed.version()),
  ]);
  const subscription = await subscriptionOfFeed(runner, address, read);
  const roundOf = async (roundId: bigint): Promise<FeedRound | undefined> => {
    try {
      const [id, answer, startedAt, updatedAt] = await read("feed.getRoundData", () => feed.getRoundData(roundId));
      const jobId = subscription === undefined ? undefined : await read("feed.jobOf", () => feed.jobOf(roundId));
      return { roundId: id, answer, startedAt, updatedAt, ...(jobId === undefined ? {} : { jobId }) };
    } catch (error) {
      if (isCallException(error)) return undefined;
      throw error;
    }
  };
  let latestId: bigint | undefined;
  try {
    latestId = (await read("feed.latestRoundData", () => feed.latestRoundData()))[0];
  } catch (error) {
    if (!isCallException(error)) throw error;
  }
  const rounds: FeedRound[] = [];
  for (let id = latestId ?? 0n; id > 0n && rounds.length < (options.rounds ?? 5); id--) {
    const round = await roundOf(id);
    if (round !== undefined) rounds.push(round);
    if (latestId! - id > BigInt(options.rounds ?? 5) * 4n) break;
  }
  return {
    address: getAddress(address),
    description,
    decimals: Number(decimals),
    version,
    ...(rounds[0] === undefined ? {} : { latest: rounds[0] }),
    rounds,
    ...(subscription === undefined ? {} : { subscription }),
  };
}

/** The subscription behind a subscription feed, or undefined for another feed. */
async function subscriptionOfFeed(
  runner: Provider,
  address: string,
  read: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
): Promise<FeedReading["subscription"]> {
  const feed = SubscriptionFeed__factory.connect(address, runner);
  let managerAddress: string;
  let id: bigint;
  try {
    [managerAddress, id] = await Promise.all([feed.manager(), feed.subscriptionId()]);
  } catch (error) {
    if (isCallException(error)) return undefined;
    throw error;
  }
  const manager = SubscriptionManager__factory.connect(managerAddress, runner);
  const [s, current] = await Promise.all([
    read("manager.subscriptionOf", () => manager.subscriptionOf(id)),
    read("manager.currentRound", () => manager.currentRound(id)),
  ]);
  if (getAddress(s.feed) !== getAddress(address)) return undefined;
  return {
    manager: managerAddress,
    id,
    modelId: s.modelId,
    version: s.version,
    mode: Number(s.mode) as Mode,
    redundancy: s.redundancy,
    status: Number(s.status),
    startTime: s.startTime,
    period: s.period,
    rounds: s.rounds,
    nextRound: s.nextRound,
    balance: s.balance,
    current: { round: current[0], dueAt: current[1], startable: current[2] },
  };
}

/** Whether `error` is the contract's answer (a revert, or data that is not this ABI's), not a transport failure. */
function isCallException(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === "CALL_EXCEPTION" || code === "BAD_DATA" || revertDataOf(error) !== undefined;
}

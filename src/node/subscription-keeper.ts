/**
 * Starts the due rounds of subscriptions (`ISubscriptionManager.startRound`) that a node can serve: a round's job is
 * then requested on the escrow with the subscription's funds and served by the node's ordinary job path (its input
 * is inline in `JobRequested`). Anyone may start a round; the keeper reward pays for the transaction. Rounds are
 * computed by the contract from its clock, so starting one twice, or early, only reverts: two keepers racing for a
 * round cost the loser a simulation, never a transaction (the send is simulated first).
 */
import type { Provider } from "ethers";
import type { SubscriptionManager } from "../../typechain-types/contracts/subscriptions/SubscriptionManager";
import type { NodeStaking } from "../../typechain-types/contracts/staking/NodeStaking";
import { firstLine, RevertError, walk } from "../core/errors";
import type { Logger } from "../core/log";
import { MODE_NAMES } from "../core/modes";
import { asRevertError } from "../core/revert";
import { sleep, withRetry } from "../core/retry";
import { listSubscriptions, SubscriptionStatus, type SubscriptionInfo } from "../core/subscription";
import type { TxSender } from "./sender";

/** Sends `startRound(subscriptionId)` for `round` and resolves with the transaction's hash once mined. */
export type RoundStarter = (subscriptionId: bigint, round: bigint) => Promise<string>;

/** Options of {@link SubscriptionKeeper}. */
export interface SubscriptionKeeperOptions {
  /** The manager, connected for reading. */
  manager: SubscriptionManager;
  provider: Pick<Provider, "getLogs" | "getBlock" | "getBlockNumber">;
  /** Sends the start of a round (the daemon's outbox, or a plain signer). */
  start: RoundStarter;
  /** The modes whose rounds to start: the node's. */
  modes: ReadonlySet<number>;
  /** When given, rounds are started only if `address` is eligible in `staking` for the round's mode and collateral. */
  eligibility?: { staking: Pick<NodeStaking, "isEligible">; address: string };
  /** Rounds paying a smaller keeper reward are left to others. Default 0. */
  minKeeperReward?: bigint;
  /** The block the manager was deployed in. */
  startBlock: number;
  maxBlockRange?: number;
  rpcTimeoutMs: number;
  log: Logger;
}

/** A round this keeper started. */
export interface StartedRound {
  subscriptionId: bigint;
  round: bigint;
  tx: string;
}

/**
 * Follows the manager's subscriptions and starts the due rounds of those in the node's modes.
 * @example
 * const keeper = new SubscriptionKeeper({ manager, provider, start, modes: new Set([Mode.Tee]), startBlock, rpcTimeoutMs: 10_000, log });
 * setInterval(() => void keeper.check(), 1_000);
 */
export class SubscriptionKeeper {
  private readonly subscriptions = new Map<bigint, SubscriptionInfo>();
  private scannedTo: number;
  /** Why each round was last not started, so a reason is logged once per round. */
  private readonly skipped = new Map<string, string>();

  constructor(private readonly options: SubscriptionKeeperOptions) {
    this.scannedTo = options.startBlock - 1;
  }

  /** The subscriptions this keeper follows (in its modes, not known to be over), by id. */
  get followed(): ReadonlyMap<bigint, SubscriptionInfo> {
    return this.subscriptions;
  }

  /**
   * One pass: reads new subscriptions, then starts every round due now that the node can serve and that is funded.
   * Failures of one round are logged and do not stop the others.
   */
  async check(): Promise<StartedRound[]> {
    await this.discover();
    const started: StartedRound[] = [];
    for (const info of [...this.subscriptions.values()]) {
      try {
        const tx = await this.startDue(info);
        if (tx !== undefined) started.push(tx);
      } catch (error) {
        this.options.log.warn({ subscription: info.id.toString(), err: firstLine(error) }, "round not started");
      }
    }
    return started;
  }

  private async discover(): Promise<void> {
    const head = await this.read("eth_blockNumber", () => this.options.provider.getBlockNumber());
    if (head <= this.scannedTo) return;
    const found = await listSubscriptions({
      manager: this.options.manager,
      provider: this.options.provider,
      fromBlock: this.scannedTo + 1,
      toBlock: head,
      maxRange: this.options.maxBlockRange,
      retry: { timeoutMs: this.options.rpcTimeoutMs },
    });
    for (const info of found) {
      if (!this.options.modes.has(info.mode)) continue;
      this.subscriptions.set(info.id, info);
      this.options.log.info(
        { subscription: info.id.toString(), feed: info.feed, mode: MODE_NAMES[info.mode], period: Number(info.period) },
        "following subscription",
      );
    }
    this.scannedTo = head;
  }

  /** Starts the round of `info` due now if it can; returns what it started. */
  private async startDue(info: SubscriptionInfo): Promise<StartedRound | undefined> {
    const { manager } = this.options;
    const id = info.id;
    const [round, , startable] = await this.read("currentRound", () => manager.currentRound(id));
    if (!startable) {
      const state = await this.read("subscriptionOf", () => manager.subscriptionOf(id));
      if (Number(state.status) !== SubscriptionStatus.Active || round >= info.rounds) {
        this.subscriptions.delete(id);
        this.options.log.info({ subscription: id.toString() }, "subscription over: no longer followed");
      }
      return undefined;
    }
    const refusal = await this.refusal(info, round);
    if (refusal !== undefined) {
      this.skip(id, round, refusal);
      return undefined;
    }
    try {
      const tx = await this.options.start(id, round);
      this.options.log.info({ subscription: id.toString(), round: round.toString(), tx }, "subscription round started");
      return { subscriptionId: id, round, tx };
    } catch (error) {
      // Another keeper won the race: the round is started, which is all that matters.
      if (revertName(error) === "SubscriptionManagerRoundStarted") {
        this.options.log.debug({ subscription: id.toString(), round: round.toString() }, "round started by another");
        return undefined;
      }
      throw error;
    }
  }

  /** Why this keeper leaves round `round` of `info` alone, or undefined. */
  private async refusal(info: SubscriptionInfo, round: bigint): Promise<string | undefined> {
    const { manager, eligibility } = this.options;
    if (info.keeperReward < (this.options.minKeeperReward ?? 0n))
      return `its keeper reward ${info.keeperReward} is below this keeper's minimum`;
    if (eligibility !== undefined) {
      const eligible = await this.read("staking.isEligible", () =>
        eligibility.staking.isEligible(eligibility.address, info.mode, info.collateral),
      );
      if (!eligible)
        return `this node is not eligible for mode ${MODE_NAMES[info.mode]} with collateral ${info.collateral}`;
    }
    const [[, total], state] = await Promise.all([
      this.read("roundCost", () => manager.roundCost(info.id)),
      this.read("subscriptionOf", () => manager.subscriptionOf(info.id)),
    ]);
    if (state.balance < total) return `round ${round} costs ${total}, the subscription holds ${state.balance}`;
    return undefined;
  }

  private skip(id: bigint, round: bigint, reason: string): void {
    const key = `${id}:${round}`;
    if (this.skipped.get(key) === reason) return;
    this.skipped.set(key, reason);
    this.options.log.info({ subscription: id.toString(), round: round.toString() }, `round not started: ${reason}`);
  }

  private read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(what, fn, { timeoutMs: this.options.rpcTimeoutMs });
  }
}

/** The custom error a call reverted with, when the error (or one of its causes) is a decoded revert. */
function revertName(error: unknown): string | undefined {
  const revert = walk(error, (e) => e instanceof RevertError) as RevertError | undefined;
  return revert?.errorName;
}

/**
 * A {@link RoundStarter} through the node's outbox: each round's start is one logical transaction
 * (`startRound:<manager>:<id>:<round>`), simulated before it is signed, stored before it is sent, never signed twice.
 * @throws RevertError when the simulation reverts (the round was started by another keeper) or the mined transaction
 * reverted.
 * @example const start = outboxRoundStarter(sender, manager, signal);
 */
export function outboxRoundStarter(
  sender: Pick<TxSender, "send" | "wait">,
  manager: Pick<SubscriptionManager, "interface"> & { target: unknown },
  signal?: AbortSignal,
): RoundStarter {
  const to = String(manager.target);
  return async (id, round) => {
    const context = { contract: "subscriptionManager", call: "startRound" };
    const tx = await sender.send({
      key: `startRound:${to}:${id}:${round}`,
      kind: "startRound",
      to,
      data: manager.interface.encodeFunctionData("startRound", [id]),
      context,
    });
    const receipt = await sender.wait(tx, signal);
    if (receipt.status !== 1)
      throw new RevertError(
        `subscriptionManager.startRound(${id}) reverted in ${receipt.hash}`,
        undefined,
        {},
        { context },
      );
    return receipt.hash;
  };
}

/**
 * A {@link RoundStarter} sending from the signer `manager` is connected to (a keeper account outside a node).
 * @throws RevertError naming the manager's error when the round cannot start.
 * @example const start = signerRoundStarter(manager.connect(wallet));
 */
export function signerRoundStarter(manager: Pick<SubscriptionManager, "startRound">): RoundStarter {
  return async (id) => {
    try {
      const receipt = await (await manager.startRound(id)).wait();
      if (receipt === null || receipt.status !== 1) throw new Error(`startRound(${id}) was not mined successfully`);
      return receipt.hash;
    } catch (error) {
      throw asRevertError(error, { contract: "subscriptionManager", call: "startRound" });
    }
  };
}

/** What {@link keepSubscriptions} needs from the daemon. */
export interface KeepSubscriptionsOptions {
  /** The manager, connected for reading. */
  manager: SubscriptionManager;
  provider: SubscriptionKeeperOptions["provider"];
  staking: Pick<NodeStaking, "isEligible">;
  sender: Pick<TxSender, "send" | "wait">;
  /** The node's address and modes. */
  address: string;
  modes: ReadonlySet<number>;
  startBlock: number;
  maxBlockRange?: number;
  rpcTimeoutMs: number;
  /** Time between passes. */
  intervalMs: number;
  minKeeperReward?: bigint;
  log: Logger;
  signal: AbortSignal;
}

/**
 * The daemon's loop of subscription rounds: every `intervalMs`, starts the due rounds of the subscriptions in the
 * node's modes that it is eligible for, through its outbox; runs until `signal` aborts. A failed pass is logged and
 * the next one tried.
 * @example loops.push(keepSubscriptions({ manager, provider, staking, sender, address, modes, startBlock, rpcTimeoutMs, intervalMs: 1_000, log, signal }));
 */
export async function keepSubscriptions(options: KeepSubscriptionsOptions): Promise<void> {
  const keeper = new SubscriptionKeeper({
    manager: options.manager,
    provider: options.provider,
    start: outboxRoundStarter(options.sender, options.manager, options.signal),
    modes: options.modes,
    eligibility: { staking: options.staking, address: options.address },
    minKeeperReward: options.minKeeperReward,
    startBlock: options.startBlock,
    maxBlockRange: options.maxBlockRange,
    rpcTimeoutMs: options.rpcTimeoutMs,
    log: options.log,
  });
  while (!options.signal.aborted) {
    try {
      await keeper.check();
    } catch (error) {
      if (options.signal.aborted) break;
      options.log.warn({ err: firstLine(error) }, "subscription keeper: pass failed; retrying");
    }
    await sleep(options.intervalMs, options.signal).catch(() => undefined);
  }
}

/**
 * From chain events to the plain inputs of concentration.ts: {@link NetworkReducer} folds decoded logs of
 * NodeStaking (stake and registrations), JobEscrow (jobs, who served them, slashes) and ModelRegistry (models and
 * the modes of their versions) in block order, so the hub's indexer, an RPC reader ({@link readNetworkEvents}) or a
 * test can feed it alike. Events it does not use are ignored.
 *
 * What it derives, and from which events:
 * - an operator's active stake: `Staked` + `Restaked` − `Unstaked` − the active part of `Slashed` (`amount −
 *   fromThawing`); thawing stake is not counted, as it cannot back new work;
 * - its modes: the last `CapabilitiesUpdated` (NodeStaking's registration event), counted only while its active
 *   stake reaches the minimum (NodeStaking's `ParametersUpdated`; any positive stake until one is seen), as the
 *   escrow's eligibility check does (locked collateral aside);
 * - who served a job: its one `SlotClaimed` node for redundancy 1; for redundancy k > 1 the nodes whose
 *   `ResultRevealed` output hash equals the one `JobSettled` announces (the agreeing, paid nodes);
 * - what a node earned: the job's `feePerNode` (from `JobRequested`'s terms) per job served; its faults:
 *   `NodeSlashed`;
 * - the operators able to serve a model: eligible (as above) for a mode of one of its versions not deprecated.
 */
import type { Interface, Log, ParamType, Provider, Result } from "ethers";
import type { Contracts } from "../core/contracts";
import { ConfigError, InputError } from "../core/errors";
import { modesOf } from "../core/modes";
import { DEFAULT_MAX_BLOCK_RANGE, getLogsChunked } from "../core/logs";
import type { RetryOptions } from "../core/retry";
import type { JobInput, ModelInput, NetworkFold, NetworkInputs, OperatorInput } from "./concentration";

/** A decoded log: the event's name, its arguments by name (structs as objects, arrays as arrays) and its block. */
export interface DecodedLog {
  name: string;
  args: Readonly<Record<string, unknown>>;
  blockNumber: number;
  /** Position in the block, to order logs of one block. */
  logIndex?: number;
  /** The contract that emitted it; tells NodeStaking's `ParametersUpdated` from JobEscrow's. */
  contract?: NetworkContract;
}

/** The contracts whose events the reducer reads. */
export type NetworkContract = "staking" | "escrow" | "registry";

/** The events {@link NetworkReducer} uses, by contract. */
export const NETWORK_EVENTS: Readonly<Record<NetworkContract, readonly string[]>> = {
  staking: ["Staked", "Unstaked", "Restaked", "Withdrawn", "Slashed", "CapabilitiesUpdated", "ParametersUpdated"],
  escrow: ["JobRequested", "SlotClaimed", "ResultRevealed", "JobSettled", "JobRefunded", "NodeSlashed"],
  registry: ["ModelCreated", "VersionPublished", "VersionDeprecated"],
};

/** What an operator did, as the chain records it: the operator's side of ROI. */
export interface OperatorActivity {
  address: string;
  /** Active stake, in token wei. */
  stake: bigint;
  /** Stake unstaked and not yet withdrawn, in token wei. */
  thawing: bigint;
  /** Registered modes bitmask (0 if never registered). */
  capabilities: number;
  /** Slots claimed. */
  claimed: number;
  /** Jobs served and paid. */
  served: number;
  /** Node fees earned, in token wei (credited by the escrow; claimed or not). */
  earned: bigint;
  /** Slashes for jobs not delivered, and the total taken, in token wei. */
  slashes: number;
  slashed: bigint;
}

/** A job as the reducer tracks it. */
export interface JobRecord {
  id: bigint;
  modelId: bigint;
  mode: number;
  redundancy: number;
  feePerNode: bigint;
  requestedAt: number;
  status: "open" | "settled" | "refunded";
  /** Block of settlement or refund. */
  closedAt: number | undefined;
  /** Nodes paid for it (once settled). */
  servedBy: string[];
}

interface OperatorState extends OperatorActivity {
  /** Settlement blocks of the jobs served, to count them per window. */
  servedAt: number[];
}

interface JobState extends JobRecord {
  claimants: string[];
  reveals: Map<string, string>;
}

interface ModelState {
  id: bigint;
  versions: Map<number, { modes: number; deprecated: boolean }>;
}

/**
 * Folds decoded network logs, in block order, into the state the economics figures need. Unknown events are
 * ignored; an event about a job or model never seen (logs read from a later block than its creation) is counted in
 * {@link NetworkReducer.skipped} and otherwise ignored.
 * @example
 * const reducer = new NetworkReducer();
 * for (const log of logs) reducer.apply(log);
 * computeConcentration(reducer.inputs());
 */
export class NetworkReducer implements NetworkFold<DecodedLog> {
  /** NodeStaking's minimum stake, once a `ParametersUpdated` of it is seen. */
  minimumStake: bigint | undefined;
  /** Events about a job or model the reducer has not seen created. */
  skipped = 0;
  private readonly operators = new Map<string, OperatorState>();
  private readonly jobs = new Map<bigint, JobState>();
  private readonly models = new Map<bigint, ModelState>();
  private lastBlock = -1;

  /** Applies one log; logs must come in block order. @throws InputError on a log out of order or with a missing argument. */
  apply(log: DecodedLog): void {
    if (log.blockNumber < this.lastBlock)
      throw new InputError(
        `log ${log.name} at block ${log.blockNumber} comes after block ${this.lastBlock}: apply logs in block order`,
      );
    this.lastBlock = log.blockNumber;
    const handler = HANDLERS[log.name];
    if (handler !== undefined) handler(this, log);
  }

  /**
   * The concentration inputs; with `since`, only jobs requested, and jobs served, at or after block `since`. An
   * operator is listed while it has active stake or served a job counted; its modes are those it can serve: its
   * registered modes if its active stake reaches the minimum, none otherwise.
   */
  inputs(since?: number): NetworkInputs {
    const from = since ?? -Infinity;
    const operators: OperatorInput[] = [...this.operators.values()]
      .map((o) => ({ o, jobsServed: o.servedAt.filter((b) => b >= from).length }))
      .filter(({ o, jobsServed }) => o.stake > 0n || jobsServed > 0)
      .map(({ o, jobsServed }) => ({
        address: o.address,
        stake: o.stake,
        modes: this.eligible(o) ? modesOf(o.capabilities) : [],
        jobsServed,
      }));
    const jobs: JobInput[] = [...this.jobs.values()]
      .filter((j) => j.requestedAt >= from)
      .map((j) => ({ id: j.id, redundancy: j.redundancy }));
    const models: ModelInput[] = [...this.models.values()].map((m) => ({ id: m.id, operators: this.servers(m) }));
    return { operators, jobs, models };
  }

  /** Every operator's activity, by address. */
  activity(): OperatorActivity[] {
    return [...this.operators.values()].map(({ servedAt: _, ...activity }) => ({ ...activity }));
  }

  /** Every job seen requested, in request order. */
  jobRecords(): JobRecord[] {
    return [...this.jobs.values()].map(({ claimants: _c, reveals: _r, ...job }) => ({
      ...job,
      servedBy: [...job.servedBy],
    }));
  }

  /** @internal The operator at `address`, created on first sight. */
  operator(address: string): OperatorState {
    const key = address.toLowerCase();
    let o = this.operators.get(key);
    if (o === undefined) {
      o = {
        address: key,
        stake: 0n,
        thawing: 0n,
        capabilities: 0,
        claimed: 0,
        served: 0,
        earned: 0n,
        slashes: 0,
        slashed: 0n,
        servedAt: [],
      };
      this.operators.set(key, o);
    }
    return o;
  }

  /** @internal The job `id`, or undefined (counted as skipped) if its request was not seen. */
  job(id: bigint): JobState | undefined {
    const job = this.jobs.get(id);
    if (job === undefined) this.skipped++;
    return job;
  }

  /** @internal */
  addJob(job: JobState): void {
    this.jobs.set(job.id, job);
  }

  /** @internal The model `id` (created when `create`), or undefined (counted as skipped) if its creation was not seen. */
  model(id: bigint, create = false): ModelState | undefined {
    let model = this.models.get(id);
    if (model === undefined && create) {
      model = { id, versions: new Map() };
      this.models.set(id, model);
    }
    if (model === undefined) this.skipped++;
    return model;
  }

  /** Whether `o` can take work: registered, with active stake of at least the minimum (any positive stake until it is known). */
  private eligible(o: OperatorActivity): boolean {
    return o.capabilities !== 0 && o.stake > 0n && o.stake >= (this.minimumStake ?? 1n);
  }

  private servers(model: ModelState): string[] {
    let modes = 0;
    for (const v of model.versions.values()) if (!v.deprecated) modes |= v.modes;
    return [...this.operators.values()]
      .filter((o) => (o.capabilities & modes) !== 0 && this.eligible(o))
      .map((o) => o.address);
  }
}

/**
 * The state `logs` leave (see {@link NetworkReducer}): a pure function of the logs.
 * @example const state = reduceNetworkEvents(logs); computeConcentration(state.inputs());
 */
export function reduceNetworkEvents(logs: readonly DecodedLog[]): NetworkReducer {
  const reducer = new NetworkReducer();
  for (const log of logs) reducer.apply(log);
  return reducer;
}

type Handler = (state: NetworkReducer, log: DecodedLog) => void;

const HANDLERS: Readonly<Record<string, Handler>> = {
  Staked: (s, log) => {
    s.operator(address(log, "operator")).stake += amount(log, "amount");
  },
  Unstaked: (s, log) => {
    const o = s.operator(address(log, "operator"));
    const a = amount(log, "amount");
    o.stake -= a;
    o.thawing += a;
  },
  Restaked: (s, log) => {
    const o = s.operator(address(log, "operator"));
    const a = amount(log, "amount");
    o.stake += a;
    o.thawing -= a;
  },
  Withdrawn: (s, log) => {
    s.operator(address(log, "operator")).thawing -= amount(log, "amount");
  },
  Slashed: (s, log) => {
    const o = s.operator(address(log, "operator"));
    const fromThawing = amount(log, "fromThawing");
    o.stake -= amount(log, "amount") - fromThawing;
    o.thawing -= fromThawing;
  },
  CapabilitiesUpdated: (s, log) => {
    s.operator(address(log, "operator")).capabilities = Number(amount(log, "capabilities"));
  },
  ParametersUpdated: (s, log) => {
    // JobEscrow's ParametersUpdated has no minimumStake: only NodeStaking's sets it.
    const parameters = record(log, "parameters");
    if (log.contract === "escrow" || log.contract === "registry" || !("minimumStake" in parameters)) return;
    s.minimumStake = toBigint(log, "parameters.minimumStake", parameters.minimumStake);
  },
  JobRequested: (s, log) => {
    const terms = record(log, "job");
    s.addJob({
      id: amount(log, "jobId"),
      modelId: amount(log, "modelId"),
      mode: Number(toBigint(log, "job.mode", terms.mode)),
      redundancy: Number(toBigint(log, "job.redundancy", terms.redundancy)),
      feePerNode: toBigint(log, "job.feePerNode", terms.feePerNode),
      requestedAt: log.blockNumber,
      status: "open",
      closedAt: undefined,
      servedBy: [],
      claimants: [],
      reveals: new Map(),
    });
  },
  SlotClaimed: (s, log) => {
    const job = s.job(amount(log, "jobId"));
    if (job === undefined) return;
    const node = address(log, "node");
    job.claimants.push(node);
    s.operator(node).claimed++;
  },
  ResultRevealed: (s, log) => {
    s.job(amount(log, "jobId"))?.reveals.set(address(log, "node"), hex(log, "outputHash"));
  },
  JobSettled: (s, log) => {
    const job = s.job(amount(log, "jobId"));
    if (job === undefined) return;
    const outputHash = hex(log, "outputHash");
    job.servedBy =
      job.redundancy === 1 ? job.claimants.slice(0, 1) : job.claimants.filter((n) => job.reveals.get(n) === outputHash);
    job.status = "settled";
    job.closedAt = log.blockNumber;
    for (const node of job.servedBy) {
      const o = s.operator(node);
      o.served++;
      o.earned += job.feePerNode;
      o.servedAt.push(log.blockNumber);
    }
  },
  JobRefunded: (s, log) => {
    const job = s.job(amount(log, "jobId"));
    if (job === undefined) return;
    job.status = "refunded";
    job.closedAt = log.blockNumber;
  },
  NodeSlashed: (s, log) => {
    const o = s.operator(address(log, "node"));
    o.slashes++;
    o.slashed += amount(log, "amount");
  },
  ModelCreated: (s, log) => {
    s.model(amount(log, "modelId"), true);
  },
  VersionPublished: (s, log) => {
    const model = s.model(amount(log, "modelId"));
    const bindings = log.args.modes;
    if (!Array.isArray(bindings)) throw missing(log, "modes");
    const modes = bindings.reduce<number>(
      (mask, b: unknown) => mask | (1 << Number(toBigint(log, "modes[].mode", isRecord(b) ? b.mode : undefined))),
      0,
    );
    model?.versions.set(Number(amount(log, "version")), { modes, deprecated: false });
  },
  VersionDeprecated: (s, log) => {
    const version = s.model(amount(log, "modelId"))?.versions.get(Number(amount(log, "version")));
    if (version !== undefined) version.deprecated = true;
  },
};

function address(log: DecodedLog, name: string): string {
  const value = log.args[name];
  if (typeof value !== "string") throw missing(log, name);
  return value.toLowerCase();
}

function hex(log: DecodedLog, name: string): string {
  return address(log, name);
}

function amount(log: DecodedLog, name: string): bigint {
  return toBigint(log, name, log.args[name]);
}

function record(log: DecodedLog, name: string): Record<string, unknown> {
  const value = log.args[name];
  if (!isRecord(value)) throw missing(log, name);
  return value;
}

function toBigint(log: DecodedLog, name: string, value: unknown): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^(0x[0-9a-fA-F]+|\d+)$/.test(value)) return BigInt(value);
  throw missing(log, name);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function missing(log: DecodedLog, name: string): InputError {
  return new InputError(`log ${log.name} at block ${log.blockNumber} has no valid argument "${name}"`, {
    context: { event: log.name, argument: name },
  });
}

/* WHAT THE ROI SIMULATOR TAKES FROM THE CHAIN */

/** Options of {@link settledPerWindow}. */
export interface WindowOptions {
  fromBlock: number;
  toBlock: number;
  /** Blocks per window, e.g. the blocks of a month for the ROI simulator's demand from history. */
  window: number;
}

/**
 * Jobs settled in each window of `window` blocks from `fromBlock` to `toBlock` (the last window may be shorter):
 * the demand the chain saw, as samples for the ROI simulator's `{ kind: "history" }` demand.
 * @throws InputError when the range or window is out of range.
 * @example settledPerWindow(reducer.jobRecords(), { fromBlock: 0, toBlock: 1_000_000, window: 216_000 })
 */
export function settledPerWindow(jobs: readonly JobRecord[], options: WindowOptions): number[] {
  const { fromBlock, toBlock, window } = options;
  if (!Number.isSafeInteger(window) || window < 1)
    throw new InputError(`window ${window} is out of range: a whole number of blocks, at least 1`, {
      context: { parameter: "window" },
    });
  checkRange(fromBlock, toBlock);
  const counts = new Array<number>(Math.ceil((toBlock - fromBlock + 1) / window)).fill(0);
  for (const job of jobs) {
    if (job.status !== "settled" || job.closedAt === undefined || job.closedAt < fromBlock || job.closedAt > toBlock)
      continue;
    counts[Math.floor((job.closedAt - fromBlock) / window)]!++;
  }
  return counts;
}

/** Slashing as the chain saw it. */
export interface ObservedSlashing {
  /** Slots claimed. */
  slots: number;
  slashes: number;
  /** Slashes per slot claimed (0 when no slot was claimed). */
  probabilityPerJob: number;
  /** Mean amount per slash, in token wei (0 without slashes). */
  meanAmount: bigint;
}

/**
 * The slashing rate over `activity` (all operators, or one): slashes per claimed slot and their mean amount.
 * @example observedSlashing(reducer.activity())
 */
export function observedSlashing(activity: readonly OperatorActivity[]): ObservedSlashing {
  const slots = activity.reduce((n, a) => n + a.claimed, 0);
  const slashes = activity.reduce((n, a) => n + a.slashes, 0);
  const slashed = activity.reduce((n, a) => n + a.slashed, 0n);
  return {
    slots,
    slashes,
    probabilityPerJob: slots === 0 ? 0 : slashes / slots,
    meanAmount: slashes === 0 ? 0n : slashed / BigInt(slashes),
  };
}

/** Options of {@link observeForRoi}. */
export interface ObserveOptions {
  /** The blocks observed. */
  fromBlock: number;
  toBlock: number;
  /** Blocks in a month (2,592,000 s / the chain's block time: 216,000 at 12 s). */
  blocksPerMonth: number;
  /** Decimals of the token. Default 18. */
  decimals?: number;
  /** An operator whose own record to report. */
  operator?: string;
}

/** What the chain says about the ROI simulator's inputs, in whole tokens (numbers, for simulation only). */
export interface RoiObservations {
  /** Jobs settled in each whole month of blocks observed (a partial last month is left out): `{ kind: "history" }` demand. */
  monthlyJobs: number[];
  /** Slashes per slot claimed, and the mean slash in tokens, over all operators. */
  slashing: { probabilityPerJob: number; amount: number };
  /** Mean node fee of the jobs settled in the range, in tokens (0 if none). */
  feePerJob: number;
  /** Operators able to take work now. */
  operators: number;
  /** The operator's own record, if one was asked for (undefined if the chain never saw it). */
  operator?: { stake: number; claimed: number; served: number; earned: number; slashes: number; slashed: number };
}

/**
 * The ROI simulator's chain-derived inputs: demand per month, the slashing rate, the going fee per job and the
 * number of competing operators, and an operator's real earnings.
 * @throws InputError when the range or `blocksPerMonth` is out of range.
 * @example const seen = observeForRoi(reducer, { fromBlock: 0, toBlock: head, blocksPerMonth: 216_000, operator });
 */
export function observeForRoi(reducer: NetworkReducer, options: ObserveOptions): RoiObservations {
  const { fromBlock, toBlock, blocksPerMonth } = options;
  checkRange(fromBlock, toBlock);
  if (!Number.isSafeInteger(blocksPerMonth) || blocksPerMonth < 1) {
    throw new InputError(`blocksPerMonth ${blocksPerMonth} is out of range: a whole number of blocks, at least 1`, {
      context: { parameter: "blocksPerMonth" },
    });
  }
  const tokens = (wei: bigint) => Number(wei) / 10 ** (options.decimals ?? 18);
  const wholeMonths = Math.floor((toBlock - fromBlock + 1) / blocksPerMonth);
  const jobs = reducer.jobRecords();
  const monthlyJobs =
    wholeMonths === 0
      ? []
      : settledPerWindow(jobs, {
          fromBlock,
          toBlock: fromBlock + wholeMonths * blocksPerMonth - 1,
          window: blocksPerMonth,
        });
  const settled = jobs.filter(
    (j) => j.status === "settled" && j.closedAt !== undefined && j.closedAt >= fromBlock && j.closedAt <= toBlock,
  );
  const activity = reducer.activity();
  const slashing = observedSlashing(activity);
  const own =
    options.operator === undefined ? undefined : activity.find((a) => a.address === options.operator!.toLowerCase());
  return {
    monthlyJobs,
    slashing: { probabilityPerJob: slashing.probabilityPerJob, amount: tokens(slashing.meanAmount) },
    feePerJob:
      settled.length === 0 ? 0 : tokens(settled.reduce((acc, j) => acc + j.feePerNode, 0n) / BigInt(settled.length)),
    operators: reducer.inputs().operators.filter((o) => o.modes.length > 0).length,
    operator: own && {
      stake: tokens(own.stake),
      claimed: own.claimed,
      served: own.served,
      earned: tokens(own.earned),
      slashes: own.slashes,
      slashed: tokens(own.slashed),
    },
  };
}

/* READING */

/** Options of {@link readNetworkEvents}. */
export interface ReadNetworkEventsOptions {
  /** Largest block range per `eth_getLogs`. Default 2,000. */
  maxBlockRange?: number;
  /** Retry policy of each request (core's `withRetry`). */
  retry?: RetryOptions;
}

/**
 * Reads and decodes the events {@link NetworkReducer} uses from blocks `fromBlock`..`toBlock` of a deployment, in
 * bounded `eth_getLogs` ranges, each retried (core's `getLogsChunked`); returns them in chain order. It reads a fixed
 * range once: a process that follows the chain (with confirmations and reorganisations) feeds the reducer from
 * core's `LogFollower`, as the hub's indexer does.
 * @throws InputError on a bad range; ConfigError when the contracts have no provider; TransportError when the RPC fails.
 * @example const logs = await readNetworkEvents(connectContracts(addresses, provider), addresses.startBlock, await provider.getBlockNumber());
 */
export async function readNetworkEvents(
  contracts: Pick<Contracts, NetworkContract>,
  fromBlock: number,
  toBlock: number,
  options: ReadNetworkEventsOptions = {},
): Promise<DecodedLog[]> {
  checkRange(fromBlock, toBlock);
  const range = options.maxBlockRange ?? DEFAULT_MAX_BLOCK_RANGE;
  if (!Number.isSafeInteger(range) || range < 1)
    throw new InputError(`maxBlockRange ${range} is out of range: a whole number of blocks, at least 1`, {
      context: { parameter: "maxBlockRange" },
    });
  const provider: Provider | null | undefined = contracts.escrow.runner?.provider;
  if (provider == null)
    throw new ConfigError("the contracts are not connected to a provider: connect them to one to read events");
  const sources = await Promise.all(
    (["staking", "escrow", "registry"] as const).map(async (name) => ({
      name,
      address: (await contracts[name].getAddress()).toLowerCase(),
      iface: contracts[name].interface as Interface,
    })),
  );
  const topics = sources.flatMap((s) => NETWORK_EVENTS[s.name].map((event) => s.iface.getEvent(event)!.topicHash));
  const logs = await getLogsChunked(provider, {
    address: sources.map((s) => s.address),
    topics: [topics],
    fromBlock,
    toBlock,
    maxRange: range,
    retry: options.retry,
  });
  const decoded: DecodedLog[] = [];
  for (const log of logs) {
    const source = sources.find((s) => s.address === log.address.toLowerCase());
    const entry = source === undefined ? undefined : decodeNetworkLog(source.iface, source.name, log);
    if (entry !== undefined) decoded.push(entry);
  }
  return decoded.sort((a, b) => a.blockNumber - b.blockNumber || (a.logIndex ?? 0) - (b.logIndex ?? 0));
}

/**
 * One log of a network contract decoded as {@link NetworkReducer} reads it (arguments by name, structs as objects),
 * or undefined if it is not one of the {@link NETWORK_EVENTS} of `contract`: what {@link readNetworkEvents} returns
 * for each log, and what the hub's indexer keeps, so both fold the same logs.
 * @example decodeNetworkLog(NodeStaking__factory.createInterface(), "staking", log)?.name // "Staked"
 */
export function decodeNetworkLog(iface: Interface, contract: NetworkContract, log: Log): DecodedLog | undefined {
  const description = iface.parseLog({ topics: [...log.topics], data: log.data });
  if (description === null || !NETWORK_EVENTS[contract].includes(description.name)) return undefined;
  const args = Object.fromEntries(
    description.fragment.inputs.map((param, i) => [param.name, plain(description.args[i], param)]),
  );
  return { name: description.name, args, blockNumber: log.blockNumber, logIndex: log.index, contract };
}

/** An ABI value as plain objects and arrays (structs by field name), which ethers' `Result.toObject` does not give for one-element arrays. */
function plain(value: unknown, param: ParamType): unknown {
  if (param.isTuple()) {
    const fields = value as Result;
    return Object.fromEntries(param.components.map((c, i) => [c.name, plain(fields[i], c)]));
  }
  if (param.isArray()) return Array.from(value as Result, (item: unknown) => plain(item, param.arrayChildren));
  return value;
}

function checkRange(fromBlock: number, toBlock: number): void {
  for (const [name, block] of [
    ["fromBlock", fromBlock],
    ["toBlock", toBlock],
  ] as const) {
    if (!Number.isSafeInteger(block) || block < 0)
      throw new InputError(`${name} ${block} is out of range: a block number, a whole number of at least 0`, {
        context: { parameter: name },
      });
  }
  if (toBlock < fromBlock)
    throw new InputError(
      `toBlock ${toBlock} is before fromBlock ${fromBlock}: give a range with fromBlock <= toBlock`,
      { context: { parameter: "toBlock" } },
    );
}

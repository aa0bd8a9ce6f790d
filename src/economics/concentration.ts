/**
 * Concentration figures of the network from plain inputs (operators with their stake, modes and jobs served; jobs
 * with their redundancy; models with the operators able to serve them): how many operators serve each mode, how
 * stake is spread, how few operators would control the network (Nakamoto coefficient, by stake and by jobs
 * served), the Herfindahl–Hirschman index, and how many models enough independent operators can serve. Where the
 * inputs come from (chain events) is events.ts; this file knows nothing of the chain.
 *
 * Token amounts are bigint (token wei) and every figure that compares or sums them is computed in integers: a
 * Nakamoto coefficient or a quantile is exact, and a share or an index is a number whose integer part is exact
 * (fractions are truncated to 9, resp. 6, decimals).
 *
 * Independence means distinct operator addresses: one entity running several addresses counts as several
 * operators, so every figure here is an upper bound on the network's real decentralisation.
 */
import { InputError } from "../core/errors";
import { MODES, type Mode, type ModeName } from "../core/modes";

/** An operator as the concentration figures see it. */
export interface OperatorInput {
  /** Its address; operators are told apart by address, compared case-insensitively. */
  address: string;
  /** Active stake, in token wei. */
  stake: bigint;
  /** The modes it can serve (registered, with enough stake). */
  modes: readonly Mode[];
  /** Jobs whose result it delivered and was paid for (a job with redundancy k counts for each agreeing node). */
  jobsServed: number;
}

/** A requested job. */
export interface JobInput {
  id: bigint;
  /** The number of nodes the job asked for (odd, 1 for no redundancy). */
  redundancy: number;
}

/** A model and the operators able to serve it (registered for one of its modes, with enough stake). */
export interface ModelInput {
  id: bigint;
  operators: readonly string[];
}

/** Everything the concentration figures are computed from. */
export interface NetworkInputs {
  operators: readonly OperatorInput[];
  jobs: readonly JobInput[];
  models: readonly ModelInput[];
}

/** Options of {@link computeConcentration}. */
export interface ConcentrationOptions {
  /**
   * The share of the total a coalition must exceed to control the network, in basis points (0–9,999). Default
   * 5,000: a strict majority, more than 50 %.
   */
  thresholdBps?: number;
  /** The k of "models servable by at least k independent operators". Default [1, 2, 3]. */
  ks?: readonly number[];
  /** The n of "share of the top n operators by stake". Default [1, 3, 5, 10]. */
  tops?: readonly number[];
}

/** Nearest-rank quantiles of the operators' stake (each one an operator's actual stake), in token wei. */
export interface StakeQuantiles {
  min: bigint;
  p25: bigint;
  median: bigint;
  p75: bigint;
  p90: bigint;
  max: bigint;
}

/** How stake is spread over operators. */
export interface StakeDistribution {
  /** Total active stake, in token wei. */
  total: bigint;
  /** Null when there is no operator. */
  quantiles: StakeQuantiles | null;
  /** Stake of the `n` largest operators and its share of the total (0–1). */
  top: { n: number; stake: bigint; share: number }[];
}

/** An operator's share of the jobs served. */
export interface JobShare {
  address: string;
  jobsServed: number;
  /** `jobsServed` over the jobs served by all operators (0–1); 0 when nobody served a job. */
  share: number;
}

/** The concentration figures of {@link computeConcentration}. */
export interface Concentration {
  operators: number;
  operatorsPerMode: { mode: Mode; name: ModeName; operators: number }[];
  stake: StakeDistribution;
  /**
   * The smallest number of operators whose combined stake (resp. jobs served) exceeds `thresholdBps` of the total;
   * null when the total is zero.
   */
  nakamoto: { thresholdBps: number; byStake: number | null; byJobs: number | null };
  /** Herfindahl–Hirschman index on the 0–10,000 scale (10,000: one operator holds everything); null when the total is zero. */
  hhi: { byStake: number | null; byJobs: number | null };
  /** Every operator's share of the jobs served, largest first (ties by address). */
  jobShares: JobShare[];
  jobs: { total: number; redundant: number };
  /** Models servable by at least `k` distinct operator addresses, for each k asked for. */
  servable: { models: number; byAtLeast: { k: number; models: number }[] };
}

const BPS = 10_000n;
const SHARE_DECIMALS = 1_000_000_000n;
const INDEX_DECIMALS = 1_000_000n;

/**
 * The concentration figures of `inputs` (see {@link Concentration}).
 * @throws InputError on a duplicate operator address, a negative amount or an option out of range.
 * @example
 * const c = computeConcentration({ operators: [{ address: "0xa", stake: 10n, modes: [0], jobsServed: 3 }], jobs: [], models: [] });
 * c.nakamoto.byStake; // 1
 */
export function computeConcentration(inputs: NetworkInputs, options: ConcentrationOptions = {}): Concentration {
  const thresholdBps = checkThreshold(options.thresholdBps ?? 5_000);
  const ks = checkCounts("ks", options.ks ?? [1, 2, 3]);
  const tops = checkCounts("tops", options.tops ?? [1, 3, 5, 10]);
  const operators = checkOperators(inputs.operators);
  const stakes = operators.map((o) => o.stake);
  const jobs = operators.map((o) => BigInt(o.jobsServed));
  return {
    operators: operators.length,
    operatorsPerMode: MODES.map((m) => ({
      mode: m.mode,
      name: m.name,
      operators: operators.filter((o) => o.modes.includes(m.mode)).length,
    })),
    stake: stakeDistribution(stakes, tops),
    nakamoto: {
      thresholdBps,
      byStake: nakamotoCoefficient(stakes, thresholdBps),
      byJobs: nakamotoCoefficient(jobs, thresholdBps),
    },
    hhi: { byStake: herfindahlHirschman(stakes), byJobs: herfindahlHirschman(jobs) },
    jobShares: jobShares(operators),
    jobs: { total: inputs.jobs.length, redundant: inputs.jobs.filter((j) => j.redundancy > 1).length },
    servable: {
      models: inputs.models.length,
      byAtLeast: ks.map((k) => ({ k, models: inputs.models.filter((m) => independentOperators(m) >= k).length })),
    },
  };
}

/**
 * The smallest number of holders whose combined amount exceeds `thresholdBps` of the total (a strict inequality:
 * with the default 5,000, more than half), or null when the total is zero.
 * @example nakamotoCoefficient(Array(10).fill(1n)) // 6: five of ten equal holders have exactly half, not more
 */
export function nakamotoCoefficient(amounts: readonly bigint[], thresholdBps = 5_000): number | null {
  checkThreshold(thresholdBps);
  const total = sum(amounts);
  if (total === 0n) return null;
  const sorted = [...amounts].sort(descending);
  let held = 0n;
  for (let i = 0; i < sorted.length; i++) {
    held += sorted[i]!;
    if (held * BPS > total * BigInt(thresholdBps)) return i + 1;
  }
  // Unreachable: the whole total exceeds any threshold below 10,000 bps.
  return sorted.length;
}

/**
 * The Herfindahl–Hirschman index of `amounts` on the 0–10,000 scale: the sum of the squared percentage shares
 * (10,000 for a monopoly, 10,000 / n for n equal holders). Exact in its integer part, truncated to 6 decimals;
 * null when the total is zero.
 * @example herfindahlHirschman(Array(10).fill(7n)) // 1000
 */
export function herfindahlHirschman(amounts: readonly bigint[]): number | null {
  const total = sum(amounts);
  if (total === 0n) return null;
  const squares = amounts.reduce((acc, a) => acc + a * a, 0n);
  return Number((BPS * squares * INDEX_DECIMALS) / (total * total)) / Number(INDEX_DECIMALS);
}

/**
 * `part / total` as a number in [0, 1], computed in integers and truncated to 9 decimals; 0 when `total` is 0.
 * @example shareOf(1n, 3n) // 0.333333333
 */
export function shareOf(part: bigint, total: bigint): number {
  if (total === 0n) return 0;
  return Number((part * SHARE_DECIMALS) / total) / Number(SHARE_DECIMALS);
}

/**
 * The nearest-rank `q`-quantile (0–1) of `values`: the smallest value with at least `q` of the values at or below
 * it (the minimum for 0). Always one of the values, so exact for bigints.
 * @throws InputError when `values` is empty or `q` is outside [0, 1].
 */
export function nearestRank<T extends bigint | number>(values: readonly T[], q: number): T {
  if (values.length === 0) throw new InputError("a quantile of no values is undefined: give at least one value");
  if (!(q >= 0 && q <= 1)) throw new InputError(`quantile ${q} is out of range: use a number from 0 to 1`);
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

/** The number of distinct operator addresses able to serve `model`. */
export function independentOperators(model: ModelInput): number {
  return new Set(model.operators.map((a) => a.toLowerCase())).size;
}

function stakeDistribution(stakes: readonly bigint[], tops: readonly number[]): StakeDistribution {
  const total = sum(stakes);
  const sorted = [...stakes].sort(descending);
  const quantiles =
    stakes.length === 0
      ? null
      : {
          min: nearestRank(stakes, 0),
          p25: nearestRank(stakes, 0.25),
          median: nearestRank(stakes, 0.5),
          p75: nearestRank(stakes, 0.75),
          p90: nearestRank(stakes, 0.9),
          max: nearestRank(stakes, 1),
        };
  const top = tops
    .filter((n) => n <= stakes.length)
    .map((n) => {
      const stake = sum(sorted.slice(0, n));
      return { n, stake, share: shareOf(stake, total) };
    });
  return { total, quantiles, top };
}

function jobShares(operators: readonly OperatorInput[]): JobShare[] {
  const total = operators.reduce((acc, o) => acc + BigInt(o.jobsServed), 0n);
  return operators
    .map((o) => ({ address: o.address, jobsServed: o.jobsServed, share: shareOf(BigInt(o.jobsServed), total) }))
    .sort((a, b) => b.jobsServed - a.jobsServed || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

function checkOperators(operators: readonly OperatorInput[]): readonly OperatorInput[] {
  const seen = new Set<string>();
  for (const o of operators) {
    const key = o.address.toLowerCase();
    if (seen.has(key))
      throw new InputError(`operator ${o.address} is listed twice: give each address once`, {
        context: { address: o.address },
      });
    seen.add(key);
    if (o.stake < 0n) throw new InputError(`operator ${o.address} has negative stake ${o.stake}: stake is at least 0`);
    if (!Number.isSafeInteger(o.jobsServed) || o.jobsServed < 0) {
      throw new InputError(`operator ${o.address} has jobsServed ${o.jobsServed}: a whole number of at least 0`);
    }
  }
  return operators;
}

function checkThreshold(thresholdBps: number): number {
  if (!Number.isInteger(thresholdBps) || thresholdBps < 0 || thresholdBps >= 10_000) {
    throw new InputError(
      `thresholdBps ${thresholdBps} is out of range: a whole number of basis points from 0 to 9999 (5000: more than half)`,
      { context: { parameter: "thresholdBps" } },
    );
  }
  return thresholdBps;
}

function checkCounts(name: string, values: readonly number[]): readonly number[] {
  for (const v of values) {
    if (!Number.isSafeInteger(v) || v < 1)
      throw new InputError(`${name} contains ${v}: each must be a whole number of at least 1`, {
        context: { parameter: name },
      });
  }
  return values;
}

function sum(values: readonly bigint[]): bigint {
  return values.reduce((acc, v) => acc + v, 0n);
}

function descending(a: bigint, b: bigint): number {
  return a > b ? -1 : a < b ? 1 : 0;
}

/* HISTORY */

/**
 * Something that folds a time-ordered list of events into {@link NetworkInputs} (events.ts's `NetworkReducer`
 * folds chain logs). `inputs(since)` counts only jobs requested, and jobs served, at or after block `since`.
 */
export interface NetworkFold<E> {
  apply(event: E): void;
  inputs(since?: number): NetworkInputs;
}

/** Options of {@link concentrationHistory}. */
export interface HistoryOptions extends ConcentrationOptions {
  /** Blocks per window (at least 1). */
  window: number;
  /** First block of the first window. Default: the first event's block. */
  fromBlock?: number;
  /** Last block covered (the last window may be shorter). Default: the last event's block. */
  toBlock?: number;
  /**
   * Which jobs a window's job figures count: those of the window only (default), or all since the first event.
   * Stake, modes and models are always the state at the window's end.
   */
  jobs?: "window" | "cumulative";
}

/** The figures at the end of one window of {@link concentrationHistory}. */
export interface HistoryPoint {
  fromBlock: number;
  toBlock: number;
  concentration: Concentration;
}

const MAX_WINDOWS = 10_000;

/**
 * The concentration figures per window of `options.window` blocks: events up to each window's last block are
 * folded into `fold` (events before `fromBlock` too, so the first window starts from the state they left), and the
 * figures are taken at the window's end. Events after `toBlock` are ignored.
 * @throws InputError when the events are not in block order or the options are out of range.
 * @example const points = concentrationHistory(logs, new NetworkReducer(), { window: 1_000 });
 */
export function concentrationHistory<E extends { blockNumber: number }>(
  events: readonly E[],
  fold: NetworkFold<E>,
  options: HistoryOptions,
): HistoryPoint[] {
  checkOrdered(events);
  const window = options.window;
  if (!Number.isSafeInteger(window) || window < 1)
    throw new InputError(`window ${window} is out of range: a whole number of blocks, at least 1`, {
      context: { parameter: "window" },
    });
  const fromBlock = options.fromBlock ?? events[0]?.blockNumber;
  const toBlock = options.toBlock ?? events.at(-1)?.blockNumber;
  if (fromBlock === undefined || toBlock === undefined) return [];
  checkBlock("fromBlock", fromBlock);
  checkBlock("toBlock", toBlock);
  if (toBlock < fromBlock)
    throw new InputError(
      `toBlock ${toBlock} is before fromBlock ${fromBlock}: give a range with fromBlock <= toBlock`,
      { context: { parameter: "toBlock" } },
    );
  if (Math.ceil((toBlock - fromBlock + 1) / window) > MAX_WINDOWS) {
    throw new InputError(
      `window ${window} makes more than ${MAX_WINDOWS} windows over blocks ${fromBlock}..${toBlock}: use a larger window`,
      { context: { parameter: "window" } },
    );
  }
  const points: HistoryPoint[] = [];
  let next = 0;
  for (let start = fromBlock; start <= toBlock; start += window) {
    const end = Math.min(toBlock, start + window - 1);
    while (next < events.length && events[next]!.blockNumber <= end) fold.apply(events[next++]!);
    const since = options.jobs === "cumulative" ? undefined : start;
    points.push({ fromBlock: start, toBlock: end, concentration: computeConcentration(fold.inputs(since), options) });
  }
  return points;
}

function checkOrdered(events: readonly { blockNumber: number }[]): void {
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.blockNumber < events[i - 1]!.blockNumber) {
      throw new InputError(
        `events are not in block order: event ${i} (block ${events[i]!.blockNumber}) comes after block ${events[i - 1]!.blockNumber}`,
      );
    }
  }
}

function checkBlock(name: string, block: number): void {
  if (!Number.isSafeInteger(block) || block < 0)
    throw new InputError(`${name} ${block} is out of range: a block number, a whole number of at least 0`, {
      context: { parameter: name },
    });
}

/**
 * The network's figures over a range of blocks, as `vin network stats`, the hub (`GET /api/network` and its Network
 * page) and `npm start` show them: the concentration figures of the state the network's events leave, and on request
 * their history per window of blocks. One computation, whoever reads the events (the CLI over RPC, the hub from its
 * indexer's tables), and one JSON shape, which {@link parseNetworkFigures} reads back.
 */
import { IntegrityError } from "../core/errors";
import { MODES } from "../core/modes";
import { computeConcentration, concentrationHistory, type Concentration, type HistoryPoint } from "./concentration";
import { type DecodedLog, NetworkReducer, reduceNetworkEvents } from "./events";
import { type Json, toJson } from "./report";

/** The figures of blocks `fromBlock`..`toBlock`. */
export interface NetworkFigures {
  fromBlock: number;
  toBlock: number;
  /** The figures of the state at `toBlock`; jobs are all jobs requested since `fromBlock`. */
  concentration: Concentration;
  /** The figures at the end of each window of blocks, when a window was asked for. */
  history?: HistoryPoint[];
}

/** The blocks the figures cover, and the window of their history, if any. */
export interface NetworkFiguresOptions {
  fromBlock: number;
  toBlock: number;
  /** Blocks per window of the history; none without it. */
  window?: number;
  /**
   * The fold of the range's events, when the caller keeps one (the hub folds its indexed events as they come): the
   * figures are taken from it instead of folding `logs`, which are then read only for the history.
   */
  state?: NetworkReducer;
}

/**
 * The network's figures from its decoded events (`readNetworkEvents`, or the hub's indexed events) in chain order.
 * @throws InputError when the window is out of range or the logs are out of order.
 * @example const figures = networkFigures(await readNetworkEvents(contracts, start, head), { fromBlock: start, toBlock: head, window: 1_000 });
 */
export function networkFigures(logs: readonly DecodedLog[], options: NetworkFiguresOptions): NetworkFigures {
  const { fromBlock, toBlock, window } = options;
  const concentration = computeConcentration((options.state ?? reduceNetworkEvents(logs)).inputs());
  if (window === undefined) return { fromBlock, toBlock, concentration };
  const history = concentrationHistory(logs, new NetworkReducer(), { window, fromBlock, toBlock });
  return { fromBlock, toBlock, concentration, history };
}

/**
 * The figures as JSON: `{ fromBlock, toBlock, ...concentration, history? }`, token amounts as decimal strings. What
 * `vin network stats --json` prints and `GET /api/network` answers.
 * @example JSON.stringify(networkFiguresJson(figures))
 */
export function networkFiguresJson(figures: NetworkFigures): { [key: string]: Json } {
  const { fromBlock, toBlock, concentration, history } = figures;
  return toJson({ fromBlock, toBlock, ...concentration, history }) as { [key: string]: Json };
}

/**
 * Reads {@link networkFiguresJson}'s JSON back (token amounts as bigints): what `vin network stats --hub` does with a
 * hub's answer.
 * @throws IntegrityError naming the first field that is missing or of the wrong type.
 * @example const figures = parseNetworkFigures(await (await fetch(`${hub}/api/network`)).json());
 */
export function parseNetworkFigures(json: unknown): NetworkFigures {
  const body = object(json, "");
  const history = body.history;
  return {
    fromBlock: int(body.fromBlock, "fromBlock"),
    toBlock: int(body.toBlock, "toBlock"),
    concentration: concentrationOf(body, ""),
    ...(history === undefined
      ? {}
      : {
          history: array(history, "history").map((p, i) => {
            const point = object(p, `history[${i}]`);
            return {
              fromBlock: int(point.fromBlock, `history[${i}].fromBlock`),
              toBlock: int(point.toBlock, `history[${i}].toBlock`),
              concentration: concentrationOf(
                object(point.concentration, `history[${i}].concentration`),
                `history[${i}].concentration.`,
              ),
            };
          }),
        }),
  };
}

function concentrationOf(c: Record<string, unknown>, at: string): Concentration {
  const stake = object(c.stake, `${at}stake`);
  const q = stake.quantiles === null ? null : object(stake.quantiles, `${at}stake.quantiles`);
  const nakamoto = object(c.nakamoto, `${at}nakamoto`);
  const hhi = object(c.hhi, `${at}hhi`);
  const jobs = object(c.jobs, `${at}jobs`);
  const servable = object(c.servable, `${at}servable`);
  return {
    operators: int(c.operators, `${at}operators`),
    operatorsPerMode: array(c.operatorsPerMode, `${at}operatorsPerMode`).map((m, i) => {
      const entry = object(m, `${at}operatorsPerMode[${i}]`);
      const mode = MODES.find((d) => d.mode === entry.mode && d.name === entry.name);
      if (mode === undefined) throw invalid(`${at}operatorsPerMode[${i}]`, "a mode of this network");
      return {
        mode: mode.mode,
        name: mode.name,
        operators: int(entry.operators, `${at}operatorsPerMode[${i}].operators`),
      };
    }),
    stake: {
      total: wei(stake.total, `${at}stake.total`),
      quantiles:
        q === null
          ? null
          : {
              min: wei(q.min, `${at}stake.quantiles.min`),
              p25: wei(q.p25, `${at}stake.quantiles.p25`),
              median: wei(q.median, `${at}stake.quantiles.median`),
              p75: wei(q.p75, `${at}stake.quantiles.p75`),
              p90: wei(q.p90, `${at}stake.quantiles.p90`),
              max: wei(q.max, `${at}stake.quantiles.max`),
            },
      top: array(stake.top, `${at}stake.top`).map((t, i) => {
        const top = object(t, `${at}stake.top[${i}]`);
        return {
          n: int(top.n, `${at}stake.top[${i}].n`),
          stake: wei(top.stake, `${at}stake.top[${i}].stake`),
          share: num(top.share, `${at}stake.top[${i}].share`),
        };
      }),
    },
    nakamoto: {
      thresholdBps: int(nakamoto.thresholdBps, `${at}nakamoto.thresholdBps`),
      byStake: nullable(nakamoto.byStake, `${at}nakamoto.byStake`, int),
      byJobs: nullable(nakamoto.byJobs, `${at}nakamoto.byJobs`, int),
    },
    hhi: {
      byStake: nullable(hhi.byStake, `${at}hhi.byStake`, num),
      byJobs: nullable(hhi.byJobs, `${at}hhi.byJobs`, num),
    },
    jobShares: array(c.jobShares, `${at}jobShares`).map((s, i) => {
      const share = object(s, `${at}jobShares[${i}]`);
      if (typeof share.address !== "string") throw invalid(`${at}jobShares[${i}].address`, "an address");
      return {
        address: share.address,
        jobsServed: int(share.jobsServed, `${at}jobShares[${i}].jobsServed`),
        share: num(share.share, `${at}jobShares[${i}].share`),
      };
    }),
    jobs: { total: int(jobs.total, `${at}jobs.total`), redundant: int(jobs.redundant, `${at}jobs.redundant`) },
    servable: {
      models: int(servable.models, `${at}servable.models`),
      byAtLeast: array(servable.byAtLeast, `${at}servable.byAtLeast`).map((b, i) => {
        const entry = object(b, `${at}servable.byAtLeast[${i}]`);
        return {
          k: int(entry.k, `${at}servable.byAtLeast[${i}].k`),
          models: int(entry.models, `${at}servable.byAtLeast[${i}].models`),
        };
      }),
    },
  };
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalid(field === "" ? "the body" : field, "an object");
  return value as Record<string, unknown>;
}

function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw invalid(field, "an array");
  return value;
}

function int(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
    throw invalid(field, "a whole number of at least 0");
  return value;
}

function num(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw invalid(field, "a number");
  return value;
}

function wei(value: unknown, field: string): bigint {
  if (typeof value !== "string" || !/^\d{1,78}$/.test(value)) throw invalid(field, "a decimal string of token wei");
  return BigInt(value);
}

function nullable<T>(value: unknown, field: string, read: (value: unknown, field: string) => T): T | null {
  return value === null ? null : read(value, field);
}

function invalid(field: string, expected: string): IntegrityError {
  return new IntegrityError(`the network figures' ${field} is not ${expected}`, { context: { field } });
}

/**
 * An operator's return on investment, simulated month by month with its downside in view: hardware depreciates
 * whether or not demand shows up, stake has an opportunity cost, slashes happen, and every operator who joins takes
 * a share of the jobs. A seeded Monte Carlo (core's `seededRandom`) draws demand, token price and slashes; the
 * same parameters and seed give the same report on every machine.
 *
 * Units: money (hardware, power, hosting, cash flow) in one currency, say USD; token amounts (stake, fee per job,
 * slash amount) in whole tokens, converted at the month's token price.
 *
 * Month m (1-based) of a run:
 * - operators n(m) = `operators` + floor(`joinsPerMonth` × (m − 1)), this one included;
 * - its share of the network's jobs: 1 / n(m) (equal split), or its stake over all stake (stake-weighted, every
 *   competitor staking `othersStake`);
 * - jobs served = demand(m) × share × uptime (jobs it is down for go to others);
 * - revenue = jobs × feePerJob × price(m); slashing = slashes × slash amount × price(m), with slashes drawn as
 *   Poisson(jobs × probability per job);
 * - opportunity cost = stake × price(m) × annual rate / 12;
 * - cash flow = revenue − slashing − power − hosting − depreciation(m) − opportunity cost. Depreciation spreads the
 *   hardware's cost less its resale value over its life, so the sum of cash flows to the horizon is the profit if
 *   the hardware were sold at its book value then.
 *
 * Payback month: the first month whose cumulative cash before depreciation (revenue − slashing − power − hosting −
 * opportunity cost) reaches the hardware's cost, resale not counted; null when that never happens within the
 * horizon. Loss at the horizon: the sum of cash flows plus the stake's change in value (stake × (price(H) −
 * price(1))) is below zero.
 */
import { InputError } from "../core/errors";
import { seededRandom } from "../core/random";

/** How hardware loses value. */
export type DepreciationMethod = "straight-line" | "declining-balance";

/** The hardware bought to run a node. */
export interface HardwareParams {
  /** Purchase cost (money, at least 0). */
  cost: number;
  /** What it sells for at the end of its life (money, 0 to `cost`). */
  resaleValue: number;
  /** Months over which it depreciates (1–240). */
  lifeMonths: number;
  method: DepreciationMethod;
  /**
   * Declining balance only: the share of the book value written off per year (above 0, at most 12, that is all of
   * it in one month). Default 24 / `lifeMonths` (double declining balance). The last month of life writes the book
   * value down to `resaleValue`; it never goes below it.
   */
  annualRate?: number;
}

/** Jobs requested from the whole network per month. */
export type DemandParams =
  /** The same every month; `volatility` (0–5) draws each month's demand around it (lognormal, mean kept). */
  | { kind: "constant"; jobsPerMonth: number; volatility?: number }
  /** One value per month, from month 1; the last holds after the path ends. `volatility` as for constant. */
  | { kind: "path"; jobsPerMonth: readonly number[]; volatility?: number }
  /** Each month draws one of `samples` (jobs per month seen on the chain, for example). */
  | { kind: "history"; samples: readonly number[] };

/** The token's price (money per token). */
export type PriceParams =
  | { kind: "constant"; price: number }
  /** One price per month, from month 1; the last holds after the path ends. */
  | { kind: "path"; prices: readonly number[] }
  /** Geometric Brownian motion from `initial` in month 1, drift and volatility per year. */
  | { kind: "gbm"; initial: number; annualDrift: number; annualVolatility: number };

/** Who else serves the network, and how jobs are split among operators. */
export interface CompetitionParams {
  /** Operators in month 1, this one included (1 to 1,000,000). */
  operators: number;
  /** Operators joining per month (0 to 10,000; a fraction adds one every so many months). Default 0. */
  joinsPerMonth?: number;
  /** Equal split, or in proportion to stake. */
  split: "equal" | "stake-weighted";
  /** Stake of each competitor in tokens, for the stake-weighted split. Default this operator's stake. */
  othersStake?: number;
}

/** Parameters of {@link simulateRoi}. */
export interface RoiParams {
  /** Months simulated (1–240). */
  horizonMonths: number;
  hardware: HardwareParams;
  /** Power per month (money, at least 0). */
  powerPerMonth: number;
  /** Hosting, bandwidth and maintenance per month (money, at least 0). */
  hostingPerMonth: number;
  /** Share of the time the node is up and takes its share of jobs (0–1). */
  uptime: number;
  /** Tokens staked, and the yearly return they would earn elsewhere (0–1, e.g. 0.05). */
  stake: { amount: number; annualRate: number };
  /** Chance that a job served ends in a slash (0–1), and the tokens each slash takes. */
  slashing: { probabilityPerJob: number; amount: number };
  demand: DemandParams;
  competition: CompetitionParams;
  /** Tokens the node earns per job served (at least 0). */
  feePerJob: number;
  tokenPrice: PriceParams;
  /** Monte Carlo runs (1–10,000). Default 1,000. */
  runs?: number;
  /** Seed of the generator (a whole number from 0 to 2^32 − 1). Default 1. */
  seed?: number;
  /** Operator counts of the returns-versus-operators curve (each 1 to 1,000,000, at most 50). Default [1, 2, 3, 5, 10, 20, 50]. */
  operatorCurve?: readonly number[];
}

/** A month's distribution over the runs: mean and percentiles (linear interpolation between order statistics). */
export interface MonthStats {
  month: number;
  mean: number;
  p5: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
}

/** One point of the returns-versus-operators curve: the same network with `operators` operators throughout. */
export interface OperatorsPoint {
  operators: number;
  /** Mean monthly cash flow. */
  meanMonthly: number;
  /** Mean sum of cash flows plus the stake's change in value at the horizon. */
  meanTotal: number;
  lossProbability: number;
  paybackMonth: number | null;
}

/** What {@link simulateRoi} reports. */
export interface RoiResult {
  /** The parameters, defaults filled in. */
  params: Required<RoiParams>;
  /** Depreciation per month (deterministic). */
  depreciation: number[];
  /** Competing operators per month, this one included. */
  operators: number[];
  /** Mean jobs served per month. */
  meanJobs: number[];
  /** Mean revenue per month. */
  meanRevenue: number[];
  /** Cash flow per month over the runs. */
  monthly: MonthStats[];
  /** Cumulative cash flow at the end of each month over the runs. */
  cumulative: MonthStats[];
  /** The median payback month over the runs (null: never within the horizon), and the share of runs that pay back. */
  payback: { month: number | null; probability: number };
  /** The sum of cash flows plus the stake's change in value at the horizon, over the runs. */
  horizon: {
    mean: number;
    p5: number;
    p50: number;
    p95: number;
    lossProbability: number;
    meanStakeRevaluation: number;
  };
  /** The same operator if no job ever comes. */
  zeroDemand: { meanMonthly: number[]; meanTotal: number; lossProbability: number; paybackMonth: number | null };
  byOperators: OperatorsPoint[];
}

const MAX_MONTHS = 240;
const MAX_RUNS = 10_000;
const CURVE_RUNS = 1_000;

/**
 * Simulates an operator's monthly cash flow (see the file comment for the model).
 * @throws InputError naming the first parameter out of range and its allowed range.
 * @example
 * const result = simulateRoi({
 *   horizonMonths: 36, hardware: { cost: 3000, resaleValue: 600, lifeMonths: 36, method: "straight-line" },
 *   powerPerMonth: 40, hostingPerMonth: 20, uptime: 0.99, stake: { amount: 1000, annualRate: 0.05 },
 *   slashing: { probabilityPerJob: 0.001, amount: 10 }, demand: { kind: "constant", jobsPerMonth: 50_000 },
 *   competition: { operators: 5, joinsPerMonth: 1, split: "equal" }, feePerJob: 0.01, tokenPrice: { kind: "constant", price: 1 },
 * });
 * result.payback.month; // the median payback month, or null
 */
export function simulateRoi(params: RoiParams): RoiResult {
  const p = validateRoiParams(params);
  const main = monteCarlo(p, p.runs);
  const zero = monteCarlo({ ...p, demand: { kind: "constant", jobsPerMonth: 0 } }, p.runs);
  const byOperators = p.operatorCurve.map((n) => {
    const point = monteCarlo(
      { ...p, competition: { ...p.competition, operators: n, joinsPerMonth: 0 } },
      Math.min(p.runs, CURVE_RUNS),
    );
    return {
      operators: n,
      meanMonthly: mean(point.meanNet),
      meanTotal: mean(point.totals),
      lossProbability: point.lossProbability,
      paybackMonth: point.paybackMonth,
    };
  });
  return {
    params: p,
    depreciation: depreciationSchedule(p.hardware, p.horizonMonths),
    operators: months(p.horizonMonths).map((m) => operatorsIn(p.competition, m)),
    meanJobs: main.meanJobs,
    meanRevenue: main.meanRevenue,
    monthly: main.monthly,
    cumulative: main.cumulative,
    payback: { month: main.paybackMonth, probability: main.paybackProbability },
    horizon: {
      mean: mean(main.totals),
      p5: quantile(main.totals, 0.05),
      p50: quantile(main.totals, 0.5),
      p95: quantile(main.totals, 0.95),
      lossProbability: main.lossProbability,
      meanStakeRevaluation: main.meanRevaluation,
    },
    zeroDemand: {
      meanMonthly: zero.meanNet,
      meanTotal: mean(zero.totals),
      lossProbability: zero.lossProbability,
      paybackMonth: zero.paybackMonth,
    },
    byOperators,
  };
}

/**
 * Depreciation of `hardware` in each of `horizon` months (zero after its life).
 * @example depreciationSchedule({ cost: 1000, resaleValue: 100, lifeMonths: 3, method: "straight-line" }, 4) // [300, 300, 300, 0]
 */
export function depreciationSchedule(hardware: HardwareParams, horizon: number): number[] {
  const h = validateHardware(hardware);
  checkNumber("horizonMonths", horizon, { min: 1, max: MAX_MONTHS, integer: true });
  const rate = (h.annualRate ?? 24 / h.lifeMonths) / 12;
  let book = h.cost;
  return months(horizon).map((m) => {
    if (m > h.lifeMonths) return 0;
    const amount =
      h.method === "straight-line"
        ? (h.cost - h.resaleValue) / h.lifeMonths
        : m === h.lifeMonths
          ? book - h.resaleValue
          : Math.min(book * rate, book - h.resaleValue);
    book -= amount;
    return amount;
  });
}

/** Competing operators in month `m`, this one included. */
function operatorsIn(c: CompetitionParams, m: number): number {
  return c.operators + Math.floor((c.joinsPerMonth ?? 0) * (m - 1));
}

/** This operator's share of the network's jobs with `n` operators. */
function shareOf(p: Required<RoiParams>, n: number): number {
  if (p.competition.split === "equal") return 1 / n;
  const mine = p.stake.amount;
  return mine / (mine + (n - 1) * (p.competition.othersStake ?? mine));
}

/* MONTE CARLO */

interface Aggregate {
  monthly: MonthStats[];
  cumulative: MonthStats[];
  meanNet: number[];
  meanJobs: number[];
  meanRevenue: number[];
  /** Per run: sum of cash flows plus the stake's change in value. */
  totals: number[];
  meanRevaluation: number;
  lossProbability: number;
  paybackMonth: number | null;
  paybackProbability: number;
}

function monteCarlo(p: Required<RoiParams>, runs: number): Aggregate {
  const horizon = p.horizonMonths;
  const random = seededRandom(p.seed);
  const normal = gaussian(random);
  const depreciation = depreciationSchedule(p.hardware, horizon);
  const shares = months(horizon).map((m) => shareOf(p, operatorsIn(p.competition, m)) * p.uptime);
  const fixed = p.powerPerMonth + p.hostingPerMonth;
  const net = months(horizon).map(() => new Float64Array(runs));
  const cumulative = months(horizon).map(() => new Float64Array(runs));
  const [jobsSum, revenueSum] = [new Float64Array(horizon), new Float64Array(horizon)];
  const totals: number[] = [];
  const paybacks: number[] = [];
  let revaluationSum = 0;
  for (let run = 0; run < runs; run++) {
    const prices = pricePath(p.tokenPrice, horizon, normal);
    let [total, operating, payback] = [0, 0, Infinity];
    for (let i = 0; i < horizon; i++) {
      const jobs = demandIn(p.demand, i, random, normal) * shares[i]!;
      const price = prices[i]!;
      const revenue = jobs * p.feePerJob * price;
      const slashing = poisson(jobs * p.slashing.probabilityPerJob, random, normal) * p.slashing.amount * price;
      const opportunity = (p.stake.amount * price * p.stake.annualRate) / 12;
      const cash = revenue - slashing - fixed - opportunity;
      operating += cash;
      if (payback === Infinity && operating >= p.hardware.cost) payback = i + 1;
      total += cash - depreciation[i]!;
      net[i]![run] = cash - depreciation[i]!;
      cumulative[i]![run] = total;
      jobsSum[i] += jobs;
      revenueSum[i] += revenue;
    }
    const revaluation = p.stake.amount * (prices[horizon - 1]! - prices[0]!);
    revaluationSum += revaluation;
    totals.push(total + revaluation);
    paybacks.push(payback);
  }
  const medianPayback = quantileRank(paybacks, 0.5);
  return {
    monthly: net.map((column, i) => monthStats(i + 1, column)),
    cumulative: cumulative.map((column, i) => monthStats(i + 1, column)),
    meanNet: net.map((column) => mean(column)),
    meanJobs: Array.from(jobsSum, (s) => s / runs),
    meanRevenue: Array.from(revenueSum, (s) => s / runs),
    totals,
    meanRevaluation: revaluationSum / runs,
    lossProbability: totals.filter((t) => t < 0).length / runs,
    paybackMonth: Number.isFinite(medianPayback) ? medianPayback : null,
    paybackProbability: paybacks.filter(Number.isFinite).length / runs,
  };
}

function demandIn(d: DemandParams, i: number, random: () => number, normal: () => number): number {
  if (d.kind === "history") return d.samples[Math.floor(random() * d.samples.length)]!;
  const base = d.kind === "constant" ? d.jobsPerMonth : d.jobsPerMonth[Math.min(i, d.jobsPerMonth.length - 1)]!;
  const sigma = d.volatility ?? 0;
  return sigma === 0 ? base : base * Math.exp(sigma * normal() - (sigma * sigma) / 2);
}

function pricePath(price: PriceParams, horizon: number, normal: () => number): number[] {
  if (price.kind === "constant") return new Array<number>(horizon).fill(price.price);
  if (price.kind === "path") return months(horizon).map((m) => price.prices[Math.min(m - 1, price.prices.length - 1)]!);
  const [drift, sigma] = [price.annualDrift / 12, price.annualVolatility / Math.sqrt(12)];
  const path = [price.initial];
  for (let m = 2; m <= horizon; m++)
    path.push(path.at(-1)! * Math.exp(drift - (sigma * sigma) / 2 + (sigma === 0 ? 0 : sigma * normal())));
  return path;
}

/** A Poisson draw with mean `lambda`: by inversion below 30, by its normal approximation above. */
function poisson(lambda: number, random: () => number, normal: () => number): number {
  if (lambda <= 0) return 0;
  if (lambda >= 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal()));
  const limit = Math.exp(-lambda);
  let [k, product] = [0, random()];
  while (product > limit) {
    k++;
    product *= random();
  }
  return k;
}

/** Standard normal draws from `random` (Box–Muller, one of each pair kept for the next call). */
function gaussian(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const [u, v] = [1 - random(), random()];
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/* STATISTICS */

function monthStats(month: number, values: ArrayLike<number>): MonthStats {
  const sorted = Float64Array.from(values).sort();
  return {
    month,
    mean: mean(sorted),
    p5: quantile(sorted, 0.05),
    p25: quantile(sorted, 0.25),
    p50: quantile(sorted, 0.5),
    p75: quantile(sorted, 0.75),
    p95: quantile(sorted, 0.95),
  };
}

/** The `q`-quantile of `values`, interpolating linearly between order statistics. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const [low, high] = [Math.floor(position), Math.ceil(position)];
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

/** The nearest-rank `q`-quantile (one of the values; works with Infinity for "never"). */
function quantileRank(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return values.length === 0 ? NaN : s / values.length;
}

function months(horizon: number): number[] {
  return Array.from({ length: horizon }, (_, i) => i + 1);
}

/* VALIDATION */

interface Range {
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  max?: number;
  integer?: boolean;
}

/**
 * `params` with defaults filled in.
 * @throws InputError naming the first parameter out of range and the range it must be in.
 */
export function validateRoiParams(params: RoiParams): Required<RoiParams> {
  checkNumber("horizonMonths", params.horizonMonths, { min: 1, max: MAX_MONTHS, integer: true });
  const hardware = validateHardware(params.hardware);
  checkNumber("powerPerMonth", params.powerPerMonth, { min: 0 });
  checkNumber("hostingPerMonth", params.hostingPerMonth, { min: 0 });
  checkNumber("uptime", params.uptime, { min: 0, max: 1 });
  checkNumber("stake.amount", params.stake?.amount, { min: 0 });
  checkNumber("stake.annualRate", params.stake?.annualRate, { min: 0, max: 1 });
  checkNumber("slashing.probabilityPerJob", params.slashing?.probabilityPerJob, { min: 0, max: 1 });
  checkNumber("slashing.amount", params.slashing?.amount, { min: 0 });
  validateDemand(params.demand);
  validateCompetition(params.competition, params.stake.amount);
  checkNumber("feePerJob", params.feePerJob, { min: 0 });
  validatePrice(params.tokenPrice);
  const runs = checkNumber("runs", params.runs ?? 1_000, { min: 1, max: MAX_RUNS, integer: true });
  const seed = checkNumber("seed", params.seed ?? 1, { min: 0, max: 2 ** 32 - 1, integer: true });
  const operatorCurve = params.operatorCurve ?? [1, 2, 3, 5, 10, 20, 50];
  if (!Array.isArray(operatorCurve) || operatorCurve.length > 50)
    throw rangeError("operatorCurve", operatorCurve, "a list of at most 50 operator counts");
  operatorCurve.forEach((n, i) => checkNumber(`operatorCurve[${i}]`, n, { min: 1, max: 1_000_000, integer: true }));
  return { ...params, hardware, runs, seed, operatorCurve };
}

function validateHardware(h: HardwareParams): HardwareParams {
  if (typeof h !== "object" || h === null)
    throw rangeError("hardware", h, "an object with cost, resaleValue, lifeMonths and method");
  checkNumber("hardware.cost", h.cost, { min: 0 });
  checkNumber("hardware.resaleValue", h.resaleValue, { min: 0, max: h.cost });
  checkNumber("hardware.lifeMonths", h.lifeMonths, { min: 1, max: MAX_MONTHS, integer: true });
  checkChoice("hardware.method", h.method, ["straight-line", "declining-balance"]);
  if (h.annualRate !== undefined) {
    if (h.method !== "declining-balance")
      throw rangeError("hardware.annualRate", h.annualRate, 'unset unless method is "declining-balance"');
    checkNumber("hardware.annualRate", h.annualRate, { above: 0, max: 12 });
  }
  return h;
}

function validateDemand(d: DemandParams): void {
  if (typeof d !== "object" || d === null)
    throw rangeError("demand", d, 'an object with kind "constant", "path" or "history"');
  checkChoice("demand.kind", d.kind, ["constant", "path", "history"]);
  if (d.kind === "constant") checkNumber("demand.jobsPerMonth", d.jobsPerMonth, { min: 0, max: 1e12 });
  if (d.kind === "path") checkList("demand.jobsPerMonth", d.jobsPerMonth, { min: 0, max: 1e12 });
  if (d.kind === "history") checkList("demand.samples", d.samples, { min: 0, max: 1e12 });
  if (d.kind !== "history" && d.volatility !== undefined)
    checkNumber("demand.volatility", d.volatility, { min: 0, max: 5 });
}

function validateCompetition(c: CompetitionParams, stake: number): void {
  if (typeof c !== "object" || c === null) throw rangeError("competition", c, "an object with operators and split");
  checkNumber("competition.operators", c.operators, { min: 1, max: 1_000_000, integer: true });
  if (c.joinsPerMonth !== undefined) checkNumber("competition.joinsPerMonth", c.joinsPerMonth, { min: 0, max: 10_000 });
  checkChoice("competition.split", c.split, ["equal", "stake-weighted"]);
  if (c.othersStake !== undefined) checkNumber("competition.othersStake", c.othersStake, { min: 0 });
  if (c.split === "stake-weighted" && !(stake > 0))
    throw rangeError(
      "stake.amount",
      stake,
      'above 0 for the "stake-weighted" split (with no stake the operator gets no job)',
    );
}

function validatePrice(price: PriceParams): void {
  if (typeof price !== "object" || price === null)
    throw rangeError("tokenPrice", price, 'an object with kind "constant", "path" or "gbm"');
  checkChoice("tokenPrice.kind", price.kind, ["constant", "path", "gbm"]);
  if (price.kind === "constant") checkNumber("tokenPrice.price", price.price, { min: 0 });
  if (price.kind === "path") checkList("tokenPrice.prices", price.prices, { min: 0 });
  if (price.kind === "gbm") {
    checkNumber("tokenPrice.initial", price.initial, { above: 0 });
    checkNumber("tokenPrice.annualDrift", price.annualDrift, { min: -5, max: 5 });
    checkNumber("tokenPrice.annualVolatility", price.annualVolatility, { min: 0, max: 5 });
  }
}

function checkNumber(name: string, value: unknown, range: Range): number {
  const ok =
    typeof value === "number" &&
    Number.isFinite(value) &&
    (range.integer !== true || Number.isInteger(value)) &&
    (range.min === undefined || value >= range.min) &&
    (range.above === undefined || value > range.above) &&
    (range.max === undefined || value <= range.max);
  if (!ok) throw rangeError(name, value, describe(range));
  return value;
}

function checkList(name: string, values: unknown, range: Range): void {
  if (!Array.isArray(values) || values.length === 0 || values.length > 10_000)
    throw rangeError(name, values, "a list of 1 to 10,000 numbers");
  values.forEach((v: unknown, i) => checkNumber(`${name}[${i}]`, v, range));
}

function checkChoice(name: string, value: unknown, choices: readonly string[]): void {
  if (typeof value !== "string" || !choices.includes(value))
    throw rangeError(name, value, `one of ${choices.map((c) => `"${c}"`).join(", ")}`);
}

function describe(range: Range): string {
  const kind = range.integer === true ? "a whole number" : "a number";
  if (range.min !== undefined && range.max !== undefined) return `${kind} from ${range.min} to ${range.max}`;
  if (range.above !== undefined && range.max !== undefined)
    return `${kind} above ${range.above} and at most ${range.max}`;
  if (range.max !== undefined) return `${kind} of at most ${range.max}`;
  if (range.min !== undefined) return `${kind} of at least ${range.min}`;
  if (range.above !== undefined) return `${kind} above ${range.above}`;
  return `a finite ${kind.slice(2)}`;
}

function rangeError(name: string, value: unknown, allowed: string): InputError {
  const shown =
    typeof value === "string" ? `"${value}"` : Array.isArray(value) ? `a list of ${value.length}` : String(value);
  return new InputError(`ROI parameter ${name} is ${shown}: it must be ${allowed}`, {
    context: { parameter: name, allowed },
  });
}

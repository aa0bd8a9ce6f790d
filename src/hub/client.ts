import { formatUnits } from "ethers";
import { InputError, TransportError } from "../core/errors";
import { type NetworkFigures, parseNetworkFigures } from "../economics";
import type { SearchHit, SearchResult } from "./search";

/** Default hub API, as `vin hub serve` starts it. */
export const DEFAULT_HUB_URL = "http://127.0.0.1:8787";

/** The filters of `/api/search`, each passed as given (the hub validates them). */
export interface SearchHubFilters {
  task?: string;
  license?: string;
  library?: string;
  language?: string;
  mode?: string;
  minUsage?: string;
  sort?: string;
  page?: string;
}

/** Options of {@link searchHub}. */
export interface SearchHubOptions {
  /** Base URL of the hub API. Default {@link DEFAULT_HUB_URL}. */
  hubUrl?: string;
  /** Words to search for; empty lists every model. */
  words?: readonly string[];
  filters?: SearchHubFilters;
  /** Default 15 s. */
  timeoutMs?: number;
}

/**
 * Asks a hub's `/api/search`. A hub that cannot be reached is a TransportError; a hub that rejects a parameter is an
 * InputError carrying the hub's message.
 * @example
 * const { hits } = await searchHub({ hubUrl: "http://127.0.0.1:8787", words: ["fraud"], filters: { mode: "tee" } });
 */
export async function searchHub(options: SearchHubOptions): Promise<SearchResult> {
  const base = (options.hubUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, "");
  const params = new URLSearchParams();
  if (options.words !== undefined && options.words.length > 0) params.set("q", options.words.join(" "));
  for (const [name, value] of Object.entries(options.filters ?? {}))
    if (typeof value === "string") params.set(name, value);
  const url = `${base}/api/search?${params.toString()}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 15_000) });
  } catch (cause) {
    throw new TransportError(
      `Cannot reach the hub at ${new URL(url).origin} (start it with \`vin hub serve\` or pass --hub).`,
      { cause },
    );
  }
  const body = (await res.json()) as SearchResult & { message?: string };
  if (!res.ok) {
    const message = body.message ?? `Hub answered HTTP ${res.status}.`;
    throw res.status >= 400 && res.status < 500 ? new InputError(message) : new TransportError(message);
  }
  return body;
}

/** Options of {@link fetchNetworkFigures}. */
export interface FetchNetworkFiguresOptions {
  /** Base URL of the hub API. Default {@link DEFAULT_HUB_URL}. */
  hubUrl?: string;
  /** Blocks per window of the history; none without it. */
  window?: number;
  /** Default 15 s. */
  timeoutMs?: number;
}

/**
 * Asks a hub's `/api/network` for the network's concentration figures, which it computes from the events its indexer
 * keeps. A hub that cannot be reached, or has not indexed the network yet, is a TransportError; a rejected parameter
 * an InputError with the hub's message; an answer that is not the figures an IntegrityError naming the field.
 * @example const { concentration } = await fetchNetworkFigures({ hubUrl: "http://127.0.0.1:8787" });
 */
export async function fetchNetworkFigures(options: FetchNetworkFiguresOptions = {}): Promise<NetworkFigures> {
  const base = (options.hubUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, "");
  const url = `${base}/api/network${options.window === undefined ? "" : `?window=${options.window}`}`;
  let res: Response;
  let body: unknown;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 15_000) });
    body = await res.json();
  } catch (cause) {
    throw new TransportError(`Cannot read the network figures of the hub at ${new URL(url).origin}.`, { cause });
  }
  if (!res.ok) {
    const message = (body as { message?: unknown } | null)?.message?.toString() ?? `Hub answered HTTP ${res.status}.`;
    throw res.status === 400 ? new InputError(message) : new TransportError(`${new URL(url).origin}: ${message}`);
  }
  return parseNetworkFigures(body);
}

/**
 * Verified usage as the hub shows it: `12 verified jobs · 34.5 tokens paid (3 below the usage floor, not counted)`.
 * @example usageLine({ verifiedJobs: 1, paidVolume: "10".padEnd(19, "0"), belowFloorJobs: 0 }, 18) // "1 verified job · 1 token paid"
 */
export function usageLine(
  usage: Pick<SearchHit, "verifiedJobs" | "paidVolume" | "belowFloorJobs">,
  decimals: number,
): string {
  const jobs = `${usage.verifiedJobs} verified ${usage.verifiedJobs === 1 ? "job" : "jobs"} · ${tokenAmount(usage.paidVolume, decimals)} paid`;
  return usage.belowFloorJobs > 0 ? `${jobs} (${usage.belowFloorJobs} below the usage floor, not counted)` : jobs;
}

/**
 * A token amount in wei as words: `1 token`, `0.5 tokens`, `12 tokens`.
 * @example tokenAmount("1000000000000000000", 18) // "1 token"
 */
export function tokenAmount(wei: string | bigint, decimals: number): string {
  const amount = formatUnits(wei, decimals).replace(/\.0$/, "");
  return `${amount} ${amount === "1" ? "token" : "tokens"}`;
}

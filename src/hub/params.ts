import { HubParamError } from "./errors";
import { type Mode, type ModelId, Modes, toMode, toModelId } from "./ids";
import { MAX_QUERY_LENGTH } from "./query";
import type { PageRequest, SearchFilters, SearchSort } from "./search";

/** A parsed `GET /api/search` request. */
export interface SearchRequest {
  query: string;
  filters: SearchFilters;
  sort: SearchSort;
  page: PageRequest;
}

const SEARCH_PARAMS = new Set(["q", "task", "license", "library", "language", "mode", "minUsage", "sort", "page", "pageSize"]);
const MODE_NAMES: Record<string, Mode> = { vanilla: Modes.vanilla, tee: Modes.tee, zk: Modes.zk };
const MAX_PARAM_LENGTH = 100;

/**
 * Parses the query string of `GET /api/search`: `q`, the filters `task`, `license`, `library`, `language`, `mode`,
 * `minUsage`, then `sort`, `page` and `pageSize`.
 * @throws {HubParamError} naming the first bad parameter (unknown, repeated, or malformed).
 * @example parseSearchParams(new URLSearchParams("q=fraud&mode=zk&minUsage=5")).filters.mode // Modes.zk
 */
export function parseSearchParams(params: URLSearchParams): SearchRequest {
  checkNames(params);
  const query = single(params, "q") ?? "";
  if (query.length > MAX_QUERY_LENGTH) throw new HubParamError("q", `must be at most ${MAX_QUERY_LENGTH} characters`);
  const filters: SearchFilters = {};
  // `language` is checked by the engine (an ISO 639-1 code or an English name), which names it in its HubParamError.
  for (const name of ["task", "license", "library", "language"] as const) {
    const value = text(params, name);
    if (value !== undefined) filters[name] = value;
  }
  const mode = single(params, "mode");
  if (mode !== undefined) filters.mode = parseMode(mode);
  const minUsage = integer(params, "minUsage");
  if (minUsage !== undefined) filters.minUsage = minUsage;
  const page: PageRequest = {};
  const pageNumber = integer(params, "page");
  if (pageNumber !== undefined) page.page = pageNumber;
  const pageSize = integer(params, "pageSize");
  if (pageSize !== undefined) page.pageSize = pageSize;
  return { query, filters, sort: parseSort(single(params, "sort")), page };
}

/**
 * Parses the `:id` of `GET /api/models/:id`.
 * @throws {HubParamError} if it is not a positive decimal integer.
 */
export function parseModelIdParam(raw: string): ModelId {
  const id = /^[1-9]\d{0,15}$/.test(raw) ? toModelId(Number(raw)) : undefined;
  if (id === undefined) throw new HubParamError("id", "must be a positive integer model id");
  return id;
}

function checkNames(params: URLSearchParams): void {
  for (const name of new Set(params.keys())) {
    if (!SEARCH_PARAMS.has(name)) throw new HubParamError(name, "is not a known parameter");
    if (params.getAll(name).length > 1) throw new HubParamError(name, "must be given at most once");
  }
}

function single(params: URLSearchParams, name: string): string | undefined {
  return params.get(name) ?? undefined;
}

function text(params: URLSearchParams, name: string): string | undefined {
  const value = single(params, name)?.trim();
  if (value === undefined || value === "") return undefined;
  if (value.length > MAX_PARAM_LENGTH) throw new HubParamError(name, `must be at most ${MAX_PARAM_LENGTH} characters`);
  return value;
}

function integer(params: URLSearchParams, name: string): number | undefined {
  const value = single(params, name);
  if (value === undefined || value === "") return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new HubParamError(name, "must be a non-negative integer");
  return Number(value);
}

function parseMode(value: string): Mode {
  const named = MODE_NAMES[value.toLowerCase()];
  if (named !== undefined) return named;
  const mode = /^\d{1,2}$/.test(value) ? toMode(Number(value)) : undefined;
  if (mode === undefined) throw new HubParamError("mode", "must be vanilla, tee, zk or a mode number below 32");
  return mode;
}

function parseSort(value: string | undefined): SearchSort {
  if (value === undefined || value === "") return "relevance";
  if (value === "relevance" || value === "usage" || value === "recency") return value;
  throw new HubParamError("sort", "must be relevance, usage or recency");
}

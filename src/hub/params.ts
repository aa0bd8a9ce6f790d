import { HubParamError } from "./errors";
import { isMode, isModeName, MODE_BY_NAME, MODES, type Mode } from "../core/modes";
import { modelIdNumber } from "./ids";
import { MAX_QUERY_LENGTH } from "./query";
import type { PageRequest, SearchFilters, SearchSort } from "./search";

/** A parsed `GET /api/search` request. */
export interface SearchRequest {
  query: string;
  filters: SearchFilters;
  sort: SearchSort;
  page: PageRequest;
}

const SEARCH_PARAMS = new Set([
  "q",
  "task",
  "license",
  "library",
  "language",
  "mode",
  "minUsage",
  "sort",
  "page",
  "pageSize",
]);
const MAX_PARAM_LENGTH = 100;

/**
 * Parses the query string of `GET /api/search`: `q`, the filters `task`, `license`, `library`, `language`, `mode`,
 * `minUsage`, then `sort`, `page` and `pageSize`.
 * @throws {HubParamError} naming the first bad parameter (unknown, repeated, or malformed).
 * @example parseSearchParams(new URLSearchParams("q=fraud&mode=zk&minUsage=5")).filters.mode // Mode.Zk
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
export function parseModelIdParam(raw: string): number {
  if (!/^[1-9]\d{0,15}$/.test(raw) || !Number.isSafeInteger(Number(raw)))
    throw new HubParamError("id", "must be a positive integer model id");
  return modelIdNumber(raw);
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

/** A mode by name (any case) or number. */
function parseMode(value: string): Mode {
  const name = value.toLowerCase();
  if (isModeName(name)) return MODE_BY_NAME[name];
  const number = /^\d{1,2}$/.test(value) ? Number(value) : undefined;
  if (isMode(number)) return number;
  throw new HubParamError(
    "mode",
    `must be ${MODES.map((m) => m.name).join(", ")} or a mode's number (${MODES.map((m) => m.mode).join(", ")})`,
  );
}

function parseSort(value: string | undefined): SearchSort {
  if (value === undefined || value === "") return "relevance";
  if (value === "relevance" || value === "usage" || value === "recency") return value;
  throw new HubParamError("sort", "must be relevance, usage or recency");
}

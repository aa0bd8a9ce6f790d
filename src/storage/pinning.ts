/**
 * A client of the IPFS Pinning Service API (https://ipfs.github.io/pinning-services-api-spec/, v1.0 / schema 0.1.2):
 * a publisher who pays a pinning service asks it to keep a model's files, so they stay retrievable when the
 * publisher's own peer is gone. Every request carries the bearer token, runs under a time limit and, when it is
 * idempotent, is retried on network failures, time-outs, 5xx and 429; every answer is checked against the spec's
 * schema before it is used. The token is never logged nor put in an error.
 */
import type { Logger } from "../core/log";
import {
  BaseError,
  ConfigError,
  InputError,
  NotFoundError,
  TimeoutError,
  TransportError,
  type BaseErrorOptions,
} from "../core/errors";
import { isTransportError, sleep, withRetry, withTimeout } from "../core/retry";
import { readCappedBody } from "../core/transport";

/** Where a pin request stands at the service. */
export type PinState = "queued" | "pinning" | "pinned" | "failed";
export const PIN_STATES: readonly PinState[] = ["queued", "pinning", "pinned", "failed"];

/** What to pin (the spec's `Pin`). */
export interface Pin {
  /** Root CID, pinned recursively. */
  cid: string;
  /** At most 255 characters; can be used to find the pin later. */
  name?: string;
  /** Multiaddrs known to provide the content (at most 20). */
  origins?: string[];
  /** String keys and values kept with the pin. */
  meta?: Record<string, string>;
}

/** A pin request and where it stands (the spec's `PinStatus`). */
export interface PinStatus {
  requestid: string;
  status: PinState;
  /** RFC 3339 time the request entered the service; unique, orders pagination. */
  created: string;
  pin: Pin;
  /** Multiaddrs of the service's peers that take the content. */
  delegates: string[];
  info?: Record<string, string>;
}

/** One page of pin requests (the spec's `PinResults`). */
export interface PinResults {
  /** How many requests match the filters in all (more than `results.length` means more pages). */
  count: number;
  results: PinStatus[];
}

/** Per-call options. */
export interface PinningCallOptions {
  signal?: AbortSignal;
}

/** Filters of {@link PinningServiceClient.list}. Without any, the spec returns only `pinned` requests. */
export interface ListPinsOptions extends PinningCallOptions {
  /** At most 10 CIDs. */
  cid?: string[];
  name?: string;
  match?: "exact" | "iexact" | "partial" | "ipartial";
  status?: PinState[];
  /** RFC 3339: requests created strictly before / after. */
  before?: string;
  after?: string;
  /** 1 to 1000; the service's default is 10. */
  limit?: number;
  meta?: Record<string, string>;
}

/** Options of {@link PinningServiceClient.waitPinned}. */
export interface WaitPinnedOptions extends PinningCallOptions {
  /** How long to wait for `pinned` in all. Default 10 min. */
  timeoutMs?: number;
  /** Delay between two status reads. Default 2 s. */
  pollMs?: number;
  /** Called with every status read, e.g. to show progress. */
  onStatus?: (status: PinStatus) => void;
}

/** Options of {@link PinningServiceClient}. */
export interface PinningServiceOptions {
  /** The API's base URL, e.g. `https://api.pinata.cloud/psa`; paths `/pins...` are appended. */
  url: string;
  /** The access token, sent as `Authorization: Bearer <token>`. */
  token: string;
  /** Where the token came from, for error messages (e.g. `$PINNING_TOKEN`). Default "the access token". */
  tokenSource?: string;
  /** Time limit of one request, in ms. Default 30 s. */
  timeoutMs?: number;
  /** Attempts of an idempotent request. Default 4. */
  attempts?: number;
  /** Delay before the first retry, doubled after each. Default 250 ms. */
  backoffMs?: number;
  log?: Logger;
  /** The `fetch` to use (tests). */
  fetch?: typeof fetch;
}

/** The service's `Failure` answer: its machine-readable reason and, optionally, details for people. */
interface FailureFields {
  status: number;
  reason: string;
  details?: string;
}

/** The service refused the access token (401, 403): it is missing, wrong, revoked or lacks the right. */
export class PinningAuthError extends ConfigError {
  override name = "PinningAuthError";
  constructor(
    readonly status: number,
    readonly reason: string,
    tokenSource: string,
    options: BaseErrorOptions = {},
  ) {
    super(`the pinning service refused ${tokenSource} (HTTP ${status} ${reason})`, options);
  }
}

/** The pin request (or the resource) does not exist at the service (404). */
export class PinningNotFoundError extends NotFoundError {
  override name = "PinningNotFoundError";
  constructor(
    readonly status: number,
    readonly reason: string,
    what: string,
    options: BaseErrorOptions = {},
  ) {
    super(`${what}: the pinning service has no such pin request (HTTP ${status} ${reason})`, options);
  }
}

/** The service refused the request for a reason of its own (400, 409 insufficient funds, any other 4xx). Final. */
export class PinningRequestError extends InputError {
  override name = "PinningRequestError";
  constructor(
    readonly status: number,
    readonly reason: string,
    what: string,
    options: BaseErrorOptions = {},
  ) {
    super(`${what}: the pinning service refused it (HTTP ${status} ${reason})`, options);
  }
}

/** The service could not answer (5xx, 429) after every attempt. */
export class PinningUnavailableError extends TransportError {
  override name = "PinningUnavailableError";
  constructor(
    readonly status: number,
    readonly reason: string,
    what: string,
    options: BaseErrorOptions = {},
  ) {
    super(`${what}: the pinning service is unavailable (HTTP ${status} ${reason})`, options);
  }
}

/** The service answered with something the spec does not allow (not JSON, a field missing or of the wrong type). */
export class PinningResponseError extends TransportError {
  override name = "PinningResponseError";
  constructor(what: string, problem: string, options: BaseErrorOptions = {}) {
    super(`${what}: the pinning service's answer is malformed: ${problem}`, options);
  }
}

/** The service gave up on a pin (status `failed`): it could not fetch or keep the content. */
export class PinningFailedError extends NotFoundError {
  override name = "PinningFailedError";
  constructor(readonly pinStatus: PinStatus) {
    super(
      `the pinning service failed to pin ${pinStatus.pin.cid} (request ${pinStatus.requestid})` +
        (pinStatus.info?.status_details === undefined ? "" : `: ${printable(pinStatus.info.status_details)}`),
      { context: { requestid: pinStatus.requestid, cid: pinStatus.pin.cid } },
    );
  }
}

/**
 * A non-2xx answer inside the retry loop; turned into one of the errors above once retries are over. A BaseError, so
 * that no reason text the service sends ("network error") makes core's retry policy take it for a transport failure.
 */
class HttpFailure extends BaseError {
  constructor(readonly failure: FailureFields) {
    super(`HTTP ${failure.status} ${failure.reason}`);
  }
  get retryable(): boolean {
    return this.failure.status >= 500 || this.failure.status === 429;
  }
}

/**
 * The IPFS Pinning Service API, one method per endpoint, plus {@link PinningServiceClient.waitPinned}.
 * `add` and `replace` create a new request at each call, so they are sent once (a 429, which the service answers
 * before doing anything, is the one failure they are retried on); reads and `remove` are retried.
 * @example
 * const service = new PinningServiceClient({ url: "https://pin.example.com", token: process.env.PIN_TOKEN! });
 * const { requestid } = await service.add({ cid, name: "model 7@2 model.onnx" });
 * await service.waitPinned(requestid, { timeoutMs: 600_000 });
 */
export class PinningServiceClient {
  readonly url: string;
  private readonly token: string;
  private readonly tokenSource: string;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly log: Logger | undefined;
  private readonly fetch: typeof fetch;

  constructor(options: PinningServiceOptions) {
    this.url = baseUrl(options.url);
    this.tokenSource = options.tokenSource ?? "the access token";
    if (!/^[\x21-\x7e]+$/.test(options.token))
      throw new ConfigError(
        `${this.tokenSource} for the pinning service is empty or holds characters other than printable ASCII`,
      );
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.attempts = options.attempts ?? 4;
    this.backoffMs = options.backoffMs ?? 250;
    this.log = options.log;
    this.fetch = options.fetch ?? fetch;
  }

  /**
   * One page of pin requests matching `filters` (`GET /pins`), newest first.
   * @example const { count, results } = await service.list({ cid: [cid], status: ["queued", "pinning", "pinned"] });
   */
  async list(filters: ListPinsOptions = {}): Promise<PinResults> {
    const query = new URLSearchParams();
    for (const cid of filters.cid ?? []) query.append("cid", cid);
    for (const status of filters.status ?? []) query.append("status", status);
    for (const key of ["name", "match", "before", "after"] as const) {
      const value = filters[key];
      if (value !== undefined) query.set(key, value);
    }
    if (filters.limit !== undefined) query.set("limit", String(filters.limit));
    if (filters.meta !== undefined) query.set("meta", JSON.stringify(filters.meta));
    const search = query.toString() === "" ? "" : `?${query.toString()}`;
    const what = "list pins";
    return parsePinResults(what, await this.request(what, "GET", `/pins${search}`, { idempotent: true, ...filters }));
  }

  /**
   * Every pin request matching `filters`, reading page after page (`before` the oldest `created` of the last page).
   * @example const all = await service.listAll({ status: ["queued", "pinning", "pinned", "failed"] });
   */
  async listAll(filters: Omit<ListPinsOptions, "before"> = {}): Promise<PinStatus[]> {
    const out: PinStatus[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await this.list({ ...filters, ...(before === undefined ? {} : { before }) });
      out.push(...page.results);
      if (page.results.length === 0 || page.results.length >= page.count) return out;
      const oldest = page.results.reduce((a, b) => (Date.parse(b.created) < Date.parse(a.created) ? b : a)).created;
      if (before !== undefined && Date.parse(oldest) >= Date.parse(before))
        throw new PinningResponseError(
          "list pins",
          `the page before ${before} holds nothing older (pagination stalled)`,
        );
      before = oldest;
    }
  }

  /**
   * Asks the service to pin `pin.cid` (`POST /pins`); the answer is usually `queued`.
   * @example const status = await service.add({ cid, name: "penguins/model.onnx", meta: { model: "7@2" } });
   */
  async add(pin: Pin, options: PinningCallOptions = {}): Promise<PinStatus> {
    const what = `pin ${pin.cid}`;
    return parsePinStatus(what, await this.request(what, "POST", "/pins", { ...options, body: checkPin(pin) }));
  }

  /** A pin request and where it stands (`GET /pins/{requestid}`). */
  async get(requestid: string, options: PinningCallOptions = {}): Promise<PinStatus> {
    const what = `pin request ${requestid}`;
    return parsePinStatus(what, await this.request(what, "GET", pinPath(requestid), { idempotent: true, ...options }));
  }

  /**
   * Replaces a pin request by a new one (`POST /pins/{requestid}`), keeping the blocks both share; the answer
   * carries the new `requestid`.
   */
  async replace(requestid: string, pin: Pin, options: PinningCallOptions = {}): Promise<PinStatus> {
    const what = `replace pin request ${requestid}`;
    const body = checkPin(pin);
    return parsePinStatus(what, await this.request(what, "POST", pinPath(requestid), { ...options, body }));
  }

  /**
   * Removes a pin request (`DELETE /pins/{requestid}`). A retry that finds the request gone counts as removed
   * (the first attempt may have removed it before its answer was lost).
   */
  async remove(requestid: string, options: PinningCallOptions = {}): Promise<void> {
    const what = `unpin request ${requestid}`;
    await this.request(what, "DELETE", pinPath(requestid), { idempotent: true, goneIsDone: true, ...options });
  }

  /**
   * Reads a pin request until it is `pinned`.
   * @throws PinningFailedError when the service reports `failed`; TimeoutError when `timeoutMs` passes first (naming
   * the last status) or the signal aborts.
   * @example const done = await service.waitPinned(status.requestid, { timeoutMs: 600_000, pollMs: 5_000 });
   */
  async waitPinned(requestid: string, options: WaitPinnedOptions = {}): Promise<PinStatus> {
    const timeoutMs = options.timeoutMs ?? 600_000;
    let last: PinStatus | undefined;
    const poll = async (signal: AbortSignal): Promise<PinStatus> => {
      for (;;) {
        last = await this.get(requestid, { signal });
        options.onStatus?.(last);
        if (last.status === "pinned") return last;
        if (last.status === "failed") throw new PinningFailedError(last);
        await sleep(options.pollMs ?? 2_000, signal);
      }
    };
    try {
      return await withTimeout(`waiting for pin request ${requestid}`, timeoutMs, poll, options.signal);
    } catch (error) {
      if (error instanceof TimeoutError && !options.signal?.aborted)
        throw new TimeoutError(
          `pin request ${requestid} is not pinned after ${timeoutMs} ms (last status: ${last?.status ?? "none read"})`,
          { cause: error, context: { requestid, status: last?.status } },
        );
      throw error;
    }
  }

  /** Sends one request under the time limit and retry policy; the parsed JSON body (undefined when empty). */
  private async request(
    what: string,
    method: "GET" | "POST" | "DELETE",
    path: string,
    options: PinningCallOptions & { idempotent?: boolean; body?: unknown; goneIsDone?: boolean },
  ): Promise<unknown> {
    let attempt = 0;
    try {
      return await withRetry(
        what,
        async (signal) => {
          attempt++;
          return await this.send(what, method, path, options.body, signal);
        },
        {
          attempts: this.attempts,
          timeoutMs: this.timeoutMs,
          backoffMs: this.backoffMs,
          signal: options.signal,
          retryable: (error) => isWorthRetrying(error, options.idempotent === true),
          onRetry: (error, n, delayMs) =>
            this.log?.warn({ url: this.url, method, attempt: n, delayMs, error: String(error) }, `${what}: retrying`),
        },
      );
    } catch (error) {
      if (error instanceof HttpFailure) {
        if (options.goneIsDone && attempt > 1 && error.failure.status === 404) return undefined;
        throw this.failureError(what, error);
      }
      throw error;
    }
  }

  /** One HTTP exchange: the body parsed as JSON, or an {@link HttpFailure} carrying the service's `Failure`. */
  private async send(what: string, method: string, path: string, body: unknown, signal: AbortSignal): Promise<unknown> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await this.fetch(`${this.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await readCappedText(res, what);
    if (!res.ok) throw new HttpFailure(parseFailure(res.status, res.statusText, text));
    if (text.trim() === "") return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new PinningResponseError(what, `not JSON (${JSON.stringify(text.slice(0, 80))})`, { cause });
    }
  }

  /** The error of a non-2xx answer: who is to blame (the token, the request, the service) and the service's reason. */
  private failureError(what: string, error: HttpFailure): Error {
    const { status, reason, details } = error.failure;
    const options = { cause: error, details, context: { url: this.url, status, reason } };
    if (status === 401 || status === 403)
      return new PinningAuthError(status, reason, this.tokenSource, {
        ...options,
        details: `check ${this.tokenSource} for ${this.url}${details === undefined ? "" : ` (${details})`}`,
      });
    if (status === 404) return new PinningNotFoundError(status, reason, what, options);
    if (error.retryable) return new PinningUnavailableError(status, reason, what, options);
    return new PinningRequestError(status, reason, what, options);
  }
}

/** Retry transport failures, per-attempt time-outs, 5xx and 429 of idempotent calls; 429 of any (nothing was done). */
function isWorthRetrying(error: unknown, idempotent: boolean): boolean {
  if (error instanceof HttpFailure) return idempotent ? error.retryable : error.failure.status === 429;
  if (error instanceof PinningResponseError || !idempotent) return false;
  return error instanceof TimeoutError || isTransportError(error);
}

/** The base URL without a trailing slash; refuses what `fetch` cannot reach, without echoing credentials. */
function baseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigError(`the pinning service URL "${url}" is not a URL (e.g. https://pin.example.com)`, { cause });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new ConfigError(`the pinning service URL must be http(s), not ${parsed.protocol}`);
  if (parsed.username !== "" || parsed.password !== "")
    throw new ConfigError("the pinning service URL must not carry credentials: pass the token through its variable");
  return parsed.toString().replace(/\/+$/, "");
}

function pinPath(requestid: string): string {
  if (requestid === "") throw new InputError("a pin request id is empty");
  return `/pins/${encodeURIComponent(requestid)}`;
}

/** The spec's bounds of a `Pin`, checked before anything is sent. */
function checkPin(pin: Pin): Pin {
  if (typeof pin.cid !== "string" || pin.cid === "") throw new InputError("a pin needs a CID");
  if (pin.name !== undefined && pin.name.length > 255)
    throw new InputError(`the pin name "${pin.name.slice(0, 40)}…" is longer than 255 characters`);
  if ((pin.origins?.length ?? 0) > 20) throw new InputError("a pin takes at most 20 origins");
  return pin;
}

/** The `Failure` of a non-2xx answer; a body that is not one still gives the status and its text. */
function parseFailure(status: number, statusText: string, text: string): FailureFields {
  try {
    const body = JSON.parse(text) as { error?: { reason?: unknown; details?: unknown } };
    if (typeof body.error?.reason === "string")
      return {
        status,
        reason: printable(body.error.reason),
        ...(typeof body.error.details === "string" ? { details: printable(body.error.details) } : {}),
      };
  } catch {
    // Not a Failure: fall through to the status text.
  }
  const snippet = printable(text).trim().slice(0, 200);
  return {
    status,
    reason: printable(statusText) || "(no reason given)",
    ...(snippet === "" ? {} : { details: snippet }),
  };
}

/** Largest answer read from the service: a page of pin statuses is far smaller. */
export const MAX_PINNING_RESPONSE_BYTES = 1024 * 1024;

/**
 * The body of `res` as text, refused (before reading it when its content-length says so) once it passes
 * {@link MAX_PINNING_RESPONSE_BYTES}.
 * @throws {PinningResponseError}
 */
async function readCappedText(res: Response, what: string): Promise<string> {
  const bytes = await readCappedBody(
    res,
    MAX_PINNING_RESPONSE_BYTES,
    (size) => new PinningResponseError(what, `the answer has ${size} bytes, more than ${MAX_PINNING_RESPONSE_BYTES}`),
  );
  return Buffer.from(bytes).toString("utf8");
}

/** `text` without terminal escapes (ANSI sequences) and other control characters, so that it is safe to print. */
function printable(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b[\]P^_][^\u0007\u001b]*(\u0007|\u001b\\)?|\u001b./g, "")
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f]/g, " ")
  );
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

function isStringMap(value: unknown): value is Record<string, string> {
  return isObject(value) && Object.values(value).every((v) => typeof v === "string");
}

/** A `PinResults` answer, checked. */
function parsePinResults(what: string, body: unknown): PinResults {
  if (!isObject(body)) throw new PinningResponseError(what, "expected a PinResults object");
  const { count, results } = body;
  if (typeof count !== "number" || !Number.isInteger(count) || count < 0)
    throw new PinningResponseError(what, `"count" is ${JSON.stringify(count)}, not a non-negative integer`);
  if (!Array.isArray(results)) throw new PinningResponseError(what, `"results" is not an array`);
  return { count, results: results.map((r, i) => parsePinStatus(`${what} (results[${i}])`, r)) };
}

/** A `PinStatus` answer, checked. */
function parsePinStatus(what: string, body: unknown): PinStatus {
  if (!isObject(body)) throw new PinningResponseError(what, "expected a PinStatus object");
  const { requestid, status, created, pin, delegates, info } = body;
  const bad = (field: string, expected: string, value: unknown) =>
    new PinningResponseError(what, `"${field}" is ${JSON.stringify(value) ?? "missing"}, not ${expected}`);
  if (typeof requestid !== "string" || requestid === "") throw bad("requestid", "a non-empty string", requestid);
  if (typeof status !== "string" || !(PIN_STATES as string[]).includes(status))
    throw bad("status", PIN_STATES.join(", ").replace(/, (\w+)$/, " or $1"), status);
  if (typeof created !== "string" || Number.isNaN(Date.parse(created)))
    throw bad("created", "an RFC 3339 time", created);
  if (!isObject(pin) || typeof pin.cid !== "string" || pin.cid === "") throw bad("pin", "a Pin with a CID", pin);
  if (!isStringArray(delegates)) throw bad("delegates", "an array of multiaddrs", delegates);
  if (info !== undefined && info !== null && !isStringMap(info)) throw bad("info", "an object of strings", info);
  return {
    requestid,
    status: status as PinState,
    created,
    pin: {
      cid: pin.cid,
      ...(typeof pin.name === "string" ? { name: pin.name } : {}),
      ...(isStringArray(pin.origins) ? { origins: pin.origins } : {}),
      ...(isStringMap(pin.meta) ? { meta: pin.meta } : {}),
    },
    delegates,
    ...(isStringMap(info) ? { info } : {}),
  };
}

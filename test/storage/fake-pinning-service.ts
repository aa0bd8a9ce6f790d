import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Pin, PinState, PinStatus } from "../../src/storage/pinning";

/**
 * A scripted answer that replaces the next request's real one: a status and raw body, or no answer at all. With
 * `applied`, the request is carried out first and only its answer replaced (an answer lost on the way back).
 */
export type FakeAnswer = { status: number; body?: string; applied?: boolean } | "hang";

/** A request as the fake received it (for assertions: what was sent, how often, with which credentials). */
export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  body: unknown;
}

const STATES: readonly PinState[] = ["queued", "pinning", "pinned", "failed"];
const MATCHES = ["exact", "iexact", "partial", "ipartial"] as const;

/**
 * An IPFS Pinning Service (API v1.0, schema 0.1.2) on 127.0.0.1, following the spec: bearer tokens (401 without
 * one or with an unknown one, 403 for a token that may only read), `GET /pins` with the `cid`, `name`/`match`,
 * `status` (default: `pinned` only), `before`/`after`, `limit` (default 10, at most 1000) and `meta` filters, newest
 * first, `count` the total matching; `POST /pins` answering 202 `queued`; `GET`/`POST` (replace)/`DELETE`
 * `/pins/{requestid}`; `Failure` bodies for every error. Pins move on only when the test says so ({@link setStatus}),
 * and {@link script} answers the next requests with anything (a 503, a malformed body, silence).
 */
export class FakePinningService {
  readonly pins = new Map<string, PinStatus>();
  readonly requests: SeenRequest[] = [];
  /** Answers given instead of the real ones, first to the next request. */
  readonly script: FakeAnswer[] = [];
  /** Tokens that may read and write; tokens that may only read. */
  readonly tokens = new Set<string>(["secret-token"]);
  readonly readOnlyTokens = new Set<string>(["read-only-token"]);
  private lastCreated = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakePinningService> {
    // Assigned once the server listens; the handler only reads it after that.
    // eslint-disable-next-line prefer-const
    let fake: FakePinningService | undefined;
    const server = createServer((req, res) => void fake!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    fake = new FakePinningService(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return fake;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Moves a pin request to `status` (queued → pinning → pinned, or failed), as the service's workers would. */
  setStatus(requestid: string, status: PinState, info?: Record<string, string>): void {
    const pin = this.pins.get(requestid);
    if (pin === undefined) throw new Error(`no pin request ${requestid}`);
    pin.status = status;
    if (info !== undefined) pin.info = info;
  }

  /** Requests of the given method and path prefix, in order. */
  seen(method: string, path = "/pins"): SeenRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(path));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://pinning.invalid");
    const text = Buffer.concat(await req.toArray()).toString("utf8");
    let body: unknown;
    try {
      body = text === "" ? undefined : (JSON.parse(text) as unknown);
    } catch {
      body = text;
    }
    this.requests.push({
      method: req.method ?? "",
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.authorization,
      body,
    });
    const scripted = this.script.shift();
    if (scripted === "hang") return;
    if (scripted !== undefined && scripted.applied !== true)
      return void res.writeHead(scripted.status).end(scripted.body ?? "");
    const send = (status: number, value?: unknown) => {
      if (scripted !== undefined) return void res.writeHead(scripted.status).end(scripted.body ?? "");
      res
        .writeHead(status, value === undefined ? {} : { "content-type": "application/json" })
        .end(value === undefined ? "" : JSON.stringify(value));
    };
    const fail = (status: number, reason: string, details?: string) =>
      send(status, { error: { reason, ...(details === undefined ? {} : { details }) } });

    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (token === undefined) return fail(401, "UNAUTHORIZED", "Access token is missing");
    const readOnly = this.readOnlyTokens.has(token);
    if (!this.tokens.has(token) && !readOnly) return fail(401, "UNAUTHORIZED", "Access token is invalid");
    if (readOnly && req.method !== "GET") return fail(403, "FORBIDDEN", "This token may only read");

    const id = /^\/pins\/([^/]+)$/.exec(url.pathname)?.[1];
    if (url.pathname === "/pins" && req.method === "GET") return this.list(url.searchParams, send, fail);
    if (url.pathname === "/pins" && req.method === "POST") {
      const pin = checkPin(body);
      if (typeof pin === "string") return fail(400, "BAD_REQUEST", pin);
      return send(202, this.create(pin));
    }
    if (id === undefined) return fail(404, "NOT_FOUND", `no route ${req.method} ${url.pathname}`);
    const requestid = decodeURIComponent(id);
    const existing = this.pins.get(requestid);
    if (existing === undefined) return fail(404, "NOT_FOUND", "The specified resource was not found");
    if (req.method === "GET") return send(200, existing);
    if (req.method === "DELETE") {
      this.pins.delete(requestid);
      return send(202);
    }
    if (req.method === "POST") {
      const pin = checkPin(body);
      if (typeof pin === "string") return fail(400, "BAD_REQUEST", pin);
      this.pins.delete(requestid);
      return send(202, this.create(pin));
    }
    return fail(405, "METHOD_NOT_ALLOWED");
  }

  private create(pin: Pin): PinStatus {
    // `created` orders pagination, so the spec wants it unique: one millisecond at least after the last.
    this.lastCreated = Math.max(Date.now(), this.lastCreated + 1);
    const status: PinStatus = {
      requestid: randomUUID(),
      status: "queued",
      created: new Date(this.lastCreated).toISOString(),
      pin,
      delegates: ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWFakePinningServiceDelegate"],
      info: { status_details: "queue position: 1" },
    };
    this.pins.set(status.requestid, status);
    return status;
  }

  private list(
    query: URLSearchParams,
    send: (status: number, value?: unknown) => void,
    fail: (status: number, reason: string, details?: string) => void,
  ): void {
    const limit = Number(query.get("limit") ?? "10");
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      return fail(400, "BAD_REQUEST", "limit must be an integer from 1 to 1000");
    const statuses = query.getAll("status").flatMap((s) => s.split(","));
    if (statuses.some((s) => !STATES.includes(s as PinState)))
      return fail(400, "BAD_REQUEST", `unknown status in ${statuses.join(",")}`);
    const cids = query.getAll("cid").flatMap((c) => c.split(","));
    if (cids.length > 10) return fail(400, "BAD_REQUEST", "at most 10 CIDs");
    const match = query.get("match") ?? "exact";
    if (!(MATCHES as readonly string[]).includes(match)) return fail(400, "BAD_REQUEST", `unknown match ${match}`);
    const times: Record<"before" | "after", number | undefined> = { before: undefined, after: undefined };
    for (const key of ["before", "after"] as const) {
      const value = query.get(key);
      if (value === null) continue;
      times[key] = Date.parse(value);
      if (Number.isNaN(times[key])) return fail(400, "BAD_REQUEST", `${key} is not an RFC 3339 time`);
    }
    let meta: Record<string, string> = {};
    try {
      meta = JSON.parse(query.get("meta") ?? "{}") as Record<string, string>;
    } catch {
      return fail(400, "BAD_REQUEST", "meta is not JSON");
    }
    const name = query.get("name");
    const wanted = statuses.length === 0 ? ["pinned"] : statuses;
    const matching = [...this.pins.values()]
      .filter((p) => wanted.includes(p.status))
      .filter((p) => cids.length === 0 || cids.includes(p.pin.cid))
      .filter((p) => name === null || nameMatches(p.pin.name, name, match))
      .filter((p) => times.before === undefined || Date.parse(p.created) < times.before)
      .filter((p) => times.after === undefined || Date.parse(p.created) > times.after)
      .filter((p) => Object.entries(meta).every(([k, v]) => p.pin.meta?.[k] === v))
      .sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
    send(200, { count: matching.length, results: matching.slice(0, limit) });
  }
}

function nameMatches(actual: string | undefined, wanted: string, match: string): boolean {
  if (actual === undefined) return false;
  const fold = match.startsWith("i");
  const [a, w] = fold ? [actual.toLowerCase(), wanted.toLowerCase()] : [actual, wanted];
  return match.endsWith("partial") ? a.includes(w) : a === w;
}

/** The body as a `Pin`, or what is wrong with it. */
function checkPin(body: unknown): Pin | string {
  if (typeof body !== "object" || body === null) return "the body is not a Pin object";
  const pin = body as Partial<Pin>;
  if (typeof pin.cid !== "string" || !/^(b[a-z2-7]{20,}|Qm[1-9A-HJ-NP-Za-km-z]{44})$/.test(pin.cid))
    return `"${String(pin.cid)}" is not a CID`;
  if (pin.name !== undefined && (typeof pin.name !== "string" || pin.name.length > 255))
    return "name must be a string of at most 255 characters";
  if (pin.origins !== undefined && (!Array.isArray(pin.origins) || pin.origins.length > 20))
    return "origins must be an array of at most 20 multiaddrs";
  return {
    cid: pin.cid,
    ...(pin.name === undefined ? {} : { name: pin.name }),
    ...(pin.origins === undefined ? {} : { origins: pin.origins }),
    ...(pin.meta === undefined ? {} : { meta: pin.meta }),
  };
}

/**
 * The Oblivious Relay Resource (RFC 9458 §5, §6.2) as a node:http request handler. A client POSTs an encapsulated
 * request to `<relay>/<percent-encoded gateway URL>` ({@link relayResourceUrl}); the relay forwards the body, and
 * nothing else about the client, to that gateway if `allowGateway` accepts it, and streams the answer back.
 *
 * @dev What the relay does: it forwards only the body and its Content-Type. It adds no field (no Via, no Forwarded,
 * no X-Forwarded-For); the only other fields on the upstream request are those HTTP/1.1 framing needs (Host,
 * Connection, Content-Length or Transfer-Encoding). It answers with the gateway's status, Content-Type and body
 * only. It never retries (RFC 9458 §6.5: a retried request is a replay). It logs one line per request — method,
 * status, sizes, latency — and never a body, a path or a client address; bodies pass through memory only. Its rate
 * limit is one global token bucket: no client is told apart from another.
 * @dev Warning: the relay sees who is asking (the client's address) and which gateway, and the size and timing of
 * each message; it must not be run by the gateway's operator (relay–gateway collusion joins both halves). It can
 * drop, delay or replay requests; the gateway's replay record and the client's AEAD checks bound what that gains.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TimeoutError, TransportError } from "../core/errors";
import { silentLogger, type Logger } from "../core/log";
import { withTimeout } from "../core/retry";
import { isTransportError } from "../core/transport";
import { MEDIA_TYPES } from "./constants";
import { OhttpTooLargeError } from "./errors";
import { BodyMeter, mediaType, meteredBody, readBody, requestLog, write } from "./http";
import { writeProblem } from "./problem";
import { TokenBucket } from "./rate";

/** Options of {@link createRelayHandler}. */
export interface RelayOptions {
  /**
   * Whether the relay may forward to `gateway` — for instance, whether it is registered on-chain. Called once per
   * request before anything is forwarded; cache inside it when the answer is slow to get.
   */
  allowGateway: (gateway: URL) => boolean | Promise<boolean>;
  logger?: Logger;
  /** Largest encapsulated request forwarded, in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Largest response relayed back, in bytes. Default 64 MiB. */
  maxResponseBytes?: number;
  /** Time the gateway has to answer (its response head), and longest silence while streaming, in ms. Default 30 s. */
  upstreamTimeoutMs?: number;
  /** The global rate limit. Default 10,000 requests/s with bursts of 20,000. */
  rateLimit?: TokenBucket;
  /** Agents for the upstream connections. Default keep-alive agents of this handler. */
  agents?: { http?: http.Agent; https?: https.Agent };
}

/**
 * The relay resource that forwards to `gateway`: `relay` with the gateway URL, percent-encoded, as last path segment.
 * @example await ohttpFetch(relayResourceUrl("https://relay.example", "https://gateway.example/ohttp"), config, request);
 */
export function relayResourceUrl(relay: string | URL, gateway: string | URL): URL {
  const url = new URL(relay);
  url.pathname = `${url.pathname.replace(/\/?$/, "/")}${encodeURIComponent(new URL(gateway).toString())}`;
  return url;
}

/** The gateway named by the last segment of a relay request's path; undefined when it is not an http(s) URL. */
export function gatewayOfPath(path: string): URL | undefined {
  const segments = new URL(path, "http://relay.invalid").pathname.split("/");
  try {
    const gateway = new URL(decodeURIComponent(segments[segments.length - 1]!));
    const plain =
      (gateway.protocol === "http:" || gateway.protocol === "https:") &&
      gateway.username === "" &&
      gateway.password === "" &&
      gateway.hash === "";
    return plain ? gateway : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @example
 * const relay = createRelayHandler({ allowGateway: async (url) => registry.isRegisteredGateway(url.href), logger });
 * createServer(relay).listen(8080);
 */
export function createRelayHandler(options: RelayOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const relay = new Relay(options);
  return (req, res) => void relay.serve(req, res);
}

class Relay {
  private readonly log: Logger;
  private readonly bucket: TokenBucket;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly maxBodyBytes: number;
  private readonly maxResponseBytes: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: RelayOptions) {
    this.log = options.logger ?? silentLogger;
    this.bucket = options.rateLimit ?? new TokenBucket({ ratePerSecond: 10_000, burst: 20_000 });
    this.agents = {
      http: options.agents?.http ?? new http.Agent({ keepAlive: true, scheduling: "lifo" }),
      https: options.agents?.https ?? new https.Agent({ keepAlive: true, scheduling: "lifo" }),
    };
    this.maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
    this.maxResponseBytes = options.maxResponseBytes ?? 64 << 20;
    this.timeoutMs = options.upstreamTimeoutMs ?? 30_000;
  }

  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const meter = new BodyMeter(this.maxBodyBytes);
    const sent = new BodyMeter(this.maxResponseBytes);
    res.once("close", () =>
      this.log.info(
        requestLog(req, res, started, { in: () => meter.bytes, out: () => sent.bytes }),
        "ohttp relay request",
      ),
    );
    try {
      await this.relay(req, res, meter, sent);
    } catch (error) {
      if (res.headersSent) return void res.destroy();
      if (error instanceof OhttpTooLargeError)
        return writeProblem(res, { status: 413, title: "content too large", detail: error.shortMessage });
      if (error instanceof TimeoutError)
        return writeProblem(res, { status: 504, title: "the gateway did not answer in time" });
      if (!isTransportError(error)) this.log.error({ error: (error as Error).name }, "ohttp relay failure");
      writeProblem(res, { status: 502, title: "the gateway is unreachable" });
    }
  }

  private async relay(req: IncomingMessage, res: ServerResponse, meter: BodyMeter, sent: BodyMeter): Promise<void> {
    if (req.method !== "POST")
      return writeProblem(
        res,
        { status: 405, title: "method not allowed", detail: "an oblivious relay takes POST only" },
        { allow: "POST" },
      );
    const type = mediaType(req.headers["content-type"]);
    if (type !== MEDIA_TYPES.request && type !== MEDIA_TYPES.chunkedRequest) {
      return writeProblem(res, {
        status: 415,
        title: "unsupported media type",
        detail: `expected ${MEDIA_TYPES.request} or ${MEDIA_TYPES.chunkedRequest}, got ${type || "none"}`,
      });
    }
    if (!this.bucket.take())
      return writeProblem(
        res,
        { status: 429, title: "too many requests", detail: "the relay's global rate limit is reached" },
        { "retry-after": "1" },
      );
    const gateway = gatewayOfPath(req.url ?? "/");
    if (gateway === undefined)
      return writeProblem(res, {
        status: 404,
        title: "no gateway",
        detail: "the last path segment must be the percent-encoded URL of a gateway",
      });
    if (!(await this.allowed(gateway)))
      return writeProblem(res, {
        status: 403,
        title: "gateway not allowed",
        detail: "this relay does not forward to that gateway",
      });
    const body = type === MEDIA_TYPES.request ? await readBody(req, meter) : meteredBody(req, meter);
    if (body instanceof Uint8Array && body.length === 0)
      return writeProblem(res, { status: 400, title: "empty encapsulated request" });
    const upstream = await withTimeout(`POST to the gateway ${gateway.origin}`, this.timeoutMs, (signal) =>
      this.forward(gateway, type, body, signal),
    );
    res.once("close", () => upstream.destroy());
    const length = upstream.headers["content-length"];
    const contentType = upstream.headers["content-type"];
    const head = {
      ...(contentType === undefined ? {} : { "content-type": contentType }),
      ...(length === undefined ? {} : { "content-length": length }),
    };
    if (type === MEDIA_TYPES.request) {
      // A whole response goes back in one write with its head.
      const answer = await readBody(upstream, sent).catch((error: unknown) => {
        throw error instanceof OhttpTooLargeError
          ? new TransportError(`the gateway's response is larger than ${sent.limit} bytes`, { cause: error })
          : error;
      });
      return void res.writeHead(upstream.statusCode ?? 502, { ...head, "content-length": answer.length }).end(answer);
    }
    res.writeHead(upstream.statusCode ?? 502, head);
    for await (const chunk of upstream as AsyncIterable<Buffer>) {
      sent.add(chunk.length);
      if (!(await write(res, chunk))) return;
    }
    res.end();
  }

  private async allowed(gateway: URL): Promise<boolean> {
    try {
      return await this.options.allowGateway(gateway);
    } catch (error) {
      this.log.error({ error: (error as Error).name }, "ohttp relay cannot check a gateway");
      return false;
    }
  }

  /** One POST to the gateway with the body and its Content-Type only; resolves with the response head. Never retried. */
  private forward(
    gateway: URL,
    type: string,
    body: Uint8Array | AsyncIterable<Uint8Array>,
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const headers: Record<string, string | number> = { "content-type": type };
    if (body instanceof Uint8Array) headers["content-length"] = body.length;
    const transport = gateway.protocol === "https:" ? https : http;
    const agent = gateway.protocol === "https:" ? this.agents.https : this.agents.http;
    return new Promise((resolve, reject) => {
      // The abort is wired by hand: http.request's `signal` option watches the request's end of stream with several
      // listeners: measured ~10% of the relay's user CPU per request at 1,500/s.
      const upstream = transport.request(gateway, { method: "POST", headers, agent });
      const abort = () => upstream.destroy(signal.reason as Error);
      signal.addEventListener("abort", abort, { once: true });
      upstream.once("close", () => signal.removeEventListener("abort", abort));
      upstream.setTimeout(this.timeoutMs, () =>
        upstream.destroy(new TimeoutError(`the gateway ${gateway.origin} was silent for ${this.timeoutMs} ms`)),
      );
      upstream.once("response", resolve);
      upstream.once("error", reject);
      if (body instanceof Uint8Array) upstream.end(body);
      else pipeline(Readable.from(body), upstream).catch(reject);
    });
  }
}

/**
 * The Oblivious Gateway Resource (RFC 9458 §5) as a node:http request handler: it decapsulates
 * `message/ohttp-req` and `message/ohttp-chunked-req` bodies with its {@link KeyRing}, refuses replays, hands the
 * decoded request to the application's {@link GatewayHandler}, and encapsulates the answer — whole, or streamed
 * chunk by chunk for a chunked request.
 *
 * Errors before the encapsulation is removed (unknown key id, malformed message, decryption failure, replay) are
 * answered unencrypted with problem details (RFC 9458 §5.2, §5.3); errors after it (a malformed binary HTTP
 * request, a Date outside the window, a failing or slow handler) inside an encapsulated response.
 *
 * @dev Warning: the gateway sees every request in clear and trusts its handler with it. It logs one line per
 * request (method, status, sizes, latency) and never the content; the peer it sees is the relay, and it neither
 * logs nor passes on its address. It holds no per-client state beyond the replay record of `enc` values.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { TimeoutError } from "../core/errors";
import { silentLogger, type Logger } from "../core/log";
import { withTimeout } from "../core/retry";
import { decodeRequest, encodeContentChunk, encodeResponse, encodeResponseHead, RESPONSE_END } from "./bhttp";
import { openChunkedRequest, split, type ChunkedResponseSealer } from "./chunked";
import { CHUNK_SIZE, MEDIA_TYPES, PROBLEM_TYPES } from "./constants";
import { decapsulateRequest } from "./encapsulation";
import { OhttpReplayError } from "./errors";
import { BodyMeter, mediaType, meteredBody, readBody, requestLog, write } from "./http";
import type { KeyRing } from "./keys";
import { problemOf, problemResponse, writeProblem } from "./problem";
import { ReplayCache } from "./replay";

/** What the application does with a decapsulated request: answer it. `signal` aborts when the gateway gives up. */
export type GatewayHandler = (request: Request, context: { signal: AbortSignal }) => Promise<Response> | Response;

/** Options of {@link createGatewayHandler}. */
export interface GatewayOptions {
  /** The gateway's keys. */
  keys: KeyRing;
  /** The application (Target Resource) the gateway serves. */
  handler: GatewayHandler;
  logger?: Logger;
  /** Largest encapsulated request accepted, in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Time the handler has to produce its response head, in ms. Default 60 s. */
  handlerTimeoutMs?: number;
  /** The replay record (and the Date window). Default a fresh {@link ReplayCache}. */
  replay?: ReplayCache;
  /** Refuse requests without a Date header (closes the replay gap of undated requests). Default false. */
  requireDate?: boolean;
}

/** One request in flight: its response, the metered body, bytes sent, and a signal that fires when the relay hangs up. */
interface Exchange {
  res: ServerResponse;
  meter: BodyMeter;
  bytesOut: number;
  closed: AbortController;
}

const DATE_PROBLEM = {
  status: 400,
  type: PROBLEM_TYPES.date,
  title: "date field in request outside of acceptable range",
};

/**
 * @example
 * const ring = new KeyRing([await generateGatewayKey({ keyId: 1 })]);
 * createServer(createGatewayHandler({ keys: ring, handler: async (request) => Response.json(await infer(await request.json())) })).listen(8443);
 */
export function createGatewayHandler(options: GatewayOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const gateway = new Gateway(options);
  return (req, res) => void gateway.serve(req, res);
}

class Gateway {
  private readonly log: Logger;
  private readonly replay: ReplayCache;
  private readonly maxBodyBytes: number;
  private readonly handlerTimeoutMs: number;

  constructor(private readonly options: GatewayOptions) {
    this.log = options.logger ?? silentLogger;
    this.replay = options.replay ?? new ReplayCache();
    this.maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
    this.handlerTimeoutMs = options.handlerTimeoutMs ?? 60_000;
  }

  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const exchange: Exchange = {
      res,
      meter: new BodyMeter(this.maxBodyBytes),
      bytesOut: 0,
      closed: new AbortController(),
    };
    res.once("close", () => {
      // Only a response cut short has a handler or a stream to stop; a finished one needs no error built.
      if (!res.writableFinished) exchange.closed.abort(new TimeoutError("the relay closed the connection"));
      this.log.info(
        requestLog(req, res, started, { in: () => exchange.meter.bytes, out: () => exchange.bytesOut }),
        "ohttp gateway request",
      );
    });
    try {
      if (req.method !== "POST")
        return writeProblem(
          res,
          { status: 405, title: "method not allowed", detail: "an oblivious gateway takes POST only" },
          { allow: "POST" },
        );
      const type = mediaType(req.headers["content-type"]);
      if (type === MEDIA_TYPES.request) await this.serveWhole(req, exchange);
      else if (type === MEDIA_TYPES.chunkedRequest) await this.serveChunked(req, exchange);
      else
        writeProblem(res, {
          status: 415,
          title: "unsupported media type",
          detail: `expected ${MEDIA_TYPES.request} or ${MEDIA_TYPES.chunkedRequest}, got ${type || "none"}`,
        });
    } catch (error) {
      if (res.headersSent) return void res.destroy();
      const problem = problemOf(error);
      if (problem.status >= 500) this.log.error({ error: (error as Error).name }, "ohttp gateway failure");
      writeProblem(res, problem);
    }
  }

  private async serveWhole(req: IncomingMessage, exchange: Exchange): Promise<void> {
    const { request, context } = await decapsulateRequest(this.options.keys, await readBody(req, exchange.meter));
    if (!this.remember(exchange.res, context.enc)) return;
    const encapsulated = await context.encapsulateResponse(
      await encodeResponse(await this.answer(request, exchange.closed.signal)),
    );
    exchange.bytesOut += encapsulated.length;
    exchange.res.writeHead(200, { "content-type": MEDIA_TYPES.response, "content-length": encapsulated.length });
    exchange.res.end(encapsulated);
  }

  private async serveChunked(req: IncomingMessage, exchange: Exchange): Promise<void> {
    const receiver = await openChunkedRequest(this.options.keys, meteredBody(req, exchange.meter), {
      maxChunkBytes: this.maxBodyBytes,
    });
    // The whole request is read before the handler runs: the exchange stays non-interactive (draft §8.2).
    const parts: Uint8Array[] = [];
    for await (const part of receiver.chunks()) parts.push(part);
    if (!this.remember(exchange.res, receiver.enc)) return;
    const response = await this.answer(Buffer.concat(parts), exchange.closed.signal);
    const sealer = await receiver.responseSealer();
    exchange.res.writeHead(200, { "content-type": MEDIA_TYPES.chunkedResponse, incremental: "?1" });
    const send = (bytes: Uint8Array) => ((exchange.bytesOut += bytes.length), write(exchange.res, bytes));
    if (
      (await send(sealer.nonce)) &&
      (await send(sealer.seal(encodeResponseHead(response.status, response.headers), false))) &&
      (await this.streamBody(response, sealer, send))
    ) {
      exchange.res.end();
    }
  }

  /**
   * Seals the body of `response` as it arrives, then the final chunk; false when the connection closed first. A body
   * that fails mid-way throws, and the response ends without its final chunk: the client sees it truncated.
   */
  private async streamBody(
    response: Response,
    sealer: ChunkedResponseSealer,
    send: (bytes: Uint8Array) => Promise<boolean>,
  ): Promise<boolean> {
    if (response.body !== null) {
      const reader = response.body.getReader();
      for (let next = await reader.read(); next.done !== true; next = await reader.read()) {
        // Each OHTTP chunk holds one binary HTTP content chunk: its varint length (at most 8 bytes) and data.
        for (const piece of split(next.value, CHUNK_SIZE - 8)) {
          if (await send(sealer.seal(encodeContentChunk(piece), false))) continue;
          await reader.cancel();
          return false;
        }
      }
    }
    return send(sealer.seal(RESPONSE_END, true));
  }

  /** Records `enc`; refuses a replay (throws) or, with the record full, answers 503 and returns false. */
  private remember(res: ServerResponse, enc: Uint8Array): boolean {
    const verdict = this.replay.remember(enc);
    if (verdict === "replayed")
      throw new OhttpReplayError(
        "an encapsulated request with this encapsulated key was already answered within the replay window",
      );
    if (verdict === "fresh") return true;
    writeProblem(
      res,
      {
        status: 503,
        title: "replay record full",
        detail: "the gateway cannot record more requests within its replay window",
      },
      { "retry-after": "1" },
    );
    return false;
  }

  /** The handler's response to the binary HTTP `bytes`, or the problem that stands for it; never throws. */
  private async answer(bytes: Uint8Array, signal: AbortSignal): Promise<Response> {
    let request: Request;
    try {
      request = decodeRequest(bytes);
    } catch (error) {
      return problemResponse(problemOf(error));
    }
    if (request.headers.get("expect")?.toLowerCase() === "100-continue")
      return problemResponse({ status: 400, title: "100-continue is not possible through oblivious HTTP" });
    const date = request.headers.get("date");
    if (date === null ? this.options.requireDate === true : !this.replay.inWindow(Date.parse(date))) {
      return problemResponse(DATE_PROBLEM, { date: new Date().toUTCString() });
    }
    try {
      return await withTimeout(
        "the gateway handler",
        this.handlerTimeoutMs,
        async (handlerSignal) => this.options.handler(request, { signal: handlerSignal }),
        signal,
      );
    } catch (error) {
      this.log.warn({ error: (error as Error).name }, "ohttp gateway handler failed");
      return error instanceof TimeoutError
        ? problemResponse({ status: 504, title: "the target did not answer in time" })
        : problemResponse({ status: 500, title: "the target failed" });
    }
  }
}

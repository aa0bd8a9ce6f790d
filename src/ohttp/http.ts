/** node:http plumbing shared by the relay and the gateway: media types, bounded bodies, writes that respect back-pressure. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { TransportError } from "../core/errors";
import { OhttpTooLargeError } from "./errors";

/** The media type of a Content-Type value, lowercased, without parameters ("" when absent). */
export function mediaType(value: string | null | undefined): string {
  return (value ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Counts the bytes of a body and stops at a limit. */
export class BodyMeter {
  bytes = 0;
  constructor(readonly limit: number) {}

  /** Adds `n` bytes; throws {@link OhttpTooLargeError} past the limit. */
  add(n: number): void {
    this.bytes += n;
    if (this.bytes > this.limit)
      throw new OhttpTooLargeError(this.limit, `the body is larger than ${this.limit} bytes`);
  }
}

/**
 * The whole body of `req`, refused early when its Content-Length is over `meter.limit`. Past the limit the stream is
 * destroyed and the promise rejects with {@link OhttpTooLargeError}; a stream that fails rejects with its error (a
 * reset connection), one that closes before its end without an error with a {@link TransportError}. Event listeners
 * rather than an async iterator: this runs twice per relayed request.
 */
export function readBody(req: IncomingMessage, meter: BodyMeter): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > meter.limit)
    return Promise.reject(
      new OhttpTooLargeError(meter.limit, `the body is ${declared} bytes, more than the limit of ${meter.limit}`),
    );
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const settle = (error: Error | undefined) => {
      req.off("data", onData).off("end", onEnd).off("error", settle).off("close", onClose);
      if (error !== undefined) return reject(error);
      const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      resolve(new Uint8Array(body.buffer, body.byteOffset, body.length));
    };
    const onData = (chunk: Buffer) => {
      try {
        meter.add(chunk.length);
        parts.push(chunk);
      } catch (error) {
        settle(error as Error);
        req.destroy();
      }
    };
    const onEnd = () => settle(undefined);
    const onClose = () => settle(new TransportError("the connection closed before the end of the body"));
    req.on("data", onData).once("end", onEnd).once("error", settle).once("close", onClose);
  });
}

/** The body of `req` as it arrives, metered. */
export async function* meteredBody(req: IncomingMessage, meter: BodyMeter): AsyncGenerator<Uint8Array> {
  for await (const chunk of req as AsyncIterable<Buffer>) {
    meter.add(chunk.length);
    yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
  }
}

/** Writes `bytes` to `res`, waiting for 'drain' when its buffer is full; false when `res` closed meanwhile. */
export async function write(res: ServerResponse, bytes: Uint8Array): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(bytes)) return true;
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.once("drain", onDrain);
    res.once("close", onClose);
  });
}

/** One structured log line per request — method, status, sizes and latency, nothing of the content or the peer. */
export function requestLog(
  req: IncomingMessage,
  res: ServerResponse,
  started: number,
  bytes: { in: () => number; out: () => number },
) {
  return {
    method: req.method,
    status: res.statusCode,
    bytesIn: bytes.in(),
    bytesOut: bytes.out(),
    latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
  };
}

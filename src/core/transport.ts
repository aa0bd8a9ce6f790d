/**
 * Telling a failed transport (the endpoint could not answer: retry) from an answer (a revert, a 4xx: final), for
 * errors from ethers, fetch and Node sockets as well as from this hierarchy.
 */
import { isError } from "ethers";
import { BaseError, TimeoutError, TransportError } from "./errors";

/** Ethers error codes of a failed transport. */
const TRANSPORT_CODES = new Set(["NETWORK_ERROR", "TIMEOUT", "SERVER_ERROR"]);
/** Node socket and undici error codes of an unreachable or dropped endpoint. */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);
/** What transport failures say when they carry no code. */
const TRANSPORT_TEXT =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|socket hang up|fetch failed|other side closed|network error/i;

/** Finds revert data in whatever ethers (or a JSON-RPC node) threw. */
export function revertDataOf(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const visit = (value: unknown): string | undefined => {
    if (value === null || typeof value !== "object" || seen.has(value)) return undefined;
    seen.add(value);
    const record = value as Record<string, unknown>;
    if (typeof record.data === "string" && /^0x[0-9a-fA-F]{8}/.test(record.data)) return record.data;
    for (const key of ["error", "info", "cause", "data", "payload"]) {
      const found = visit(record[key]);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return visit(error);
}

/** Whether `error` is a transport failure (the endpoint could not answer), as opposed to an answer such as a revert. */
export function isTransportError(error: unknown, depth = 0): boolean {
  if (error instanceof TransportError) return true;
  if (error instanceof BaseError || depth > 8) return false;
  if (revertDataOf(error) !== undefined || isError(error, "CALL_EXCEPTION")) return false;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && (TRANSPORT_CODES.has(code) || SOCKET_CODES.has(code))) return true;
  if (TRANSPORT_TEXT.test(String((error as { message?: unknown } | null)?.message ?? ""))) return true;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== null && isTransportError(cause, depth + 1);
}

/** The default of `retryable` in `withRetry`: transport failures and per-attempt timeouts. */
export function isRetryable(error: unknown): boolean {
  return error instanceof TimeoutError || isTransportError(error);
}

/**
 * The body of a fetch `response`, refused once it passes `maxBytes`: before reading it when its content-length says
 * so, else as soon as the bytes read pass it (the rest is not read).
 * @throws what `tooLarge(size)` returns, with the size declared or read so far ("over N").
 * @example const bytes = await readCappedBody(response, 2 ** 21, (size) => new IntegrityError(`${size} bytes`));
 */
export async function readCappedBody(
  response: Response,
  maxBytes: number,
  tooLarge: (size: string) => Error,
): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(String(declared));
  }
  if (response.body === null) return new Uint8Array();
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(`over ${size}`);
    }
    parts.push(value);
  }
  return parts.length === 1 ? parts[0]! : new Uint8Array(Buffer.concat(parts));
}

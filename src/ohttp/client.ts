/**
 * The client of Oblivious HTTP: {@link ohttpFetch} sends one request through a relay to a gateway and returns the
 * gateway's response, as `fetch` would. The key configuration must come from a source the client trusts (for this
 * network: the chain), never from the relay.
 */
import { TimeoutError, TransportError } from "../core/errors";
import { withTimeout } from "../core/retry";
import { isTransportError } from "../core/transport";
import { decodeResponse, encodeRequest, readResponse } from "./bhttp";
import { ChunkedRequestSender, split } from "./chunked";
import { MEDIA_TYPES, PROBLEM_TYPES } from "./constants";
import { encapsulateRequest, type EncapsulateOptions } from "./encapsulation";
import { OhttpMalformedError, OhttpRejectedError, OhttpTruncatedError, OhttpUnknownKeyError } from "./errors";
import { mediaType } from "./http";
import type { KeyConfig } from "./keys";
import { parseProblem } from "./problem";

/** Options of {@link ohttpFetch}. */
export interface OhttpFetchOptions extends EncapsulateOptions {
  /** Send chunked OHTTP and stream the response body as it arrives. Default false. */
  chunked?: boolean;
  /** Time until the response head (and, unchunked, the whole response), in ms. Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Add a Date header inside the encrypted request when it has none, for the gateway's replay window (RFC 9458 §6.5.1). Default true. */
  date?: boolean;
}

/**
 * Sends `request` to the gateway behind `relayUrl`, encrypted to `keyConfig`, and returns the gateway's response.
 * Never retries. Throws `OhttpDecryptionError` when the response was modified on the way (a tampering relay),
 * {@link OhttpUnknownKeyError} when the gateway does not know the key, {@link OhttpRejectedError} for another
 * refusal, `TransportError` or `TimeoutError` when the relay is unreachable or slow. With `chunked`, a stream cut
 * short errors the body with `OhttpTruncatedError`.
 * @example
 * const response = await ohttpFetch(relayResourceUrl(relay, gateway), config, new Request("https://gateway.example/v1/chat", { method: "POST", body }));
 * console.log(response.status, await response.text());
 */
export async function ohttpFetch(
  relayUrl: string | URL,
  keyConfig: KeyConfig,
  request: Request,
  options: OhttpFetchOptions = {},
): Promise<Response> {
  const bhttp = await encodeRequest(withDate(request, options.date ?? true));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const what = `POST to the relay ${new URL(relayUrl).origin}`;
  if (options.chunked === true) {
    const sender = await ChunkedRequestSender.create(keyConfig, options);
    const pieces = [...split(bhttp)];
    const chunks = [sender.header];
    for (const [index, piece] of pieces.entries()) chunks.push(await sender.seal(piece, index === pieces.length - 1));
    const response = await post(
      relayUrl,
      MEDIA_TYPES.chunkedRequest,
      Buffer.concat(chunks),
      what,
      timeoutMs,
      options.signal,
      async (answer) => answer,
    );
    if (response.status !== 200 || mediaType(response.headers.get("content-type")) !== MEDIA_TYPES.chunkedResponse)
      throw await refusal(response, keyConfig, MEDIA_TYPES.chunkedResponse);
    return readResponse(sender.openResponse(bodyOf(response)));
  }
  const { encapsulated, context } = await encapsulateRequest(keyConfig, bhttp, options);
  const { response, body } = await post(
    relayUrl,
    MEDIA_TYPES.request,
    encapsulated,
    what,
    timeoutMs,
    options.signal,
    async (answer) => ({ response: answer, body: new Uint8Array(await answer.arrayBuffer()) }),
  );
  if (response.status !== 200 || mediaType(response.headers.get("content-type")) !== MEDIA_TYPES.response)
    throw refusalOf(response, new TextDecoder().decode(body), keyConfig, MEDIA_TYPES.response);
  return decodeResponse(await context.decapsulateResponse(body));
}

/** `request`, with a Date header added when asked and missing. */
function withDate(request: Request, date: boolean): Request {
  if (!date || request.headers.has("date")) return request;
  const headers = new Headers(request.headers);
  headers.set("date", new Date().toUTCString());
  return new Request(request, { headers });
}

/** One POST to the relay with only the Content-Type set; `read` runs within the time limit. */
async function post<T>(
  url: string | URL,
  type: string,
  body: Uint8Array,
  what: string,
  timeoutMs: number,
  outer: AbortSignal | undefined,
  read: (response: Response) => Promise<T>,
): Promise<T> {
  try {
    return await withTimeout(
      what,
      timeoutMs,
      async (signal) => read(await fetch(url, { method: "POST", headers: { "content-type": type }, body, signal })),
      outer,
    );
  } catch (error) {
    if (error instanceof TimeoutError || !isTransportError(error)) throw error;
    throw new TransportError(`${what} failed: the relay is unreachable`, { cause: error });
  }
}

async function refusal(response: Response, config: KeyConfig, expected: string): Promise<Error> {
  return refusalOf(response, await response.text().catch(() => ""), config, expected);
}

/** The error for an answer that is not an encapsulated response. */
function refusalOf(response: Response, body: string, config: KeyConfig, expected: string): Error {
  const type = mediaType(response.headers.get("content-type"));
  const problem = parseProblem(type, body);
  const said =
    problem === undefined ? "" : `: ${problem.title}${problem.detail === undefined ? "" : ` (${problem.detail})`}`;
  if (problem?.type === PROBLEM_TYPES.key) {
    return new OhttpUnknownKeyError(
      config.keyId,
      `the gateway does not accept key configuration ${config.keyId}${said}: fetch its current key configuration`,
      { context: { status: response.status } },
    );
  }
  if (response.status === 200)
    return new OhttpMalformedError(`the relay answered 200 with content type ${type || "none"}, not ${expected}`);
  if (response.status >= 500)
    return new TransportError(`the relay answered ${response.status}${said}`, { context: { status: response.status } });
  return new OhttpRejectedError(
    response.status,
    problem?.type,
    `the relay or the gateway refused the request with ${response.status}${said}`,
  );
}

/** A fetch body as byte chunks; a connection cut mid-way is a truncation. */
async function* bodyOf(response: Response): AsyncGenerator<Uint8Array> {
  if (response.body === null) return;
  const reader = response.body.getReader();
  const next = () =>
    reader.read().catch((error: unknown) => {
      throw new OhttpTruncatedError(`the chunked response was cut off: ${(error as Error).message}`, { cause: error });
    });
  try {
    for (let chunk = await next(); chunk.done !== true; chunk = await next()) yield chunk.value;
  } finally {
    reader.releaseLock();
  }
}

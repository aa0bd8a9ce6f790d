/**
 * Binary HTTP (RFC 9292), the plaintext of Oblivious HTTP. Whole messages decode through `bhttp-js`; requests are
 * encoded here because `bhttp-js` 0.2.1 drops the query string of the target (it encodes `url.pathname` only).
 * A streamed response is written in the indeterminate-length form (§3.2) as its body arrives and read back
 * incrementally ({@link readResponse}), so a chunked OHTTP response carries tokens as they are generated.
 */
import { ReadableStream } from "node:stream/web";
import { BHttpDecoder, BHttpEncoder } from "bhttp-js";
import { OhttpMalformedError } from "./errors";
import { ByteReader, type ByteSource } from "./reader";
import { encodeVarint } from "./varint";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Statuses whose responses have no content (a WHATWG Response refuses a body for them). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** Framing indicators (RFC 9292 §3.3). */
const FRAMING = { knownRequest: 0, knownResponse: 1, indeterminateRequest: 2, indeterminateResponse: 3 } as const;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function lengthPrefixed(data: Uint8Array): Uint8Array[] {
  return [encodeVarint(data.length), data];
}

function fieldLines(headers: Headers): Uint8Array[] {
  const parts: Uint8Array[] = [];
  headers.forEach((value, name) =>
    parts.push(...lengthPrefixed(encoder.encode(name)), ...lengthPrefixed(encoder.encode(value))),
  );
  return parts;
}

/**
 * The known-length binary HTTP encoding of `request` (RFC 9292 §3.1): control data (method, scheme, authority,
 * path with query), header fields, content, no trailers.
 * @example const bytes = await encodeRequest(new Request("https://gateway.example/v1/infer?model=7", { method: "POST", body }));
 */
export async function encodeRequest(request: Request): Promise<Uint8Array> {
  const url = new URL(request.url);
  const control = [request.method, url.protocol.slice(0, -1), url.host, `${url.pathname}${url.search}`].flatMap(
    (value) => lengthPrefixed(encoder.encode(value)),
  );
  const fields = concat(fieldLines(request.headers));
  const content = new Uint8Array(await request.arrayBuffer());
  return concat([
    Uint8Array.of(FRAMING.knownRequest),
    ...control,
    ...lengthPrefixed(fields),
    ...lengthPrefixed(content),
    Uint8Array.of(0),
  ]);
}

/** The request in `bytes` (known- or indeterminate-length); throws {@link OhttpMalformedError}. */
export function decodeRequest(bytes: Uint8Array): Request {
  try {
    return new BHttpDecoder().decodeRequest(bytes);
  } catch (error) {
    throw new OhttpMalformedError(`the binary HTTP request is malformed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** The known-length binary HTTP encoding of `response` (RFC 9292 §3.1), whole body included. */
export async function encodeResponse(response: Response): Promise<Uint8Array> {
  return new BHttpEncoder().encodeResponse(response);
}

/** The response in `bytes` (known- or indeterminate-length); throws {@link OhttpMalformedError}. */
export function decodeResponse(bytes: Uint8Array): Response {
  try {
    return new BHttpDecoder().decodeResponse(bytes);
  } catch (error) {
    throw new OhttpMalformedError(`the binary HTTP response is malformed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/* STREAMING (indeterminate length, RFC 9292 §3.2) */

/** The start of an indeterminate-length response: framing indicator 3, the status, the header fields and their terminator. */
export function encodeResponseHead(status: number, headers: Headers): Uint8Array {
  return concat([
    Uint8Array.of(FRAMING.indeterminateResponse),
    encodeVarint(status),
    ...fieldLines(headers),
    Uint8Array.of(0),
  ]);
}

/** One content chunk of an indeterminate-length message: its length, then its bytes (never empty: 0 ends the content). */
export function encodeContentChunk(data: Uint8Array): Uint8Array {
  return concat(lengthPrefixed(data));
}

/** The end of an indeterminate-length response: the content terminator and an empty trailer section. */
export const RESPONSE_END = Uint8Array.of(0, 0);

/**
 * Reads a binary HTTP response from a stream of plaintext, known- or indeterminate-length, and returns it as soon
 * as its header is complete: the body streams as the rest arrives (an error in the stream, such as a truncated
 * chunked OHTTP response, errors the body). Informational (1xx) responses are skipped; trailers are ignored.
 * @example const response = await readResponse(sender.openResponse(httpBody)); for await (const part of response.body!) print(part);
 */
export async function readResponse(source: ByteSource | ByteReader): Promise<Response> {
  const reader = source instanceof ByteReader ? source : new ByteReader(source);
  const framing = await reader.varint("binary HTTP response");
  if (framing !== FRAMING.knownResponse && framing !== FRAMING.indeterminateResponse) {
    throw new OhttpMalformedError(
      `the binary HTTP response has framing indicator ${framing ?? "(none)"}, expected 1 or 3`,
    );
  }
  const known = framing === FRAMING.knownResponse;
  let status = await required(reader, "the response status");
  while (status >= 100 && status < 200) {
    await readFields(reader, known);
    status = await required(reader, "the response status");
  }
  if (status < 200 || status > 599) throw new OhttpMalformedError(`the binary HTTP response has status ${status}`);
  const headers = await readFields(reader, known);
  const body = NULL_BODY.has(status) ? null : known ? knownContent(reader) : indeterminateContent(reader);
  return new Response(body === null ? null : streamOf(body), { status, headers });
}

async function required(reader: ByteReader, what: string): Promise<number> {
  const value = await reader.varint(what);
  if (value === undefined) throw new OhttpMalformedError(`the binary HTTP response ends before ${what}`);
  return value;
}

/** A field section: length-prefixed (known-length) or terminated by a zero-length name. Absent at the end: empty. */
async function readFields(reader: ByteReader, known: boolean): Promise<Headers> {
  const headers = new Headers();
  const add = (name: Uint8Array, value: Uint8Array) => {
    try {
      headers.append(decoder.decode(name), decoder.decode(value));
    } catch (error) {
      throw new OhttpMalformedError(`the binary HTTP response has an invalid field: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };
  if (known) {
    const length = await reader.varint("the header section length");
    if (length === undefined) return headers;
    const section = new ByteReader([await reader.read(length, "the header section")]);
    for (
      let name = await section.varint("a field name");
      name !== undefined;
      name = await section.varint("a field name")
    ) {
      add(
        await section.read(name, "a field name"),
        await section.read(await required(section, "a field value length"), "a field value"),
      );
    }
    return headers;
  }
  for (;;) {
    const name = await reader.varint("a field name");
    if (name === undefined || name === 0) return headers;
    add(
      await reader.read(name, "a field name"),
      await reader.read(await required(reader, "a field value length"), "a field value"),
    );
  }
}

async function* knownContent(reader: ByteReader): AsyncGenerator<Uint8Array> {
  let left = (await reader.varint("the content length")) ?? 0;
  while (left > 0) {
    const piece = await reader.some(left);
    if (piece === undefined)
      throw new OhttpMalformedError(`the binary HTTP response content is truncated: ${left} bytes missing`);
    left -= piece.length;
    yield piece;
  }
}

async function* indeterminateContent(reader: ByteReader): AsyncGenerator<Uint8Array> {
  for (;;) {
    const length = await reader.varint("a content chunk length");
    if (length === undefined || length === 0) return;
    yield await reader.read(length, "a content chunk");
  }
}

function streamOf(pieces: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await pieces.next();
        if (next.done === true) controller.close();
        else controller.enqueue(next.value.slice());
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await pieces.return(undefined);
    },
  });
}

/**
 * Chunked Oblivious HTTP (draft-ietf-ohai-chunked-ohttp-08): the request and the response are sealed in chunks, so
 * a gateway can stream a response (tokens as they are generated) and the client can read it as it arrives.
 *
 * ```
 * Chunked Encapsulated Request {            Chunked Encapsulated Response {
 *   Key Identifier (8), HPKE KEM ID (16),     Response Nonce (8 * max(Nn, Nk)),
 *   HPKE KDF ID (16), HPKE AEAD ID (16),      Non-Final Response Chunk (..) ...,
 *   KEM Encapsulated Key (8 * Nenc),          Final Response Chunk Indicator (i) = 0,
 *   Non-Final Request Chunk (..) ...,         AEAD-Protected Final Response Chunk (..),
 *   Final Request Chunk Indicator (i) = 0,  }
 *   HPKE-Protected Final Chunk (..),
 * }                                         Non-Final Chunk { Length (i) = 1.., Protected Chunk (..) }
 * ```
 *
 * Request chunks are sealed with the HPKE context (its sequence number orders them); response chunks with the
 * response key and `aead_nonce XOR counter`. The final chunk of each direction carries the AAD "final", so a
 * stream cut short is detected: a reader yields nothing as complete until it has opened that chunk.
 */
import type { RecipientContext, SenderContext } from "@hpke/core";
import { aeadName, aeadOpen, aeadSeal, encSize, TAG_LENGTH, type Suite } from "./algorithms";
import { CHUNK_SIZE, FINAL_CHUNK_AAD, LABELS } from "./constants";
import {
  deriveResponseKeys,
  HEADER_LENGTH,
  keyFor,
  responseNonceFor,
  responseNonceLength,
  setupRecipient,
  setupSender,
  type EncapsulateOptions,
  type EncapsulateResponseOptions,
  type ResponseKeys,
} from "./encapsulation";
import { OhttpDecryptionError, OhttpMalformedError, OhttpTooLargeError, OhttpTruncatedError } from "./errors";
import type { KeyConfig, KeyRing } from "./keys";
import { ByteReader, type ByteSource } from "./reader";
import { encodeVarint } from "./varint";

const EMPTY = new Uint8Array(0);

/** Options of the readers of chunked messages. */
export interface ChunkReadOptions {
  /** Largest plaintext of one chunk accepted. Default 1 MiB (senders keep to 16 KiB, {@link CHUNK_SIZE}). */
  maxChunkBytes?: number;
}

const DEFAULT_MAX_CHUNK = 1 << 20;

/** `varint(len(sealed)) || sealed`, or `0 || sealed` for the final chunk. */
function frame(sealed: Uint8Array, final: boolean): Uint8Array {
  const prefix = final ? Uint8Array.of(0) : encodeVarint(sealed.length);
  const out = new Uint8Array(prefix.length + sealed.length);
  out.set(prefix, 0);
  out.set(sealed, prefix.length);
  return out;
}

/**
 * Reads the chunks of a chunked message from `reader` and yields their plaintexts (an empty final chunk yields
 * nothing). Throws {@link OhttpTruncatedError} when the stream ends before the final chunk and
 * {@link OhttpDecryptionError} when a chunk fails authentication (tampered, reordered, or a non-final chunk empty).
 */
async function* readChunks(
  reader: ByteReader,
  open: (sealed: Uint8Array, final: boolean) => Promise<Uint8Array>,
  what: string,
  options: ChunkReadOptions,
): AsyncGenerator<Uint8Array> {
  const maxSealed = (options.maxChunkBytes ?? DEFAULT_MAX_CHUNK) + TAG_LENGTH;
  for (let index = 0; ; index++) {
    const length = await reader.varint(`${what} chunk ${index}`);
    if (length === undefined)
      throw new OhttpTruncatedError(`${what} ended after ${index} chunk(s) without its final chunk: it was truncated`);
    if (length === 0) {
      const last = await open(await reader.rest(maxSealed, `the final chunk of ${what}`), true);
      if (last.length > 0) yield last;
      return;
    }
    if (length > maxSealed)
      throw new OhttpTooLargeError(
        maxSealed,
        `chunk ${index} of ${what} is ${length} bytes, more than the limit of ${maxSealed}`,
      );
    const plaintext = await open(await reader.read(length, `chunk ${index} of ${what}`), false);
    if (plaintext.length === 0)
      throw new OhttpDecryptionError(`chunk ${index} of ${what} is empty but not final: treated as a decryption error`);
    yield plaintext;
  }
}

/** Seals response chunks with the response key: chunk i under `aead_nonce XOR i`. Shared by both directions of the response. */
class ResponseChunkCipher {
  private counter = 0;

  constructor(
    private readonly suite: Suite,
    private readonly keys: ResponseKeys,
  ) {}

  /** The nonce of the next chunk, advancing the counter. */
  next(): Uint8Array {
    if (this.counter >= Number.MAX_SAFE_INTEGER)
      throw new OhttpMalformedError("a chunked response cannot have 2^53 chunks");
    const nonce = this.keys.nonce.slice();
    let counter = this.counter++;
    for (let i = nonce.length - 1; counter > 0 && i >= 0; i--) {
      nonce[i]! ^= counter % 256;
      counter = Math.floor(counter / 256);
    }
    return nonce;
  }

  seal(chunk: Uint8Array, final: boolean): Uint8Array {
    return aeadSeal(this.suite.aeadId, this.keys.key, this.next(), final ? FINAL_CHUNK_AAD : EMPTY, chunk);
  }

  open(sealed: Uint8Array, final: boolean, what: string): Uint8Array {
    return aeadOpen(this.suite.aeadId, this.keys.key, this.next(), final ? FINAL_CHUNK_AAD : EMPTY, sealed, what);
  }
}

/**
 * The client's side of a chunked exchange: `header` starts the request, {@link seal} frames each chunk, and
 * {@link openResponse} reads the gateway's chunked response.
 * @example
 * const sender = await ChunkedRequestSender.create(config);
 * const body = concat(sender.header, await sender.seal(bhttp, true));
 * for await (const plaintext of sender.openResponse(response.body)) process(plaintext);
 */
export class ChunkedRequestSender {
  private finished = false;

  private constructor(
    private readonly sender: SenderContext,
    readonly suite: Suite,
    readonly enc: Uint8Array,
    /** `hdr || enc`: the first bytes of the request. */
    readonly header: Uint8Array,
  ) {}

  /** A sender to `config` (draft §6.1: HPKE `info` "message/bhttp chunked request", 0, hdr). */
  static async create(config: KeyConfig, options: EncapsulateOptions = {}): Promise<ChunkedRequestSender> {
    const { suite, header, enc, sender } = await setupSender(config, LABELS.chunkedRequest, options);
    const start = new Uint8Array(header.length + enc.length);
    start.set(header, 0);
    start.set(enc, header.length);
    return new ChunkedRequestSender(sender, suite, enc, start);
  }

  /** The framed chunk of `plaintext`; a non-final chunk must not be empty, the final one may. */
  async seal(plaintext: Uint8Array, final: boolean): Promise<Uint8Array> {
    if (this.finished) throw new OhttpMalformedError("the request already has its final chunk");
    if (!final && plaintext.length === 0) throw new OhttpMalformedError("a non-final chunk cannot be empty");
    this.finished = final;
    return frame(new Uint8Array(await this.sender.seal(plaintext, final ? FINAL_CHUNK_AAD : EMPTY)), final);
  }

  /** Yields the plaintext chunks of the chunked response in `source` (nonce first); see {@link readChunks} for errors. */
  async *openResponse(source: ByteSource | ByteReader, options: ChunkReadOptions = {}): AsyncGenerator<Uint8Array> {
    const reader = source instanceof ByteReader ? source : new ByteReader(source);
    const nonce = await reader
      .read(responseNonceLength(this.suite), "the response nonce of the chunked response")
      .catch((error: unknown) => {
        throw new OhttpTruncatedError("the chunked response ended inside its nonce: it was truncated", {
          cause: error,
        });
      });
    const cipher = new ResponseChunkCipher(
      this.suite,
      await deriveResponseKeys(this.sender, this.suite, LABELS.chunkedResponse, this.enc, nonce),
    );
    yield* readChunks(
      reader,
      async (sealed, final) => cipher.open(sealed, final, `${final ? "the final chunk" : "a chunk"} of the response`),
      "the chunked response",
      options,
    );
  }
}

/** Seals the chunks of a chunked response: `nonce` first, then each {@link seal}ed chunk. */
export class ChunkedResponseSealer {
  private finished = false;

  constructor(
    private readonly cipher: ResponseChunkCipher,
    /** The response nonce: the first bytes of the response. */
    readonly nonce: Uint8Array,
  ) {}

  /** The framed chunk of `plaintext`; a non-final chunk must not be empty, the final one may. */
  seal(plaintext: Uint8Array, final: boolean): Uint8Array {
    if (this.finished) throw new OhttpMalformedError("the response already has its final chunk");
    if (!final && plaintext.length === 0) throw new OhttpMalformedError("a non-final chunk cannot be empty");
    this.finished = final;
    return frame(this.cipher.seal(plaintext, final), final);
  }
}

/** The gateway's side of a chunked exchange, once the request header is read. */
export class ChunkedRequestReceiver {
  constructor(
    private readonly recipient: RecipientContext,
    private readonly reader: ByteReader,
    readonly keyId: number,
    readonly suite: Suite,
    readonly enc: Uint8Array,
    private readonly options: ChunkReadOptions,
  ) {}

  /** Yields the plaintext chunks of the request; see {@link readChunks} for errors. */
  async *chunks(): AsyncGenerator<Uint8Array> {
    const open = async (sealed: Uint8Array, final: boolean): Promise<Uint8Array> => {
      try {
        return new Uint8Array(await this.recipient.open(sealed, final ? FINAL_CHUNK_AAD : EMPTY));
      } catch (error) {
        throw new OhttpDecryptionError(
          `${final ? "the final chunk" : "a chunk"} of the request failed ${aeadName(this.suite.aeadId)} authentication: modified, reordered or truncated`,
          { cause: error },
        );
      }
    };
    yield* readChunks(this.reader, open, "the chunked request", this.options);
  }

  /** A sealer for the response (draft §6.2: exporter "message/bhttp chunked response"). */
  async responseSealer(options: EncapsulateResponseOptions = {}): Promise<ChunkedResponseSealer> {
    const nonce = responseNonceFor(this.suite, options);
    const keys = await deriveResponseKeys(this.recipient, this.suite, LABELS.chunkedResponse, this.enc, nonce);
    return new ChunkedResponseSealer(new ResponseChunkCipher(this.suite, keys), nonce);
  }

  /** The response keys for `responseNonce` (draft §6.2), for test vectors and diagnostics. */
  responseKeys(responseNonce: Uint8Array): Promise<ResponseKeys> {
    return deriveResponseKeys(this.recipient, this.suite, LABELS.chunkedResponse, this.enc, responseNonce);
  }
}

/**
 * Reads the header of a chunked request from `source` and sets up HPKE with the key it names. Throws as
 * `decapsulateRequest` does for the header; the chunks are read through the returned receiver.
 * @example const receiver = await openChunkedRequest(ring, req); for await (const part of receiver.chunks()) parts.push(part);
 */
export async function openChunkedRequest(
  keys: KeyRing,
  source: ByteSource | ByteReader,
  options: ChunkReadOptions = {},
): Promise<ChunkedRequestReceiver> {
  const reader = source instanceof ByteReader ? source : new ByteReader(source);
  const header = (await reader.read(HEADER_LENGTH, "the chunked request header")).slice();
  const { keyId, suite, key } = keyFor(keys, header);
  const enc = (await reader.read(encSize(suite.kemId), "the encapsulated key of the chunked request")).slice();
  const recipient = await setupRecipient(key, suite, LABELS.chunkedRequest, header, enc);
  return new ChunkedRequestReceiver(recipient, reader, keyId, suite, enc, options);
}

/** Splits `data` into pieces of at most `size` bytes (none if `data` is empty). */
export function* split(data: Uint8Array, size = CHUNK_SIZE): Generator<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}

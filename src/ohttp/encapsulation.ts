/**
 * Encapsulated requests and responses (RFC 9458 §4). A client seals a binary HTTP request to a key configuration
 * ({@link encapsulateRequest}) and keeps the {@link ClientContext} to open the answer; the gateway opens it with
 * its {@link KeyRing} ({@link decapsulateRequest}) and seals the answer with the {@link ServerContext}.
 *
 * ```
 * Encapsulated Request {                    Encapsulated Response {
 *   Key Identifier (8),                       Nonce (8 * max(Nn, Nk)),
 *   HPKE KEM ID (16),                         AEAD-Protected Response (..),
 *   HPKE KDF ID (16),                       }
 *   HPKE AEAD ID (16),
 *   Encapsulated KEM Shared Secret (8 * Nenc),
 *   HPKE-Protected Request (..),
 * }
 * ```
 */
import { randomBytes, webcrypto } from "node:crypto";
import type { CipherSuite, RecipientContext, SenderContext } from "@hpke/core";
import {
  aeadName,
  aeadOpen,
  aeadSeal,
  aeadSizes,
  encSize,
  hex16,
  hkdfExpand,
  hkdfExtract,
  hpkeSuite,
  isSupported,
  TAG_LENGTH,
  type Suite,
} from "./algorithms";
import { LABELS } from "./constants";
import { OhttpDecryptionError, OhttpMalformedError, OhttpUnknownKeyError, OhttpUnsupportedError } from "./errors";
import { importX25519, type GatewayKey, type KeyConfig, type KeyRing } from "./keys";

type CryptoKey = webcrypto.CryptoKey;

const encoder = new TextEncoder();

/** Length of the header before `enc`: key id (1), KEM, KDF and AEAD ids (2 each). */
export const HEADER_LENGTH = 7;

/** Options of {@link encapsulateRequest}. */
export interface EncapsulateOptions {
  /** The AEAD to use; default the first pair of the configuration this library implements. */
  aeadId?: number;
  /** The KDF to use; default as `aeadId`. */
  kdfId?: number;
  /**
   * @internal TESTS ONLY. A fixed X25519 ephemeral private key instead of a fresh one, to reproduce published test
   * vectors. Reusing an ephemeral key links requests and breaks their confidentiality: never set it elsewhere.
   */
  testOnlyEphemeralKey?: Uint8Array;
}

/** Options of {@link ServerContext.encapsulateResponse}. */
export interface EncapsulateResponseOptions {
  /**
   * @internal TESTS ONLY. A fixed response nonce instead of a random one, to reproduce published test vectors.
   * A repeated nonce reuses the response key: never set it elsewhere.
   */
  testOnlyResponseNonce?: Uint8Array;
}

/** Gateway public keys already imported, by the bytes object of the configuration that holds them. */
const recipientKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function recipientKeyOf(hpke: CipherSuite, publicKey: Uint8Array): Promise<CryptoKey> {
  let key = recipientKeys.get(publicKey);
  if (key === undefined) {
    key = hpke.kem.deserializePublicKey(publicKey);
    recipientKeys.set(publicKey, key);
    key.catch(() => recipientKeys.delete(publicKey));
  }
  return key;
}

/** The keys of one encapsulated response (RFC 9458 §4.4), with the intermediate values test vectors print. */
export interface ResponseKeys {
  secret: Uint8Array;
  prk: Uint8Array;
  key: Uint8Array;
  nonce: Uint8Array;
}

/** The 7-byte header `key_id || kem_id || kdf_id || aead_id`. */
export function requestHeader(keyId: number, suite: Suite): Uint8Array {
  const header = new Uint8Array(HEADER_LENGTH);
  const view = new DataView(header.buffer);
  view.setUint8(0, keyId);
  view.setUint16(1, suite.kemId);
  view.setUint16(3, suite.kdfId);
  view.setUint16(5, suite.aeadId);
  return header;
}

/** HPKE `info`: the label, a zero byte, the header. */
export function requestInfo(label: string, header: Uint8Array): Uint8Array {
  const prefix = encoder.encode(label);
  const info = new Uint8Array(prefix.length + 1 + header.length);
  info.set(prefix, 0);
  info.set(header, prefix.length + 1);
  return info;
}

/** The KDF and AEAD a client uses with `config`: the first pair it lists that this library implements (or `options`'s). */
export function selectSuite(config: KeyConfig, options: Pick<EncapsulateOptions, "aeadId" | "kdfId"> = {}): Suite {
  for (const { kdfId, aeadId } of config.symmetric) {
    const suite = { kemId: config.kemId, kdfId, aeadId };
    if (!isSupported(suite)) continue;
    if (options.aeadId !== undefined && options.aeadId !== aeadId) continue;
    if (options.kdfId !== undefined && options.kdfId !== kdfId) continue;
    return suite;
  }
  const asked = options.aeadId === undefined ? "" : ` with ${aeadName(options.aeadId)}`;
  throw new OhttpUnsupportedError(
    `key configuration ${config.keyId} (KEM 0x${hex16(config.kemId)}) offers no suite this library implements${asked}`,
  );
}

/** A sender HPKE context to `config` under `label`, with the header and `enc` that start the message. */
export async function setupSender(
  config: KeyConfig,
  label: string,
  options: EncapsulateOptions = {},
): Promise<{ suite: Suite; header: Uint8Array; enc: Uint8Array; sender: SenderContext }> {
  const suite = selectSuite(config, options);
  const hpke = hpkeSuite(suite);
  const header = requestHeader(config.keyId, suite);
  const recipientPublicKey = await recipientKeyOf(hpke, config.publicKey);
  const ekm =
    options.testOnlyEphemeralKey === undefined ? undefined : (await importX25519(options.testOnlyEphemeralKey)).keyPair;
  const sender = await hpke.createSenderContext({ recipientPublicKey, info: requestInfo(label, header), ekm });
  return { suite, header, enc: new Uint8Array(sender.enc), sender };
}

/** The parsed 7-byte header of an encapsulated request and the gateway key it names (RFC 9458 §4.3 step 1). */
export function keyFor(keys: KeyRing, header: Uint8Array): { keyId: number; suite: Suite; key: GatewayKey } {
  if (header.length < HEADER_LENGTH)
    throw new OhttpMalformedError(
      `encapsulated request is ${header.length} bytes, shorter than its ${HEADER_LENGTH}-byte header`,
    );
  const view = new DataView(header.buffer, header.byteOffset, HEADER_LENGTH);
  const keyId = view.getUint8(0);
  const suite = { kemId: view.getUint16(1), kdfId: view.getUint16(3), aeadId: view.getUint16(5) };
  const key = keys.get(keyId);
  if (key.config.kemId !== suite.kemId) {
    throw new OhttpUnknownKeyError(
      keyId,
      `key identifier ${keyId} is a KEM 0x${hex16(key.config.kemId)} key, the request names KEM 0x${hex16(suite.kemId)}`,
    );
  }
  if (!key.config.symmetric.some((s) => s.kdfId === suite.kdfId && s.aeadId === suite.aeadId) || !isSupported(suite)) {
    throw new OhttpUnsupportedError(
      `key ${keyId} does not accept KDF 0x${hex16(suite.kdfId)} with AEAD 0x${hex16(suite.aeadId)}`,
      { context: { keyId } },
    );
  }
  return { keyId, suite, key };
}

/** A recipient HPKE context for `enc` under `label`; a failed setup (an invalid `enc`) is an {@link OhttpDecryptionError}. */
export async function setupRecipient(
  key: GatewayKey,
  suite: Suite,
  label: string,
  header: Uint8Array,
  enc: Uint8Array,
): Promise<RecipientContext> {
  try {
    return await hpkeSuite(suite).createRecipientContext({
      recipientKey: key.keyPair,
      enc,
      info: requestInfo(label, header),
    });
  } catch (error) {
    throw new OhttpDecryptionError(
      `cannot set up HPKE with the encapsulated key of the request: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * The response key and nonce (RFC 9458 §4.4): `secret = Export(label, max(Nn, Nk))`,
 * `prk = Extract(enc || response_nonce, secret)`, `key = Expand(prk, "key", Nk)`, `nonce = Expand(prk, "nonce", Nn)`.
 */
export async function deriveResponseKeys(
  context: SenderContext | RecipientContext,
  suite: Suite,
  label: string,
  enc: Uint8Array,
  responseNonce: Uint8Array,
): Promise<ResponseKeys> {
  const { nk, nn } = aeadSizes(suite.aeadId);
  const secret = new Uint8Array(await context.export(encoder.encode(label), Math.max(nn, nk)));
  const salt = new Uint8Array(enc.length + responseNonce.length);
  salt.set(enc, 0);
  salt.set(responseNonce, enc.length);
  const prk = hkdfExtract(suite.kdfId, salt, secret);
  return {
    secret,
    prk,
    key: hkdfExpand(suite.kdfId, prk, encoder.encode("key"), nk),
    nonce: hkdfExpand(suite.kdfId, prk, encoder.encode("nonce"), nn),
  };
}

/** Length of the response nonce: max(Nn, Nk). */
export function responseNonceLength(suite: Suite): number {
  const { nk, nn } = aeadSizes(suite.aeadId);
  return Math.max(nn, nk);
}

/** A fresh response nonce, or the injected test nonce after checking its length. */
export function responseNonceFor(suite: Suite, options: EncapsulateResponseOptions): Uint8Array {
  const length = responseNonceLength(suite);
  const nonce = options.testOnlyResponseNonce ?? new Uint8Array(randomBytes(length));
  if (nonce.length !== length)
    throw new OhttpMalformedError(
      `a response nonce for ${aeadName(suite.aeadId)} is ${length} bytes, got ${nonce.length}`,
    );
  return nonce;
}

/** The client's side of one exchange: opens the gateway's encapsulated response. */
export class ClientContext {
  constructor(
    private readonly sender: SenderContext,
    readonly suite: Suite,
    readonly enc: Uint8Array,
  ) {}

  /**
   * The binary HTTP response inside `encapsulated` (RFC 9458 §4.4). Throws {@link OhttpDecryptionError} when the
   * response was modified (by the relay or anyone on the path), or {@link OhttpMalformedError} when it is too short.
   */
  async decapsulateResponse(encapsulated: Uint8Array): Promise<Uint8Array> {
    const length = responseNonceLength(this.suite);
    if (encapsulated.length < length + TAG_LENGTH) {
      throw new OhttpMalformedError(
        `encapsulated response is ${encapsulated.length} bytes, shorter than its ${length}-byte nonce and ${TAG_LENGTH}-byte tag`,
      );
    }
    const keys = await deriveResponseKeys(
      this.sender,
      this.suite,
      LABELS.response,
      this.enc,
      encapsulated.subarray(0, length),
    );
    return aeadOpen(
      this.suite.aeadId,
      keys.key,
      keys.nonce,
      new Uint8Array(0),
      encapsulated.subarray(length),
      "the encapsulated response",
    );
  }

  /** The response keys for `responseNonce`: the intermediate values of RFC 9458 §4.4, for test vectors and diagnostics. */
  responseKeys(responseNonce: Uint8Array): Promise<ResponseKeys> {
    return deriveResponseKeys(this.sender, this.suite, LABELS.response, this.enc, responseNonce);
  }
}

/** The gateway's side of one exchange: seals the response to the client that sent the request. */
export class ServerContext {
  constructor(
    private readonly recipient: RecipientContext,
    readonly keyId: number,
    readonly suite: Suite,
    readonly enc: Uint8Array,
  ) {}

  /** The encapsulated response `response_nonce || Seal(key, nonce, "", response)` (RFC 9458 §4.4). */
  async encapsulateResponse(response: Uint8Array, options: EncapsulateResponseOptions = {}): Promise<Uint8Array> {
    const responseNonce = responseNonceFor(this.suite, options);
    const keys = await deriveResponseKeys(this.recipient, this.suite, LABELS.response, this.enc, responseNonce);
    const sealed = aeadSeal(this.suite.aeadId, keys.key, keys.nonce, new Uint8Array(0), response);
    const out = new Uint8Array(responseNonce.length + sealed.length);
    out.set(responseNonce, 0);
    out.set(sealed, responseNonce.length);
    return out;
  }

  /** The response keys for `responseNonce`: the intermediate values of RFC 9458 §4.4, for test vectors and diagnostics. */
  responseKeys(responseNonce: Uint8Array): Promise<ResponseKeys> {
    return deriveResponseKeys(this.recipient, this.suite, LABELS.response, this.enc, responseNonce);
  }
}

/**
 * Seals a binary HTTP request to `config` (RFC 9458 §4.3): `hdr || enc || Seal("", request)`.
 * @example
 * const { encapsulated, context } = await encapsulateRequest(config, await encodeRequest(new Request("https://gateway/v1/infer")));
 * const response = decodeResponse(await context.decapsulateResponse(await post(relay, encapsulated)));
 */
export async function encapsulateRequest(
  config: KeyConfig,
  request: Uint8Array,
  options: EncapsulateOptions = {},
): Promise<{ encapsulated: Uint8Array; context: ClientContext }> {
  const { suite, header, enc, sender } = await setupSender(config, LABELS.request, options);
  const sealed = new Uint8Array(await sender.seal(request));
  const encapsulated = new Uint8Array(header.length + enc.length + sealed.length);
  encapsulated.set(header, 0);
  encapsulated.set(enc, header.length);
  encapsulated.set(sealed, header.length + enc.length);
  return { encapsulated, context: new ClientContext(sender, suite, enc) };
}

/**
 * Opens an encapsulated request with the gateway's keys (RFC 9458 §4.3). Throws {@link OhttpMalformedError},
 * {@link OhttpUnknownKeyError}, {@link OhttpUnsupportedError} or {@link OhttpDecryptionError}; `problemOf` maps
 * each to its response.
 * @example const { request, context } = await decapsulateRequest(ring, body); res.end(await context.encapsulateResponse(answer));
 */
export async function decapsulateRequest(
  keys: KeyRing,
  encapsulated: Uint8Array,
): Promise<{ request: Uint8Array; context: ServerContext }> {
  const { keyId, suite, key } = keyFor(keys, encapsulated);
  const nenc = encSize(suite.kemId);
  if (encapsulated.length < HEADER_LENGTH + nenc + TAG_LENGTH) {
    throw new OhttpMalformedError(
      `encapsulated request is ${encapsulated.length} bytes, shorter than its header, ${nenc}-byte encapsulated key and ${TAG_LENGTH}-byte tag`,
    );
  }
  const header = encapsulated.subarray(0, HEADER_LENGTH);
  const enc = encapsulated.slice(HEADER_LENGTH, HEADER_LENGTH + nenc);
  const recipient = await setupRecipient(key, suite, LABELS.request, header, enc);
  let request: Uint8Array;
  try {
    request = new Uint8Array(await recipient.open(encapsulated.subarray(HEADER_LENGTH + nenc)));
  } catch (error) {
    throw new OhttpDecryptionError(
      `the encapsulated request failed ${aeadName(suite.aeadId)} authentication with key ${keyId}: it was modified or sealed to another key`,
      { cause: error, context: { keyId } },
    );
  }
  return { request, context: new ServerContext(recipient, keyId, suite, enc) };
}

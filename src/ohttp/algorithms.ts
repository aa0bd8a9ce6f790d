/**
 * The HPKE algorithms of this library and the symmetric layer of encapsulated responses. HPKE's key schedule and
 * contexts (RFC 9180: SetupBaseS/R, Seal, Open, Export, sequence numbers) are `@hpke/core`'s; the primitives under
 * them run on `node:crypto` in the calling thread instead of WebCrypto: HKDF ({@link NodeHkdfSha256}), the X25519
 * of the KEM ({@link NodeDhkemX25519HkdfSha256}) and the AEADs ({@link NodeAead}). WebCrypto imports a key for
 * every HMAC and AEAD call and runs each Diffie-Hellman and AEAD call as a job on the libuv thread pool; the
 * same operations on KeyObjects cost a fraction of that per request (bench/ohttp.ts measures it). Same output:
 * RFC 9458 Appendix A and the chunked draft's vectors are reproduced through these classes. The response layer of
 * RFC 9458 §4.4 (HKDF Extract and Expand without HPKE's labels, then one AEAD) runs on `node:crypto` too, so a
 * chunked response seals each chunk synchronously.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  KeyObject,
} from "node:crypto";
import type { webcrypto } from "node:crypto";
import {
  AeadId,
  CipherSuite,
  DecapError,
  DhkemX25519HkdfSha256,
  EncapError,
  HkdfSha256,
  type AeadEncryptionContext,
  type AeadInterface,
  type RecipientContextParams,
  type SenderContextParams,
} from "@hpke/core";
import { OhttpDecryptionError, OhttpUnsupportedError } from "./errors";

/** HPKE KEM identifiers (RFC 9180 §7.1). Only X25519 encapsulates; the others parse in key configurations. */
export const KEM = {
  P256_SHA256: 0x0010,
  P384_SHA384: 0x0011,
  P521_SHA512: 0x0012,
  X25519_SHA256: 0x0020,
  X448_SHA512: 0x0021,
} as const;
/** HPKE KDF identifiers (RFC 9180 §7.2) this library implements. */
export const KDF = { HKDF_SHA256: 0x0001 } as const;
/** HPKE AEAD identifiers (RFC 9180 §7.3) this library implements. */
export const AEAD = { AES_128_GCM: 0x0001, CHACHA20_POLY1305: 0x0003 } as const;

/** A KEM, KDF and AEAD, as an encapsulated request names them. */
export interface Suite {
  kemId: number;
  kdfId: number;
  aeadId: number;
}

/** Npk of each registered KEM: enough to parse any key configuration (RFC 9180 §7.1). */
const PUBLIC_KEY_SIZES: ReadonlyMap<number, number> = new Map([
  [KEM.P256_SHA256, 65],
  [KEM.P384_SHA384, 97],
  [KEM.P521_SHA512, 133],
  [KEM.X25519_SHA256, 32],
  [KEM.X448_SHA512, 56],
]);

/** Nenc of the KEMs this library encapsulates with. */
const ENC_SIZES: ReadonlyMap<number, number> = new Map([[KEM.X25519_SHA256, 32]]);

interface AeadParams {
  name: string;
  cipher: "aes-128-gcm" | "chacha20-poly1305";
  nk: number;
  nn: number;
}

const AEADS: ReadonlyMap<number, AeadParams> = new Map([
  [AEAD.AES_128_GCM, { name: "AES-128-GCM", cipher: "aes-128-gcm", nk: 16, nn: 12 }],
  [AEAD.CHACHA20_POLY1305, { name: "ChaCha20-Poly1305", cipher: "chacha20-poly1305", nk: 32, nn: 12 }],
]);

const KDFS: ReadonlyMap<number, { hash: "sha256"; nh: number }> = new Map([
  [KDF.HKDF_SHA256, { hash: "sha256", nh: 32 }],
]);

/** The AEAD tag length of both AEADs. */
export const TAG_LENGTH = 16;

/** Npk of `kemId`, or undefined for an unregistered KEM. */
export function publicKeySize(kemId: number): number | undefined {
  return PUBLIC_KEY_SIZES.get(kemId);
}

/** Nenc of `kemId`; throws {@link OhttpUnsupportedError} for a KEM this library does not encapsulate with. */
export function encSize(kemId: number): number {
  const size = ENC_SIZES.get(kemId);
  if (size === undefined)
    throw new OhttpUnsupportedError(
      `HPKE KEM 0x${hex16(kemId)} is not supported (only DHKEM(X25519, HKDF-SHA256), 0x0020)`,
    );
  return size;
}

/** Whether this library implements every algorithm of `suite`. */
export function isSupported(suite: Suite): boolean {
  return ENC_SIZES.has(suite.kemId) && KDFS.has(suite.kdfId) && AEADS.has(suite.aeadId);
}

/** Nk and Nn of `aeadId`. */
export function aeadSizes(aeadId: number): { nk: number; nn: number } {
  const { nk, nn } = aeadOf(aeadId);
  return { nk, nn };
}

/** The human name of an AEAD, for messages. */
export function aeadName(aeadId: number): string {
  return AEADS.get(aeadId)?.name ?? `AEAD 0x${hex16(aeadId)}`;
}

/**
 * `@hpke/core`'s HKDF-SHA256 (its labels, suite id and checks unchanged) with Extract and Expand computed by
 * `node:crypto` HMAC in the calling thread. The WebCrypto original imports a key and signs asynchronously for each
 * of the ~10 HMACs of a key schedule; this one costs a fraction of that (see bench/ohttp.ts). Same output: RFC 9458
 * Appendix A is reproduced through it.
 */
export class NodeHkdfSha256 extends HkdfSha256 {
  override async extract(
    salt: ArrayBufferLike | ArrayBufferView,
    ikm: ArrayBufferLike | ArrayBufferView,
  ): Promise<ArrayBuffer> {
    return bufferOf(hkdfExtract(KDF.HKDF_SHA256, bytesOf(salt), bytesOf(ikm)));
  }

  override async expand(
    prk: ArrayBufferLike | ArrayBufferView,
    info: ArrayBufferLike | ArrayBufferView,
    length: number,
  ): Promise<ArrayBuffer> {
    return bufferOf(hkdfExpand(KDF.HKDF_SHA256, bytesOf(prk), bytesOf(info), length));
  }

  override async extractAndExpand(
    salt: ArrayBufferLike | ArrayBufferView,
    ikm: ArrayBufferLike | ArrayBufferView,
    info: ArrayBufferLike | ArrayBufferView,
    length: number,
  ): Promise<ArrayBuffer> {
    return bufferOf(
      hkdfExpand(KDF.HKDF_SHA256, hkdfExtract(KDF.HKDF_SHA256, bytesOf(salt), bytesOf(ikm)), bytesOf(info), length),
    );
  }
}

/**
 * `@hpke/core`'s DHKEM(X25519, HKDF-SHA256) with its base-mode Encap and Decap (RFC 9180 §4.1) on `node:crypto`
 * KeyObjects: a fresh ephemeral key from `generateKeyPairSync`, the Diffie-Hellman by `diffieHellman`, the
 * shared secret by {@link NodeHkdfSha256}. Keys come and go as WebCrypto CryptoKeys, as the interface wants, and
 * are wrapped with `KeyObject.from` (no copy of the secret leaves OpenSSL). The authenticated modes and key
 * derivation from seed bytes, which this library does not use, stay `@hpke/core`'s.
 */
export class NodeDhkemX25519HkdfSha256 extends DhkemX25519HkdfSha256 {
  constructor() {
    super();
    const kdf = new NodeHkdfSha256();
    kdf.init(KEM_SUITE_ID); // as Dhkem's constructor does for its own KDF
    this._kdf = kdf;
  }

  override async encap(params: SenderContextParams): Promise<{ sharedSecret: ArrayBuffer; enc: ArrayBuffer }> {
    if (params.senderKey !== undefined || (params.ekm !== undefined && !isKeyPair(params.ekm)))
      return super.encap(params);
    try {
      const ephemeral =
        params.ekm === undefined
          ? generateKeyPairSync("x25519")
          : { privateKey: keyObjectOf(params.ekm.privateKey), publicKey: keyObjectOf(params.ekm.publicKey) };
      const recipient = params.recipientPublicKey as webcrypto.CryptoKey;
      const enc = rawX25519(ephemeral.publicKey);
      const dh = x25519(ephemeral.privateKey, keyObjectOf(recipient));
      return { enc: bufferOf(enc), sharedSecret: await this.sharedSecret(dh, enc, rawOf(recipient)) };
    } catch (error) {
      throw new EncapError(error);
    }
  }

  override async decap(params: RecipientContextParams): Promise<ArrayBuffer> {
    if (params.senderPublicKey !== undefined || !isKeyPair(params.recipientKey)) return super.decap(params);
    try {
      const enc = bytesOf(params.enc);
      if (enc.length !== X25519_LENGTH) throw new Error(`an X25519 enc is ${X25519_LENGTH} bytes, got ${enc.length}`);
      const ephemeral = createPublicKey({
        key: {
          kty: "OKP",
          crv: "X25519",
          x: Buffer.from(enc.buffer, enc.byteOffset, enc.length).toString("base64url"),
        },
        format: "jwk",
      });
      const dh = x25519(keyObjectOf(params.recipientKey.privateKey), ephemeral);
      return await this.sharedSecret(dh, enc, rawOf(params.recipientKey.publicKey));
    } catch (error) {
      throw new DecapError(error);
    }
  }

  /** ExtractAndExpand(dh, enc || pkRm) of RFC 9180 §4.1, with the KEM's labels and suite id. */
  private sharedSecret(dh: Uint8Array, enc: Uint8Array, recipient: Uint8Array): Promise<ArrayBuffer> {
    const context = new Uint8Array(enc.length + recipient.length);
    context.set(enc, 0);
    context.set(recipient, enc.length);
    return this._kdf.extractAndExpand(
      EMPTY,
      this._kdf.buildLabeledIkm(LABEL_EAE_PRK, dh),
      this._kdf.buildLabeledInfo(LABEL_SHARED_SECRET, context, this.secretSize),
      this.secretSize,
    );
  }
}

const X25519_LENGTH = 32;
const EMPTY = new Uint8Array(0);
/** "eae_prk" and "shared_secret" (RFC 9180 §4.1). */
const LABEL_EAE_PRK = new TextEncoder().encode("eae_prk");
const LABEL_SHARED_SECRET = new TextEncoder().encode("shared_secret");

function isKeyPair(key: unknown): key is webcrypto.CryptoKeyPair {
  return typeof key === "object" && key !== null && "privateKey" in key && "publicKey" in key;
}

/**
 * KeyObjects and public key bytes of the long-lived keys (a gateway's key pair, the gateway key a client seals to),
 * by the CryptoKey they wrap: handles to key material the process holds anyway, never anything derived per request.
 */
const keyObjects = new WeakMap<webcrypto.CryptoKey, KeyObject>();
const rawPublicKeys = new WeakMap<webcrypto.CryptoKey, Uint8Array>();

function keyObjectOf(key: webcrypto.CryptoKey): KeyObject {
  let object = keyObjects.get(key);
  if (object === undefined) keyObjects.set(key, (object = KeyObject.from(key)));
  return object;
}

function rawOf(publicKey: webcrypto.CryptoKey): Uint8Array {
  let raw = rawPublicKeys.get(publicKey);
  if (raw === undefined) rawPublicKeys.set(publicKey, (raw = rawX25519(keyObjectOf(publicKey))));
  return raw;
}

/** The 32-byte encoding of an X25519 public KeyObject (RFC 7748). */
function rawX25519(key: KeyObject): Uint8Array {
  return new Uint8Array(Buffer.from(key.export({ format: "jwk" }).x!, "base64url"));
}

/** X25519(sk, pk); refuses the all-zero output of a small-order point (RFC 9180 §7.1.4). */
function x25519(privateKey: KeyObject, publicKey: KeyObject): Uint8Array {
  const dh = diffieHellman({ privateKey, publicKey });
  if (dh.every((byte) => byte === 0)) throw new Error("the X25519 shared secret is all zero");
  return new Uint8Array(dh.buffer, dh.byteOffset, dh.length);
}

/**
 * An HPKE AEAD (AES-128-GCM or ChaCha20-Poly1305, RFC 9180 §7.3) on `node:crypto`: `@hpke/core`'s contexts
 * compute the nonces and sequence numbers, this seals and opens in the calling thread.
 */
export class NodeAead implements AeadInterface {
  readonly keySize: number;
  readonly nonceSize: number;
  readonly tagSize = TAG_LENGTH;

  constructor(readonly id: AeadId) {
    const { nk, nn } = aeadSizes(id);
    this.keySize = nk;
    this.nonceSize = nn;
  }

  createEncryptionContext(key: ArrayBufferLike | ArrayBufferView): AeadEncryptionContext {
    const id = this.id;
    const raw = bytesOf(key).slice();
    return {
      seal: async (iv, data, aad) => bufferOf(aeadSeal(id, raw, bytesOf(iv), bytesOf(aad), bytesOf(data))),
      open: async (iv, data, aad) =>
        bufferOf(aeadOpen(id, raw, bytesOf(iv), bytesOf(aad), bytesOf(data), "the HPKE-protected message")),
    };
  }
}

/** suite_id of the KEM (RFC 9180 §4.1): "KEM" || I2OSP(0x0020, 2). */
const KEM_SUITE_ID = Uint8Array.of(0x4b, 0x45, 0x4d, 0x00, 0x20);

function bytesOf(data: ArrayBufferLike | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
}

function bufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.slice().buffer as ArrayBuffer);
}

const suites = new Map<string, CipherSuite>();

/**
 * The `@hpke/core` cipher suite of `suite`, built once per process.
 * @example const sender = await hpkeSuite({ kemId: 0x20, kdfId: 1, aeadId: 1 }).createSenderContext({ recipientPublicKey, info });
 */
export function hpkeSuite(suite: Suite): CipherSuite {
  const name = `${suite.kemId}/${suite.kdfId}/${suite.aeadId}`;
  let built = suites.get(name);
  if (built === undefined) {
    if (!isSupported(suite))
      throw new OhttpUnsupportedError(
        `HPKE suite KEM 0x${hex16(suite.kemId)}, KDF 0x${hex16(suite.kdfId)}, AEAD 0x${hex16(suite.aeadId)} is not supported`,
      );
    built = new CipherSuite({
      kem: new NodeDhkemX25519HkdfSha256(),
      kdf: new NodeHkdfSha256(),
      aead: new NodeAead(suite.aeadId === AEAD.AES_128_GCM ? AeadId.Aes128Gcm : AeadId.Chacha20Poly1305),
    });
    suites.set(name, built);
  }
  return built;
}

/** HKDF-Extract (RFC 5869 §2.2) of the KDF `kdfId`. */
export function hkdfExtract(kdfId: number, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac(kdfOf(kdfId).hash, salt).update(ikm).digest());
}

/** HKDF-Expand (RFC 5869 §2.3) of the KDF `kdfId`. */
export function hkdfExpand(kdfId: number, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const { hash, nh } = kdfOf(kdfId);
  const out = new Uint8Array(length);
  let previous = new Uint8Array(0);
  for (let block = 1, offset = 0; offset < length; block++, offset += nh) {
    previous = new Uint8Array(
      createHmac(hash, prk).update(previous).update(info).update(Uint8Array.of(block)).digest(),
    );
    out.set(previous.subarray(0, Math.min(nh, length - offset)), offset);
  }
  return out;
}

/** AEAD Seal: ciphertext followed by the 16-byte tag. */
export function aeadSeal(
  aeadId: number,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const params = aeadOf(aeadId);
  const cipher =
    params.cipher === "aes-128-gcm"
      ? createCipheriv(params.cipher, key, nonce, { authTagLength: TAG_LENGTH })
      : createCipheriv(params.cipher, key, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  const out = new Uint8Array(head.length + tail.length + TAG_LENGTH);
  out.set(head, 0);
  out.set(tail, head.length);
  out.set(cipher.getAuthTag(), head.length + tail.length);
  return out;
}

/** AEAD Open; throws {@link OhttpDecryptionError} naming `what` when authentication fails. */
export function aeadOpen(
  aeadId: number,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
  what: string,
): Uint8Array {
  const params = aeadOf(aeadId);
  if (sealed.length < TAG_LENGTH)
    throw new OhttpDecryptionError(`${what} is shorter than the ${TAG_LENGTH}-byte ${params.name} tag`);
  const decipher =
    params.cipher === "aes-128-gcm"
      ? createDecipheriv(params.cipher, key, nonce, { authTagLength: TAG_LENGTH })
      : createDecipheriv(params.cipher, key, nonce, { authTagLength: TAG_LENGTH });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
  decipher.setAAD(aad, { plaintextLength: sealed.length - TAG_LENGTH });
  try {
    const head = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
    const tail = decipher.final();
    return tail.length === 0 ? new Uint8Array(head) : new Uint8Array(Buffer.concat([head, tail]));
  } catch (error) {
    throw new OhttpDecryptionError(
      `${what} failed ${params.name} authentication: it was modified in transit or sealed for another request`,
      { cause: error },
    );
  }
}

function aeadOf(aeadId: number): AeadParams {
  const params = AEADS.get(aeadId);
  if (params === undefined)
    throw new OhttpUnsupportedError(
      `HPKE AEAD 0x${hex16(aeadId)} is not supported (AES-128-GCM 0x0001, ChaCha20-Poly1305 0x0003)`,
    );
  return params;
}

function kdfOf(kdfId: number): { hash: "sha256"; nh: number } {
  const params = KDFS.get(kdfId);
  if (params === undefined)
    throw new OhttpUnsupportedError(`HPKE KDF 0x${hex16(kdfId)} is not supported (HKDF-SHA256 0x0001)`);
  return params;
}

/** A 16-bit identifier as four hex digits. */
export function hex16(value: number): string {
  return value.toString(16).padStart(4, "0");
}

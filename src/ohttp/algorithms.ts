/**
 * The HPKE algorithms of this library and the symmetric layer of encapsulated responses. HPKE itself (RFC 9180:
 * DHKEM, the key schedule, SetupBaseS/R, Seal, Open, Export) is `@hpke/core` with `@hpke/chacha20poly1305`; only
 * its HKDF, in the key schedule and in the KEM, runs on `node:crypto` ({@link NodeHkdfSha256}). The response layer of RFC 9458 §4.4 (HKDF Extract and
 * Expand without HPKE's labels, then one AEAD) runs on `node:crypto` too: synchronous, so a chunked response
 * seals each chunk without a round trip through WebCrypto's thread pool.
 */
import { createCipheriv, createDecipheriv, createHmac } from "node:crypto";
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
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

/** `@hpke/core`'s DHKEM(X25519, HKDF-SHA256) whose shared-secret derivation uses {@link NodeHkdfSha256}. */
export class NodeDhkemX25519HkdfSha256 extends DhkemX25519HkdfSha256 {
  constructor() {
    super();
    const kdf = new NodeHkdfSha256();
    kdf.init(KEM_SUITE_ID); // as Dhkem's constructor does for its own KDF
    this._kdf = kdf;
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
    const aead = suite.aeadId === AEAD.AES_128_GCM ? new Aes128Gcm() : new Chacha20Poly1305();
    built = new CipherSuite({ kem: new NodeDhkemX25519HkdfSha256(), kdf: new NodeHkdfSha256(), aead });
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

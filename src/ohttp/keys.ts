/**
 * Key configurations (RFC 9458 §3): what a gateway publishes so clients can encapsulate to it, one at a time
 * (§3.1) or as the `application/ohttp-keys` list (§3.2); and the gateway's own keys ({@link GatewayKey}, grouped
 * by key identifier in a {@link KeyRing}).
 *
 * ```
 * Key Config {
 *   Key Identifier (8),
 *   HPKE KEM ID (16),
 *   HPKE Public Key (Npk * 8),
 *   HPKE Symmetric Algorithms Length (16) = 4..65532,
 *   HPKE Symmetric Algorithms (32) ...,      // HPKE KDF ID (16), HPKE AEAD ID (16)
 * }
 * ```
 */
import { webcrypto } from "node:crypto";
import { AEAD, hex16, hpkeSuite, KDF, KEM, publicKeySize } from "./algorithms";
import { OhttpMalformedError, OhttpUnknownKeyError } from "./errors";

type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** One KDF and AEAD a gateway accepts with a key. */
export interface SymmetricAlgorithm {
  kdfId: number;
  aeadId: number;
}

/** A key configuration: the public half of a gateway key and the algorithms it accepts. */
export interface KeyConfig {
  /** 0..255; the first byte of every encapsulated request to this key. */
  keyId: number;
  kemId: number;
  publicKey: Uint8Array;
  /** In the gateway's order of preference; at least one. */
  symmetric: SymmetricAlgorithm[];
}

/** HKDF-SHA256 with AES-128-GCM, then with ChaCha20-Poly1305: what {@link generateGatewayKey} offers by default. */
export const DEFAULT_SYMMETRIC: readonly SymmetricAlgorithm[] = [
  { kdfId: KDF.HKDF_SHA256, aeadId: AEAD.AES_128_GCM },
  { kdfId: KDF.HKDF_SHA256, aeadId: AEAD.CHACHA20_POLY1305 },
];

/**
 * The encoding of one key configuration (RFC 9458 §3.1), without a length prefix.
 * @example const bytes = encodeKeyConfig(key.config); // 01 0020 <32-byte key> 0008 0001 0001 0001 0003
 */
export function encodeKeyConfig(config: KeyConfig): Uint8Array {
  checkConfig(config);
  const out = new Uint8Array(1 + 2 + config.publicKey.length + 2 + 4 * config.symmetric.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, config.keyId);
  view.setUint16(1, config.kemId);
  out.set(config.publicKey, 3);
  let offset = 3 + config.publicKey.length;
  view.setUint16(offset, 4 * config.symmetric.length);
  offset += 2;
  for (const { kdfId, aeadId } of config.symmetric) {
    view.setUint16(offset, kdfId);
    view.setUint16(offset + 2, aeadId);
    offset += 4;
  }
  return out;
}

/**
 * Parses one key configuration (RFC 9458 §3.1) that fills `bytes` exactly. Throws {@link OhttpMalformedError} on
 * any encoding error and for a KEM whose public key size is unknown.
 */
export function decodeKeyConfig(bytes: Uint8Array): KeyConfig {
  const { config, end } = readConfig(bytes, 0, bytes.length);
  if (end !== bytes.length) throw new OhttpMalformedError(`key configuration has ${bytes.length - end} trailing bytes`);
  return config;
}

/**
 * The `application/ohttp-keys` encoding of `configs` (RFC 9458 §3.2): each configuration prefixed with its
 * length as a 16-bit integer.
 * @example res.setHeader("content-type", MEDIA_TYPES.keys).end(encodeKeyConfigs(ring.configs()));
 */
export function encodeKeyConfigs(configs: readonly KeyConfig[]): Uint8Array {
  if (configs.length === 0)
    throw new OhttpMalformedError("an application/ohttp-keys list holds at least one key configuration");
  const parts = configs.map(encodeKeyConfig);
  const out = new Uint8Array(parts.reduce((sum, part) => sum + 2 + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    if (part.length > 0xffff) throw new OhttpMalformedError(`key configuration ${offset} is longer than 65535 bytes`);
    out[offset] = part.length >> 8;
    out[offset + 1] = part.length & 0xff;
    out.set(part, offset + 2);
    offset += 2 + part.length;
  }
  return out;
}

/**
 * Parses an `application/ohttp-keys` list. Any encoding error rejects the whole list, as RFC 9458 §3.2 requires
 * of clients (recovering part of a list would let a server tell clients apart).
 */
export function decodeKeyConfigs(bytes: Uint8Array): KeyConfig[] {
  const configs: KeyConfig[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 2 > bytes.length)
      throw new OhttpMalformedError(`application/ohttp-keys: truncated length prefix at byte ${offset}`);
    const length = (bytes[offset]! << 8) | bytes[offset + 1]!;
    const start = offset + 2;
    if (start + length > bytes.length)
      throw new OhttpMalformedError(
        `application/ohttp-keys: key configuration at byte ${offset} claims ${length} bytes, ${bytes.length - start} remain`,
      );
    const { config, end } = readConfig(bytes, start, start + length);
    if (end !== start + length)
      throw new OhttpMalformedError(
        `application/ohttp-keys: key configuration at byte ${offset} is ${end - start} bytes, its prefix says ${length}`,
      );
    configs.push(config);
    offset = start + length;
  }
  if (configs.length === 0) throw new OhttpMalformedError("application/ohttp-keys: the list is empty");
  return configs;
}

function readConfig(bytes: Uint8Array, start: number, limit: number): { config: KeyConfig; end: number } {
  const what = `key configuration at byte ${start}`;
  if (start + 3 > limit) throw new OhttpMalformedError(`${what} is truncated before its public key`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const keyId = view.getUint8(start);
  const kemId = view.getUint16(start + 1);
  const npk = publicKeySize(kemId);
  if (npk === undefined)
    throw new OhttpMalformedError(`${what} names HPKE KEM 0x${hex16(kemId)}, whose public key size is unknown`);
  let offset = start + 3;
  if (offset + npk + 2 > limit) throw new OhttpMalformedError(`${what} is truncated inside its ${npk}-byte public key`);
  const publicKey = bytes.slice(offset, offset + npk);
  offset += npk;
  const symLength = view.getUint16(offset);
  offset += 2;
  if (symLength < 4 || symLength % 4 !== 0)
    throw new OhttpMalformedError(
      `${what} has ${symLength} bytes of symmetric algorithms: a positive multiple of 4 is required`,
    );
  if (offset + symLength > limit) throw new OhttpMalformedError(`${what} is truncated inside its symmetric algorithms`);
  const symmetric: SymmetricAlgorithm[] = [];
  for (let end = offset + symLength; offset < end; offset += 4)
    symmetric.push({ kdfId: view.getUint16(offset), aeadId: view.getUint16(offset + 2) });
  return { config: { keyId, kemId, publicKey, symmetric }, end: offset };
}

function checkConfig(config: KeyConfig): void {
  if (!Number.isInteger(config.keyId) || config.keyId < 0 || config.keyId > 255)
    throw new OhttpMalformedError(`key identifier ${config.keyId} is not an 8-bit value`);
  const npk = publicKeySize(config.kemId);
  if (npk !== config.publicKey.length)
    throw new OhttpMalformedError(
      `HPKE KEM 0x${hex16(config.kemId)} takes a ${npk ?? "?"}-byte public key, got ${config.publicKey.length} bytes`,
    );
  if (config.symmetric.length === 0 || config.symmetric.length > 16_383)
    throw new OhttpMalformedError(
      `a key configuration lists 1 to 16383 symmetric algorithms, got ${config.symmetric.length}`,
    );
}

/* GATEWAY KEYS */

/** A gateway's HPKE key pair with the configuration it publishes. Keep the private key inside the gateway. */
export interface GatewayKey {
  config: KeyConfig;
  keyPair: CryptoKeyPair;
}

/** Options of {@link generateGatewayKey} and {@link importGatewayKey}. */
export interface GatewayKeyOptions {
  keyId: number;
  /** Default {@link DEFAULT_SYMMETRIC}. */
  symmetric?: readonly SymmetricAlgorithm[];
}

const X25519_SUITE = { kemId: KEM.X25519_SHA256, kdfId: KDF.HKDF_SHA256, aeadId: AEAD.AES_128_GCM };

/**
 * A fresh X25519 gateway key.
 * @example const key = await generateGatewayKey({ keyId: 1 }); const ring = new KeyRing([key]);
 */
export async function generateGatewayKey(options: GatewayKeyOptions): Promise<GatewayKey> {
  const kem = hpkeSuite(X25519_SUITE).kem;
  const keyPair = await kem.generateKeyPair();
  return gatewayKeyOf(options, keyPair, new Uint8Array(await kem.serializePublicKey(keyPair.publicKey)));
}

/**
 * The gateway key of a 32-byte X25519 private key (RFC 7748 scalar, as RFC 9458 Appendix A prints it).
 * @example const key = await importGatewayKey({ keyId: 1, privateKey: sealedScalar });
 */
export async function importGatewayKey(options: GatewayKeyOptions & { privateKey: Uint8Array }): Promise<GatewayKey> {
  const { keyPair, publicKey } = await importX25519(options.privateKey);
  return gatewayKeyOf(options, keyPair, publicKey);
}

/** The 32-byte private scalar of `key`, to seal it for storage. */
export async function exportGatewayPrivateKey(key: GatewayKey): Promise<Uint8Array> {
  return new Uint8Array(await hpkeSuite(X25519_SUITE).kem.serializePrivateKey(key.keyPair.privateKey));
}

/** The X25519 key pair of a raw private scalar, and the raw public key. */
export async function importX25519(privateKey: Uint8Array): Promise<{ keyPair: CryptoKeyPair; publicKey: Uint8Array }> {
  if (privateKey.length !== 32)
    throw new OhttpMalformedError(`an X25519 private key is 32 bytes, got ${privateKey.length}`);
  const kem = hpkeSuite(X25519_SUITE).kem;
  const secret = await kem.importKey("raw", privateKey, false);
  const jwk = await webcrypto.subtle.exportKey("jwk", secret);
  if (jwk.x === undefined) throw new OhttpMalformedError("the X25519 private key has no public half");
  const publicKey = new Uint8Array(Buffer.from(jwk.x, "base64url"));
  return { keyPair: { privateKey: secret, publicKey: await kem.deserializePublicKey(publicKey) }, publicKey };
}

function gatewayKeyOf(options: GatewayKeyOptions, keyPair: CryptoKeyPair, publicKey: Uint8Array): GatewayKey {
  const config: KeyConfig = {
    keyId: options.keyId,
    kemId: KEM.X25519_SHA256,
    publicKey,
    symmetric: [...(options.symmetric ?? DEFAULT_SYMMETRIC)],
  };
  checkConfig(config);
  return { config, keyPair };
}

/**
 * The keys a gateway accepts, by key identifier. Rotation: add the new key beside the old one, publish both
 * configurations, drop the old key once clients have the new configuration.
 * @example const ring = new KeyRing([await generateGatewayKey({ keyId: 1 })]);
 */
export class KeyRing {
  private readonly byId = new Map<number, GatewayKey>();

  constructor(keys: readonly GatewayKey[]) {
    if (keys.length === 0) throw new OhttpMalformedError("a key ring holds at least one key");
    for (const key of keys) {
      if (this.byId.has(key.config.keyId))
        throw new OhttpMalformedError(`two keys share key identifier ${key.config.keyId}`);
      this.byId.set(key.config.keyId, key);
    }
  }

  /** The key of `keyId`; throws {@link OhttpUnknownKeyError} when there is none. */
  get(keyId: number): GatewayKey {
    const key = this.byId.get(keyId);
    if (key === undefined) throw new OhttpUnknownKeyError(keyId, `the gateway has no key with identifier ${keyId}`);
    return key;
  }

  /** The public configurations, in the order the keys were given. */
  configs(): KeyConfig[] {
    return [...this.byId.values()].map((key) => key.config);
  }
}

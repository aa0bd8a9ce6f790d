/**
 * RSA blind signatures (RFC 9474) in the variant Privacy Pass token type 0x0002 uses (RFC 9578 §6):
 * RSABSSA-SHA384-PSS-Deterministic — EMSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt, and no message
 * prefix (the token input already carries the client's random nonce).
 *
 * The two modular exponentiations run in OpenSSL through node:crypto (raw RSA, `RSA_NO_PADDING`; the private one
 * with CRT, about a third of a millisecond for 2048 bits); the blinding arithmetic around them is bigint.
 */
import { constants, createHash, type KeyObject, privateDecrypt, publicEncrypt, randomBytes, verify } from "node:crypto";
import { VerificationError } from "../core/errors";
import { concatBytes, equalBytes, i2osp, os2ip } from "./bytes";
import { PrivacyPassInputError } from "./errors";

export const HASH = "sha384";
/** Output length of SHA-384. */
export const HASH_LENGTH = 48;
/** sLen of the PSS variant (RFC 9474 §5): the hash length. */
export const SALT_LENGTH = 48;

/** The public numbers of an RSA key. */
export interface RsaModulus {
  n: bigint;
  e: bigint;
  /** Modulus length in bytes (kLen) and bits (modBits). */
  bytes: number;
  bits: number;
}

const moduli = new WeakMap<KeyObject, RsaModulus>();

/** n and e of an RSA key (public or private), read once per key object. */
export function rsaModulus(key: KeyObject): RsaModulus {
  let modulus = moduli.get(key);
  if (modulus === undefined) {
    const jwk = key.export({ format: "jwk" });
    if (jwk.kty !== "RSA" || jwk.n === undefined || jwk.e === undefined)
      throw new PrivacyPassInputError("key", `expected an RSA key, got ${key.asymmetricKeyType ?? key.type}`);
    const n = os2ip(Buffer.from(jwk.n, "base64url"));
    modulus = { n, e: os2ip(Buffer.from(jwk.e, "base64url")), bits: n.toString(2).length, bytes: 0 };
    modulus.bytes = Math.ceil(modulus.bits / 8);
    moduli.set(key, modulus);
  }
  return modulus;
}

function sha384(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash(HASH);
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** MGF1 with SHA-384 (RFC 8017 §B.2.1). */
function mgf1(seed: Uint8Array, length: number): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (let counter = 0; blocks.length * HASH_LENGTH < length; counter++)
    blocks.push(sha384(seed, i2osp(BigInt(counter), 4)));
  return concatBytes(blocks).subarray(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with SHA-384, MGF1-SHA-384 and `salt`, for a modulus of `emBits + 1` bits. */
export function emsaPssEncode(message: Uint8Array, emBits: number, salt: Uint8Array): Uint8Array {
  const emLength = Math.ceil(emBits / 8);
  if (emLength < HASH_LENGTH + salt.length + 2) throw new RangeError("encoding error: the modulus is too short");
  const h = sha384(new Uint8Array(8), sha384(message), salt);
  const db = new Uint8Array(emLength - HASH_LENGTH - 1);
  db[db.length - salt.length - 1] = 0x01;
  db.set(salt, db.length - salt.length);
  const mask = mgf1(h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLength - emBits);
  return concatBytes([db, h, Uint8Array.of(0xbc)]);
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** a⁻¹ mod n, or undefined when a and n are not coprime. */
export function inverseMod(a: bigint, n: bigint): bigint | undefined {
  let [r0, r1, t0, t1] = [n, ((a % n) + n) % n, 0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1, t0, t1] = [r1, r0 - q * r1, t1, t0 - q * t1];
  }
  return r0 === 1n ? ((t0 % n) + n) % n : undefined;
}

/** A uniformly random integer in [1, n) (rejection sampling over the bit length of n). */
function randomBelow(n: bigint, bits: number): bigint {
  const bytes = Math.ceil(bits / 8);
  const excess = BigInt(8 * bytes - bits);
  for (;;) {
    const r = os2ip(randomBytes(bytes)) >> excess;
    if (r >= 1n && r < n) return r;
  }
}

/** RSAVP1 / RSAEP: x^e mod n, in OpenSSL. `x` must be below n. */
function rsaPublic(key: KeyObject, x: bigint, length: number): bigint {
  return os2ip(publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, i2osp(x, length)));
}

/** The client's state between {@link blind} and {@link finalize}: never sent, never stored. */
export interface Blinding {
  blindedMsg: Uint8Array;
  /** r⁻¹ mod n, kLen bytes. */
  inv: Uint8Array;
}

/** Fixed randomness, for reproducing published test vectors only. */
export interface BlindingSeam {
  salt?: Uint8Array;
  /** The blind r, as RFC 9578's vectors list it ("blind")... */
  r?: Uint8Array;
  /** ...or its inverse, as RFC 9474's vectors list it ("inv"). */
  inv?: Uint8Array;
}

/**
 * Blind (RFC 9474 §4.2): hides `message` from the signer behind a random r.
 * @example const { blindedMsg, inv } = blind(issuerPublicKey, tokenInput);
 */
export function blind(publicKey: KeyObject, message: Uint8Array, seam: BlindingSeam = {}): Blinding {
  const { n, bits, bytes } = rsaModulus(publicKey);
  const m = os2ip(emsaPssEncode(message, bits - 1, seam.salt ?? randomBytes(SALT_LENGTH)));
  if (gcd(m, n) !== 1n)
    throw new PrivacyPassInputError("message", "invalid input: the encoded message is not coprime to n");
  const r =
    seam.r !== undefined
      ? os2ip(seam.r)
      : seam.inv !== undefined
        ? inverseMod(os2ip(seam.inv), n)
        : randomBelow(n, bits);
  const inv = r === undefined ? undefined : inverseMod(r, n);
  if (r === undefined || inv === undefined) throw new VerificationError("blinding error: r is not invertible modulo n");
  const z = (m * rsaPublic(publicKey, r, bytes)) % n;
  return { blindedMsg: i2osp(z, bytes), inv: i2osp(inv, bytes) };
}

/**
 * BlindSign (RFC 9474 §4.3): the signer's RSASP1 over a blinded message, checked by RSAVP1 before it leaves (a
 * fault in the CRT computation would otherwise reveal the key).
 * @example const blindSig = blindSign(issuerPrivateKey, blindedMsg);
 */
export function blindSign(privateKey: KeyObject, blindedMsg: Uint8Array, field = "blinded_msg"): Uint8Array {
  const { n, bytes } = rsaModulus(privateKey);
  if (blindedMsg.length !== bytes)
    throw new PrivacyPassInputError(field, `expected ${bytes} bytes, got ${blindedMsg.length}`);
  if (os2ip(blindedMsg) >= n)
    throw new PrivacyPassInputError(field, "message representative out of range (not below n)");
  const signature = new Uint8Array(privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, blindedMsg));
  const check = publicEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, signature);
  if (!equalBytes(new Uint8Array(check), blindedMsg)) throw new VerificationError("signing failure: RSAVP1(s) != m");
  return signature;
}

/**
 * Finalize (RFC 9474 §4.4): unblinds the signer's answer and checks it is an RSASSA-PSS signature of `message`.
 * @example const signature = finalize(issuerPublicKey, tokenInput, blindSig, inv);
 */
export function finalize(publicKey: KeyObject, message: Uint8Array, blindSig: Uint8Array, inv: Uint8Array): Uint8Array {
  const { n, bytes } = rsaModulus(publicKey);
  if (blindSig.length !== bytes || inv.length !== bytes)
    throw new PrivacyPassInputError(
      "blind_sig",
      `unexpected input size: expected ${bytes} bytes, got ${blindSig.length}`,
    );
  const signature = i2osp((os2ip(blindSig) * os2ip(inv)) % n, bytes);
  if (!verifyPss(publicKey, message, signature))
    throw new VerificationError("invalid signature: the blind signature does not unblind to a valid one");
  return signature;
}

/** RSASSA-PSS-VERIFY with SHA-384, MGF1-SHA-384 and a 48-byte salt, in OpenSSL. */
export function verifyPss(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  return verify(
    HASH,
    message,
    { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: SALT_LENGTH },
    signature,
  );
}

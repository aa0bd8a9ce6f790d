/**
 * Issuer keys of token type 0x0002 (RFC 9578 §6.5): a 2048-bit RSA key whose public half travels as a DER
 * SubjectPublicKeyInfo with the RSASSA-PSS OID and its parameters (SHA-384, MGF1-SHA-384, salt 48). The SHA-256
 * of exactly those bytes is the token_key_id, which is also the key's id on-chain.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { sha256Hex } from "../core/hash";
import { concatBytes, equalBytes, type Hex } from "./bytes";
import { rsaModulus } from "./blindrsa";
import { PrivacyPassInputError } from "./errors";

/** Modulus length of token type 0x0002. */
export const ISSUER_KEY_BITS = 2048;

/**
 * AlgorithmIdentifier { id-RSASSA-PSS, RSASSA-PSS-params { sha384, mgf1SHA384, saltLength 48 } } as RFC 9578
 * §6.5 encodes it (hash parameters absent, trailerField default).
 */
const PSS_ALGORITHM = Buffer.from(
  "303d06092a864886f70d01010a3030a00d300b0609608648016503040202a11a301806092a864886f70d010108300b0609608648016503040202a203020130",
  "hex",
);

/** An issuer's key pair: what it keeps (`privateKey`) and what it publishes (`publicKey`, whose hash is `keyId`). */
export interface IssuerKey {
  /** The RSASSA-PSS SubjectPublicKeyInfo, DER. */
  publicKey: Uint8Array;
  privateKey: KeyObject;
  /** SHA-256 of `publicKey`: the token_key_id, and the key's id on-chain. */
  keyId: Hex;
}

/**
 * A new 2048-bit issuer key.
 * @example const issuer = await generateIssuerKey(); // issuer.keyId is what PrivacyPassEscrow.registerIssuer takes
 */
export async function generateIssuerKey(): Promise<IssuerKey> {
  const { privateKey } = await promisify(generateKeyPair)("rsa", {
    modulusLength: ISSUER_KEY_BITS,
    publicExponent: 65537,
  });
  return issuerKeyFrom(privateKey);
}

/**
 * The issuer key of a private key: a KeyObject or its PKCS#8 PEM (as {@link exportIssuerPrivateKey} writes it).
 * @example const issuer = issuerKeyFrom(readFileSync(path.join(dataDir, "privacypass-issuer.pem"), "utf8"));
 */
export function issuerKeyFrom(privateKey: KeyObject | string): IssuerKey {
  let key: KeyObject;
  try {
    key = typeof privateKey === "string" ? createPrivateKey(privateKey) : privateKey;
  } catch (cause) {
    throw new PrivacyPassInputError("privateKey", "not a PEM private key", { cause });
  }
  if (key.type !== "private" || key.asymmetricKeyType !== "rsa")
    throw new PrivacyPassInputError(
      "privateKey",
      `expected an RSA private key, got ${key.asymmetricKeyType} ${key.type}`,
    );
  if (rsaModulus(key).bits !== ISSUER_KEY_BITS)
    throw new PrivacyPassInputError(
      "privateKey",
      `expected a ${ISSUER_KEY_BITS}-bit modulus, got ${rsaModulus(key).bits} bits`,
    );
  const publicKey = encodeIssuerPublicKey(createPublicKey(key));
  return { publicKey, privateKey: key, keyId: tokenKeyId(publicKey) };
}

/** The private key as PKCS#8 PEM, for the issuer's data directory. */
export function exportIssuerPrivateKey(key: IssuerKey): string {
  return key.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

/** token_key_id (RFC 9578 §6.5): SHA-256 of the encoded public key. */
export function tokenKeyId(publicKey: Uint8Array): Hex {
  return sha256Hex(publicKey) as Hex;
}

/** The RSASSA-PSS SubjectPublicKeyInfo of an RSA public key. */
export function encodeIssuerPublicKey(publicKey: KeyObject): Uint8Array {
  const rsaPublicKey = new Uint8Array(publicKey.export({ type: "pkcs1", format: "der" }));
  const bitString = derElement(0x03, concatBytes([Uint8Array.of(0), rsaPublicKey]));
  return derElement(0x30, concatBytes([PSS_ALGORITHM, bitString]));
}

/**
 * The RSA public key in an RSASSA-PSS SubjectPublicKeyInfo, which must carry exactly the parameters of token type
 * 0x0002 and a 2048-bit modulus, and be encoded as {@link encodeIssuerPublicKey} encodes it (so that the key id,
 * a hash of these bytes, has one value per key).
 */
export function decodeIssuerPublicKey(spki: Uint8Array, field = "publicKey"): KeyObject {
  const prefix = 4 + PSS_ALGORITHM.length;
  if (spki.length <= prefix + 5 || !equalBytes(spki.subarray(4, prefix), PSS_ALGORITHM))
    throw new PrivacyPassInputError(
      field,
      "not an RSASSA-PSS SubjectPublicKeyInfo with SHA-384, MGF1-SHA-384 and salt 48",
    );
  const body = spki.subarray(prefix + 5);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(body), format: "der", type: "pkcs1" });
  } catch (cause) {
    throw new PrivacyPassInputError(field, "the RSA public key does not parse", { cause });
  }
  if (!equalBytes(encodeIssuerPublicKey(key), spki))
    throw new PrivacyPassInputError(field, "not the DER encoding of token type 0x0002 (lengths or trailing bytes)");
  const { bits } = rsaModulus(key);
  if (bits !== ISSUER_KEY_BITS)
    throw new PrivacyPassInputError(field, `expected a ${ISSUER_KEY_BITS}-bit modulus, got ${bits}`);
  return key;
}

const imported = new Map<string, KeyObject>();

/** {@link decodeIssuerPublicKey}, remembered for the last 256 keys (a redeemer checks many tokens of few keys). */
export function importIssuerPublicKey(spki: Uint8Array, field = "publicKey"): KeyObject {
  const id = Buffer.from(spki).toString("base64");
  let key = imported.get(id);
  if (key === undefined) {
    key = decodeIssuerPublicKey(spki, field);
    if (imported.size >= 256) imported.delete(imported.keys().next().value!);
    imported.set(id, key);
  }
  return key;
}

/** A DER element: tag, definite length, content. */
function derElement(tag: number, content: Uint8Array): Uint8Array {
  const length = content.length;
  const header =
    length < 0x80 ? [tag, length] : length < 0x100 ? [tag, 0x81, length] : [tag, 0x82, length >> 8, length & 0xff];
  return concatBytes([Uint8Array.from(header), content]);
}

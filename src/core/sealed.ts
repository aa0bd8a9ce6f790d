/**
 * Sealed inputs: a job's input encrypted to the nodes that may serve it, so that `JobRequested` carries a
 * ciphertext and the plaintext's commitment, never the plaintext (a ZK job's features and salt included). The escrow
 * needs no change: the envelope travels in `RequestParams.input` (or at `inputUri`) and `inputCommitment` is the
 * plaintext's commitment (keccak256 of it; for ZK the Poseidon commitment over input and salt).
 *
 * Encryption is hybrid: one random AES-256-GCM content key encrypts the plaintext once, and HPKE (RFC 9180, Base mode,
 * DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) wraps that key for each recipient node's X25519 key (the
 * node's key in `PrivacyRegistry`; for a TEE node, its enclave's HPKE key).
 *
 * Format, version 1 (every integer big-endian):
 *
 *     envelope  = magic "VINSEAL1" (8)
 *               ‖ kemId (2) = 0x0020 ‖ kdfId (2) = 0x0001 ‖ aeadId (2) = 0x0002      — the HPKE suite
 *               ‖ count (1), 1..16
 *               ‖ count × ( node address (20) ‖ enc (32) ‖ wrapped key (32 + 16) )
 *               ‖ nonce (12)
 *               ‖ ciphertext (AES-256-GCM of the plaintext under the content key, tag last: length + 16)
 *     header    = every byte before the nonce
 *     info      = "vin sealed input v1" ‖ chainId (32) ‖ escrow (20) ‖ requester (20) ‖ modelId (8) ‖ version (4) ‖ mode (1)
 *     wrapped   = HPKE Seal(node key, info, aad = node address, content key)
 *     payload   = AES-256-GCM(content key, nonce, aad = info ‖ commitment (32) ‖ header, plaintext)
 *
 * The HPKE `info` binds the terms a requester fixes before the job exists (chain, escrow, requester, model version,
 * mode) and the payload's AAD adds the commitment and the recipient table: an envelope copied into another job with
 * other terms or another commitment does not open, and a recipient entry moved or edited does not either.
 *
 * Warning: the recipients' addresses are in clear (a node must find its entry), and so is the plaintext's length
 * (AES-GCM does not pad). A recipient learns the content key, so it could re-encrypt another
 * plaintext under it; that plaintext would still have to open the job's on-chain commitment to be computed.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { getAddress, getBytes, hexlify, isAddress, isHexString, solidityPacked, toUtf8Bytes } from "ethers";
import { InputError, IntegrityError } from "./errors";

/** The first 8 bytes of every sealed input. */
export const SEALED_MAGIC = "VINSEAL1";
/** The HPKE suite of version 1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (RFC 9180 §7). */
export const SEALED_SUITE = { kemId: 0x0020, kdfId: 0x0001, aeadId: 0x0002 } as const;
/** Most recipients one envelope names. */
export const MAX_SEALED_RECIPIENTS = 16;
/** Largest plaintext sealed or opened (the node's default `maxInputBytes`); the escrow's inline limit is lower. */
export const MAX_SEALED_PLAINTEXT = 1 << 20;

const INFO_LABEL = "vin sealed input v1";
const MAGIC = toUtf8Bytes(SEALED_MAGIC);
const KEY_LENGTH = 32;
const TAG_LENGTH = 16;
const NONCE_LENGTH = 12;
const ENC_LENGTH = 32;
const WRAPPED_LENGTH = KEY_LENGTH + TAG_LENGTH;
const ENTRY_LENGTH = 20 + ENC_LENGTH + WRAPPED_LENGTH;
const FIXED_HEADER = MAGIC.length + 6 + 1;

/** Bytes an envelope adds to its plaintext for `recipients` recipients. */
export function sealedOverhead(recipients: number): number {
  return FIXED_HEADER + recipients * ENTRY_LENGTH + NONCE_LENGTH + TAG_LENGTH;
}

/** The bytes or envelope are not a version-1 sealed input; `field` names the part that is wrong. */
export class SealedInputMalformedError extends InputError {
  override readonly name = "SealedInputMalformedError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`sealed input: ${field}: ${message}`, { context: { field } });
  }
}

/** The envelope has no entry for this node: only its recipients can open it. */
export class SealedInputNotRecipientError extends InputError {
  override readonly name = "SealedInputNotRecipientError";
}

/**
 * The envelope does not open: a wrong key, another job's terms or commitment, or bytes modified after sealing.
 * `stage` says which layer failed: "key" (the HPKE-wrapped content key) or "payload" (the input itself).
 */
export class SealedInputIntegrityError extends IntegrityError {
  override readonly name = "SealedInputIntegrityError";
  constructor(
    readonly stage: "key" | "payload",
    message: string,
    cause?: unknown,
  ) {
    super(message, { cause, context: { stage } });
  }
}

/** The terms an envelope is bound to: what the requester fixes in `request`, and the job's `inputHash`. */
export interface SealedInputContext {
  chainId: bigint;
  escrow: string;
  /** The job's requester: the account that calls `request` (the job's `requester`). */
  requester: string;
  modelId: bigint;
  version: bigint;
  mode: bigint | number;
  /** The plaintext's commitment, as the job records it (`inputHash`). */
  commitment: string;
}

/** A node an input is sealed to, with its X25519 public key (32 bytes). */
export interface SealedRecipient {
  node: string;
  publicKey: string | Uint8Array;
}

/** One recipient entry of a parsed envelope. */
export interface SealedEntry {
  node: string;
  enc: Uint8Array;
  wrappedKey: Uint8Array;
}

/** A version-1 envelope, parsed; nothing in it is checked against a key or a context yet. */
export interface SealedEnvelope {
  recipients: SealedEntry[];
  nonce: Uint8Array;
  ciphertext: Uint8Array;
  /** Every byte before the nonce, bound by the payload's AAD. */
  header: Uint8Array;
}

/** What a key holder is asked to open to give back the content key (HPKE Base mode, the {@link SEALED_SUITE}). */
export interface WrappedKey {
  enc: Uint8Array;
  wrappedKey: Uint8Array;
  info: Uint8Array;
  aad: Uint8Array;
}

export interface SealInputParams {
  plaintext: string | Uint8Array;
  recipients: readonly SealedRecipient[];
  context: SealedInputContext;
}

/** An envelope to open, for whom and under which job's terms. */
export interface SealedOpening {
  envelope: string | Uint8Array;
  /** The node opening it: its entry is looked up by this address. */
  node: string;
  context: SealedInputContext;
}

export type OpenInputParams = SealedOpening &
  (
    | {
        /** The node's 32-byte X25519 private key. */
        privateKey: string | Uint8Array;
        unwrap?: undefined;
      }
    | {
        /** Opens the wrapped content key where the private key lives (an enclave): see {@link unwrapContentKey}. */
        unwrap: (wrapped: WrappedKey) => Promise<Uint8Array>;
        privateKey?: undefined;
      }
  );

let suite: CipherSuite | undefined;
/** The HPKE suite of version 1, built once. */
function hpke(): CipherSuite {
  return (suite ??= new CipherSuite({
    kem: new DhkemX25519HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: new Aes256Gcm(),
  }));
}

/** Whether `bytes` start like a sealed input (its magic); whether they parse is {@link parseSealedInput}'s check. */
export function isSealed(bytes: string | Uint8Array): boolean {
  const data = typeof bytes === "string" ? (isHexString(bytes, true) ? getBytes(bytes) : undefined) : bytes;
  return data !== undefined && data.length >= MAGIC.length && MAGIC.every((b, i) => data[i] === b);
}

/**
 * Encrypts `plaintext` to each recipient's key, bound to `context`: the envelope a requester puts in `input`.
 * @throws SealedInputMalformedError naming the bad plaintext, recipient or context field.
 * @example
 * const envelope = await sealInput({ plaintext: encodeInput([39.1, 18.7]), recipients: [{ node, publicKey }], context });
 * await escrow.request({ ...terms, input: envelope, inputCommitment: keccak256(encodeInput([39.1, 18.7])) });
 */
export async function sealInput(params: SealInputParams): Promise<Uint8Array> {
  const plaintext = bytesOf(params.plaintext, "plaintext");
  if (plaintext.length === 0) throw new SealedInputMalformedError("plaintext", "is empty");
  if (plaintext.length > MAX_SEALED_PLAINTEXT)
    throw new SealedInputMalformedError(
      "plaintext",
      `has ${plaintext.length} bytes, more than ${MAX_SEALED_PLAINTEXT}`,
    );
  const recipients = checkRecipients(params.recipients);
  const info = infoOf(params.context);
  const commitment = commitmentOf(params.context);
  const contentKey = new Uint8Array(randomBytes(KEY_LENGTH));
  const entries = await Promise.all(
    recipients.map(async ({ node, publicKey }, i) => {
      let sealed: { enc: ArrayBuffer; ct: ArrayBuffer };
      try {
        const recipientPublicKey = await hpke().kem.deserializePublicKey(publicKey);
        sealed = await hpke().seal({ recipientPublicKey, info }, contentKey, getBytes(node));
      } catch (cause) {
        throw new SealedInputMalformedError(
          `recipients[${i}].publicKey`,
          `HPKE cannot encrypt to it (${(cause as Error).message})`,
        );
      }
      return concat([getBytes(node), new Uint8Array(sealed.enc), new Uint8Array(sealed.ct)]);
    }),
  );
  const header = concat([MAGIC, suiteBytes(), Uint8Array.of(entries.length), ...entries]);
  const nonce = new Uint8Array(randomBytes(NONCE_LENGTH));
  const cipher = createCipheriv("aes-256-gcm", contentKey, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(concat([info, commitment, header]));
  const ciphertext = concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  contentKey.fill(0);
  return concat([header, nonce, ciphertext]);
}

/**
 * Parses a version-1 envelope without opening it (which nodes it names, for instance).
 * @throws SealedInputMalformedError naming the first field that is wrong.
 */
export function parseSealedInput(bytes: string | Uint8Array): SealedEnvelope {
  const data = bytesOf(bytes, "envelope");
  if (!isSealed(data)) throw new SealedInputMalformedError("magic", `does not start with "${SEALED_MAGIC}"`);
  if (data.length < FIXED_HEADER) throw new SealedInputMalformedError("suite", "is cut short");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const [kemId, kdfId, aeadId] = [0, 2, 4].map((o) => view.getUint16(MAGIC.length + o));
  if (kemId !== SEALED_SUITE.kemId || kdfId !== SEALED_SUITE.kdfId || aeadId !== SEALED_SUITE.aeadId)
    throw new SealedInputMalformedError(
      "suite",
      `KEM ${kemId}, KDF ${kdfId}, AEAD ${aeadId} is not version 1's (KEM 32 = X25519, KDF 1 = HKDF-SHA256, AEAD 2 = AES-256-GCM)`,
    );
  const count = data[FIXED_HEADER - 1]!;
  if (count < 1 || count > MAX_SEALED_RECIPIENTS)
    throw new SealedInputMalformedError("recipient count", `${count} is outside 1..${MAX_SEALED_RECIPIENTS}`);
  const headerLength = FIXED_HEADER + count * ENTRY_LENGTH;
  if (data.length < headerLength) throw new SealedInputMalformedError("recipients", `${count} entries do not fit`);
  if (data.length < headerLength + NONCE_LENGTH) throw new SealedInputMalformedError("nonce", "is cut short");
  const ciphertextLength = data.length - headerLength - NONCE_LENGTH;
  if (ciphertextLength <= TAG_LENGTH)
    throw new SealedInputMalformedError("ciphertext", `${ciphertextLength} bytes hold no input and its 16-byte tag`);
  if (ciphertextLength > MAX_SEALED_PLAINTEXT + TAG_LENGTH)
    throw new SealedInputMalformedError("ciphertext", `is larger than ${MAX_SEALED_PLAINTEXT} bytes of input`);
  const recipients: SealedEntry[] = [];
  const seen = new Set<string>();
  for (let i = 0, at = FIXED_HEADER; i < count; i++, at += ENTRY_LENGTH) {
    const node = getAddress(hexlify(data.subarray(at, at + 20)));
    if (seen.has(node)) throw new SealedInputMalformedError(`recipient ${i}`, `names ${node} a second time`);
    seen.add(node);
    recipients.push({
      node,
      enc: data.slice(at + 20, at + 20 + ENC_LENGTH),
      wrappedKey: data.slice(at + 20 + ENC_LENGTH, at + ENTRY_LENGTH),
    });
  }
  return {
    recipients,
    header: data.slice(0, headerLength),
    nonce: data.slice(headerLength, headerLength + NONCE_LENGTH),
    ciphertext: data.slice(headerLength + NONCE_LENGTH),
  };
}

/**
 * Opens an envelope as the node `node`, with its private key or an `unwrap` callback (the key stays in an enclave).
 * @throws SealedInputMalformedError (not an envelope, naming the field), SealedInputNotRecipientError (no entry for
 * `node`), SealedInputIntegrityError (a wrong key, another job's terms or commitment, or modified bytes).
 * @example const plaintext = await openInput({ envelope: row.input, node, privateKey, context });
 */
export async function openInput(params: OpenInputParams): Promise<Uint8Array> {
  const envelope = parseSealedInput(params.envelope);
  const node = addressOf(params.node, "node");
  const entry = envelope.recipients.find((r) => r.node === node);
  if (entry === undefined)
    throw new SealedInputNotRecipientError(
      `the input is sealed to ${envelope.recipients.map((r) => r.node).join(", ")}, not to ${node}`,
      { context: { node, recipients: envelope.recipients.length } },
    );
  const info = infoOf(params.context);
  const commitment = commitmentOf(params.context);
  const wrapped: WrappedKey = { enc: entry.enc, wrappedKey: entry.wrappedKey, info, aad: getBytes(node) };
  const contentKey =
    params.unwrap === undefined ? await unwrapContentKey(params.privateKey, wrapped) : await params.unwrap(wrapped);
  if (contentKey.length !== KEY_LENGTH)
    throw new SealedInputIntegrityError("key", `the unwrapped content key has ${contentKey.length} bytes, not 32`);
  const decipher = createDecipheriv("aes-256-gcm", contentKey, envelope.nonce, { authTagLength: TAG_LENGTH });
  const body = envelope.ciphertext;
  decipher.setAuthTag(body.subarray(body.length - TAG_LENGTH));
  decipher.setAAD(concat([info, commitment, envelope.header]));
  try {
    return concat([decipher.update(body.subarray(0, body.length - TAG_LENGTH)), decipher.final()]);
  } catch (cause) {
    throw new SealedInputIntegrityError(
      "payload",
      "the sealed input's payload does not authenticate: it was modified, or it was sealed for another commitment or recipient list",
      cause,
    );
  } finally {
    contentKey.fill(0);
  }
}

/**
 * Opens one wrapped content key with a 32-byte X25519 private key: what an enclave runs inside for `openInput`'s
 * `unwrap`.
 * @throws SealedInputIntegrityError when the key does not open it.
 */
export async function unwrapContentKey(privateKey: string | Uint8Array, wrapped: WrappedKey): Promise<Uint8Array> {
  const raw = bytesOf(privateKey, "private key");
  if (raw.length !== 32) throw new SealedInputMalformedError("private key", `has ${raw.length} bytes, not 32`);
  const recipientKey = await hpke().kem.importKey("raw", raw, false);
  try {
    const key = await hpke().open(
      { recipientKey, enc: wrapped.enc, info: wrapped.info },
      wrapped.wrappedKey,
      wrapped.aad,
    );
    return new Uint8Array(key);
  } catch (cause) {
    throw new SealedInputIntegrityError(
      "key",
      "this node's key does not open its entry of the sealed input: it was sealed to another key, for another job's terms (chain, escrow, requester, model version, mode), or modified",
      cause,
    );
  }
}

/** A fresh X25519 private key (32 bytes). */
export function generateX25519PrivateKey(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/** The X25519 public key (32 bytes, 0x hex) of a 32-byte private key. */
export function x25519PublicKeyOf(privateKey: string | Uint8Array): string {
  const raw = bytesOf(privateKey, "private key");
  if (raw.length !== 32) throw new SealedInputMalformedError("private key", `has ${raw.length} bytes, not 32`);
  // RFC 8410 PKCS#8 prefix of an X25519 private key.
  const key = createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), raw]),
    format: "der",
    type: "pkcs8",
  });
  return `0x${Buffer.from(createPublicKey(key).export({ format: "jwk" }).x!, "base64url").toString("hex")}`;
}

/** The HPKE `info` of `context` (see the format above). */
function infoOf(context: SealedInputContext): Uint8Array {
  const { chainId, modelId, version, mode } = context;
  if (chainId <= 0n) throw new SealedInputMalformedError("context.chainId", `${chainId} is not a chain id`);
  if (modelId < 0n || modelId >= 1n << 64n)
    throw new SealedInputMalformedError("context.modelId", `${modelId} is not a uint64`);
  if (version < 0n || version >= 1n << 32n)
    throw new SealedInputMalformedError("context.version", `${version} is not a uint32`);
  if (BigInt(mode) < 0n || BigInt(mode) > 255n)
    throw new SealedInputMalformedError("context.mode", `${mode} is not a uint8`);
  return getBytes(
    solidityPacked(
      ["string", "uint256", "address", "address", "uint64", "uint32", "uint8"],
      [
        INFO_LABEL,
        chainId,
        addressOf(context.escrow, "context.escrow"),
        addressOf(context.requester, "context.requester"),
        modelId,
        version,
        mode,
      ],
    ),
  );
}

function commitmentOf(context: SealedInputContext): Uint8Array {
  if (!isHexString(context.commitment, 32))
    throw new SealedInputMalformedError("context.commitment", `${context.commitment} is not 32 bytes of hex`);
  return getBytes(context.commitment);
}

function checkRecipients(recipients: readonly SealedRecipient[]): { node: string; publicKey: Uint8Array }[] {
  if (recipients.length < 1 || recipients.length > MAX_SEALED_RECIPIENTS)
    throw new SealedInputMalformedError(
      "recipients",
      `${recipients.length} recipients: seal to 1..${MAX_SEALED_RECIPIENTS} nodes`,
    );
  const seen = new Set<string>();
  return recipients.map((r, i) => {
    const node = addressOf(r.node, `recipients[${i}].node`);
    if (seen.has(node)) throw new SealedInputMalformedError(`recipients[${i}].node`, `${node} is named twice`);
    seen.add(node);
    const publicKey = bytesOf(r.publicKey, `recipients[${i}].publicKey`);
    if (publicKey.length !== 32 || publicKey.every((b) => b === 0))
      throw new SealedInputMalformedError(`recipients[${i}].publicKey`, "is not a 32-byte X25519 public key");
    return { node, publicKey };
  });
}

function addressOf(value: string, field: string): string {
  if (!isAddress(value)) throw new SealedInputMalformedError(field, `${value} is not an address`);
  return getAddress(value);
}

function bytesOf(value: string | Uint8Array, field: string): Uint8Array {
  if (typeof value !== "string") return value;
  if (!isHexString(value, true)) throw new SealedInputMalformedError(field, "is not 0x-prefixed hex bytes");
  return getBytes(value);
}

function suiteBytes(): Uint8Array {
  const out = new Uint8Array(6);
  const view = new DataView(out.buffer);
  view.setUint16(0, SEALED_SUITE.kemId);
  view.setUint16(2, SEALED_SUITE.kdfId);
  view.setUint16(4, SEALED_SUITE.aeadId);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

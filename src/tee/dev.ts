/**
 * DEVELOPMENT ONLY. A development "platform" that produces Intel DCAP quotes with the real byte layout (v4 TDX,
 * v4 and v3 SGX) and a real-format X.509 chain (root CA → PCK CA → PCK certificate with Intel's SGX extension),
 * all signed by keys generated here, in this process.
 *
 * A development quote proves nothing: whoever runs this code holds every key, so it can "attest" any
 * measurement and any report data. It exists so that the on-chain verifier, the node and `npm start` run the
 * same code paths as with a real TDX host. A `DcapVerifier` deployed with Intel's root refuses it
 * (`DcapCertificateSignatureInvalid` when its CA is submitted); only a verifier whose root is the development
 * root accepts it. On a real TDX host the quote comes from the platform's quoting enclave instead
 * (configfs-tsm / `/dev/tdx_guest`) and its chain from Intel's PCS.
 */
import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from "node:crypto";
import { derEncode, derOid, derSequence, derUint } from "./der";
import { QUOTE, TeeType } from "./quote";

/** The MRSIGNER the development quoting enclave reports: a label's hash, never an Intel value. */
export const DEVELOPMENT_QE_MRSIGNER = `0x${createHash("sha256").update("verifiable-inference-network development quoting enclave - NOT INTEL").digest("hex")}`;
/** The FMSPC of development platforms. */
export const DEVELOPMENT_FMSPC = "00dede000000";
/** The ISVPRODID of the QE per TEE type (Intel's: 1 for the SGX QE, 2 for the TD QE). */
export const QE_PRODUCT_ID: Record<TeeType, number> = { [TeeType.Sgx]: 1, [TeeType.Tdx]: 2 };

/** A key and the certificate (DER) that certifies it. */
export interface DevelopmentCertificate {
  der: Uint8Array;
  privateKey: KeyObject;
}

/** A development platform: its chain and the quoting enclave's attestation key. */
export interface DevelopmentPlatform {
  root: DevelopmentCertificate;
  ca: DevelopmentCertificate;
  pck: DevelopmentCertificate;
  attestationKey: KeyObject;
  fmspc: string;
  pceSvn: number;
  sgxTcbSvns: Uint8Array;
}

/** Options of {@link createDevelopmentPlatform}. */
export interface DevelopmentPlatformOptions {
  /** Validity of every certificate (default: one year back to ten years ahead of now). */
  notBefore?: Date;
  notAfter?: Date;
  /** Validity of the PCK leaf only (default: as above). */
  pckNotAfter?: Date;
  fmspc?: string;
  pceSvn?: number;
  /** 16 SGX TCB component SVNs (default: all 2). */
  sgxTcbSvns?: Uint8Array;
  /** Leave Intel's SGX extension out of the PCK certificate (to test that verifiers refuse it). */
  withoutSgxExtension?: boolean;
  /** Reuse a root (and its CA) to make another platform under the same development CA. */
  issuer?: Pick<DevelopmentPlatform, "root" | "ca">;
}

/**
 * Creates a development platform (keys and certificates). DEVELOPMENT ONLY: see the module comment.
 *
 * @example
 * const platform = createDevelopmentPlatform();
 * const quote = createDevelopmentQuote(platform, { teeType: TeeType.Tdx, reportData: new Uint8Array(64) });
 */
export function createDevelopmentPlatform(options: DevelopmentPlatformOptions = {}): DevelopmentPlatform {
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(now - 365 * 86_400_000);
  const notAfter = options.notAfter ?? new Date(now + 3650 * 86_400_000);
  const fmspc = options.fmspc ?? DEVELOPMENT_FMSPC;
  const pceSvn = options.pceSvn ?? 11;
  const sgxTcbSvns = options.sgxTcbSvns ?? new Uint8Array(16).fill(2);
  const rootKey = newKey();
  const root = options.issuer?.root ?? {
    der: certificate({
      serial: 1n,
      issuer: ROOT_NAME,
      subject: ROOT_NAME,
      key: rootKey,
      signer: rootKey,
      notBefore,
      notAfter,
      ca: true,
    }),
    privateKey: rootKey,
  };
  const caKey = newKey();
  const ca = options.issuer?.ca ?? {
    der: certificate({
      serial: 2n,
      issuer: ROOT_NAME,
      subject: CA_NAME,
      key: caKey,
      signer: root.privateKey,
      notBefore,
      notAfter,
      ca: true,
    }),
    privateKey: caKey,
  };
  const pckKey = newKey();
  const sgx = options.withoutSgxExtension === true ? undefined : sgxExtension(fmspc, pceSvn, sgxTcbSvns);
  const serial = BigInt(`0x${createHash("sha256").update(publicXy(pckKey)).digest("hex").slice(0, 30)}`);
  const pck = {
    der: certificate({
      serial,
      issuer: CA_NAME,
      subject: PCK_NAME,
      key: pckKey,
      signer: ca.privateKey,
      notBefore,
      notAfter: options.pckNotAfter ?? notAfter,
      ca: false,
      ...(sgx === undefined ? {} : { sgx }),
    }),
    privateKey: pckKey,
  };
  return { root, ca, pck, attestationKey: newKey(), fmspc, pceSvn, sgxTcbSvns };
}

/** What a development quote attests. Measurements default to zeros, report data to 64 zero bytes. */
export interface DevelopmentQuoteOptions {
  teeType: TeeType;
  /** 4 (default) or 3 (SGX only). */
  version?: 3 | 4;
  reportData: Uint8Array;
  /** TDX: MRTD ‖ RTMR0..3 (240 bytes); SGX: MRENCLAVE ‖ MRSIGNER (64 bytes). */
  measurements?: Uint8Array;
  teeTcbSvn?: Uint8Array;
  qeSvn?: number;
  debug?: boolean;
  /** The QE's MRSIGNER (default {@link DEVELOPMENT_QE_MRSIGNER}). */
  qeMrSigner?: string;
  /**
   * The PEM text of the certification data (default: the platform's chain, leaf first). Nothing signs it and the
   * on-chain verifier does not read it; another chain here changes only the quote's length (benchmarks use a real one).
   */
  pckChainPem?: string;
}

/**
 * A quote in Intel's byte layout, signed by the platform's development attestation key, with a QE report signed
 * by its development PCK key. DEVELOPMENT ONLY: see the module comment.
 */
export function createDevelopmentQuote(platform: DevelopmentPlatform, options: DevelopmentQuoteOptions): Uint8Array {
  const version = options.version ?? 4;
  const tdx = options.teeType === TeeType.Tdx;
  if (tdx && version !== 4) throw new RangeError("TDX quotes are version 4");
  if (options.reportData.length !== 64) throw new RangeError("report data must be 64 bytes");
  const header = Buffer.alloc(QUOTE.headerLength);
  header.writeUInt16LE(version, 0);
  header.writeUInt16LE(QUOTE.ecdsaP256, 2);
  header.writeUInt32LE(tdx ? QUOTE.teeTdx : QUOTE.teeSgx, 4);
  Buffer.from(QUOTE.intelQeVendor, "hex").copy(header, 12);
  const body = tdx ? tdReport(options) : enclaveReport(options);
  const signed = Buffer.concat([header, body]);
  const attestationKey = publicXy(platform.attestationKey);
  const authData = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const qeReport = qeReportOf(options, attestationKey, authData);
  const pem = options.pckChainPem ?? [platform.pck, platform.ca, platform.root].map((c) => toPem(c.der)).join("");
  const qeCertification = Buffer.concat([
    qeReport,
    p1363(platform.pck.privateKey, qeReport),
    le16(authData.length),
    authData,
    le16(QUOTE.pckChainCertification),
    le32(pem.length),
    Buffer.from(pem, "latin1"),
  ]);
  const certification =
    version === 4
      ? Buffer.concat([le16(QUOTE.qeReportCertification), le32(qeCertification.length), qeCertification])
      : qeCertification;
  const signatureData = Buffer.concat([p1363(platform.attestationKey, signed), attestationKey, certification]);
  return Buffer.concat([signed, le32(signatureData.length), signatureData]);
}

function tdReport(o: DevelopmentQuoteOptions): Buffer {
  const body = Buffer.alloc(QUOTE.tdxBodyLength);
  Buffer.from(o.teeTcbSvn ?? new Uint8Array(16).fill(3)).copy(body, 0);
  body[120] = o.debug === true ? 0x01 : 0x00; // TD_ATTRIBUTES.DEBUG
  body[123] = 0x10; // SEPT_VE_DISABLE, as real TDs
  const m = o.measurements ?? new Uint8Array(240);
  if (m.length !== 240) throw new RangeError("TDX measurements are MRTD and RTMR0-3: 240 bytes");
  Buffer.from(m.subarray(0, 48)).copy(body, 136);
  Buffer.from(m.subarray(48)).copy(body, 328);
  Buffer.from(o.reportData).copy(body, 520);
  return body;
}

function enclaveReport(o: DevelopmentQuoteOptions): Buffer {
  const body = Buffer.alloc(QUOTE.sgxBodyLength);
  body[48] = o.debug === true ? 0x07 : 0x05; // INIT | MODE64BIT (| DEBUG)
  const m = o.measurements ?? new Uint8Array(64);
  if (m.length !== 64) throw new RangeError("SGX measurements are MRENCLAVE and MRSIGNER: 64 bytes");
  Buffer.from(m.subarray(0, 32)).copy(body, 64);
  Buffer.from(m.subarray(32)).copy(body, 128);
  Buffer.from(o.reportData).copy(body, 320);
  return body;
}

function qeReportOf(o: DevelopmentQuoteOptions, attestationKey: Buffer, authData: Buffer): Buffer {
  const report = Buffer.alloc(QUOTE.qeReportLength);
  report[48] = 0x15; // INIT | MODE64BIT | PROVISIONKEY
  Buffer.from((o.qeMrSigner ?? DEVELOPMENT_QE_MRSIGNER).slice(2), "hex").copy(report, 128);
  report.writeUInt16LE(QE_PRODUCT_ID[o.teeType], 256);
  report.writeUInt16LE(o.qeSvn ?? 8, 258);
  createHash("sha256").update(attestationKey).update(authData).digest().copy(report, 320);
  return report;
}

/* THE STABLE DEVELOPMENT PLATFORM */

/** Validity of the stable development certificates: fixed, so that their DER (and cache keys) never change. */
const STABLE_NOT_BEFORE = new Date("2024-01-01T00:00:00Z");
const STABLE_NOT_AFTER = new Date("2049-12-31T23:59:59Z");

/**
 * The signatures (DER ECDSA) of the stable development certificates, made once with the keys derived below and kept
 * here because ECDSA signing is randomised: with them every process builds the same bytes. A change to the
 * certificates' content no longer matches its signature and fails loudly ({@link developmentPlatform}).
 */
const STABLE_SIGNATURES = {
  root: "3045022100dad3dd493a9492ea82e540a3bceced5105ef71dd3062f2814e6e5292b0be005e022066337b99361c1988d8b5ef656e13d456251f952129fc3adae6b8a7d33bda23ce",
  ca: "3045022100f9a6252da53465a2469f8e6d543006a8aa1ef095a7b8a7d4d2e3d41ae068759902205ef5fa0021f5b861688a2862261d1c017865ae5342412a3d48abe92729325347",
  pck: "304402205c30cbd4a5e312022697136519b8111cba52ac3cc3078d749ee1b1cf4da1f57b022031f4576e7b690a72f7cd80126decb20982defcf1b35c06da25344b6196ce8093",
} as const;

let stable: DevelopmentPlatform | undefined;

/**
 * THE development platform: root CA, PCK CA, PCK certificate and attestation key that are the same bytes in every
 * process (keys derived from public labels, certificate signatures fixed), valid from 2024 to 2049. `deploy/system.ts`
 * roots a local network's `DcapVerifier` at its root ({@link DEVELOPMENT_ROOT_DER}), so the quotes of every
 * development enclave on the machine verify there, as the quotes of TDs on one real host share its PCK chain.
 * DEVELOPMENT ONLY: every key here is public; see the module comment.
 *
 * @example
 * const quote = createDevelopmentQuote(developmentPlatform(), { teeType: TeeType.Tdx, reportData });
 */
export function developmentPlatform(): DevelopmentPlatform {
  if (stable !== undefined) return stable;
  const [rootKey, caKey, pckKey] = ["root CA", "PCK CA", "PCK certificate"].map((label) =>
    developmentKey(`development ${label}`),
  ) as [KeyObject, KeyObject, KeyObject];
  const validity = { notBefore: STABLE_NOT_BEFORE, notAfter: STABLE_NOT_AFTER };
  const sgxTcbSvns = new Uint8Array(16).fill(2);
  const root = {
    der: certificate({
      serial: 1n,
      issuer: ROOT_NAME,
      subject: ROOT_NAME,
      key: rootKey,
      signer: rootKey,
      ...validity,
      ca: true,
      signature: STABLE_SIGNATURES.root,
    }),
    privateKey: rootKey,
  };
  const ca = {
    der: certificate({
      serial: 2n,
      issuer: ROOT_NAME,
      subject: CA_NAME,
      key: caKey,
      signer: rootKey,
      ...validity,
      ca: true,
      signature: STABLE_SIGNATURES.ca,
    }),
    privateKey: caKey,
  };
  const sgx = sgxExtension(DEVELOPMENT_FMSPC, 11, sgxTcbSvns);
  const pck = {
    der: certificate({
      serial: 3n,
      issuer: CA_NAME,
      subject: PCK_NAME,
      key: pckKey,
      signer: caKey,
      ...validity,
      ca: false,
      sgx,
      signature: STABLE_SIGNATURES.pck,
    }),
    privateKey: pckKey,
  };
  stable = {
    root,
    ca,
    pck,
    attestationKey: developmentKey("development attestation key"),
    fmspc: DEVELOPMENT_FMSPC,
    pceSvn: 11,
    sgxTcbSvns,
  };
  return stable;
}

/** The DER of the stable development root CA ({@link developmentPlatform}); its keccak256 roots a local `DcapVerifier`. */
export function developmentRootDer(): Uint8Array {
  return developmentPlatform().root.der;
}

/**
 * A P-256 key derived from `label` (the same in every process). DEVELOPMENT ONLY: the label is public, so is the key.
 */
export function developmentKey(label: string): KeyObject {
  const order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  const seed = BigInt(
    `0x${createHash("sha256").update(`verifiable-inference-network ${label} - NOT INTEL`).digest("hex")}`,
  );
  const d = Buffer.from(((seed % (order - 1n)) + 1n).toString(16).padStart(64, "0"), "hex");
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey();
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
  return createPrivateKey({
    key: { kty: "EC", crv: "P-256", d: b64(d), x: b64(point.subarray(1, 33)), y: b64(point.subarray(33)) },
    format: "jwk",
  });
}

/* CERTIFICATES */

const ROOT_NAME = name("Development SGX Root CA - NOT INTEL");
const CA_NAME = name("Development SGX PCK Platform CA - NOT INTEL");
const PCK_NAME = name("Development SGX PCK Certificate - NOT INTEL");
const ECDSA_WITH_SHA256 = derSequence(derOid("1.2.840.10045.4.3.2"));
const SGX = "1.2.840.113741.1.13.1";

interface CertificateSpec {
  serial: bigint;
  issuer: Uint8Array;
  subject: Uint8Array;
  key: KeyObject;
  signer: KeyObject;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  sgx?: Uint8Array;
  /** A fixed signature (DER ECDSA, hex) of the to-be-signed part, checked against `signer`; default: sign now. */
  signature?: string;
}

function certificate(spec: CertificateSpec): Uint8Array {
  const basicConstraints = extension(
    "2.5.29.19",
    true,
    derSequence(...(spec.ca ? [derEncode(0x01, Uint8Array.of(0xff))] : [])),
  );
  const extensions = [basicConstraints, ...(spec.sgx === undefined ? [] : [extension(SGX, false, spec.sgx)])];
  const tbs = derSequence(
    derEncode(0xa0, derUint(2)),
    derUint(spec.serial),
    ECDSA_WITH_SHA256,
    spec.issuer,
    derSequence(time(spec.notBefore), time(spec.notAfter)),
    spec.subject,
    createPublicKey(spec.key).export({ type: "spki", format: "der" }),
    derEncode(0xa3, derSequence(...extensions)),
  );
  const signature =
    spec.signature === undefined ? sign("sha256", tbs, spec.signer) : Buffer.from(spec.signature, "hex");
  if (!verify("sha256", tbs, createPublicKey(spec.signer), signature)) {
    throw new Error(
      `DEVELOPMENT certificate ${Buffer.from(spec.subject).toString("hex").slice(-40)}: its fixed signature does not match its content`,
    );
  }
  return derSequence(tbs, ECDSA_WITH_SHA256, derEncode(0x03, Buffer.concat([Uint8Array.of(0), signature])));
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return derSequence(derOid(oid), ...(critical ? [derEncode(0x01, Uint8Array.of(0xff))] : []), derEncode(0x04, value));
}

function sgxExtension(fmspc: string, pceSvn: number, svns: Uint8Array): Uint8Array {
  const item = (arc: string, value: Uint8Array) => derSequence(derOid(`${SGX}.${arc}`), value);
  const octets = (hex: string) => derEncode(0x04, Buffer.from(hex, "hex"));
  const tcb = derSequence(
    ...Array.from(svns, (svn, i) => item(`2.${i + 1}`, derUint(svn))),
    item("2.17", derUint(pceSvn)),
    item("2.18", derEncode(0x04, svns)),
  );
  return derSequence(
    item("1", octets("de".repeat(16))),
    item("2", tcb),
    item("3", octets("0000")),
    item("4", octets(fmspc)),
    item("5", derEncode(0x0a, Uint8Array.of(0))),
  );
}

function name(commonName: string): Uint8Array {
  const attribute = (oid: string, value: string) =>
    derEncode(0x31, derSequence(derOid(oid), derEncode(0x0c, Buffer.from(value, "utf8"))));
  return derSequence(
    attribute("2.5.4.3", commonName),
    attribute("2.5.4.10", "verifiable-inference-network development"),
  );
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280). */
function time(date: Date): Uint8Array {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return date.getUTCFullYear() < 2050
    ? derEncode(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : derEncode(0x18, Buffer.from(`${iso}Z`));
}

function toPem(der: Uint8Array): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .trimEnd();
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/* KEYS */

function newKey(): KeyObject {
  return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
}

/** The raw public key x ‖ y (64 bytes) of a P-256 private or public key. */
export function publicXy(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  return Buffer.concat([Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
}

function p1363(key: KeyObject, data: Uint8Array): Buffer {
  return sign("sha256", data, { key, dsaEncoding: "ieee-p1363" });
}

const le16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const le32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

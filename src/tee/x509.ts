import { X509Certificate } from "node:crypto";
import { keccak256, solidityPackedKeccak256 } from "ethers";
import { derChildren, readDer, type DerElement } from "./der";
import { TeeQuoteError } from "./errors";

/** Intel's SGX extension OID (1.2.840.113741.1.13.1) as DER content bytes. */
const SGX_EXTENSION = "2a864886f84d010d01";

/** The PCK fields of Intel's SGX extension. */
export interface PckFields {
  fmspc: string;
  pceId: string;
  pceSvn: number;
  /** The 16 SGX TCB component SVNs, component 1 first. */
  sgxTcbSvns: Uint8Array;
}

/** A certificate of the PCK chain: node's view of it plus its cache key and, for PCK leaves, the SGX fields. */
export interface PckCertificate {
  der: Uint8Array;
  /** keccak256 of the DER: the key `DcapVerifier` caches it under. */
  hash: string;
  x509: X509Certificate;
  isCa: boolean;
  /** The serial number's DER INTEGER content bytes (0x hex): with the issuer name hash, its revocation id. */
  serialNumber: string;
  /** keccak256 of the issuer and subject Name DER encodings (as `DcapVerifier` hashes them). */
  issuerNameHash: string;
  subjectNameHash: string;
  /** `DcapVerifier.revocationId(issuerNameHash, serialNumber)`. */
  revocationId: string;
  pck: PckFields | undefined;
}

/**
 * Reads a DER certificate of Intel's PCK chain.
 *
 * @example
 * const leaf = readCertificate(pckChain(parseQuote(bytes))[0]!);
 * leaf.pck?.fmspc; // "b0c06f000000"
 */
export function readCertificate(der: Uint8Array): PckCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (cause) {
    throw new TeeQuoteError("DcapCertificateMalformed", "not a DER X.509 certificate", { cause });
  }
  const hex = Buffer.from(der).toString("hex");
  const at = hex.indexOf(`0609${SGX_EXTENSION}`);
  const tbs = derChildren(der, readDer(der, readDer(der, 0).start));
  const withoutVersion = tbs[0]!.tag === 0xa0 ? tbs.slice(1) : tbs;
  const [serial, , issuer, , subject] = withoutVersion as [DerElement, DerElement, DerElement, DerElement, DerElement];
  const whole = (e: DerElement) => der.subarray(e.offset, e.end);
  const serialNumber = `0x${hexOf(der, serial)}`;
  const issuerNameHash = keccak256(whole(issuer));
  return {
    der,
    hash: keccak256(der),
    x509,
    isCa: x509.ca,
    serialNumber,
    issuerNameHash,
    subjectNameHash: keccak256(whole(subject)),
    revocationId: solidityPackedKeccak256(["bytes32", "bytes"], [issuerNameHash, serialNumber]),
    pck: at < 0 || at % 2 !== 0 ? undefined : sgxFields(der, at / 2 + 11),
  };
}

/** Parses the SGX extension whose OCTET STRING (possibly after a critical flag) starts at `offset`. */
function sgxFields(der: Uint8Array, offset: number): PckFields {
  let value = readDer(der, offset);
  if (value.tag === 0x01) value = readDer(der, value.end);
  const fields: Partial<PckFields> = {};
  for (const item of derChildren(der, readDer(der, value.start, value.end))) {
    const [oid, content] = derChildren(der, item) as [DerElement, DerElement];
    const arc = oidArc(der, oid, SGX_EXTENSION);
    if (arc === 2) Object.assign(fields, tcb(der, content));
    else if (arc === 3) fields.pceId = hexOf(der, content);
    else if (arc === 4) fields.fmspc = hexOf(der, content);
  }
  if (
    fields.fmspc === undefined ||
    fields.pceId === undefined ||
    fields.pceSvn === undefined ||
    fields.sgxTcbSvns === undefined
  ) {
    throw new TeeQuoteError("DcapPckExtensionMissing", "the SGX extension lacks FMSPC, PCE id or TCB");
  }
  return fields as PckFields;
}

function tcb(der: Uint8Array, sequence: DerElement): Pick<PckFields, "pceSvn" | "sgxTcbSvns"> {
  const sgxTcbSvns = new Uint8Array(16);
  let pceSvn = 0;
  for (const item of derChildren(der, sequence)) {
    const [oid, content] = derChildren(der, item) as [DerElement, DerElement];
    const arc = oidArc(der, oid, `${SGX_EXTENSION}02`);
    const value = Number.parseInt(hexOf(der, content) || "0", 16);
    if (arc >= 1 && arc <= 16) sgxTcbSvns[arc - 1] = value;
    else if (arc === 17) pceSvn = value;
  }
  return { pceSvn, sgxTcbSvns };
}

function oidArc(der: Uint8Array, oid: DerElement, prefix: string): number {
  const hex = hexOf(der, oid);
  return hex.length === prefix.length + 2 && hex.startsWith(prefix) ? Number.parseInt(hex.slice(-2), 16) : 0;
}

const hexOf = (der: Uint8Array, e: DerElement): string => Buffer.from(der.subarray(e.start, e.end)).toString("hex");

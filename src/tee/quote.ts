import { TeeQuoteError } from "./errors";

/** The TEE that produced a quote; the numbers are `IDcapVerifier.TeeType`. */
export enum TeeType {
  Sgx = 0,
  Tdx = 1,
}

/** Layout constants of Intel DCAP ECDSA quotes (v3 SGX, v4 SGX/TDX). */
export const QUOTE = {
  headerLength: 48,
  tdxBodyLength: 584,
  sgxBodyLength: 384,
  qeReportLength: 384,
  teeSgx: 0,
  teeTdx: 0x81,
  ecdsaP256: 2,
  qeReportCertification: 6,
  pckChainCertification: 5,
  intelQeVendor: "939a7233f79c4ca9940a0db3957f0607",
} as const;

/** A framed quote: every part as a view into the quote's bytes, every offset checked. */
export interface ParsedQuote {
  bytes: Uint8Array;
  version: number;
  teeType: TeeType;
  /** The quote signature covers bytes [0, bodyEnd). */
  bodyEnd: number;
  header: Uint8Array;
  body: Uint8Array;
  signature: Uint8Array;
  attestationKey: Uint8Array;
  qeReport: Uint8Array;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** Certification data type 5: the PEM PCK chain, leaf first. */
  pckChainPem: string;
  /** Byte offsets of the parts above, for callers that mutate a quote (tests) or explain a failure. */
  offsets: {
    signature: number;
    attestationKey: number;
    qeReport: number;
    qeReportSignature: number;
    qeAuthData: number;
    certificationData: number;
  };
}

/** The report body's facts, with the names `IDcapVerifier.VerifiedQuote` uses. */
export interface QuoteFacts {
  version: number;
  teeType: TeeType;
  /** TDX: MRTD ‖ RTMR0..3 (240 bytes); SGX: MRENCLAVE ‖ MRSIGNER (64 bytes). */
  measurements: Uint8Array;
  reportData: Uint8Array;
  attributes: Uint8Array;
  teeTcbSvn: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  qeSvn: number;
  debug: boolean;
}

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (u16(b, o) + u16(b, o + 2) * 0x10000) >>> 0;

/**
 * Frames a DCAP quote exactly as `DcapQuoteLib.parse` does on-chain, throwing a {@link TeeQuoteError} with the
 * same error name for the same fault.
 *
 * @example
 * const q = parseQuote(bytes);
 * q.teeType === TeeType.Tdx;
 */
export function parseQuote(bytes: Uint8Array): ParsedQuote {
  const need = (n: number): void => {
    if (bytes.length < n) throw new TeeQuoteError("DcapQuoteTruncated", `quote has ${bytes.length} bytes, needs ${n}`);
  };
  need(QUOTE.headerLength);
  const version = u16(bytes, 0);
  if (version !== 3 && version !== 4) throw new TeeQuoteError("DcapQuoteUnsupportedVersion", `version ${version}`);
  const keyType = u16(bytes, 2);
  if (keyType !== QUOTE.ecdsaP256)
    throw new TeeQuoteError("DcapQuoteUnsupportedKeyType", `attestation key type ${keyType}`);
  const tee = u32(bytes, 4);
  let teeType: TeeType;
  if (tee === QUOTE.teeTdx && version === 4) teeType = TeeType.Tdx;
  else if (tee === QUOTE.teeSgx) teeType = TeeType.Sgx;
  else throw new TeeQuoteError("DcapQuoteUnsupportedTeeType", `version ${version}, TEE type 0x${tee.toString(16)}`);
  const vendor = Buffer.from(bytes.subarray(12, 28)).toString("hex");
  if (vendor !== QUOTE.intelQeVendor) throw new TeeQuoteError("DcapQuoteUnsupportedVendor", `QE vendor ${vendor}`);
  const bodyEnd = QUOTE.headerLength + (teeType === TeeType.Tdx ? QUOTE.tdxBodyLength : QUOTE.sgxBodyLength);
  need(bodyEnd + 4);
  const end = bodyEnd + 4 + u32(bytes, bodyEnd);
  need(end);
  if (bytes.length !== end)
    throw new TeeQuoteError("DcapQuoteLengthMismatch", `quote has ${bytes.length} bytes, declares ${end}`);

  const signature = bodyEnd + 4;
  const attestationKey = signature + 64;
  let offset = attestationKey + 64;
  if (version === 4) offset = certificationData(bytes, offset, end, QUOTE.qeReportCertification);
  const qeReport = offset;
  const qeReportSignature = qeReport + QUOTE.qeReportLength;
  const qeAuthData = qeReportSignature + 64 + 2;
  need(qeAuthData);
  const authLength = u16(bytes, qeAuthData - 2);
  const certification = qeAuthData + authLength;
  const pemStart = certificationData(bytes, certification, end, QUOTE.pckChainCertification);
  return {
    bytes,
    version,
    teeType,
    bodyEnd,
    header: bytes.subarray(0, QUOTE.headerLength),
    body: bytes.subarray(QUOTE.headerLength, bodyEnd),
    signature: bytes.subarray(signature, signature + 64),
    attestationKey: bytes.subarray(attestationKey, attestationKey + 64),
    qeReport: bytes.subarray(qeReport, qeReportSignature),
    qeReportSignature: bytes.subarray(qeReportSignature, qeReportSignature + 64),
    qeAuthData: bytes.subarray(qeAuthData, qeAuthData + authLength),
    pckChainPem: Buffer.from(bytes.subarray(pemStart, end)).toString("latin1"),
    offsets: { signature, attestationKey, qeReport, qeReportSignature, qeAuthData, certificationData: certification },
  };
}

function certificationData(bytes: Uint8Array, offset: number, end: number, expected: number): number {
  const data = offset + 6;
  if (bytes.length < data)
    throw new TeeQuoteError("DcapQuoteTruncated", `quote has ${bytes.length} bytes, needs ${data}`);
  const type = u16(bytes, offset);
  if (type !== expected)
    throw new TeeQuoteError(
      "DcapQuoteUnsupportedCertificationData",
      `certification data type ${type}, expected ${expected}`,
    );
  const declared = data + u32(bytes, offset + 2);
  if (declared !== end)
    throw new TeeQuoteError("DcapQuoteLengthMismatch", `certification data ends at ${declared}, quote at ${end}`);
  return data;
}

/** The report body's facts (measurements, report data, SVNs, debug flags) of a framed quote. */
export function quoteFacts(q: ParsedQuote): QuoteFacts {
  const b = q.bytes;
  const tdx = q.teeType === TeeType.Tdx;
  return {
    version: q.version,
    teeType: q.teeType,
    measurements: tdx
      ? Buffer.concat([b.subarray(184, 232), b.subarray(376, 568)])
      : Buffer.concat([b.subarray(112, 144), b.subarray(176, 208)]),
    reportData: tdx ? b.subarray(568, 632) : b.subarray(368, 432),
    attributes: tdx ? b.subarray(168, 176) : b.subarray(96, 104),
    teeTcbSvn: tdx ? b.subarray(48, 64) : new Uint8Array(16),
    isvProdId: tdx ? 0 : u16(b, 304),
    isvSvn: tdx ? 0 : u16(b, 306),
    qeSvn: u16(q.qeReport, 258),
    debug: tdx ? (b[168]! & 0x01) !== 0 : (b[96]! & 0x02) !== 0,
  };
}

/** The DER certificates of the PEM chain in a quote's certification data, leaf first. */
export function pckChain(q: ParsedQuote): Uint8Array[] {
  const blocks = q.pckChainPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    throw new TeeQuoteError("DcapPckChainMissing", "no PEM certificate in the certification data");
  return blocks.map((block) => Buffer.from(block.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ""), "base64"));
}

/**
 * Drops zero bytes that some quote producers (e.g. dstack's tappd) append after the declared end: the on-chain
 * verifier refuses trailing bytes so that one quote has one hash. Anything but zeros after the end is kept (and
 * then refused by {@link parseQuote}).
 */
export function trimQuote(bytes: Uint8Array): Uint8Array {
  const tee = bytes.length >= 8 ? u32(bytes, 4) : -1;
  const bodyEnd = QUOTE.headerLength + (tee === QUOTE.teeTdx ? QUOTE.tdxBodyLength : QUOTE.sgxBodyLength);
  if (bytes.length < bodyEnd + 4) return bytes;
  const end = bodyEnd + 4 + u32(bytes, bodyEnd);
  return end < bytes.length && bytes.subarray(end).every((b) => b === 0) ? bytes.subarray(0, end) : bytes;
}

/**
 * The quote without the PEM PCK chain of its certification data (type 5, left empty), every length it declares
 * adjusted. Nothing signs that chain and `DcapVerifier` does not read it (the caller names the cached PCK certificate
 * instead), so the quote verifies the same on-chain for about 16 gas less per byte of chain (some 55,000 gas for a
 * real TDX chain of 3.7 KB). Keep the original: {@link pckChain} and the off-chain `verifyQuote` need the chain.
 *
 * @example
 * await teeVerifier.registerEnclaveWithQuote(withoutPckChain(quote), pckCertificate, signer, hpkePublicKey, anchorBlock);
 */
export function withoutPckChain(bytes: Uint8Array): Uint8Array {
  const q = parseQuote(bytes);
  const end = q.offsets.certificationData + 6;
  const out = Buffer.from(bytes.subarray(0, end));
  out.writeUInt32LE(0, end - 4);
  out.writeUInt32LE(end - (q.bodyEnd + 4), q.bodyEnd);
  if (q.version === 4) out.writeUInt32LE(end - (q.offsets.attestationKey + 64 + 6), q.offsets.attestationKey + 64 + 2);
  return out;
}

import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from "node:crypto";
import { keccak256 } from "ethers";
import { TeeQuoteError } from "./errors";
import { parseQuote, pckChain, quoteFacts, TeeType, type QuoteFacts } from "./quote";
import { readCertificate, type PckCertificate, type PckFields } from "./x509";

/** The quoting enclave accepted for a TEE type (Intel's signed QE identity, transcribed). */
export interface QeIdentity {
  mrSigner: string;
  isvProdId: number;
  minIsvSvn: number;
}

/** Per-component TCB minimums for one FMSPC (as `IDcapVerifier.TcbPolicy`, without the expiry). */
export interface TcbMinimum {
  minSgxTcbSvns: Uint8Array;
  minTdxTcbSvns: Uint8Array;
  minPceSvn: number;
}

/** What `verifyQuote` checks against. */
export interface VerifyQuoteOptions {
  /** Trusted root CA certificates (DER): Intel's SGX Root CA, or a development root. */
  roots: Uint8Array[];
  /** The time certificates must be valid at (default: now). */
  now?: Date;
  /** Accepted QE per TEE type; a TEE type without one is refused. */
  qeIdentities: Partial<Record<TeeType, QeIdentity>>;
  /** TCB minimums per FMSPC (lower-case hex); when omitted the TCB is not checked. */
  tcbMinimums?: Record<string, TcbMinimum>;
}

/** What a verified quote establishes: the facts `DcapVerifier.verifyQuote` returns. */
export interface VerifiedQuote extends QuoteFacts, PckFields {
  measurementHash: string;
  /** keccak256 of the PCK certificate's DER: the name `DcapVerifier` caches it under. */
  pckCertificate: string;
  /** The chain, leaf first, as found in the quote. */
  chain: PckCertificate[];
  attestationKeyHash: string;
}

/**
 * Verifies a DCAP quote off-chain with the checks `DcapVerifier` makes on-chain: framing, the PCK chain up to
 * one of `roots` (signatures and validity at `now`), the QE report signature by the PCK key, the QE report data
 * binding, the QE identity, debug flags, the quote signature by the attestation key and, when given, the TCB
 * minimums. Revocation is not checked here (the chain's governance knows revocations). Throws a
 * {@link TeeQuoteError} named like the on-chain error.
 *
 * @example
 * const facts = verifyQuote(bytes, { roots: [intelRootDer], qeIdentities: { [TeeType.Tdx]: tdQe } });
 */
export function verifyQuote(bytes: Uint8Array, options: VerifyQuoteOptions): VerifiedQuote {
  const q = parseQuote(bytes);
  const chain = pckChain(q).map(readCertificate);
  const leaf = verifyChain(chain, options.roots, options.now ?? new Date());
  if (!p256(leaf.x509.publicKey, q.qeReport, q.qeReportSignature)) {
    throw new TeeQuoteError("DcapQeReportSignatureInvalid", `QE report not signed by PCK ${leaf.hash}`);
  }
  const expected = createHash("sha256").update(q.attestationKey).update(q.qeAuthData).digest();
  const actual = q.qeReport.subarray(320, 384);
  if (!Buffer.concat([expected, Buffer.alloc(32)]).equals(actual)) {
    throw new TeeQuoteError(
      "DcapQeReportDataMismatch",
      `QE report data ${Buffer.from(actual).toString("hex")} does not commit to the attestation key`,
    );
  }
  checkQeIdentity(q.qeReport, options.qeIdentities[q.teeType]);
  const facts = quoteFacts(q);
  if (!p256(rawKey(q.attestationKey), bytes.subarray(0, q.bodyEnd), q.signature)) {
    throw new TeeQuoteError("DcapQuoteSignatureInvalid", "the quote body is not signed by the attestation key");
  }
  if (facts.debug) throw new TeeQuoteError("DcapDebugMode", "the enclave or TD runs in debug mode");
  const pck = leaf.pck!;
  const minimum = options.tcbMinimums?.[pck.fmspc];
  if (options.tcbMinimums !== undefined) checkTcb(pck, facts, minimum);
  return {
    ...facts,
    ...pck,
    measurementHash: keccak256(facts.measurements),
    pckCertificate: leaf.hash,
    chain,
    attestationKeyHash: `0x${createHash("sha256").update(q.attestationKey).digest("hex")}`,
  };
}

/** Checks leaf ← CA ← root, with the root one of `roots`; returns the leaf. */
function verifyChain(chain: PckCertificate[], roots: Uint8Array[], now: Date): PckCertificate {
  const [leaf, ca] = chain;
  if (leaf === undefined || ca === undefined || leaf.isCa || !ca.isCa || leaf.pck === undefined) {
    throw new TeeQuoteError("DcapCertificatePathInvalid", "the chain is not PCK leaf, CA, root");
  }
  const root = roots.map(readCertificate).find((r) => ca.x509.checkIssued(r.x509) && ca.x509.verify(r.x509.publicKey));
  if (root === undefined)
    throw new TeeQuoteError("DcapCertificateSignatureInvalid", `CA ${ca.hash} is not signed by a trusted root`);
  if (!leaf.x509.checkIssued(ca.x509) || !leaf.x509.verify(ca.x509.publicKey)) {
    throw new TeeQuoteError("DcapCertificateSignatureInvalid", `PCK ${leaf.hash} is not signed by CA ${ca.hash}`);
  }
  for (const c of [root, ca, leaf]) {
    if (now < new Date(c.x509.validFrom) || now > new Date(c.x509.validTo)) {
      throw new TeeQuoteError(
        "DcapCertificateExpired",
        `${c.hash} is valid from ${c.x509.validFrom} to ${c.x509.validTo}`,
      );
    }
  }
  return leaf;
}

function checkQeIdentity(report: Uint8Array, accepted: QeIdentity | undefined): void {
  const mrSigner = `0x${Buffer.from(report.subarray(128, 160)).toString("hex")}`;
  const isvProdId = report[256]! | (report[257]! << 8);
  const isvSvn = report[258]! | (report[259]! << 8);
  if (
    accepted === undefined ||
    accepted.mrSigner.toLowerCase() !== mrSigner ||
    accepted.isvProdId !== isvProdId ||
    isvSvn < accepted.minIsvSvn
  ) {
    throw new TeeQuoteError("DcapQeIdentityNotAccepted", `QE ${mrSigner} product ${isvProdId} SVN ${isvSvn}`);
  }
  if ((report[48]! & 0x02) !== 0) throw new TeeQuoteError("DcapDebugMode", "the QE runs in debug mode");
}

function checkTcb(pck: PckFields, facts: QuoteFacts, minimum: TcbMinimum | undefined): void {
  if (minimum === undefined)
    throw new TeeQuoteError("DcapTcbPolicyUnavailable", `no TCB policy for FMSPC ${pck.fmspc}`);
  const below = (svns: Uint8Array, mins: Uint8Array) => svns.findIndex((svn, i) => svn < mins[i]!);
  const sgx = below(pck.sgxTcbSvns, minimum.minSgxTcbSvns);
  if (sgx >= 0) throw new TeeQuoteError("DcapTcbNotAccepted", `SGX TCB component ${sgx} is below the minimum`);
  if (pck.pceSvn < minimum.minPceSvn)
    throw new TeeQuoteError("DcapTcbNotAccepted", `PCE SVN ${pck.pceSvn} is below ${minimum.minPceSvn}`);
  const tdx = facts.teeType === TeeType.Tdx ? below(facts.teeTcbSvn, minimum.minTdxTcbSvns) : -1;
  if (tdx >= 0) throw new TeeQuoteError("DcapTcbNotAccepted", `TEE_TCB_SVN byte ${tdx} is below the minimum`);
}

/** A P-256 public key from its raw x ‖ y. */
export function rawKey(xy: Uint8Array): KeyObject {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
  return createPublicKey({
    key: { kty: "EC", crv: "P-256", x: b64(xy.subarray(0, 32)), y: b64(xy.subarray(32, 64)) },
    format: "jwk",
  });
}

function p256(key: KeyObject, data: Uint8Array, rs: Uint8Array): boolean {
  return verifySignature("sha256", data, { key, dsaEncoding: "ieee-p1363" }, rs);
}

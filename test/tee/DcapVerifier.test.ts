import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { keccak256, sha256 } from "ethers";
import { createDevelopmentPlatform, createDevelopmentQuote, parseQuote, readCertificate, TeeType } from "../../src/tee";
import {
  cacheChain,
  chainOf,
  DEV,
  devFixture,
  fixtureBytes,
  flip,
  INTEL_QE,
  INTEL_ROOT,
  intelFixture,
  REAL,
  ZERO16,
  type DcapFixture,
} from "./fixtures";

const REPORT_DATA = new Uint8Array(64).fill(0x42);
const hex = (b: Uint8Array): string => `0x${Buffer.from(b).toString("hex")}`;

/** An Intel-rooted verifier with both real chains cached. */
async function intelCached(): Promise<
  DcapFixture & { tdx: { ca: string; pck: string }; sgx: { ca: string; pck: string } }
> {
  const fx = await intelFixture();
  return { ...fx, tdx: await cacheChain(fx.verifier, REAL.tdx), sgx: await cacheChain(fx.verifier, REAL.sgx) };
}

async function devCached(): Promise<DcapFixture & { pck: string; ca: string }> {
  const fx = await devFixture();
  return {
    ...fx,
    ...(await cacheChain(fx.verifier, createDevelopmentQuote(DEV, { teeType: TeeType.Tdx, reportData: REPORT_DATA }))),
  };
}

describe("DcapVerifier", () => {
  describe("real quotes with Intel's root", () => {
    it("verifies a real TDX v4 quote and returns its measurements, report data and platform", async () => {
      const { verifier, tdx } = await loadFixture(intelCached);
      const q = parseQuote(REAL.tdx);
      const v = await verifier.verifyQuote(REAL.tdx, tdx.pck);
      const measurements = Buffer.concat([REAL.tdx.subarray(184, 232), REAL.tdx.subarray(376, 568)]);
      expect(v.version).to.equal(4n);
      expect(v.teeType).to.equal(BigInt(TeeType.Tdx));
      expect(v.measurements).to.equal(hex(measurements));
      expect(v.measurementHash).to.equal(keccak256(measurements));
      expect(v.reportData).to.equal(hex(REAL.tdx.subarray(568, 632)));
      expect(v.fmspc).to.equal("0xb0c06f000000");
      expect(v.pceSvn).to.equal(11n);
      expect(v.sgxTcbSvns).to.equal("0x02020202030100030000000000000000");
      expect(v.teeTcbSvn).to.equal(hex(REAL.tdx.subarray(48, 64)));
      expect(v.qeSvn).to.equal(6n);
      expect(v.pckCertificate).to.equal(tdx.pck);
      expect(v.attestationKeyHash).to.equal(sha256(q.attestationKey));
    });

    it("verifies a real SGX v3 quote and returns MRENCLAVE and MRSIGNER", async () => {
      const { verifier, sgx } = await loadFixture(intelCached);
      const v = await verifier.verifyQuote(REAL.sgx, sgx.pck);
      expect(v.version).to.equal(3n);
      expect(v.teeType).to.equal(BigInt(TeeType.Sgx));
      expect(v.measurements).to.equal(hex(Buffer.concat([REAL.sgx.subarray(112, 144), REAL.sgx.subarray(176, 208)])));
      expect(v.reportData).to.equal(hex(REAL.sgx.subarray(368, 432)));
      expect(v.fmspc).to.equal("0x00606a000000");
      expect(v.teeTcbSvn).to.equal(ZERO16);
    });

    it("verifies a second quote of the same platform with the cached chain", async () => {
      const { verifier, tdx } = await loadFixture(intelCached);
      const v = await verifier.verifyQuote(REAL.tdxSamePlatform, tdx.pck);
      expect(v.reportData).to.equal(hex(REAL.tdxSamePlatform.subarray(568, 632)));
    });

    it("reverts with DcapQuoteLengthMismatch for the original quote with its trailing zero padding", async () => {
      const { verifier, tdx } = await loadFixture(intelCached);
      await expect(verifier.verifyQuote(fixtureBytes("tdx-v4-phala-tappd.hex"), tdx.pck))
        .to.be.revertedWithCustomError(verifier, "DcapQuoteLengthMismatch")
        .withArgs(5006, 4936);
    });

    it("reverts with DcapCertificateExpired once the real PCK certificate has expired (2031-08-02)", async () => {
      const { verifier, tdx } = await loadFixture(intelCached);
      const pck = await verifier.certificateOf(tdx.pck);
      await time.increaseTo(pck.notAfter + 1n);
      await expect(verifier.verifyQuote(REAL.tdx, tdx.pck))
        .to.be.revertedWithCustomError(verifier, "DcapCertificateExpired")
        .withArgs(tdx.pck, pck.notBefore, pck.notAfter, pck.notAfter + 1n);
    });
  });

  describe("mutations of a real TDX quote", () => {
    const q = parseQuote(REAL.tdx);
    const o = q.offsets;

    async function expectRevert(quote: Uint8Array, error: string, args?: unknown[]): Promise<void> {
      const { verifier, tdx } = await loadFixture(intelCached);
      const assertion = expect(verifier.verifyQuote(quote, tdx.pck)).to.be.revertedWithCustomError(verifier, error);
      await (args === undefined ? assertion : assertion.withArgs(...args));
    }

    it("reverts with DcapQuoteUnsupportedVersion, …KeyType, …TeeType, …Vendor for each header field", async () => {
      await expectRevert(flip(REAL.tdx, 0, 0x01), "DcapQuoteUnsupportedVersion", [5]);
      await expectRevert(flip(REAL.tdx, 2, 0x01), "DcapQuoteUnsupportedKeyType", [3]);
      await expectRevert(flip(REAL.tdx, 4, 0x01), "DcapQuoteUnsupportedTeeType", [4, 0x80]);
      await expectRevert(flip(REAL.tdx, 12), "DcapQuoteUnsupportedVendor", ["0x929a7233f79c4ca9940a0db3957f0607"]);
    });

    it("reverts with DcapQuoteUnsupportedTeeType for a version 3 TDX quote", async () => {
      const v3 = Uint8Array.from(REAL.tdx);
      v3[0] = 3;
      await expectRevert(v3, "DcapQuoteUnsupportedTeeType", [3, 0x81]);
    });

    it("reverts with DcapQuoteSignatureInvalid when any signed header or body field changes", async () => {
      // reserved, user data, TEE_TCB_SVN, MRSEAM, TD_ATTRIBUTES (not debug), MRTD, MRCONFIGID, RTMR0-3, REPORTDATA.
      for (const offset of [8, 30, 48, 70, 171, 184, 240, 380, 430, 470, 520, 570, 631]) {
        await expectRevert(flip(REAL.tdx, offset, 0x80), "DcapQuoteSignatureInvalid");
      }
    });

    it("reverts with DcapQuoteSignatureInvalid when the quote signature changes", async () => {
      await expectRevert(flip(REAL.tdx, o.signature), "DcapQuoteSignatureInvalid");
      await expectRevert(flip(REAL.tdx, o.signature + 63), "DcapQuoteSignatureInvalid");
    });

    it("reverts with DcapQeReportDataMismatch when the attestation key changes", async () => {
      const mutated = flip(REAL.tdx, o.attestationKey + 5);
      const expected = sha256(Buffer.concat([parseQuote(mutated).attestationKey, q.qeAuthData]));
      await expectRevert(mutated, "DcapQeReportDataMismatch", [expected, hex(q.qeReport.subarray(320, 352))]);
    });

    it("reverts with DcapQeReportSignatureInvalid when any QE report field or its signature changes", async () => {
      const { tdx } = await loadFixture(intelCached);
      for (const offset of [0, 48, 128, 256, 258, 320, 383]) {
        await expectRevert(flip(REAL.tdx, o.qeReport + offset), "DcapQeReportSignatureInvalid", [tdx.pck]);
      }
      await expectRevert(flip(REAL.tdx, o.qeReportSignature + 10), "DcapQeReportSignatureInvalid", [tdx.pck]);
    });

    it("reverts with DcapQeReportDataMismatch when the QE authentication data changes", async () => {
      const mutated = flip(REAL.tdx, o.qeAuthData + 3);
      await expectRevert(mutated, "DcapQeReportDataMismatch", [
        sha256(Buffer.concat([q.attestationKey, parseQuote(mutated).qeAuthData])),
        hex(q.qeReport.subarray(320, 352)),
      ]);
    });

    it("reverts with DcapQuoteTruncated or DcapQuoteLengthMismatch when a declared length changes", async () => {
      await expectRevert(flip(REAL.tdx, q.bodyEnd, 0x01), "DcapQuoteTruncated", [4936, 4937]);
      await expectRevert(flip(REAL.tdx, q.bodyEnd + 1, 0x01), "DcapQuoteTruncated", [4936, 4936 + 256]);
      // A longer QE auth data moves the certification data header: its type is then read from elsewhere.
      await expectRevert(flip(REAL.tdx, o.qeAuthData - 2, 0x01), "DcapQuoteUnsupportedCertificationData", [
        REAL.tdx[o.certificationData + 1]! | (REAL.tdx[o.certificationData + 2]! << 8),
        5,
      ]);
      await expectRevert(flip(REAL.tdx, o.certificationData + 2, 0x01), "DcapQuoteLengthMismatch");
    });

    it("reverts with DcapQuoteUnsupportedCertificationData when a certification type changes", async () => {
      await expectRevert(flip(REAL.tdx, o.attestationKey + 64, 0x01), "DcapQuoteUnsupportedCertificationData", [7, 6]);
      await expectRevert(flip(REAL.tdx, o.certificationData, 0x02), "DcapQuoteUnsupportedCertificationData", [7, 5]);
    });

    it("reverts with DcapQuoteTruncated for every truncation point", async () => {
      for (const length of [0, 1, 47, 48, 631, 636, 700, 769, 1217, 2000, 4935]) {
        const needed = length < 48 ? 48 : length < 636 ? 636 : 4936;
        await expectRevert(REAL.tdx.subarray(0, length), "DcapQuoteTruncated", [length, needed]);
      }
    });
  });

  describe("verifyCertificate", () => {
    it("caches the root, the CA and the PCK once each and emits CertificateVerified", async () => {
      const { verifier, root } = await loadFixture(intelFixture);
      const [pck, ca] = chainOf(REAL.tdx) as [Uint8Array, Uint8Array];
      const caRecord = readCertificate(ca);
      await expect(verifier.verifyCertificate(ca, root))
        .to.emit(verifier, "CertificateVerified")
        .withArgs(
          keccak256(ca),
          root,
          (id: string) => id.length === 66,
          1,
          BigInt(Math.floor(Date.parse(caRecord.x509.validTo) / 1000)),
        );
      await expect(verifier.verifyCertificate(pck, keccak256(ca))).to.emit(verifier, "CertificateVerified");
      await expect(verifier.verifyCertificate(pck, keccak256(ca))).not.to.emit(verifier, "CertificateVerified");
      const record = await verifier.certificateOf(keccak256(pck));
      expect(record.depth).to.equal(2n);
      expect(record.isCa).to.equal(false);
      expect(record.issuer).to.equal(keccak256(ca));
      expect(await verifier.isTrusted(keccak256(pck))).to.equal(true);
    });

    it("reverts with DcapCertificateSignatureInvalid when a signed byte of the CA or PCK certificate changes", async () => {
      const { verifier, root } = await loadFixture(intelFixture);
      const [pck, ca] = chainOf(REAL.tdx) as [Uint8Array, Uint8Array];
      const caTbsByte = Buffer.from(ca).indexOf(Buffer.from("Intel SGX PCK Platform CA")) + 3;
      await expect(verifier.verifyCertificate(flip(ca, caTbsByte), root))
        .to.be.revertedWithCustomError(verifier, "DcapCertificateSignatureInvalid")
        .withArgs(keccak256(flip(ca, caTbsByte)), root);
      await verifier.verifyCertificate(ca, root);
      // A byte of the leaf's SGX extension (FMSPC) and a byte of its signature.
      for (const offset of [Buffer.from(pck).indexOf(Buffer.from("b0c06f000000", "hex")), pck.length - 5]) {
        await expect(verifier.verifyCertificate(flip(pck, offset), keccak256(ca)))
          .to.be.revertedWithCustomError(verifier, "DcapCertificateSignatureInvalid")
          .withArgs(keccak256(flip(pck, offset)), keccak256(ca));
      }
    });

    it("reverts with DcapCertificateSignatureInvalid for a changed root offered as a CA", async () => {
      const { verifier, root } = await loadFixture(intelFixture);
      // A byte of the root's subject name: its issuer name still matches, so only the signature can fail.
      const mutated = flip(INTEL_ROOT, INTEL_ROOT.lastIndexOf(Buffer.from("Intel SGX Root CA")) + 2);
      await expect(verifier.verifyCertificate(mutated, root))
        .to.be.revertedWithCustomError(verifier, "DcapCertificateSignatureInvalid")
        .withArgs(keccak256(mutated), root);
    });

    it("reverts with DcapCertificateMalformed when the DER structure breaks", async () => {
      const { verifier, root } = await loadFixture(intelFixture);
      const ca = chainOf(REAL.tdx)[1]!;
      await expect(verifier.verifyCertificate(flip(ca, 1, 0x80), root)).to.be.revertedWithCustomError(
        verifier,
        "DcapCertificateMalformed",
      );
      await expect(verifier.verifyCertificate(ca.subarray(0, 100), root)).to.be.revertedWithCustomError(
        verifier,
        "DcapCertificateMalformed",
      );
      await expect(verifier.verifyCertificate("0x", root))
        .to.be.revertedWithCustomError(verifier, "DcapCertificateMalformed")
        .withArgs(0, 0);
    });

    it("reverts with DcapCertificateUnknown when the issuer is not cached", async () => {
      const { verifier } = await loadFixture(intelFixture);
      const [pck, ca] = chainOf(REAL.tdx) as [Uint8Array, Uint8Array];
      await expect(verifier.verifyCertificate(pck, keccak256(ca)))
        .to.be.revertedWithCustomError(verifier, "DcapCertificateUnknown")
        .withArgs(keccak256(ca));
    });

    it("reverts with DcapCertificatePathInvalid when a PCK is offered as issued by the root, or a CA by a CA", async () => {
      const { verifier, root } = await loadFixture(intelFixture);
      const [pck, ca] = chainOf(REAL.tdx) as [Uint8Array, Uint8Array];
      await expect(verifier.verifyCertificate(pck, root))
        .to.be.revertedWithCustomError(verifier, "DcapCertificatePathInvalid")
        .withArgs(keccak256(pck), root);
      await verifier.verifyCertificate(ca, root);
      await verifier.verifyCertificate(pck, keccak256(ca));
      const sgxPck = chainOf(REAL.sgx)[0]!;
      await expect(verifier.verifyCertificate(sgxPck, keccak256(pck)))
        .to.be.revertedWithCustomError(verifier, "DcapCertificatePathInvalid")
        .withArgs(keccak256(sgxPck), keccak256(pck));
    });

    it("reverts with DcapCertificatePathInvalid for a chain under another root (wrong root)", async () => {
      const intel = await loadFixture(intelFixture);
      await expect(intel.verifier.verifyCertificate(DEV.ca.der, intel.root))
        .to.be.revertedWithCustomError(intel.verifier, "DcapCertificatePathInvalid")
        .withArgs(keccak256(DEV.ca.der), intel.root);
      await expect(intel.verifier.verifyCertificate(DEV.root.der, keccak256(DEV.root.der)))
        .to.be.revertedWithCustomError(intel.verifier, "DcapCertificateUnknown")
        .withArgs(keccak256(DEV.root.der));
      const dev = await loadFixture(devFixture);
      const intelCa = chainOf(REAL.tdx)[1]!;
      await expect(dev.verifier.verifyCertificate(intelCa, dev.root))
        .to.be.revertedWithCustomError(dev.verifier, "DcapCertificatePathInvalid")
        .withArgs(keccak256(intelCa), dev.root);
    });

    it("reverts with DcapCertificateExpired for a certificate outside its validity period", async () => {
      const { verifier, root } = await loadFixture(devFixture);
      const now = (await time.latest()) * 1000;
      const expired = createDevelopmentPlatform({ issuer: DEV, pckNotAfter: new Date(now - 1000) });
      await verifier.verifyCertificate(DEV.ca.der, root);
      const record = readCertificate(expired.pck.der);
      await expect(verifier.verifyCertificate(expired.pck.der, keccak256(DEV.ca.der)))
        .to.be.revertedWithCustomError(verifier, "DcapCertificateExpired")
        .withArgs(
          record.hash,
          BigInt(Date.parse(record.x509.validFrom) / 1000),
          BigInt(Date.parse(record.x509.validTo) / 1000),
          (t: bigint) => t > 0n,
        );
    });

    it("reverts with DcapPckExtensionMissing for a leaf without Intel's SGX extension", async () => {
      const { verifier, root } = await loadFixture(devFixture);
      const bare = createDevelopmentPlatform({ issuer: DEV, withoutSgxExtension: true });
      await verifier.verifyCertificate(DEV.ca.der, root);
      await expect(verifier.verifyCertificate(bare.pck.der, keccak256(DEV.ca.der)))
        .to.be.revertedWithCustomError(verifier, "DcapPckExtensionMissing")
        .withArgs(keccak256(bare.pck.der));
    });

    it("reverts with DcapCertificateMalformed for an SGX extension field of the wrong size", async () => {
      const { verifier, root } = await loadFixture(devFixture);
      const shortFmspc = createDevelopmentPlatform({ issuer: DEV, fmspc: "0102" });
      await verifier.verifyCertificate(DEV.ca.der, root);
      await expect(verifier.verifyCertificate(shortFmspc.pck.der, keccak256(DEV.ca.der))).to.be.revertedWithCustomError(
        verifier,
        "DcapCertificateMalformed",
      );
    });
  });

  describe("revocation", () => {
    it("reverts with DcapCertificateRevoked for a quote whose PCK or CA governance revoked, and emits CertificateRevoked", async () => {
      const { verifier, tdx } = await loadFixture(intelCached);
      const [pck, ca] = chainOf(REAL.tdx).map(readCertificate) as [
        ReturnType<typeof readCertificate>,
        ReturnType<typeof readCertificate>,
      ];
      const caRecord = await verifier.certificateOf(tdx.ca);
      const serial = pck.serialNumber;
      const id = await verifier.revocationId(caRecord.subjectNameHash, serial);
      expect(id).to.equal(pck.revocationId);
      expect(id).to.equal((await verifier.certificateOf(tdx.pck)).revocationId);
      await expect(verifier.revokeCertificate(caRecord.subjectNameHash, serial))
        .to.emit(verifier, "CertificateRevoked")
        .withArgs(id, caRecord.subjectNameHash, serial);
      await expect(verifier.verifyQuote(REAL.tdx, tdx.pck))
        .to.be.revertedWithCustomError(verifier, "DcapCertificateRevoked")
        .withArgs(tdx.pck, id);
      expect(await verifier.isTrusted(tdx.pck)).to.equal(false);

      const rootRecord = await verifier.certificateOf(await verifier.rootCertificate());
      const caId = await verifier.revocationId(rootRecord.subjectNameHash, ca.serialNumber);
      await verifier.revokeCertificate(rootRecord.subjectNameHash, ca.serialNumber);
      // The SGX platform's PCK is not revoked, but its CA (shared with the TDX platform) now is.
      const sgxPck = keccak256(chainOf(REAL.sgx)[0]!);
      await expect(verifier.verifyQuote(REAL.sgx, sgxPck))
        .to.be.revertedWithCustomError(verifier, "DcapCertificateRevoked")
        .withArgs(tdx.ca, caId);
    });

    it("reverts with DcapCertificateRevoked when a revoked certificate is submitted for caching", async () => {
      const { verifier, root } = await loadFixture(intelFixture);
      const ca = readCertificate(chainOf(REAL.tdx)[1]!);
      const rootRecord = await verifier.certificateOf(root);
      await verifier.revokeCertificate(rootRecord.subjectNameHash, ca.serialNumber);
      await expect(verifier.verifyCertificate(ca.der, root))
        .to.be.revertedWithCustomError(verifier, "DcapCertificateRevoked")
        .withArgs(ca.hash, ca.revocationId);
    });
  });

  describe("policy", () => {
    it("reverts with DcapTcbNotAccepted when an SGX component, the PCE SVN or a TDX TCB byte is below the minimum", async () => {
      const { verifier, tdx } = await loadFixture(intelCached);
      const validUntil = BigInt(await time.latest()) + 86_400n;
      const fmspc = "0xb0c06f000000";
      await verifier.setTcbPolicy(fmspc, {
        minSgxTcbSvns: "0x03000000000000000000000000000000",
        minTdxTcbSvns: ZERO16,
        minPceSvn: 0,
        validUntil,
      });
      await expect(verifier.verifyQuote(REAL.tdx, tdx.pck))
        .to.be.revertedWithCustomError(verifier, "DcapTcbNotAccepted")
        .withArgs(fmspc, 0, 2, 3);
      await verifier.setTcbPolicy(fmspc, { minSgxTcbSvns: ZERO16, minTdxTcbSvns: ZERO16, minPceSvn: 12, validUntil });
      await expect(verifier.verifyQuote(REAL.tdx, tdx.pck))
        .to.be.revertedWithCustomError(verifier, "DcapTcbNotAccepted")
        .withArgs(fmspc, 16, 11, 12);
      await verifier.setTcbPolicy(fmspc, {
        minSgxTcbSvns: ZERO16,
        minTdxTcbSvns: "0x06000000000000000000000000000000",
        minPceSvn: 11,
        validUntil,
      });
      await expect(verifier.verifyQuote(REAL.tdx, tdx.pck))
        .to.be.revertedWithCustomError(verifier, "DcapTcbNotAccepted")
        .withArgs(fmspc, 17, 5, 6);
      await verifier.setTcbPolicy(fmspc, {
        minSgxTcbSvns: "0x02020202030100030000000000000000",
        minTdxTcbSvns: "0x05010200000000000000000000000000",
        minPceSvn: 11,
        validUntil,
      });
      await verifier.verifyQuote(REAL.tdx, tdx.pck);
    });

    it("reverts with DcapTcbPolicyUnavailable when the FMSPC has no policy or it lapsed", async () => {
      const { verifier, tdx } = await loadFixture(intelCached);
      const validUntil = (await verifier.tcbPolicy("0xb0c06f000000")).validUntil;
      await time.increaseTo(validUntil + 1n);
      await expect(verifier.verifyQuote(REAL.tdx, tdx.pck))
        .to.be.revertedWithCustomError(verifier, "DcapTcbPolicyUnavailable")
        .withArgs("0xb0c06f000000", validUntil);
      await verifier.setTcbPolicy("0xb0c06f000000", {
        minSgxTcbSvns: ZERO16,
        minTdxTcbSvns: ZERO16,
        minPceSvn: 0,
        validUntil: 0,
      });
      await expect(verifier.verifyQuote(REAL.tdx, tdx.pck))
        .to.be.revertedWithCustomError(verifier, "DcapTcbPolicyUnavailable")
        .withArgs("0xb0c06f000000", 0);
    });

    it("reverts with DcapQeIdentityNotAccepted for another QE signer or an ISVSVN below the minimum", async () => {
      const { verifier, tdx } = await loadFixture(intelCached);
      await verifier.setQeIdentity(TeeType.Tdx, { ...INTEL_QE[TeeType.Tdx], minIsvSvn: 7 });
      await expect(verifier.verifyQuote(REAL.tdx, tdx.pck))
        .to.be.revertedWithCustomError(verifier, "DcapQeIdentityNotAccepted")
        .withArgs(INTEL_QE[TeeType.Tdx].mrSigner, 2, 6);
      await verifier.setQeIdentity(TeeType.Tdx, INTEL_QE[TeeType.Sgx]);
      await expect(verifier.verifyQuote(REAL.tdx, tdx.pck))
        .to.be.revertedWithCustomError(verifier, "DcapQeIdentityNotAccepted")
        .withArgs(INTEL_QE[TeeType.Tdx].mrSigner, 2, 6);
    });

    it("emits TcbPolicySet and QeIdentitySet, and reverts with DcapParameterOutOfBounds outside the bounds", async () => {
      const { verifier } = await loadFixture(intelFixture);
      const now = BigInt(await time.latest());
      const max = now + 1n + (await verifier.MAX_POLICY_TTL());
      const policy = { minSgxTcbSvns: ZERO16, minTdxTcbSvns: ZERO16, minPceSvn: 3, validUntil: max + 1n };
      await expect(verifier.setTcbPolicy("0x010203040506", policy))
        .to.be.revertedWithCustomError(verifier, "DcapParameterOutOfBounds")
        .withArgs("validUntil", max + 1n, now + 2n, max);
      await expect(
        verifier.setTcbPolicy("0x010203040506", { ...policy, validUntil: now }),
      ).to.be.revertedWithCustomError(verifier, "DcapParameterOutOfBounds");
      await expect(verifier.setTcbPolicy("0x010203040506", { ...policy, validUntil: max }))
        .to.emit(verifier, "TcbPolicySet")
        .withArgs("0x010203040506", [ZERO16, ZERO16, 3, max]);
      const qe = { mrSigner: `0x${"11".repeat(32)}`, isvProdId: 9, minIsvSvn: 1 };
      await expect(verifier.setQeIdentity(TeeType.Sgx, qe))
        .to.emit(verifier, "QeIdentitySet")
        .withArgs(TeeType.Sgx, [qe.mrSigner, 9, 1]);
      await expect(
        verifier.setQeIdentity(TeeType.Sgx, { ...qe, mrSigner: `0x${"00".repeat(32)}` }),
      ).to.be.revertedWithCustomError(verifier, "DcapParameterOutOfBounds");
    });

    it("reverts with AccessControlUnauthorizedAccount when anyone but governance changes the policy or revokes", async () => {
      const { verifier, stranger } = await loadFixture(intelFixture);
      const role = await verifier.DEFAULT_ADMIN_ROLE();
      const policy = { minSgxTcbSvns: ZERO16, minTdxTcbSvns: ZERO16, minPceSvn: 0, validUntil: 0 };
      for (const call of [
        verifier.connect(stranger).setTcbPolicy("0x010203040506", policy),
        verifier.connect(stranger).setQeIdentity(TeeType.Tdx, INTEL_QE[TeeType.Tdx]),
        verifier.connect(stranger).revokeCertificate(`0x${"00".repeat(32)}`, "0x01"),
      ]) {
        await expect(call)
          .to.be.revertedWithCustomError(verifier, "AccessControlUnauthorizedAccount")
          .withArgs(stranger.address, role);
      }
    });
  });

  describe("development quotes", () => {
    for (const [teeType, version] of [
      [TeeType.Tdx, 4],
      [TeeType.Sgx, 4],
      [TeeType.Sgx, 3],
    ] as const) {
      it(`verifies a development ${TeeType[teeType]} v${version} quote against the development root`, async () => {
        const { verifier, pck } = await loadFixture(devCached);
        const measurements = new Uint8Array(teeType === TeeType.Tdx ? 240 : 64).fill(0x5a);
        const quote = createDevelopmentQuote(DEV, { teeType, version, reportData: REPORT_DATA, measurements });
        const v = await verifier.verifyQuote(quote, pck);
        expect(v.measurementHash).to.equal(keccak256(measurements));
        expect(v.reportData).to.equal(hex(REPORT_DATA));
        expect(v.fmspc).to.equal(`0x${DEV.fmspc}`);
      });
    }

    it("reverts with DcapCertificatePathInvalid when a development chain is offered to an Intel-rooted verifier", async () => {
      const { verifier, root } = await loadFixture(intelFixture);
      await expect(verifier.verifyCertificate(DEV.ca.der, root)).to.be.revertedWithCustomError(
        verifier,
        "DcapCertificatePathInvalid",
      );
      const quote = createDevelopmentQuote(DEV, { teeType: TeeType.Tdx, reportData: REPORT_DATA });
      await expect(verifier.verifyQuote(quote, keccak256(DEV.pck.der)))
        .to.be.revertedWithCustomError(verifier, "DcapCertificateUnknown")
        .withArgs(keccak256(DEV.pck.der));
    });

    it("reverts with DcapDebugMode for a debug TD or enclave", async () => {
      const { verifier, pck } = await loadFixture(devCached);
      for (const teeType of [TeeType.Tdx, TeeType.Sgx]) {
        const quote = createDevelopmentQuote(DEV, { teeType, reportData: REPORT_DATA, debug: true });
        await expect(verifier.verifyQuote(quote, pck)).to.be.revertedWithCustomError(verifier, "DcapDebugMode");
      }
    });

    it("reverts with DcapCertificateNotPck when the named certificate is a CA", async () => {
      const { verifier, ca } = await loadFixture(devCached);
      const quote = createDevelopmentQuote(DEV, { teeType: TeeType.Tdx, reportData: REPORT_DATA });
      await expect(verifier.verifyQuote(quote, ca))
        .to.be.revertedWithCustomError(verifier, "DcapCertificateNotPck")
        .withArgs(ca);
    });

    it("reverts with DcapQeReportSignatureInvalid when another platform's PCK is named", async () => {
      const { verifier, ca } = await loadFixture(devCached);
      const other = createDevelopmentPlatform({ issuer: DEV });
      await verifier.verifyCertificate(other.pck.der, ca);
      const quote = createDevelopmentQuote(DEV, { teeType: TeeType.Tdx, reportData: REPORT_DATA });
      await expect(verifier.verifyQuote(quote, keccak256(other.pck.der)))
        .to.be.revertedWithCustomError(verifier, "DcapQeReportSignatureInvalid")
        .withArgs(keccak256(other.pck.der));
    });
  });

  describe("registerQuote", () => {
    it("records the quote and emits QuoteRegistered", async () => {
      const { verifier, tdx } = await loadFixture(intelCached);
      const measurementHash = keccak256(Buffer.concat([REAL.tdx.subarray(184, 232), REAL.tdx.subarray(376, 568)]));
      await expect(verifier.registerQuote(REAL.tdx, tdx.pck))
        .to.emit(verifier, "QuoteRegistered")
        .withArgs(keccak256(REAL.tdx), tdx.pck, measurementHash, TeeType.Tdx, hex(REAL.tdx.subarray(568, 632)));
      expect(await verifier.registeredAt(keccak256(REAL.tdx))).to.equal(BigInt(await time.latest()));
    });

    it("skips the chain checks for a platform whose certificates are cached: warm under 300,000 gas, cold several transactions", async () => {
      const { verifier, root } = await loadFixture(intelFixture);
      const [pck, ca] = chainOf(REAL.tdx) as [Uint8Array, Uint8Array];
      const gas = async (tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>) =>
        (await (await tx).wait())!.gasUsed;
      const cold = [
        await gas(verifier.verifyCertificate(ca, root)),
        await gas(verifier.verifyCertificate(pck, keccak256(ca))),
        await gas(verifier.registerQuote(REAL.tdx, keccak256(pck))),
      ];
      const warm = await gas(verifier.registerQuote(REAL.tdxSamePlatform, keccak256(pck)));
      const coldTotal = cold.reduce((a, b) => a + b, 0n);
      console.log(`      cold: ${cold.join(" + ")} = ${coldTotal} gas; warm: ${warm} gas`);
      expect(warm).to.be.lessThan(300_000n);
      expect(coldTotal).to.be.lessThan(1_500_000n);
      expect(warm * 3n).to.be.lessThan(coldTotal);
    });
  });
});

import { expect } from "chai";
import { keccak256 } from "ethers";
import {
  createDevelopmentQuote,
  parseQuote,
  readCertificate,
  TeeQuoteError,
  TeeType,
  verifyQuote,
  type VerifyQuoteOptions,
} from "../../src/tee";
import { DEV, DEV_QE, fixtureBytes, flip, INTEL_QE, INTEL_ROOT, REAL } from "./fixtures";

const INTEL: VerifyQuoteOptions = { roots: [INTEL_ROOT], qeIdentities: INTEL_QE };
const DEVELOPMENT: VerifyQuoteOptions = { roots: [DEV.root.der], qeIdentities: DEV_QE };

function expectCode(run: () => unknown, code: string): void {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(TeeQuoteError);
    expect((error as TeeQuoteError).code).to.equal(code);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe("src/tee", () => {
  describe("verifyQuote (off-chain)", () => {
    it("verifies the real TDX and SGX quotes with Intel's root and reads their platform", () => {
      const tdx = verifyQuote(REAL.tdx, INTEL);
      expect(tdx.teeType).to.equal(TeeType.Tdx);
      expect(tdx.fmspc).to.equal("b0c06f000000");
      expect(tdx.pceSvn).to.equal(11);
      expect(tdx.measurementHash).to.equal(
        keccak256(Buffer.concat([REAL.tdx.subarray(184, 232), REAL.tdx.subarray(376, 568)])),
      );
      expect(tdx.pckCertificate).to.equal(verifyQuote(REAL.tdxSamePlatform, INTEL).pckCertificate);
      const sgx = verifyQuote(REAL.sgx, INTEL);
      expect(sgx.version).to.equal(3);
      expect(sgx.fmspc).to.equal("00606a000000");
    });

    it("throws DcapQuoteLengthMismatch for a quote with trailing bytes", () => {
      expectCode(() => parseQuote(fixtureBytes("tdx-v4-phala-tappd.hex")), "DcapQuoteLengthMismatch");
    });

    it("throws the on-chain error names for a changed body, signature, attestation key, QE report and auth data", () => {
      const o = parseQuote(REAL.tdx).offsets;
      expectCode(() => verifyQuote(flip(REAL.tdx, 200), INTEL), "DcapQuoteSignatureInvalid");
      expectCode(() => verifyQuote(flip(REAL.tdx, o.signature + 1), INTEL), "DcapQuoteSignatureInvalid");
      expectCode(() => verifyQuote(flip(REAL.tdx, o.attestationKey + 1), INTEL), "DcapQeReportDataMismatch");
      expectCode(() => verifyQuote(flip(REAL.tdx, o.qeReport + 128), INTEL), "DcapQeReportSignatureInvalid");
      expectCode(() => verifyQuote(flip(REAL.tdx, o.qeAuthData), INTEL), "DcapQeReportDataMismatch");
      expectCode(() => verifyQuote(REAL.tdx.subarray(0, 700), INTEL), "DcapQuoteTruncated");
    });

    it("throws DcapCertificateExpired after the real PCK certificate's notAfter", () => {
      expectCode(
        () => verifyQuote(REAL.tdx, { ...INTEL, now: new Date("2031-08-03T00:00:00Z") }),
        "DcapCertificateExpired",
      );
    });

    it("verifies development quotes only under the development root", () => {
      const quote = createDevelopmentQuote(DEV, { teeType: TeeType.Tdx, reportData: new Uint8Array(64).fill(1) });
      expect(verifyQuote(quote, DEVELOPMENT).fmspc).to.equal(DEV.fmspc);
      expectCode(() => verifyQuote(quote, INTEL), "DcapCertificateSignatureInvalid");
      expectCode(() => verifyQuote(REAL.tdx, DEVELOPMENT), "DcapCertificateSignatureInvalid");
    });

    it("throws DcapTcbNotAccepted and DcapTcbPolicyUnavailable against TCB minimums", () => {
      const zero = new Uint8Array(16);
      const high = Uint8Array.from(zero).fill(9, 0, 1);
      expectCode(
        () =>
          verifyQuote(REAL.tdx, {
            ...INTEL,
            tcbMinimums: { b0c06f000000: { minSgxTcbSvns: high, minTdxTcbSvns: zero, minPceSvn: 0 } },
          }),
        "DcapTcbNotAccepted",
      );
      expectCode(() => verifyQuote(REAL.tdx, { ...INTEL, tcbMinimums: {} }), "DcapTcbPolicyUnavailable");
    });
  });

  describe("readCertificate", () => {
    it("reads the SGX extension, serial number and revocation id of a real PCK certificate", () => {
      const pck = readCertificate(verifyQuote(REAL.tdx, INTEL).chain[0]!.der);
      expect(pck.isCa).to.equal(false);
      expect(pck.pck).to.deep.include({ fmspc: "b0c06f000000", pceId: "0000", pceSvn: 11 });
      expect(Buffer.from(pck.pck!.sgxTcbSvns).toString("hex")).to.equal("02020202030100030000000000000000");
      expect(pck.serialNumber).to.equal(
        `0x${pck.x509.serialNumber.toLowerCase().padStart(pck.serialNumber.length - 2, "0")}`,
      );
    });
  });
});

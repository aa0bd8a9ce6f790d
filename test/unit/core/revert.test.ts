import { expect } from "chai";
import { DcapVerifier__factory, DualInferenceVerifier__factory, JobEscrow__factory } from "../../../typechain-types";
import { decodeRevert, formatDecoded } from "../../../src/core/revert";

describe("core revert decoder", () => {
  it("decodes errors of every verifier the system deploys, including DCAP and dual mode", () => {
    const dcap = DcapVerifier__factory.createInterface().encodeErrorResult("DcapQuoteTruncated", [10n, 48n]);
    const dual = DualInferenceVerifier__factory.createInterface().encodeErrorResult(
      "DualInferenceVerifierMalformedProof",
      [3n],
    );
    const escrow = JobEscrow__factory.createInterface().encodeErrorResult("JobEscrowInvalidRedundancy", [2, 7]);
    expect(formatDecoded(decodeRevert(dcap)!)).to.equal("DcapQuoteTruncated(length=10, needed=48)");
    expect(formatDecoded(decodeRevert(dual)!)).to.equal("DualInferenceVerifierMalformedProof(length=3)");
    expect(formatDecoded(decodeRevert(escrow)!)).to.equal("JobEscrowInvalidRedundancy(redundancy=2, max=7)");
  });

  it("answers undefined for data no deployed contract's error matches", () => {
    expect(decodeRevert("0xdeadbeef")).to.equal(undefined);
    expect(decodeRevert("0x")).to.equal(undefined);
  });
});

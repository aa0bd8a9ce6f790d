/** The issuance exchange's JSON: what the client sends and the issuer answers, and the field a bad one names. */
import { expect } from "chai";
import {
  encodeIssuanceMessage,
  encodeIssuanceResponse,
  parseIssuanceMessage,
  parseIssuanceResponse,
  PrivacyPassInputError,
  toHex,
} from "../../src/privacypass";

describe("issuance messages", function () {
  const requests = [Uint8Array.of(0, 2, 9, 255), Uint8Array.of(1, 2, 3)];

  it("round-trips a request and a response through JSON", function () {
    const message = { purchaseId: 12345678901234567890n, requests, signature: "0xabcd" };
    const parsed = parseIssuanceMessage(JSON.parse(encodeIssuanceMessage(message)));
    expect(parsed.purchaseId).to.equal(message.purchaseId);
    expect(parsed.requests.map(toHex)).to.deep.equal(requests.map(toHex));
    expect(parsed.signature).to.equal("0xabcd");
    expect(JSON.parse(encodeIssuanceMessage(message)).purchaseId).to.equal("12345678901234567890");
    expect(parseIssuanceResponse(JSON.parse(encodeIssuanceResponse(requests))).map(toHex)).to.deep.equal(
      requests.map(toHex),
    );
  });

  it("names the field that is wrong", function () {
    const good = JSON.parse(encodeIssuanceMessage({ purchaseId: 1n, requests, signature: "0x" })) as Record<
      string,
      unknown
    >;
    for (const [patch, field] of [
      [{ purchaseId: 1 }, "purchaseId"],
      [{ purchaseId: "0" }, "purchaseId"],
      [{ purchaseId: "-3" }, "purchaseId"],
      [{ requests: "AAI" }, "requests"],
      [{ requests: ["AA+/"] }, "requests"],
      [{ signature: 5 }, "signature"],
    ] as const) {
      expect(() => parseIssuanceMessage({ ...good, ...patch }))
        .to.throw(PrivacyPassInputError)
        .with.property("field", field);
    }
    expect(() => parseIssuanceMessage(null))
      .to.throw(PrivacyPassInputError)
      .with.property("field", "purchaseId");
    expect(() => parseIssuanceResponse({ responses: [7] }))
      .to.throw(PrivacyPassInputError)
      .with.property("field", "responses");
  });
});

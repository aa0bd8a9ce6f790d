/** The buyer's authorisation of an issuance request: who signed it, over exactly which requests and purchase. */
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { AbiCoder, concat, keccak256, Wallet } from "ethers";
import {
  ISSUANCE_DOMAIN,
  issuanceAuthorization,
  issuanceDigest,
  type IssuanceRequest,
  PrivacyPassInputError,
  recoverIssuanceSigner,
} from "../../src/privacypass";

describe("issuance authorization", function () {
  const buyer = Wallet.createRandom();
  const escrow = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  const requests = [randomBytes(259), randomBytes(259)].map((b) => new Uint8Array(b));
  const request: IssuanceRequest = { chainId: 31337n, escrow, purchaseId: 7n, requests };

  it("is keccak256(abi.encode(domain, chainId, escrow, purchaseId, keccak256(concat(requests))))", function () {
    const expected = keccak256(
      AbiCoder.defaultAbiCoder().encode(
        ["string", "uint256", "address", "uint256", "bytes32"],
        ["vin privacy pass issuance", 31337n, escrow, 7n, keccak256(concat(requests))],
      ),
    );
    expect(ISSUANCE_DOMAIN).to.equal("vin privacy pass issuance");
    expect(issuanceDigest(request)).to.equal(expected);
  });

  it("recovers the buyer from its personal_sign signature", async function () {
    const signature = await issuanceAuthorization(buyer, request);
    expect(recoverIssuanceSigner(request, signature)).to.equal(buyer.address);
  });

  it("recovers someone else for other requests, another purchase, escrow or chain", async function () {
    const signature = await issuanceAuthorization(buyer, request);
    const variants: IssuanceRequest[] = [
      { ...request, requests: [requests[1]!, requests[0]!] },
      { ...request, requests: requests.slice(0, 1) },
      { ...request, purchaseId: 8n },
      { ...request, escrow: "0x0000000000000000000000000000000000000001" },
      { ...request, chainId: 1n },
    ];
    for (const variant of variants) expect(recoverIssuanceSigner(variant, signature)).not.to.equal(buyer.address);
  });

  it("recovers another address for someone else's signature", async function () {
    const stranger = Wallet.createRandom();
    expect(recoverIssuanceSigner(request, await issuanceAuthorization(stranger, request))).to.equal(stranger.address);
  });

  it("names the field of a malformed signature, escrow or empty request list", function () {
    expect(() => recoverIssuanceSigner(request, "0x1234"))
      .to.throw(PrivacyPassInputError)
      .with.property("field", "signature");
    expect(() => issuanceDigest({ ...request, escrow: "0x12" }))
      .to.throw(PrivacyPassInputError)
      .with.property("field", "escrow");
    expect(() => issuanceDigest({ ...request, requests: [] }))
      .to.throw(PrivacyPassInputError)
      .with.property("field", "requests");
  });
});

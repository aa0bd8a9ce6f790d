/**
 * Interoperability with an independent implementation, Cloudflare's @cloudflare/privacypass-ts (WebCrypto and
 * sjcl, written apart from this library): its client's requests are signed by our issuer and its tokens pass our
 * redeemer; our client's requests are signed by its issuer and our tokens pass its origin. Its issuer signs in
 * pure JavaScript (about a quarter second a token), so the batches are small.
 */
import { webcrypto } from "node:crypto";
import { expect } from "chai";
import { importEsm } from "../../src/core/esm";
import {
  encodeToken,
  exportIssuerPrivateKey,
  generateIssuerKey,
  issueTokens,
  issuerName,
  type IssuerKey,
  prepareTokenRequests,
  tokenChallenge,
  encodeTokenChallenge,
  toHex,
  verifyToken,
} from "../../src/privacypass";

type PrivacyPass = typeof import("@cloudflare/privacypass-ts");
/** Its WebCrypto key type (the DOM's CryptoKey, which this code base's lib settings do not declare). */
type TheirKey = Parameters<InstanceType<PrivacyPass["publicVerif"]["Origin"]>["verify"]>[1];

const ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const RSA_PSS = { name: "RSA-PSS", hash: "SHA-384" };

describe("privacy pass interoperability with @cloudflare/privacypass-ts", function () {
  let pp: PrivacyPass;
  let issuer: IssuerKey;
  let keys: { privateKey: webcrypto.CryptoKey; publicKey: webcrypto.CryptoKey };

  before(async function () {
    pp = await importEsm<PrivacyPass>("@cloudflare/privacypass-ts");
    issuer = await generateIssuerKey();
    const pem = exportIssuerPrivateKey(issuer);
    const pkcs8 = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const privateKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, RSA_PSS, true, ["sign"]);
    const jwk = await webcrypto.subtle.exportKey("jwk", privateKey);
    const publicKey = await webcrypto.subtle.importKey("jwk", { kty: "RSA", n: jwk.n, e: jwk.e }, RSA_PSS, true, [
      "verify",
    ]);
    keys = { privateKey, publicKey };
  });

  it("encodes the issuer public key as it does (the same token_key_id)", async function () {
    const theirs = await pp.publicVerif.getPublicKeyBytes(keys.publicKey as TheirKey);
    expect(toHex(theirs)).to.equal(toHex(issuer.publicKey));
  });

  it("signs its client's requests, and our redeemer accepts its tokens", async function () {
    const name = issuerName({ chainId: 31337n, escrow: ESCROW, keyId: issuer.keyId });
    const theirChallenge = new pp.TokenChallenge(pp.TOKEN_TYPES.BLIND_RSA.value, name, new Uint8Array(0), []);
    const ourChallenge = tokenChallenge({ issuerName: name });
    expect(toHex(theirChallenge.serialize())).to.equal(toHex(encodeTokenChallenge(ourChallenge)));

    for (let i = 0; i < 3; i++) {
      const client = new pp.publicVerif.Client(pp.publicVerif.BlindRSAMode.PSS);
      const request = await client.createTokenRequest(theirChallenge, issuer.publicKey);
      const [response] = issueTokens(issuer, [request.serialize()]);
      const token = await client.finalize(new pp.publicVerif.TokenResponse(response!));
      verifyToken(issuer.publicKey, ourChallenge, token.serialize());
    }
  });

  it("has its issuer sign our client's requests, and its origin accepts our tokens", async function () {
    const name = issuerName({ chainId: 31337n, escrow: ESCROW, keyId: issuer.keyId });
    const challenge = tokenChallenge({ issuerName: name, originInfo: ["gateway.example"] });
    const theirIssuer = new pp.publicVerif.Issuer(
      pp.publicVerif.BlindRSAMode.PSS,
      name,
      keys.privateKey as TheirKey,
      keys.publicKey as TheirKey,
    );
    const origin = new pp.publicVerif.Origin(pp.publicVerif.BlindRSAMode.PSS, ["gateway.example"]);

    const prepared = prepareTokenRequests(issuer.publicKey, challenge, 2);
    const responses: Uint8Array[] = [];
    for (const bytes of prepared.requests) {
      const request = pp.publicVerif.TokenRequest.deserialize(pp.TOKEN_TYPES.BLIND_RSA, bytes);
      responses.push((await theirIssuer.issue(request)).serialize());
    }
    for (const token of prepared.finalize(responses)) {
      const theirs = pp.Token.deserialize(pp.TOKEN_TYPES.BLIND_RSA, encodeToken(token));
      expect(await origin.verify(theirs, keys.publicKey as TheirKey)).to.equal(true);
      verifyToken(issuer.publicKey, challenge, token);
      // Its origin checks the signature only: a token with a bit flipped fails there too.
      const flipped = encodeToken(token);
      flipped[300]! ^= 1;
      expect(
        await origin.verify(pp.Token.deserialize(pp.TOKEN_TYPES.BLIND_RSA, flipped), keys.publicKey as TheirKey),
      ).to.equal(false);
    }
  });
});

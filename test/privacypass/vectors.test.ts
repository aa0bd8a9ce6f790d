/**
 * Published test vectors, byte for byte: RFC 9474 Appendix A.3 (RSABSSA-SHA384-PSS-Deterministic, every
 * intermediate value) and RFC 9578 Appendix A.2 (token type 0x0002, the five vectors: issuer key encoding, token
 * request, token response, token). The salt, the blind and the nonce come in through the test-only seams.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { expect } from "chai";
import {
  blind,
  blindSign,
  decodeToken,
  decodeTokenChallenge,
  decodeTokenRequest,
  emsaPssEncode,
  encodeToken,
  encodeTokenChallenge,
  encodeTokenRequest,
  finalize,
  inverseMod,
  issueTokens,
  issuerKeyFrom,
  prepareTokenRequest,
  rsaModulus,
  toHex,
  tokenKeyId,
  verifyPss,
  verifyToken,
} from "../../src/privacypass";
import { RFC9474_PSS_DETERMINISTIC as A3, RFC9578_ISSUER, RFC9578_VECTORS } from "./rfc-vectors";

const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, "hex"));
const hex = (value: Uint8Array) => toHex(value).slice(2);
const b64 = (value: bigint) =>
  Buffer.from(value.toString(16).padStart(2 * Math.ceil(value.toString(16).length / 2), "0"), "hex").toString(
    "base64url",
  );

/** The RFC 9474 key as a node:crypto key pair, from its p, q, d, e. */
function rfc9474Key(): { privateKey: KeyObject; publicKey: KeyObject } {
  const [p, q, d, e] = [A3.p, A3.q, A3.d, A3.e].map((value) => BigInt(`0x${value}`)) as [
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  const jwk = {
    kty: "RSA",
    n: b64(p * q),
    e: b64(e),
    d: b64(d),
    p: b64(p),
    q: b64(q),
    dp: b64(d % (p - 1n)),
    dq: b64(d % (q - 1n)),
    qi: b64(inverseMod(q, p)!),
  };
  const privateKey = createPrivateKey({ key: jwk, format: "jwk" });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

describe("privacy pass test vectors", function () {
  describe("RFC 9474 Appendix A.3: RSABSSA-SHA384-PSS-Deterministic", function () {
    const { privateKey, publicKey } = rfc9474Key();

    it("has the vector's modulus (n = p·q, 4096 bits)", function () {
      const { n, bits } = rsaModulus(publicKey);
      expect(n.toString(16)).to.equal(A3.n);
      expect(bits).to.equal(4096);
    });

    it("encodes the message with EMSA-PSS to encoded_msg", function () {
      const encoded = emsaPssEncode(bytes(A3.msg), rsaModulus(publicKey).bits - 1, bytes(A3.salt));
      expect(hex(encoded)).to.equal(A3.encodedMsg);
    });

    it("blinds to blinded_msg with the vector's inv", function () {
      const blinding = blind(publicKey, bytes(A3.msg), { salt: bytes(A3.salt), inv: bytes(A3.inv) });
      expect(hex(blinding.blindedMsg)).to.equal(A3.blindedMsg);
      expect(hex(blinding.inv)).to.equal(A3.inv);
    });

    it("signs blinded_msg to blind_sig", function () {
      expect(hex(blindSign(privateKey, bytes(A3.blindedMsg)))).to.equal(A3.blindSig);
    });

    it("finalizes blind_sig to sig, an RSASSA-PSS signature of msg", function () {
      const signature = finalize(publicKey, bytes(A3.msg), bytes(A3.blindSig), bytes(A3.inv));
      expect(hex(signature)).to.equal(A3.sig);
      expect(verifyPss(publicKey, bytes(A3.msg), signature)).to.equal(true);
      expect(verifyPss(publicKey, bytes(A3.msg.replace(/^8f/, "8e")), signature)).to.equal(false);
    });
  });

  describe("RFC 9578 Appendix A.2: Issuance Protocol 2 - Blind RSA, 2048", function () {
    const issuer = issuerKeyFrom(Buffer.from(RFC9578_ISSUER.skS, "hex").toString("utf8"));

    it("encodes the issuer's public key as pkS (RSASSA-PSS SubjectPublicKeyInfo) and hashes it to the key id", function () {
      expect(hex(issuer.publicKey)).to.equal(RFC9578_ISSUER.pkS);
      expect(issuer.keyId).to.equal(tokenKeyId(bytes(RFC9578_ISSUER.pkS)));
      // The token_key_id inside every vector's token.
      for (const vector of RFC9578_VECTORS)
        expect(toHex(decodeToken(bytes(vector.token)).tokenKeyId)).to.equal(issuer.keyId);
    });

    for (const [index, vector] of RFC9578_VECTORS.entries()) {
      describe(`test vector ${index + 1}`, function () {
        it("decodes and re-encodes token_challenge", function () {
          expect(hex(encodeTokenChallenge(decodeTokenChallenge(bytes(vector.tokenChallenge))))).to.equal(
            vector.tokenChallenge,
          );
        });

        it("makes token_request, token_response and token from the nonce, blind and salt", function () {
          const prepared = prepareTokenRequest(issuer.publicKey, bytes(vector.tokenChallenge), {
            nonce: bytes(vector.nonce),
            r: bytes(vector.blind),
            salt: bytes(vector.salt),
          });
          expect(hex(prepared.request)).to.equal(vector.tokenRequest);
          expect(hex(encodeTokenRequest(decodeTokenRequest(prepared.request)))).to.equal(vector.tokenRequest);

          const [response] = issueTokens(issuer, [bytes(vector.tokenRequest)]);
          expect(hex(response!)).to.equal(vector.tokenResponse);

          const token = prepared.finalize(bytes(vector.tokenResponse));
          expect(hex(encodeToken(token))).to.equal(vector.token);
          expect(hex(encodeToken(decodeToken(bytes(vector.token))))).to.equal(vector.token);
        });

        it("verifies the vector's token against its challenge", function () {
          expect(() => verifyToken(issuer.publicKey, bytes(vector.tokenChallenge), bytes(vector.token))).not.to.throw();
          const other = RFC9578_VECTORS[(index + 1) % RFC9578_VECTORS.length]!.tokenChallenge;
          expect(() => verifyToken(issuer.publicKey, bytes(other), bytes(vector.token))).to.throw(/another challenge/);
        });
      });
    }
  });
});

/**
 * The issuance protocol end to end with this library alone: a batch round trip, what the redeemer refuses and
 * why, malformed messages (each error names its field), and the unlinkability the blinding gives.
 */
import { expect } from "chai";
import { InputError, StateError, VerificationError } from "../../src/core/errors";
import {
  decodeIssuerPublicKey,
  decodeToken,
  decodeTokenChallenge,
  decodeTokenRequest,
  encodeToken,
  encodeTokenChallenge,
  exportIssuerPrivateKey,
  generateIssuerKey,
  issueTokens,
  issuerKeyFrom,
  issuerName,
  type IssuerKey,
  parseIssuerName,
  prepareTokenRequests,
  PrivacyPassInputError,
  tokenChallenge,
  type TokenChallenge,
  tokenNonce,
  TokenVerificationError,
  toHex,
  verifyToken,
  TOKEN_LENGTH,
  TOKEN_REQUEST_LENGTH,
} from "../../src/privacypass";

const ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

/** The error `fn` throws (fails the test when it throws none). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

function expectField(fn: () => unknown, field: string): PrivacyPassInputError {
  const error = thrown(fn);
  expect(error).to.be.instanceOf(PrivacyPassInputError);
  expect(error).to.be.instanceOf(InputError);
  expect((error as PrivacyPassInputError).field).to.equal(field);
  expect(error.message.startsWith(`${field}: `)).to.equal(true, error.message);
  return error as PrivacyPassInputError;
}

function expectRejected(fn: () => unknown, reason: string): void {
  const error = thrown(fn);
  expect(error).to.be.instanceOf(TokenVerificationError);
  expect(error).to.be.instanceOf(VerificationError);
  expect((error as TokenVerificationError).reason).to.equal(reason);
}

function flip(bytes: Uint8Array, index: number): Uint8Array {
  const copy = bytes.slice();
  copy[index]! ^= 0x01;
  return copy;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle));
}

describe("privacy pass tokens", function () {
  let issuer: IssuerKey;
  let other: IssuerKey;
  let challenge: TokenChallenge;
  let tokens: Uint8Array[];

  before(async function () {
    [issuer, other] = await Promise.all([generateIssuerKey(), generateIssuerKey()]);
    challenge = tokenChallenge({ issuerName: issuerName({ chainId: 31337n, escrow: ESCROW, keyId: issuer.keyId }) });
    const prepared = prepareTokenRequests(issuer.publicKey, challenge, 20);
    tokens = prepared.finalize(issueTokens(issuer, prepared.requests)).map(encodeToken);
  });

  describe("issuer key", function () {
    it("is 2048-bit RSA whose key id is the SHA-256 of its public key, and reloads from its PEM", function () {
      expect(issuer.publicKey.length).to.equal(342);
      expect(issuer.keyId).to.match(/^0x[0-9a-f]{64}$/);
      const reloaded = issuerKeyFrom(exportIssuerPrivateKey(issuer));
      expect(toHex(reloaded.publicKey)).to.equal(toHex(issuer.publicKey));
      expect(reloaded.keyId).to.equal(issuer.keyId);
      expect(issuer.keyId).not.to.equal(other.keyId);
    });

    it("refuses a public key that is not an RSASSA-PSS SPKI of token type 0x0002", function () {
      expectField(() => decodeIssuerPublicKey(issuer.publicKey.subarray(0, 300)), "publicKey");
      expectField(() => decodeIssuerPublicKey(flip(issuer.publicKey, 10)), "publicKey");
      const trailing = new Uint8Array([...issuer.publicKey, 0]);
      expectField(() => decodeIssuerPublicKey(trailing), "publicKey");
      expectField(() => issuerKeyFrom("not a key"), "privateKey");
    });
  });

  describe("challenge", function () {
    it("names the issuer vin:<chainId>:<escrow>:<keyId> and round-trips through its encoding", function () {
      expect(challenge.issuerName).to.equal(`vin:31337:${ESCROW}:${issuer.keyId}`);
      expect(parseIssuerName(challenge.issuerName)).to.deep.equal({
        chainId: 31337n,
        escrow: ESCROW,
        keyId: issuer.keyId,
      });
      expect(challenge.redemptionContext.length).to.equal(0);
      const withOrigins = tokenChallenge({ issuerName: "issuer.example", originInfo: ["a.example", "b.example"] });
      expect(decodeTokenChallenge(encodeTokenChallenge(withOrigins))).to.deep.equal(withOrigins);
    });

    it("refuses a redemption context that is neither empty nor 32 bytes, an empty issuer name, a bad name", function () {
      expectField(
        () => tokenChallenge({ issuerName: "x", redemptionContext: new Uint8Array(16) }),
        "challenge.redemption_context",
      );
      expectField(() => tokenChallenge({ issuerName: "" }), "challenge.issuer_name");
      expectField(() => tokenChallenge({ issuerName: "x", originInfo: ["a,b"] }), "challenge.origin_info");
      expectField(() => parseIssuerName(`vin:1:${ESCROW.toLowerCase()}:${issuer.keyId}`), "challenge.issuer_name");
      expectField(() => decodeTokenChallenge(encodeTokenChallenge(challenge).subarray(0, 10)), "challenge.issuer_name");
    });
  });

  describe("round trip", function () {
    it("issues 20 tokens that all verify, each with its own nonce", function () {
      expect(tokens).to.have.length(20);
      for (const token of tokens) {
        expect(token.length).to.equal(TOKEN_LENGTH);
        verifyToken(issuer.publicKey, challenge, token);
      }
      expect(new Set(tokens.map((token) => tokenNonce(token))).size).to.equal(20);
      expect(tokenNonce(tokens[0]!)).to.equal(toHex(decodeToken(tokens[0]!).nonce));
      expect(tokenNonce(tokens[0]!)).to.match(/^0x[0-9a-f]{64}$/);
    });

    it("finalizes once only, and only with as many responses as requests", function () {
      const prepared = prepareTokenRequests(issuer.publicKey, challenge, 2);
      const responses = issueTokens(issuer, prepared.requests);
      expectField(() => prepared.finalize(responses.slice(0, 1)), "responses");
      prepared.finalize(responses);
      expect(thrown(() => prepared.finalize(responses))).to.be.instanceOf(StateError);
    });

    it("refuses a response that does not sign its request (answers swapped), naming it", function () {
      const prepared = prepareTokenRequests(issuer.publicKey, challenge, 2);
      const [first, second] = issueTokens(issuer, prepared.requests);
      const error = thrown(() => prepared.finalize([first!, first!]));
      expect(error).to.be.instanceOf(VerificationError);
      expect(error.message).to.match(/^responses\[1\]: /);
      expect(second).not.to.deep.equal(first);
    });
  });

  describe("verification", function () {
    it("refuses a token for another issuer key (key-id)", function () {
      expectRejected(() => verifyToken(other.publicKey, challenge, tokens[0]!), "key-id");
    });

    it("refuses a token of a valid key id whose signature is another key's (signature)", function () {
      const otherChallenge = tokenChallenge({ issuerName: challenge.issuerName });
      const prepared = prepareTokenRequests(other.publicKey, otherChallenge, 1);
      const [token] = prepared.finalize(issueTokens(other, prepared.requests));
      const relabelled = { ...token!, tokenKeyId: decodeToken(tokens[0]!).tokenKeyId };
      expectRejected(() => verifyToken(issuer.publicKey, challenge, relabelled), "signature");
    });

    it("refuses a token for another challenge (challenge)", function () {
      const elsewhere = tokenChallenge({ issuerName: challenge.issuerName, originInfo: ["gateway.example"] });
      expectRejected(() => verifyToken(issuer.publicKey, elsewhere, tokens[0]!), "challenge");
      const context = tokenChallenge({ issuerName: challenge.issuerName, redemptionContext: new Uint8Array(32) });
      expectRejected(() => verifyToken(issuer.publicKey, context, tokens[0]!), "challenge");
    });

    it("refuses a token with any one bit flipped in its nonce, digest, key id or authenticator", function () {
      const token = tokens[1]!;
      expectRejected(() => verifyToken(issuer.publicKey, challenge, flip(token, 2)), "signature"); // nonce
      expectRejected(() => verifyToken(issuer.publicKey, challenge, flip(token, 40)), "challenge"); // challenge_digest
      expectRejected(() => verifyToken(issuer.publicKey, challenge, flip(token, 70)), "key-id"); // token_key_id
      expectRejected(() => verifyToken(issuer.publicKey, challenge, flip(token, 200)), "signature"); // authenticator
      expectRejected(() => verifyToken(issuer.publicKey, challenge, flip(token, TOKEN_LENGTH - 1)), "signature");
    });
  });

  describe("malformed messages", function () {
    it("names the field of a malformed token", function () {
      const token = tokens[2]!;
      expectField(() => decodeToken(token.subarray(0, 1)), "token.token_type");
      expectField(() => decodeToken(new Uint8Array([0, 1, ...token.subarray(2)])), "token.token_type");
      expectField(() => decodeToken(token.subarray(0, 20)), "token.nonce");
      expectField(() => decodeToken(token.subarray(0, 50)), "token.challenge_digest");
      expectField(() => decodeToken(token.subarray(0, 90)), "token.token_key_id");
      expectField(() => decodeToken(token.subarray(0, TOKEN_LENGTH - 1)), "token.authenticator");
      expectField(() => decodeToken(new Uint8Array([...token, 0])), "token");
      expectField(() => verifyToken(issuer.publicKey, challenge, token.subarray(0, 100)), "token.authenticator");
    });

    it("names the request and the field of a malformed issuance request, refusing the whole batch", function () {
      const prepared = prepareTokenRequests(issuer.publicKey, challenge, 3);
      const [a, b, c] = prepared.requests as [Uint8Array, Uint8Array, Uint8Array];
      expectField(() => issueTokens(issuer, [a, b.subarray(0, 100), c]), "requests[1].blinded_msg");
      expectField(
        () => issueTokens(issuer, [a, b, new Uint8Array([0, 1, ...c.subarray(2)])]),
        "requests[2].token_type",
      );
      expectField(() => issueTokens(issuer, [flip(a, 2), b]), "requests[0].truncated_token_key_id");
      expectField(() => issueTokens(issuer, [a, new Uint8Array([...b, 7])]), "requests[1]");
      const tooLarge = new Uint8Array(TOKEN_REQUEST_LENGTH).fill(0xff);
      tooLarge.set([0, 2, parseInt(issuer.keyId.slice(-2), 16)]);
      expectField(() => issueTokens(issuer, [a, tooLarge]), "requests[1].blinded_msg");
    });

    it("names the field of a malformed response and a bad count", function () {
      const prepared = prepareTokenRequests(issuer.publicKey, challenge, 1);
      expectField(() => prepared.finalize([new Uint8Array(255)]), "responses[0].blind_sig");
      expectField(() => prepareTokenRequests(issuer.publicKey, challenge, 0), "count");
      expectField(() => prepareTokenRequests(issuer.publicKey, challenge, 1.5), "count");
      expectField(() => prepareTokenRequests(issuer.publicKey.subarray(1), challenge, 1), "publicKey");
    });
  });

  describe("unlinkability", function () {
    it("gives the issuer nothing of the tokens: no blinded message equals or appears in a token, nor a token's parts in a request", function () {
      const prepared = prepareTokenRequests(issuer.publicKey, challenge, 10);
      const responses = issueTokens(issuer, prepared.requests);
      const minted = prepared.finalize(responses).map(encodeToken);
      const seen = [...prepared.requests, ...responses]; // everything the issuer receives or sends
      for (const token of minted) {
        const { nonce, authenticator } = decodeToken(token);
        for (const message of seen) {
          const blinded = message.length === TOKEN_REQUEST_LENGTH ? decodeTokenRequest(message).blindedMsg : message;
          expect(contains(token, blinded)).to.equal(false);
          expect(contains(message, nonce)).to.equal(false);
          expect(contains(message, authenticator)).to.equal(false);
          // Not even a long common run: no 8-byte window of the authenticator appears in what the issuer saw.
          for (let i = 0; i + 8 <= authenticator.length; i += 8)
            expect(contains(blinded, authenticator.subarray(i, i + 8))).to.equal(false);
        }
      }
    });

    it("blinds the same token input differently each time", function () {
      const a = prepareTokenRequests(issuer.publicKey, challenge, 1).requests[0]!;
      const b = prepareTokenRequests(issuer.publicKey, challenge, 1).requests[0]!;
      expect(toHex(a)).not.to.equal(toHex(b));
    });
  });
});

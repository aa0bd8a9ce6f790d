/**
 * The issuance exchange over HTTP, as both sides speak it: the client POSTs to the issuer's `/v1/passes/issue`
 *
 *   { "purchaseId": "7", "requests": ["<base64url TokenRequest>", ...], "signature": "0x…" }
 *
 * and the issuer answers `{ "responses": ["<base64url TokenResponse>", ...] }` in the same order, or a problem
 * (RFC 9457). The signature is the buyer's {@link issuanceAuthorization} over the same requests.
 */
import { PrivacyPassInputError } from "./errors";

/** The issuance endpoint's path. */
export const ISSUE_PATH = "/v1/passes/issue";

/** What the client sends. */
export interface IssuanceMessage {
  purchaseId: bigint;
  /** Encoded TokenRequests. */
  requests: Uint8Array[];
  /** The buyer's personal_sign over the request. */
  signature: string;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function encodeIssuanceMessage(message: IssuanceMessage): string {
  return JSON.stringify({
    purchaseId: message.purchaseId.toString(),
    requests: message.requests.map(base64url),
    signature: message.signature,
  });
}

/** The message in a parsed JSON body; throws {@link PrivacyPassInputError} naming the field that is wrong. */
export function parseIssuanceMessage(value: unknown): IssuanceMessage {
  const { purchaseId, requests, signature } = (typeof value === "object" && value !== null ? value : {}) as Record<
    string,
    unknown
  >;
  if (typeof purchaseId !== "string" || !/^[1-9][0-9]{0,77}$/.test(purchaseId) || BigInt(purchaseId) >= 1n << 256n)
    throw new PrivacyPassInputError("purchaseId", "expected a positive decimal string below 2^256");
  return {
    purchaseId: BigInt(purchaseId),
    requests: bytesList(requests, "requests"),
    signature: typeof signature === "string" ? signature : fail("signature", "expected a 0x hex signature"),
  };
}

export function encodeIssuanceResponse(responses: readonly Uint8Array[]): string {
  return JSON.stringify({ responses: responses.map(base64url) });
}

/** The TokenResponses in the issuer's parsed JSON answer. */
export function parseIssuanceResponse(value: unknown): Uint8Array[] {
  const { responses } = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  return bytesList(responses, "responses");
}

function bytesList(value: unknown, field: string): Uint8Array[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string" && BASE64URL.test(item)))
    throw new PrivacyPassInputError(field, "expected an array of base64url strings");
  return value.map((item: string) => new Uint8Array(Buffer.from(item, "base64url")));
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

function fail(field: string, message: string): never {
  throw new PrivacyPassInputError(field, message);
}

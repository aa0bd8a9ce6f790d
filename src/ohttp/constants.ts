/**
 * The names Oblivious HTTP puts on the wire: media types (RFC 9458 §9, draft-ietf-ohai-chunked-ohttp-08 §7), the
 * HPKE `info` and exporter labels (RFC 9458 §4.3, §4.4; chunked §6) and the problem types (RFC 9458 §5.3, §6.5.2).
 * An independent implementation uses the same bytes; change none of them.
 */

/** Media types of key configurations, encapsulated messages and problem details. */
export const MEDIA_TYPES = {
  keys: "application/ohttp-keys",
  request: "message/ohttp-req",
  response: "message/ohttp-res",
  chunkedRequest: "message/ohttp-chunked-req",
  chunkedResponse: "message/ohttp-chunked-res",
  problem: "application/problem+json",
} as const;

/** HPKE `info` prefix (requests) and exporter context (responses) of each encapsulation. */
export const LABELS = {
  request: "message/bhttp request",
  response: "message/bhttp response",
  chunkedRequest: "message/bhttp chunked request",
  chunkedResponse: "message/bhttp chunked response",
} as const;

/** The AAD that marks the final chunk of a chunked message (draft-ietf-ohai-chunked-ohttp-08 §6). */
export const FINAL_CHUNK_AAD = new TextEncoder().encode("final");

/** Problem types (RFC 9457) that RFC 9458 registers. */
export const PROBLEM_TYPES = {
  /** The encapsulated request used a key configuration the gateway does not have (RFC 9458 §5.3). */
  key: "https://iana.org/assignments/http-problem-types#ohttp-key",
  /** The Date of the request is outside the gateway's window (RFC 9458 §6.5.2). */
  date: "https://iana.org/assignments/http-problem-types#date",
} as const;

/** Plaintext bytes per chunk every receiver must accept and senders keep to (chunked OHTTP §3). */
export const CHUNK_SIZE = 16_384;

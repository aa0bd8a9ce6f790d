/**
 * Oblivious HTTP (RFC 9458) and chunked Oblivious HTTP (draft-ietf-ohai-chunked-ohttp-08): key configurations,
 * encapsulated requests and responses, and the three parties as node:http handlers and a fetch — the relay
 * (`createRelayHandler`), the gateway (`createGatewayHandler`) and the client (`ohttpFetch`). See README.md for
 * what each party sees and the limits.
 */
export * from "./algorithms";
export * from "./bhttp";
export * from "./chunked";
export * from "./client";
export * from "./constants";
export * from "./encapsulation";
export * from "./errors";
export * from "./gateway";
export { mediaType } from "./http";
export * from "./keys";
export * from "./problem";
export * from "./rate";
export * from "./reader";
export * from "./relay";
export * from "./replay";
export * from "./varint";
export * from "./enclave-key";

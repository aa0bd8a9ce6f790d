/**
 * Privacy Pass publicly verifiable tokens (RFC 9576–9578, token type 0x0002: blind RSA, RFC 9474) for paying a
 * request without naming the payer: the client buys a count of tokens on-chain, has them signed blindly by the
 * operator's issuer key, and spends one per request; the gateway checks it with the public key and records it
 * spent; the operator redeems spent nonces on-chain. See README.md for who sees what and the limits.
 */
export * from "./authorization";
export * from "./blindrsa";
export * from "./bytes";
export * from "./challenge";
export * from "./client";
export * from "./errors";
export * from "./issuance";
export * from "./issuer";
export * from "./keys";
export * from "./redeemer";
export * from "./spent";
export * from "./token";

/**
 * Intel DCAP quotes off-chain: framing and facts (`parseQuote`, `quoteFacts`, `pckChain`, `trimQuote`), PCK
 * certificates (`readCertificate`), verification with the checks `DcapVerifier` makes on-chain
 * (`verifyQuote`), and a DEVELOPMENT-ONLY quote generator (`createDevelopmentPlatform`,
 * `createDevelopmentQuote`) whose quotes prove nothing.
 */
export * from "./errors";
export * from "./quote";
export * from "./x509";
export * from "./verify";
export * from "./dev";

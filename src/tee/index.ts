/**
 * Intel DCAP quotes off-chain: framing and facts (`parseQuote`, `quoteFacts`, `pckChain`, `trimQuote`), PCK
 * certificates (`readCertificate`), verification with the checks `DcapVerifier` makes on-chain
 * (`verifyQuote`), what a quote must bind to register an enclave (`enclaveReportData`), Intel's root CA, and a
 * DEVELOPMENT-ONLY quote generator (`createDevelopmentPlatform`, `developmentPlatform`, `createDevelopmentQuote`,
 * `DevEnclave`) whose quotes prove nothing.
 */
export * from "./errors";
export * from "./quote";
export * from "./x509";
export * from "./verify";
export * from "./binding";
export * from "./intel";
export * from "./dev";
export * from "./dev-enclave";

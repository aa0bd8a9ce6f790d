// The dApp SDK, and the core it builds on that dApps need too (errors, retries, revert decoding, contracts, provider,
// local chains).
export * from "../core/errors";
export * from "../core/contracts";
export * from "../core/revert";
export * from "../core/retry";
export * from "../core/provider";
export * from "../core/chains";
export * from "./logs";
export * from "./jobs";
export * from "./requestInference";
export * from "./waitForResult";
export * from "./verifyResult";
export * from "./agent";
export * from "./agent-run";

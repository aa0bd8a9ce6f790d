/**
 * The core layer: what every other part of the off-chain code builds on, and which imports nothing of theirs —
 * errors, retries and timeouts, revert decoding, typed ids, the mode list, the deployment record, configuration
 * precedence, hashes and CIDs, verified content fetches, logs and the chain log follower.
 */
export * from "./errors";
export * from "./retry";
export * from "./revert";
export * from "./ids";
export * from "./modes";
export * from "./deployment";
export * from "./config";
export * from "./hash";
export * from "./cid";
export * from "./content";
export * from "./log";
export * from "./follower";
export * from "./esm";

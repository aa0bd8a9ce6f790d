// Transitional: the operators of a local network are devnet code, in src/devnet/operators.ts. Removed once the last
// importer (test/node/daemon.test.ts) moves.
export * from "../devnet/operators";

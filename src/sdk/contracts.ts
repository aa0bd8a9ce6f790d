// Transitional: contract handles are src/core/contracts.ts. Removed once the last importers move.
export * from "../core/contracts";

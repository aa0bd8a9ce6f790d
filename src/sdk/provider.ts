// Transitional: the provider factory is src/core/provider.ts. Removed once the last importers move.
export * from "../core/provider";

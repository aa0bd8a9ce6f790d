// Moved to src/core/job.ts; kept only until the last importers move.
export * from "../core/job";

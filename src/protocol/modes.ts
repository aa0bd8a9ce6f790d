// Moved to src/core (modes.ts, job.ts); kept only until the last importers move.
export { Mode, MODE_NAMES, modeMask } from "../core/modes";
export { JobStatus, SlotPhase, RefundReason } from "../core/job";

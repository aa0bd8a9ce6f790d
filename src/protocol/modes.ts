/** Verification modes, as numbered on-chain (`ModesLib`). */
export const Mode = { Vanilla: 0, Tee: 1, Zk: 2 } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

export const MODE_NAMES: Record<Mode, string> = { 0: "vanilla", 1: "tee", 2: "zk" };

/** The bitmask of a set of modes (`1 << mode` each), as NodeStaking capabilities and ModelRegistry versions use. */
export function modeMask(modes: readonly Mode[]): number {
  return modes.reduce<number>((mask, mode) => mask | (1 << mode), 0);
}

/** Job status, as `IJobEscrow.JobStatus`. */
export const JobStatus = { None: 0, Open: 1, Settled: 2, Refunded: 3 } as const;
/** Slot phase, as `IJobEscrow.SlotPhase`. */
export const SlotPhase = { None: 0, Claimed: 1, Committed: 2, Revealed: 3 } as const;
/** Refund reason, as `IJobEscrow.RefundReason`. */
export const RefundReason = { Expired: 0, NoMajority: 1 } as const;

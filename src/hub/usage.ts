/** The fee terms of a job, as `JobRequested` carries them (token wei). */
export interface JobFeeTerms {
  modelFee: bigint;
  feePerNode: bigint;
  protocolFee: bigint;
  redundancy: number;
}

/** What a settled job paid, in token wei. */
export interface SettledPayment {
  /** The protocol fee the job paid: all of it, or its share on the paid node fees when some nodes dissented. */
  protocolFee: bigint;
  /** Model fee, the agreeing nodes' fees and the protocol fee paid: what the requester was not refunded. */
  paid: bigint;
}

/**
 * What a job that settled with `agreeing` of its `redundancy` nodes paid, as the escrow settles it
 * (`FeesLib.protocolShare`): dissenting nodes are unpaid, and the protocol fee charged on their fees goes back to
 * the requester, rounded down in the requester's favour.
 * @example settledPayment({ modelFee: 2n, feePerNode: 1n, protocolFee: 0n, redundancy: 1 }, 1).paid // 3n
 */
export function settledPayment(terms: JobFeeTerms, agreeing: number): SettledPayment {
  const paidNodes = BigInt(Math.min(agreeing, terms.redundancy));
  const base = terms.modelFee + terms.feePerNode * BigInt(terms.redundancy);
  const charged = terms.modelFee + terms.feePerNode * paidNodes;
  const protocolFee =
    paidNodes === BigInt(terms.redundancy)
      ? terms.protocolFee
      : base === 0n
        ? 0n
        : (terms.protocolFee * charged) / base;
  return { protocolFee, paid: charged + protocolFee };
}

/**
 * Whether a settled job counts as verified usage: its protocol fee reached the escrow's `usageFeeFloor` in force
 * when it was requested. Model price and node fees can flow back to a requester who owns the model and runs the
 * node; the protocol fee cannot, so without a floor usage could be inflated for gas alone. An unknown floor counts
 * nothing.
 * @example countsAsUsage(150_000_000_000_000_000n, 10n ** 15n) // true
 */
export function countsAsUsage(protocolFee: bigint, usageFeeFloor: bigint | undefined): boolean {
  return usageFeeFloor !== undefined && protocolFee >= usageFeeFloor;
}

/**
 * The root of every error the off-chain code raises (SDK, node, CLI, hub, storage, ZKML, deploy, devnet). Each area
 * has its own subclass with its own context fields; all share a short message that says what failed (and what to
 * do), the underlying `cause`, and `chain()` to print the whole story in one log line:
 * "escrow.claimSlot(job 7) reverted with JobEscrowSlotsFilled(jobId=7, redundancy=1) <- execution reverted".
 */
export class BaseError extends Error {
  override readonly name: string = "BaseError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }

  /** The first line of this error's message and of each of its causes, outermost first. */
  chain(): string[] {
    const out: string[] = [this.message.split("\n")[0]!];
    let current: unknown = this.cause;
    for (let i = 0; current !== undefined && current !== null && i < 8; i++) {
      out.push(current instanceof Error ? current.message.split("\n")[0]! : String(current));
      current = current instanceof Error ? current.cause : undefined;
    }
    return out;
  }
}

import type { Contracts } from "../core/contracts";
import { withRetry } from "../core/retry";
import type { Logger } from "../core/log";
import type { TxSender } from "./sender";
import { outboxKey, type Outbox } from "./store";

/**
 * Withdraws the node's earnings (`escrow.claim`, outbox kind `withdrawEarnings`: not a slot claim) once what it can
 * withdraw reaches `threshold`; at most one withdrawal in flight.
 */
export class EarningsWithdrawer {
  private inFlight = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly sender: TxSender,
    private readonly contracts: Contracts,
    private readonly log: Logger,
    private readonly options: { address: string; threshold: bigint; rpcTimeoutMs: number },
  ) {}

  async check(signal: AbortSignal): Promise<void> {
    if (this.options.threshold === 0n || this.inFlight) return;
    if (this.outbox.pending().some((tx) => tx.kind === "withdrawEarnings")) return;
    const claimable = await withRetry("escrow.claimable", () => this.contracts.escrow.claimable(this.options.address), {
      timeoutMs: this.options.rpcTimeoutMs,
    });
    if (claimable < this.options.threshold) return;
    this.inFlight = true;
    try {
      const data = this.contracts.escrow.interface.encodeFunctionData("claim", [this.options.address]);
      const tx = await this.sender.send({
        key: outboxKey.withdrawEarnings(),
        kind: "withdrawEarnings",
        to: await this.contracts.escrow.getAddress(),
        data,
        context: { contract: "escrow", call: "claim" },
      });
      const receipt = await this.sender.wait(tx, signal);
      this.log.info({ amount: claimable.toString(), tx: receipt.hash }, "earnings withdrawn");
    } finally {
      this.inFlight = false;
    }
  }
}

import type { Contracts } from "../core/contracts";
import { withRetry } from "../core/retry";
import type { Logger } from "./log";
import type { TxSender } from "./sender";
import type { JobStore } from "./store";

/** Claims the node's credits once they reach `threshold`; at most one claim in flight. */
export class RewardClaimer {
  private inFlight = false;

  constructor(
    private readonly store: JobStore,
    private readonly sender: TxSender,
    private readonly contracts: Contracts,
    private readonly log: Logger,
    private readonly options: { address: string; threshold: bigint; rpcTimeoutMs: number },
  ) {}

  async check(signal: AbortSignal): Promise<void> {
    if (this.options.threshold === 0n || this.inFlight) return;
    if (this.store.pendingTxs().some((tx) => tx.kind === "reward")) return;
    const claimable = await withRetry("escrow.claimable", () => this.contracts.escrow.claimable(this.options.address), { timeoutMs: this.options.rpcTimeoutMs });
    if (claimable < this.options.threshold) return;
    this.inFlight = true;
    try {
      const data = this.contracts.escrow.interface.encodeFunctionData("claim", [this.options.address]);
      const tx = await this.sender.send({ key: `reward:${Date.now()}`, kind: "reward", to: await this.contracts.escrow.getAddress(), data, context: { contract: "escrow", call: "claim" } });
      const receipt = await this.sender.wait(tx, signal);
      this.log.info({ amount: claimable.toString(), tx: receipt.hash }, "rewards claimed");
    } finally {
      this.inFlight = false;
    }
  }
}

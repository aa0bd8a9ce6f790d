import type { JobRow, JobState } from "./jobs";
import type { OutboxKind, TxRow } from "./outbox";

/**
 * The furthest state a job's mined transactions still support, used after a reorganisation voided some of its
 * receipts or events. A slot claim that is not mined (pending again) means the job is back to `seen`: the claim step
 * finds the stored claim and waits for it instead of signing another. A job never claimed goes back to `seen`
 * too, so a skip decided on dropped blocks (e.g. "settled by other nodes") is reconsidered.
 */
export function stateAfterRewind(row: JobRow, txs: readonly TxRow[]): JobState {
  // A job may have two submissions: a batch that reverted, then its own. A mined one decides, then a pending one.
  const status = (...kinds: OutboxKind[]) => {
    const statuses = txs.filter((t) => (kinds as string[]).includes(t.kind)).map((t) => t.status);
    return statuses.includes("mined") ? "mined" : statuses.includes("pending") ? "pending" : statuses[0];
  };
  const claim = status("claimSlot");
  if (claim === undefined || claim === "pending") return "seen";
  if (claim !== "mined") return row.state;
  const computed: JobState = row.output === undefined ? "claimed" : "computed";
  if (row.job.redundancy === 1n) {
    const submit = status("submit", "batch");
    return submit === "mined" ? "settled" : submit === "reverted" ? "failed" : computed;
  }
  const [commit, reveal] = [status("commit"), status("reveal")];
  if (commit === "reverted" || reveal === "reverted") return "failed";
  return reveal === "mined" ? "revealed" : commit === "mined" ? "committed" : computed;
}

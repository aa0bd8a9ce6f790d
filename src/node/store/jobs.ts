import type { Job } from "../../core/job";
import { BaseError, StateError } from "../../core/errors";
import type { NodeDatabase } from "./database";

/**
 * A job's progress on this node. Terminal states: settled, expired (refunded to its requester), skipped (never
 * claimed), failed (claimed but could not deliver).
 */
export type JobState =
  | "seen"
  | "claimed"
  | "computed"
  | "submitted"
  | "committed"
  | "revealed"
  | "settled"
  | "expired"
  | "skipped"
  | "failed";

const TRANSITIONS: Record<JobState, readonly JobState[]> = {
  seen: ["claimed", "skipped", "settled", "expired"],
  claimed: ["computed", "failed", "settled", "expired"],
  computed: ["submitted", "committed", "failed", "settled", "expired"],
  submitted: ["settled", "failed", "expired"],
  committed: ["revealed", "failed", "settled", "expired"],
  revealed: ["settled", "failed", "expired"],
  settled: [],
  expired: [],
  skipped: [],
  failed: ["settled", "expired"],
};

export const ACTIVE_STATES: readonly JobState[] = ["seen", "claimed", "computed", "submitted", "committed", "revealed"];
export const ALL_STATES = Object.keys(TRANSITIONS) as JobState[];

/** Raised when a step acts on a job whose terms were replaced meanwhile (a reorganisation re-used its id). */
export class JobReplacedError extends BaseError {
  override readonly name = "JobReplacedError";
}

export interface JobRow {
  jobId: bigint;
  state: JobState;
  job: Job;
  input: string;
  inputUri: string;
  output?: string;
  salt?: string;
  proof?: string;
  reason?: string;
  seenAt: number;
  settledAt?: number;
  requestBlock: number;
  /** Requested in a block a reorganisation dropped: not acted on until its request is seen again. */
  stale: boolean;
  /** Block of the JobSettled/JobRefunded event that finalised the job, when an event did. */
  finalBlock?: number;
  /** Inference time, for the overhead figures. */
  computeMs?: number;
}

/** A job as its `JobRequested` event tells it. */
export interface NewJob {
  job: Job;
  input: string;
  inputUri: string;
  requestBlock: number;
  state?: JobState;
  reason?: string;
}

export interface TransitionFields {
  output?: string;
  salt?: string;
  proof?: string;
  reason?: string;
  /** Block of the event that finalised the job (void if a reorganisation drops it). */
  finalBlock?: number;
  computeMs?: number;
}

/**
 * The job table: each job this node has seen and where it stands in the state machine, plus the jobs a
 * reorganisation orphaned (their id now names other terms).
 */
export class JobTable {
  constructor(private readonly db: NodeDatabase) {}

  /** Records a newly seen job; a job already known is left as it is (logs may be read twice). */
  insert(row: NewJob): boolean {
    const now = Date.now();
    const result = this.db
      .prepare(
        "INSERT OR IGNORE INTO jobs (job_id, state, job, input, input_uri, reason, seen_at, request_block, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        row.job.id.toString(),
        row.state ?? "seen",
        JSON.stringify(row.job, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
        row.input,
        row.inputUri,
        row.reason ?? null,
        now,
        row.requestBlock,
        now,
      );
    return result.changes === 1;
  }

  get(jobId: bigint): JobRow | undefined {
    const row = this.db.prepare("SELECT * FROM jobs WHERE job_id = ?").get(jobId.toString()) as
      Record<string, unknown> | undefined;
    return row === undefined ? undefined : toJobRow(row);
  }

  /** Jobs in `states` that are not stale, lowest id first. */
  inStates(states: readonly JobState[], limit = 1_000): JobRow[] {
    const sql = `SELECT * FROM jobs WHERE state IN (${states.map(() => "?").join(",")}) AND stale = 0 ORDER BY CAST(job_id AS INTEGER) LIMIT ?`;
    return (this.db.prepare(sql).all(...states, limit) as Record<string, unknown>[]).map(toJobRow);
  }

  countByState(): Record<JobState, number> {
    const counts = Object.fromEntries(ALL_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    const rows = this.db.prepare("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").all() as {
      state: JobState;
      n: number;
    }[];
    for (const row of rows) counts[row.state] = row.n;
    return counts;
  }

  /** Stores an input fetched by URI (already checked against the job's input hash). */
  setInput(jobId: bigint, input: string): void {
    this.db
      .prepare("UPDATE jobs SET input = ?, updated_at = ? WHERE job_id = ?")
      .run(input, Date.now(), jobId.toString());
  }

  /**
   * Moves a job along the state machine, storing `fields` with it. Throws on a transition the machine does not
   * allow; returns false (and changes nothing) if the job is already in `to`. With `terms`, throws
   * JobReplacedError if the job id now carries other terms (a step that started before a reorganisation).
   */
  transition(jobId: bigint, to: JobState, fields: TransitionFields = {}, terms?: Job): boolean {
    return this.db.atomically(() => {
      const current = this.get(jobId);
      if (current === undefined) throw new StateError(`job ${jobId} is not in the database`);
      if (terms !== undefined && !sameTerms(current.job, terms)) {
        throw new JobReplacedError(`job ${jobId} was replaced by other terms after a chain reorganisation`);
      }
      if (current.state === to) return false;
      if (!TRANSITIONS[current.state].includes(to))
        throw new StateError(`job ${jobId}: no transition from ${current.state} to ${to}`);
      const now = Date.now();
      this.db
        .prepare(
          "UPDATE jobs SET state = ?, output = COALESCE(?, output), salt = COALESCE(?, salt), proof = COALESCE(?, proof), reason = COALESCE(?, reason), final_block = COALESCE(?, final_block), compute_ms = COALESCE(?, compute_ms), settled_at = CASE WHEN ? IN ('settled','expired') THEN ? ELSE settled_at END, updated_at = ? WHERE job_id = ?",
        )
        .run(
          to,
          fields.output ?? null,
          fields.salt ?? null,
          fields.proof ?? null,
          fields.reason ?? null,
          fields.finalBlock ?? null,
          fields.computeMs ?? null,
          to,
          now,
          now,
          jobId.toString(),
        );
      return true;
    });
  }

  /** Whether `to` is reachable from the job's current state in one step. */
  canTransition(jobId: bigint, to: JobState): boolean {
    const current = this.get(jobId);
    return current !== undefined && TRANSITIONS[current.state].includes(to);
  }

  /* REORGANISATIONS */

  /** Makes a stale job current again: its request was seen again, in `requestBlock`. */
  restore(jobId: bigint, requestBlock: number): void {
    this.db
      .prepare("UPDATE jobs SET stale = 0, request_block = ?, updated_at = ? WHERE job_id = ?")
      .run(requestBlock, Date.now(), jobId.toString());
  }

  /** Moves the job to `orphaned_jobs` (its id now names other terms); returns the orphan's row id. */
  orphan(jobId: bigint): number {
    const id = jobId.toString();
    const info = this.db
      .prepare(
        "INSERT INTO orphaned_jobs (job_id, state, job, input, input_uri, output, reason, request_block, orphaned_at) SELECT job_id, state, job, input, input_uri, output, reason, request_block, ? FROM jobs WHERE job_id = ?",
      )
      .run(Date.now(), id);
    this.db.prepare("DELETE FROM jobs WHERE job_id = ?").run(id);
    return Number(info.lastInsertRowid);
  }

  /** Rows of `orphaned_jobs` for `jobId` (jobs whose id a reorganisation gave to other terms). */
  orphaned(jobId: bigint): { state: string; job: Job; reason?: string }[] {
    const rows = this.db
      .prepare("SELECT * FROM orphaned_jobs WHERE job_id = ? ORDER BY id")
      .all(jobId.toString()) as Record<string, unknown>[];
    return rows.map((r) => ({
      state: r.state as string,
      job: parseJob(r.job as string),
      reason: (r.reason as string | null) ?? undefined,
    }));
  }

  /** Marks the jobs requested above `block` stale; returns how many. */
  markStaleAbove(block: number): number {
    return this.db
      .prepare("UPDATE jobs SET stale = 1, updated_at = ? WHERE request_block > ? AND stale = 0")
      .run(Date.now(), block).changes;
  }

  /** Jobs requested or finalised above `block`. */
  decidedAbove(block: number): bigint[] {
    const rows = this.db
      .prepare("SELECT job_id FROM jobs WHERE request_block > ? OR final_block > ?")
      .all(block, block) as { job_id: string }[];
    return rows.map((r) => BigInt(r.job_id));
  }

  /**
   * Puts a job back in `to` after a reorganisation voided the blocks that moved it on: no final block, and the
   * reason of a state the dropped blocks decided (a skip, a failure) no longer holds.
   */
  rewindTo(jobId: bigint, to: JobState): void {
    const final = to === "settled" || to === "expired";
    this.db
      .prepare(
        "UPDATE jobs SET state = ?, final_block = NULL, settled_at = CASE WHEN ? THEN settled_at ELSE NULL END, reason = CASE WHEN state = ? THEN reason ELSE NULL END, updated_at = ? WHERE job_id = ?",
      )
      .run(to, final ? 1 : 0, to, Date.now(), jobId.toString());
  }
}

/** Whether two jobs have the same terms (the escrow's job hash would match; ABI-hashing costs a millisecond). */
export function sameTerms(a: Job, b: Job): boolean {
  const keys = Object.keys(a) as (keyof Job)[];
  return (
    keys.length === Object.keys(b).length &&
    keys.every((k) => String(a[k]).toLowerCase() === String(b[k]).toLowerCase())
  );
}

/** A job as stored (JSON, integers as decimal strings). */
export function parseJob(text: string): Job {
  const plain = JSON.parse(text) as Record<string, string>;
  return Object.fromEntries(
    Object.entries(plain).map(([k, v]) => [
      k,
      /^(requester|inputHash|modelOwner|verifier|callback)$/.test(k) ? v : BigInt(v),
    ]),
  ) as unknown as Job;
}

function toJobRow(r: Record<string, unknown>): JobRow {
  return {
    jobId: BigInt(r.job_id as string),
    state: r.state as JobState,
    job: parseJob(r.job as string),
    input: r.input as string,
    inputUri: r.input_uri as string,
    output: (r.output as string | null) ?? undefined,
    salt: (r.salt as string | null) ?? undefined,
    proof: (r.proof as string | null) ?? undefined,
    reason: (r.reason as string | null) ?? undefined,
    seenAt: r.seen_at as number,
    settledAt: (r.settled_at as number | null) ?? undefined,
    requestBlock: r.request_block as number,
    stale: r.stale === 1,
    finalBlock: (r.final_block as number | null | undefined) ?? undefined,
    computeMs: (r.compute_ms as number | null | undefined) ?? undefined,
  };
}

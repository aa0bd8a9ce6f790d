/** Most slots of one proof (`ZkInferenceVerifier.MAX_SLOTS`, the escrow's `MAX_BATCH`). */
const MAX_SLOTS = 64;

/**
 * One proof for several ZK jobs (`NodeConfig.zkBatch`, issue #15): computed ZK jobs of one model version wait up to
 * `maxWaitMs` for others and are proved together with the version's N-slot key, settled by one `submitBatch`. A
 * version without a usable N-slot key (none bound on-chain, none published, or one that does not match) has its jobs
 * proved one by one as without this setting. Unset (default), every job is proved on its own.
 */
export interface ZkBatchConfig {
  /** Slots of the proof (2 to 64): the N of the N-slot key the version's owner bound (`setSlotVerifier`). */
  slots: number;
  /** Longest a computed job waits for others before its (padded) proof is made. */
  maxWaitMs: number;
  /**
   * A job whose deadline is closer than this is not held back: its group is proved at once (or the job alone, if it
   * comes that close before it is computed). It should cover a proof and a block. Default 60,000.
   */
  deadlineMarginMs: number;
}

export const ZK_BATCH_DEFAULTS: Pick<ZkBatchConfig, "deadlineMarginMs"> = { deadlineMarginMs: 60_000 };

/**
 * Validates `zkBatch` of a node config; `fail(field, what)` throws the config's error naming the file.
 * @example const zkBatch = validateZkBatch({ slots: 4, maxWaitMs: 2000 }, fail);
 */
export function validateZkBatch(raw: unknown, fail: (field: string, what: string) => never): ZkBatchConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    fail("zkBatch", `must be an object such as { "slots": 4, "maxWaitMs": 2000 }, got ${JSON.stringify(raw)}`);
  const c = { ...ZK_BATCH_DEFAULTS, ...(raw as Record<string, unknown>) } as Record<string, unknown>;
  const known = ["slots", "maxWaitMs", "deadlineMarginMs"];
  for (const key of Object.keys(c))
    if (!known.includes(key)) fail(`zkBatch.${key}`, `is not a zkBatch setting (they are ${known.join(", ")})`);
  const int = (k: string, min: number, max: number, why = ""): number =>
    Number.isInteger(c[k]) && (c[k] as number) >= min && (c[k] as number) <= max
      ? (c[k] as number)
      : fail(`zkBatch.${k}`, `must be an integer from ${min} to ${max}${why}, got ${JSON.stringify(c[k])}`);
  if (c.slots === undefined) fail("zkBatch.slots", "is required: the N of the N-slot keys to prove with");
  if (c.maxWaitMs === undefined) fail("zkBatch.maxWaitMs", "is required: how long a job waits for others");
  return {
    slots: int("slots", 2, MAX_SLOTS, " (the slot circuits ZkInferenceVerifier accepts)"),
    maxWaitMs: int("maxWaitMs", 0, 3_600_000),
    deadlineMarginMs: int("deadlineMarginMs", 0, 86_400_000),
  };
}

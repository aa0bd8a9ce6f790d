import type { Command } from "commander";
import { isAddress } from "ethers";
import { InputError, VerificationError } from "../../core/errors";
import { toJobId } from "../../core/ids";
import { MODE_NAMES } from "../../core/modes";
import { readFeed, type FeedReading, type FeedRound } from "../../core/subscription";
import { verifyJob, withChain } from "../context";
import { print, tokens } from "../output";
import type { Globals } from "../options";

const STATUS = ["none", "active", "cancelled"];

/**
 * `vin feed <address>`: an `AggregatorV3Interface` feed read as a dApp reads it (description, decimals, latest
 * rounds), and for a subscription's feed what its answers rest on: the model version and mode, the subscription's
 * schedule and each round's job; `--verify` re-verifies the latest round's job.
 */
export function register(program: Command, global: Globals): void {
  program
    .command("feed <address>")
    .description("read a price-feed-like feed (AggregatorV3Interface), e.g. a subscription's")
    .option("--rounds <n>", "how many of the latest answered rounds to show", "5")
    .option("--verify", "re-verify the latest round's job (a subscription's feed)")
    .action(async (address: string, opts: { rounds: string; verify?: boolean }) => {
      const g = global();
      if (!isAddress(address)) throw new InputError(`"${address}" is not a feed address`);
      const count = Number(opts.rounds);
      if (!Number.isInteger(count) || count < 1 || count > 100)
        throw new InputError(`--rounds "${opts.rounds}" must be a whole number from 1 to 100`);
      await withChain(g, async (config, provider, contracts) => {
        const reading = await readFeed(provider, address, { rounds: count, retry: { timeoutMs: config.rpcTimeoutMs } });
        const jobId = reading.latest?.jobId;
        let verified: Awaited<ReturnType<typeof verifyJob>> | undefined;
        if (opts.verify === true) {
          if (jobId === undefined || jobId === 0n)
            throw new InputError(`feed ${address} has no answered round with a job to verify`);
          verified = await verifyJob(config, provider, contracts, toJobId(jobId), config.contracts.startBlock);
          if (!verified.ok)
            throw new VerificationError(
              `round ${reading.latest!.roundId}'s job ${jobId} failed verification: ${verified.checks
                .filter((c) => !c.ok)
                .map((c) => c.name)
                .join(", ")}`,
            );
        }
        // Ages and due times against the chain's clock, which a local chain may run apart from this machine's.
        const now = (await provider.getBlock("latest"))!.timestamp;
        const value = (answer: bigint) => (Number(answer) / 10 ** reading.decimals).toFixed(reading.decimals);
        const line = (r: FeedRound, label: string) =>
          `${label} ${r.roundId}: ${value(r.answer)} (updated ${iso(r.updatedAt)}, ${now - Number(r.updatedAt)} s ago` +
          (r.jobId === undefined ? ")" : `; input as of ${iso(r.startedAt)}; job ${r.jobId})`);
        const s = reading.subscription;
        print(!!g.json, { ...reading, ...(verified === undefined ? {} : { verified }) }, () =>
          [
            `${reading.description || "(no description)"}: feed ${reading.address}, ${reading.decimals} decimals, version ${reading.version}`,
            ...(s === undefined
              ? []
              : [
                  `subscription ${s.id} of manager ${s.manager}: model ${s.modelId}@${s.version}, ${MODE_NAMES[s.mode]} mode, ${s.redundancy} node(s) per round; ${STATUS[s.status] ?? s.status}; ${s.nextRound}/${s.rounds} rounds started or missed, one every ${s.period} s; balance ${tokens(s.balance)}`,
                  nextRoundLine(s, now),
                ]),
            ...(reading.rounds.length === 0
              ? ["no answer yet"]
              : reading.rounds.map((r, i) => line(r, i === 0 ? "latest round" : "round"))),
            ...(verified === undefined ? [] : [`job ${jobId} verified: ${verified.checks.length} checks passed`]),
          ].join("\n"),
        );
      });
    });
}

/** When the next round of the feed (by its feed round id, `round + 1`) is due, or that the schedule is over. */
function nextRoundLine(s: NonNullable<FeedReading["subscription"]>, now: number): string {
  const { round, dueAt, startable } = s.current;
  if (round >= s.rounds || s.status !== 1) return "no round is due any more";
  if (startable) return `feed round ${round + 1n} is due now (not started yet)`;
  if (Number(dueAt) > now) return `feed round ${round + 1n} is due at ${iso(dueAt)}`;
  if (round + 1n >= s.rounds) return "the last round has started";
  return `feed round ${round + 2n} is due at ${iso(dueAt + s.period)}`;
}

function iso(seconds: bigint): string {
  return new Date(Number(seconds) * 1000).toISOString();
}

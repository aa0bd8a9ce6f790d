/**
 * Load test of chat agents (issue #14 §6), loopback only: 1,000 concurrent agents against 1, 2 and 4 TEE nodes behind
 * two relays, on the in-process Hardhat chain with the system deployed (bench/agents/network; each node a process of
 * its own). The agents are sdk/agent's (bench/agents/load). For each node count and path (direct to the chat API, or
 * private: relay → gateway over chunked OHTTP) it runs 10, 100 and 1,000 agents at once, one short streamed turn each
 * (and, as the point without queueing, one agent at a time for 50 turns),
 * and measures time to first token and total latency (p50, p99; total includes the agent's receipt check), tokens/s
 * and the error rate. Then a failover run: 1,000 agents on the private path against 4 nodes, the last node SIGKILLed
 * when the nodes have signed a quarter of the run's receipts (not a quarter of the turns ended: the agents' ends,
 * each checking its receipt against the chain, lag the nodes, which may have served everything by then); its
 * in-flight and queued turns go to another gateway. Each agent checks its receipt
 * against the chain before keeping a turn; the receipts the nodes signed are compared with those the agents kept
 * (bench/agents/ledger: nothing paid without being served, no payment id twice, none lost), then settled on-chain
 * by node/receipt-settler, one settler per operator, committed per node count and path, finalized after the
 * challenge window (bench/agents/settlement); their transactions give the gas per receipt.
 *
 * The nodes serve at most BENCH_AGENTS_MAX_CONCURRENT generations each at once; beyond it a request waits in the
 * node's queue (node/chat-api `maxQueued`, BENCH_AGENTS_MAX_QUEUED, default one place per agent) for a free slot, at
 * most BENCH_AGENTS_QUEUE_TIMEOUT_MS (20 s: under the relays' 30 s wait for a gateway's answer), and is answered 429
 * only when the queue is full or the wait times out; the agents then wait and retry. So 1,000 agents are concurrent
 * but their generations are queued by the nodes' limits (on a 2-core machine 1,000 generations cannot run at once);
 * the waiting counts in their latency, and a private-path request queued at the node pays one encrypted round trip,
 * not one per retry.
 *
 * Run: npm run bench:agents (hardhat run bench/agents.ts). Writes bench/results/agents.json and agents.svg.
 * Knobs: BENCH_AGENTS (1000), BENCH_AGENTS_NODES (1,2,4), BENCH_AGENTS_CONCURRENCY (1,10,100 and BENCH_AGENTS; at 1,
 * BENCH_AGENTS_SEQUENTIAL (50) turns one after the other),
 * BENCH_AGENTS_MAX_TOKENS (8), BENCH_AGENTS_MAX_CONCURRENT (8 per node), BENCH_AGENTS_MAX_QUEUED (BENCH_AGENTS per
 * node; 0: 429 at once), BENCH_AGENTS_QUEUE_TIMEOUT_MS (20000), BENCH_AGENTS_BATCH (1000 receipts),
 * BENCH_AGENTS_FAILOVER_NODES (4; 0 skips the failover run), BENCH_AGENTS_TURN_TIMEOUT_MS (300000),
 * BENCH_AGENTS_RESULTS (agents: the stem of the files written).
 */
import { writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { lineChart } from "../src/economics/plot";
import { WINDOW } from "../test/unit/chat/receipts.fixture";
import { auditReceipts, type ReceiptAudit } from "./agents/ledger";
import { figuresOf, runAgents, type LoadFigures, type PathKind, type Turn } from "./agents/load";
import { startNetwork, type Network } from "./agents/network";
import { gasPerReceipt, Settlers, type PostedRun } from "./agents/settlement";

const TARGETS = { successRate: 0.999, privateOverheadP50Pct: 10, gasPerReceipt: 2_000 };

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return value;
}

function listEnv(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  return raw.split(",").map((part) => {
    const value = Number(part.trim());
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must list positive integers, got ${raw}`);
    return value;
  });
}

const AGENTS = intEnv("BENCH_AGENTS", 1_000);
const NODE_COUNTS = listEnv("BENCH_AGENTS_NODES", [1, 2, 4]);
const CONCURRENCY = [...new Set(listEnv("BENCH_AGENTS_CONCURRENCY", [1, 10, 100, AGENTS]))].sort((a, b) => a - b);
const SEQUENTIAL = intEnv("BENCH_AGENTS_SEQUENTIAL", 50);
const MAX_TOKENS = intEnv("BENCH_AGENTS_MAX_TOKENS", 8);
const MAX_CONCURRENT = intEnv("BENCH_AGENTS_MAX_CONCURRENT", 8);
const MAX_QUEUED = intEnv("BENCH_AGENTS_MAX_QUEUED", AGENTS);
const QUEUE_TIMEOUT_MS = Math.max(1, intEnv("BENCH_AGENTS_QUEUE_TIMEOUT_MS", 20_000));
const BATCH = intEnv("BENCH_AGENTS_BATCH", 1_000);
const FAILOVER_NODES = intEnv("BENCH_AGENTS_FAILOVER_NODES", 4);
const TURN_TIMEOUT_MS = intEnv("BENCH_AGENTS_TURN_TIMEOUT_MS", 300_000);
const RESULTS = process.env.BENCH_AGENTS_RESULTS || "agents";
if (!/^[a-z0-9-]+$/.test(RESULTS)) throw new Error(`BENCH_AGENTS_RESULTS must be a file name stem, got ${RESULTS}`);

interface RunResult {
  label: string;
  nodes: number;
  path: PathKind;
  concurrency: number;
  figures: LoadFigures;
  audit: ReceiptAudit;
  /** The receipts the nodes signed during the run. */
  signed: { file: string; node: number }[];
  /** The settlement of its group (node count and path, or the failover run). */
  posted?: PostedRun;
  errors: string[];
  /**
   * The node killed mid-run; when: after how many receipts the nodes had signed in the run (their progress, which
   * the agents' ends lag: they check each receipt against the chain) and how many turns had ended; and how many
   * turns had an attempt fail there (its in-flight and queued turns).
   */
  killed?: { node: number; afterSigned: number; atTurn: number; turnsFailedOver: number };
}

/** One run: `concurrency` agents at once, its receipts audited and committed. */
async function measure(
  network: Network,
  label: string,
  nodes: number,
  path: PathKind,
  concurrency: number,
  kill?: { afterSigned: number },
): Promise<RunResult> {
  await network.syncClocks();
  const from = network.signed.length;
  let killed: RunResult["killed"];
  let done = 0;
  // The last node dies once the nodes have signed `afterSigned` of the run's receipts, while every node still has
  // turns running and queued: its turns must go elsewhere.
  const killer =
    kill === undefined
      ? undefined
      : setInterval(() => {
          const signedNow = network.signed.length - from;
          if (killed !== undefined || signedNow < kill.afterSigned) return;
          const node = nodes - 1;
          killed = { node, afterSigned: signedNow, atTurn: done, turnsFailedOver: 0 };
          network.operators[node]!.node.kill();
          clearInterval(killer);
        }, 5);
  const started = performance.now();
  const once = (run: string) =>
    runAgents({
      network,
      nodes,
      path,
      agents: concurrency,
      maxTokens: MAX_TOKENS,
      turnTimeoutMs: TURN_TIMEOUT_MS,
      run,
      onTurnEnd: (ended) => void (done = ended),
    });
  // One agent at a time: SEQUENTIAL turns one after the other (a path's own latency, nothing queued).
  const turns: Turn[] = [];
  try {
    for (let k = 0; k < (concurrency === 1 ? SEQUENTIAL : 1); k += 1) turns.push(...(await once(`${label}/${k}`)));
  } finally {
    clearInterval(killer);
  }
  if (killed !== undefined) {
    const dead = network.operators[killed.node]!.signer.address;
    killed.turnsFailedOver = turns.filter((t) => t.failedAt.includes(dead)).length;
  }
  const wallMs = performance.now() - started;
  // Receipts travel from the node processes over IPC; let the last ones land.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const signed = network.signed.slice(from);
  const audit = auditReceipts(signed, turns);
  const errors = [...new Set(turns.filter((t) => !t.ok).map((t) => t.error ?? ""))].slice(0, 5);
  const figures = figuresOf(turns, wallMs);
  console.log(
    `${label.padEnd(24)} ok ${figures.ok}/${figures.agents}  ttft p50 ${figures.ttftP50Ms} ms p99 ${figures.ttftP99Ms} ms  ` +
      `total p50 ${figures.totalP50Ms} ms p99 ${figures.totalP99Ms} ms  ${figures.tokensPerSecond} tok/s  ` +
      `receipts ${audit.served} kept (checked), ${audit.signed} signed  ${Math.round(wallMs)} ms` +
      (killed === undefined
        ? ""
        : `  (node ${killed.node} killed after ${killed.afterSigned} receipts signed, ${killed.atTurn} turns ended; ${killed.turnsFailedOver} turns failed over from it)`),
  );
  return {
    label,
    nodes,
    path,
    concurrency,
    figures,
    audit,
    signed,
    errors,
    ...(killed === undefined ? {} : { killed }),
  };
}

async function main(): Promise<void> {
  const benchStart = performance.now();
  const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);
  const loadBefore = load();
  const nodeCount = Math.max(...NODE_COUNTS, FAILOVER_NODES);
  const network = await startNetwork({
    nodes: nodeCount,
    maxConcurrent: MAX_CONCURRENT,
    maxQueued: MAX_QUEUED,
    queueTimeoutMs: QUEUE_TIMEOUT_MS,
    maxTokens: MAX_TOKENS,
  });
  const runs: RunResult[] = [];
  const postedGroups: PostedRun[] = [];
  let unsettled = Number.NaN;
  try {
    // Warm-up (not measured): each node's model, each path's connections.
    for (const path of ["direct", "private"] as const)
      await runAgents({
        network,
        nodes: network.operators.length,
        path,
        agents: 2 * network.operators.length,
        maxTokens: MAX_TOKENS,
        turnTimeoutMs: TURN_TIMEOUT_MS,
        run: `warm-up-${path}`,
      });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const settlers = new Settlers(network, BATCH);
    await settlers.settle(network.signed.slice());

    // Each group's receipts (a node count and path, or the failover run) are settled as its nodes would settle them.
    const settle = async (group: RunResult[]) => {
      const posted = await settlers.settle(group.flatMap((r) => r.signed));
      for (const run of group) run.posted = posted;
      postedGroups.push(posted);
    };
    for (const nodes of NODE_COUNTS)
      for (const path of ["direct", "private"] as const) {
        const group: RunResult[] = [];
        for (const concurrency of CONCURRENCY)
          group.push(await measure(network, `${nodes}n-${path}-${concurrency}`, nodes, path, concurrency));
        await settle(group);
        runs.push(...group);
      }
    if (FAILOVER_NODES >= 2) {
      const failover = await measure(
        network,
        `failover-${FAILOVER_NODES}n-private-${AGENTS}`,
        FAILOVER_NODES,
        "private",
        AGENTS,
        {
          afterSigned: Math.ceil(AGENTS / 4),
        },
      );
      await settle([failover]);
      runs.push(failover);
    }

    // The challenge window passes; every batch is finalized: the operators are paid.
    await time.increase(WINDOW);
    await settlers.finalizeAll();
    unsettled = settlers.unsettled() + settlers.conflicts;
  } finally {
    await network.close();
  }
  write(runs, postedGroups, unsettled, {
    loadBefore,
    loadAfter: load(),
    wallMs: Math.round(performance.now() - benchStart),
  });
}

function groupGas(run: RunResult): number {
  return run.posted === undefined ? Number.NaN : gasPerReceipt(run.posted);
}

function write(
  runs: RunResult[],
  postedGroups: PostedRun[],
  unsettled: number,
  machine: { loadBefore: number[]; loadAfter: number[]; wallMs: number },
): void {
  const at = (nodes: number, path: PathKind, concurrency = AGENTS) =>
    runs.find(
      (r) => r.nodes === nodes && r.path === path && r.concurrency === concurrency && !r.label.startsWith("failover"),
    );
  const perNode = <T>(f: (nodes: number, path: PathKind) => T) =>
    Object.fromEntries(NODE_COUNTS.map((n) => [String(n), { direct: f(n, "direct"), private: f(n, "private") }]));
  const overhead = (nodes: number, concurrency = AGENTS) => {
    const d = at(nodes, "direct", concurrency)?.figures.ttftP50Ms;
    const p = at(nodes, "private", concurrency)?.figures.ttftP50Ms;
    return d === undefined || p === undefined ? Number.NaN : Math.round(((p - d) / d) * 1000) / 10;
  };
  const failover = runs.find((r) => r.label.startsWith("failover"));
  const allAudits = runs.map((r) => r.audit);
  const sum = (f: (a: ReceiptAudit) => number) => allAudits.reduce((s, a) => s + f(a), 0);

  console.log(
    `\nChat agents under load (${AGENTS} agents, max_tokens ${MAX_TOKENS}, ${MAX_CONCURRENT} generations at once per node)\n`,
  );
  const header = [
    "nodes",
    "path",
    "agents",
    "ok",
    "TTFT p50",
    "TTFT p99",
    "total p50",
    "total p99",
    "tok/s",
    "error %",
    "gas/receipt",
    "private +p50 TTFT",
  ];
  const rows = runs.map((r) => [
    r.label.startsWith("failover") ? `${r.nodes} (1 killed)` : String(r.nodes),
    r.path,
    String(r.concurrency),
    String(r.figures.ok),
    `${r.figures.ttftP50Ms} ms`,
    `${r.figures.ttftP99Ms} ms`,
    `${r.figures.totalP50Ms} ms`,
    `${r.figures.totalP99Ms} ms`,
    String(r.figures.tokensPerSecond),
    (r.figures.errorRate * 100).toFixed(2),
    String(groupGas(r)),
    r.path === "private" && !r.label.startsWith("failover") ? `${overhead(r.nodes, r.concurrency)} %` : "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const print = (cells: string[]) => console.log(cells.map((c, i) => c.padStart(widths[i]!)).join("  "));
  print(header);
  print(widths.map((w) => "-".repeat(w)));
  rows.forEach(print);

  const gasFigures = postedGroups.map(gasPerReceipt).filter(Number.isFinite);
  const worstGas = Math.max(...gasFigures);
  const overheads = NODE_COUNTS.map((n) => overhead(n));
  const unfinalized = postedGroups.reduce((n, p) => n + p.batches.filter((b) => b.finalizeGas === undefined).length, 0);
  const targets = [
    {
      target: `>= ${TARGETS.successRate * 100} % of ${AGENTS} agents served with one node killed`,
      value: failover === undefined ? "not run" : `${(failover.figures.successRate * 100).toFixed(2)} %`,
      met: failover !== undefined && failover.figures.successRate >= TARGETS.successRate,
    },
    {
      target: `private path adds <= ${TARGETS.privateOverheadP50Pct} % to p50 TTFT (at ${AGENTS} agents, per node count)`,
      value:
        NODE_COUNTS.map((n, i) => `${n} node(s): ${overheads[i]} %`).join(", ") +
        (CONCURRENCY[0] === 1 ? ` (one agent at a time, ${SEQUENTIAL} turns: ` : ` (at ${CONCURRENCY[0]} agents: `) +
        NODE_COUNTS.map((n) => `${n} node(s): ${overhead(n, CONCURRENCY[0])} %`).join(", ") +
        ")",
      met: overheads.every((o) => o <= TARGETS.privateOverheadP50Pct),
    },
    {
      target: "0 receipts lost or paid twice, nothing paid without being served",
      value: `${sum((a) => a.lost)} lost, ${unsettled} not settled, ${unfinalized} batches not finalized, ${sum((a) => a.duplicatePaymentIds + a.turnsPaidTwice)} paid twice, ${sum((a) => a.paidNotServed)} paid not served, ${sum((a) => a.unverified)} turns whose receipt did not check (${sum((a) => a.served)} kept and checked, ${sum((a) => a.signed)} signed)`,
      met:
        unsettled === 0 &&
        unfinalized === 0 &&
        sum((a) => a.lost + a.duplicatePaymentIds + a.turnsPaidTwice + a.paidNotServed + a.unverified) === 0,
    },
    {
      target: `settlement <= ${TARGETS.gasPerReceipt} gas per receipt (each node count and path's receipts, per operator, <= ${BATCH} per batch)`,
      value:
        gasFigures.length === 0 ? "not measured (no batch settled)" : `${Math.min(...gasFigures)} to ${worstGas} gas`,
      met: gasFigures.length > 0 && worstGas <= TARGETS.gasPerReceipt,
    },
  ];
  console.log("\nTargets (issue #14)\n");
  for (const t of targets) console.log(`${t.met ? "met   " : "MISSED"}  ${t.target}: ${t.value}`);
  if (failover?.killed !== undefined)
    console.log(
      `\nfailover: node ${failover.killed.node} killed after ${failover.killed.afterSigned} receipts signed (${failover.killed.atTurn} turns ended); ${failover.killed.turnsFailedOver} turns had an attempt fail there and were served elsewhere or not; ` +
        `${failover.figures.failovers} failovers; errors: ${failover.errors.join("; ") || "none"}`,
    );
  console.log(
    `\n${AGENTS} agents are concurrent; their generations are queued by each node's limit of ${MAX_CONCURRENT} at once (` +
      (MAX_QUEUED === 0
        ? "429, retried with backoff)."
        : `up to ${MAX_QUEUED} waiting at each node for at most ${QUEUE_TIMEOUT_MS} ms, then 429, retried with backoff).`) +
      ` load average before ${machine.loadBefore.join(" ")}, after ${machine.loadAfter.join(" ")} (${os.cpus().length} cores, other work shares them); ${Math.round(machine.wallMs / 1000)} s in all.`,
  );

  const dir = path.join(__dirname, "results");
  mkdirSync(dir, { recursive: true });
  const json = {
    agents: AGENTS,
    ttftP50Ms: perNode((n, p) => at(n, p)?.figures.ttftP50Ms),
    ttftP99Ms: perNode((n, p) => at(n, p)?.figures.ttftP99Ms),
    totalP50Ms: perNode((n, p) => at(n, p)?.figures.totalP50Ms),
    totalP99Ms: perNode((n, p) => at(n, p)?.figures.totalP99Ms),
    tokensPerSecond: perNode((n, p) => at(n, p)?.figures.tokensPerSecond),
    errorRate: perNode((n, p) => at(n, p)?.figures.errorRate),
    privateOverheadP50Pct: Object.fromEntries(NODE_COUNTS.map((n) => [String(n), overhead(n)])),
    privateOverheadP50PctByConcurrency: Object.fromEntries(
      NODE_COUNTS.map((n) => [String(n), Object.fromEntries(CONCURRENCY.map((c) => [String(c), overhead(n, c)]))]),
    ),
    successRate: {
      ...perNode((n, p) => at(n, p)?.figures.successRate),
      ...(failover === undefined ? {} : { failover: failover.figures.successRate }),
    },
    gasPerReceipt: {
      ...perNode((n, p) => {
        const r = at(n, p);
        return r === undefined ? undefined : groupGas(r);
      }),
      ...(failover === undefined ? {} : { failover: groupGas(failover) }),
    },
    targets,
    failover:
      failover === undefined
        ? null
        : {
            nodes: failover.nodes,
            killed: failover.killed,
            figures: failover.figures,
            audit: failover.audit,
            errors: failover.errors,
          },
    runs: runs.map((r) => ({
      label: r.label,
      nodes: r.nodes,
      path: r.path,
      concurrency: r.concurrency,
      ...r.figures,
      gasPerReceipt: groupGas(r),
      audit: r.audit,
      groupBatches: (r.posted?.batches ?? []).map((b) => ({
        batchId: Number(b.batchId),
        count: b.count,
        commitGas: Number(b.commitGas),
        finalizeGas: Number(b.finalizeGas ?? 0n),
      })),
      errors: r.errors,
    })),
    settings: {
      maxTokens: MAX_TOKENS,
      maxConcurrentPerNode: MAX_CONCURRENT,
      maxQueuedPerNode: MAX_QUEUED,
      queueTimeoutMs: QUEUE_TIMEOUT_MS,
      batch: BATCH,
      concurrency: CONCURRENCY,
      turnTimeoutMs: TURN_TIMEOUT_MS,
    },
    machine: { cores: os.cpus().length, ...machine },
    measuredAt: new Date().toISOString(),
  };
  writeFileSync(path.join(dir, `${RESULTS}.json`), `${JSON.stringify(json, null, 2)}\n`);

  const series = NODE_COUNTS.flatMap((n) =>
    (["direct", "private"] as const).map((p) => ({
      name: `${n} node${n === 1 ? "" : "s"}, ${p}`,
      points: CONCURRENCY.flatMap((c) => {
        const r = at(n, p, c);
        return r === undefined || !Number.isFinite(r.figures.ttftP50Ms)
          ? []
          : [[Math.log10(c), r.figures.ttftP50Ms] as const];
      }),
    })),
  );
  const plotted = series.filter((s) => s.points.length > 0);
  if (plotted.length === 0) {
    console.log(`\nwrote bench/results/${RESULTS}.json; no run succeeded, so no bench/results/${RESULTS}.svg`);
    return;
  }
  const svg = lineChart({
    title: `Time to first token (p50) against concurrent agents, max_tokens ${MAX_TOKENS}`,
    xLabel: `log10 of concurrent agents (${CONCURRENCY.join(", ")})`,
    yLabel: "p50 time to first token, ms",
    series: plotted,
  });
  writeFileSync(path.join(dir, `${RESULTS}.svg`), svg);
  console.log(`\nwrote bench/results/${RESULTS}.json and bench/results/${RESULTS}.svg`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

/**
 * End-to-end benchmark of the operator node on a real `hardhat node`: 1, 2 and 4 daemons (child processes)
 * serve a stream of vanilla and TEE jobs; then a stream of ZK jobs (the penguin classifier's circuit: each node
 * proves with snarkjs and settles the jobs of a batch window with one submitBatch); then a queue of jobs is
 * requested while no daemon runs and every job must settle exactly once when they start. Writes
 * bench/results/e2e.json.
 *
 * The network is the one devnet (src/devnet/devnet.ts), as `npm start` and the node tests start it.
 *
 * Run: npm run bench:e2e   (ts-node bench/e2e.ts). Sizes: BENCH_STREAM_JOBS (default 60 per node count),
 * BENCH_ZK_JOBS (default 40, one request per BENCH_ZK_INTERVAL_MS, default 250), BENCH_QUEUED_JOBS (default 1000),
 * BENCH_NODES (default "1,2,4").
 */
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import hre from "hardhat";
import { Interface, ZeroAddress, ZeroHash, type Log } from "ethers";
import { addressesFromRecord } from "../src/core/contracts";
import { encodeInput } from "../src/core/job";
import { Mode, MODE_NAMES } from "../src/core/modes";
import { sleep } from "../src/core/retry";
import { freePort } from "../src/devnet/chain";
import { startDevnet, type Devnet } from "../src/devnet/devnet";
import type { DevnetOperator, OperatorDaemon } from "../src/devnet/operators";
import { clampToRange } from "../src/models";
import { buildPenguinClassifier } from "../src/models/penguins";
import type { BundledClassifier } from "../src/models/bundle";
import { NodeStore } from "../src/node/store";
import type { ZkDeployment } from "../src/zkml/deploy";
import { zkJobRequest } from "../src/zkml/job";
import { report, type Row } from "./lib/report";

const STREAM_JOBS = Number(process.env.BENCH_STREAM_JOBS ?? 60);
const QUEUED_JOBS = Number(process.env.BENCH_QUEUED_JOBS ?? 1000);
const NODE_COUNTS = (process.env.BENCH_NODES ?? "1,2,4").split(",").map(Number);
const STREAM_INTERVAL_MS = Number(process.env.BENCH_INTERVAL_MS ?? 100);
const ZK_JOBS = Number(process.env.BENCH_ZK_JOBS ?? 40);
const ZK_INTERVAL_MS = Number(process.env.BENCH_ZK_INTERVAL_MS ?? 250);
/** The setup size the tests use for the penguin circuit (so the cached setup is shared). */
const ZK_SETUP_POWER = 12;
const TOKEN = 10n ** 18n;

/** The devnet with the penguin model it serves. */
interface Net {
  devnet: Devnet<BundledClassifier>;
  model: BundledClassifier;
  modelId: bigint;
}

/** The penguin model published for ZK only. */
interface ZkPublished {
  modelId: bigint;
  deployment: ZkDeployment;
}

type Operator = DevnetOperator;

interface Sent {
  jobId: bigint;
  mode: number;
  sentAt: number;
}

/**
 * Sends `count` requests (alternating vanilla/TEE unless `mode` is fixed) at one per `intervalMs`; with `zk`, ZK
 * jobs of that model, each on another held-out row with its own salted commitment.
 */
async function sendJobs(net: Net, count: number, intervalMs: number, mode?: number, zk?: ZkPublished): Promise<Sent[]> {
  const { escrow } = net.devnet.contracts;
  const signer = escrow.connect(net.devnet.requester);
  const latest = await net.devnet.provider.getBlock("latest");
  const input = encodeInput(net.model.example);
  const pending: Promise<Sent>[] = [];
  for (let i = 0; i < count; i++) {
    const m = zk !== undefined ? Mode.Zk : (mode ?? (i % 2 === 0 ? Mode.Vanilla : Mode.Tee));
    const committed =
      zk === undefined
        ? undefined
        : zkJobRequest(
            zk.deployment.zk.model,
            clampToRange(net.model.test.x[i % net.model.test.x.length]!, net.model.inputRange),
          );
    const sentAt = Date.now();
    const tx = await signer.request({
      modelId: zk?.modelId ?? net.modelId,
      version: 1,
      mode: m,
      redundancy: 1,
      deadline: BigInt(latest!.timestamp + 7_200),
      feePerNode: TOKEN / 10n,
      collateral: TOKEN,
      maxTotal: 100n * TOKEN,
      callback: ZeroAddress,
      callbackGasLimit: 0,
      inputCommitment: committed?.inputCommitment ?? ZeroHash,
      input: committed?.input ?? input,
      inputUri: "",
    });
    pending.push(
      tx.wait().then((receipt) => ({
        jobId: escrow.interface.parseLog(
          receipt!.logs.find((l) => l.address.toLowerCase() === receipt!.to!.toLowerCase())!,
        )!.args.jobId as bigint,
        mode: m,
        sentAt,
      })),
    );
    if (intervalMs > 0) await sleep(intervalMs);
  }
  return Promise.all(pending);
}

/** Records when each JobSettled/JobRefunded is first seen, from `fromBlock` on, polling every 100 ms until stopped. */
function watchFinal({ devnet: net }: Net, fromBlock: number) {
  const iface = net.contracts.escrow.interface as unknown as Interface;
  const settled = iface.getEvent("JobSettled")!.topicHash;
  const refundedTopic = iface.getEvent("JobRefunded")!.topicHash;
  const settledAt = new Map<bigint, number>();
  const settledEvents = new Map<bigint, number>();
  const refunded = new Set<bigint>();
  let cursor = fromBlock;
  let running = true;
  const loop = (async () => {
    while (running) {
      const head = await net.provider.getBlockNumber();
      if (head >= cursor) {
        const logs: Log[] = await net.provider.getLogs({
          address: await net.contracts.escrow.getAddress(),
          topics: [[settled, refundedTopic]],
          fromBlock: cursor,
          toBlock: head,
        });
        const now = Date.now();
        for (const log of logs) {
          const id = BigInt(log.topics[1]!);
          if (log.topics[0] === refundedTopic) refunded.add(id);
          else {
            settledEvents.set(id, (settledEvents.get(id) ?? 0) + 1);
            if (!settledAt.has(id)) settledAt.set(id, now);
          }
        }
        cursor = head + 1;
      }
      await sleep(100);
    }
  })();
  return {
    settledAt,
    settledEvents,
    refunded,
    /** Resolves once every job in `jobs` is settled or refunded, then stops polling. */
    async until(jobs: Sent[]): Promise<void> {
      while (!jobs.every((j) => settledAt.has(j.jobId) || refunded.has(j.jobId))) await sleep(100);
      running = false;
      await loop;
    },
  };
}

/**
 * Per settled job of `sent` that `operator` served: its time from seeing the job to knowing it settled, minus that
 * job's own inference time, as the node recorded them (`seen_at`, `settled_at`, `compute_ms`).
 */
function overheadsOf(operator: Operator, sent: Sent[]): number[] {
  const ids = new Set(sent.map((j) => j.jobId.toString()));
  const db = new Database(NodeStore.pathIn(operator.dataDir), { readonly: true });
  try {
    const rows = db
      .prepare(
        "SELECT job_id, seen_at, settled_at, compute_ms FROM jobs WHERE state = 'settled' AND compute_ms IS NOT NULL",
      )
      .all() as { job_id: string; seen_at: number; settled_at: number; compute_ms: number }[];
    return rows.filter((r) => ids.has(r.job_id)).map((r) => r.settled_at - r.seen_at - r.compute_ms);
  } finally {
    db.close();
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function scrape(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const match =
      /^(vin_job_latency_seconds_(?:sum|count)|vin_compute_seconds_(?:sum|count)|vin_gas_spent_wei_total)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(
        line,
      );
    if (match) out[match[1]!] = (out[match[1]!] ?? 0) + Number(match[2]);
  }
  return out;
}

/** Starts each operator's daemon and waits until its metrics endpoint answers. */
async function startNodes(net: Net, operators: Operator[]): Promise<OperatorDaemon[]> {
  const daemons = operators.map((o) => {
    let output = "";
    const daemon = net.devnet.startDaemon(o, {
      env: { VIN_LOG_LEVEL: "warn" },
      onOutput: (chunk) => (output = (output + chunk).slice(-4_000)),
    });
    return { daemon, output: () => output };
  });
  await Promise.all(
    daemons.map(async ({ daemon, output }) => {
      while (
        !(await scrape(
          (JSON.parse(readFileSync(daemon.operator.config, "utf8")) as { metricsPort: number }).metricsPort,
        ).then(
          () => true,
          () => false,
        ))
      ) {
        if (daemon.child.exitCode !== null || daemon.child.signalCode !== null)
          throw new Error(`daemon ${daemon.operator.name} exited:\n${output().slice(-2_000)}`);
        await sleep(200);
      }
    }),
  );
  return daemons.map((d) => d.daemon);
}

/**
 * ZK jobs at one per `ZK_INTERVAL_MS` served by every daemon: latency from request to settled (which includes
 * proving and the batch window), the node's overhead beyond inference and proving, and how many transactions
 * settled them.
 */
async function zkStream(
  net: Net,
  operators: Operator[],
  ports: number[],
  zk: ZkPublished,
  details: Record<string, unknown>,
): Promise<Row[]> {
  const n = Math.max(...NODE_COUNTS);
  const daemons = await startNodes(net, operators.slice(0, n));
  const before = await Promise.all(ports.slice(0, n).map(scrape));
  const fromBlock = await net.devnet.provider.getBlockNumber();
  const started = Date.now();
  const watch = watchFinal(net, fromBlock);
  const sent = await sendJobs(net, ZK_JOBS, ZK_INTERVAL_MS, Mode.Zk, zk);
  await watch.until(sent);
  const after = await Promise.all(ports.slice(0, n).map(scrape));
  await Promise.all(daemons.map((d) => d.stop()));
  const settledAt = new Map([...watch.settledAt].filter(([id]) => sent.some((j) => j.jobId === id)));
  const elapsed = (Math.max(...settledAt.values()) - started) / 1000;
  const delta = (key: string) => after.reduce((s, m, i) => s + (m[key] ?? 0) - (before[i]![key] ?? 0), 0);
  const prove = delta("vin_compute_seconds_sum") / Math.max(1, delta("vin_compute_seconds_count"));
  const latencies = sent.filter((s) => settledAt.has(s.jobId)).map((s) => settledAt.get(s.jobId)! - s.sentAt);
  const overheads = operators.slice(0, n).flatMap((o) => overheadsOf(o, sent));
  // Settlement transactions: every node's submissions (own or batched) that carry one of these jobs.
  const ids = new Set(sent.map((j) => j.jobId.toString()));
  const settlements = operators.slice(0, n).flatMap((o) => {
    const db = new Database(NodeStore.pathIn(o.dataDir), { readonly: true });
    try {
      const own = db
        .prepare("SELECT job_id FROM txs WHERE kind = 'submit' AND status = 'mined' AND job_id IS NOT NULL")
        .all() as { job_id: string }[];
      const batched = db
        .prepare(
          "SELECT b.tx_key, COUNT(*) AS n FROM batch_members b JOIN txs t ON t.key = b.tx_key WHERE t.status = 'mined' GROUP BY b.tx_key",
        )
        .all() as { tx_key: string; n: number }[];
      return [
        ...own.filter((r) => ids.has(r.job_id)).map(() => 1),
        ...batched
          .filter((b) =>
            b.tx_key
              .slice(6)
              .split(",")
              .some((id) => ids.has(id)),
          )
          .map((b) => b.n),
      ];
    } finally {
      db.close();
    }
  });
  const refunded = sent.filter((j) => watch.refunded.has(j.jobId)).length;
  details.zk_stream = {
    settled: settledAt.size,
    refunded,
    settlementTxs: settlements.length,
    jobsPerSettlement: settlements,
  };
  console.log(
    `ZK, ${n} node(s): ${settledAt.size}/${ZK_JOBS} settled in ${elapsed.toFixed(1)} s by ${settlements.length} transactions, ${refunded} refunded`,
  );
  return [
    {
      key: `zk_${n}_nodes_jobs_per_s`,
      value: settledAt.size / elapsed,
      unit: "jobs/s",
      higherIsBetter: true,
      note: `${ZK_JOBS} ZK jobs (penguins circuit), one request per ${ZK_INTERVAL_MS} ms`,
    },
    {
      key: `zk_${n}_nodes_p50`,
      value: percentile(latencies, 50),
      unit: "ms",
      note: `request sent -> JobSettled seen (proving ${(prove * 1000).toFixed(0)} ms mean, batch window included)`,
    },
    { key: `zk_${n}_nodes_p99`, value: percentile(latencies, 99), unit: "ms" },
    {
      key: `zk_${n}_nodes_overhead_p50`,
      value: percentile(overheads, 50),
      unit: "ms",
      note: "seen->settled minus inference and proving; includes the batch window (zkBatchWindowMs)",
    },
    {
      key: `zk_${n}_nodes_settlement_txs`,
      value: settlements.length,
      unit: "txs",
      note: `${settledAt.size} jobs; largest batch ${Math.max(0, ...settlements)}`,
    },
    {
      key: `zk_${n}_nodes_gas_per_job`,
      value: Number(delta("vin_gas_spent_wei_total")) / Math.max(1, settledAt.size) / 1e9,
      unit: "gwei",
      note: "fees paid by nodes (claim + proof submission) per settled job",
    },
  ];
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), "vin-bench-e2e-"));
  const devnet = await startDevnet({
    hre,
    port: await freePort(),
    workDir,
    network: "bench",
    models: [{ model: buildPenguinClassifier() }],
    intervalMiningMs: 1_000,
  });
  const [{ model, modelId }] = devnet.models;
  const net: Net = { devnet, model, modelId };
  const { requester, contracts } = devnet;
  await (await contracts.token.connect(requester).mint(await requester.getAddress(), 1_000_000n * TOKEN)).wait();
  await (await contracts.token.connect(requester).approve(await contracts.escrow.getAddress(), 2n ** 255n)).wait();
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  const operators: Operator[] = [];
  const ports: number[] = [];
  try {
    const zk = ZK_JOBS > 0 ? await publishZkModel(net) : undefined;
    const head = await devnet.provider.getBlockNumber();
    for (let i = 0; i < Math.max(...NODE_COUNTS); i++) {
      const port = await freePort();
      const settings = {
        contracts: { ...addressesFromRecord(devnet.system.record), startBlock: head },
        metricsPort: port,
        workers: 4,
        pollIntervalMs: 200,
        claimThreshold: "0",
        stuckTxMs: 20_000,
        rpcTimeoutMs: 3_000,
      };
      operators.push(
        await devnet.addOperator({
          name: `bench-${i}`,
          modes: zk === undefined ? ["vanilla", "tee"] : ["vanilla", "tee", "zk"],
          settings,
        }),
      );
      ports.push(port);
    }
    for (const n of NODE_COUNTS) {
      const daemons = await startNodes(net, operators.slice(0, n));
      const before = await Promise.all(ports.slice(0, n).map(scrape));
      const fromBlock = await net.devnet.provider.getBlockNumber();
      const started = Date.now();
      const watch = watchFinal(net, fromBlock);
      const sent = await sendJobs(net, STREAM_JOBS, STREAM_INTERVAL_MS);
      await watch.until(sent);
      const settledAt = new Map([...watch.settledAt].filter(([id]) => sent.some((j) => j.jobId === id)));
      const refunded = sent.filter((j) => watch.refunded.has(j.jobId)).length;
      const elapsed = (Math.max(...settledAt.values()) - started) / 1000;
      const after = await Promise.all(ports.slice(0, n).map(scrape));
      await Promise.all(daemons.map((d) => d.stop()));
      const delta = (key: string) => after.reduce((s, m, i) => s + (m[key] ?? 0) - (before[i]![key] ?? 0), 0);
      const nodeLatency = delta("vin_job_latency_seconds_sum") / Math.max(1, delta("vin_job_latency_seconds_count"));
      const compute = delta("vin_compute_seconds_sum") / Math.max(1, delta("vin_compute_seconds_count"));
      rows.push({
        key: `stream_${n}_nodes_jobs_per_s`,
        value: settledAt.size / elapsed,
        unit: "jobs/s",
        higherIsBetter: true,
        note: `${STREAM_JOBS} jobs, one request per ${STREAM_INTERVAL_MS} ms`,
      });
      for (const mode of [Mode.Vanilla, Mode.Tee]) {
        const latencies = sent
          .filter((s) => s.mode === mode && settledAt.has(s.jobId))
          .map((s) => settledAt.get(s.jobId)! - s.sentAt);
        rows.push({
          key: `stream_${n}_nodes_${MODE_NAMES[mode]}_p50`,
          value: percentile(latencies, 50),
          unit: "ms",
          note: "request sent -> JobSettled seen",
        });
        rows.push({ key: `stream_${n}_nodes_${MODE_NAMES[mode]}_p99`, value: percentile(latencies, 99), unit: "ms" });
      }
      rows.push({
        key: `stream_${n}_nodes_overhead_per_job`,
        value: (nodeLatency - compute) * 1000,
        unit: "ms",
        target: 50,
        note: `mean of node's seen->settled minus inference (${(compute * 1000).toFixed(2)} ms)`,
      });
      const overheads = operators.slice(0, n).flatMap((o) => overheadsOf(o, sent));
      rows.push({
        key: `stream_${n}_nodes_overhead_p50`,
        value: percentile(overheads, 50),
        unit: "ms",
        target: 50,
        note: `per job from the node databases: seen->settled minus its own inference (${overheads.length} jobs)`,
      });
      rows.push({ key: `stream_${n}_nodes_overhead_p99`, value: percentile(overheads, 99), unit: "ms" });
      rows.push({
        key: `stream_${n}_nodes_gas_per_job`,
        value: Number(delta("vin_gas_spent_wei_total")) / Math.max(1, settledAt.size) / 1e9,
        unit: "gwei",
        note: "fees paid by nodes (claim + submit) per settled job",
      });
      details[`stream_${n}`] = { refunded, settled: settledAt.size };
      console.log(
        `${n} node(s): ${settledAt.size}/${STREAM_JOBS} settled in ${elapsed.toFixed(1)} s, ${refunded} refunded`,
      );
    }

    if (zk !== undefined) rows.push(...(await zkStream(net, operators, ports, zk, details)));

    const n = Math.max(...NODE_COUNTS);
    const fromBlock = await net.devnet.provider.getBlockNumber();
    const queued = await sendJobs(net, QUEUED_JOBS, 0, Mode.Vanilla);
    const watch = watchFinal(net, fromBlock);
    const started = Date.now();
    const daemons = await startNodes(net, operators.slice(0, n));
    await watch.until(queued);
    const queuedIds = new Set(queued.map((j) => j.jobId));
    const settledAt = new Map([...watch.settledAt].filter(([id]) => queuedIds.has(id)));
    const settledEvents = new Map([...watch.settledEvents].filter(([id]) => queuedIds.has(id)));
    const refunded = [...watch.refunded].filter((id) => queuedIds.has(id)).length;
    const elapsed = (Math.max(...settledAt.values()) - started) / 1000;
    await Promise.all(daemons.map((d) => d.stop()));
    // Duplicates: a job settled twice on chain, or submitted by more than one transaction across all node databases.
    const submits = operators.slice(0, n).reduce((sum, o) => {
      const db = new Database(NodeStore.pathIn(o.dataDir), { readonly: true });
      const ids = new Set(queued.map((j) => j.jobId.toString()));
      const rows = (
        db.prepare("SELECT job_id FROM txs WHERE kind = 'submit' AND status != 'dropped'").all() as { job_id: string }[]
      ).filter((r) => ids.has(r.job_id));
      db.close();
      return sum + rows.length;
    }, 0);
    const duplicated = [...settledEvents.values()].filter((c) => c > 1).length + Math.max(0, submits - settledAt.size);
    rows.push({
      key: `queued_${QUEUED_JOBS}_settled`,
      value: settledAt.size,
      unit: "jobs",
      target: QUEUED_JOBS,
      higherIsBetter: true,
      note: `${n} nodes; refunded ${refunded}, duplicated ${duplicated}, submit txs ${submits}`,
    });
    rows.push({
      key: `queued_${QUEUED_JOBS}_jobs_per_s`,
      value: settledAt.size / elapsed,
      unit: "jobs/s",
      higherIsBetter: true,
      note: `${n} nodes draining a backlog`,
    });
    details.queued = {
      settled: settledAt.size,
      refunded,
      duplicated,
      submits,
      lost: QUEUED_JOBS - settledAt.size - refunded,
    };
    report("e2e", "Operator node end to end (hardhat node, child-process daemons)", rows, {
      details,
      streamJobs: STREAM_JOBS,
      queuedJobs: QUEUED_JOBS,
    });
  } finally {
    await devnet.stop();
  }
}

/** The penguin classifier as a new model whose version serves ZK only (circuit built once, cached). */
async function publishZkModel(net: Net): Promise<ZkPublished> {
  const { modelId, zk } = await net.devnet.publish({
    model: net.model,
    modes: [],
    zk: { minPower: ZK_SETUP_POWER },
    owner: net.devnet.requester,
  });
  return { modelId, deployment: zk! };
}

void main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

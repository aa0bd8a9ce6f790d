/**
 * Oblivious HTTP benchmark (`npm run bench:ohttp`): the latency OHTTP adds over a direct request at 1, 100 and 1,000
 * concurrent clients, and the highest rate a relay sustains. Writes bench/results/ohttp.json.
 *
 * Processes. Each party runs in its own process, as it would on its own host; this machine has few cores, so the
 * output and the JSON say where each one runs:
 *
 * - gateway: serves one application (a small JSON answer) twice — directly over HTTP at /direct, and as an OHTTP
 *   gateway (`createGatewayHandler`) — so both paths reach the same target in the same process;
 * - relay: `createRelayHandler` forwarding to that gateway;
 * - load generator: a worker thread of this process (BENCH_OHTTP_THREADS for more, client i on thread i mod
 *   threads); the main thread only orchestrates, between runs. Each client is one keep-alive connection of its own (a
 *   `node:http` agent with one socket). A direct request is a POST of the JSON body to /direct; an oblivious one
 *   does what `ohttpFetch` does — binary HTTP encoding with a Date, HPKE seal, POST through the relay, open,
 *   decode — over the same kind of connection, so the HTTP client is the same on both paths.
 *
 * Latency (open loop). Requests arrive on a Poisson schedule at a fixed offered rate (BENCH_OHTTP_RATES, per
 * level), each to a client drawn at random; a request is sent at its scheduled time whether or not earlier ones
 * have returned, so queueing anywhere shows up as latency instead of lowering the rate (a closed loop of N clients
 * would hide it). Latency runs from the scheduled time to the last byte of the answer (decoded, for OHTTP); the
 * load generator's own lateness in starting requests is reported beside it. Each level is ROUNDS paired rounds: a
 * direct run, then an oblivious run on the same seeded schedule; a round's added latency is its OHTTP percentile
 * minus its direct percentile, and the level's is the median over rounds, so that one stall of a shared machine
 * during one run does not decide the figure (the pooled percentiles are printed and kept beside it).
 * The CPU each process spent per request is measured too (process.cpuUsage over each run), which does not depend on
 * the other processes on the machine the way latency does. All processes are warmed up first (2,000 untimed requests
 * per path from 50 clients) so the JIT has compiled the hot paths before anything is timed.
 *
 * Relay throughput. A second relay forwards pre-sealed 120-byte requests to a stub gateway that answers at once (no
 * cryptography anywhere), so the relay is the bottleneck. The three processes are unpinned by default: on a machine
 * shared with other work, a relay pinned to one core waits for that core while the other is free (measured: it
 * then missed 1,000/s); BENCH_OHTTP_PIN=1 pins the relay to cpu 0 and the stub and the load generator to cpu 1
 * (taskset), for a quiet machine. Open-loop steps of rising offered rate from 256 keep-alive
 * connections: a step is sustained when its forwarded rate is ≥ 99% of the offered rate and < 1% of its requests
 * fail (not 200, a socket error, or no answer within 1 s of the scheduled time); a step that is not is tried once
 * more (other work on a shared machine can only lower the rate). relayRps is the highest sustained step. The first unsustained rate is then offered to the stub directly, to show whether the load generator could
 * offer it at all.
 *
 * Environment: BENCH_OHTTP_RATES (offered requests/s per level, default "1:50,100:200,1000:200"),
 * BENCH_OHTTP_SECONDS (per run, default 3), BENCH_OHTTP_ROUNDS (paired rounds per level, default 5), BENCH_RELAY_SECONDS (per step, default 4), BENCH_RELAY_RATES
 * (first:step:max, default "1000:500:12000"), BENCH_OHTTP_PIN=1 to pin the throughput processes, BENCH_OHTTP_THREADS
 * (load generator threads, default 1),
 * BENCH_OHTTP_CHILD_FLAGS (node flags of the child processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import http, { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { createLogger } from "../src/core/log";
import {
  createGatewayHandler,
  createRelayHandler,
  decodeKeyConfig,
  decodeResponse,
  encapsulateRequest,
  encodeKeyConfig,
  encodeRequest,
  generateGatewayKey,
  KeyRing,
  MEDIA_TYPES,
  mediaType,
  ohttpFetch,
  relayResourceUrl,
  ReplayCache,
  TokenBucket,
  type GatewayHandler,
} from "../src/ohttp";
import { report, type Row } from "./lib/report";

const RATES = new Map(
  (process.env.BENCH_OHTTP_RATES ?? "1:50,100:200,1000:200")
    .split(",")
    .map((pair) => pair.split(":").map(Number) as [number, number]),
);
const SECONDS = Number(process.env.BENCH_OHTTP_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_OHTTP_ROUNDS ?? 5);
const RELAY_SECONDS = Number(process.env.BENCH_RELAY_SECONDS ?? 4);
const [RELAY_FIRST, RELAY_STEP, RELAY_MAX] = (process.env.BENCH_RELAY_RATES ?? "1000:500:12000").split(":").map(Number);
const PIN = process.env.BENCH_OHTTP_PIN === "1";
/** Extra node flags for the child processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them. */
const CHILD_FLAGS = (process.env.BENCH_OHTTP_CHILD_FLAGS ?? "").split(" ").filter((flag) => flag !== "");
const RELAY_CONNECTIONS = 256;
/** Load generator threads (measured: a second one on 2 cores raised CPU per request and lowered nothing). */
const LOAD_THREADS = Math.max(1, Number(process.env.BENCH_OHTTP_THREADS ?? 1));
const RELAY_DEADLINE_MS = 1_000;
const PROMPT = JSON.stringify({ model: 7, prompt: "Summarise the quarterly report in three sentences. ".repeat(4) });
const TARGET = "https://gateway.bench/v1/infer";
const TARGETS = { addedP50Ms: 3, addedP99Ms: 15, relayRps: 3_000 };

/* CHILD PROCESSES */

/** The application, the same behind both endpoints. */
const application: GatewayHandler = async (request) =>
  Response.json({ ok: true, bytes: (await request.arrayBuffer()).byteLength });

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer({ keepAliveTimeout: 120_000 }, handler);
  server.maxConnections = 10_000;
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
  return (server.address() as AddressInfo).port;
}

/** The direct endpoint: the same application, its request and response as WHATWG objects as the gateway has them. */
async function direct(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  const answer = await application(
    new Request(`${TARGET}`, {
      method: req.method,
      headers: { "content-type": req.headers["content-type"] ?? "" },
      body: Buffer.concat(parts),
    }),
    { signal: new AbortController().signal },
  );
  const body = Buffer.from(await answer.arrayBuffer());
  res
    .writeHead(answer.status, {
      "content-type": answer.headers.get("content-type") ?? "",
      "content-length": body.length,
    })
    .end(body);
}

/**
 * Every child answers `{ cpu }` with its CPU time so far, so the parent can attribute CPU to each run, and exits on
 * `{ exit }` (an exit that writes a --cpu-prof profile).
 */
function answerCpu(): void {
  process.on("message", (message: { cpu?: number; exit?: boolean }) => {
    if (message.cpu !== undefined) process.send!({ cpu: message.cpu, usage: process.cpuUsage() });
    if (message.exit === true) process.exit(0);
  });
}

async function gatewayProcess(): Promise<void> {
  const key = await generateGatewayKey({ keyId: 1 });
  const ohttp = createGatewayHandler({
    keys: new KeyRing([key]),
    handler: application,
    logger: createLogger({ destination: "/dev/null" }),
    replay: new ReplayCache({ maxEntries: 2_000_000 }),
  });
  const port = await listen((req, res) => (req.url === "/direct" ? void direct(req, res) : ohttp(req, res)));
  answerCpu();
  process.send!({ port, config: Buffer.from(encodeKeyConfig(key.config)).toString("hex") });
}

async function relayProcess(gateway: string): Promise<void> {
  const origin = new URL(gateway).origin;
  const relay = createRelayHandler({
    allowGateway: (url) => url.origin === origin,
    logger: createLogger({ destination: "/dev/null" }),
    rateLimit: new TokenBucket({ ratePerSecond: 1e9, burst: 1e9 }),
  });
  const port = await listen(relay);
  answerCpu();
  process.send!({ port });
}

/** A gateway stand-in that answers every request at once with a fixed sealed-looking body: isolates the relay. */
async function stubProcess(): Promise<void> {
  const body = Buffer.alloc(90, 7);
  const port = await listen((req, res) => {
    req.resume();
    req.once("end", () =>
      res.writeHead(200, { "content-type": MEDIA_TYPES.response, "content-length": body.length }).end(body),
    );
  });
  answerCpu();
  process.send!({ port });
}

/* ORCHESTRATION */

interface Party {
  name: string;
  child: ChildProcess;
  port: number;
  config?: string;
  cpu: string;
}

let cpuAsks = 0;

function start(name: string, ...args: string[]): Promise<Party> {
  const child = fork(__filename, [name, ...args], {
    execArgv: ["-r", "ts-node/register/transpile-only", ...CHILD_FLAGS],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (message: { port: number; config?: string }) =>
      resolve({ name, child, ...message, cpu: "any" }),
    );
    child.once("exit", (code) => reject(new Error(`${name} process exited with ${code}`)));
  });
}

/** CPU time (user + system, µs) a child has used so far. */
function cpuOf(party: Party): Promise<number> {
  const ask = ++cpuAsks;
  return new Promise((resolve) => {
    const on = (message: { cpu?: number; usage?: NodeJS.CpuUsage }) => {
      if (message.cpu !== ask) return;
      party.child.off("message", on);
      resolve(message.usage!.user + message.usage!.system);
    };
    party.child.on("message", on);
    party.child.send({ cpu: ask });
  });
}

/** Pins `pid` to `cpus` ("0", "1", "0,1"); returns what it runs on, "any" when pinning is off or impossible. */
function pin(pid: number, cpus: string): string {
  if (!PIN) return "any core";
  try {
    execFileSync("taskset", ["-acp", cpus, String(pid)], { stdio: "ignore" });
    return `cpu ${cpus}`;
  } catch {
    return "any core";
  }
}

/** The CPU (µs) each of `parties` and this process spend while `work` runs. */
async function measured<T>(
  parties: Party[],
  work: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = await Promise.all(parties.map(cpuOf));
  const self = process.cpuUsage();
  const result = await work();
  const after = await Promise.all(parties.map(cpuOf));
  const own = process.cpuUsage(self);
  const cpu: Record<string, number> = { "load generator": own.user + own.system };
  parties.forEach((party, i) => (cpu[party.name] = after[i]! - before[i]!));
  return { result, cpu };
}

/* LOAD GENERATION */

/** A small seeded generator (mulberry32): the same schedule for the direct and the oblivious runs. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Arrival {
  /** ms after the start of the run. */
  at: number;
  client: number;
}

/** Poisson arrivals at `rate`/s for `seconds`, each to one of `clients` drawn at random. */
function poisson(rate: number, seconds: number, clients: number, seed: number): Arrival[] {
  const next = random(seed);
  const arrivals: Arrival[] = [];
  for (let at = -Math.log(1 - next()) * (1000 / rate); at < seconds * 1000; at += -Math.log(1 - next()) * (1000 / rate))
    arrivals.push({ at, client: Math.floor(next() * clients) });
  return arrivals;
}

/** Arrivals every 1000/`rate` ms for `seconds`, round robin over `clients`. */
function uniform(rate: number, seconds: number, clients: number): Arrival[] {
  return Array.from({ length: Math.round(rate * seconds) }, (_, i) => ({ at: (i * 1000) / rate, client: i % clients }));
}

interface RunResult {
  /** ms from scheduled time to the answer read, of the requests that succeeded. */
  latencies: number[];
  /** ms from scheduled time to the load generator starting the request. */
  lags: number[];
  errors: number;
  /** Answers completed (successfully) by the end of the schedule's window. */
  doneInWindow: number;
  firstError?: string;
}

/**
 * Sends one request per arrival at its time from `began` (performance.now() ms), never waiting for earlier ones
 * (open loop); `deadlineMs` turns a slow success into an error.
 */
function openLoop(
  arrivals: Arrival[],
  began: number,
  seconds: number,
  send: (client: number) => Promise<void>,
  deadlineMs: number,
): Promise<RunResult> {
  const result: RunResult = { latencies: [], lags: [], errors: 0, doneInWindow: 0 };
  const windowEnd = began + seconds * 1000;
  let next = 0;
  let settled = 0;
  return new Promise((resolve) => {
    if (arrivals.length === 0) return resolve(result);
    const finish = () => ++settled === arrivals.length && resolve(result);
    const fire = (arrival: Arrival) => {
      const scheduled = began + arrival.at;
      result.lags.push(performance.now() - scheduled);
      send(arrival.client).then(
        () => {
          const now = performance.now();
          if (now - scheduled > deadlineMs) result.errors++;
          else result.latencies.push(now - scheduled);
          if (now <= windowEnd) result.doneInWindow++;
          finish();
        },
        (error: unknown) => {
          result.errors++;
          result.firstError ??= String((error as Error).message ?? error);
          finish();
        },
      );
    };
    const tick = () => {
      const now = performance.now();
      while (next < arrivals.length && began + arrivals[next]!.at <= now) fire(arrivals[next++]!);
      if (next < arrivals.length) setTimeout(tick, Math.max(0, began + arrivals[next]!.at - performance.now()));
    };
    setTimeout(tick, Math.max(0, began - performance.now()));
  });
}

/** One POST over `agent`; resolves with the status, content type and whole body. */
function post(
  agent: http.Agent,
  port: number,
  path: string,
  type: string,
  body: Uint8Array | string,
): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent,
        headers: { "content-type": type, "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (chunk: Buffer) => parts.push(chunk));
        res.once("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers["content-type"] ?? "",
            body: parts.length === 1 ? parts[0]! : Buffer.concat(parts),
          }),
        );
        res.once("error", reject);
      },
    );
    req.once("error", reject);
    req.end(body);
  });
}

/** What a load generator thread is told to do; it answers each command once, in order. */
type Command =
  /** Open a direct and a relay connection for each client of `ids` (one request each), then `warm` more per path. */
  | { kind: "clients"; ids: number[]; warm: number }
  /** One agent of `sockets` keep-alive connections for raw requests to `port`/`path`, each opened once. */
  | { kind: "pool"; sockets: number; port: number; path: string; warm: number }
  /** An open-loop run starting at `startAt` (ms since the epoch, as performance.timeOrigin counts). */
  | { kind: "run"; path: Path; arrivals: Arrival[]; startAt: number; seconds: number; deadlineMs: number }
  /** Close every connection. */
  | { kind: "close" };

type Path = "direct" | "ohttp" | "raw";

/** The parties a load generator thread sends to. */
interface Targets {
  gatewayPort: number;
  relayPort: number;
  config: string;
}

/**
 * A load generator thread: the clients whose index it owns, each with its own keep-alive connections, so one
 * client's sealing and opening does not queue behind every other client's in one event loop.
 */
function loadThread(targets: Targets): void {
  const config = decodeKeyConfig(new Uint8Array(Buffer.from(targets.config, "hex")));
  const relayPath = relayResourceUrl("http://relay.bench/", `http://127.0.0.1:${targets.gatewayPort}/ohttp`).pathname;
  const direct = new Map<number, http.Agent>();
  const relayed = new Map<number, http.Agent>();
  let pool: { agent: http.Agent; port: number; path: string } | undefined;
  const body = Buffer.alloc(120, 9);
  const agentOf = (agents: Map<number, http.Agent>, client: number) => {
    let agent = agents.get(client);
    if (agent === undefined) agents.set(client, (agent = new http.Agent({ keepAlive: true, maxSockets: 1 })));
    return agent;
  };
  const send: Record<Path, (client: number) => Promise<void>> = {
    direct: async (client) => {
      const answer = await post(agentOf(direct, client), targets.gatewayPort, "/direct", "application/json", PROMPT);
      if (answer.status !== 200) throw new Error(`direct request answered ${answer.status}`);
    },
    ohttp: async (client) => {
      const request = new Request(TARGET, {
        method: "POST",
        headers: { "content-type": "application/json", date: new Date().toUTCString() },
        body: PROMPT,
      });
      const { encapsulated, context } = await encapsulateRequest(config, await encodeRequest(request));
      const answer = await post(
        agentOf(relayed, client),
        targets.relayPort,
        relayPath,
        MEDIA_TYPES.request,
        encapsulated,
      );
      if (answer.status !== 200 || mediaType(answer.type) !== MEDIA_TYPES.response)
        throw new Error(`oblivious request answered ${answer.status} ${answer.type}: ${answer.body.toString()}`);
      const response = decodeResponse(await context.decapsulateResponse(answer.body));
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`the target answered ${response.status} through OHTTP`);
    },
    raw: async () => {
      const answer = await post(pool!.agent, pool!.port, pool!.path, MEDIA_TYPES.request, body);
      if (answer.status !== 200) throw new Error(`answered ${answer.status}`);
    },
  };
  /** `total` untimed requests over `clients`, at most `width` at a time. */
  const warm = async (clients: number[], path: Path, total: number, width = 50) => {
    for (let i = 0; i < total; i += width)
      await Promise.all(
        Array.from({ length: Math.min(width, total - i) }, (_, j) => send[path](clients[(i + j) % clients.length]!)),
      );
  };
  const handle = async (command: Command): Promise<unknown> => {
    switch (command.kind) {
      case "clients":
        for (const path of ["direct", "ohttp"] as const) {
          await warm(command.ids, path, command.ids.length);
          await warm(command.ids, path, command.warm);
        }
        return;
      case "pool":
        pool = { agent: new http.Agent({ keepAlive: true, maxSockets: command.sockets }), ...command };
        return warm([0], "raw", Math.max(command.sockets, command.warm), command.sockets);
      case "run":
        return openLoop(
          command.arrivals,
          command.startAt - performance.timeOrigin,
          command.seconds,
          send[command.path],
          command.deadlineMs,
        );
      case "close":
        for (const agent of [...direct.values(), ...relayed.values(), ...(pool ? [pool.agent] : [])]) agent.destroy();
        direct.clear();
        relayed.clear();
        pool = undefined;
        return;
    }
  };
  let queue = Promise.resolve();
  parentPort!.on("message", (command: Command) => {
    queue = queue.then(async () => parentPort!.postMessage(await handle(command)));
  });
}

/** The load generator: `threads` worker threads of this process; client i belongs to thread i mod threads. */
class LoadGenerator {
  private readonly replies: ((value: unknown) => void)[][];

  private constructor(private readonly threads: Worker[]) {
    this.replies = threads.map(() => []);
    threads.forEach((thread, k) => thread.on("message", (value: unknown) => this.replies[k]!.shift()!(value)));
  }

  static start(count: number, targets: Targets): LoadGenerator {
    const code = `require(${JSON.stringify(require.resolve("ts-node"))}).register({ transpileOnly: true }); require(${JSON.stringify(__filename)});`;
    return new LoadGenerator(
      Array.from({ length: count }, () => new Worker(code, { eval: true, workerData: { role: "load", targets } })),
    );
  }

  get size(): number {
    return this.threads.length;
  }

  /** Opens clients 0..n-1 (each on its thread), with `warm` more untimed requests per path and thread. */
  async clients(n: number, warm = 0): Promise<void> {
    await this.all((k) => ({ kind: "clients", ids: this.owned(n, k), warm }));
  }

  /** A pool of `sockets` connections (split between the threads) for raw requests to `port`/`path`. */
  async pool(sockets: number, port: number, path: string, warm = 0): Promise<void> {
    await this.all(() => ({
      kind: "pool",
      sockets: Math.ceil(sockets / this.size),
      port,
      path,
      warm: Math.ceil(warm / this.size),
    }));
  }

  /** One open-loop run: each thread sends its clients' arrivals; the results merged. */
  async run(path: Path, arrivals: Arrival[], seconds: number, deadlineMs = Infinity): Promise<RunResult> {
    const startAt = performance.timeOrigin + performance.now() + 50;
    const results = (await this.all((k) => ({
      kind: "run",
      path,
      arrivals: arrivals.filter((arrival) => arrival.client % this.size === k),
      startAt,
      seconds,
      deadlineMs,
    }))) as RunResult[];
    return {
      latencies: results.flatMap((result) => result.latencies),
      lags: results.flatMap((result) => result.lags),
      errors: results.reduce((sum, result) => sum + result.errors, 0),
      doneInWindow: results.reduce((sum, result) => sum + result.doneInWindow, 0),
      firstError: results.find((result) => result.firstError !== undefined)?.firstError,
    };
  }

  async close(): Promise<void> {
    await this.all(() => ({ kind: "close" }));
  }

  async terminate(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.terminate()));
  }

  private owned(n: number, k: number): number[] {
    return Array.from({ length: n }, (_, i) => i).filter((i) => i % this.size === k);
  }

  private all(command: (k: number) => Command): Promise<unknown[]> {
    return Promise.all(
      this.threads.map(
        (thread, k) =>
          new Promise((resolve) => {
            this.replies[k]!.push(resolve);
            thread.postMessage(command(k));
          }),
      ),
    );
  }
}

/* MEASUREMENTS */

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

interface PathStats {
  /** Of all rounds' samples together. */
  p50: number;
  p99: number;
  /** Of each round. */
  roundsP50: number[];
  roundsP99: number[];
  lagP99: number;
  requests: number;
  errors: number;
  firstError?: string;
  /** CPU µs per request, by process. */
  cpu: Record<string, number>;
}

type Measured = { result: RunResult; cpu: Record<string, number> };

const ascending = (values: number[]) => [...values].sort((a, b) => a - b);

function median(values: number[]): number {
  const sorted = ascending(values);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function statsOf(runs: Measured[]): PathStats {
  const latencies = ascending(runs.flatMap((run) => run.result.latencies));
  const rounds = runs.map((run) => ascending(run.result.latencies));
  const lags = runs.flatMap((run) => run.result.lags).sort((a, b) => a - b);
  const requests = lags.length;
  const cpu: Record<string, number> = {};
  for (const run of runs) for (const [name, us] of Object.entries(run.cpu)) cpu[name] = (cpu[name] ?? 0) + us;
  for (const name of Object.keys(cpu)) cpu[name] = cpu[name]! / requests;
  return {
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    roundsP50: rounds.map((round) => percentile(round, 0.5)),
    roundsP99: rounds.map((round) => percentile(round, 0.99)),
    lagP99: percentile(lags, 0.99),
    requests,
    errors: runs.reduce((sum, run) => sum + run.result.errors, 0),
    firstError: runs.find((run) => run.result.firstError !== undefined)?.result.firstError,
    cpu,
  };
}

interface Level {
  direct: PathStats;
  ohttp: PathStats;
  /** OHTTP minus direct, round by round. */
  addedP50: number[];
  addedP99: number[];
}

/**
 * ROUNDS paired rounds at one level: each a direct run then an oblivious run on the same schedule. The added
 * latency of a round is the difference of its two percentiles; the level's is the median over rounds, so a stall of
 * the shared machine during one round does not decide it (the pooled percentiles are kept beside it).
 */
async function latencyLevel(n: number, rate: number, load: LoadGenerator, parties: Party[]): Promise<Level> {
  await load.clients(n);
  const runs: Record<"direct" | "ohttp", Measured[]> = { direct: [], ohttp: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const arrivals = poisson(rate, SECONDS, n, 1 + round);
    for (const path of ["direct", "ohttp"] as const)
      runs[path].push(await measured(parties, () => load.run(path, arrivals, SECONDS)));
  }
  await load.close();
  const direct = statsOf(runs.direct);
  const ohttp = statsOf(runs.ohttp);
  return {
    direct,
    ohttp,
    addedP50: ohttp.roundsP50.map((p50, i) => p50 - direct.roundsP50[i]!),
    addedP99: ohttp.roundsP99.map((p99, i) => p99 - direct.roundsP99[i]!),
  };
}

interface Step {
  rate: number;
  forwarded: number;
  errors: number;
  requests: number;
  p99: number;
  lagP99: number;
  /** Share of one core each process used during the step. */
  busy: Record<string, number>;
  sustained: boolean;
  firstError?: string;
}

/** One open-loop step at `rate` over the load generator's pool, with the CPU `parties` use meanwhile. */
async function step(rate: number, load: LoadGenerator, parties: Party[]): Promise<Step> {
  const { result: run, cpu } = await measured(parties, () =>
    load.run("raw", uniform(rate, RELAY_SECONDS, load.size), RELAY_SECONDS, RELAY_DEADLINE_MS),
  );
  const requests = run.lags.length;
  const forwarded = run.doneInWindow / RELAY_SECONDS;
  return {
    rate,
    forwarded,
    errors: run.errors,
    requests,
    p99: percentile(
      run.latencies.sort((a, b) => a - b),
      0.99,
    ),
    lagP99: percentile(
      run.lags.sort((a, b) => a - b),
      0.99,
    ),
    busy: Object.fromEntries(Object.entries(cpu).map(([name, us]) => [name, us / 1e6 / RELAY_SECONDS])),
    sustained: forwarded >= 0.99 * rate && run.errors < 0.01 * requests,
    firstError: run.firstError,
  };
}

const busyNote = (busy: Record<string, number>) =>
  Object.entries(busy)
    .map(([name, share]) => `${name} ${(share * 100).toFixed(0)}%`)
    .join(", ");

async function relayThroughput(
  relay: Party,
  stub: Party,
  load: LoadGenerator,
): Promise<{ steps: Step[]; best?: Step; direct?: Step }> {
  const path = relayResourceUrl("http://relay.bench/", `http://127.0.0.1:${stub.port}/ohttp`).pathname;
  await load.pool(RELAY_CONNECTIONS, relay.port, path, 5_000);
  const steps: Step[] = [];
  let best: Step | undefined;
  for (let rate = RELAY_FIRST!; rate <= RELAY_MAX!; rate += RELAY_STEP!) {
    // Other work on the machine can only lower what the relay forwards: a failed step is tried once more.
    let result: Step | undefined;
    for (let attempt = 0; attempt < 2 && result?.sustained !== true; attempt++) {
      result = await step(rate, load, [relay, stub]);
      steps.push(result);
      console.log(
        `  relay at ${rate}/s: forwarded ${result.forwarded.toFixed(0)}/s, ${result.errors} errors of ${result.requests}, p99 ${result.p99.toFixed(1)} ms, load generator lag p99 ${result.lagP99.toFixed(1)} ms, CPU of a core: ${busyNote(result.busy)}; ${result.sustained ? "sustained" : "NOT sustained"}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    if (!result!.sustained) break;
    best = result;
  }
  await load.close();
  const failed = steps.at(-1);
  if (failed === undefined || failed.sustained) return { steps, best };
  // Can the load generator offer the failing rate at all? The same step straight to the stub.
  await load.pool(RELAY_CONNECTIONS, stub.port, "/ohttp", 5_000);
  const direct = await step(failed.rate, load, [stub]);
  await load.close();
  console.log(
    `  stub directly at ${direct.rate}/s: answered ${direct.forwarded.toFixed(0)}/s, ${direct.errors} errors, CPU of a core: ${busyNote(direct.busy)}; ${direct.sustained ? "sustained" : "NOT sustained"}`,
  );
  return { steps, best, direct };
}

/* REPORT */

const ms = (value: number) => value.toFixed(2);
const cpuNote = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .map(([name, us]) => `${name} ${us.toFixed(0)}`)
    .join(", ");

/** The share of the machine's cores that `cpu` µs per request keep busy at `rate` requests/s. */
const busy = (cpu: Record<string, number>, rate: number) =>
  `${((Object.values(cpu).reduce((a, b) => a + b, 0) * rate) / 1e4 / os.cpus().length).toFixed(0)}%`;

function latencyRows(n: number, rate: number, { direct, ohttp, addedP50, addedP99 }: Level): Row[] {
  const at100 = n === 100;
  const errors = direct.errors + ohttp.errors;
  const lag = `load generator start lag p99 ${ms(direct.lagP99)} / ${ms(ohttp.lagP99)} ms`;
  const rounds = (values: number[]) => values.map((value) => value.toFixed(1)).join(" ");
  return [
    {
      key: `addedP50Ms.c${n}`,
      value: median(addedP50),
      unit: "ms",
      target: at100 ? TARGETS.addedP50Ms : undefined,
      note: `${rate}/s offered; median of rounds ${rounds(addedP50)}; pooled p50 ${ms(ohttp.p50)} via relay+gateway vs ${ms(direct.p50)} direct`,
    },
    {
      key: `addedP99Ms.c${n}`,
      value: median(addedP99),
      unit: "ms",
      target: at100 ? TARGETS.addedP99Ms : undefined,
      note: `median of rounds ${rounds(addedP99)}; pooled p99 ${ms(ohttp.p99)} vs ${ms(direct.p99)} direct; ${lag}`,
    },
    {
      key: `cpuUsPerRequest.ohttp.c${n}`,
      value: Math.round(Object.values(ohttp.cpu).reduce((a, b) => a + b, 0)),
      unit: "µs",
      note: `CPU per oblivious request: ${cpuNote(ohttp.cpu)}; at ${rate}/s ${busy(ohttp.cpu, rate)} of the ${os.cpus().length} cores${errors > 0 ? `; ${errors} errors (${direct.firstError ?? ohttp.firstError})` : ""}`,
    },
    {
      key: `cpuUsPerRequest.direct.c${n}`,
      value: Math.round(Object.values(direct.cpu).reduce((a, b) => a + b, 0)),
      unit: "µs",
      note: `CPU per direct request: ${cpuNote(direct.cpu)}; at ${rate}/s ${busy(direct.cpu, rate)} of the ${os.cpus().length} cores`,
    },
  ];
}

async function main(): Promise<void> {
  const children: ChildProcess[] = [];
  const loadAverage: { before: number[]; after?: number[] } = { before: os.loadavg() };
  let load: LoadGenerator | undefined;
  try {
    const gateway = await start("gateway");
    children.push(gateway.child);
    const relay = await start("relay", `http://127.0.0.1:${gateway.port}/ohttp`);
    children.push(relay.child);
    const config = decodeKeyConfig(new Uint8Array(Buffer.from(gateway.config!, "hex")));
    // The library's own client once through the same processes: the benchmark's client does what it does.
    const check = await ohttpFetch(
      relayResourceUrl(`http://127.0.0.1:${relay.port}`, `http://127.0.0.1:${gateway.port}/ohttp`),
      config,
      new Request(TARGET, { method: "POST", body: PROMPT }),
    );
    if (check.status !== 200) throw new Error(`ohttpFetch through the benchmark's relay answered ${check.status}`);
    await check.arrayBuffer();
    console.log(
      `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), node ${process.version}, load average ${loadAverage.before.map((l) => l.toFixed(2)).join(" ")}`,
    );
    load = LoadGenerator.start(LOAD_THREADS, {
      gatewayPort: gateway.port,
      relayPort: relay.port,
      config: gateway.config!,
    });
    console.log(
      `latency: gateway pid ${gateway.child.pid}, relay pid ${relay.child.pid}, load generator pid ${process.pid} (${LOAD_THREADS} worker threads): 3 processes, unpinned (the kernel schedules them over the ${os.cpus().length} cores)`,
    );
    // Untimed requests on both paths before anything is measured, so every process's JIT has compiled its hot paths.
    await load.clients(50, 1_000);
    await load.close();

    const rows: Row[] = [];
    const added = { addedP50Ms: {} as Record<string, number>, addedP99Ms: {} as Record<string, number> };
    const levels: Record<string, unknown> = {};
    for (const [n, rate] of RATES) {
      console.log(
        `${n} client(s), ${rate} requests/s offered (Poisson): ${ROUNDS} rounds of ${SECONDS} s direct then ${SECONDS} s oblivious`,
      );
      const level = await latencyLevel(n, rate, load, [gateway, relay]);
      added.addedP50Ms[n] = median(level.addedP50);
      added.addedP99Ms[n] = median(level.addedP99);
      levels[`c${n}`] = { clients: n, offeredRps: rate, ...level };
      rows.push(...latencyRows(n, rate, level));
    }
    for (const party of [gateway, relay]) party.child.send({ exit: true });

    const stub = await start("stub");
    children.push(stub.child);
    const throughputRelay = await start("relay", `http://127.0.0.1:${stub.port}/ohttp`);
    children.push(throughputRelay.child);
    throughputRelay.cpu = pin(throughputRelay.child.pid!, "0");
    stub.cpu = pin(stub.child.pid!, "1");
    const loadgenCpu = pin(process.pid, "1");
    await load.terminate();
    // One load thread here: a request to the stub costs a fraction of the relay's work, and a second thread would
    // only take CPU from the relay it measures.
    load = LoadGenerator.start(1, { gatewayPort: 0, relayPort: 0, config: gateway.config! });
    console.log(
      `relay throughput: relay pid ${throughputRelay.child.pid} on ${throughputRelay.cpu}; stub gateway pid ${stub.child.pid} on ${stub.cpu}; load generator (1 worker thread) on ${loadgenCpu}; ${RELAY_CONNECTIONS} connections, ${RELAY_SECONDS} s steps`,
    );
    const throughput = await relayThroughput(throughputRelay, stub, load);
    pin(process.pid, "0-" + (os.cpus().length - 1));
    const relayRps = throughput.best?.rate ?? 0;
    const failed = throughput.steps.at(-1);
    rows.push({
      key: "relayRps",
      value: relayRps,
      unit: "req/s",
      target: TARGETS.relayRps,
      higherIsBetter: true,
      note:
        `highest offered rate the relay forwarded (≥ 99%, < 1% errors) to a stub gateway; ` +
        (failed === undefined || failed.sustained
          ? `every step up to ${RELAY_MAX}/s sustained`
          : `at ${failed.rate}/s it forwarded ${failed.forwarded.toFixed(0)}/s with ${failed.errors} errors, busy ${((failed.busy.relay ?? 0) * 100).toFixed(0)}% of a core` +
            (throughput.direct === undefined
              ? ""
              : `; the stub alone at that rate: ${throughput.direct.forwarded.toFixed(0)}/s (${throughput.direct.sustained ? "the relay is the limit" : "the load generator or the stub is a limit too"})`)),
    });
    loadAverage.after = os.loadavg();
    report(
      "ohttp",
      `Oblivious HTTP: latency added over a direct request (open loop), and relay throughput — load average ${loadAverage.before[0]!.toFixed(1)} before, ${loadAverage.after[0]!.toFixed(1)} after, on ${os.cpus().length} cores`,
      rows,
      {
        ...added,
        relayRps,
        machine: {
          cpus: os.cpus().length,
          cpuModel: os.cpus()[0]?.model.trim(),
          node: process.version,
          loadAverageBefore: loadAverage.before,
          loadAverageAfter: loadAverage.after,
        },
        placement: {
          latency: `gateway, relay and load generator in 3 processes, unpinned; the load generator in ${LOAD_THREADS} worker threads`,
          throughput: `relay on ${throughputRelay.cpu}, stub gateway on ${stub.cpu}, load generator (1 worker thread) on ${loadgenCpu}`,
        },
        method: {
          latency: `open loop, Poisson arrivals at the offered rate, each to one of N keep-alive client connections; ${ROUNDS} paired rounds (${SECONDS} s direct, then ${SECONDS} s OHTTP on the same schedule); latency from the scheduled time to the answer read; added = median over rounds of the OHTTP percentile minus the direct one`,
          relay: `open loop, uniform arrivals, ${RELAY_CONNECTIONS} connections, ${RELAY_SECONDS} s steps; sustained = forwarded ≥ 99% of offered and < 1% errors (non-200, socket error, or > ${RELAY_DEADLINE_MS} ms), a failed step tried twice`,
        },
        levels,
        relaySteps: throughput.steps,
        stubAtFailingRate: throughput.direct,
      },
    );
  } finally {
    await load?.terminate();
    for (const child of children) if (child.connected) child.send({ exit: true });
  }
}

const role = isMainThread ? process.argv[2] : (workerData as { role: string }).role;
const entry =
  role === "load"
    ? Promise.resolve(loadThread((workerData as { targets: Targets }).targets))
    : role === "gateway"
      ? gatewayProcess()
      : role === "relay"
        ? relayProcess(process.argv[3]!)
        : role === "stub"
          ? stubProcess()
          : main();
entry.catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

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
 * - load generator: this process (it also orchestrates, between measurements only). Each client is one keep-alive
 *   connection of its own (a `node:http` agent with one socket). A direct request is a POST of the JSON body to
 *   /direct; an oblivious one does what `ohttpFetch` does — binary HTTP encoding with a Date, HPKE seal, POST
 *   through the relay, open, decode — over the same kind of connection, so the HTTP client is the same on both paths.
 *
 * Latency (open loop). Requests arrive on a Poisson schedule at a fixed offered rate (BENCH_OHTTP_RATES, per
 * level), each to a client drawn at random; a request is sent at its scheduled time whether or not earlier ones
 * have returned, so queueing anywhere shows up as latency instead of lowering the rate (a closed loop of N clients
 * would hide it). Latency runs from the scheduled time to the last byte of the answer (decoded, for OHTTP); the
 * load generator's own lateness in starting requests is reported beside it. Direct and oblivious runs alternate
 * (direct, OHTTP, direct, OHTTP) on the same seeded schedule; added latency = OHTTP percentile − direct percentile.
 * The CPU each process spent per request is measured too (process.cpuUsage over each run), which does not depend on
 * the other processes on the machine the way latency does. All processes are warmed up first (2,000 untimed requests
 * per path) so the JIT has compiled the hot paths before anything is timed.
 *
 * Relay throughput. A second relay forwards pre-sealed 120-byte requests to a stub gateway that answers at once (no
 * cryptography anywhere), so the relay is the bottleneck. The three processes are unpinned by default: on a machine
 * shared with other work, a relay pinned to one core waits for that core while the other is free (measured: it
 * then missed 1,000/s); BENCH_OHTTP_PIN=1 pins the relay to cpu 0 and the stub and the load generator to cpu 1
 * (taskset), for a quiet machine. Open-loop steps of rising offered rate from 256 keep-alive
 * connections: a step is sustained when its forwarded rate is ≥ 99% of the offered rate and < 1% of its requests
 * fail (not 200, a socket error, or no answer within 1 s of the scheduled time). relayRps is the highest sustained
 * step. The first unsustained rate is then offered to the stub directly, to show whether the load generator could
 * offer it at all.
 *
 * Environment: BENCH_OHTTP_RATES (offered requests/s per level, default "1:50,100:200,1000:200"),
 * BENCH_OHTTP_SECONDS (per run, default 5), BENCH_RELAY_SECONDS (per step, default 4), BENCH_RELAY_RATES
 * (first:step:max, default "1000:500:12000"), BENCH_OHTTP_PIN=1 to pin the throughput processes,
 * BENCH_OHTTP_CHILD_FLAGS (node flags of the child processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import http, { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
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
  type KeyConfig,
} from "../src/ohttp";
import { report, type Row } from "./lib/report";

const RATES = new Map(
  (process.env.BENCH_OHTTP_RATES ?? "1:50,100:200,1000:200")
    .split(",")
    .map((pair) => pair.split(":").map(Number) as [number, number]),
);
const SECONDS = Number(process.env.BENCH_OHTTP_SECONDS ?? 5);
const RELAY_SECONDS = Number(process.env.BENCH_RELAY_SECONDS ?? 4);
const [RELAY_FIRST, RELAY_STEP, RELAY_MAX] = (process.env.BENCH_RELAY_RATES ?? "1000:500:12000").split(":").map(Number);
const PIN = process.env.BENCH_OHTTP_PIN === "1";
/** Extra node flags for the child processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them. */
const CHILD_FLAGS = (process.env.BENCH_OHTTP_CHILD_FLAGS ?? "").split(" ").filter((flag) => flag !== "");
const RELAY_CONNECTIONS = 256;
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
 * Sends one request per arrival at its time, never waiting for earlier ones (open loop); `deadlineMs` turns a slow
 * success into an error.
 */
function openLoop(
  arrivals: Arrival[],
  seconds: number,
  send: (client: number) => Promise<void>,
  deadlineMs = Infinity,
): Promise<RunResult> {
  const result: RunResult = { latencies: [], lags: [], errors: 0, doneInWindow: 0 };
  const began = performance.now() + 10;
  const windowEnd = began + seconds * 1000;
  let next = 0;
  let settled = 0;
  return new Promise((resolve) => {
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
    setTimeout(tick, 10);
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

/** One keep-alive connection per client. */
function clients(n: number, sockets = 1): http.Agent[] {
  return Array.from({ length: n }, () => new http.Agent({ keepAlive: true, maxSockets: sockets }));
}

/**
 * Opens every client's connection with one untimed request each, then sends untimed requests up to `total` (to let
 * the JIT compile the hot paths), at most 50 at a time.
 */
async function warm(n: number, send: (client: number) => Promise<void>, total = n): Promise<void> {
  for (let i = 0; i < total; i += 50)
    await Promise.all(Array.from({ length: Math.min(50, total - i) }, (_, j) => send((i + j) % n)));
}

/* MEASUREMENTS */

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

interface PathStats {
  p50: number;
  p99: number;
  lagP99: number;
  requests: number;
  errors: number;
  firstError?: string;
  /** CPU µs per request, by process. */
  cpu: Record<string, number>;
}

type Measured = { result: RunResult; cpu: Record<string, number> };

function statsOf(runs: Measured[]): PathStats {
  const latencies = runs.flatMap((run) => run.result.latencies).sort((a, b) => a - b);
  const lags = runs.flatMap((run) => run.result.lags).sort((a, b) => a - b);
  const requests = lags.length;
  const cpu: Record<string, number> = {};
  for (const run of runs) for (const [name, us] of Object.entries(run.cpu)) cpu[name] = (cpu[name] ?? 0) + us;
  for (const name of Object.keys(cpu)) cpu[name] = cpu[name]! / requests;
  return {
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    lagP99: percentile(lags, 0.99),
    requests,
    errors: runs.reduce((sum, run) => sum + run.result.errors, 0),
    firstError: runs.find((run) => run.result.firstError !== undefined)?.result.firstError,
    cpu,
  };
}

/** A direct and an oblivious request from client `i` (its agents in `directAgents` and `relayAgents`). */
function senders(
  directAgents: http.Agent[],
  relayAgents: http.Agent[],
  gateway: Party,
  relay: Party,
  config: KeyConfig,
) {
  const relayPath = relayResourceUrl("http://relay.bench/", `http://127.0.0.1:${gateway.port}/ohttp`).pathname;
  const plain = async (client: number) => {
    const answer = await post(directAgents[client]!, gateway.port, "/direct", "application/json", PROMPT);
    if (answer.status !== 200) throw new Error(`direct request answered ${answer.status}`);
  };
  const oblivious = async (client: number) => {
    const request = new Request(TARGET, {
      method: "POST",
      headers: { "content-type": "application/json", date: new Date().toUTCString() },
      body: PROMPT,
    });
    const { encapsulated, context } = await encapsulateRequest(config, await encodeRequest(request));
    const answer = await post(relayAgents[client]!, relay.port, relayPath, MEDIA_TYPES.request, encapsulated);
    if (answer.status !== 200 || mediaType(answer.type) !== MEDIA_TYPES.response)
      throw new Error(`oblivious request answered ${answer.status} ${answer.type}: ${answer.body.toString()}`);
    const response = decodeResponse(await context.decapsulateResponse(answer.body));
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`the target answered ${response.status} through OHTTP`);
  };
  return { plain, oblivious };
}

/** Untimed requests on both paths from 50 connections, before anything is measured: every process's JIT warm. */
async function warmUp(gateway: Party, relay: Party, config: KeyConfig, total: number): Promise<void> {
  const agents = { direct: clients(50), relay: clients(50) };
  const { plain, oblivious } = senders(agents.direct, agents.relay, gateway, relay, config);
  await warm(50, plain, total);
  await warm(50, oblivious, total);
  for (const agent of [...agents.direct, ...agents.relay]) agent.destroy();
}

async function latencyLevel(
  n: number,
  rate: number,
  gateway: Party,
  relay: Party,
  config: KeyConfig,
): Promise<{ direct: PathStats; ohttp: PathStats }> {
  const directAgents = clients(n);
  const relayAgents = clients(n);
  const { plain, oblivious } = senders(directAgents, relayAgents, gateway, relay, config);
  await warm(n, plain);
  await warm(n, oblivious);
  const parties = [gateway, relay];
  const runs: Record<"direct" | "ohttp", Measured[]> = { direct: [], ohttp: [] };
  for (let round = 0; round < 2; round++) {
    const arrivals = poisson(rate, SECONDS, n, 1 + round);
    runs.direct.push(await measured(parties, () => openLoop(arrivals, SECONDS, plain)));
    runs.ohttp.push(await measured(parties, () => openLoop(arrivals, SECONDS, oblivious)));
  }
  for (const agent of [...directAgents, ...relayAgents]) agent.destroy();
  return { direct: statsOf(runs.direct), ohttp: statsOf(runs.ohttp) };
}

interface Step {
  rate: number;
  forwarded: number;
  errors: number;
  requests: number;
  p99: number;
  lagP99: number;
  sustained: boolean;
  firstError?: string;
}

/** One open-loop step at `rate` through `port`/`path` from `connections` keep-alive sockets. */
async function step(rate: number, port: number, path: string, agent: http.Agent): Promise<Step> {
  const body = Buffer.alloc(120, 9);
  const run = await openLoop(
    uniform(rate, RELAY_SECONDS, 1),
    RELAY_SECONDS,
    async () => {
      const answer = await post(agent, port, path, MEDIA_TYPES.request, body);
      if (answer.status !== 200) throw new Error(`answered ${answer.status}`);
    },
    RELAY_DEADLINE_MS,
  );
  const requests = run.lags.length;
  const forwarded = run.doneInWindow / RELAY_SECONDS;
  const sorted = run.latencies.sort((a, b) => a - b);
  return {
    rate,
    forwarded,
    errors: run.errors,
    requests,
    p99: percentile(sorted, 0.99),
    lagP99: percentile(
      run.lags.sort((a, b) => a - b),
      0.99,
    ),
    sustained: forwarded >= 0.99 * rate && run.errors < 0.01 * requests,
    firstError: run.firstError,
  };
}

async function relayThroughput(relay: Party, stub: Party): Promise<{ steps: Step[]; best?: Step; direct?: Step }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: RELAY_CONNECTIONS });
  const path = relayResourceUrl("http://relay.bench/", `http://127.0.0.1:${stub.port}/ohttp`).pathname;
  const body = Buffer.alloc(120, 9);
  await warm(
    RELAY_CONNECTIONS,
    () => post(agent, relay.port, path, MEDIA_TYPES.request, body).then(() => undefined),
    5_000,
  );
  const steps: Step[] = [];
  let best: Step | undefined;
  for (let rate = RELAY_FIRST!; rate <= RELAY_MAX!; rate += RELAY_STEP!) {
    const result = await step(rate, relay.port, path, agent);
    steps.push(result);
    console.log(
      `  relay at ${rate}/s: forwarded ${result.forwarded.toFixed(0)}/s, ${result.errors} errors of ${result.requests}, p99 ${result.p99.toFixed(1)} ms, load generator lag p99 ${result.lagP99.toFixed(1)} ms ${result.sustained ? "sustained" : "NOT sustained"}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    if (!result.sustained) break;
    best = result;
  }
  agent.destroy();
  const failed = steps.at(-1);
  if (failed === undefined || failed.sustained) return { steps, best };
  // Can the load generator offer the failing rate at all? The same step straight to the stub.
  const stubAgent = new http.Agent({ keepAlive: true, maxSockets: RELAY_CONNECTIONS });
  await warm(RELAY_CONNECTIONS, () =>
    post(stubAgent, stub.port, "/ohttp", MEDIA_TYPES.request, "x").then(() => undefined),
  );
  const direct = await step(failed.rate, stub.port, "/ohttp", stubAgent);
  stubAgent.destroy();
  console.log(
    `  stub directly at ${direct.rate}/s: answered ${direct.forwarded.toFixed(0)}/s, ${direct.errors} errors ${direct.sustained ? "sustained" : "NOT sustained"}`,
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

function latencyRows(n: number, rate: number, direct: PathStats, ohttp: PathStats): Row[] {
  const at100 = n === 100;
  const errors = direct.errors + ohttp.errors;
  const lag = `load generator start lag p99 ${ms(direct.lagP99)} / ${ms(ohttp.lagP99)} ms`;
  return [
    {
      key: `addedP50Ms.c${n}`,
      value: ohttp.p50 - direct.p50,
      unit: "ms",
      target: at100 ? TARGETS.addedP50Ms : undefined,
      note: `${rate}/s offered: p50 ${ms(ohttp.p50)} via relay+gateway vs ${ms(direct.p50)} direct`,
    },
    {
      key: `addedP99Ms.c${n}`,
      value: ohttp.p99 - direct.p99,
      unit: "ms",
      target: at100 ? TARGETS.addedP99Ms : undefined,
      note: `${rate}/s offered: p99 ${ms(ohttp.p99)} via relay+gateway vs ${ms(direct.p99)} direct; ${lag}`,
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
  const load: { before: number[]; after?: number[] } = { before: os.loadavg() };
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
      `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), node ${process.version}, load average ${load.before.map((l) => l.toFixed(2)).join(" ")}`,
    );
    console.log(
      `latency: gateway pid ${gateway.child.pid}, relay pid ${relay.child.pid}, load generator pid ${process.pid}: 3 processes, unpinned (the kernel schedules them over the ${os.cpus().length} cores)`,
    );

    await warmUp(gateway, relay, config, 2_000);

    const rows: Row[] = [];
    const added = { addedP50Ms: {} as Record<string, number>, addedP99Ms: {} as Record<string, number> };
    const levels: Record<string, unknown> = {};
    for (const [n, rate] of RATES) {
      console.log(
        `${n} client(s), ${rate} requests/s offered (Poisson): 2 × ${SECONDS} s direct and 2 × ${SECONDS} s oblivious`,
      );
      const { direct, ohttp } = await latencyLevel(n, rate, gateway, relay, config);
      added.addedP50Ms[n] = ohttp.p50 - direct.p50;
      added.addedP99Ms[n] = ohttp.p99 - direct.p99;
      levels[`c${n}`] = { clients: n, offeredRps: rate, direct, ohttp };
      rows.push(...latencyRows(n, rate, direct, ohttp));
    }
    for (const party of [gateway, relay]) party.child.send({ exit: true });

    const stub = await start("stub");
    children.push(stub.child);
    const throughputRelay = await start("relay", `http://127.0.0.1:${stub.port}/ohttp`);
    children.push(throughputRelay.child);
    throughputRelay.cpu = pin(throughputRelay.child.pid!, "0");
    stub.cpu = pin(stub.child.pid!, "1");
    const loadgenCpu = pin(process.pid, "1");
    console.log(
      `relay throughput: relay pid ${throughputRelay.child.pid} on ${throughputRelay.cpu}; stub gateway pid ${stub.child.pid} on ${stub.cpu}; load generator on ${loadgenCpu}; ${RELAY_CONNECTIONS} connections, ${RELAY_SECONDS} s steps`,
    );
    const throughput = await relayThroughput(throughputRelay, stub);
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
          : `at ${failed.rate}/s it forwarded ${failed.forwarded.toFixed(0)}/s with ${failed.errors} errors` +
            (throughput.direct === undefined
              ? ""
              : `; the stub alone at that rate: ${throughput.direct.forwarded.toFixed(0)}/s (${throughput.direct.sustained ? "the relay is the limit" : "the load generator or the stub is a limit too"})`)),
    });
    load.after = os.loadavg();
    report(
      "ohttp",
      `Oblivious HTTP: latency added over a direct request (open loop), and relay throughput — load average ${load.before[0]!.toFixed(1)} before, ${load.after[0]!.toFixed(1)} after, on ${os.cpus().length} cores`,
      rows,
      {
        ...added,
        relayRps,
        machine: {
          cpus: os.cpus().length,
          cpuModel: os.cpus()[0]?.model.trim(),
          node: process.version,
          loadAverageBefore: load.before,
          loadAverageAfter: load.after,
        },
        placement: {
          latency: "gateway, relay and load generator in 3 processes, unpinned",
          throughput: `relay on ${throughputRelay.cpu}, stub gateway on ${stub.cpu}, load generator on ${loadgenCpu}`,
        },
        method: {
          latency: `open loop, Poisson arrivals at the offered rate, each to one of N keep-alive client connections; 2 runs of ${SECONDS} s per path, alternating; latency from the scheduled time to the answer read`,
          relay: `open loop, uniform arrivals, ${RELAY_CONNECTIONS} connections, ${RELAY_SECONDS} s steps; sustained = forwarded ≥ 99% of offered and < 1% errors (non-200, socket error, or > ${RELAY_DEADLINE_MS} ms)`,
        },
        levels,
        relaySteps: throughput.steps,
        stubAtFailingRate: throughput.direct,
      },
    );
  } finally {
    for (const child of children) if (child.connected) child.send({ exit: true });
  }
}

const role = process.argv[2];
const entry =
  role === "gateway"
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

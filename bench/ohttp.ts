/**
 * Oblivious HTTP benchmark (`npm run bench:ohttp`): the latency OHTTP adds over a direct request, and the relay's
 * throughput, on this machine. Each party runs in its own process, as it would on its own host:
 *
 * - the gateway process serves one application (a small JSON answer) twice — directly over HTTP, and as an
 *   OHTTP gateway (`createGatewayHandler`, logging to /dev/null);
 * - the relay process runs `createRelayHandler` to that gateway (logging to /dev/null);
 * - this process is the clients: N concurrent loops of `fetch` to the direct endpoint, then of `ohttpFetch`
 *   through the relay, in two alternating rounds, each level warmed up first (one request per client).
 *
 * Added latency at a level is p50 (p99) of the OHTTP requests minus p50 (p99) of the direct ones. The clients are
 * closed loops without think time, so from 100 clients on the machine is saturated and the added latency is mostly
 * queueing behind the extra CPU an oblivious request costs (HPKE on both sides, one more HTTP hop, binary HTTP);
 * the `throughput` rows show that cost as requests/s. Relay throughput:
 * a second relay forwards pre-sealed requests to a stub gateway that answers at once (no cryptography anywhere),
 * driven by 128 keep-alive clients for BENCH_RELAY_SECONDS.
 *
 * Run: npm run bench:ohttp   Writes bench/results/ohttp.json. Sizes: BENCH_OHTTP_REQUESTS (requests per client
 * level and round, default "1:300,100:3000,1000:6000"), BENCH_RELAY_SECONDS (default 5).
 */
import { fork, type ChildProcess } from "node:child_process";
import http, { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger } from "../src/core/log";
import {
  createGatewayHandler,
  createRelayHandler,
  decodeKeyConfig,
  encodeKeyConfig,
  generateGatewayKey,
  KeyRing,
  MEDIA_TYPES,
  ohttpFetch,
  relayResourceUrl,
  ReplayCache,
  TokenBucket,
  type GatewayHandler,
  type KeyConfig,
} from "../src/ohttp";
import { report, type Row } from "./lib/report";

const LEVELS = (process.env.BENCH_OHTTP_REQUESTS ?? "1:300,100:3000,1000:6000")
  .split(",")
  .map((pair) => pair.split(":").map(Number) as [number, number]);
const RELAY_SECONDS = Number(process.env.BENCH_RELAY_SECONDS ?? 5);
const RELAY_CLIENTS = 128;
const PROMPT = JSON.stringify({ model: 7, prompt: "Summarise the quarterly report in three sentences. ".repeat(4) });
const TARGETS = { addedP50Ms: 3, addedP99Ms: 15, relayRps: 3_000 };

/* CHILD PROCESSES */

/** The application, the same behind both endpoints. */
const application: GatewayHandler = async (request) =>
  Response.json({ ok: true, bytes: (await request.arrayBuffer()).byteLength });

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** The direct endpoint: the same application over plain HTTP. */
async function direct(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  const answer = await application(
    new Request(`http://127.0.0.1${req.url}`, {
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

async function gatewayProcess(): Promise<void> {
  const key = await generateGatewayKey({ keyId: 1 });
  const ohttp = createGatewayHandler({
    keys: new KeyRing([key]),
    handler: application,
    logger: createLogger({ destination: "/dev/null" }),
    replay: new ReplayCache({ maxEntries: 2_000_000 }),
  });
  const port = await listen((req, res) => (req.url === "/direct" ? void direct(req, res) : ohttp(req, res)));
  process.send!({ port, config: Buffer.from(encodeKeyConfig(key.config)).toString("hex") });
}

async function relayProcess(gateway: string): Promise<void> {
  const relay = createRelayHandler({
    allowGateway: (url) => url.origin === new URL(gateway).origin,
    logger: createLogger({ destination: "/dev/null" }),
    rateLimit: new TokenBucket({ ratePerSecond: 1e9, burst: 1e9 }),
  });
  process.send!({ port: await listen(relay) });
}

/** A gateway that answers every request at once with a fixed sealed-looking body: isolates the relay. */
async function stubProcess(): Promise<void> {
  const body = Buffer.alloc(90, 7);
  const port = await listen((req, res) => {
    req.resume();
    req.once("end", () =>
      res.writeHead(200, { "content-type": MEDIA_TYPES.response, "content-length": body.length }).end(body),
    );
  });
  process.send!({ port });
}

/* CLIENTS */

interface Started {
  child: ChildProcess;
  message: { port: number; config?: string };
}

function start(role: string, ...args: string[]): Promise<Started> {
  const child = fork(__filename, [role, ...args], {
    execArgv: ["-r", "ts-node/register/transpile-only"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (message) => resolve({ child, message: message as Started["message"] }));
    child.once("exit", (code) => reject(new Error(`${role} process exited with ${code}`)));
  });
}

/** Runs `total` calls of `one` from `clients` concurrent loops; returns each call's latency in ms and the wall time. */
async function run(
  clients: number,
  total: number,
  one: () => Promise<void>,
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let issued = 0;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (issued < total) {
        issued++;
        const t = performance.now();
        await one();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - began) / 1000 };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]!;
}

async function latencyLevel(clients: number, total: number, directUrl: string, relayUrl: string, config: KeyConfig) {
  const plain = async () => {
    const response = await fetch(directUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: PROMPT,
    });
    if (response.status !== 200) throw new Error(`direct request answered ${response.status}`);
    await response.arrayBuffer();
  };
  const oblivious = async () => {
    const response = await ohttpFetch(
      relayUrl,
      config,
      new Request("https://gateway.bench/v1/infer", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: PROMPT,
      }),
    );
    if (response.status !== 200) throw new Error(`oblivious request answered ${response.status}`);
    await response.arrayBuffer();
  };
  await run(clients, clients, plain);
  await run(clients, clients, oblivious);
  const samples = { direct: [] as number[], ohttp: [] as number[] };
  const seconds = { direct: 0, ohttp: 0 };
  for (let round = 0; round < 2; round++) {
    const d = await run(clients, total, plain);
    const o = await run(clients, total, oblivious);
    samples.direct.push(...d.latencies);
    samples.ohttp.push(...o.latencies);
    seconds.direct += d.seconds;
    seconds.ohttp += o.seconds;
  }
  const stats = (values: number[], wall: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), rps: values.length / wall };
  };
  return { direct: stats(samples.direct, seconds.direct), ohttp: stats(samples.ohttp, seconds.ohttp) };
}

/** Requests/s a relay forwards to the stub for `seconds`, from keep-alive node:http clients. */
async function relayThroughput(relayUrl: URL, seconds: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: RELAY_CLIENTS });
  const body = Buffer.alloc(120, 9);
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        relayUrl,
        { method: "POST", agent, headers: { "content-type": MEDIA_TYPES.request, "content-length": body.length } },
        (res) => {
          res.resume();
          res.once("end", () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`relay answered ${res.statusCode}`)),
          );
        },
      );
      req.once("error", reject);
      req.end(body);
    });
  await run(RELAY_CLIENTS, RELAY_CLIENTS * 4, one);
  let done = 0;
  const deadline = performance.now() + seconds * 1000;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: RELAY_CLIENTS }, async () => {
      while (performance.now() < deadline) {
        await one();
        done++;
      }
    }),
  );
  agent.destroy();
  return done / ((performance.now() - began) / 1000);
}

async function main(): Promise<void> {
  const children: ChildProcess[] = [];
  try {
    const gateway = await start("gateway");
    children.push(gateway.child);
    const gatewayUrl = `http://127.0.0.1:${gateway.message.port}`;
    const relay = await start("relay", `${gatewayUrl}/ohttp`);
    children.push(relay.child);
    const config = decodeKeyConfig(new Uint8Array(Buffer.from(gateway.message.config!, "hex")));
    const relayUrl = relayResourceUrl(`http://127.0.0.1:${relay.message.port}`, `${gatewayUrl}/ohttp`).href;

    const rows: Row[] = [];
    const added = { addedP50Ms: {} as Record<string, number>, addedP99Ms: {} as Record<string, number> };
    for (const [clients, total] of LEVELS) {
      console.log(`${clients} concurrent client(s): ${total} direct and ${total} oblivious requests, twice`);
      const { direct, ohttp } = await latencyLevel(clients, total, `${gatewayUrl}/direct`, relayUrl, config);
      added.addedP50Ms[clients] = ohttp.p50 - direct.p50;
      added.addedP99Ms[clients] = ohttp.p99 - direct.p99;
      const at100 = clients === 100;
      rows.push(
        {
          key: `addedP50Ms.c${clients}`,
          value: ohttp.p50 - direct.p50,
          unit: "ms",
          target: at100 ? TARGETS.addedP50Ms : undefined,
          note: `p50 ${ohttp.p50.toFixed(2)} via relay+gateway vs ${direct.p50.toFixed(2)} direct`,
        },
        {
          key: `addedP99Ms.c${clients}`,
          value: ohttp.p99 - direct.p99,
          unit: "ms",
          target: at100 ? TARGETS.addedP99Ms : undefined,
          note: `p99 ${ohttp.p99.toFixed(2)} via relay+gateway vs ${direct.p99.toFixed(2)} direct`,
        },
        {
          key: `throughput.c${clients}`,
          value: Math.round(ohttp.rps),
          unit: "req/s",
          higherIsBetter: true,
          note: `oblivious requests/s end to end (direct: ${Math.round(direct.rps)})`,
        },
      );
    }

    const stub = await start("stub");
    children.push(stub.child);
    const stubUrl = `http://127.0.0.1:${stub.message.port}/ohttp`;
    const throughputRelay = await start("relay", stubUrl);
    children.push(throughputRelay.child);
    console.log(`relay throughput: ${RELAY_CLIENTS} clients for ${RELAY_SECONDS} s`);
    const relayRps = await relayThroughput(
      relayResourceUrl(`http://127.0.0.1:${throughputRelay.message.port}`, stubUrl),
      RELAY_SECONDS,
    );
    rows.push({
      key: "relayRps",
      value: Math.round(relayRps),
      unit: "req/s",
      target: TARGETS.relayRps,
      higherIsBetter: true,
      note: `relay process forwarding 120-byte requests to a stub gateway, ${RELAY_CLIENTS} keep-alive clients`,
    });

    report(
      "ohttp",
      "Oblivious HTTP: latency added over a direct request, and relay throughput (client, relay and gateway in 3 processes on this machine)",
      rows,
      {
        ...added,
        relayRps: Math.round(relayRps),
        cpus: (await import("node:os")).cpus().length,
        loadAverage: (await import("node:os")).loadavg(),
      },
    );
  } finally {
    for (const child of children) child.kill();
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

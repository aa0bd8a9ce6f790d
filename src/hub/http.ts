import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Contracts } from "../core/contracts";
import { BaseError, ConfigError, InputError } from "../core/errors";
import {
  computeConcentration,
  concentrationHistory,
  type DecodedLog,
  NetworkReducer,
  type NetworkContract,
  readNetworkEvents,
  reduceNetworkEvents,
  toJson,
} from "../economics";
import { HubParamError } from "./errors";
import { parseModelIdParam, parseSearchParams } from "./params";
import type { SearchEngine } from "./search";
import type { HubStore } from "./store";
import { TeeIndex } from "./tee";

/**
 * Serves whatever the API does not: the hook for the future web page. Returns `true` if it answered the
 * request, `false` to let the server answer 404.
 */
export type StaticHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** Options of {@link createHubServer}. */
export interface HubServerOptions {
  store: HubStore;
  engine: SearchEngine;
  logger?: Logger;
  /** Called for every GET outside `/api/`; the web page will plug in here. */
  staticHandler?: StaticHandler;
  /** The chain `GET /api/network` reads its concentration figures from; without it the route answers 404. */
  network?: HubNetworkOptions | NetworkEvents;
}

/** Where `GET /api/network` reads the network's events (staking, escrow, registry). */
export interface HubNetworkOptions {
  /** The three contracts, connected to a provider. */
  contracts: Pick<Contracts, NetworkContract>;
  /** The deployment's start block. */
  fromBlock: number;
  /** How long one read of the chain answers requests, in ms. Default 5,000. */
  cacheMs?: number;
  /** Blocks below the last head read again on each refresh, so a reorganisation that deep is corrected. Default 12. */
  reorgDepth?: number;
  /** Largest block range per `eth_getLogs`. Default 2,000. */
  maxBlockRange?: number;
}

/** The events read so far: every network event from the start block to `head`, in chain order. */
export interface NetworkSnapshot {
  fromBlock: number;
  head: number;
  logs: readonly DecodedLog[];
}

/**
 * The network's events for `GET /api/network`, read from the chain on request and kept for `cacheMs` (5 s): a
 * request within that time gets the same snapshot, concurrent requests share one read, and a refresh reads only
 * from `reorgDepth` blocks below the last head (older events are kept), so the cost does not grow with the chain.
 * @example const events = new NetworkEvents({ contracts, fromBlock: deployment.startBlock }); (await events.snapshot()).logs
 */
export class NetworkEvents {
  private last: (NetworkSnapshot & { at: number }) | undefined;
  private pending: Promise<NetworkSnapshot> | undefined;

  constructor(
    private readonly options: HubNetworkOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** The events up to the head, at most `cacheMs` old. */
  snapshot(): Promise<NetworkSnapshot> {
    if (this.last !== undefined && this.now() - this.last.at < (this.options.cacheMs ?? 5_000))
      return Promise.resolve(this.last);
    this.pending ??= this.refresh().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async refresh(): Promise<NetworkSnapshot> {
    const { contracts, fromBlock } = this.options;
    const provider = contracts.escrow.runner?.provider;
    if (provider == null)
      throw new ConfigError(
        "the network's contracts are not connected to a provider: connect them to one to serve /api/network",
      );
    const head = await provider.getBlockNumber();
    const from =
      this.last === undefined ? fromBlock : Math.max(fromBlock, this.last.head - (this.options.reorgDepth ?? 12) + 1);
    const fresh =
      head < from ? [] : await readNetworkEvents(contracts, from, head, { maxBlockRange: this.options.maxBlockRange });
    const kept = this.last?.logs.filter((log) => log.blockNumber < from) ?? [];
    this.last = { fromBlock, head, logs: [...kept, ...fresh], at: this.now() };
    return this.last;
  }
}

/** Options of {@link startHubServer}. */
export interface StartHubServerOptions extends HubServerOptions {
  /** TCP port; 0 picks a free one. Default 8787. */
  port?: number;
  /** Interface to bind. Default 127.0.0.1: the API is not meant to face the internet directly. */
  host?: string;
}

/** A running server. */
export interface RunningHubServer {
  server: Server;
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  close(): Promise<void>;
}

type JsonBody = Record<string, unknown>;

/**
 * Creates (without starting) the hub's HTTP server: `GET /api/search`, `GET /api/models/:id` and, given
 * `network`, `GET /api/network[?window=<blocks>]`.
 * Bad parameters answer 400 naming the parameter; no request can stop the server.
 * @example const server = createHubServer({ store, engine }); server.listen(8787, "127.0.0.1");
 */
export function createHubServer(options: HubServerOptions): Server {
  const network =
    options.network === undefined || options.network instanceof NetworkEvents
      ? options.network
      : new NetworkEvents(options.network);
  const resolved = { ...options, network };
  return createServer((req, res) => {
    handle(resolved, req, res).catch((error: unknown) => {
      options.logger?.error({ err: error, url: req.url }, "hub request failed");
      if (!res.headersSent) send(res, 500, { error: "InternalError", message: "Internal error." });
      else res.destroy();
    });
  });
}

/**
 * Starts the hub's HTTP server on `host:port` (default `127.0.0.1:8787`).
 * @example const { url, close } = await startHubServer({ store, engine, port: 0 });
 */
export async function startHubServer(options: StartHubServerOptions): Promise<RunningHubServer> {
  const server = createHubServer(options);
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8787, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  options.logger?.info({ host, port }, "hub server listening");
  const close = () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  return { server, url: `http://${host}:${port}`, close };
}

type ResolvedOptions = HubServerOptions & { network?: NetworkEvents };

async function handle(options: ResolvedOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://hub.invalid");
  if (req.method !== "GET" && req.method !== "HEAD")
    return send(res, 405, { error: "MethodNotAllowed", message: "Only GET is supported." });
  try {
    if (url.pathname === "/api/search") return send(res, 200, searchRoute(options, url));
    if (url.pathname === "/api/network") return await networkRoute(options.network, res, url, options.logger);
    const model = /^\/api\/models\/([^/]*)\/?$/.exec(url.pathname);
    if (model !== null) return modelRoute(options, res, decodeURIComponent(model[1] ?? ""));
  } catch (error) {
    if (error instanceof HubParamError)
      return send(res, 400, { error: error.name, param: error.param, message: error.shortMessage });
    if (error instanceof URIError)
      return send(res, 400, { error: "HubParamError", param: "id", message: "Malformed URL encoding." });
    throw error;
  }
  if (
    !url.pathname.startsWith("/api/") &&
    options.staticHandler !== undefined &&
    (await options.staticHandler(req, res))
  )
    return;
  send(res, 404, { error: "NotFound", message: `No route for ${url.pathname}.` });
}

function searchRoute(options: HubServerOptions, url: URL): JsonBody {
  const request = parseSearchParams(url.searchParams);
  const result = options.engine.search(request.query, request.filters, request.sort, request.page);
  return { ...result };
}

/**
 * The concentration figures (`computeConcentration`) of the chain's events up to the head, with `fromBlock` and
 * `toBlock`; with `?window=<blocks>` also `history`, the figures per window of that many blocks.
 */
async function networkRoute(
  network: NetworkEvents | undefined,
  res: ServerResponse,
  url: URL,
  logger: Logger | undefined,
): Promise<void> {
  if (network === undefined)
    return send(res, 404, { error: "NotFound", message: "This hub does not read the network's chain events." });
  const window = parseWindow(url.searchParams.getAll("window"));
  let snapshot: NetworkSnapshot;
  try {
    snapshot = await network.snapshot();
  } catch (error) {
    if (!(error instanceof BaseError)) throw error;
    logger?.warn({ err: error }, "cannot read the network's events");
    return send(res, 503, { error: "Unavailable", message: "The chain could not be read; try again." });
  }
  const { fromBlock, head, logs } = snapshot;
  const body: JsonBody = {
    fromBlock,
    toBlock: head,
    ...(toJson(computeConcentration(reduceNetworkEvents(logs).inputs())) as JsonBody),
  };
  if (window !== undefined) {
    try {
      body.history = toJson(
        concentrationHistory(logs, new NetworkReducer(), { window, fromBlock, toBlock: Math.max(fromBlock, head) }),
      );
    } catch (error) {
      if (error instanceof InputError)
        throw new HubParamError("window", error.shortMessage.replace(/^window \d+ /, "").replace(/\.$/, ""));
      throw error;
    }
  }
  send(res, 200, body);
}

function parseWindow(values: readonly string[]): number | undefined {
  if (values.length === 0) return undefined;
  const [value] = values;
  if (values.length > 1 || !/^\d{1,12}$/.test(value!) || Number(value) < 1)
    throw new HubParamError("window", "must be one whole number of blocks, at least 1");
  return Number(value);
}

function modelRoute(options: HubServerOptions, res: ServerResponse, rawId: string): void {
  const model = options.store.getModel(parseModelIdParam(rawId));
  if (model === undefined) return send(res, 404, { error: "NotFound", message: `Model ${rawId} is not known.` });
  const tee = new TeeIndex(options.store.db);
  send(res, 200, {
    ...model,
    versions: model.versions.map((v) => ({ ...v, tee: tee.bindingOf(model.modelId, v.version) ?? null })),
  });
}

function send(res: ServerResponse, status: number, body: JsonBody): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(json),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(json);
}

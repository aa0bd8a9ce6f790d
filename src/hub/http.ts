import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { InputError } from "../core/errors";
import { type NetworkFigures, networkFiguresJson } from "../economics";
import { HubParamError } from "./errors";
import type { NetworkIndex } from "./network";
import { parseModelIdParam, parseSearchParams } from "./params";
import { parseVersionParam, type RetrievabilityProber } from "./retrievability";
import type { SearchEngine } from "./search";
import type { SubscriptionFeeds } from "./subscriptions";
import type { HubStore } from "./store";
import { EvaluationIndex } from "./evaluations";
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
  /** The indexed network events `GET /api/network` computes its figures from (`HubIndexer.network`); without it the route answers 404. */
  network?: NetworkIndex;
  /** The deployment's subscription feeds, `GET /api/feeds[/<address>]`; without them the routes answer 404. */
  feeds?: Pick<SubscriptionFeeds, "answer">;
  /**
   * Each version's providers per file, as last probed (`RetrievabilityProber`): `retrievability` on every version of
   * `GET /api/models/:id` and `GET /api/models/:id/versions/:version/providers`; without it those answer null and 404.
   */
  retrievability?: Pick<RetrievabilityProber, "ofVersion">;
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
  return createServer((req, res) => {
    handle(options, req, res).catch((error: unknown) => {
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

async function handle(options: HubServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://hub.invalid");
  if (req.method !== "GET" && req.method !== "HEAD")
    return send(res, 405, { error: "MethodNotAllowed", message: "Only GET is supported." });
  try {
    if (url.pathname === "/api/search") return send(res, 200, searchRoute(options, url));
    if (url.pathname === "/api/network") return networkRoute(options.network, res, url);
    if (url.pathname === "/api/feeds" || url.pathname.startsWith("/api/feeds/")) {
      const answer = await options.feeds?.answer(url);
      return send(
        res,
        answer?.status ?? 404,
        answer?.body ?? { error: "NotFound", message: "This hub reads no subscription feeds." },
      );
    }
    const model = /^\/api\/models\/([^/]*)\/?$/.exec(url.pathname);
    if (model !== null) return modelRoute(options, res, decodeURIComponent(model[1] ?? ""));
    const providers = /^\/api\/models\/([^/]*)\/versions\/([^/]*)\/providers\/?$/.exec(url.pathname);
    if (providers !== null)
      return providersRoute(
        options,
        res,
        decodeURIComponent(providers[1] ?? ""),
        decodeURIComponent(providers[2] ?? ""),
      );
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
 * The concentration figures (economics' `networkFigures`) of the indexed network events, from the deployment's start
 * block to the last indexed block (`fromBlock`, `toBlock`); with `?window=<blocks>` also `history`, the figures per
 * window of that many blocks. 503 until the indexer has indexed a block.
 */
function networkRoute(network: NetworkIndex | undefined, res: ServerResponse, url: URL): void {
  if (network === undefined)
    return send(res, 404, { error: "NotFound", message: "This hub does not read the network's chain events." });
  const window = parseWindow(url.searchParams.getAll("window"));
  let figures: NetworkFigures | undefined;
  try {
    figures = network.figures(window);
  } catch (error) {
    if (error instanceof InputError && window !== undefined)
      throw new HubParamError("window", error.shortMessage.replace(/^window \d+ /, "").replace(/\.$/, ""));
    throw error;
  }
  if (figures === undefined)
    return send(res, 503, {
      error: "Unavailable",
      message: `The hub has not indexed the network's events yet (from block ${network.startBlock}); try again.`,
    });
  send(res, 200, networkFiguresJson(figures));
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
  const evaluations = new EvaluationIndex(options.store.db);
  send(res, 200, {
    ...model,
    versions: model.versions.map((v) => ({
      ...v,
      tee: tee.bindingOf(model.modelId, v.version) ?? null,
      evaluations: evaluations.ofVersion(model.modelId, v.version),
      retrievability: options.retrievability?.ofVersion(v.files) ?? null,
    })),
  });
}

/** One version's providers per file, as last probed; 404 when the hub does not probe or the version is not known. */
function providersRoute(options: HubServerOptions, res: ServerResponse, rawId: string, rawVersion: string): void {
  const modelId = parseModelIdParam(rawId);
  const version = parseVersionParam(rawVersion);
  if (version === undefined) throw new HubParamError("version", "must be a positive integer version");
  if (options.retrievability === undefined)
    return send(res, 404, { error: "NotFound", message: "This hub does not probe providers." });
  const found = options.store.getModel(modelId)?.versions.find((v) => v.version === version);
  if (found === undefined)
    return send(res, 404, { error: "NotFound", message: `Model ${rawId} version ${rawVersion} is not known.` });
  send(res, 200, { modelId, version, ...options.retrievability.ofVersion(found.files) });
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

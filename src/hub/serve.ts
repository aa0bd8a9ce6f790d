/**
 * Starts the hub's HTTP API over an existing store.
 * Run: `HUB_DB=hub.sqlite HUB_PORT=8787 npx ts-node src/hub/serve.ts` (defaults shown; HUB_HOST defaults to
 * 127.0.0.1), with the web page. To index a chain as well, use `startLocalHub` (local.ts) or `vin hub serve`.
 * From code, {@link serveHub} does the same and, given `retrievability`, probes the providers of every file.
 */
import pino, { type Logger } from "pino";
import { startHubServer } from "./http";
import { RetrievabilityProber, type RetrievabilityOptions } from "./retrievability";
import { createWebHandler, type HubPageConfig } from "./web";
import { SearchEngine } from "./search";
import { HubStore } from "./store";

/** Options of {@link serveHub}. */
export interface ServeHubOptions {
  /** SQLite file of the index (or an open store, which the hub does not close). Default `hub.sqlite`. */
  store?: string | HubStore;
  /** Default 8787; 0 picks a free one. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  page?: HubPageConfig;
  logger?: Logger;
  /**
   * Probe every indexed file from every provider on a schedule, and show each version's providers per file with a
   * warning under two. E.g. `{ probe: (cid, p, o) => peerStore.probe(cid, p, o), providers, gateways }`.
   */
  retrievability?: Omit<RetrievabilityOptions, "logger">;
}

/** A running hub server, with its prober if probing. */
export interface ServedHub {
  url: string;
  store: HubStore;
  prober: RetrievabilityProber | undefined;
  /** Stops the prober and the server, and closes the store if it opened it. */
  stop(): Promise<void>;
}

/**
 * Serves the hub's API and page over an indexed store; given `retrievability`, starts probing (first round at once).
 * @example
 * const hub = await serveHub({ store, port: 0, retrievability: { probe, providers, gateways: [gatewayUrl] } });
 * // ... await hub.stop();
 */
export async function serveHub(options: ServeHubOptions = {}): Promise<ServedHub> {
  const logger = options.logger;
  const ownsStore = !(options.store instanceof HubStore);
  const store =
    options.store instanceof HubStore ? options.store : HubStore.open(options.store ?? "hub.sqlite", { logger });
  const prober =
    options.retrievability === undefined
      ? undefined
      : new RetrievabilityProber(store, { ...options.retrievability, ...(logger === undefined ? {} : { logger }) });
  const server = await startHubServer({
    store,
    engine: new SearchEngine(store),
    ...(logger === undefined ? {} : { logger }),
    port: options.port ?? 8787,
    host: options.host ?? "127.0.0.1",
    staticHandler: createWebHandler(options.page === undefined ? {} : { config: options.page }),
    ...(prober === undefined ? {} : { retrievability: prober }),
  }).catch((error: unknown) => {
    if (ownsStore) store.close();
    throw error;
  });
  prober?.start();
  const stop = async () => {
    await prober?.stop();
    await server.close();
    if (ownsStore) store.close();
  };
  return { url: server.url, store, prober, stop };
}

async function main(): Promise<void> {
  const logger = pino({ name: "hub" });
  const hub = await serveHub({
    store: process.env.HUB_DB ?? "hub.sqlite",
    port: Number(process.env.HUB_PORT ?? 8787),
    host: process.env.HUB_HOST ?? "127.0.0.1",
    logger,
  });
  const stop = () => {
    void hub.stop();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (require.main === module)
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });

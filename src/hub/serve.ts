/**
 * Starts the hub's HTTP API over an existing store.
 * Run: `HUB_DB=hub.sqlite HUB_PORT=8787 npx ts-node src/hub/serve.ts` (defaults shown; HUB_HOST defaults to
 * 127.0.0.1), with the web page. To index a chain as well, use `startLocalHub` (local.ts) or `vin hub serve`.
 */
import pino from "pino";
import { startHubServer } from "./http";
import { createWebHandler } from "./web";
import { SearchEngine } from "./search";
import { HubStore } from "./store";

async function main(): Promise<void> {
  const logger = pino({ name: "hub" });
  const store = HubStore.open(process.env.HUB_DB ?? "hub.sqlite", { logger });
  const port = Number(process.env.HUB_PORT ?? 8787);
  const server = await startHubServer({
    store,
    engine: new SearchEngine(store),
    logger,
    port,
    host: process.env.HUB_HOST ?? "127.0.0.1",
    staticHandler: createWebHandler(),
  });
  const stop = () => {
    void server.close().finally(() => store.close());
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

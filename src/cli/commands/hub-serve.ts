import { existsSync } from "node:fs";
import type { Command } from "commander";
import { InputError } from "../../core/errors";
import type { ContentStore } from "../../core/content";
import { type StartLocalHubOptions, startLocalHub } from "../../hub/local";
import { loadConfig } from "../../node/config";
import { PeerContentStore } from "../../storage";
import type { Globals } from "../options";
import { fetchSources, hubContext, hubOutput, type HubContext } from "./hub";

const DEFAULT_PROBE_INTERVAL_MS = 600_000;

/**
 * `vin hub serve`: the registry and escrow indexed, the hub's page and API on 127.0.0.1 until Ctrl-C (see
 * `startLocalHub`). With the embedded IPFS store and a ProviderDirectory in the config, it also probes, every
 * `--probe-interval`, which providers serve every file (`--no-probe` to not).
 */
export function register(program: Command, global: Globals, context: HubContext = hubContext(global)): void {
  const { out, err } = hubOutput(context);
  program
    .command("hub")
    .description("the model hub")
    .command("serve")
    .description("index the registry and escrow and serve the hub's page and API on 127.0.0.1")
    .option("--port <port>", "HTTP port", "8787")
    .option("--db <file>", "SQLite index file (default: in memory, rebuilt at start)")
    .option("--confirmations <n>", "blocks behind the head to wait before indexing", "2")
    .option("--probe-interval <ms>", "time between rounds of retrievability probes", String(DEFAULT_PROBE_INTERVAL_MS))
    .option("--no-probe", "do not probe which providers serve each file")
    .action(
      async (opts: { port: string; db?: string; confirmations: string; probeInterval: string; probe: boolean }) => {
        const port = integer("--port", opts.port);
        const confirmations = integer("--confirmations", opts.confirmations);
        const intervalMs = Number(opts.probeInterval);
        if (!/^\d{1,10}$/.test(opts.probeInterval) || intervalMs < 1_000)
          throw new InputError(
            `--probe-interval must be a number of milliseconds >= 1000, got "${opts.probeInterval}".`,
          );
        const contentStore = await context.contentStore();
        const retrievability = opts.probe ? await probing(contentStore, intervalMs) : undefined;
        const hub = await startLocalHub({
          provider: await context.provider(),
          deployment: await context.deployment(),
          contentStore,
          port,
          confirmations,
          ...(opts.db === undefined ? {} : { dbPath: opts.db }),
          ...(retrievability === undefined ? {} : { retrievability }),
        });
        out(`model hub at ${hub.url} (Ctrl-C to stop)`);
        await new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
        await hub.stop();
        await contentStore.close();
      },
    );

  /** The prober's options when the store is an IPFS peer and the config lists a ProviderDirectory; else undefined. */
  async function probing(
    store: ContentStore,
    intervalMs: number,
  ): Promise<StartLocalHubOptions["retrievability"] | undefined> {
    const file = global().config;
    const config = existsSync(file) ? loadConfig(file) : undefined;
    if (!(store instanceof PeerContentStore) || config?.contracts.providerDirectory === undefined) {
      err(
        "retrievability: not probed (needs the embedded IPFS store, not --kubo, and a providerDirectory in the config)",
      );
      return undefined;
    }
    const sources = await fetchSources(global, () => context.provider(), {}, err);
    return {
      probe: (cid, provider, options) => store.probe(cid, provider, options),
      providers: sources.providers,
      gateways: config.ipfsGateways ?? [],
      intervalMs,
    };
  }
}

function integer(option: string, value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new InputError(`${option} must be a non-negative integer, got "${value}".`);
  return Number(value);
}

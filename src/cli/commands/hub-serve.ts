import type { Command } from "commander";
import { InputError } from "../../core/errors";
import { startLocalHub } from "../../hub/local";
import type { Globals } from "../options";
import { hubContext, hubOutput, type HubContext } from "./hub";

/** `vin hub serve`: the registry and escrow indexed, the hub's page and API on 127.0.0.1 until Ctrl-C (see `startLocalHub`). */
export function register(program: Command, global: Globals, context: HubContext = hubContext(global)): void {
  const { out } = hubOutput(context);
  program
    .command("hub")
    .description("the model hub")
    .command("serve")
    .description("index the registry and escrow and serve the hub's page and API on 127.0.0.1")
    .option("--port <port>", "HTTP port", "8787")
    .option("--db <file>", "SQLite index file (default: in memory, rebuilt at start)")
    .option("--confirmations <n>", "blocks behind the head to wait before indexing", "2")
    .action(async (opts: { port: string; db?: string; confirmations: string }) => {
      const port = integer("--port", opts.port);
      const confirmations = integer("--confirmations", opts.confirmations);
      const contentStore = await context.contentStore();
      const hub = await startLocalHub({
        provider: await context.provider(),
        deployment: await context.deployment(),
        contentStore,
        port,
        confirmations,
        ...(opts.db === undefined ? {} : { dbPath: opts.db }),
      });
      out(`model hub at ${hub.url} (Ctrl-C to stop)`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await hub.stop();
      await contentStore.close();
    });
}

function integer(option: string, value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new InputError(`${option} must be a non-negative integer, got "${value}".`);
  return Number(value);
}

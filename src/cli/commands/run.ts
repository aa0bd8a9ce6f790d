import type { Command } from "commander";
import { startDaemon } from "../../node/daemon";
import { readPassword } from "../../node/keystore";
import { createLogger } from "../../core/log";
import type { Globals } from "../options";

/** `vin run`: the operator daemon (see `startDaemon`) until SIGTERM or SIGINT. */
export function register(program: Command, global: Globals): void {
  program
    .command("run")
    .description("run the operator daemon until SIGTERM/SIGINT")
    .option(
      "--takeover",
      "adopt a key whose transactions this database has not recorded (only if its other instance is gone for good)",
    )
    .option(
      "--max-collateral <tokens>",
      "largest collateral per job this node locks (over $VIN_MAX_COLLATERAL and the config's maxCollateral, default 50)",
    )
    .action(async (opts: { takeover?: boolean; maxCollateral?: string }) => {
      const log = createLogger();
      // Handlers first: a signal during start-up stops the daemon as soon as it is up, never mid-write.
      const running: { daemon?: Awaited<ReturnType<typeof startDaemon>>; stopRequested?: boolean } = {};
      const shutdown = () => {
        running.stopRequested = true;
        if (running.daemon !== undefined) void running.daemon.stop().then(() => process.exit(0));
      };
      process.once("SIGTERM", shutdown);
      process.once("SIGINT", shutdown);
      running.daemon = await startDaemon({
        configFile: global().config,
        password: readPassword(global().passwordFile),
        log,
        takeover: opts.takeover,
        sources: { flags: opts, env: process.env },
      });
      if (running.stopRequested) shutdown();
      await running.daemon.stopped;
    });
}

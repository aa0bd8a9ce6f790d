import type { Command } from "commander";
import { registerModes } from "../../node/operator-actions";
import { withOperator } from "../context";
import { parseModeNames, type Globals } from "../options";
import { print } from "../output";

/** `vin register --modes <list>` (see `registerModes`). */
export function register(program: Command, global: Globals): void {
  program
    .command("register")
    .description("declare the modes this operator serves")
    .requiredOption("--modes <list>", "vanilla,tee")
    .action(async (opts: { modes: string }) => {
      const modes = parseModeNames(opts.modes);
      const { tx } = await withOperator(global(), "register", (ctx) => registerModes(ctx, modes));
      print(!!global().json, { modes, tx }, () => `registered for ${modes.join(", ")} (${tx})`);
    });
}

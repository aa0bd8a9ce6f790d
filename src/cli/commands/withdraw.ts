import type { Command } from "commander";
import { withdrawStake } from "../../node/operator-actions";
import { withOperator } from "../context";
import type { Globals } from "../options";
import { print } from "../output";

/** `vin withdraw` (see `withdrawStake`). */
export function register(program: Command, global: Globals): void {
  program
    .command("withdraw")
    .description("withdraw thawed stake to the operator address")
    .action(async () => {
      const { tx } = await withOperator(global(), "withdraw", (ctx) => withdrawStake(ctx));
      print(!!global().json, { tx }, () => `withdrawn (${tx})`);
    });
}

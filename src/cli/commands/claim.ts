import type { Command } from "commander";
import { claimFees } from "../../node/operator-actions";
import { withOperator } from "../context";
import type { Globals } from "../options";
import { print, tokens } from "../output";

/** `vin claim`: the operator's earned fees out of the escrow (see `claimFees`). */
export function register(program: Command, global: Globals): void {
  program
    .command("claim")
    .description("withdraw earned fees to the operator address")
    .action(async () => {
      const { claimed, tx } = await withOperator(global(), "claim", (ctx) => claimFees(ctx));
      print(!!global().json, { claimed, tx }, () => `claimed ${tokens(claimed)} (${tx})`);
    });
}

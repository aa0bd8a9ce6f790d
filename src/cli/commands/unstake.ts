import type { Command } from "commander";
import { unstakeTokens } from "../../node/operator-actions";
import { withOperator } from "../context";
import { parseAmount, type Globals } from "../options";
import { print, tokens } from "../output";

/** `vin unstake <amount>` (see `unstakeTokens`). */
export function register(program: Command, global: Globals): void {
  program
    .command("unstake <amount>")
    .description("start thawing staked tokens")
    .action(async (amount: string) => {
      const wei = parseAmount(amount);
      const { unstaked, tx } = await withOperator(global(), "unstake", (ctx) => unstakeTokens(ctx, wei));
      print(
        !!global().json,
        { unstaked, tx },
        () => `unstaking ${tokens(unstaked)}; withdraw after the thawing period (${tx})`,
      );
    });
}

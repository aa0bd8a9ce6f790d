import type { Command } from "commander";
import { stakeTokens } from "../../node/operator-actions";
import { withOperator } from "../context";
import { parseAmount, type Globals } from "../options";
import { print, tokens } from "../output";

/** `vin stake <amount>` (see `stakeTokens`). */
export function register(program: Command, global: Globals): void {
  program
    .command("stake <amount>")
    .description("stake tokens (approves the staking contract first if needed)")
    .action(async (amount: string) => {
      const wei = parseAmount(amount);
      const { staked, tx } = await withOperator(global(), "stake", (ctx) => stakeTokens(ctx, wei));
      print(!!global().json, { staked, tx }, () => `staked ${tokens(staked)} (${tx})`);
    });
}

import type { Command } from "commander";
import { formatUnits } from "ethers";
import { loadConfig } from "../../node/config";
import { getOperatorStatus } from "../../node/operator-status";
import type { Globals } from "../options";
import { print, tokens } from "../output";

/** `vin status` (see `getOperatorStatus`). */
export function register(program: Command, global: Globals): void {
  program
    .command("status")
    .description("stake, locked and thawing collateral, claimable fees, and jobs by state")
    .action(async () => {
      const g = global();
      const status = await getOperatorStatus(loadConfig(g.config));
      const { address, modes, staked, locked, available, thawing, thawEnd, earned, claimable, balance, gasPaid, jobs } =
        status;
      print(!!g.json, status, () =>
        [
          `operator  ${address} (modes: ${modes.join(", ") || "none"})`,
          `staked    ${tokens(staked)} (locked ${tokens(locked)}, available ${tokens(available)})`,
          `thawing   ${tokens(thawing)}${thawing > 0n ? ` until ${new Date(Number(thawEnd) * 1000).toISOString()}` : ""}`,
          `earned    ${tokens(earned)} from settled jobs; claimable now ${tokens(claimable)}; wallet ${tokens(balance)}`,
          `gas paid  ${formatUnits(gasPaid, 18)} ETH`,
          `jobs      ${
            Object.entries(jobs)
              .filter(([, n]) => n > 0)
              .map(([s, n]) => `${s} ${n}`)
              .join(", ") || "none"
          }`,
        ].join("\n"),
      );
    });
}

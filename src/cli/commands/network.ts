import type { Command } from "commander";
import { computeConcentration, readNetworkEvents, reduceNetworkEvents, renderConcentration, toJson } from "../../economics";
import { withChain } from "../context";
import type { Globals } from "../options";
import { print } from "../output";

/** `vin network stats`: how concentrated the network is, from the deployment's chain events (see `computeConcentration`). */
export function register(program: Command, global: Globals): void {
  program
    .command("network")
    .description("the network as a whole")
    .command("stats")
    .description("operators per mode, stake distribution, Nakamoto coefficients, HHI, job shares and models servable by k operators, from chain events")
    .option("--json", "print the figures as JSON")
    .action(async (opts: { json?: boolean }) => {
      const g = global();
      await withChain(g, async (config, provider, contracts) => {
        const logs = await readNetworkEvents(contracts, config.contracts.startBlock, await provider.getBlockNumber(), { maxBlockRange: config.maxBlockRange });
        const stats = computeConcentration(reduceNetworkEvents(logs).inputs());
        print(!!(opts.json ?? g.json), toJson(stats), () => renderConcentration(stats));
      });
    });
}

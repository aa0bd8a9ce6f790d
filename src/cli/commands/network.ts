import type { Command } from "commander";
import type { Contracts } from "../../core/contracts";
import {
  computeConcentration,
  readNetworkEvents,
  reduceNetworkEvents,
  renderConcentration,
  toJson,
  type Concentration,
  type NetworkContract,
} from "../../economics";
import { withChain } from "../context";
import type { Globals } from "../options";
import { print } from "../output";

/** `vin network stats`: how concentrated the network is, from the deployment's chain events (see `computeConcentration`). */
export function register(program: Command, global: Globals): void {
  program
    .command("network")
    .description("the network as a whole")
    .command("stats")
    .description(
      "operators per mode, stake distribution, Nakamoto coefficients, HHI, job shares and models servable by k operators, from chain events",
    )
    .option("--json", "print the figures as JSON")
    .action(async (opts: { json?: boolean }) => {
      const g = global();
      await withChain(g, async (config, provider, contracts) => {
        const stats = await networkStats(
          contracts,
          config.contracts.startBlock,
          await provider.getBlockNumber(),
          config.maxBlockRange,
        );
        print(!!(opts.json ?? g.json), toJson(stats), () => renderConcentration(stats));
      });
    });
}

/**
 * The concentration figures of the network's events in blocks `fromBlock`..`toBlock`: what `vin network stats`
 * prints, and `npm start` once its jobs are served.
 * @example console.log(renderConcentration(await networkStats(contracts, record.startBlock, await provider.getBlockNumber())));
 */
export async function networkStats(
  contracts: Pick<Contracts, NetworkContract>,
  fromBlock: number,
  toBlock: number,
  maxBlockRange?: number,
): Promise<Concentration> {
  const logs = await readNetworkEvents(contracts, fromBlock, toBlock, { maxBlockRange });
  return computeConcentration(reduceNetworkEvents(logs).inputs());
}

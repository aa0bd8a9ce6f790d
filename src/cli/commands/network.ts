import type { Command } from "commander";
import type { Contracts } from "../../core/contracts";
import {
  computeConcentration,
  concentrationHistory,
  NetworkReducer,
  renderHistory,
  readNetworkEvents,
  reduceNetworkEvents,
  renderConcentration,
  toJson,
  type Concentration,
  type NetworkContract,
} from "../../economics";
import { InputError } from "../../core/errors";
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
    .option("--window <blocks>", "also the figures per window of this many blocks, from the deployment's start block")
    .action(async (opts: { json?: boolean; window?: string }) => {
      const g = global();
      const window = opts.window === undefined ? undefined : parseWindow(opts.window);
      await withChain(g, async (config, provider, contracts) => {
        const fromBlock = config.contracts.startBlock;
        const toBlock = await provider.getBlockNumber();
        const logs = await readNetworkEvents(contracts, fromBlock, toBlock, { maxBlockRange: config.maxBlockRange });
        const stats = computeConcentration(reduceNetworkEvents(logs).inputs());
        if (window === undefined) {
          print(!!(opts.json ?? g.json), toJson(stats), () => renderConcentration(stats));
          return;
        }
        const history = concentrationHistory(logs, new NetworkReducer(), { window, fromBlock, toBlock });
        print(
          !!(opts.json ?? g.json),
          toJson({ ...stats, history }),
          () => `${renderConcentration(stats)}\nHistory, per window of ${window} blocks\n${renderHistory(history)}`,
        );
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

/** `--window`: a whole number of blocks, at least 1. */
function parseWindow(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InputError(
      `--window "${value}" is not a number of blocks: use a whole number, at least 1 (e.g. --window 1000)`,
    );
  }
  return n;
}

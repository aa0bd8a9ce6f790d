import type { Command } from "commander";
import type { Contracts } from "../../core/contracts";
import {
  type Concentration,
  type NetworkContract,
  type NetworkFigures,
  networkFigures,
  networkFiguresJson,
  readNetworkEvents,
  renderConcentration,
  renderHistory,
} from "../../economics";
import { InputError } from "../../core/errors";
import { fetchNetworkFigures } from "../../hub/client";
import { withChain } from "../context";
import type { Globals } from "../options";
import { print } from "../output";

/**
 * `vin network stats`: how concentrated the network is, from the deployment's chain events read over the config's
 * chain, or with `--hub <url>` as that hub computes them from its indexer (both with economics' `networkFigures`).
 */
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
    .option("--hub <url>", "ask this hub (GET /api/network: its indexer's events) instead of reading the chain")
    .action(async (opts: { json?: boolean; window?: string; hub?: string }) => {
      const g = global();
      const window = opts.window === undefined ? undefined : parseWindow(opts.window);
      const figures =
        opts.hub === undefined
          ? await withChain(g, async (config, provider, contracts) => {
              const toBlock = await provider.getBlockNumber();
              return readFigures(contracts, config.contracts.startBlock, toBlock, {
                maxBlockRange: config.maxBlockRange,
                window,
              });
            })
          : await fetchNetworkFigures({ hubUrl: opts.hub, window });
      print(!!(opts.json ?? g.json), networkFiguresJson(figures), () => renderFigures(figures, window));
    });
}

/** The text of `vin network stats`: the figures, then their history per `window` blocks if there is one. */
function renderFigures({ concentration, history }: NetworkFigures, window: number | undefined): string {
  if (history === undefined) return renderConcentration(concentration);
  return `${renderConcentration(concentration)}\nHistory, per window of ${window} blocks\n${renderHistory(history)}`;
}

/** Reads the network's events in blocks `fromBlock`..`toBlock` over RPC and computes their figures. */
async function readFigures(
  contracts: Pick<Contracts, NetworkContract>,
  fromBlock: number,
  toBlock: number,
  options: { maxBlockRange?: number; window?: number } = {},
): Promise<NetworkFigures> {
  const logs = await readNetworkEvents(contracts, fromBlock, toBlock, { maxBlockRange: options.maxBlockRange });
  return networkFigures(logs, { fromBlock, toBlock, window: options.window });
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
  return (await readFigures(contracts, fromBlock, toBlock, { maxBlockRange })).concentration;
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

import type { Interface, Log } from "ethers";
import { JobEscrow__factory, ModelRegistry__factory, NodeStaking__factory } from "../../typechain-types";
import type { CursorStore } from "../core/follower";
import { IntegrityError } from "../core/errors";
import {
  type DecodedLog,
  decodeNetworkLog,
  NETWORK_EVENTS,
  type NetworkContract,
  type NetworkFigures,
  networkFigures,
  NetworkReducer,
  toJson,
} from "../economics";
import type { HubStore } from "./store";

/** The name of the network events' follower cursor in the hub's database. */
export const NETWORK_CURSOR = "network";

/**
 * The network's events as economics' `decodeNetworkLog` gives them, arguments as JSON (amounts as decimal strings,
 * which `NetworkReducer` reads as it reads bigints); each row carries its block, so a rewind deletes what dropped
 * blocks wrote. `rewinds` counts rewinds, so a reader that folded rows before one knows to fold them again.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS hub_network_events (block INTEGER NOT NULL, log_index INTEGER NOT NULL, contract TEXT NOT NULL,
  name TEXT NOT NULL, args TEXT NOT NULL, PRIMARY KEY (block, log_index));
CREATE TABLE IF NOT EXISTS hub_network_state (id INTEGER PRIMARY KEY CHECK (id = 1), rewinds INTEGER NOT NULL);
INSERT OR IGNORE INTO hub_network_state (id, rewinds) VALUES (1, 0);
`;

interface EventRow {
  block: number;
  log_index: number;
  contract: NetworkContract;
  name: string;
  args: string;
}

/** The addresses of the three contracts whose events the figures are computed from. */
export type NetworkAddresses = Readonly<Record<NetworkContract, string>>;

/**
 * The hub's index of the network's events (NodeStaking, JobEscrow, ModelRegistry: those economics' `NetworkReducer`
 * folds), in the hub's database with their own follower cursor ({@link NETWORK_CURSOR}), and the concentration
 * figures computed from them with economics' `networkFigures`, as `vin network stats` computes them from the same
 * events read over RPC. The indexer writes it (`HubIndexer` given `staking`); the server reads it.
 *
 * Its own cursor is what makes a store indexed before these tables existed whole: the indexer reads the network's
 * events from the deployment's start block however far the hub's other tables are.
 * @example
 * const network = new NetworkIndex(store, deployment.startBlock);
 * network.figures()?.concentration.nakamoto.byStake;
 */
export class NetworkIndex {
  /** The follower cursor of these tables, its writes joining the store's batches. */
  readonly cursor: CursorStore;
  /** The fold of the rows up to (`block`, `index`), made after `rewinds` rewinds. */
  private folded: { rewinds: number; block: number; index: number; state: NetworkReducer } | undefined;

  constructor(
    private readonly store: HubStore,
    /** The deployment's start block: the first block of the figures. */
    readonly startBlock: number,
  ) {
    store.db.exec(SCHEMA);
    this.cursor = store.cursor(NETWORK_CURSOR);
  }

  /** The last block indexed (one before the start block before the first range). */
  get indexedTo(): number {
    return this.cursor.cursor() ?? this.startBlock - 1;
  }

  /** Records one decoded event; runs in the transaction that advances the cursor. */
  record(log: DecodedLog): void {
    if (log.contract === undefined || log.logIndex === undefined)
      throw new IntegrityError(`event ${log.name} at block ${log.blockNumber} has no contract or log index`);
    this.store.db
      .prepare(
        "INSERT OR REPLACE INTO hub_network_events (block, log_index, contract, name, args) VALUES (?, ?, ?, ?, ?)",
      )
      .run(log.blockNumber, log.logIndex, log.contract, log.name, JSON.stringify(toJson(log.args)));
  }

  /** Deletes what blocks after `block` wrote (a reorganisation); runs in the transaction that rewinds the cursor. */
  rewindTo(block: number): void {
    this.store.db.prepare("DELETE FROM hub_network_events WHERE block > ?").run(block);
    this.store.db.prepare("UPDATE hub_network_state SET rewinds = rewinds + 1 WHERE id = 1").run();
  }

  /** Every indexed event, in chain order. */
  logs(): DecodedLog[] {
    const rows = this.store.db
      .prepare("SELECT * FROM hub_network_events ORDER BY block, log_index")
      .all() as EventRow[];
    return rows.map(toLog);
  }

  /**
   * The figures of the indexed blocks (the start block to {@link indexedTo}), with their history per `window` blocks
   * if asked; undefined before any block is indexed. Without a window the events are folded incrementally: only
   * those indexed since the last call are read.
   * @throws InputError when `window` is out of range.
   */
  figures(window?: number): NetworkFigures | undefined {
    const toBlock = this.indexedTo;
    if (toBlock < this.startBlock) return undefined;
    const logs = window === undefined ? [] : this.logs();
    return networkFigures(logs, { fromBlock: this.startBlock, toBlock, window, state: this.state() });
  }

  /** The fold of every indexed event, brought up to date from the rows added since the last call. */
  private state(): NetworkReducer {
    const { rewinds } = this.store.db.prepare("SELECT rewinds FROM hub_network_state WHERE id = 1").get() as {
      rewinds: number;
    };
    if (this.folded?.rewinds !== rewinds) this.folded = { rewinds, block: -1, index: -1, state: new NetworkReducer() };
    const folded = this.folded;
    const rows = this.store.db
      .prepare(
        "SELECT * FROM hub_network_events WHERE block > ? OR (block = ? AND log_index > ?) ORDER BY block, log_index",
      )
      .all(folded.block, folded.block, folded.index) as EventRow[];
    try {
      for (const row of rows) {
        folded.state.apply(toLog(row));
        [folded.block, folded.index] = [row.block, row.log_index];
      }
    } catch (error) {
      this.folded = undefined;
      throw error;
    }
    return folded.state;
  }
}

/** The interfaces of the network's contracts, by address (lowercase). */
export function networkInterfaces(
  addresses: NetworkAddresses,
): Map<string, { contract: NetworkContract; iface: Interface }> {
  return new Map([
    [addresses.staking.toLowerCase(), { contract: "staking", iface: NodeStaking__factory.createInterface() }],
    [addresses.escrow.toLowerCase(), { contract: "escrow", iface: JobEscrow__factory.createInterface() }],
    [addresses.registry.toLowerCase(), { contract: "registry", iface: ModelRegistry__factory.createInterface() }],
  ]);
}

/** The topics of the events the figures need, for a follower of the three contracts. */
export function networkTopics(interfaces: ReturnType<typeof networkInterfaces>): string[] {
  return [...interfaces.values()].flatMap(({ contract, iface }) =>
    NETWORK_EVENTS[contract].map((event) => iface.getEvent(event)!.topicHash),
  );
}

/** A log of one of the three contracts decoded, or undefined (another contract, another event). */
export function decodeNetworkEvent(interfaces: ReturnType<typeof networkInterfaces>, log: Log): DecodedLog | undefined {
  const source = interfaces.get(log.address.toLowerCase());
  return source === undefined ? undefined : decodeNetworkLog(source.iface, source.contract, log);
}

function toLog(row: EventRow): DecodedLog {
  return {
    name: row.name,
    args: JSON.parse(row.args) as Record<string, unknown>,
    blockNumber: row.block,
    logIndex: row.log_index,
    contract: row.contract,
  };
}

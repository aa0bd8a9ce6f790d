import type Database from "better-sqlite3";
import { SqliteCursorStore, type CursorStore } from "../../core/follower";

/** The name of the node's escrow follower in core's follower tables (`follower_cursors`, `follower_blocks`). */
export const ESCROW_CURSOR = "escrow";

/**
 * The chain cursor of the node's escrow follower: core's {@link SqliteCursorStore} in the node's database, so a
 * range's job changes, outbox changes and cursor commit together.
 */
export function escrowCursor(sqlite: Database.Database): CursorStore {
  return new SqliteCursorStore(sqlite, ESCROW_CURSOR);
}

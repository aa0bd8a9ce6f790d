/**
 * The redeemer's record of spent tokens: a token is good once, so the gateway marks its nonce spent before it
 * serves the request, atomically, and refuses it the second time. The operator is paid for spent tokens by
 * redeeming their nonces on-chain in batches (`PrivacyPassEscrow.redeem(keyId, nonces)`); the record keeps which
 * ones it has claimed.
 */
import type Database from "better-sqlite3";
import { fromHex, toHex, type Hex } from "./bytes";
import { PrivacyPassInputError } from "./errors";

/** What the redeemer knows of spent tokens, per issuer key. */
export interface SpentTokens {
  /** Records the token as spent; false when it was spent before (then nothing changes). Atomic. */
  markSpent(keyId: Hex, nonce: Hex): boolean;
  isSpent(keyId: Hex, nonce: Hex): boolean;
  /**
   * Forgets a spend that served nothing (the request failed on the redeemer's side), unless it was claimed already;
   * returns whether the token is spendable again.
   */
  release(keyId: Hex, nonce: Hex): boolean;
  /**
   * Spent tokens of `keyId` not yet claimed on-chain, oldest first, at most `limit`; with `spentBefore` (ms since
   * the epoch) only those spent before it, so that a token whose request may still fail (and be released) is not
   * claimed while it runs.
   */
  unclaimed(keyId: Hex, limit: number, spentBefore?: number): Hex[];
  /** Marks nonces of `keyId` as claimed (their redeem transaction is final); returns how many were unclaimed. */
  markClaimed(keyId: Hex, nonces: readonly Hex[]): number;
}

/**
 * {@link SpentTokens} in SQLite: the node's database, or a file of its own. One row per spent token; the primary
 * key makes marking atomic across processes sharing the file.
 * @example const spent = new SqliteSpentTokens(db.sqlite);
 */
export class SqliteSpentTokens implements SpentTokens {
  private readonly stmt;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS privacypass_spent (
        key_id TEXT NOT NULL, nonce TEXT NOT NULL, spent_at INTEGER NOT NULL, claimed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (key_id, nonce));
      CREATE INDEX IF NOT EXISTS privacypass_unclaimed ON privacypass_spent (key_id, claimed);
    `);
    this.stmt = {
      spend: db.prepare("INSERT OR IGNORE INTO privacypass_spent (key_id, nonce, spent_at) VALUES (?, ?, ?)"),
      spent: db.prepare("SELECT 1 FROM privacypass_spent WHERE key_id = ? AND nonce = ?"),
      unclaimed: db.prepare(
        "SELECT nonce FROM privacypass_spent WHERE key_id = ? AND claimed = 0 AND spent_at < ? ORDER BY rowid LIMIT ?",
      ),
      release: db.prepare("DELETE FROM privacypass_spent WHERE key_id = ? AND nonce = ? AND claimed = 0"),
      claim: db.prepare("UPDATE privacypass_spent SET claimed = 1 WHERE key_id = ? AND nonce = ? AND claimed = 0"),
    };
  }

  markSpent(keyId: Hex, nonce: Hex): boolean {
    return this.stmt.spend.run(bytes32(keyId, "keyId"), bytes32(nonce, "nonce"), Date.now()).changes === 1;
  }

  isSpent(keyId: Hex, nonce: Hex): boolean {
    return this.stmt.spent.get(bytes32(keyId, "keyId"), bytes32(nonce, "nonce")) !== undefined;
  }

  release(keyId: Hex, nonce: Hex): boolean {
    return this.stmt.release.run(bytes32(keyId, "keyId"), bytes32(nonce, "nonce")).changes === 1;
  }

  unclaimed(keyId: Hex, limit: number, spentBefore: number = Number.MAX_SAFE_INTEGER): Hex[] {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new PrivacyPassInputError("limit", `expected a positive integer, got ${limit}`);
    const rows = this.stmt.unclaimed.all(bytes32(keyId, "keyId"), spentBefore, limit) as { nonce: Hex }[];
    return rows.map((row) => row.nonce);
  }

  markClaimed(keyId: Hex, nonces: readonly Hex[]): number {
    const key = bytes32(keyId, "keyId");
    const claim = () =>
      nonces.reduce((sum, nonce) => sum + this.stmt.claim.run(key, bytes32(nonce, "nonce")).changes, 0);
    return this.db.inTransaction ? claim() : this.db.transaction(claim)();
  }
}

/** One spelling per value (lowercase 0x hex), so that "0xAB…" and "0xab…" are one token. */
function bytes32(value: string, field: string): Hex {
  return toHex(fromHex(value, field, 32));
}

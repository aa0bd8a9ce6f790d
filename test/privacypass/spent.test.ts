/** SqliteSpentTokens: a token is spent once, the record survives reopening, claims are batched and idempotent. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { expect } from "chai";
import { type Hex, PrivacyPassInputError, SqliteSpentTokens, toHex } from "../../src/privacypass";

const random32 = (): Hex => toHex(randomBytes(32));

describe("SqliteSpentTokens", function () {
  let dir: string;
  let file: string;

  beforeEach(function () {
    dir = mkdtempSync(path.join(tmpdir(), "vin-spent-"));
    file = path.join(dir, "spent.sqlite");
  });

  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it("marks a token spent once: the second markSpent returns false", function () {
    const db = new Database(file);
    const spent = new SqliteSpentTokens(db);
    const [keyId, nonce] = [random32(), random32()];
    expect(spent.isSpent(keyId, nonce)).to.equal(false);
    expect(spent.markSpent(keyId, nonce)).to.equal(true);
    expect(spent.markSpent(keyId, nonce)).to.equal(false);
    expect(spent.markSpent(keyId, nonce.toUpperCase().replace("0X", "0x") as Hex)).to.equal(false);
    expect(spent.isSpent(keyId, nonce)).to.equal(true);
    // The same nonce under another key is another token.
    expect(spent.markSpent(random32(), nonce)).to.equal(true);
    db.close();
  });

  it("refuses a double spend after the file is closed and reopened", function () {
    const [keyId, nonce] = [random32(), random32()];
    const first = new Database(file);
    expect(new SqliteSpentTokens(first).markSpent(keyId, nonce)).to.equal(true);
    first.close();
    const second = new Database(file);
    const spent = new SqliteSpentTokens(second);
    expect(spent.isSpent(keyId, nonce)).to.equal(true);
    expect(spent.markSpent(keyId, nonce)).to.equal(false);
    second.close();
  });

  it("refuses a double spend through a second connection to the same file", function () {
    const [keyId, nonce] = [random32(), random32()];
    const [a, b] = [new Database(file), new Database(file)];
    const [one, two] = [new SqliteSpentTokens(a), new SqliteSpentTokens(b)];
    expect(one.markSpent(keyId, nonce)).to.equal(true);
    expect(two.markSpent(keyId, nonce)).to.equal(false);
    a.close();
    b.close();
  });

  it("lists unclaimed tokens oldest first in batches, and claims each once", function () {
    const db = new Database(file);
    const spent = new SqliteSpentTokens(db);
    const [keyId, otherKey] = [random32(), random32()];
    const nonces = Array.from({ length: 7 }, random32);
    for (const nonce of nonces) spent.markSpent(keyId, nonce);
    spent.markSpent(otherKey, random32());

    expect(spent.unclaimed(keyId, 3)).to.deep.equal(nonces.slice(0, 3));
    expect(spent.markClaimed(keyId, nonces.slice(0, 3))).to.equal(3);
    expect(spent.markClaimed(keyId, nonces.slice(0, 3))).to.equal(0);
    expect(spent.unclaimed(keyId, 10)).to.deep.equal(nonces.slice(3));
    // A nonce never spent, or another key's, is not claimed.
    expect(spent.markClaimed(keyId, [random32()])).to.equal(0);
    expect(spent.unclaimed(otherKey, 10)).to.have.length(1);
    // Claimed tokens stay spent.
    expect(spent.markSpent(keyId, nonces[0]!)).to.equal(false);
    db.close();
  });

  it("releases a spend that served nothing, but not a claimed one", function () {
    const db = new Database(file);
    const spent = new SqliteSpentTokens(db);
    const [keyId, a, b] = [random32(), random32(), random32()];
    spent.markSpent(keyId, a);
    expect(spent.release(keyId, a)).to.equal(true);
    expect(spent.isSpent(keyId, a)).to.equal(false);
    expect(spent.markSpent(keyId, a)).to.equal(true);
    spent.markSpent(keyId, b);
    spent.markClaimed(keyId, [b]);
    expect(spent.release(keyId, b)).to.equal(false);
    expect(spent.markSpent(keyId, b)).to.equal(false);
    db.close();
  });

  it("names the field of a malformed key id or nonce", function () {
    const db = new Database(file);
    const spent = new SqliteSpentTokens(db);
    for (const [keyId, nonce, field] of [
      ["0x1234", random32(), "keyId"],
      [random32(), "0xzz", "nonce"],
      [random32(), toHex(randomBytes(31)), "nonce"],
    ] as const) {
      const call = () => spent.markSpent(keyId as Hex, nonce as Hex);
      expect(call).to.throw(PrivacyPassInputError).with.property("field", field);
    }
    expect(() => spent.unclaimed(random32(), 0))
      .to.throw(PrivacyPassInputError)
      .with.property("field", "limit");
    db.close();
  });
});

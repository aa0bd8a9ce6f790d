/**
 * An agent's memory at rest (sdk/agent-memory): sealed, content-addressed turns under a password or a key file; a
 * wrong secret, a changed, removed or moved file each refused with the reason and nothing overwritten; and the rule
 * that cuts the conversation to fit the model's context (sdk/agent `memoryWindow`).
 */
import { expect } from "chai";
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Wallet, hexlify, keccak256, randomBytes, toUtf8Bytes } from "ethers";
import { ConflictError, InputError, KeyError, NotFoundError } from "../../../src/core/errors";
import type { ReceiptFile } from "../../../src/core/receipts";
import {
  AgentMemoryStore,
  MemoryIntegrityError,
  MemoryKeyError,
  estimateTokens,
  memoryWindow,
  type AgentTurn,
  type Persona,
} from "../../../src/sdk/agent";
import { expectRejection } from "../../fixtures/assert";

/** Cheap scrypt for tests (the default costs about 0.1 s per open). */
const SCRYPT = { N: 1 << 10, r: 8, p: 1 };
const PASSWORD = { password: "correct horse" };

const persona = (name = "ishmael"): Persona => ({
  name,
  system: "You tell of whales.",
  model: "1@1",
  sampling: { temperature: 0, maxTokens: 32, seed: 7 },
  contextTokens: 512,
});

function receiptOf(i: number): ReceiptFile {
  const address = Wallet.createRandom().address;
  return {
    receipt: {
      settlement: address,
      operator: address,
      enclave: address,
      modelId: 1n,
      version: 1n,
      requestHash: keccak256(toUtf8Bytes(`request ${i}`)),
      responseHash: keccak256(toUtf8Bytes(`response ${i}`)),
      promptTokens: 20n,
      completionTokens: BigInt(i + 1),
      price: 10n ** 15n * BigInt(21 + i),
      paymentId: hexlify(randomBytes(32)),
      issuedAt: 1_700_000_000n + BigInt(i),
    },
    signature: hexlify(randomBytes(65)),
    chainId: 31337n,
    teeVerifier: address,
  };
}

function turnOf(i: number, user = `message ${i}`, assistant = `answer ${i}`): AgentTurn {
  return {
    user,
    assistant,
    finishReason: "stop",
    receipt: receiptOf(i),
    operator: Wallet.createRandom().address,
    gateway: "http://127.0.0.1:9/v1",
    relay: "http://127.0.0.1:8/",
    promptTokens: 20,
    completionTokens: i + 1,
    ttftMs: 10 + i,
    totalMs: 50 + i,
    attempts: 1,
    at: new Date(1_700_000_000_000 + i).toISOString(),
  };
}

describe("sdk/agent-memory", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), "vin-agent-memory-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const create = (name = "ishmael", secret: Parameters<typeof AgentMemoryStore.create>[2] = PASSWORD) =>
    AgentMemoryStore.create(root, persona(name), secret, { scrypt: SCRYPT });
  const files = (name = "ishmael") => {
    const dir = path.join(root, name);
    const blocks = readdirSync(path.join(dir, "blocks"));
    return { dir, head: path.join(dir, "head.bin"), blocks: blocks.map((b) => path.join(dir, "blocks", b)) };
  };
  const snapshot = (name = "ishmael") =>
    [files(name).head, ...files(name).blocks].map((file) => [file, readFileSync(file).toString("hex")]);

  describe("round trip", () => {
    it("reads back, with the password, the persona and every turn in order, receipts included", async () => {
      const store = await create();
      const turns = [turnOf(0), turnOf(1, "é — ünïcode ✓"), turnOf(2)];
      const cids = turns.map((turn) => store.append(turn));
      expect(new Set(cids).size).to.equal(3);
      expect(cids.every((cid) => /^b[a-z2-7]+$/.test(cid))).to.equal(true);
      const reopened = await AgentMemoryStore.open(root, "ishmael", PASSWORD);
      expect(reopened.persona).to.deep.equal(persona());
      expect(reopened.head).to.equal(cids[2]);
      expect(reopened.read()).to.deep.equal(turns);
      expect(files().blocks).to.have.length(3);
    });

    it("keeps nothing in clear: neither the messages, the persona nor the receipts", async () => {
      const store = await create();
      const turn = turnOf(0, "Call me Ishmael.", "Some years ago");
      store.append(turn);
      for (const file of [files().head, ...files().blocks]) {
        const text = readFileSync(file).toString("latin1");
        for (const secret of ["Ishmael", "Some years", "whales", turn.receipt.receipt.paymentId.slice(2, 20)])
          expect(text, file).to.not.include(secret);
      }
    });

    it("opens with a key file of mode 0600 and refuses one others may read", async function () {
      if (process.platform === "win32") this.skip();
      const keyFile = path.join(root, "agent.key");
      writeFileSync(keyFile, hexlify(randomBytes(32)), { mode: 0o600 });
      const store = await create("starbuck", { keyFile });
      const turn = turnOf(0);
      store.append(turn);
      expect((await AgentMemoryStore.open(root, "starbuck", { keyFile })).read()).to.deep.equal([turn]);
      chmodSync(keyFile, 0o644);
      await expectRejection(
        AgentMemoryStore.open(root, "starbuck", { keyFile }),
        KeyError,
        /readable by others .*chmod 600/,
      );
      await expectRejection(AgentMemoryStore.open(root, "starbuck", PASSWORD), MemoryKeyError, /keyed by a key file/);
    });
  });

  describe("refusals", () => {
    it("refuses a wrong password with MemoryKeyError and leaves every file as it was", async () => {
      const store = await create();
      store.append(turnOf(0));
      const before = snapshot();
      await expectRejection(
        AgentMemoryStore.open(root, "ishmael", { password: "wrong" }),
        MemoryKeyError,
        /wrong password/,
      );
      expect(snapshot()).to.deep.equal(before);
    });

    it("finds a changed block, a removed block and a block put in another's place", async () => {
      const store = await create();
      [0, 1, 2].forEach((i) => store.append(turnOf(i)));
      const chain = (await AgentMemoryStore.open(root, "ishmael", PASSWORD)).read();
      expect(chain).to.have.length(3);
      const { blocks } = files();
      const original = blocks.map((file) => readFileSync(file));

      const changed = Buffer.from(original[0]!);
      changed[changed.length - 20]! ^= 1;
      writeFileSync(blocks[0]!, changed);
      const opened = await AgentMemoryStore.open(root, "ishmael", PASSWORD);
      expect(() => opened.read()).to.throw(MemoryIntegrityError, /was changed: its content is not its CID's/);
      writeFileSync(blocks[0]!, original[0]!);

      rmSync(blocks[1]!);
      expect(() => opened.read()).to.throw(MemoryIntegrityError, /is missing/);
      // Another block's bytes under this name: the CID no longer matches.
      writeFileSync(blocks[1]!, original[2]!);
      expect(() => opened.read()).to.throw(MemoryIntegrityError, /was changed/);
      writeFileSync(blocks[1]!, original[1]!);
      expect(opened.read()).to.deep.equal(chain);
    });

    it("refuses a changed head, and a head or block copied from another agent (same password)", async () => {
      const a = await create("ahab");
      a.append(turnOf(0));
      const b = await create("bildad");
      b.append(turnOf(1));
      const head = readFileSync(files("bildad").head);

      const changed = Buffer.from(head);
      changed[20]! ^= 1;
      writeFileSync(files("bildad").head, changed);
      await expectRejection(AgentMemoryStore.open(root, "bildad", PASSWORD), MemoryIntegrityError, /does not open/);

      writeFileSync(files("bildad").head, readFileSync(files("ahab").head));
      await expectRejection(AgentMemoryStore.open(root, "bildad", PASSWORD), MemoryIntegrityError, /does not open/);

      // Ahab's block copied into Bildad's store under its own CID, and Bildad's head restored: it names Bildad's block.
      writeFileSync(files("bildad").head, head);
      const [bildadBlock] = files("bildad").blocks;
      const [ahabBlock] = files("ahab").blocks;
      cpSync(ahabBlock!, bildadBlock!);
      const opened = await AgentMemoryStore.open(root, "bildad", PASSWORD);
      expect(() => opened.read()).to.throw(MemoryIntegrityError, /was changed/);
    });

    it("refuses to append when another process moved the head since the store read it", async () => {
      const first = await create();
      const second = await AgentMemoryStore.open(root, "ishmael", PASSWORD);
      first.append(turnOf(0));
      const before = snapshot();
      expect(() => second.append(turnOf(1))).to.throw(ConflictError, /changed by another process/);
      expect(snapshot()).to.deep.equal(before);
      first.append(turnOf(2));
      expect((await AgentMemoryStore.open(root, "ishmael", PASSWORD)).read().map((t) => t.user)).to.deep.equal([
        "message 0",
        "message 2",
      ]);
    });

    it("never overwrites an agent, and refuses bad names and unknown agents", async () => {
      await create();
      const before = snapshot();
      await expectRejection(create(), ConflictError, /exists .* never overwritten/);
      expect(snapshot()).to.deep.equal(before);
      await expectRejection(create("../escape"), InputError, /agent name/);
      await expectRejection(AgentMemoryStore.open(root, "queequeg", PASSWORD), NotFoundError, /no agent queequeg/);
    });
  });

  describe("memoryWindow (what is sent of the memory)", () => {
    it("sends the system prompt, the newest whole turns within contextTokens − maxTokens, then the message", () => {
      const turns = [0, 1, 2, 3].map((i) => turnOf(i, "u".repeat(30), "a".repeat(30)));
      const perTurn = 2 * estimateTokens("u".repeat(30));
      expect(perTurn).to.equal(28);
      const p = { ...persona(), system: "s".repeat(30), sampling: { maxTokens: 32 } };
      const fixed = estimateTokens(p.system) + estimateTokens("now");
      // Room for exactly two turns.
      const window = memoryWindow({ ...p, contextTokens: 32 + fixed + 2 * perTurn }, turns, "now");
      expect(window.map((m) => m.role)).to.deep.equal(["system", "user", "assistant", "user", "assistant", "user"]);
      expect(window[1]!.content).to.equal(turns[2]!.user);
      expect(window[window.length - 1]).to.deep.equal({ role: "user", content: "now" });
      // One token less: one turn.
      expect(memoryWindow({ ...p, contextTokens: 32 + fixed + 2 * perTurn - 1 }, turns, "now")).to.have.length(4);
      // All of it, less the oldest dropped on the node's word.
      const all = memoryWindow({ ...p, contextTokens: 4096 }, turns, "now");
      expect(all).to.have.length(2 + 2 * 4);
      expect(memoryWindow({ ...p, contextTokens: 4096 }, turns, "now", 3)).to.have.length(4);
      // The system prompt and the message even when they alone do not fit.
      expect(memoryWindow({ ...p, contextTokens: 2 }, turns, "now")).to.deep.equal([
        { role: "system", content: p.system },
        { role: "user", content: "now" },
      ]);
    });
  });
});

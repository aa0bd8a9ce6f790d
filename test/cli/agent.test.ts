/**
 * `vin agent` in-process: `run` drives several agents over the private path as the chain lists it (the operator's
 * OHTTP gateway serving the chat API, two relays listed by other accounts), each receipt checked; `create` and
 * `show` through the command line with the CLI's password file; bad input refused before anything is sent.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { InputError, NotFoundError } from "../../src/core/errors";
import { creditOf, loadPersonas, runAgents, sayTurn } from "../../src/cli/commands/agent";
import { returnPass } from "../../src/sdk/passes";
import { buildProgram } from "../../src/cli/main";
import type { ModelSource } from "../../src/modes";
import { startPrivateGateway, type RunningGateway } from "../../src/node/gateway";
import { createRelayHandler } from "../../src/ohttp";
import { AgentMemoryStore, MemoryKeyError, chainVerifier, privateTransport } from "../../src/sdk/agent";
import { DevEnclave } from "../../src/tee";
import { expectRejection } from "../fixtures/assert";
import { capturedLogger, listen } from "../ohttp/helpers";
import { loadChat, type ChatFixture } from "../unit/chat/receipts.fixture";
import { chatApiOf } from "../unit/agent/agent.fixture";

/** The gateway's classifier is not used here. */
const NO_CLASSIFIER: ModelSource = { load: () => Promise.reject(new Error("no classifier")) };

describe("vin agent", function () {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(tmpdir(), "vin-agent-cli-"));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const write = (name: string, text: string) => {
    const file = path.join(tmp, name);
    writeFileSync(file, text);
    return file;
  };

  const vin = async (args: string[]): Promise<string> => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (...parts: unknown[]) => void lines.push(parts.join(" "));
    try {
      await buildProgram().parseAsync(["node", "vin", ...args]);
    } finally {
      console.log = log;
    }
    return lines.join("\n");
  };
  describe("run (over the private path the chain lists)", function () {
    let fx: ChatFixture;
    let gateway: RunningGateway;
    let relays: Awaited<ReturnType<typeof listen>>[];
    const relayLogs: string[][] = [];

    before(async function () {
      fx = await loadChat();
      const enclave = new DevEnclave(fx.enclave.privateKey);
      gateway = await startPrivateGateway({
        enclave,
        operator: fx.operator.address,
        contracts: fx.system,
        chainId: BigInt(fx.domain.chainId!),
        models: NO_CLASSIFIER,
        log: capturedLogger().logger,
        chat: await chatApiOf(fx),
      });
      const registry = fx.system.privacyRegistry!;
      await registry.connect(fx.operator).setGateway(fx.enclave.address, gateway.url);
      relays = [];
      for (const account of [fx.buyer, fx.watcher]) {
        const { logger, lines } = capturedLogger();
        relayLogs.push(lines);
        const relay = await listen(createRelayHandler({ allowGateway: () => true, logger }));
        relays.push(relay);
        await fx.system.token.connect(account).approve(await registry.getAddress(), 10n ** 27n);
        await registry.connect(account).listRelay(`${relay.url}/`);
      }
    });

    after(async function () {
      await Promise.all([gateway?.close(), ...(relays ?? []).map((relay) => relay.close())]);
    });

    it("runs each agent its turns, every receipt checked, one summary per agent", async function () {
      const model = `${fx.modelId}@1`;
      const personas = ["ahab", "starbuck", "stubb"].map((name) => ({
        name,
        system: `You are ${name}.`,
        model,
        sampling: { temperature: 0, maxTokens: 16 },
        messages: ["Call me Ishmael.", "And the whale?"],
      }));
      const entries = loadPersonas(write("personas.json", JSON.stringify(personas)));
      const results = await runAgents({
        entries,
        turns: 2,
        transport: privateTransport({ contracts: fx.system }),
        verify: chainVerifier({ contracts: fx.system, settlement: fx.settlement }),
      });
      expect(results.map((r) => [r.name, r.turns, r.receiptsVerified, r.error])).to.deep.equal(
        personas.map((p) => [p.name, 2, 2, undefined]),
      );
      // Six turns, every one through a listed relay (neither of which sees the text).
      const logged = relayLogs.flat();
      expect(logged.length).to.be.at.least(6);
      expect(logged.join("\n")).to.not.include("Ishmael");
      for (const r of results) {
        expect(r.completionTokens, r.name).to.be.greaterThan(0);
        expect(r.promptTokens, r.name).to.be.greaterThan(0);
        expect(r.ttftP50Ms, r.name).to.be.a("number");
        expect(r.ttftP50Ms!).to.be.at.most(r.totalP50Ms!);
      }
    });

    it("says a turn as a stored agent (vin agent say's turn), streamed, kept encrypted, shown with its receipt", async function () {
      const dir = path.join(tmp, "say");
      const password = write("say-password", "pw\n");
      await vin([
        "--password-file",
        password,
        "agent",
        "create",
        "ishmael",
        "--model",
        `${fx.modelId}@1`,
        "--system",
        "You tell of whales.",
        "--max-tokens",
        "16",
        "--dir",
        dir,
      ]);
      const out: string[] = [];
      const turn = await sayTurn({
        memory: await AgentMemoryStore.open(dir, "ishmael", { password: "pw" }),
        message: "Call me Ishmael.",
        transport: privateTransport({ contracts: fx.system }),
        verify: chainVerifier({ contracts: fx.system, settlement: fx.settlement }),
        out: (text) => out.push(text),
        err: (text) => out.push(`ERR ${text}`),
      });
      expect(out.join("")).to.equal(turn.assistant);
      expect(turn.relay).to.be.oneOf(relays.map((r) => `${r.url}/`));
      const shown = await vin(["--password-file", password, "agent", "show", "ishmael", "--dir", dir]);
      expect(shown).to.include(`[1] you: Call me Ishmael.`);
      expect(shown).to.include(`[1] ishmael: ${turn.assistant}`);
      expect(shown).to.include(`receipt verified: enclave ${fx.enclave.address} of operator ${fx.operator.address}`);
    });

    it("reports an agent whose model no gateway serves, the others unaffected", async function () {
      const entries = loadPersonas(
        write(
          "mixed.json",
          JSON.stringify([
            { name: "ahab", system: "You hunt.", model: `${fx.modelId}@1`, messages: ["Whale?"] },
            { name: "fedallah", system: "You foretell.", model: `${fx.modelId}@9`, messages: ["Whale?"] },
          ]),
        ),
      );
      const results = await runAgents({
        entries,
        turns: 1,
        transport: privateTransport({ contracts: fx.system }),
        verify: chainVerifier({ contracts: fx.system, settlement: fx.settlement }),
      });
      expect(results[0]).to.include({ name: "ahab", turns: 1, receiptsVerified: 1 });
      expect(results[1]).to.include({ name: "fedallah", turns: 0 });
      expect(results[1]!.error).to.match(new RegExp(`no listed gateway may serve model ${fx.modelId}@9`));
    });
  });

  describe("create, show and bad input (no chain needed)", function () {
    const dir = () => path.join(tmp, "agents");
    const password = () => write("password", "correct horse\n");

    it("creates an agent from a system prompt file and shows its persona and empty conversation", async function () {
      const system = write("system.txt", "You tell of whales.\n");
      const created = await vin([
        "--password-file",
        password(),
        "agent",
        "create",
        "ishmael",
        "--model",
        "1@1",
        "--system",
        `@${system}`,
        "--temperature",
        "0",
        "--dir",
        dir(),
      ]);
      expect(created).to.match(/agent ishmael created in .* \(model 1@1\)/);
      const shown = JSON.parse(
        await vin(["--password-file", password(), "--json", "agent", "show", "ishmael", "--dir", dir()]),
      ) as { persona: { system: string; sampling: object; contextTokens: number }; turns: unknown[]; head: null };
      expect(shown.persona.system).to.equal("You tell of whales.");
      expect(shown.persona.sampling).to.deep.equal({ temperature: 0, maxTokens: 128 });
      expect(shown.persona.contextTokens).to.equal(2048);
      expect(shown.turns).to.deep.equal([]);
      await expectRejection(
        vin(["--password-file", write("wrong", "wrong"), "agent", "show", "ishmael", "--dir", dir()]),
        MemoryKeyError,
        /wrong password/,
      );
    });

    it("refuses a bad model, sampling value, personas file or agent name with the reason", async function () {
      const base = ["--password-file", password(), "agent"];
      const cases: [string[], new (...args: never[]) => Error, RegExp][] = [
        [["create", "a", "--model", "1", "--system", "x", "--dir", dir()], InputError, /<modelId>@<version>/],
        [
          ["create", "a", "--model", "1@1", "--system", "x", "--temperature", "3", "--dir", dir()],
          InputError,
          /--temperature must be a number from 0 to 2/,
        ],
        [["create", "a", "--model", "1@1", "--system", "@/nonexistent", "--dir", dir()], InputError, /no such file/],
        [["say", "queequeg", "hello", "--dir", dir()], NotFoundError, /no agent queequeg/],
        [
          ["say", "ishmael", "hello", "--gateway", "nobody", "--dir", dir()],
          InputError,
          /--gateway "nobody" is not an address/,
        ],
        [["run", write("bad.json", '[{"name":"a"}]')], InputError, /personas\[0\]\.system must be a non-empty string/],
        [
          [
            "run",
            write(
              "dup.json",
              JSON.stringify([0, 1].map(() => ({ name: "a", system: "s", model: "1@1", messages: ["m"] }))),
            ),
          ],
          InputError,
          /used twice/,
        ],
        [["run", write("ok.json", "[]"), "--turns", "0"], InputError, /--turns must be a whole number/],
        [
          ["say", "ishmael", "hello", "--credit", path.join(tmp, "no-wallet.json"), "--dir", dir()],
          InputError,
          /--credit .*no-wallet\.json: no such wallet/,
        ],
        [
          ["run", write("ok2.json", "[]"), "--credit", write("wallet.json", '{"version":1,"passes":[]}')],
          InputError,
          /--credit needs --gateway <operator>/,
        ],
      ];
      for (const [args, type, message] of cases) await expectRejection(vin([...base, ...args]), type, message);
    });

    it("pays with --credit: one token per request from the wallet, an unspent one put back, none left refused", async function () {
      const wallet = path.join(tmp, "credit.json");
      const pass = { keyId: `0x${"ab".repeat(32)}` as const, issuerName: "vin:31337:0x0:0xab", purchaseId: "1" };
      returnPass({ ...pass, token: "token-a" }, wallet);
      returnPass({ ...pass, token: "token-b" }, wallet);
      const { credentials, onUnspent } = creditOf({ credit: wallet });
      const route = { operator: "0x0000000000000000000000000000000000000001", url: "http://x/v1", fetch };
      const first = await credentials!(route);
      const second = await credentials!(route);
      expect([first, second].sort()).to.deep.equal(["token-a", "token-b"]);
      await expectRejection(credentials!(route), InputError, /holds no token: buy more with `vin credit deposit`/);
      onUnspent!(first!, route);
      expect(await credentials!(route)).to.equal(first);
      expect(creditOf({})).to.deep.equal({});
    });
  });
});

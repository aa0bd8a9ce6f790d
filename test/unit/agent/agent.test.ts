/**
 * sdk/agent against in-process chat APIs (node/chat-api over a scripted generator) whose receipts the fixture's
 * enclave signs: streamed turns kept with their checked receipts, memory sent back and stored encrypted; failover
 * when a gateway dies mid-stream, refuses the connection or answers 5xx, each credential spent at most once and
 * nothing counted twice; an altered answer or a failure on both routes leaves memory unchanged; a prompt the node
 * finds too long is resent with fewer turns.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ZeroAddress, keccak256, toUtf8Bytes } from "ethers";
import { VerificationError } from "../../../src/core/errors";
import {
  Agent,
  AgentMemoryStore,
  AttemptError,
  chainVerifier,
  type AgentEvent,
  type ChatRoute,
  type ChatTransport,
  type Persona,
  streamCompletion,
} from "../../../src/sdk/agent";
import { expectRejection } from "../../fixtures/assert";
import { loadChat, type ChatFixture } from "../chat/receipts.fixture";
import {
  RecordingRedeemer,
  altering,
  chatApiOf,
  cutAfter,
  inProcess,
  routeOf,
  refusedUrl,
  scriptedGenerator,
} from "./agent.fixture";

const ANSWER = "Some years ago, never mind how long precisely";

/** Routes in a fixed order. */
const fixed = (...routes: ChatRoute[]): ChatTransport => ({ routes: () => Promise.resolve(routes) });

/** Credentials cred-1, cred-2, ... and the routes they were taken for. */
function credentialSource() {
  const taken: { credential: string; url: string }[] = [];
  return {
    taken,
    take: (route: ChatRoute) => {
      const credential = `cred-${taken.length + 1}`;
      taken.push({ credential, url: route.url });
      return Promise.resolve(credential);
    },
  };
}

async function collect(source: AsyncGenerator<AgentEvent, unknown, undefined>): Promise<AgentEvent[]> {
  const events: AgentEvent[] = [];
  for await (const event of source) events.push(event);
  return events;
}

describe("sdk/agent", function () {
  let fx: ChatFixture;
  let persona: Persona;
  let root: string;

  before(async function () {
    fx = await loadChat();
    persona = {
      name: "ishmael",
      system: "You tell of whales.",
      model: `${fx.modelId}@1`,
      sampling: { temperature: 0, maxTokens: 32, seed: 7 },
      contextTokens: 1024,
    };
    root = mkdtempSync(path.join(tmpdir(), "vin-agent-"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const verifier = () => chainVerifier({ contracts: fx.system, settlement: fx.settlement });

  it("streams a turn, checks its receipt, sends the memory back on the next turn and stores both encrypted", async function () {
    const redeemer = new RecordingRedeemer();
    const bodies: object[] = [];
    const route = routeOf(fx, "http://a.invalid/v1", inProcess(await chatApiOf(fx, undefined, redeemer), bodies));
    const store = await AgentMemoryStore.create(root, persona, { password: "pw" }, { scrypt: { N: 1024, r: 8, p: 1 } });
    const credentials = credentialSource();
    const agent = new Agent({
      persona,
      transport: fixed(route),
      verify: verifier(),
      store,
      credentials: credentials.take,
    });

    const events = await collect(agent.stream("Call me Ishmael."));
    const tokens = events.flatMap((e) => (e.type === "token" ? [e.text] : []));
    expect(tokens.length).to.be.greaterThan(1);
    const turn = events.find((e) => e.type === "turn")!.turn;
    expect(tokens.join("")).to.equal(turn.assistant).and.equal(ANSWER);
    expect(turn.receipt.receipt.paymentId).to.equal(keccak256(toUtf8Bytes("cred-1")));
    expect(turn.receipt.receipt.enclave).to.equal(fx.enclave.address);
    expect(turn.receipt.receipt.completionTokens).to.equal(BigInt(turn.completionTokens));
    expect(turn.attempts).to.equal(1);
    expect(turn.ttftMs).to.be.at.most(turn.totalMs);

    const second = await agent.say("And then?");
    const sent = bodies[1] as { messages: { role: string; content: string }[]; stream: boolean };
    expect(sent.stream).to.equal(true);
    expect(sent.messages).to.deep.equal([
      { role: "system", content: persona.system },
      { role: "user", content: "Call me Ishmael." },
      { role: "assistant", content: ANSWER },
      { role: "user", content: "And then?" },
    ]);
    expect(redeemer.redeemed).to.deep.equal(["cred-1", "cred-2"]);
    expect(agent.stats).to.include({
      turns: 2,
      receiptsVerified: 2,
      failovers: 0,
      credentialsSent: 2,
      credentialsLost: 0,
    });
    expect(agent.stats.completionTokens).to.equal(turn.completionTokens + second.completionTokens);

    const reopened = await AgentMemoryStore.open(root, "ishmael", { password: "pw" });
    expect(reopened.read()).to.deep.equal([turn, second]);
  });

  it("fails over when the gateway dies mid-stream: the partial answer dropped, a fresh credential, one turn counted", async function () {
    const [first, second] = [new RecordingRedeemer(), new RecordingRedeemer()];
    const dying = routeOf(
      fx,
      "http://a.invalid/v1",
      cutAfter(inProcess(await chatApiOf(fx, undefined, first)), 3),
      "relay-1",
    );
    const serving = routeOf(fx, "http://b.invalid/v1", inProcess(await chatApiOf(fx, undefined, second)), "relay-2");
    const credentials = credentialSource();
    const agent = new Agent({
      persona,
      transport: fixed(dying, serving),
      verify: verifier(),
      credentials: credentials.take,
    });

    const events = await collect(agent.stream("Call me Ishmael."));
    const failover = events.find((e) => e.type === "failover");
    expect(failover, "a failover event").to.not.equal(undefined);
    if (failover?.type !== "failover") throw new Error("unreachable");
    expect(failover.from.url).to.equal(dying.url);
    expect(failover.to.url).to.equal(serving.url);
    expect(failover.error).to.be.instanceOf(AttemptError);
    expect(failover.error.context.spent).to.equal("maybe");
    expect(failover.discarded).to.equal("Some years");
    const turn = events.find((e) => e.type === "turn")!.turn;
    expect(turn.assistant).to.equal(ANSWER);
    expect(turn.attempts).to.equal(2);
    expect(turn.gateway).to.equal(serving.url);
    // The first credential may have been spent: it is never resent; the second pays the served answer.
    expect(credentials.taken).to.deep.equal([
      { credential: "cred-1", url: dying.url },
      { credential: "cred-2", url: serving.url },
    ]);
    expect(first.redeemed).to.deep.equal(["cred-1"]);
    expect(second.redeemed).to.deep.equal(["cred-2"]);
    expect(turn.receipt.receipt.paymentId).to.equal(keccak256(toUtf8Bytes("cred-2")));
    expect(agent.turns).to.have.length(1);
    expect(agent.stats).to.include({
      turns: 1,
      receiptsVerified: 1,
      failovers: 1,
      completionTokens: turn.completionTokens,
      credentialsSent: 2,
      credentialsLost: 1,
    });
  });

  it("resends the same credential when the first gateway refused the connection or answered 5xx (it did not spend it)", async function () {
    const refused = routeOf(fx, await refusedUrl(), (input, init) => fetch(input, init));
    const failing = routeOf(fx, "http://c.invalid/v1", () =>
      Promise.resolve(
        Response.json({ error: { message: "the node failed to answer; nothing was charged" } }, { status: 500 }),
      ),
    );
    for (const dead of [refused, failing]) {
      const redeemer = new RecordingRedeemer();
      const serving = routeOf(fx, "http://b.invalid/v1", inProcess(await chatApiOf(fx, undefined, redeemer)));
      const credentials = credentialSource();
      const agent = new Agent({
        persona,
        transport: fixed(dead, serving),
        verify: verifier(),
        credentials: credentials.take,
      });
      const turn = await agent.say("Call me Ishmael.");
      expect(credentials.taken, dead.url).to.have.length(1);
      expect(turn.receipt.receipt.paymentId).to.equal(keccak256(toUtf8Bytes("cred-1")));
      expect(agent.stats).to.include({ failovers: 1, credentialsSent: 1, credentialsLost: 0 });
      expect(redeemer.redeemed).to.deep.equal(["cred-1"]);
    }
  });

  it("keeps nothing when both routes fail, and hands back a credential it did not spend", async function () {
    const store = await AgentMemoryStore.create(
      root,
      { ...persona, name: "bulkington" },
      { password: "pw" },
      { scrypt: { N: 1024, r: 8, p: 1 } },
    );
    const down = (url: string) => routeOf(fx, url, (input, init) => fetch(input, init));
    const unspent: string[] = [];
    const agent = new Agent({
      persona: store.persona,
      transport: fixed(down(await refusedUrl()), down(await refusedUrl())),
      verify: verifier(),
      store,
      credentials: credentialSource().take,
      onUnspent: (credential) => unspent.push(credential),
      timeouts: { headTimeoutMs: 5_000 },
    });
    await expectRejection(agent.say("Anyone?"), AttemptError, /did not answer/);
    expect(unspent).to.deep.equal(["cred-1"]);
    expect(agent.turns).to.have.length(0);
    expect(store.turnCount).to.equal(0);
    expect(agent.stats).to.include({ turns: 0, failovers: 1, credentialsLost: 0 });
  });

  it("refuses an answer altered after the enclave signed it (VerificationError), keeping nothing", async function () {
    const route = routeOf(fx, "http://a.invalid/v1", altering(inProcess(await chatApiOf(fx))));
    const agent = new Agent({
      persona,
      transport: fixed(route),
      verify: verifier(),
      credentials: credentialSource().take,
    });
    await expectRejection(agent.say("Call me Ishmael."), VerificationError, /response hash/);
    expect(agent.turns).to.have.length(0);
    expect(agent.stats).to.include({ turns: 0, receiptsVerified: 0, credentialsLost: 1 });
  });

  it("drops the oldest turns it sent when the node finds the prompt longer than its context, resending the credential", async function () {
    const redeemer = new RecordingRedeemer();
    const bodies: object[] = [];
    // The node's context holds 30 "tokens" of 4 bytes; the persona believes it has 1024.
    const api = await chatApiOf(fx, scriptedGenerator(ANSWER, 30), redeemer);
    const route = routeOf(fx, "http://a.invalid/v1", inProcess(api, bodies));
    const credentials = credentialSource();
    const small = { ...persona, sampling: { ...persona.sampling, maxTokens: 16 } };
    const agent = new Agent({
      persona: small,
      transport: fixed(route),
      verify: verifier(),
      credentials: credentials.take,
    });
    await agent.say("Call me Ishmael.");
    await agent.say("Whale?");
    const third = await agent.say("And the sea?");
    const counts = bodies.map((b) => (b as { messages: unknown[] }).messages.length);
    // Turn 2 fits with turn 1 (4 messages); turn 3 with both (6) is refused, then sent with one turn (4).
    expect(counts).to.deep.equal([2, 4, 6, 4]);
    expect(third.receipt.receipt.paymentId).to.equal(keccak256(toUtf8Bytes("cred-3")));
    expect(credentials.taken).to.have.length(3);
    expect(agent.stats).to.include({ turns: 3, credentialsSent: 3, credentialsLost: 0, failovers: 0 });
  });

  it("ends a stream that keeps sending within the idle limit at its total time limit, closing the connection", async function () {
    let closed = false;
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const tick = setInterval(() => res.write('data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'), 50);
      res.on("close", () => {
        closed = true;
        clearInterval(tick);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const route: ChatRoute = { operator: ZeroAddress, url: `http://127.0.0.1:${port}/v1`, fetch };
    try {
      let chunks = 0;
      const stream = streamCompletion(route, {}, { totalTimeoutMs: 300, idleTimeoutMs: 10_000 });
      await expectRejection(
        (async () => {
          for await (const _ of stream) chunks += 1;
        })(),
        AttemptError,
        /took over 300 ms/,
      );
      expect(chunks).to.be.greaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(closed).to.equal(true);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

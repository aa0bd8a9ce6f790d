/**
 * The chat API's wait queue for a generation slot (node/chat-api `maxQueued`, `queueTimeoutMs`), over a text model
 * whose generations the test lets finish one at a time: queued requests are served first in first out as slots free,
 * a full queue and a timed-out wait are answered 429, and a client that disconnects while queued leaves the queue;
 * none of these is charged (the payment is taken only with a slot).
 */
import { expect } from "chai";
import { Wallet, ZeroAddress, type TypedDataDomain } from "ethers";
import { signReceipt, type Receipt } from "../../../src/core/receipts";
import { teeDomain } from "../../../src/core/tee";
import type { GenerateRequest, Generation, GenerationChunk, TextModelInfo } from "../../../src/inference/text/runtime";
import { createChatApi, fixedPrice, PAYMENT_HEADER, type ChatApiOptions } from "../../../src/node/chat-api";

const MODEL = "7@1";

/** A text model whose generations each wait for `finishOne()`, oldest first; `started` lists their prompts. */
function gatedModel() {
  const gates: Array<() => void> = [];
  const model = {
    started: [] as string[],
    info: {
      name: "gated",
      architecture: "llama",
      contextSize: 64,
      trainContextSize: 64,
      vocabSize: 8,
      hasChatTemplate: false,
    } as TextModelInfo,
    async *stream(request: GenerateRequest): AsyncGenerator<GenerationChunk, Generation, undefined> {
      const prompt = request.prompt;
      if (typeof prompt === "string" || !("messages" in prompt)) throw new Error("the chat API sends messages");
      model.started.push(prompt.messages[prompt.messages.length - 1]!.content);
      await new Promise<void>((resolve) => gates.push(resolve));
      yield { tokens: [1], text: "hi" };
      return {
        text: "hi",
        tokens: [1],
        finishReason: "eos",
        usage: { promptTokens: 3, completionTokens: 1, cachedTokens: 0 },
      };
    },
    /** Lets the oldest waiting generation finish. */
    finishOne() {
      const gate = gates.shift();
      if (gate === undefined) throw new Error("no generation is running");
      gate();
    },
  };
  return model;
}

const enclave = Wallet.createRandom();
const signer = {
  address: enclave.address,
  signReceipt: async (domain: TypedDataDomain, receipt: Receipt) =>
    (await signReceipt(enclave, domain, receipt)).signature,
};

/** Resolves once `condition` holds, checking after each turn of the event loop. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

function api(options: Partial<ChatApiOptions> = {}) {
  const model = gatedModel();
  const redeemed: string[] = [];
  const refunds: string[] = [];
  const chat = createChatApi({
    models: [{ modelId: 7n, version: 1n, generator: model }],
    receipts: {
      signer,
      operator: Wallet.createRandom().address,
      settlement: Wallet.createRandom().address,
      domain: teeDomain(31337n, ZeroAddress),
      price: fixedPrice(2n),
    },
    payments: {
      redeem: (credential) => {
        redeemed.push(credential);
        return Promise.resolve({
          paymentId: `0x${credential.padStart(64, "0")}`,
          refund: () => void refunds.push(credential),
        });
      },
    },
    maxConcurrent: 1,
    ...options,
  });
  /** A request whose prompt and credential are both `name` (hex). */
  const ask = (name: string, signal?: AbortSignal) =>
    chat.handle(
      new Request("http://node/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json", [PAYMENT_HEADER]: name },
        body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: name }] }),
      }),
      signal,
    );
  return { chat, model, redeemed, refunds, ask };
}

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  const { error } = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, code: error.code, message: error.message };
}

describe("chat API: the wait queue for a generation slot", function () {
  it("serves queued requests in arrival order as slots free, paying each only when it takes its slot", async function () {
    const { chat, model, redeemed, ask } = api({ maxQueued: 4 });
    const first = ask("a1");
    await until(() => model.started.length === 1);
    const queued: Array<Promise<Response>> = [];
    for (const [i, name] of ["b2", "c3", "d4"].entries()) {
      queued.push(ask(name));
      await until(() => chat.queued === i + 1);
    }
    expect(chat.inFlight).to.equal(1);
    expect(redeemed, "a queued request has paid nothing").to.deep.equal(["a1"]);

    model.finishOne();
    expect((await first).status).to.equal(200);
    for (const [i, response] of queued.entries()) {
      await until(() => model.started.length === i + 2);
      expect(chat.inFlight).to.equal(1);
      expect(chat.queued).to.equal(2 - i);
      model.finishOne();
      expect((await response).status).to.equal(200);
    }
    expect(model.started).to.deep.equal(["a1", "b2", "c3", "d4"]);
    expect(redeemed).to.deep.equal(["a1", "b2", "c3", "d4"]);
    expect([chat.inFlight, chat.queued]).to.deep.equal([0, 0]);
  });

  it("answers 429 with retry-after at once when the queue is full, charging nothing", async function () {
    const { chat, model, redeemed, refunds, ask } = api({ maxQueued: 1 });
    const first = ask("a1");
    await until(() => model.started.length === 1);
    const second = ask("b2");
    await until(() => chat.queued === 1);

    const full = await ask("c3");
    expect(full.headers.get("retry-after")).to.equal("1");
    const error = await errorOf(full);
    expect(error).to.include({ status: 429, code: "too_many_requests" });
    expect(error.message).to.match(/1 requests wait/);
    expect(redeemed).to.deep.equal(["a1"]);

    model.finishOne();
    await until(() => model.started.length === 2);
    model.finishOne();
    expect([(await first).status, (await second).status]).to.deep.equal([200, 200]);
    expect(model.started).to.deep.equal(["a1", "b2"]);
    expect(refunds).to.deep.equal([]);
  });

  it("with maxQueued 0 answers 429 at once while every slot is busy (no queue)", async function () {
    const { chat, model, redeemed, ask } = api({ maxQueued: 0 });
    const first = ask("a1");
    await until(() => model.started.length === 1);
    const busy = await ask("b2");
    expect(await errorOf(busy)).to.include({ status: 429, code: "too_many_requests" });
    expect(chat.queued).to.equal(0);
    model.finishOne();
    expect((await first).status).to.equal(200);
    expect(redeemed).to.deep.equal(["a1"]);
  });

  it("answers 429 to a request whose wait times out, which leaves the queue unpaid", async function () {
    const { chat, model, redeemed, refunds, ask } = api({ maxQueued: 4, queueTimeoutMs: 20 });
    const first = ask("a1");
    await until(() => model.started.length === 1);

    const late = await ask("b2");
    expect(late.headers.get("retry-after")).to.equal("1");
    const error = await errorOf(late);
    expect(error).to.include({ status: 429, code: "too_many_requests" });
    expect(error.message).to.match(/no generation slot freed within 20 ms: .*nothing was charged/);
    expect(chat.queued).to.equal(0);

    model.finishOne();
    expect((await first).status).to.equal(200);
    expect(model.started).to.deep.equal(["a1"]);
    expect(redeemed).to.deep.equal(["a1"]);
    expect(refunds).to.deep.equal([]);
    expect(chat.inFlight).to.equal(0);
  });

  it("takes a client that disconnects while queued out of the queue, uncharged, and serves the next", async function () {
    const { chat, model, redeemed, refunds, ask } = api({ maxQueued: 4 });
    const first = ask("a1");
    await until(() => model.started.length === 1);
    const gone = new AbortController();
    const leaving = ask("b2", gone.signal);
    await until(() => chat.queued === 1);
    const staying = ask("c3");
    await until(() => chat.queued === 2);

    gone.abort();
    expect((await leaving).status).to.equal(499);
    expect(chat.queued).to.equal(1);

    model.finishOne();
    expect((await first).status).to.equal(200);
    await until(() => model.started.length === 2);
    model.finishOne();
    expect((await staying).status).to.equal(200);
    expect(model.started).to.deep.equal(["a1", "c3"]);
    expect(redeemed).to.deep.equal(["a1", "c3"]);
    expect(refunds).to.deep.equal([]);
    expect([chat.inFlight, chat.queued]).to.deep.equal([0, 0]);
  });
});

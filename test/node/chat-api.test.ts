/**
 * The TEE node's OpenAI-compatible chat API on 127.0.0.1, driven by the official `openai` client: models, whole and
 * streamed completions of the bundled Moby-Dick llama, usage, the enclave-signed receipt checked against the chain
 * (and refused once tampered with), OpenAI-style errors, the concurrency limit and a client aborting mid-stream.
 */
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { keccak256, toUtf8Bytes } from "ethers";
import OpenAI, { APIError, BadRequestError, NotFoundError as OpenAINotFoundError, RateLimitError } from "openai";
import type { ChatCompletionChunk, ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import { InputError, VerificationError } from "../../src/core/errors";
import { loadTextGenerator } from "../../src/inference/text/llama-cpp";
import {
  GenerationAbortedError,
  type GenerateRequest,
  type Generation,
  type GenerationChunk,
  type TextGenerator,
} from "../../src/inference/text/runtime";
import {
  settlementPrice,
  startChatApi,
  type ChatOutcome,
  type ChatReceiptOptions,
  type PaymentRedeemer,
  type RunningChatApi,
  type ServedTextModel,
} from "../../src/node/chat-api";
import { canonicalJson, verifyChatReceipt } from "../../src/sdk/chat";
import { DevEnclave } from "../../src/tee";
import { expectRejection } from "../fixtures/assert";
import { loadChat, PER_TOKEN, type ChatFixture } from "../unit/chat/receipts.fixture";

const MODEL_FILE = path.join(__dirname, "../../src/models/moby-dick-llama.gguf");
const MODEL = "1@1";

/** What the enclave signs with, the operator's published price and the chain's clock. */
async function receiptOptions(fx: ChatFixture): Promise<ChatReceiptOptions> {
  return {
    signer: new DevEnclave(fx.enclave.privateKey),
    operator: fx.operator.address,
    settlement: await fx.settlement.getAddress(),
    domain: fx.domain,
    price: settlementPrice(fx.settlement, fx.operator.address),
    now: async () => BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp),
  };
}

/** A model that generates one token, then waits until its generation is aborted. */
function stallingModel(): ServedTextModel {
  const generator: Pick<TextGenerator, "info" | "stream"> = {
    info: {
      name: "stalling",
      architecture: "test",
      contextSize: 128,
      trainContextSize: 128,
      vocabSize: 2,
      hasChatTemplate: false,
    },
    async *stream(request: GenerateRequest): AsyncGenerator<GenerationChunk, Generation, undefined> {
      yield { tokens: [1], text: "Call" };
      await new Promise((resolve) => request.signal!.addEventListener("abort", resolve, { once: true }));
      const usage = { promptTokens: 1, cachedTokens: 0, completionTokens: 1 };
      throw new GenerationAbortedError({ text: "Call", tokens: [1], finishReason: "length", usage });
    },
  };
  return { modelId: 1n, version: 1n, generator };
}

/** Credentials spent once each: a credential's payment id is its keccak256. */
const spent = new Set<string>();
const oneUsePasses: PaymentRedeemer = {
  redeem: (credential) => {
    if (spent.has(credential)) return Promise.reject(new InputError(`the credential ${credential} is spent`));
    spent.add(credential);
    return Promise.resolve({ paymentId: keccak256(toUtf8Bytes(credential)), refund: () => spent.delete(credential) });
  },
};

describe("node/chat-api (OpenAI-compatible, with receipts)", function () {
  let fx: ChatFixture;
  let generator: TextGenerator;
  let server: RunningChatApi;
  let openai: OpenAI;

  before(async function () {
    fx = await loadChat();
    generator = await loadTextGenerator({ path: MODEL_FILE });
    server = await startChatApi({
      models: [{ modelId: fx.modelId, version: 1n, generator }],
      receipts: await receiptOptions(fx),
      maxBodyBytes: 16 * 1024,
      payments: oneUsePasses,
      maxTokens: 48,
    });
    openai = new OpenAI({ baseURL: server.url, apiKey: "unused", maxRetries: 0 });
  });

  after(async function () {
    await server?.close();
    await generator?.close();
  });

  const request = (extra: Partial<ChatCompletionCreateParamsNonStreaming> = {}) => ({
    model: MODEL,
    messages: [
      { role: "system" as const, content: "You tell of whales." },
      { role: "user" as const, content: "Call me Ishmael." },
    ],
    max_tokens: 24,
    temperature: 0,
    seed: 7,
    ...extra,
  });

  async function streamed(body: ReturnType<typeof request>): Promise<ChatCompletionChunk[]> {
    const chunks: ChatCompletionChunk[] = [];
    const stream = await openai.chat.completions.create({
      ...body,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) chunks.push(chunk);
    return chunks;
  }

  it("lists the served model version as <modelId>@<version>, owned by the operator", async function () {
    const models = [];
    for await (const model of openai.models.list()) models.push(model);
    expect(models.map((m) => [m.id, m.object, m.owned_by])).to.deep.equal([[MODEL, "model", fx.operator.address]]);
  });

  it("answers a chat.completion with usage and a receipt that checks against the chain", async function () {
    const body = request();
    const completion = await openai.chat.completions.create(body);
    expect(completion.object).to.equal("chat.completion");
    expect(completion.model).to.equal(MODEL);
    expect(completion.choices).to.have.length(1);
    const [choice] = completion.choices;
    expect(choice!.message.role).to.equal("assistant");
    expect(choice!.message.content).to.be.a("string").and.not.equal("");
    expect(["stop", "length"]).to.include(choice!.finish_reason);
    const usage = completion.usage!;
    expect(usage.completion_tokens).to.be.within(1, 24);
    expect(usage.prompt_tokens).to.be.greaterThan(5);
    expect(usage.total_tokens).to.equal(usage.prompt_tokens + usage.completion_tokens);
    expect(generator.detokenize(generator.tokenize(choice!.message.content!))).to.equal(choice!.message.content);

    const checked = await verifyChatReceipt({
      contracts: fx.system,
      settlement: fx.settlement,
      request: body,
      response: completion,
      operator: fx.operator.address,
    });
    expect(checked.enclave).to.equal(fx.enclave.address);
    expect(checked.perToken).to.equal(PER_TOKEN);
    const { receipt } = checked.receipt;
    expect(receipt.modelId).to.equal(1n);
    expect(receipt.version).to.equal(1n);
    expect(receipt.promptTokens).to.equal(BigInt(usage.prompt_tokens));
    expect(receipt.completionTokens).to.equal(BigInt(usage.completion_tokens));
    expect(receipt.price).to.equal(PER_TOKEN * BigInt(usage.total_tokens));
    expect(receipt.paymentId).to.match(/^0x[0-9a-f]{64}$/);
  });

  it("streams chat.completion.chunk events whose text, finish and usage equal the whole answer's at temperature 0", async function () {
    const body = request({ max_tokens: 32 });
    const whole = await openai.chat.completions.create(body);
    const chunks = await streamed(body);
    expect(new Set(chunks.map((c) => c.object))).to.deep.equal(new Set(["chat.completion.chunk"]));
    expect(new Set(chunks.map((c) => c.id)).size).to.equal(1);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text).to.equal(whole.choices[0]!.message.content);
    expect(chunks.filter((c) => c.choices.length > 0 && c.choices[0]!.delta.content !== "").length).to.be.greaterThan(
      1,
    );
    const finishes = chunks.flatMap((c) => c.choices.map((choice) => choice.finish_reason)).filter((r) => r !== null);
    expect(finishes).to.deep.equal([whole.choices[0]!.finish_reason]);
    const usage = chunks.find((c) => c.usage)!.usage!;
    expect([usage.prompt_tokens, usage.completion_tokens]).to.deep.equal([
      whole.usage!.prompt_tokens,
      whole.usage!.completion_tokens,
    ]);
    // The receipt rides in the last chunk before [DONE].
    expect((chunks[chunks.length - 1] as unknown as { receipt?: unknown }).receipt).to.be.an("object");
    const checked = await verifyChatReceipt({
      contracts: fx.system,
      settlement: fx.settlement,
      request: { ...body, stream: true, stream_options: { include_usage: true } },
      response: { chunks },
    });
    expect(checked.receipt.receipt.completionTokens).to.equal(BigInt(usage.completion_tokens));
  });

  it("gives a receipt whose check fails once the response, the request or the usage is changed", async function () {
    const body = request();
    const completion = await openai.chat.completions.create(body);
    const check = (req: object, response: typeof completion) =>
      verifyChatReceipt({ contracts: fx.system, settlement: fx.settlement, request: req, response });
    const content = `${completion.choices[0]!.message.content} (and a whale)`;
    const altered = {
      ...completion,
      choices: [{ ...completion.choices[0]!, message: { ...completion.choices[0]!.message, content } }],
    };
    await expectRejection(check(body, altered), VerificationError, /response hash/);
    await expectRejection(check({ ...body, max_tokens: 25 }, completion), VerificationError, /request hash/);
    const usage = { ...completion.usage!, completion_tokens: completion.usage!.completion_tokens + 1 };
    await expectRejection(check(body, { ...completion, usage }), VerificationError, /tokens, the response reported/);
    await expectRejection(check({ ...body, model: "1@2" }, completion), VerificationError, /for model 1@1/);
    const { receipt: _receipt, ...bare } = completion as typeof completion & { receipt: unknown };
    await expectRejection(check(body, bare), InputError, /no receipt/);
  });

  it("names the spent credential as the receipt's payment id, refuses it spent (402), and draws a fresh id without one", async function () {
    const headers = { "vin-payment": "pass-1" };
    const paid = await openai.chat.completions.create(request(), { headers });
    const paymentOf = (completion: object) =>
      (completion as { receipt: { receipt: { paymentId: string } } }).receipt.receipt.paymentId;
    expect(paymentOf(paid)).to.equal(keccak256(toUtf8Bytes("pass-1")));
    const again = await openai.chat.completions.create(request(), { headers }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(again).to.be.instanceOf(APIError);
    expect((again as APIError).status).to.equal(402);
    expect((again as APIError).message).to.include("the credential pass-1 is spent");
    const ids = await Promise.all([0, 1].map(async () => paymentOf(await openai.chat.completions.create(request()))));
    expect(ids[0]).to.match(/^0x[0-9a-f]{64}$/);
    expect(ids[0]).to.not.equal(ids[1]);
  });

  it("hashes the canonical JSON of a request: keys sorted, no whitespace, undefined members left out", function () {
    const body = { b: [1, 0.1, "x", { z: null, a: true }], a: { y: undefined, c: "é\n" }, messages: [] };
    expect(canonicalJson(body)).to.equal('{"a":{"c":"é\\n"},"b":[1,0.1,"x",{"a":true,"z":null}],"messages":[]}');
  });

  describe("errors, as the OpenAI client raises them", function () {
    async function apiError(promise: Promise<unknown>): Promise<APIError> {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, "the call must fail").to.be.instanceOf(APIError);
      return error as APIError;
    }

    it("404 model_not_found for a model the node does not serve, naming the ones it does", async function () {
      const error = await apiError(openai.chat.completions.create(request({ model: "1@9" })));
      expect(error).to.be.instanceOf(OpenAINotFoundError);
      expect(error.status).to.equal(404);
      expect(error.code).to.equal("model_not_found");
      expect(error.param).to.equal("model");
      expect(error.message).to.include("use one of 1@1");
    });

    it("400 naming the parameter for n > 1, tools, a tool message, out-of-range values and a prompt too long", async function () {
      const cases: [object, string | null, RegExp][] = [
        [{ n: 2 }, "n", /n must be 1/],
        [{ tools: [{ type: "function", function: { name: "f" } }] }, "tools", /tools is not supported/],
        [{ messages: [{ role: "tool", content: "x", tool_call_id: "1" }] }, "messages[0].role", /not supported/],
        [{ messages: [] }, "messages", /non-empty array/],
        [{ max_tokens: 49 }, "max_tokens", /from 1 to 48/],
        [{ temperature: 3 }, "temperature", /from 0 to 2/],
        [{ stop: ["a", "b", "c", "d", "e"] }, "stop", /at most 4/],
        [{ messages: [{ role: "user", content: "whale ".repeat(400) }] }, "messages", /context holds 128/],
      ];
      for (const [extra, param, message] of cases) {
        const error = await apiError(openai.chat.completions.create({ ...request(), ...extra } as never));
        expect(error, JSON.stringify(extra).slice(0, 60)).to.be.instanceOf(BadRequestError);
        expect(error.param).to.equal(param);
        expect(error.message).to.match(message);
        expect(error.type).to.equal("invalid_request_error");
      }
    });

    it("413 for a body over the limit and 405 for the wrong method", async function () {
      const big = request({ messages: [{ role: "user", content: "x".repeat(20_000) }] });
      const error = await apiError(openai.chat.completions.create(big));
      expect(error.status).to.equal(413);
      expect(error.message).to.include("exceeds 16384 bytes");
      const response = await fetch(`${server.url}/chat/completions`);
      expect(response.status).to.equal(405);
      expect(response.headers.get("allow")).to.equal("POST");
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).to.equal("method_not_allowed");
    });
  });

  describe("limits", function () {
    let stalling: RunningChatApi;
    let client: OpenAI;
    const outcomes: ChatOutcome[] = [];
    let notify: (() => void) | undefined;
    const nextOutcome = () => new Promise<void>((resolve) => (notify = resolve));

    before(async function () {
      stalling = await startChatApi({
        models: [stallingModel()],
        receipts: await receiptOptions(fx),
        maxConcurrent: 1,
        maxQueued: 0,
        onFinished: (outcome) => {
          outcomes.push(outcome);
          notify?.();
        },
      });
      client = new OpenAI({ baseURL: stalling.url, apiKey: "unused", maxRetries: 0 });
    });

    after(async function () {
      await stalling?.close();
    });

    it("answers 429 while its generations are all busy, aborts a generation whose client hangs up, then refuses a credential with no redeemer (400)", async function () {
      const controller = new AbortController();
      const stream = await client.chat.completions.create(
        { ...request(), stream: true },
        { signal: controller.signal },
      );
      const iterator = stream[Symbol.asyncIterator]();
      expect((await iterator.next()).value.choices[0].delta.role).to.equal("assistant");
      expect((await iterator.next()).value.choices[0].delta.content).to.equal("Call");
      expect(stalling.api.inFlight).to.equal(1);

      const busy = await client.chat.completions.create(request()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(busy).to.be.instanceOf(RateLimitError);
      expect((busy as RateLimitError).headers?.get("retry-after")).to.equal("1");

      const finished = nextOutcome();
      controller.abort();
      await finished;
      expect(outcomes.map((o) => [o.status, o.completionTokens])).to.deep.equal([["aborted", 0]]);
      expect(stalling.api.inFlight).to.equal(0);
      const credential = await client.chat.completions.create(request(), { headers: { "vin-payment": "x" } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((credential as APIError).status, "a node without a redeemer refuses a credential").to.equal(400);
    });
  });
});

/**
 * The chat API through the private path on 127.0.0.1: the OpenAI client's requests encrypted to the enclave's
 * registered HPKE key (read from the chain), sent through a relay to the operator's OHTTP gateway, answered whole or
 * streamed over chunked OHTTP, each answer's receipt checked against the chain.
 */
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import OpenAI, { NotFoundError as OpenAINotFoundError } from "openai";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { loadTextGenerator } from "../../src/inference/text/llama-cpp";
import type { TextGenerator } from "../../src/inference/text/runtime";
import { createChatApi, settlementPrice } from "../../src/node/chat-api";
import { startPrivateGateway, type RunningGateway } from "../../src/node/gateway";
import { createRelayHandler } from "../../src/ohttp";
import type { ModelSource } from "../../src/modes";
import { privateChatFetch, verifyChatReceipt } from "../../src/sdk/chat";
import { gatewayKeyConfig } from "../../src/sdk/privateInference";
import { DevEnclave } from "../../src/tee";
import { loadChat, type ChatFixture } from "../unit/chat/receipts.fixture";
import { capturedLogger, listen } from "./helpers";

const MODEL_FILE = path.join(__dirname, "../../src/models/moby-dick-llama.gguf");
/** The gateway's classifier is not used here. */
const NO_CLASSIFIER: ModelSource = { load: () => Promise.reject(new Error("no classifier")) };

describe("chat API through the private path (OHTTP relay, in-enclave gateway)", function () {
  let fx: ChatFixture;
  let generator: TextGenerator;
  let gateway: RunningGateway;
  let relay: Awaited<ReturnType<typeof listen>>;
  let relayLog: string[];
  let openai: OpenAI;

  before(async function () {
    fx = await loadChat();
    generator = await loadTextGenerator({ path: MODEL_FILE });
    const enclave = new DevEnclave(fx.enclave.privateKey);
    const chat = createChatApi({
      models: [{ modelId: fx.modelId, version: 1n, generator }],
      receipts: {
        signer: enclave,
        operator: fx.operator.address,
        settlement: await fx.settlement.getAddress(),
        domain: fx.domain,
        price: settlementPrice(fx.settlement, fx.operator.address),
        now: async () => BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp),
      },
    });
    gateway = await startPrivateGateway({
      enclave,
      operator: fx.operator.address,
      contracts: fx.system,
      chainId: BigInt(fx.domain.chainId!),
      models: NO_CLASSIFIER,
      log: capturedLogger().logger,
      chat,
    });
    const captured = capturedLogger();
    relayLog = captured.lines;
    relay = await listen(createRelayHandler({ allowGateway: () => true, logger: captured.logger }));
    const keyConfig = await gatewayKeyConfig(fx.system, enclave.address);
    openai = new OpenAI({
      baseURL: `${gateway.url}v1`,
      apiKey: "unused",
      maxRetries: 0,
      fetch: privateChatFetch({ relay: `${relay.url}/`, gateway: gateway.url, keyConfig }),
    });
  });

  after(async function () {
    await Promise.all([gateway?.close(), relay?.close()]);
    await generator?.close();
  });

  const body = {
    model: "1@1",
    messages: [{ role: "user" as const, content: "Call me Ishmael." }],
    max_tokens: 24,
    temperature: 0,
    seed: 3,
  };

  it("lists the models and answers a completion whose receipt checks, the relay seeing no text", async function () {
    const models = [];
    for await (const model of openai.models.list()) models.push(model.id);
    expect(models).to.deep.equal(["1@1"]);
    const completion = await openai.chat.completions.create(body);
    const content = completion.choices[0]!.message.content!;
    expect(content.length).to.be.greaterThan(0);
    const checked = await verifyChatReceipt({
      contracts: fx.system,
      settlement: fx.settlement,
      request: body,
      response: completion,
      operator: fx.operator.address,
    });
    expect(checked.enclave).to.equal(fx.enclave.address);
    expect(relayLog.length, "the relay logs each request").to.be.greaterThan(0);
    const logged = relayLog.join("\n");
    expect(logged).to.not.include("Ishmael");
    expect(logged).to.not.include(content.trim().slice(0, 12));
  });

  it("streams over chunked OHTTP the text of the whole answer, with a receipt that checks", async function () {
    const whole = await openai.chat.completions.create(body);
    const stream = await openai.chat.completions.create({ ...body, stream: true });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).to.equal(whole.choices[0]!.message.content);
    const checked = await verifyChatReceipt({
      contracts: fx.system,
      settlement: fx.settlement,
      request: { ...body, stream: true },
      response: { chunks },
    });
    expect(checked.receipt.receipt.completionTokens).to.equal(BigInt(whole.usage!.completion_tokens));
  });

  it("carries the chat API's errors back encrypted, as the client's error classes", async function () {
    const error = await openai.chat.completions.create({ ...body, model: "2@1" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(OpenAINotFoundError);
    expect((error as OpenAINotFoundError).code).to.equal("model_not_found");
  });
});

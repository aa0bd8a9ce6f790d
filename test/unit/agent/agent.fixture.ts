/**
 * Chat APIs for agent tests: node/chat-api `createChatApi` over a scripted text generator (fast, deterministic), its
 * receipts signed by the chat fixture's enclave and checked against its chain; routes that reach it in-process, or
 * fail as a gateway can (cut mid-stream, refuse the connection, answer 5xx, alter the answer).
 */
import { createServer } from "node:net";
import hre from "hardhat";
import { keccak256, toUtf8Bytes } from "ethers";
import { InputError } from "../../../src/core/errors";
import {
  GenerationInputError,
  type GenerateRequest,
  type Generation,
  type GenerationChunk,
  type TextGenerator,
} from "../../../src/inference/text/runtime";
import { createChatApi, settlementPrice, type ChatApi, type PaymentRedeemer } from "../../../src/node/chat-api";
import type { ChatRoute, FetchLike } from "../../../src/sdk/agent";
import { DevEnclave } from "../../../src/tee";
import type { ChatFixture } from "../chat/receipts.fixture";

/** A generator answering with the words of `answer`, one token each; refuses prompts over `contextSize` "tokens" (4 bytes each). */
export function scriptedGenerator(answer = "Some years ago, never mind how long precisely", contextSize = 4096) {
  const generator: Pick<TextGenerator, "info" | "stream"> = {
    info: {
      name: "scripted",
      architecture: "test",
      contextSize,
      trainContextSize: contextSize,
      vocabSize: 2,
      hasChatTemplate: true,
    },
    async *stream(request: GenerateRequest): AsyncGenerator<GenerationChunk, Generation, undefined> {
      const messages =
        typeof request.prompt === "object" && "messages" in request.prompt ? request.prompt.messages : [];
      const promptTokens = Math.ceil(messages.reduce((n, m) => n + Buffer.byteLength(m.content), 0) / 4) + 1;
      if (promptTokens >= contextSize)
        throw new GenerationInputError(`the prompt has ${promptTokens} tokens; the context holds ${contextSize}`);
      const words = answer.split(" ").slice(0, request.maxTokens);
      for (const [i, word] of words.entries()) {
        if (request.signal?.aborted === true) break;
        yield { tokens: [i], text: i === 0 ? word : ` ${word}` };
        await new Promise((resolve) => setImmediate(resolve));
      }
      const text = words.join(" ");
      return {
        text,
        tokens: words.map((_, i) => i),
        finishReason: words.length < answer.split(" ").length ? "length" : "eos",
        usage: { promptTokens, cachedTokens: 0, completionTokens: words.length },
      };
    },
  };
  return generator;
}

/** A redeemer that records what it redeemed and refunded: a credential's payment id is its keccak256. */
export class RecordingRedeemer implements PaymentRedeemer {
  readonly redeemed: string[] = [];
  readonly refunded: string[] = [];
  private readonly spent = new Set<string>();

  redeem(credential: string) {
    if (this.spent.has(credential)) return Promise.reject(new InputError(`the credential ${credential} is spent`));
    this.spent.add(credential);
    this.redeemed.push(credential);
    return Promise.resolve({
      paymentId: keccak256(toUtf8Bytes(credential)),
      refund: () => {
        this.spent.delete(credential);
        this.refunded.push(credential);
      },
    });
  }
}

/** A chat API of the fixture's operator and enclave, serving model `<fx.modelId>@1` with `generator`. */
export async function chatApiOf(
  fx: ChatFixture,
  generator = scriptedGenerator(),
  payments: PaymentRedeemer = new RecordingRedeemer(),
): Promise<ChatApi> {
  return createChatApi({
    models: [{ modelId: fx.modelId, version: 1n, generator }],
    receipts: {
      signer: new DevEnclave(fx.enclave.privateKey),
      operator: fx.operator.address,
      settlement: await fx.settlement.getAddress(),
      domain: fx.domain,
      price: settlementPrice(fx.settlement, fx.operator.address),
      now: async () => BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp),
    },
    payments,
  });
}

/** A fetch that hands each request to `api` in-process, recording the request bodies. */
export function inProcess(api: ChatApi, bodies: object[] = []): FetchLike {
  return async (input, init) => {
    const request = new Request(input, init);
    bodies.push(JSON.parse(await request.clone().text()) as object);
    return api.handle(request, init?.signal ?? undefined);
  };
}

/** `fetch`, but the response's body breaks after `events` server-sent events (the gateway died mid-stream). */
export function cutAfter(fetch: FetchLike, events: number): FetchLike {
  return async (input, init) => {
    const response = await fetch(input, init);
    const reader = response.body!.getReader();
    let seen = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await reader.read();
        if (next.done === true) return controller.close();
        seen += new TextDecoder().decode(next.value).split("\n\n").length - 1;
        if (seen > events) {
          await reader.cancel(new Error("the gateway died"));
          return controller.error(new TypeError("terminated"));
        }
        controller.enqueue(next.value);
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

/** `fetch`, with every streamed `delta.content` changed (a gateway altering the answer after the enclave signed). */
export function altering(fetch: FetchLike): FetchLike {
  return async (input, init) => {
    const response = await fetch(input, init);
    const text = (await response.text()).replace(/"content":"([^"]+)"/g, '"content":"$1!"');
    return new Response(text, { status: response.status, headers: response.headers });
  };
}

/** A route of the fixture's operator. */
export function routeOf(fx: ChatFixture, url: string, fetch: FetchLike, relay?: string): ChatRoute {
  return {
    operator: fx.operator.address,
    enclave: fx.enclave.address,
    url,
    fetch,
    ...(relay === undefined ? {} : { relay }),
  };
}

/** The URL of a chat API on a 127.0.0.1 port nobody listens on (connections are refused). */
export async function refusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/v1`;
}

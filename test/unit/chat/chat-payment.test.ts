import { expect } from "chai";
import { Wallet, ZeroAddress, type TypedDataDomain } from "ethers";
import { signReceipt, type Receipt, type SignedReceipt } from "../../../src/core/receipts";
import { teeDomain } from "../../../src/core/tee";
import type { Generation, GenerationChunk, TextModelInfo } from "../../../src/inference/text/runtime";
import { createChatApi, fixedPrice, PAYMENT_HEADER, type ChatApiOptions } from "../../../src/node/chat-api";

const MODEL = "7@1";

/** A text model that answers "hi" in one token, counting its generations. */
function fakeModel() {
  const model = {
    generations: 0,
    info: {
      name: "fake",
      architecture: "llama",
      contextSize: 64,
      trainContextSize: 64,
      vocabSize: 8,
      hasChatTemplate: false,
    } as TextModelInfo,
    async *stream(): AsyncGenerator<GenerationChunk, Generation, undefined> {
      model.generations += 1;
      yield { tokens: [1], text: "hi" };
      return {
        text: "hi",
        tokens: [1],
        finishReason: "eos",
        usage: { promptTokens: 3, completionTokens: 1, cachedTokens: 0 },
      };
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

function api(options: Partial<ChatApiOptions> & { record?: (s: SignedReceipt) => void } = {}) {
  const model = fakeModel();
  const refunds: string[] = [];
  const chat = createChatApi({
    models: [{ modelId: 7n, version: 1n, generator: model }],
    receipts: {
      signer,
      operator: Wallet.createRandom().address,
      settlement: Wallet.createRandom().address,
      domain: teeDomain(31337n, ZeroAddress),
      price: fixedPrice(2n),
      ...(options.record === undefined ? {} : { record: options.record }),
    },
    payments: {
      redeem: (credential) =>
        Promise.resolve({
          paymentId: `0x${credential.padStart(64, "0")}`,
          refund: () => void refunds.push(credential),
        }),
    },
    ...options,
  });
  const ask = (credential?: string) =>
    chat.handle(
      new Request("http://node/v1/chat/completions", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(credential === undefined ? {} : { [PAYMENT_HEADER]: credential }),
        },
        body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hello" }] }),
      }),
    );
  return { chat, model, refunds, ask };
}

describe("chat API: payment, refusal and receipt records", function () {
  it("answers 402 payment_required to a request without a credential when payment is required", async function () {
    const { ask, model } = api({ paymentRequired: true });
    const response = await ask();
    expect(response.status).to.equal(402);
    expect(((await response.json()) as { error: { code: string } }).error.code).to.equal("payment_required");
    expect(model.generations).to.equal(0);
  });

  it("answers 503 naming the reason when the enclave may not serve the version, taking no payment", async function () {
    const asked: string[] = [];
    const { ask, model, refunds } = api({
      refusal: (modelId, version) => {
        asked.push(`${modelId}@${version}`);
        return Promise.resolve("the measurement was revoked");
      },
      payments: { redeem: () => Promise.reject(new Error("must not be called")) },
    });
    const response = await ask("ab");
    expect(response.status).to.equal(503);
    expect(((await response.json()) as { error: { message: string } }).error.message).to.match(
      /the measurement was revoked/,
    );
    expect(asked).to.deep.equal([MODEL]);
    expect(model.generations).to.equal(0);
    expect(refunds).to.deep.equal([]);
  });

  it("answers 503 when the serving check cannot read the chain, taking no payment", async function () {
    const { ask, model, refunds } = api({
      refusal: () => Promise.reject(new Error("connection refused")),
      payments: { redeem: () => Promise.reject(new Error("must not be called")) },
    });
    const response = await ask("ab");
    expect(response.status).to.equal(503);
    expect(((await response.json()) as { error: { message: string } }).error.message).to.match(
      /its chain state cannot be read: connection refused/,
    );
    expect(model.generations).to.equal(0);
    expect(refunds).to.deep.equal([]);
  });

  it("stores each receipt before answering, its payment id the credential's", async function () {
    const stored: SignedReceipt[] = [];
    const { ask } = api({ refusal: () => Promise.resolve(undefined), record: (s) => void stored.push(s) });
    const response = await ask("cd");
    expect(response.status).to.equal(200);
    const body = (await response.json()) as { receipt: { receipt: { paymentId: string; price: string } } };
    expect(stored).to.have.length(1);
    expect(stored[0]!.receipt.paymentId).to.equal(body.receipt.receipt.paymentId);
    expect(stored[0]!.receipt.price).to.equal(8n);
    expect(body.receipt.receipt.price).to.equal("8");
  });

  it("answers 500 and refunds the payment when the receipt cannot be stored", async function () {
    const { ask, refunds } = api({
      record: () => {
        throw new Error("disk full");
      },
    });
    const response = await ask("ef");
    expect(response.status).to.equal(500);
    expect(await response.text()).to.not.match(/"receipt"/);
    expect(refunds).to.deep.equal(["ef"]);
  });
});

/**
 * The daemon's chat: the text models the node serves (node/text-models), the chat API with enclave-signed receipts
 * (node/chat-api) paid with credit tokens (node/chat-credit), the receipt settler (node/receipt-settler), and the
 * operator's price on ReceiptSettlement. The daemon mounts `api` and `routes` in its gateway, and calls `settle`
 * periodically.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { RequestListener } from "node:http";
import path from "node:path";
import { parseUnits } from "ethers";
import type { ContentStore } from "../core/content";
import { firstLine } from "../core/errors";
import type { Logger } from "../core/log";
import { withRetry } from "../core/retry";
import { teeDomain } from "../core/tee";
import type { DevEnclave } from "../tee/dev-enclave";
import {
  createChatApi,
  settlementPrice,
  startChatApi,
  type ChatApi,
  type ChatApiOptions,
  type RunningChatApi,
} from "./chat-api";
import { CREDIT_ISSUE_PATH, CREDIT_KEY_PATH, startCreditService, type CreditService } from "./chat-credit";
import type { ChatConfig } from "./config";
import type { OperatorContext } from "./context";
import { servingRefusal } from "./gateway";
import { ReceiptSettler, settlementChain, type SettlerStep } from "./receipt-settler";
import { ReceiptStore } from "./store/receipts";
import { loadTextModels, type LoadedTextModel } from "./text-models";

/** Where planned batches' data is written, by data hash, in the data directory. */
export const RECEIPT_BATCH_DIR = "receipt-batches";

/** The outbox kind of a price change. */
export const SET_PRICE_KIND = "setReceiptPrice";

export interface ChatServiceOptions {
  ctx: Pick<OperatorContext, "config" | "contracts" | "store" | "sender" | "provider"> & {
    wallet: { address: string };
  };
  chat: ChatConfig;
  enclave: Pick<DevEnclave, "address" | "signReceipt">;
  content: Pick<ContentStore, "cat">;
  log: Logger;
}

/** A running chat service. */
export interface ChatService {
  api: ChatApi;
  models: readonly LoadedTextModel[];
  /** Plain HTTP endpoints to serve beside the gateway (the credit issuer's). */
  routes: Record<string, RequestListener>;
  credit?: CreditService;
  settler: ReceiptSettler;
  /** The direct API (`chat.port`), when served. */
  direct?: RunningChatApi;
  /** One settlement step (plan, commit, open, finalize, withdraw). */
  settle(): Promise<SettlerStep>;
  close(): Promise<void>;
}

/**
 * Starts the node's chat, or returns undefined (logged) when the deployment has no ReceiptSettlement.
 * @example const chat = await startChatService({ ctx, chat: config.chat, enclave, content: content.store, log });
 */
export async function startChatService(options: ChatServiceOptions): Promise<ChatService | undefined> {
  const { ctx, chat, enclave, log } = options;
  const { config, contracts } = ctx;
  const settlement = contracts.receiptSettlement;
  if (settlement === undefined) {
    log.error(
      'no chat served: the config names no ReceiptSettlement ("contracts.receiptSettlement" of the deployment record), where chat receipts settle',
    );
    return undefined;
  }
  const operator = ctx.wallet.address;
  const retry = { timeoutMs: config.rpcTimeoutMs };
  const settlementAddress = await settlement.getAddress();
  const domain = teeDomain(BigInt(config.chainId), await contracts.teeVerifier.getAddress());
  const refusal = servingRefusal({ contracts, enclave, operator, rpcTimeoutMs: config.rpcTimeoutMs });
  const models = await loadTextModels({
    registry: contracts.registry,
    content: options.content,
    models: chat.models,
    refusal,
    log,
    retry,
  });
  if (models.length === 0)
    log.warn({ models: chat.models }, "no text model to serve: chat answers 404 for every model");
  const perToken = chat.pricePerToken === undefined ? undefined : parseUnits(chat.pricePerToken, 18);
  if (perToken !== undefined) await publishPrices(options, models, perToken);
  const receipts = new ReceiptStore(ctx.store.db.sqlite);
  const batchDir = path.join(config.dataDir, RECEIPT_BATCH_DIR);
  const settler = new ReceiptSettler(
    receipts,
    settlementChain({
      settlement,
      token: contracts.token,
      tokenAddress: config.contracts.token,
      sender: ctx.sender,
      pending: () => ctx.store.outbox.pending(),
      known: (key) => ctx.store.outbox.get(key) !== undefined,
      provider: ctx.provider,
      operator,
      rpcTimeoutMs: config.rpcTimeoutMs,
    }),
    log.child({ component: "settler" }),
    {
      operator,
      settlement: settlementAddress,
      domain,
      batchMax: chat.batchMax,
      batchAgeMs: chat.batchAgeMs,
      publish: (dataHash, data) => {
        mkdirSync(batchDir, { recursive: true });
        writeFileSync(path.join(batchDir, `${dataHash.slice(2)}.json`), data);
      },
    },
  );
  // Credit: each token worth the most one request can cost, at the highest price configured or published.
  const highest = await highestPrice(options, models, perToken ?? 0n);
  const maxContext = models.reduce((max, m) => Math.max(max, m.generator.info.contextSize), 0);
  const credit =
    highest > 0n && maxContext > 0
      ? await startCreditService({
          dataDir: config.dataDir,
          db: ctx.store.db.sqlite,
          settlement,
          settlementAddress,
          provider: ctx.provider,
          operator,
          chainId: BigInt(config.chainId),
          tokenValue: highest * BigInt(maxContext),
          log: log.child({ component: "credit" }),
          rpcTimeoutMs: config.rpcTimeoutMs,
          settled: (paymentId) => receipts.has(paymentId),
        })
      : undefined;
  const apiOptions: ChatApiOptions = {
    models,
    receipts: {
      signer: enclave,
      operator,
      settlement: settlementAddress,
      domain,
      price: settlementPrice(settlement, operator, retry),
      now: chainClock(ctx.provider, retry),
      record: (signed) => settler.record(signed),
    },
    ...(credit === undefined ? {} : { payments: credit.redeemer, paymentRequired: true }),
    refusal,
    batchData: (dataHash) => {
      const file = path.join(batchDir, `${dataHash.slice(2)}.json`);
      return existsSync(file) ? readFileSync(file, "utf8") : undefined;
    },
    maxTokens: chat.maxTokens,
    maxConcurrent: chat.maxConcurrent,
    maxQueued: chat.maxQueued,
    queueTimeoutMs: chat.queueTimeoutMs,
    log: log.child({ component: "chat" }),
  };
  const api = createChatApi(apiOptions);
  const routes: Record<string, RequestListener> =
    credit === undefined ? {} : { [CREDIT_ISSUE_PATH]: credit.handler, [CREDIT_KEY_PATH]: credit.handler };
  const direct = chat.port === 0 ? undefined : await startChatApi({ ...apiOptions, api, routes, port: chat.port });
  log.info(
    {
      models: models.map((m) => `${m.modelId}@${m.version}`),
      direct: direct?.url,
      credit: credit === undefined ? "none (free)" : { keyId: credit.key.keyId, tokenValue: credit.info.tokenValue },
    },
    "chat served",
  );
  return {
    api,
    models,
    routes,
    ...(credit === undefined ? {} : { credit }),
    settler,
    ...(direct === undefined ? {} : { direct }),
    settle: () => settler.step(),
    close: async () => {
      await direct?.close();
      for (const model of models) await model.generator.close().catch(() => undefined);
    },
  };
}

/** How long the chain clock's offset from the system clock is reused. */
const CLOCK_REFRESH_MS = 10_000;

/**
 * The chain's clock (seconds), read as the system clock plus the latest block's offset from it (refreshed every
 * 10 s): receipts are judged on-chain by block time (their price at `issuedAt`, their age at commit), so they are
 * issued by it.
 */
export function chainClock(
  provider: Pick<OperatorContext["provider"], "getBlock">,
  retry: { timeoutMs?: number } = {},
): () => Promise<bigint> {
  let offset: { at: number; seconds: number } | undefined;
  return async () => {
    const now = Date.now();
    if (offset === undefined || now - offset.at > CLOCK_REFRESH_MS) {
      const block = await withRetry("eth_getBlockByNumber", () => provider.getBlock("latest"), retry);
      if (block !== null) offset = { at: now, seconds: block.timestamp - Math.floor(now / 1000) };
    }
    return BigInt(Math.floor(now / 1000) + Math.max(0, offset?.seconds ?? 0));
  };
}

/** Sets the operator's price of each served model where the published one differs (in force an hour later). */
async function publishPrices(options: ChatServiceOptions, models: readonly LoadedTextModel[], perToken: bigint) {
  const { ctx, log } = options;
  const settlement = ctx.contracts.receiptSettlement!;
  const operator = ctx.wallet.address;
  for (const { modelId } of models) {
    const card = await withRetry("receiptSettlement.priceCard", () => settlement.priceCard(operator, modelId), {
      timeoutMs: ctx.config.rpcTimeoutMs,
    });
    if (card.current === perToken) continue;
    try {
      const tx = await ctx.sender.send({
        key: `${SET_PRICE_KIND}:${modelId}:${perToken}:${card.since}`,
        kind: SET_PRICE_KIND,
        to: await settlement.getAddress(),
        data: settlement.interface.encodeFunctionData("setPrice", [modelId, perToken]),
        context: { contract: "receiptSettlement", call: "setPrice" },
      });
      const receipt = await ctx.sender.wait(tx);
      log.info(
        { modelId: modelId.toString(), perToken: perToken.toString(), tx: receipt.hash },
        "chat price set on ReceiptSettlement (in force in an hour)",
      );
    } catch (error) {
      log.warn(
        { modelId: modelId.toString(), err: firstLine(error) },
        "chat price not set; receipts use the published one",
      );
    }
  }
}

/** The highest price per token a served model's receipt can carry: configured, published now or next. */
async function highestPrice(
  options: ChatServiceOptions,
  models: readonly LoadedTextModel[],
  configured: bigint,
): Promise<bigint> {
  const settlement = options.ctx.contracts.receiptSettlement!;
  let highest = configured;
  for (const { modelId } of models) {
    const card = await withRetry(
      "receiptSettlement.priceCard",
      () => settlement.priceCard(options.ctx.wallet.address, modelId),
      { timeoutMs: options.ctx.config.rpcTimeoutMs },
    );
    for (const price of [card.previous, card.current]) if (price > highest) highest = price;
  }
  return highest;
}

/**
 * Chat paid with prepaid credit and settled on-chain (issue #14 §3–4), on a local hardhat chain: a TEE daemon with
 * `chat` serves the bundled text model directly; a buyer deposits into its credit pool and gets credit tokens from
 * its issuer (sdk/credit); three paid chat requests are answered with receipts; the daemon's settler commits them
 * in one batch, which after the challenge window (time travel) it finalizes and withdraws: the operator is paid the
 * receipts' prices to the wei and the pool is debited exactly that; the node publishes the batch's data, from which
 * every receipt's inclusion is proven against the chain. A replayed token is refused with 402, before and after a
 * restart of the daemon between two requests (whose receipts are batched together).
 */
import os from "node:os";
import path from "node:path";
import { mkdtempSync } from "node:fs";
import { expect } from "chai";
import { NonceManager, parseUnits, Wallet } from "ethers";
import {
  batchDataHash,
  buildReceiptTree,
  parseBatchData,
  parseReceiptFile,
  type ReceiptFile,
} from "../../src/core/receipts";
import { teeDomain } from "../../src/core/tee";
import { proveInclusion, verifyInclusion } from "../../src/sdk/receipts";
import { mobyDickLlama } from "../../src/models/moby-dick-llama";
import { creditKey, depositCredit, issueCredit, listCredit, takeCredit } from "../../src/sdk/credit";
import { createOperator, DaemonProcess, eventually, freePort, startDevnet, type Devnet } from "./harness";

const PER_TOKEN = "0.000001";

describe("chat paid with credit and settled in batches", function () {
  let net: Devnet;
  let daemon: DaemonProcess;
  let chatUrl: string;
  let operator: string;
  let modelName: string;
  let node: Awaited<ReturnType<typeof createOperator>>;

  before(async function () {
    net = await startDevnet();
    const { modelId } = await net.devnet.publishText({ model: mobyDickLlama() });
    modelName = `${modelId}@1`;
    const port = await freePort();
    node = await createOperator(net, "chat", {
      modes: "tee",
      patch: {
        chat: { models: [modelId.toString()], pricePerToken: PER_TOKEN, port, batchMax: 3, batchAgeMs: 600_000 },
      },
    });
    operator = node.address;
    daemon = new DaemonProcess(node);
    await daemon.waitForLog(/chat served/);
    chatUrl = `http://127.0.0.1:${port}`;
    // The price set at start is in force an hour later.
    await net.provider.send("evm_increaseTime", [3_700]);
    await net.provider.send("evm_mine", []);
  });

  after(async function () {
    await daemon?.stop();
    await net?.devnet.stop();
  });

  it("serves paid requests, commits their receipts, finalizes after the window and pays the operator exactly", async function () {
    const settlement = net.system.receiptSettlement;
    const perToken = parseUnits(PER_TOKEN, 18);
    const key = await creditKey(`${chatUrl}/`);
    expect(key.operator).to.equal(operator);
    expect(key.tokenValue).to.equal(perToken * 128n); // the bundled model's context
    const buyer = new NonceManager(new Wallet(Wallet.createRandom().privateKey, net.provider));
    await net.devnet.fund(await buyer.getAddress());
    const poolBefore = await settlement.creditOf(operator);
    const { txHash } = await depositCredit({
      signer: buyer,
      settlement,
      token: net.system.token,
      operator,
      amount: key.tokenValue * 4n,
    });
    const wallet = path.join(mkdtempSync(path.join(os.tmpdir(), "vin-credit-")), "credit.json");
    expect((await issueCredit({ signer: buyer, url: `${chatUrl}/`, txHash, wallet })).tokens).to.equal(4);
    expect(listCredit(wallet)[0]!.count).to.equal(4);

    const chat = (credential: string | undefined, content: string) =>
      fetch(`${chatUrl}/v1/chat/completions`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(credential === undefined ? {} : { "vin-payment": credential }),
        },
        body: JSON.stringify({ model: modelName, messages: [{ role: "user", content }], max_tokens: 8, seed: 1 }),
      });
    expect((await chat(undefined, "Call me")).status).to.equal(402);
    const prices: bigint[] = [];
    const files: ReceiptFile[] = [];
    let first: string | undefined;
    for (const content of ["Call me Ishmael.", "The whale", "Queequeg"]) {
      if (content === "Queequeg") {
        // A restart between receipts: the stored ones are batched with the next, the spent tokens stay spent.
        await daemon.stop();
        daemon = new DaemonProcess(node);
        await daemon.waitForLog(/chat served/);
        expect((await chat(first, "again")).status).to.equal(402);
      }
      const credential = takeCredit(wallet)!.token;
      first ??= credential;
      const response = await chat(credential, content);
      expect(response.status).to.equal(200);
      const body = (await response.json()) as { receipt: { receipt: Record<string, string> } };
      files.push(parseReceiptFile(body.receipt));
      const r = body.receipt.receipt;
      expect(BigInt(r.price!)).to.equal(perToken * (BigInt(r.promptTokens!) + BigInt(r.completionTokens!)));
      expect(BigInt(r.price!)).to.be.greaterThan(0n);
      prices.push(BigInt(r.price!));
    }
    const replay = await chat(first, "again");
    expect(replay.status).to.equal(402);
    const total = prices.reduce((a, b) => a + b, 0n);

    const committed = await eventually(
      "the batch's commit",
      async () => (await settlement.queryFilter(settlement.filters.BatchCommitted(undefined, operator)))[0],
      daemon,
    );
    expect(committed.args.count).to.equal(3n);
    expect(committed.args.total).to.equal(total);
    expect(await settlement.creditOf(operator)).to.equal(poolBefore + key.tokenValue * 4n - total);
    // The batch's data is published by the node under its hash; from it, each receipt's inclusion is proven.
    const published = await fetch(`${chatUrl}/v1/receipts/batches/${committed.args.dataHash}`);
    expect(published.status).to.equal(200);
    const data = parseBatchData(await published.json());
    expect(batchDataHash(data)).to.equal(committed.args.dataHash);
    const tree = buildReceiptTree(teeDomain(data.chainId, data.teeVerifier), data.receipts);
    for (const file of files) {
      const index = data.receipts.findIndex((s) => s.receipt.paymentId === file.receipt.paymentId);
      const inclusion = proveInclusion(tree, committed.args.batchId, index);
      expect((await verifyInclusion(settlement, { ...file, inclusion })).root).to.equal(committed.args.root);
    }

    const { challengeWindow } = await settlement.parameters();
    await net.provider.send("evm_increaseTime", [Number(challengeWindow) + 60]);
    await net.provider.send("evm_mine", []);
    const finalized = await eventually(
      "the batch's finalization",
      async () => (await settlement.queryFilter(settlement.filters.BatchFinalized(committed.args.batchId)))[0],
      daemon,
    );
    expect(finalized.args.total).to.equal(total);
    const withdrawn = await eventually(
      "the earnings' withdrawal",
      async () => (await settlement.queryFilter(settlement.filters.Withdrawn(operator)))[0],
      daemon,
    );
    expect(withdrawn.args.amount).to.equal(total);
    expect(await settlement.balanceOf(operator)).to.equal(0n);
    expect(await settlement.creditOf(operator)).to.equal(poolBefore + key.tokenValue * 4n - total);
  });
});

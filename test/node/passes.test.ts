/**
 * Privacy Pass payment on a local hardhat chain (issue #13 item 6): an operator registers its issuer key through
 * its outbox and serves the issuance endpoint; a buyer buys 5 passes with the SDK (on-chain purchase, blind
 * issuance, wallet file); the operator's redeemer spends them once each and its claimer redeems the nonces
 * on-chain, so the operator is paid. Refused: a second issuance beyond the purchase's count, and a request signed by
 * someone else (the purchase stays pending).
 */
import { readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { expect } from "chai";
import { NonceManager, Wallet } from "ethers";
import { addressesFromRecord, connectContracts, type Contracts } from "../../src/core/contracts";
import { InputError, VerificationError } from "../../src/core/errors";
import { openOperator, type OperatorContext } from "../../src/node/context";
import {
  ISSUER_KEY_FILE,
  loadIssuerKey,
  type PassService,
  registerIssuerKey,
  startPassService,
} from "../../src/node/issuer";
import { silentLogger } from "../../src/core/log";
import {
  encodeIssuanceMessage,
  issuanceAuthorization,
  ISSUE_PATH,
  type IssuerKey,
  issuerName,
  prepareTokenRequests,
  type TokenChallenge,
  verifyToken,
} from "../../src/privacypass";
import { buyPasses, issuePasses, listPasses, passNonce, takePass } from "../../src/sdk/passes";
import { createOperator, PASSWORD, startDevnet, TOKEN, vin, type Devnet } from "./harness";

const PRICE = TOKEN / 10n;

describe("privacy passes on a local chain", function () {
  let net: Devnet;
  let ctx: OperatorContext;
  let key: IssuerKey;
  let challenge: TokenChallenge;
  let service: PassService;
  let dataDir: string;
  let issuerUrl: string;
  let contracts: Contracts;
  let buyer: NonceManager;
  let buyerAddress: string;
  let wallet: string;
  const log = silentLogger;

  before(async function () {
    net = await startDevnet();
    const operator = await createOperator(net, "issuer", { modes: "vanilla" });
    ctx = await openOperator({ configFile: operator.config, password: PASSWORD, purpose: "passes test", log });
    dataDir = operator.dataDir;
    service = await startPassService({
      dataDir,
      db: ctx.store.db.sqlite,
      escrow: ctx.contracts.privacyPassEscrow!,
      sender: ctx.sender,
      operator: ctx.wallet.address,
      chainId: BigInt(ctx.config.chainId),
      price: PRICE,
      claimIntervalMs: 0,
      claimSettleMs: 0,
      rpcTimeoutMs: 5_000,
      log,
    });
    ({ key, challenge } = service);
    issuerUrl = service.url!; // it listens: no `listen: false`

    contracts = connectContracts(addressesFromRecord(net.system.record), net.provider);
    // A NonceManager, as the harness's accounts: the provider caches eth_getTransactionCount for a moment, and the
    // purchase follows its approval at once.
    buyer = new NonceManager(new Wallet(Wallet.createRandom().privateKey, net.provider));
    buyerAddress = await buyer.getAddress();
    await net.devnet.fund(buyerAddress);
    wallet = path.join(net.workDir, "passes.json");
  });

  after(async function () {
    await service?.close();
    ctx?.close();
    await net?.devnet.stop();
  });

  it("registers the operator's issuer key on-chain at its price, once, and keeps the key private", async function () {
    expect(statSync(path.join(dataDir, ISSUER_KEY_FILE)).mode & 0o777).to.equal(0o600);
    expect((await loadIssuerKey(dataDir))!.keyId).to.equal(key.keyId);
    const escrow = await contracts.privacyPassEscrow!.getAddress();
    expect(challenge.issuerName).to.equal(
      issuerName({ chainId: BigInt(ctx.config.chainId), escrow, keyId: key.keyId }),
    );
    const info = await contracts.privacyPassEscrow!.issuer(key.keyId);
    expect(info.operator).to.equal(ctx.wallet.address);
    expect(info.price).to.equal(PRICE);
    const again = await registerIssuerKey(
      { escrow: ctx.contracts.privacyPassEscrow!, sender: ctx.sender, operator: ctx.wallet.address },
      key,
      PRICE,
    );
    expect(again.tx).to.equal(undefined);
  });

  it("buys 5 passes, has them issued and acknowledged, and every one verifies", async function () {
    const escrow = contracts.privacyPassEscrow!;
    const before = await contracts.token.balanceOf(buyerAddress);
    const bought = await buyPasses({ signer: buyer, contracts, keyId: key.keyId, count: 5, issuerUrl, wallet });
    expect(bought.tokens).to.equal(5);
    expect(bought.cost).to.equal(5n * PRICE);
    expect(await contracts.token.balanceOf(buyerAddress)).to.equal(before - 5n * PRICE);
    const purchase = await escrow.purchase(bought.purchaseId);
    expect(purchase.buyer).to.equal(buyerAddress);
    expect(purchase.status).to.equal(2n); // Acknowledged
    expect((await escrow.issuer(key.keyId)).acknowledged).to.equal(5n);
    expect(listPasses(wallet)).to.deep.equal([{ keyId: key.keyId, issuerName: challenge.issuerName, count: 5 }]);
    const { passes } = JSON.parse(readFileSync(wallet, "utf8")) as { passes: { token: string }[] };
    for (const pass of passes)
      verifyToken(key.publicKey, challenge, new Uint8Array(Buffer.from(pass.token, "base64url")));

    const listed = await vin(["--json", "passes", "list", "--wallet", wallet]);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(JSON.parse(listed.stdout).passes).to.deep.equal([
      { keyId: key.keyId, issuerName: challenge.issuerName, count: 5 },
    ]);
  });

  it("refuses a second issuance for the same purchase beyond its count (409)", async function () {
    const purchaseId = await contracts.privacyPassEscrow!.purchaseCount();
    const error = await issuePasses({ signer: buyer, contracts, purchaseId, issuerUrl, wallet }).catch(
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(InputError);
    expect((error as Error).message).to.match(/\(409\).*bought 5 tokens; 5 were issued, 5 more asked/);
    expect(listPasses(wallet)[0]!.count).to.equal(5);
  });

  it("gets the tokens of a purchase whose issuance answer was lost, by asking again with the same requests", async function () {
    const escrow = contracts.privacyPassEscrow!.connect(buyer);
    await (await contracts.token.connect(buyer).approve(await escrow.getAddress(), 3n * PRICE)).wait();
    await (await escrow.buy(key.keyId, 3, 3n * PRICE)).wait();
    const purchaseId = await escrow.purchaseCount();
    // A path that loses the answer: the issuer signs (and acknowledges), the client gets a 502.
    const lossy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        void fetch(new URL(ISSUE_PATH, issuerUrl), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: Buffer.concat(chunks),
        }).then(async (answer) => {
          await answer.arrayBuffer();
          res.writeHead(502).end();
        });
      });
    });
    await new Promise<void>((resolve) => lossy.listen(0, "127.0.0.1", resolve));
    const lossyUrl = `http://127.0.0.1:${(lossy.address() as AddressInfo).port}`;
    const separate = path.join(path.dirname(wallet), "lossy-wallet.json");
    try {
      const lost = await issuePasses({
        signer: buyer,
        contracts,
        purchaseId,
        issuerUrl: lossyUrl,
        wallet: separate,
      }).catch((e: unknown) => e);
      expect(lost).to.be.instanceOf(Error);
      expect((await escrow.purchase(purchaseId)).status).to.equal(2n); // acknowledged: the issuer signed
      const again = await issuePasses({ signer: buyer, contracts, purchaseId, issuerUrl, wallet: separate });
      expect(again.tokens).to.equal(3);
      expect(listPasses(separate)[0]!.count).to.equal(3);
    } finally {
      lossy.close();
    }
  });

  it("refuses a request signed by someone else than the buyer (403), leaving the purchase pending", async function () {
    const escrow = contracts.privacyPassEscrow!.connect(buyer);
    await (await contracts.token.connect(buyer).approve(await escrow.getAddress(), 2n * PRICE)).wait();
    await (await escrow.buy(key.keyId, 2, 2n * PRICE)).wait();
    const purchaseId = await escrow.purchaseCount();
    const stranger = Wallet.createRandom().connect(net.provider);
    const error = await issuePasses({ signer: stranger, contracts, purchaseId, issuerUrl, wallet }).catch(
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(VerificationError);
    expect((error as Error).message).to.match(/\(403\).*signed by .*not by purchase/);
    expect((await escrow.purchase(purchaseId)).status).to.equal(1n); // Pending: nothing acknowledged
    expect(listPasses(wallet)[0]!.count).to.equal(5);
  });

  it("answers bad input at the issuance endpoint with a problem naming what is wrong, and changes nothing", async function () {
    const post = async (body: string, init: { method?: string; path?: string } = {}) => {
      const res = await fetch(`${issuerUrl}${init.path ?? ISSUE_PATH}`, {
        method: init.method ?? "POST",
        ...(init.method === "GET" ? {} : { body }),
      });
      return { status: res.status, problem: (await res.json()) as { title: string; detail?: string } };
    };
    const purchases = await contracts.privacyPassEscrow!.purchaseCount();
    expect(await post("{")).to.deep.include({ status: 400 });
    expect((await post("{")).problem.detail).to.match(/not JSON/);
    expect((await post(JSON.stringify({ purchaseId: 1, requests: [], signature: "0x" }))).problem.detail).to.match(
      /^purchaseId: /,
    );
    const noRequests = await post(JSON.stringify({ purchaseId: "1", requests: [], signature: "0x" }));
    expect(noRequests.status).to.equal(400);
    expect(noRequests.problem.detail).to.match(/^requests: expected 1\.\.1024/);
    const badRequest = await post(JSON.stringify({ purchaseId: "1", requests: ["AAIA"], signature: "0x" }));
    expect(badRequest.status).to.equal(400);
    expect(badRequest.problem.detail).to.match(/^requests\[0\]\./);
    expect((await post("", { method: "GET" })).status).to.equal(405);
    expect((await post("{}", { path: "/v1/other" })).status).to.equal(404);

    // A well-formed request for a purchase that does not exist.
    const escrow = await contracts.privacyPassEscrow!.getAddress();
    const prepared = prepareTokenRequests(key.publicKey, challenge, 1);
    const purchaseId = purchases + 100n;
    const signature = await issuanceAuthorization(buyer, {
      chainId: BigInt(ctx.config.chainId),
      escrow,
      purchaseId,
      requests: prepared.requests,
    });
    const unknown = await post(encodeIssuanceMessage({ purchaseId, requests: prepared.requests, signature }));
    expect(unknown.status).to.equal(404);
    expect(unknown.problem.detail).to.match(/does not exist/);
    expect(await contracts.privacyPassEscrow!.purchaseCount()).to.equal(purchases);
  });

  it("spends each pass once at the gateway's redeemer, redeems them on-chain, and the operator is paid", async function () {
    const { redeemer, claimer } = service;
    const nonces: string[] = [];
    for (let pass = takePass(wallet); pass !== undefined; pass = takePass(wallet)) {
      verifyToken(key.publicKey, challenge, new Uint8Array(Buffer.from(pass.token, "base64url")));
      await redeemer.redeem(pass.token);
      const twice = await redeemer.redeem(pass.token).catch((e: unknown) => e);
      expect(twice).to.be.instanceOf(InputError);
      expect((twice as Error).message).to.match(/spent already/);
      nonces.push(passNonce(pass));
    }
    expect(nonces).to.have.length(5);

    const escrow = ctx.contracts.privacyPassEscrow!;
    expect(await claimer.check()).to.equal(5);
    expect(await claimer.check()).to.equal(0);
    for (const nonce of nonces) expect(await escrow.isSpent(key.keyId, nonce)).to.equal(true);
    expect((await escrow.issuer(key.keyId)).redeemed).to.equal(5n);
    expect(await escrow.balanceOf(ctx.wallet.address)).to.equal(5n * PRICE);

    const tokensBefore = await contracts.token.balanceOf(ctx.wallet.address);
    const tx = await ctx.sender.send({
      key: "withdraw:passes-test",
      kind: "withdraw",
      to: await escrow.getAddress(),
      data: escrow.interface.encodeFunctionData("withdraw", [ctx.wallet.address]),
      context: { contract: "privacyPassEscrow", call: "withdraw" },
    });
    expect((await ctx.sender.wait(tx)).status).to.equal(1);
    expect(await contracts.token.balanceOf(ctx.wallet.address)).to.equal(tokensBefore + 5n * PRICE);
  });
});

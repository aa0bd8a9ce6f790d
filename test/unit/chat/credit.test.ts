import { expect } from "chai";
import Database from "better-sqlite3";
import { hexlify, randomBytes, toBigInt, Wallet, type TransactionReceipt } from "ethers";
import { ConflictError, InputError, NotFoundError, VerificationError } from "../../../src/core/errors";
import { expectRejection } from "../../fixtures/assert";
import { silentLogger } from "../../../src/core/log";
import { CreditIssuer, createCreditRedeemer } from "../../../src/node/chat-credit";
import { IssuanceRecord } from "../../../src/node/issuer";
import {
  encodeToken,
  generateIssuerKey,
  issuanceAuthorization,
  issuerName,
  prepareTokenRequests,
  SqliteSpentTokens,
  tokenChallenge,
  type IssuerKey,
  type TokenChallenge,
} from "../../../src/privacypass";
import { ReceiptSettlement__factory } from "../../../typechain-types";

const SETTLEMENT = Wallet.createRandom().address;
const OPERATOR = Wallet.createRandom().address;
const CHAIN_ID = 31337n;
const TOKEN_VALUE = 1_000n;
const iface = ReceiptSettlement__factory.createInterface();

describe("chat credit", function () {
  let key: IssuerKey;
  let challenge: TokenChallenge;
  const buyer = Wallet.createRandom();
  /** Deposit transactions by hash: their CreditDeposited logs. */
  const deposits = new Map<string, { operator: string; payer: string; amount: bigint }[]>();

  before(async function () {
    key = await generateIssuerKey();
    challenge = tokenChallenge({ issuerName: issuerName({ chainId: CHAIN_ID, escrow: SETTLEMENT, keyId: key.keyId }) });
  });

  function issuer(db = new Database(":memory:")) {
    const provider = {
      getTransactionReceipt: (hash: string) => {
        const logs = deposits.get(hash);
        if (logs === undefined) return Promise.resolve(null);
        return Promise.resolve({
          status: 1,
          logs: logs.map((d) => ({
            address: SETTLEMENT,
            ...iface.encodeEventLog("CreditDeposited", [d.operator, d.payer, d.amount]),
          })),
        } as unknown as TransactionReceipt);
      },
    };
    return new CreditIssuer({
      key,
      record: new IssuanceRecord(db, "credit_issued"),
      settlement: { interface: iface } as never,
      settlementAddress: SETTLEMENT,
      provider,
      operator: OPERATOR,
      chainId: CHAIN_ID,
      tokenValue: TOKEN_VALUE,
      log: silentLogger,
    });
  }

  function deposit(amount: bigint, payer = buyer.address, operator = OPERATOR): string {
    const hash = hexlify(randomBytes(32));
    deposits.set(hash, [{ operator, payer, amount }]);
    return hash;
  }

  async function ask(tx: string, count: number, signer = buyer) {
    const prepared = prepareTokenRequests(key.publicKey, challenge, count);
    const purchaseId = toBigInt(tx);
    const signature = await issuanceAuthorization(signer, {
      chainId: CHAIN_ID,
      escrow: SETTLEMENT,
      purchaseId,
      requests: prepared.requests,
    });
    return { prepared, request: { purchaseId, requests: prepared.requests, signature } };
  }

  describe("CreditIssuer.issue", function () {
    it("signs what a deposit buys at tokenValue each, and refuses one more with ConflictError", async function () {
      const credit = issuer();
      const tx = deposit(TOKEN_VALUE * 3n + 999n);
      const { prepared, request } = await ask(tx, 3);
      const tokens = prepared.finalize(await credit.issue(request));
      expect(tokens).to.have.length(3);
      const more = await ask(tx, 1);
      await expectRejection(
        credit.issue(more.request),
        ConflictError,
        /buys 3 tokens at 1000 each; 3 were issued, 1 more asked/,
      );
    });

    it("re-signs the same requests (a lost answer) without counting them twice", async function () {
      const credit = issuer();
      const tx = deposit(TOKEN_VALUE * 2n);
      const { request } = await ask(tx, 2);
      const first = await credit.issue(request);
      expect(await credit.issue(request)).to.deep.equal(first);
    });

    it("refuses requests signed by another address than the payer with VerificationError", async function () {
      const tx = deposit(TOKEN_VALUE);
      const { request } = await ask(tx, 1, Wallet.createRandom());
      await expectRejection(issuer().issue(request), VerificationError, /deposits nothing from/);
    });

    it("counts only deposits into this operator's pool", async function () {
      const tx = deposit(TOKEN_VALUE * 5n, buyer.address, Wallet.createRandom().address);
      const { request } = await ask(tx, 1);
      await expectRejection(issuer().issue(request), VerificationError, /deposits nothing/);
    });

    it("refuses an unknown transaction with NotFoundError", async function () {
      const { request } = await ask(hexlify(randomBytes(32)), 1);
      await expectRejection(issuer().issue(request), NotFoundError, /./);
    });
  });

  describe("createCreditRedeemer", function () {
    async function tokens(count: number): Promise<string[]> {
      const tx = deposit(TOKEN_VALUE * BigInt(count));
      const { prepared, request } = await ask(tx, count);
      return prepared
        .finalize(await issuer().issue(request))
        .map((t) => Buffer.from(encodeToken(t)).toString("base64url"));
    }

    it("spends a token once, its nonce the payment id; a second spend is an InputError", async function () {
      const redeemer = createCreditRedeemer({ key, challenge, spent: new SqliteSpentTokens(new Database(":memory:")) });
      const [token] = await tokens(1);
      const { paymentId } = await redeemer.redeem(token!);
      expect(paymentId).to.match(/^0x[0-9a-f]{64}$/);
      await expectRejection(redeemer.redeem(token!), InputError, /spent already/);
    });

    it("releases a refunded token, unless a receipt was stored under it", async function () {
      const settled = new Set<string>();
      const redeemer = createCreditRedeemer({
        key,
        challenge,
        spent: new SqliteSpentTokens(new Database(":memory:")),
        settled: (id) => settled.has(id),
      });
      const [a, b] = await tokens(2);
      (await redeemer.redeem(a!)).refund();
      expect((await redeemer.redeem(a!)).paymentId).to.match(/^0x/);
      const spent = await redeemer.redeem(b!);
      settled.add(spent.paymentId);
      spent.refund();
      await expectRejection(redeemer.redeem(b!), InputError, /spent already/);
    });

    it("refuses a token of another issuer key", async function () {
      const other = await generateIssuerKey();
      const redeemer = createCreditRedeemer({
        key: other,
        challenge,
        spent: new SqliteSpentTokens(new Database(":memory:")),
      });
      const [token] = await tokens(1);
      await expectRejection(redeemer.redeem(token!), InputError, /not valid/);
    });
  });
});

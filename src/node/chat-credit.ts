/**
 * Prepaid chat credit (issue #14 §4): a buyer deposits into the operator's credit pool on ReceiptSettlement
 * (`deposit(operator, amount)`) and gets Privacy Pass tokens (src/privacypass, blind RSA) from the operator's credit
 * issuer against that deposit; the chat API takes one token per request in its `vin-payment` header, and the
 * token's nonce becomes the receipt's `paymentId`.
 *
 * Value. Every token is worth the same `tokenValue`: the operator's price per token times the most tokens one request
 * can use (prompt and completion together, the largest context of the served models). A deposit of `amount` buys
 * `floor(amount / tokenValue)` tokens, counted per deposit transaction in the node's database (the remainder is not
 * issued: deposit multiples of `tokenValue`).
 *
 * Why it holds, both ways:
 * - The operator cannot be made to serve unpaid: a request costs `price × tokens ≤ tokenValue` (the chat API caps a
 *   request at the model's context), the issuer signs at most `amount / tokenValue` tokens per deposit, each token is
 *   spent once (its nonce is recorded spent before the request runs; a receipt is stored under it once), so the
 *   receipts' total never exceeds what buyers deposited, and every batch finds its total in the pool.
 * - A buyer cannot get more than it paid for: tokens are signed only for a deposit transaction whose
 *   `CreditDeposited` logs name this operator, for the address that signed the blinded requests (`personal_sign`,
 *   as for passes), at most `amount / tokenValue` of them ever (a lost answer re-asked with the same requests is
 *   re-signed without counting twice); a spent token is refused (402), forever, unless its request failed before a
 *   receipt was stored (then it is released and can be spent again).
 * - The part of `tokenValue` a short request does not use stays in the pool: the pool is the operator's buyers'
 *   prepaid credit, and the chain only lets it go to batches of enclave-signed receipts (IReceiptSettlement's
 *   warning to buyers applies: the operator's own issuer could mint tokens for itself; watchers catch nothing of
 *   that, so deposit with operators you trust with that much).
 * - A price rise: receipts are priced at `priceOf(operator, model, issuedAt)`, which the operator can raise (an hour's
 *   notice). The issuer's `tokenValue` is fixed when it starts, from the highest of the configured and published
 *   prices: the operator must restart its node (and its issuer's `tokenValue`) before a rise takes effect, or its
 *   older tokens may be worth less than their requests (the operator's loss, never the buyer's).
 *
 * Privacy: the issuer sees the buyer's address and blinded requests; the chat API sees tokens, never who bought them.
 * The credit key is the node's alone (`credit-issuer.pem` in the data directory), published at `GET /v1/credit/key`,
 * not on-chain: a buyer should check that the key it is given is the one others are given (an operator that gave
 * each buyer its own key could link tokens to buyers).
 */
import type { RequestListener } from "node:http";
import path from "node:path";
import type Database from "better-sqlite3";
import { concat, keccak256, toBeHex, type Provider } from "ethers";
import type { ReceiptSettlement } from "../../typechain-types/contracts/chat/ReceiptSettlement";
import { ConflictError, InputError, NotFoundError, VerificationError } from "../core/errors";
import type { Logger } from "../core/log";
import { withRetry } from "../core/retry";
import { writeProblem } from "../ohttp";
import {
  checkTokenRequests,
  encodeIssuanceResponse,
  type Hex,
  issueTokens,
  issuerName,
  type IssuerKey,
  recoverIssuanceSigner,
  SqliteSpentTokens,
  type SpentTokens,
  tokenChallenge,
  type TokenChallenge,
} from "../privacypass";
import type { PaymentRedeemer } from "./chat-api";
import {
  createPassRedeemer,
  IssuanceRecord,
  issuanceProblem,
  loadIssuerKey,
  parseIssuanceRequest,
  PASS_BATCH,
} from "./issuer";

/** The credit issuer key's file in a node's data directory (PKCS#8 PEM, mode 0600). */
export const CREDIT_KEY_FILE = "credit-issuer.pem";
/** Where the issuer signs tokens for a deposit: `{ purchaseId: <deposit tx hash as a decimal>, requests, signature }`. */
export const CREDIT_ISSUE_PATH = "/v1/credit/issue";
/** Where the issuer publishes its key and the value of a token. */
export const CREDIT_KEY_PATH = "/v1/credit/key";

/** What `GET /v1/credit/key` answers. */
export interface CreditKeyInfo {
  /** The issuer's public key (RSASSA-PSS SubjectPublicKeyInfo, base64url). */
  publicKey: string;
  keyId: Hex;
  /** The challenge's issuer name, `vin:<chainId>:<settlement>:<keyId>`. */
  issuerName: string;
  /** Token wei one token is worth (`price × tokens` of a request never exceeds it). */
  tokenValue: string;
  chainId: string;
  settlement: string;
  operator: string;
}

export interface CreditIssuerOptions {
  key: IssuerKey;
  record: IssuanceRecord;
  settlement: Pick<ReceiptSettlement, "interface">;
  settlementAddress: string;
  provider: Pick<Provider, "getTransactionReceipt">;
  operator: string;
  chainId: bigint;
  tokenValue: bigint;
  log: Logger;
  rpcTimeoutMs?: number;
}

/**
 * Signs credit tokens against deposits.
 * @example const responses = await issuer.issue({ purchaseId: BigInt(depositTx), requests, signature });
 */
export class CreditIssuer {
  constructor(private readonly options: CreditIssuerOptions) {}

  /** What a deposit transaction bought from this operator, for `payer` (token wei). */
  async deposited(txHash: string, payer: string): Promise<bigint> {
    const { provider, settlement, settlementAddress, operator } = this.options;
    const receipt = await withRetry("eth_getTransactionReceipt", () => provider.getTransactionReceipt(txHash), {
      timeoutMs: this.options.rpcTimeoutMs ?? 10_000,
    });
    if (receipt === null || receipt.status !== 1)
      throw new NotFoundError(`no successful deposit transaction ${txHash} (wait until it is mined)`);
    let amount = 0n;
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== settlementAddress.toLowerCase()) continue;
      const parsed = settlement.interface.parseLog(log);
      if (parsed?.name !== "CreditDeposited") continue;
      if (same(parsed.args.operator as string, operator) && same(parsed.args.payer as string, payer))
        amount += parsed.args.amount as bigint;
    }
    return amount;
  }

  /**
   * The blind signatures of `request.requests`, after these checks: they parse and name this key; the signature
   * recovers an address whose deposits in the transaction `request.purchaseId` (its hash as a number) buy, at
   * `tokenValue` each, what was signed for it before plus these.
   * @throws InputError (malformed), NotFoundError (no such deposit), VerificationError (no deposit of the signer),
   * ConflictError (over what the deposit buys).
   */
  async issue(request: { purchaseId: bigint; requests: Uint8Array[]; signature: string }): Promise<Uint8Array[]> {
    const { key, record, chainId, settlementAddress, tokenValue } = this.options;
    const { purchaseId, requests } = request;
    if (requests.length === 0 || requests.length > PASS_BATCH)
      throw new InputError(`requests: expected 1..${PASS_BATCH} token requests, got ${requests.length}`);
    checkTokenRequests(key, requests);
    const signer = recoverIssuanceSigner(
      { chainId, escrow: settlementAddress, purchaseId, requests },
      request.signature,
    );
    const txHash = toBeHex(purchaseId, 32);
    const amount = await this.deposited(txHash, signer);
    if (amount === 0n)
      throw new VerificationError(`transaction ${txHash} deposits nothing from ${signer} into this operator's pool`);
    const count = Number(amount / tokenValue);
    const batch = keccak256(concat(requests)) as Hex;
    if (!record.reserve(purchaseId, batch, requests.length, count))
      throw new ConflictError(
        `deposit ${txHash} buys ${count} tokens at ${tokenValue} each; ${record.issued(purchaseId)} were issued, ${requests.length} more asked`,
      );
    this.options.log.info({ deposit: txHash, tokens: requests.length }, "credit tokens issued");
    return issueTokens(key, requests);
  }
}

/** The issuer's endpoints as a node:http listener: `POST /v1/credit/issue`, `GET /v1/credit/key`. */
export function createCreditHandler(
  issuer: Pick<CreditIssuer, "issue">,
  info: CreditKeyInfo,
  log: Logger,
): RequestListener {
  return (req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? "/", "http://issuer");
        if (url.pathname === CREDIT_KEY_PATH) {
          const body = JSON.stringify(info);
          res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
          return res.end(body);
        }
        if (req.method !== "POST")
          return writeProblem(res, {
            status: 405,
            title: "method not allowed",
            detail: `${CREDIT_ISSUE_PATH} takes POST`,
          });
        const responses = await issuer.issue(await parseIssuanceRequest(req));
        const body = encodeIssuanceResponse(responses);
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      } catch (error) {
        const problem = issuanceProblem(error);
        if (problem.status >= 500) log.warn({ err: (error as Error).message }, "credit issuance failed");
        if (!res.headersSent) writeProblem(res, problem);
        else res.destroy();
      }
    })();
  };
}

/**
 * The chat API's redeemer of credit tokens (`PaymentRedeemer`): node/issuer's pass redeemer under the name "credit
 * token": a token must parse, verify for `challenge` under `key`, and not be spent; its nonce is the payment id. A
 * refund releases it, unless a receipt was stored under it (`settled`): a payment id is charged once and never spent
 * again.
 * @example createChatApi({ ..., payments: createCreditRedeemer({ key, challenge, spent, settled: (id) => store.has(id) }) });
 */
export function createCreditRedeemer(options: {
  key: Pick<IssuerKey, "publicKey" | "keyId">;
  challenge: TokenChallenge;
  spent: SpentTokens;
  settled?: (paymentId: string) => boolean;
}): PaymentRedeemer {
  return createPassRedeemer({ ...options, noun: "credit token" });
}

export interface CreditServiceOptions extends Omit<CreditIssuerOptions, "key" | "record" | "log"> {
  dataDir: string;
  db: Database.Database;
  log: Logger;
  settled?: (paymentId: string) => boolean;
}

/** The node's credit: its key, the issuer's endpoints (to mount beside the gateway) and the chat API's redeemer. */
export interface CreditService {
  key: IssuerKey;
  challenge: TokenChallenge;
  info: CreditKeyInfo;
  /** Serves `CREDIT_ISSUE_PATH` and `CREDIT_KEY_PATH`. */
  handler: RequestListener;
  redeemer: PaymentRedeemer;
}

/**
 * Loads (or creates) the credit issuer key and builds the issuer and the redeemer over the node's database.
 * @example const credit = await startCreditService({ dataDir, db, settlement, settlementAddress, provider, operator, chainId, tokenValue, log });
 */
export async function startCreditService(options: CreditServiceOptions): Promise<CreditService> {
  const key = (await loadIssuerKey(options.dataDir, { create: true, file: CREDIT_KEY_FILE }))!;
  const name = issuerName({ chainId: options.chainId, escrow: options.settlementAddress, keyId: key.keyId });
  const challenge = tokenChallenge({ issuerName: name });
  const record = new IssuanceRecord(options.db, "credit_issued");
  const issuer = new CreditIssuer({ ...options, key, record });
  const info: CreditKeyInfo = {
    publicKey: Buffer.from(key.publicKey).toString("base64url"),
    keyId: key.keyId,
    issuerName: name,
    tokenValue: options.tokenValue.toString(),
    chainId: options.chainId.toString(),
    settlement: options.settlementAddress,
    operator: options.operator,
  };
  options.log.info(
    { keyId: key.keyId, tokenValue: info.tokenValue, keyFile: path.join(options.dataDir, CREDIT_KEY_FILE) },
    "chat credit issuer ready",
  );
  return {
    key,
    challenge,
    info,
    handler: createCreditHandler(issuer, info, options.log),
    redeemer: createCreditRedeemer({
      key,
      challenge,
      spent: new SqliteSpentTokens(options.db),
      settled: options.settled,
    }),
  };
}

function same(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

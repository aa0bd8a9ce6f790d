/**
 * Prepaid chat credit, from the buyer's side (node/chat-credit is the operator's): deposit into an operator's credit
 * pool on ReceiptSettlement, have the operator's credit issuer sign Privacy Pass tokens against the deposit (at most
 * `deposit / tokenValue`), and spend one per chat request in the `vin-payment` header. Tokens are kept in a wallet
 * file of the passes' format (`~/.vin/credit.json` by default; sdk/passes `takePass`, `returnPass`, `listPasses`).
 */
import os from "node:os";
import path from "node:path";
import { getAddress, id, NonceManager, toBigInt, type Signer, type TransactionReceipt } from "ethers";
import type { ReceiptSettlement } from "../../typechain-types/contracts/chat/ReceiptSettlement";
import type { IERC20 } from "../../typechain-types/@openzeppelin/contracts/token/ERC20/IERC20";
import {
  BaseError,
  InputError,
  IntegrityError,
  NotFoundError,
  StateError,
  TransportError,
  VerificationError,
} from "../core/errors";
import { withRetry, withTimeout } from "../core/retry";
import { asRevertError } from "../core/revert";
import {
  encodeIssuanceMessage,
  encodeToken,
  type Hex,
  issuanceAuthorization,
  parseIssuanceResponse,
  prepareTokenRequests,
  tokenChallenge,
  tokenKeyId,
} from "../privacypass";
import { listPasses, returnPass, takePass, type PassEntry } from "./passes";

/** The default credit wallet. */
export const DEFAULT_CREDIT_WALLET = path.join(os.homedir(), ".vin", "credit.json");
/** The issuer's endpoints (node/chat-credit). */
export const CREDIT_ISSUE_PATH = "/v1/credit/issue";
export const CREDIT_KEY_PATH = "/v1/credit/key";

/** What an operator's credit issuer publishes (`GET /v1/credit/key`). */
export interface CreditKey {
  publicKey: Uint8Array;
  keyId: Hex;
  issuerName: string;
  tokenValue: bigint;
  chainId: bigint;
  settlement: string;
  operator: string;
}

/**
 * The credit key of the node at `url` (its gateway or direct chat URL), checked: the key id is the key's hash.
 * @example const key = await creditKey("http://127.0.0.1:8443/");
 */
export async function creditKey(url: string, options: { timeoutMs?: number } = {}): Promise<CreditKey> {
  const body = await call(url, CREDIT_KEY_PATH, undefined, options.timeoutMs ?? 30_000);
  const info = body as Record<string, string>;
  const publicKey = new Uint8Array(Buffer.from(String(info.publicKey), "base64url"));
  if (tokenKeyId(publicKey) !== String(info.keyId).toLowerCase())
    throw new IntegrityError(`the credit key of ${url} does not hash to its key id ${info.keyId}`);
  return {
    publicKey,
    keyId: info.keyId!.toLowerCase() as Hex,
    issuerName: String(info.issuerName),
    tokenValue: BigInt(String(info.tokenValue)),
    chainId: BigInt(String(info.chainId)),
    settlement: getAddress(String(info.settlement)),
    operator: getAddress(String(info.operator)),
  };
}

export interface DepositCreditOptions {
  signer: Signer;
  settlement: ReceiptSettlement;
  token: IERC20;
  operator: string;
  /** Token wei. */
  amount: bigint;
}

/**
 * Approves and deposits `amount` into `operator`'s credit pool.
 * @returns The deposit transaction's hash: what tokens are issued against.
 * @example const { txHash } = await depositCredit({ signer, settlement, token, operator, amount: 10n ** 18n });
 */
export async function depositCredit(options: DepositCreditOptions): Promise<{ txHash: string }> {
  const signer = options.signer instanceof NonceManager ? options.signer : new NonceManager(options.signer);
  const settlement = options.settlement.connect(signer);
  try {
    await (await options.token.connect(signer).approve(await settlement.getAddress(), options.amount)).wait();
    const receipt = (await (await settlement.deposit(options.operator, options.amount)).wait()) as TransactionReceipt;
    return { txHash: receipt.hash };
  } catch (error) {
    throw asRevertError(error, { contract: "receiptSettlement", call: "deposit" });
  }
}

export interface IssueCreditOptions {
  /** The depositor. */
  signer: Signer;
  /** The node's gateway or direct chat URL. */
  url: string;
  /** The deposit transaction. */
  txHash: string;
  /** Tokens to ask for. Default all the deposit buys (its amount / `tokenValue`). */
  count?: number;
  wallet?: string;
  timeoutMs?: number;
}

/**
 * Has the operator's issuer sign tokens against a deposit and adds them to the wallet.
 * @throws VerificationError when the issuer refuses the signer, InputError when it refuses the count.
 * @example const { tokens } = await issueCredit({ signer, url, txHash });
 */
export async function issueCredit(options: IssueCreditOptions): Promise<{ tokens: number; wallet: string }> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const key = await creditKey(options.url, { timeoutMs });
  const count = options.count ?? Number((await depositedBy(options, key)) / key.tokenValue);
  if (count < 1) throw new InputError(`the deposit buys no token: one is worth ${key.tokenValue} token wei`);
  const prepared = prepareTokenRequests(key.publicKey, tokenChallenge({ issuerName: key.issuerName }), count);
  const purchaseId = toBigInt(options.txHash);
  const signature = await issuanceAuthorization(options.signer, {
    chainId: key.chainId,
    escrow: key.settlement,
    purchaseId,
    requests: prepared.requests,
  });
  const body = encodeIssuanceMessage({ purchaseId, requests: prepared.requests, signature });
  const answer = await call(options.url, CREDIT_ISSUE_PATH, body, timeoutMs);
  let responses: Uint8Array[];
  try {
    responses = parseIssuanceResponse(answer);
  } catch (cause) {
    throw new IntegrityError("the issuer's answer is not a list of token responses", { cause });
  }
  const wallet = options.wallet ?? DEFAULT_CREDIT_WALLET;
  for (const token of prepared.finalize(responses))
    returnPass(
      {
        keyId: key.keyId,
        issuerName: key.issuerName,
        token: Buffer.from(encodeToken(token)).toString("base64url"),
        purchaseId: purchaseId.toString(),
      },
      wallet,
    );
  return { tokens: responses.length, wallet };
}

/** Token wei the signer deposited into the key's operator's pool in the deposit transaction. */
async function depositedBy(options: IssueCreditOptions, key: CreditKey): Promise<bigint> {
  const provider = options.signer.provider;
  if (provider === null) throw new StateError("the signer has no provider to read the deposit with");
  const receipt = await withRetry("eth_getTransactionReceipt", () => provider.getTransactionReceipt(options.txHash));
  if (receipt === null) throw new NotFoundError(`no transaction ${options.txHash}`);
  const payer = (await options.signer.getAddress()).toLowerCase();
  const topic = id("CreditDeposited(address,address,uint256)");
  let amount = 0n;
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== key.settlement.toLowerCase() || log.topics[0] !== topic) continue;
    const operator = getAddress(`0x${log.topics[1]!.slice(26)}`);
    const from = `0x${log.topics[2]!.slice(26)}`.toLowerCase();
    if (operator === key.operator && from === payer) amount += toBigInt(log.data);
  }
  return amount;
}

/**
 * Takes one credit token of `keyId` (or any) out of the wallet; put it back with sdk/passes `returnPass` if unspent.
 * @example const credential = takeCredit()?.token; await fetch(url, { headers: { "vin-payment": credential } });
 */
export function takeCredit(
  wallet: string = DEFAULT_CREDIT_WALLET,
  options: { keyId?: Hex } = {},
): PassEntry | undefined {
  return takePass(wallet, options);
}

/** The wallet's unspent credit tokens, by key. */
export function listCredit(wallet: string = DEFAULT_CREDIT_WALLET): ReturnType<typeof listPasses> {
  return listPasses(wallet);
}

async function call(base: string, resource: string, body: string | undefined, timeoutMs: number): Promise<unknown> {
  const url = new URL(resource, base).toString();
  let response: Response;
  let text: string;
  try {
    ({ response, text } = await withTimeout(
      `${body === undefined ? "GET" : "POST"} ${url}`,
      timeoutMs,
      async (signal) => {
        const res = await fetch(url, {
          method: body === undefined ? "GET" : "POST",
          ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body }),
          signal,
        });
        return { response: res, text: await res.text() };
      },
    ));
  } catch (error) {
    if (error instanceof BaseError) throw error;
    throw new TransportError(`the credit issuer at ${base} did not answer: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!response.ok) {
    let detail = text;
    try {
      detail = String((JSON.parse(text) as { detail?: string; title?: string }).detail ?? text);
    } catch {
      // not a problem document
    }
    const message = `the credit issuer refused (${response.status}): ${detail}`;
    if (response.status === 403) throw new VerificationError(message);
    if (response.status >= 500) throw new TransportError(message);
    throw new InputError(message);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new IntegrityError(`the credit issuer's answer from ${url} is not JSON`, { cause });
  }
}

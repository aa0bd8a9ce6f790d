/**
 * Privacy Pass tokens for the private path (issue #13 item 6), from the buyer's side: buy a batch on-chain from an
 * operator's issuer key, have the issuer sign it blindly, keep the tokens in a wallet file, and take one per private
 * request. The purchase links the buyer's address to a count of tokens of one key, in public; which requests the
 * tokens then pay for, it does not.
 *
 * The wallet is a JSON file (default `~/.vin/passes.json`, mode 0600) holding unspent tokens; anyone who reads it can
 * spend them.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  type ContractTransactionResponse,
  formatUnits,
  getAddress,
  NonceManager,
  type Signer,
  ZeroAddress,
} from "ethers";
import { type Contracts, requirePrivacyPassEscrow, requirePrivacyRegistry } from "../core/contracts";
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
  ISSUE_PATH,
  issuanceAuthorization,
  issuerName,
  parseIssuanceResponse,
  fromHex,
  prepareTokenRequests,
  toHex,
  tokenChallenge,
  tokenKeyId,
  tokenNonce,
} from "../privacypass";

/** The default wallet file. */
export const DEFAULT_PASS_WALLET = path.join(os.homedir(), ".vin", "passes.json");

/** One unspent token in the wallet. */
export interface PassEntry {
  /** The issuer key (bytes32 hex). */
  keyId: Hex;
  /** The challenge's issuer name, `vin:<chainId>:<escrow>:<keyId>`. */
  issuerName: string;
  /** The encoded token, base64url: what a private request carries as `pass`. */
  token: string;
  /** The purchase it was bought in (the buyer knows it; the token does not carry it). */
  purchaseId: string;
}

interface PassWalletFile {
  version: 1;
  passes: PassEntry[];
}

type PassContracts = Pick<Contracts, "privacyPassEscrow" | "token">;

/**
 * The issuer public key (its encoded SubjectPublicKeyInfo) registered under `keyId`, read from its
 * `IssuerRegistered` event and checked against the id (`keyId` is its SHA-256).
 * @throws NotFoundError when no key `keyId` is registered.
 */
export async function issuerPublicKey(
  contracts: Pick<Contracts, "privacyPassEscrow">,
  keyId: Hex,
  options: { fromBlock?: number; timeoutMs?: number } = {},
): Promise<Uint8Array> {
  const escrow = requirePrivacyPassEscrow(contracts);
  const logs = await withRetry(
    "privacyPassEscrow.IssuerRegistered",
    () => escrow.queryFilter(escrow.filters.IssuerRegistered(keyId), options.fromBlock ?? 0),
    { timeoutMs: options.timeoutMs ?? 30_000 },
  );
  for (const log of logs) {
    const publicKey = new Uint8Array(Buffer.from(log.args.publicKey.slice(2), "hex"));
    if (tokenKeyId(publicKey) === keyId.toLowerCase()) return publicKey;
  }
  throw new NotFoundError(`no issuer key ${keyId} is registered in PrivacyPassEscrow`);
}

/** Options of {@link buyPasses}. */
export interface BuyPassesOptions {
  signer: Signer;
  contracts: PassContracts;
  keyId: Hex;
  count: number;
  /** The issuer's base URL (its operator publishes it; where on-chain is not decided yet). */
  issuerUrl: string;
  /** The wallet file. Default {@link DEFAULT_PASS_WALLET}. */
  wallet?: string;
  /** The block to search the key's registration from. Default 0. */
  fromBlock?: number;
  /** Time limit of the issuance request and of each chain read. Default 60 s. */
  timeoutMs?: number;
}

/** What a purchase gave. */
export interface BoughtPasses {
  purchaseId: bigint;
  /** Token wei paid. */
  cost: bigint;
  /** Tokens added to the wallet. */
  tokens: number;
  wallet: string;
  /** The purchase transaction. */
  tx: string;
}

/**
 * Buys `count` tokens of the issuer key `keyId` (approving the escrow first when needed), has the issuer at
 * `issuerUrl` sign them, and adds them to the wallet.
 * @throws NotFoundError (no such key), InputError (retired key, too few tokens to pay, a refused request),
 * RevertError (the purchase reverted); when the issuance itself fails after the purchase, an error naming the
 * purchase: {@link issuePasses} retries it, and `PrivacyPassEscrow.refund` returns its cost once its issue window
 * has passed unacknowledged.
 * @example const bought = await buyPasses({ signer, contracts, keyId, count: 20, issuerUrl: "http://127.0.0.1:8444" });
 */
export async function buyPasses(options: BuyPassesOptions): Promise<BoughtPasses> {
  const { contracts, keyId, count } = options;
  // Approve and buy back to back: a provider's short result cache would hand both the same nonce.
  const signer = options.signer instanceof NonceManager ? options.signer : new NonceManager(options.signer);
  const escrow = requirePrivacyPassEscrow(contracts);
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (!Number.isSafeInteger(count) || count < 1 || count > 1_024)
    throw new InputError(`count: expected 1..1024 tokens, got ${count}`);
  const info = await withRetry("privacyPassEscrow.issuer", () => escrow.issuer(keyId), { timeoutMs });
  if (info.operator === ZeroAddress)
    throw new NotFoundError(`no issuer key ${keyId} is registered in PrivacyPassEscrow`);
  if (info.retired) throw new InputError(`issuer key ${keyId} is retired: it takes no more purchases`);
  const cost = info.price * BigInt(count);
  const buyer = await signer.getAddress();
  const spender = await escrow.getAddress();
  const balance = await withRetry("token.balanceOf", () => contracts.token.balanceOf(buyer), { timeoutMs });
  if (balance < cost)
    throw new InputError(
      `account ${buyer} holds ${formatUnits(balance, 18)} tokens; ${count} passes cost ${formatUnits(cost, 18)}`,
    );
  const allowance = await withRetry("token.allowance", () => contracts.token.allowance(buyer, spender), { timeoutMs });
  if (allowance < cost) await mined("token", "approve", () => contracts.token.connect(signer).approve(spender, cost));
  const { hash, purchaseId } = await purchase(escrow.connect(signer), keyId, count, cost);
  try {
    const added = await issuePasses({ ...options, signer, purchaseId });
    return { purchaseId, cost, tokens: added.tokens, wallet: added.wallet, tx: hash };
  } catch (error) {
    throw new StateError(
      `purchase ${purchaseId} (${count} passes) is bought but not issued: ${error instanceof BaseError ? error.shortMessage : String(error)}; retry the issuance, or take a refund once its issue window has passed unacknowledged`,
      { cause: error, context: { purchaseId: purchaseId.toString() } },
    );
  }
}

/**
 * Asks the issuer at `issuerUrl` to sign all the tokens of purchase `purchaseId` (the signer's) and adds them to
 * the wallet. New blinded requests each time: an issuer that signed some of the purchase before counts them.
 */
export async function issuePasses(
  options: Omit<BuyPassesOptions, "count" | "keyId"> & { purchaseId: bigint },
): Promise<{ tokens: number; wallet: string }> {
  const { signer, contracts, purchaseId } = options;
  const escrow = requirePrivacyPassEscrow(contracts);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const bought = await withRetry("privacyPassEscrow.purchase", () => escrow.purchase(purchaseId), { timeoutMs });
  if (Number(bought.status) === 0) throw new NotFoundError(`purchase ${purchaseId} does not exist`);
  const keyId = bought.keyId.toLowerCase() as Hex;
  const publicKey = await issuerPublicKey(contracts, keyId, { fromBlock: options.fromBlock, timeoutMs });
  const network = await withRetry("getNetwork", () => signer.provider!.getNetwork(), { timeoutMs });
  const escrowAddress = await escrow.getAddress();
  const name = issuerName({ chainId: network.chainId, escrow: escrowAddress, keyId });
  const wallet = options.wallet ?? DEFAULT_PASS_WALLET;
  // The requests' randomness is kept (0600, beside the wallet) until the tokens are in the wallet: after a lost
  // answer the same requests are asked again, which the issuer re-signs, where new ones would exceed the purchase.
  const pendingFile = `${wallet}.issuing-${purchaseId}.json`;
  const prepared = prepareTokenRequests(
    publicKey,
    tokenChallenge({ issuerName: name }),
    Number(bought.count),
    readPendingSeams(pendingFile, keyId),
  );
  mkdirSync(path.dirname(pendingFile), { recursive: true });
  writeFileSync(
    pendingFile,
    `${JSON.stringify({ keyId, seams: prepared.seams.map((seam) => mapValues(seam, toHex)) })}\n`,
    { mode: 0o600 },
  );
  const signature = await issuanceAuthorization(signer, {
    chainId: network.chainId,
    escrow: escrowAddress,
    purchaseId,
    requests: prepared.requests,
  });
  const responses = await postIssuance(
    options.issuerUrl,
    encodeIssuanceMessage({ purchaseId, requests: prepared.requests, signature }),
    timeoutMs,
  );
  const tokens = prepared.finalize(responses);
  const entries = tokens.map((token) => ({
    keyId,
    issuerName: name,
    token: Buffer.from(encodeToken(token)).toString("base64url"),
    purchaseId: purchaseId.toString(),
  }));
  updateWallet(wallet, (passes) => [...passes, ...entries]);
  rmSync(pendingFile, { force: true });
  return { tokens: tokens.length, wallet };
}

/** The kept randomness of an issuance asked before (see {@link issuePasses}), or undefined. */
function readPendingSeams(
  file: string,
  keyId: Hex,
): { nonce: Uint8Array; salt: Uint8Array; inv: Uint8Array }[] | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const kept = JSON.parse(readFileSync(file, "utf8")) as {
      keyId: string;
      seams: Record<"nonce" | "salt" | "inv", string>[];
    };
    if (kept.keyId !== keyId) return undefined;
    return kept.seams.map((seam) => mapValues(seam, (hex) => fromHex(hex, "seam")));
  } catch (cause) {
    throw new StateError(`${file} (an issuance in progress) is unreadable: move it away to ask for new tokens`, {
      cause,
    });
  }
}

function mapValues<K extends string, A, B>(record: Record<K, A>, f: (value: A) => B): Record<K, B> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v as A)])) as Record<K, B>;
}

/**
 * Takes one unspent token out of the wallet (the oldest, of `keyId` when given), or undefined when there is none.
 * A token taken and not spent is lost unless put back with {@link returnPass}.
 * @example const pass = takePass(); await privateInference({ ..., pass: pass?.token });
 */
export function takePass(wallet: string = DEFAULT_PASS_WALLET, options: { keyId?: Hex } = {}): PassEntry | undefined {
  let taken: PassEntry | undefined;
  updateWallet(wallet, (passes) => {
    const index = passes.findIndex((p) => options.keyId === undefined || p.keyId === options.keyId.toLowerCase());
    if (index === -1) return passes;
    taken = passes[index];
    return passes.filter((_, i) => i !== index);
  });
  return taken;
}

/** Puts a token taken with {@link takePass} back (its request was not sent, or the gateway refunded it). */
export function returnPass(pass: PassEntry, wallet: string = DEFAULT_PASS_WALLET): void {
  updateWallet(wallet, (passes) => (passes.some((p) => p.token === pass.token) ? passes : [pass, ...passes]));
}

/** The unspent tokens of the wallet, per issuer key. */
export function listPasses(wallet: string = DEFAULT_PASS_WALLET): { keyId: Hex; issuerName: string; count: number }[] {
  const counts = new Map<string, { keyId: Hex; issuerName: string; count: number }>();
  for (const pass of readWallet(wallet)) {
    const entry = counts.get(pass.keyId) ?? { keyId: pass.keyId, issuerName: pass.issuerName, count: 0 };
    entry.count++;
    counts.set(pass.keyId, entry);
  }
  return [...counts.values()];
}

/** The token's nonce as bytes32 hex (what the operator redeems on-chain once the token is spent). */
export function passNonce(pass: PassEntry): Hex {
  return tokenNonce(new Uint8Array(Buffer.from(pass.token, "base64url")));
}

async function purchase(
  escrow: ReturnType<typeof requirePrivacyPassEscrow>,
  keyId: Hex,
  count: number,
  cost: bigint,
): Promise<{ hash: string; purchaseId: bigint }> {
  let receipt;
  try {
    const tx = await escrow.buy(keyId, count, cost);
    receipt = await tx.wait();
  } catch (error) {
    throw asRevertError(error, { contract: "privacyPassEscrow", call: "buy" });
  }
  for (const log of receipt?.logs ?? []) {
    const parsed = escrow.interface.parseLog(log);
    if (parsed?.name === "TokensBought") return { hash: receipt!.hash, purchaseId: parsed.args.purchaseId as bigint };
  }
  throw new IntegrityError(`the purchase ${receipt?.hash} emitted no TokensBought event`);
}

async function postIssuance(base: string, body: string, timeoutMs: number): Promise<Uint8Array[]> {
  const url = new URL(ISSUE_PATH, base).toString();
  let response: Response;
  let text: string;
  try {
    ({ response, text } = await withTimeout(`POST ${url}`, timeoutMs, async (signal) => {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, signal });
      return { response: res, text: await res.text() };
    }));
  } catch (error) {
    if (error instanceof BaseError) throw error;
    throw new TransportError(`the issuer at ${base} did not answer: ${(error as Error).message}`, { cause: error });
  }
  if (!response.ok) {
    const detail = problemDetail(text);
    const message = `the issuer refused the issuance (${response.status}): ${detail}`;
    if (response.status === 403) throw new VerificationError(message);
    if (response.status >= 500) throw new TransportError(message);
    throw new InputError(message);
  }
  try {
    return parseIssuanceResponse(JSON.parse(text));
  } catch (error) {
    throw new IntegrityError(`the issuer's answer is not a list of token responses`, { cause: error });
  }
}

function problemDetail(text: string): string {
  try {
    const value = JSON.parse(text) as { title?: unknown; detail?: unknown };
    return [value.title, value.detail].filter((v) => typeof v === "string").join(": ") || text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}

async function mined(contract: string, call: string, send: () => Promise<ContractTransactionResponse>): Promise<void> {
  try {
    await (await send()).wait();
  } catch (error) {
    throw asRevertError(error, { contract, call });
  }
}

function readWallet(file: string): PassEntry[] {
  if (!existsSync(file)) return [];
  let value: PassWalletFile;
  try {
    value = JSON.parse(readFileSync(file, "utf8")) as PassWalletFile;
  } catch (cause) {
    throw new StateError(`the pass wallet ${file} is not JSON`, { cause });
  }
  if (value?.version !== 1 || !Array.isArray(value.passes))
    throw new StateError(`the pass wallet ${file} is not a version 1 wallet`);
  return value.passes;
}

/** Rewrites the wallet with what `change` makes of its passes: a temporary file renamed over it, mode 0600. */
function updateWallet(file: string, change: (passes: PassEntry[]) => PassEntry[]): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const unlock = lockWallet(file);
  try {
    writeWallet(file, change(readWallet(file)));
  } finally {
    unlock();
  }
}

/**
 * An exclusive lock on the wallet (`<file>.lock`, created with O_EXCL) for one read-change-write: two processes (a
 * purchase and a chat) must not write over each other's passes, nor take the same pass. A lock older than
 * {@link STALE_LOCK_MS} is a crashed holder's and is broken.
 * @throws StateError when the lock stays held for {@link LOCK_WAIT_MS}.
 */
function lockWallet(file: string): () => void {
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, "wx", 0o600));
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) rmSync(lock, { force: true });
      else if (Date.now() > deadline)
        throw new StateError(`the pass wallet ${file} is locked by another process (${lock}); try again`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

const LOCK_WAIT_MS = 5_000;
const STALE_LOCK_MS = 30_000;

function writeWallet(file: string, passes: PassEntry[]): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ version: 1, passes } satisfies PassWalletFile, null, 2)}\n`, {
    mode: 0o600,
  });
  renameSync(temporary, file);
}

/**
 * The issuer keys `operator` registered in PrivacyPassEscrow and has not retired: the keys its gateway takes passes of.
 * @example const keys = await operatorIssuerKeys(contracts, operator, { fromBlock: deployment.startBlock });
 */
export async function operatorIssuerKeys(
  contracts: PassContracts,
  operator: string,
  options: { fromBlock?: number; timeoutMs?: number } = {},
): Promise<Hex[]> {
  const escrow = requirePrivacyPassEscrow(contracts);
  const retry = { timeoutMs: options.timeoutMs ?? 30_000 };
  const events = await withRetry(
    "privacyPassEscrow.IssuerRegistered",
    () => escrow.queryFilter(escrow.filters.IssuerRegistered(undefined, getAddress(operator)), options.fromBlock ?? 0),
    retry,
  );
  const keys: Hex[] = [];
  for (const event of events) {
    const keyId = event.args.keyId.toLowerCase() as Hex;
    const info = await withRetry("privacyPassEscrow.issuer", () => escrow.issuer(keyId), retry);
    if (!info.retired && info.operator.toLowerCase() === operator.toLowerCase()) keys.push(keyId);
  }
  return keys;
}

/**
 * Buys `count` passes of the gateway of `operator` at its issuance endpoint (the gateway URL PrivacyRegistry lists).
 * Of the operator's unretired issuer keys it takes the one most other buyers bought from: tokens only hide their
 * buyer among the buyers of the same key, and an operator that registered a key per buyer could otherwise tell
 * who paid each request. `otherBuyers` says how many there were; 0 means the passes identify their buyer.
 * @throws NotFoundError when the operator lists no gateway or has no issuer key; what {@link buyPasses} throws.
 */
export async function buyGatewayPasses(
  options: Omit<BuyPassesOptions, "keyId" | "issuerUrl"> & {
    operator: string;
    contracts: PassContracts & Pick<Contracts, "privacyRegistry">;
  },
): Promise<BoughtPasses & { keyId: Hex; issuerUrl: string; otherBuyers: number }> {
  const { contracts, operator } = options;
  const gateway = await withRetry("privacyRegistry.gateway", () => requirePrivacyRegistry(contracts).gateway(operator));
  if (gateway.url === "") throw new NotFoundError(`operator ${operator} lists no gateway in PrivacyRegistry`);
  const keys = await operatorIssuerKeys(contracts, operator, options);
  if (keys.length === 0)
    throw new NotFoundError(`operator ${operator} has no issuer key in PrivacyPassEscrow: its gateway takes no passes`);
  const me = (await options.signer.getAddress()).toLowerCase();
  const counted = await Promise.all(
    keys.map(async (keyId) => ({
      keyId,
      others: [...(await keyBuyers(contracts, keyId, options))].filter((b) => b !== me).length,
    })),
  );
  const best = counted.reduce((a, b) => (b.others > a.others ? b : a));
  const bought = await buyPasses({ ...options, keyId: best.keyId, issuerUrl: gateway.url });
  return { ...bought, keyId: best.keyId, issuerUrl: gateway.url, otherBuyers: best.others };
}

/** The distinct buyers (lowercase addresses) of issuer key `keyId`, from its `TokensBought` events. */
export async function keyBuyers(
  contracts: PassContracts,
  keyId: Hex,
  options: { fromBlock?: number; timeoutMs?: number } = {},
): Promise<Set<string>> {
  const escrow = requirePrivacyPassEscrow(contracts);
  const events = await withRetry(
    "privacyPassEscrow.TokensBought",
    () => escrow.queryFilter(escrow.filters.TokensBought(undefined, undefined, keyId), options.fromBlock ?? 0),
    { timeoutMs: options.timeoutMs ?? 30_000 },
  );
  return new Set(events.map((event) => event.args.buyer.toLowerCase()));
}

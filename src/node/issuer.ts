/**
 * The operator's Privacy Pass issuer (issue #13 item 6): its issuer key in the data directory, registered in
 * `PrivacyPassEscrow`; the issuance endpoint `POST /v1/passes/issue`, which signs a purchase's blinded token
 * requests once the chain shows the purchase is the signer's, for this key, and not over its count (acknowledging
 * it on-chain first); the gateway's redeemer, which spends one token per private request; and the claimer, which
 * redeems spent tokens' nonces on-chain in batches so the operator is paid.
 *
 * What the issuer sees: the buyer's address and its blinded requests, never the tokens they become. What the
 * redeemer sees: tokens, never who bought them. Every transaction goes through the node's outbox.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type Database from "better-sqlite3";
import { concat, type Interface, keccak256, ZeroAddress } from "ethers";
import type { PrivacyPassEscrow } from "../../typechain-types/contracts/privacy/PrivacyPassEscrow";
import {
  BaseError,
  ConflictError,
  InputError,
  NotFoundError,
  RevertError,
  StateError,
  TransportError,
  VerificationError,
} from "../core/errors";
import { withRetry } from "../core/retry";
import { writeProblem } from "../ohttp";
import { BodyMeter, readBody } from "../ohttp/http";
import {
  checkTokenRequests,
  decodeToken,
  encodeIssuanceResponse,
  exportIssuerPrivateKey,
  generateIssuerKey,
  type Hex,
  ISSUE_PATH,
  type IssuanceMessage,
  issueTokens,
  issuerKeyFrom,
  issuerName,
  type IssuerKey,
  parseIssuanceMessage,
  recoverIssuanceSigner,
  SqliteSpentTokens,
  type SpentTokens,
  tokenChallenge,
  type TokenChallenge,
  tokenNonce,
  verifyToken,
} from "../privacypass";
import type { PassRedeemer } from "./gateway";
import type { Logger } from "../core/log";
import type { TxSender } from "./sender";

/** The issuer key's file in a node's data directory (PKCS#8 PEM, mode 0600). */
export const ISSUER_KEY_FILE = "privacypass-issuer.pem";
/** `PrivacyPassEscrow.MAX_BATCH`: the most tokens a purchase, an acknowledgement or a redeem call holds. */
export const PASS_BATCH = 1_024;
/** The largest issuance request body: 1,024 base64url requests of 259 bytes and a signature. */
const MAX_BODY = 512 * 1024;

/**
 * The node's issuer key, created (2048-bit RSA) when `create` is set and there is none.
 * @example const key = await loadIssuerKey(config.dataDir, { create: true });
 */
export async function loadIssuerKey(
  dataDir: string,
  options: { create?: boolean; file?: string } = {},
): Promise<IssuerKey | undefined> {
  const file = path.join(dataDir, options.file ?? ISSUER_KEY_FILE);
  if (!existsSync(file)) {
    if (!options.create) return undefined;
    writeFileSync(file, exportIssuerPrivateKey(await generateIssuerKey()), { mode: 0o600, flag: "wx" });
  }
  return issuerKeyFrom(readFileSync(file, "utf8"));
}

/** What registering, acknowledging and redeeming need: the escrow, the node's outbox sender and its address. */
export interface IssuerChain {
  escrow: PrivacyPassEscrow;
  sender: TxSender;
  /** The operator: the sender's address. */
  operator: string;
  rpcTimeoutMs?: number;
}

/**
 * Registers `key` in PrivacyPassEscrow at `price` token wei per token, unless it is registered to this operator
 * already (then nothing is sent).
 * @throws ConflictError when another operator registered the same key (keys are first come, first served).
 */
export async function registerIssuerKey(chain: IssuerChain, key: IssuerKey, price: bigint): Promise<{ tx?: string }> {
  const info = await read(chain, "privacyPassEscrow.issuer", () => chain.escrow.issuer(key.keyId));
  if (sameAddress(info.operator, chain.operator)) return {};
  if (info.operator !== ZeroAddress)
    throw new ConflictError(`issuer key ${key.keyId} is registered to ${info.operator}, not to ${chain.operator}`);
  const receipt = await sendAndWait(chain, `registerIssuer:${key.keyId}`, "registerIssuer", [key.publicKey, price]);
  return { tx: receipt };
}

/**
 * How many tokens the issuer signed per purchase, by batch of requests (SQLite, the node's database). A batch is
 * recorded once: the same requests asked again (a lost answer) are signed again without counting twice.
 */
export class IssuanceRecord {
  private readonly stmt;

  /** `table`: the passes' (default) or another issuer's, e.g. the chat credit's. */
  constructor(
    private readonly db: Database.Database,
    table: "privacypass_issued" | "credit_issued" = "privacypass_issued",
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
      purchase_id TEXT NOT NULL, batch TEXT NOT NULL, count INTEGER NOT NULL, issued_at INTEGER NOT NULL,
      PRIMARY KEY (purchase_id, batch))`);
    this.stmt = {
      total: db.prepare(`SELECT COALESCE(SUM(count), 0) AS n FROM ${table} WHERE purchase_id = ?`),
      batch: db.prepare(`SELECT count FROM ${table} WHERE purchase_id = ? AND batch = ?`),
      insert: db.prepare(`INSERT INTO ${table} (purchase_id, batch, count, issued_at) VALUES (?, ?, ?, ?)`),
    };
  }

  /** Tokens signed for `purchaseId` so far. */
  issued(purchaseId: bigint): number {
    return (this.stmt.total.get(purchaseId.toString()) as { n: number }).n;
  }

  /** Whether the batch `batch` (a hash of its requests) of `purchaseId` was recorded already. */
  known(purchaseId: bigint, batch: Hex): boolean {
    return this.stmt.batch.get(purchaseId.toString(), batch) !== undefined;
  }

  /**
   * Records `count` more tokens of `purchaseId` in one transaction, if the total stays within `limit`; a batch
   * recorded already is accepted again without counting. Returns whether the batch may be signed.
   */
  reserve(purchaseId: bigint, batch: Hex, count: number, limit: number): boolean {
    return this.db.transaction(() => {
      if (this.known(purchaseId, batch)) return true;
      if (this.issued(purchaseId) + count > limit) return false;
      this.stmt.insert.run(purchaseId.toString(), batch, count, Date.now());
      return true;
    })();
  }
}

/** An issuance request as the endpoint receives it. */
export type IssuanceRequest = IssuanceMessage;

export interface PassIssuerOptions extends IssuerChain {
  key: IssuerKey;
  record: IssuanceRecord;
  chainId: bigint;
  log: Logger;
}

/** The purchase does not allow this issuance: refunded, past its window, or over its count. */
export class IssuanceConflictError extends ConflictError {
  override name = "IssuanceConflictError";
}

/**
 * Decides and signs issuance requests.
 * @example const responses = await issuer.issue({ purchaseId: 7n, requests, signature });
 */
export class PassIssuer {
  constructor(private readonly options: PassIssuerOptions) {}

  get keyId(): Hex {
    return this.options.key.keyId;
  }

  /**
   * The blind signatures of `request.requests`, in order, after these checks: the requests parse and name this key;
   * the signature recovers the purchase's buyer; the purchase is of this key, not refunded, and its count covers
   * what was signed for it before plus these. A pending purchase is acknowledged on-chain before anything is signed.
   * @throws InputError (malformed), NotFoundError (no such purchase), VerificationError (not the buyer's signature),
   * IssuanceConflictError (another key, refunded, window closed, over the count), TransportError (chain unreachable).
   */
  async issue(request: IssuanceRequest): Promise<Uint8Array[]> {
    const { key, escrow, chainId, record } = this.options;
    const { purchaseId, requests } = request;
    if (requests.length === 0 || requests.length > PASS_BATCH)
      throw new InputError(`requests: expected 1..${PASS_BATCH} token requests, got ${requests.length}`);
    checkTokenRequests(key, requests);
    const signer = recoverIssuanceSigner(
      { chainId, escrow: await escrow.getAddress(), purchaseId, requests },
      request.signature,
    );
    const purchase = await read(this.options, "privacyPassEscrow.purchase", () => escrow.purchase(purchaseId));
    const status = Number(purchase.status);
    if (status === 0) throw new NotFoundError(`purchase ${purchaseId} does not exist`);
    if (!sameAddress(purchase.buyer, signer))
      throw new VerificationError(`the request is signed by ${signer}, not by purchase ${purchaseId}'s buyer`, {
        context: { purchaseId: purchaseId.toString() },
      });
    if (purchase.keyId.toLowerCase() !== key.keyId)
      throw new IssuanceConflictError(`purchase ${purchaseId} is for issuer key ${purchase.keyId}, not ${key.keyId}`);
    if (status === 3) throw new IssuanceConflictError(`purchase ${purchaseId} was refunded`);
    const batch = keccak256(concat(requests)) as Hex;
    const count = Number(purchase.count);
    if (!record.known(purchaseId, batch) && record.issued(purchaseId) + requests.length > count)
      throw new IssuanceConflictError(
        `purchase ${purchaseId} bought ${count} tokens; ${record.issued(purchaseId)} were issued, ${requests.length} more asked`,
      );
    // The escrow's warning: acknowledge before returning signed tokens, or they are unpaid.
    if (status === 1) await this.acknowledge(purchaseId);
    if (!record.reserve(purchaseId, batch, requests.length, count))
      throw new IssuanceConflictError(`purchase ${purchaseId}: its ${count} tokens were issued meanwhile`);
    const responses = issueTokens(key, requests);
    this.options.log.info({ purchaseId: purchaseId.toString(), tokens: requests.length }, "passes issued");
    return responses;
  }

  private async acknowledge(purchaseId: bigint): Promise<void> {
    try {
      await sendAndWait(this.options, `acknowledge:${purchaseId}`, "acknowledge", [[purchaseId]]);
    } catch (error) {
      const revert = error instanceof BaseError ? error.walk((e) => e instanceof RevertError) : undefined;
      if (revert instanceof RevertError && revert.errorName === "PrivacyPassEscrowIssueWindowClosed")
        throw new IssuanceConflictError(
          `purchase ${purchaseId} can no longer be acknowledged: its issue window closed`,
          {
            cause: error,
          },
        );
      throw error;
    }
  }
}

/**
 * The issuance endpoint as a node:http listener: `POST /v1/passes/issue` with the JSON body
 * `{ "purchaseId": "7", "requests": ["<base64url TokenRequest>", ...], "signature": "0x…" }`, answered with
 * `{ "responses": ["<base64url TokenResponse>", ...] }` or a problem (RFC 9457): 400 malformed, 403 not the buyer's
 * signature, 404 no such purchase, 409 not allowed by the purchase, 503 chain unreachable.
 * @example createServer(createIssuerHandler(issuer, log)).listen(8444, "127.0.0.1");
 */
export function createIssuerHandler(issuer: Pick<PassIssuer, "issue">, log: Logger): RequestListener {
  return (req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? "/", "http://issuer");
        if (url.pathname !== ISSUE_PATH)
          return writeProblem(res, { status: 404, title: "not found", detail: `the issuer serves POST ${ISSUE_PATH}` });
        if (req.method !== "POST")
          return writeProblem(res, { status: 405, title: "method not allowed", detail: `${ISSUE_PATH} takes POST` });
        const responses = await issuer.issue(await parseIssuanceRequest(req));
        const body = encodeIssuanceResponse(responses);
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      } catch (error) {
        const problem = issuanceProblem(error);
        if (problem.status >= 500) log.warn({ err: (error as Error).message }, "issuance failed");
        if (!res.headersSent) writeProblem(res, problem);
        else res.destroy();
      }
    })();
  };
}

export async function parseIssuanceRequest(req: IncomingMessage): Promise<IssuanceRequest> {
  const body = Buffer.from(await readBody(req, new BodyMeter(MAX_BODY))).toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new InputError("the body is not JSON");
  }
  return parseIssuanceMessage(value);
}

export function issuanceProblem(error: unknown): { status: number; title: string; detail?: string } {
  const detail = error instanceof BaseError ? error.shortMessage : undefined;
  if (error instanceof InputError) return { status: 400, title: "malformed issuance request", detail };
  if (error instanceof VerificationError) return { status: 403, title: "not the buyer's request", detail };
  if (error instanceof NotFoundError) return { status: 404, title: "unknown purchase", detail };
  if (error instanceof ConflictError) return { status: 409, title: "issuance not allowed by the purchase", detail };
  if (error instanceof RevertError) return { status: 409, title: "issuance refused on-chain", detail };
  if (error instanceof TransportError) return { status: 503, title: "the chain cannot be read", detail };
  return { status: 500, title: "internal error" };
}

/**
 * The gateway's redeemer of this issuer's tokens (`PassRedeemer` of gateway.ts): a token (base64url) must parse,
 * verify for `challenge` under `key`, and not be spent; it is then marked spent in `spent`, and released if the
 * request fails on the gateway's side, unless `settled` says it was charged (node/chat-credit's redeemer of credit
 * tokens is this one, so named). Its nonce is the payment id. Every refusal is an InputError, which the gateway
 * answers with 402.
 * @example startPrivateGateway({ ..., passes: createPassRedeemer({ key, challenge, spent }) });
 */
export function createPassRedeemer(options: {
  key: Pick<IssuerKey, "publicKey" | "keyId">;
  challenge: TokenChallenge;
  spent: SpentTokens;
  /** What a token is called in refusals. Default "pass". */
  noun?: string;
  /** Whether a payment id was charged (a receipt stored under it): then a refund does not release it. */
  settled?: (paymentId: string) => boolean;
}): PassRedeemer & { redeem(pass: string): Promise<{ paymentId: Hex; refund(): void }> } {
  const { key, challenge, spent } = options;
  const noun = options.noun ?? "pass";
  return {
    async redeem(pass) {
      let nonce: Hex;
      try {
        const token = decodeToken(new Uint8Array(Buffer.from(pass, "base64url")), noun);
        verifyToken(key.publicKey, challenge, token);
        nonce = tokenNonce(token);
      } catch (error) {
        throw new InputError(
          `the ${noun} is not valid: ${error instanceof BaseError ? error.shortMessage : String(error)}`,
          { cause: error },
        );
      }
      if (!spent.markSpent(key.keyId, nonce)) throw new InputError(`the ${noun} was spent already`);
      return {
        paymentId: nonce,
        refund: () => {
          if (options.settled?.(nonce) !== true) spent.release(key.keyId, nonce);
        },
      };
    },
  };
}

/**
 * Redeems spent tokens on-chain: `PrivacyPassEscrow.redeem(keyId, nonces)` for the oldest unclaimed nonces, at
 * most `PASS_BATCH` and at most the key's acknowledged tokens not yet redeemed, then marks them claimed. One batch
 * in flight at a time; call {@link check} periodically.
 */
export class PassClaimer {
  private inFlight = false;

  constructor(
    private readonly chain: IssuerChain,
    private readonly spent: SpentTokens,
    private readonly keyId: Hex,
    private readonly log: Logger,
    private readonly options: { minBatch?: number; settleMs?: number } = {},
  ) {}

  /** How long a spent token waits before it is claimed: longer than a request can run (the gateway's 60 s). */
  private get settleMs(): number {
    return this.options.settleMs ?? 120_000;
  }

  /** Sends one redeem batch if there is one to send; returns how many nonces it claimed. */
  async check(signal?: AbortSignal): Promise<number> {
    if (this.inFlight) return 0;
    this.inFlight = true;
    try {
      const info = await read(this.chain, "privacyPassEscrow.issuer", () => this.chain.escrow.issuer(this.keyId));
      const room = Math.min(PASS_BATCH, Number(info.acknowledged - info.redeemed));
      if (room <= 0) return 0;
      // Not the tokens of requests that may still be running (and release their token if they fail).
      const nonces = this.spent.unclaimed(this.keyId, room, Date.now() - this.settleMs);
      if (nonces.length === 0 || nonces.length < (this.options.minBatch ?? 1)) return 0;
      const key = `redeem:${this.keyId}:${keccak256(concat(nonces))}`;
      try {
        const tx = await sendAndWait(this.chain, key, "redeem", [this.keyId, nonces], signal);
        this.spent.markClaimed(this.keyId, nonces);
        this.log.info({ keyId: this.keyId, tokens: nonces.length, tx }, "passes redeemed on-chain");
        return nonces.length;
      } catch (error) {
        // A nonce redeemed already (a batch mined before a crash left it unmarked): mark it, the next check goes on.
        const revert = error instanceof BaseError ? error.walk((e) => e instanceof RevertError) : undefined;
        if (revert instanceof RevertError && revert.errorName === "PrivacyPassEscrowNonceSpent") {
          const nonce = String(revert.args.nonce ?? "");
          if (/^0x[0-9a-fA-F]{64}$/.test(nonce)) this.spent.markClaimed(this.keyId, [nonce as Hex]);
        }
        throw error;
      }
    } finally {
      this.inFlight = false;
    }
  }
}

async function read<T>(chain: Pick<IssuerChain, "rpcTimeoutMs">, what: string, call: () => Promise<T>): Promise<T> {
  return withRetry(what, call, { timeoutMs: chain.rpcTimeoutMs ?? 10_000 });
}

/** Sends `escrow.<call>(...args)` through the outbox under `key` and waits for it; returns the mined hash. */
async function sendAndWait(
  chain: IssuerChain,
  key: string,
  call: "registerIssuer" | "acknowledge" | "redeem",
  args: unknown[],
  signal?: AbortSignal,
): Promise<string> {
  const data = (chain.escrow.interface as Interface).encodeFunctionData(call, args);
  const tx = await chain.sender.send({
    key,
    kind: call,
    to: await chain.escrow.getAddress(),
    data,
    context: { contract: "privacyPassEscrow", call },
  });
  const receipt = await chain.sender.wait(tx, signal);
  if (receipt.status !== 1) throw new StateError(`privacyPassEscrow.${call} reverted in ${receipt.hash}`);
  return receipt.hash;
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Options of {@link startPassService}. */
export interface PassServiceOptions extends IssuerChain {
  /** Where the issuer key lives (created on first start). */
  dataDir: string;
  /** The node's database: issuance record and spent tokens. */
  db: Database.Database;
  chainId: bigint;
  /** Price per token, token wei, for the key's registration (fixed for the key's life). */
  price: bigint;
  /**
   * Where the issuance endpoint listens. Default 127.0.0.1, port 0 (any). With `listen: false` it does not listen:
   * the caller serves {@link PassService.handler} (the gateway does, at `/v1/passes/issue`).
   */
  host?: string;
  port?: number;
  listen?: boolean;
  /** Time between on-chain redeem batches; 0 leaves it to the caller (`claimer.check()`). Default 60 s. */
  claimIntervalMs?: number;
  /** How long a spent token waits before it is redeemed on-chain (its request may still fail and release it). Default 120 s. */
  claimSettleMs?: number;
  log: Logger;
}

/** A running pass service: what the daemon hands the gateway (`redeemer`) and publishes (`url`). */
export interface PassService {
  key: IssuerKey;
  /** The challenge tokens of this key answer (cross-origin, reusable). */
  challenge: TokenChallenge;
  /** The issuance endpoint's local URL (undefined with `listen: false`). */
  url?: string;
  /** The issuance endpoint as a request listener (`POST /v1/passes/issue`). */
  handler: RequestListener;
  redeemer: PassRedeemer;
  claimer: PassClaimer;
  close(): Promise<void>;
}

/**
 * The operator's whole pass service in one call: loads (or creates) the issuer key, registers it unless it is
 * registered already, serves the issuance endpoint, and redeems spent tokens on-chain every `claimIntervalMs`.
 * @example
 * const passes = await startPassService({ dataDir, db: store.db.sqlite, escrow, sender, operator, chainId, price, port: 8444, log });
 * await startPrivateGateway({ ..., passes: passes.redeemer });
 */
export async function startPassService(options: PassServiceOptions): Promise<PassService> {
  const key = (await loadIssuerKey(options.dataDir, { create: true }))!;
  await registerIssuerKey(options, key, options.price);
  const escrow = await options.escrow.getAddress();
  const challenge = tokenChallenge({ issuerName: issuerName({ chainId: options.chainId, escrow, keyId: key.keyId }) });
  const spent = new SqliteSpentTokens(options.db);
  const issuer = new PassIssuer({ ...options, key, record: new IssuanceRecord(options.db) });
  const handler = createIssuerHandler(issuer, options.log);
  const server = options.listen === false ? undefined : createServer(handler);
  if (server !== undefined)
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
    });
  const port = server === undefined ? undefined : (server.address() as AddressInfo).port;
  const claimer = new PassClaimer(options, spent, key.keyId, options.log, { settleMs: options.claimSettleMs });
  const interval = options.claimIntervalMs ?? 60_000;
  const timer =
    interval > 0
      ? setInterval(() => {
          claimer.check().catch((error: unknown) => {
            options.log.warn(
              { err: error instanceof BaseError ? error.shortMessage : String(error) },
              "pass redeem failed",
            );
          });
        }, interval)
      : undefined;
  timer?.unref();
  return {
    key,
    challenge,
    ...(port === undefined ? {} : { url: `http://${options.host ?? "127.0.0.1"}:${port}` }),
    handler,
    redeemer: createPassRedeemer({ key, challenge, spent }),
    claimer,
    close: async () => {
      clearInterval(timer);
      await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    },
  };
}

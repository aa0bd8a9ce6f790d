/**
 * The operator's Oblivious HTTP gateway, run inside the enclave process: it decrypts requests that relays forward
 * (RFC 9458, with the enclave's HPKE key — the key its quote binds and TeeVerifier records, whose key configuration
 * `TeeVerifier.ohttpKeyConfig` publishes), serves `POST /v1/infer` with the model, and answers with the output and a
 * receipt its enclave signs (src/core/private.ts). With a chat API (node/chat-api), it also serves the other `/v1/`
 * resources (`/v1/models`, `/v1/chat/completions`, streamed through chunked OHTTP), each answer with its receipt.
 *
 * What it sees: the request in clear and the relay's address, never the client's. It logs one line per request
 * (status, sizes, latency) and nothing of the content; it keeps no per-client state.
 */
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { keccak256 } from "ethers";
import type { Contracts } from "../core/contracts";
import { BaseError, InputError } from "../core/errors";
import {
  encodePrivateResponse,
  parsePrivateRequest,
  PRIVATE_INFER_PATH,
  type PrivateRequest,
  type PrivateResponse,
} from "../core/private";
import { decodeInput } from "../core/job";
import { teeDomain } from "../core/tee";
import { createGatewayHandler, importGatewayKey, KeyRing } from "../ohttp";
import { classifyInput, privateServingRefusal, readEnclave, type ModelSource } from "../modes";
import type { DevEnclave } from "../tee/dev-enclave";
import type { Logger } from "../core/log";
import type { ChatApi } from "./chat-api";

/** The key id of an enclave's key configuration (`TeeVerifier.ohttpKeyConfig`). */
export const ENCLAVE_KEY_ID = 1;

/** How long a reading of the enclave's on-chain state is reused. */
const STATE_CACHE_MS = 15_000;

/** A Privacy Pass redeemer: spends one token, and gives it back if the request then fails on the gateway's side. */
export interface PassRedeemer {
  /**
   * Spends `pass` (base64url token).
   * @throws InputError when the token is malformed, not this issuer's, or already spent.
   */
  redeem(pass: string): Promise<{ refund(): void }>;
}

export interface PrivateGatewayOptions {
  enclave: Pick<DevEnclave, "address" | "hpkePrivateKey" | "signPrivateResult">;
  /** The operator the enclave is registered to. */
  operator: string;
  contracts: Pick<Contracts, "teeVerifier" | "escrow" | "registry">;
  chainId: bigint;
  models: ModelSource;
  /** Where to listen. Default 127.0.0.1, port 0 (any). */
  host?: string;
  port?: number;
  log: Logger;
  /** When set, every request must carry one unspent Privacy Pass token. */
  passes?: PassRedeemer;
  /** Time limit of each chain read. Default 10 s. */
  rpcTimeoutMs?: number;
  /**
   * Plain HTTP endpoints served beside the gateway, by exact path (the pass issuance endpoint, which buyers call
   * directly: their purchase is on-chain anyway). Every other path is the Oblivious Gateway Resource.
   */
  routes?: Record<string, RequestListener>;
  /** The chat API (node/chat-api `createChatApi`), served for every `/v1/` path but `POST /v1/infer`. */
  chat?: ChatApi;
}

export interface RunningGateway {
  /** The local URL the gateway listens on (publish the public one on-chain). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts the gateway.
 * @example const gateway = await startPrivateGateway({ enclave, operator, contracts, chainId, models, port: 8443, log });
 */
export async function startPrivateGateway(options: PrivateGatewayOptions): Promise<RunningGateway> {
  const key = await importGatewayKey({ keyId: ENCLAVE_KEY_ID, privateKey: options.enclave.hpkePrivateKey() });
  const service = new PrivateInference(options);
  const gateway = createGatewayHandler({
    keys: new KeyRing([key]),
    handler: (request, context) => service.answer(request, context.signal),
    logger: options.log,
    requireDate: true,
  });
  const routes = new Map(Object.entries(options.routes ?? {}));
  const server: Server = createServer((req, res) => {
    const route = routes.get(new URL(req.url ?? "/", "http://gateway.invalid").pathname);
    return route === undefined ? gateway(req, res) : route(req, res);
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The target resource behind the gateway: `POST /v1/infer`. */
class PrivateInference {
  private refusals?: (modelId: bigint, version: bigint) => Promise<string | undefined>;

  constructor(private readonly options: PrivateGatewayOptions) {}

  async answer(request: Request, signal?: AbortSignal): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path !== PRIVATE_INFER_PATH && path.startsWith("/v1/") && this.options.chat !== undefined)
      return this.options.chat.handle(request, signal);
    if (path !== PRIVATE_INFER_PATH)
      return problem(404, `no resource ${path}: the gateway serves POST ${PRIVATE_INFER_PATH}`);
    if (request.method !== "POST") return problem(405, `${PRIVATE_INFER_PATH} takes POST`);
    let parsed: PrivateRequest;
    try {
      parsed = parsePrivateRequest(await request.json().catch(() => "not JSON"));
      decodeInput(parsed.input);
    } catch (error) {
      return problem(400, (error as Error).message);
    }
    // The pass first: it is checked locally, so a request that does not pay never makes the gateway read the chain.
    let pass: { refund(): void } | undefined;
    if (this.options.passes !== undefined) {
      if (parsed.pass === undefined)
        return problem(402, 'this gateway takes one Privacy Pass token per request ("pass")');
      try {
        pass = await this.options.passes.redeem(parsed.pass);
      } catch (error) {
        return problem(error instanceof InputError ? 402 : 503, `the pass was not accepted: ${message(error)}`);
      }
    }
    const refusal = await this.refusal(parsed).catch(
      (error: unknown) => `its chain state cannot be read: ${message(error)}`,
    );
    if (refusal !== undefined) {
      pass?.refund();
      return problem(
        503,
        `this gateway cannot serve model ${parsed.modelId}@${parsed.version} now: ${refusal}; the pass, if any, was not spent`,
      );
    }
    try {
      const response = await this.infer(parsed);
      // The relay gave up (the client timed out): the answer will not reach it, so the pass is not spent.
      if (signal?.aborted === true) pass?.refund();
      return Response.json(JSON.parse(encodePrivateResponse(response)));
    } catch (error) {
      pass?.refund();
      if (error instanceof InputError) return problem(400, error.message);
      this.options.log.warn({ err: error instanceof BaseError ? error.name : "Error" }, "private inference failed");
      return problem(500, "the inference failed on the gateway; the pass, if any, was not spent");
    }
  }

  private async infer(request: PrivateRequest): Promise<PrivateResponse> {
    const { enclave, operator, chainId, contracts } = this.options;
    const output = await classifyInput(this.options.models, request.modelId, request.version, request.input);
    const receipt = {
      requestId: request.requestId,
      modelId: request.modelId,
      version: request.version,
      inputHash: keccak256(request.input),
      outputHash: keccak256(output),
      operator,
    };
    const domain = teeDomain(chainId, await contracts.teeVerifier.getAddress());
    const signature = await enclave.signPrivateResult(domain, receipt);
    return { ...receipt, output, enclave: enclave.address, signature };
  }

  /** Why the enclave may not serve this version now, or undefined. */
  private refusal(request: PrivateRequest): Promise<string | undefined> {
    return (this.refusals ??= servingRefusal(this.options))(request.modelId, request.version);
  }
}

/**
 * Why `enclave` may not serve a model version now, or undefined (core's `privateServingRefusal`: registered to the
 * operator, unrevoked, unexpired, its measurement unrevoked and bound by the version for TEE), each reading cached
 * for 15 s. The gateway's check before `/v1/infer`, and the chat API's before each completion.
 * @example createChatApi({ ..., refusal: servingRefusal({ enclave, operator, contracts }) });
 */
export function servingRefusal(
  options: Pick<PrivateGatewayOptions, "contracts" | "operator" | "rpcTimeoutMs"> & {
    enclave: Pick<DevEnclave, "address">;
  },
): (modelId: bigint, version: bigint) => Promise<string | undefined> {
  const states = new Map<string, { at: number; refusal: Promise<string | undefined> }>();
  return (modelId, version) => {
    const key = `${modelId}@${version}`;
    const hit = states.get(key);
    if (hit !== undefined && Date.now() - hit.at <= STATE_CACHE_MS) return hit.refusal;
    const { contracts, enclave, operator } = options;
    const retry = { timeoutMs: options.rpcTimeoutMs ?? 10_000 };
    const refusal = readEnclave(contracts, enclave.address, retry).then((reading) =>
      privateServingRefusal(contracts, enclave.address, reading, operator, { modelId, version }, retry),
    );
    if (states.size >= 256) states.clear();
    states.set(key, { at: Date.now(), refusal });
    refusal.catch(() => states.delete(key));
    return refusal;
  };
}

function problem(status: number, detail: string): Response {
  return Response.json({ status, detail }, { status, headers: { "content-type": "application/problem+json" } });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0]! : String(error);
}

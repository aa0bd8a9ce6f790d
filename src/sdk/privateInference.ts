/**
 * Private inference through the network's Oblivious HTTP path. Everything the client trusts comes from the chain,
 * never from a relay: the gateways and relays listed in `PrivacyRegistry`, each gateway's key configuration from
 * `TeeVerifier.ohttpKeyConfig` (the HPKE key its enclave's quote binds), and the enclave's registration — checked
 * before anything is sent. The request goes through a relay not run by the gateway's operator; the answer carries a
 * receipt the enclave signed, checked against the same registration.
 */
import { getAddress, getBytes, hexlify, randomBytes } from "ethers";
import { requirePrivacyRegistry, type Contracts } from "../core/contracts";
import { BaseError, InputError, IntegrityError, NotFoundError, StateError } from "../core/errors";
import { encodeInput } from "../core/job";
import {
  encodePrivateRequest,
  parsePrivateResponse,
  PRIVATE_INFER_PATH,
  privateResultSigner,
  type PrivateRequest,
  type PrivateResponse,
} from "../core/private";
import { withRetry, type RetryOptions } from "../core/retry";
import { teeDomain } from "../core/tee";
import { decodeKeyConfig, ohttpFetch, OhttpDecryptionError, relayResourceUrl, type KeyConfig } from "../ohttp";
import { privateServingRefusal, readEnclave } from "../modes";
import { operatorIssuerKeys, returnPass, takePass, type PassEntry } from "./passes";

/** A gateway as the chain lists it. */
export interface GatewayEntry {
  operator: string;
  /** The enclave whose HPKE key the gateway uses. */
  enclave: string;
  url: string;
}

/** A relay as the chain lists it. */
export interface RelayEntry {
  /** The account that listed it (and paid its bond). */
  address: string;
  url: string;
}

type ChainContracts = Pick<Contracts, "privacyRegistry" | "teeVerifier" | "escrow" | "registry"> &
  Partial<Pick<Contracts, "privacyPassEscrow" | "token">>;

/** The gateways `PrivacyRegistry` lists (without checking their enclaves: see {@link privateInference}). */
export async function listGateways(
  contracts: Pick<Contracts, "privacyRegistry">,
  retry: RetryOptions = {},
): Promise<GatewayEntry[]> {
  const registry = requirePrivacyRegistry(contracts);
  const operators = await withRetry("privacyRegistry.gatewayOperators", () => registry.gatewayOperators(), retry);
  return Promise.all(
    operators.map(async (operator) => {
      const entry = await withRetry("privacyRegistry.gateway", () => registry.gateway(operator), retry);
      return { operator: getAddress(operator), enclave: getAddress(entry.enclave), url: entry.url };
    }),
  );
}

/** The relays `PrivacyRegistry` lists. */
export async function listRelays(
  contracts: Pick<Contracts, "privacyRegistry">,
  retry: RetryOptions = {},
): Promise<RelayEntry[]> {
  const registry = requirePrivacyRegistry(contracts);
  const addresses = await withRetry("privacyRegistry.relays", () => registry.relays(), retry);
  return Promise.all(
    addresses.map(async (address) => {
      const entry = await withRetry("privacyRegistry.relay", () => registry.relay(address), retry);
      return { address: getAddress(address), url: entry.url };
    }),
  );
}

/** The gateway's key configuration, as TeeVerifier derives it from the enclave's registered HPKE key. */
export async function gatewayKeyConfig(
  contracts: Pick<Contracts, "teeVerifier">,
  enclave: string,
  retry: RetryOptions = {},
): Promise<KeyConfig> {
  const bytes = await withRetry(
    "teeVerifier.ohttpKeyConfig",
    () => contracts.teeVerifier.ohttpKeyConfig(enclave),
    retry,
  );
  return decodeKeyConfig(getBytes(bytes));
}

/** The relays a client may use with `gateway`: never one listed by the gateway's operator or its enclave. */
export function independentRelays(relays: readonly RelayEntry[], gateway: GatewayEntry): RelayEntry[] {
  const excluded = new Set([gateway.operator.toLowerCase(), gateway.enclave.toLowerCase()]);
  return relays.filter((relay) => !excluded.has(relay.address.toLowerCase()));
}

export interface PrivateInferenceParams {
  contracts: ChainContracts;
  chainId: bigint;
  modelId: bigint;
  version: bigint;
  /** The features of one row (the tabular models' input). */
  input: number[];
  /** Use this operator's gateway; default the first listed gateway whose enclave may serve the version. */
  gateway?: string;
  /** Use the relay listed by this address; default a random independent relay. */
  relay?: string;
  /** One Privacy Pass token (base64url), when the gateway charges. */
  pass?: string;
  /**
   * A pass wallet (`vin passes buy`) to pay from when the gateway's operator has an issuer key: one of its passes is
   * taken, spent by the request, and put back if the request never reached the gateway or it refunded it.
   */
  passes?: { wallet: string; fromBlock?: number };
  /** Time limit of the whole exchange through the relay, in ms. Default 30 s. */
  timeoutMs?: number;
  /** Time limit of each chain read. Default 10 s. */
  rpcTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface PrivateInferenceReturnType {
  response: PrivateResponse;
  /** The answer's output bytes, 0x hex. */
  output: string;
  gateway: GatewayEntry;
  relay: RelayEntry;
}

/**
 * Sends one inference through a relay to an attested gateway and checks the answer's receipt.
 * @throws NotFoundError when no listed gateway may serve the version, or no independent relay is listed;
 * InputError when the gateway refuses the request (its detail says why); IntegrityError when the answer was altered
 * on the way or its receipt is not the enclave's; TransportError/TimeoutError when the relay cannot be reached.
 * @example const { output, response } = await privateInference({ contracts, chainId, modelId: 1n, version: 1n, input: [39.1, 18.7, 181, 3750] });
 */
export async function privateInference(params: PrivateInferenceParams): Promise<PrivateInferenceReturnType> {
  const { contracts, modelId, version } = params;
  const retry = { timeoutMs: params.rpcTimeoutMs ?? 10_000 };
  const gateway = await chooseGateway(params, retry);
  const relays = independentRelays(await listRelays(contracts, retry), gateway);
  const relay = chooseRelay(relays, params.relay, gateway);
  const keyConfig = await gatewayKeyConfig(contracts, gateway.enclave, retry);

  const taken = params.pass === undefined ? await takeGatewayPass(params, gateway) : undefined;
  const pass = params.pass ?? taken?.token;
  const request: PrivateRequest = {
    modelId,
    version,
    input: hexlify(encodeInput(params.input)),
    requestId: hexlify(randomBytes(32)),
    ...(pass === undefined ? {} : { pass }),
  };
  const progress = { sent: false };
  try {
    return await exchange(params, gateway, relay, keyConfig, request, progress);
  } catch (error) {
    // The pass goes back only when it certainly was not spent: the request never left, or the gateway's own
    // (authenticated) answer refused it before spending it. After a timeout, a lost or altered answer it may have
    // been spent, and sending it again would also link this request to the next one: it is dropped.
    const unspent = !progress.sent || (gatewayStatusOf(error) !== undefined && !(error instanceof PassRefusedError));
    if (taken !== undefined && unspent) returnPass(taken, params.passes!.wallet);
    throw error;
  }
}

/** The HTTP status of the gateway's own answer that `error` reports, if it reports one. */
function gatewayStatusOf(error: unknown): number | undefined {
  const status = error instanceof BaseError ? error.context?.gatewayStatus : undefined;
  return typeof status === "number" ? status : undefined;
}

/** The gateway refused the request's pass (402): spent already, or not its issuer's. */
export class PassRefusedError extends InputError {
  override readonly name = "PassRefusedError";
}

async function exchange(
  params: PrivateInferenceParams,
  gateway: GatewayEntry,
  relay: RelayEntry,
  keyConfig: KeyConfig,
  request: PrivateRequest,
  progress: { sent: boolean },
): Promise<PrivateInferenceReturnType> {
  const { contracts } = params;
  let answer: Response;
  progress.sent = true;
  try {
    answer = await ohttpFetch(
      relayResourceUrl(relay.url, gateway.url),
      keyConfig,
      new Request(new URL(PRIVATE_INFER_PATH, gateway.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: encodePrivateRequest(request),
      }),
      { timeoutMs: params.timeoutMs ?? 30_000, signal: params.signal },
    );
  } catch (error) {
    if (error instanceof OhttpDecryptionError)
      throw new IntegrityError(
        `the answer from gateway ${gateway.url} did not decrypt: it was altered on the way (relay ${relay.url}, listed by ${relay.address}); try another relay`,
        { cause: error },
      );
    throw error;
  }
  const body: unknown = await answer.json().catch(() => undefined);
  if (!answer.ok) throw refusalOf(answer.status, body, gateway);
  const response = parsePrivateResponse(body, request);
  const domain = teeDomain(params.chainId, await contracts.teeVerifier.getAddress());
  const signer = privateResultSigner(domain, response);
  if (signer !== gateway.enclave || getAddress(response.operator) !== gateway.operator)
    throw new IntegrityError(
      `the answer's receipt was signed by ${signer} for operator ${response.operator}, not by the gateway's enclave ${gateway.enclave} for ${gateway.operator}`,
    );
  return { response, output: response.output, gateway, relay };
}

/** One pass of the gateway operator's issuer keys from the wallet, or undefined when its gateway is free. */
async function takeGatewayPass(params: PrivateInferenceParams, gateway: GatewayEntry): Promise<PassEntry | undefined> {
  if (params.passes === undefined || params.contracts.privacyPassEscrow === undefined) return undefined;
  const contracts = { privacyPassEscrow: params.contracts.privacyPassEscrow, token: params.contracts.token! };
  const keys = await operatorIssuerKeys(contracts, gateway.operator, {
    fromBlock: params.passes.fromBlock,
    timeoutMs: params.rpcTimeoutMs,
  });
  if (keys.length === 0) return undefined;
  for (const keyId of keys) {
    const pass = takePass(params.passes.wallet, { keyId });
    if (pass !== undefined) return pass;
  }
  throw new InputError(
    `the gateway of operator ${gateway.operator} takes one pass per request and the wallet ${params.passes.wallet} holds none of its keys: buy some with \`vin passes buy --operator ${gateway.operator} --count 10\``,
  );
}

async function chooseGateway(params: PrivateInferenceParams, retry: RetryOptions): Promise<GatewayEntry> {
  const { contracts, modelId, version } = params;
  let gateways = await listGateways(contracts, retry);
  if (params.gateway !== undefined) {
    const wanted = params.gateway.toLowerCase();
    gateways = gateways.filter((gateway) => gateway.operator.toLowerCase() === wanted);
    if (gateways.length === 0)
      throw new NotFoundError(`operator ${params.gateway} lists no gateway in PrivacyRegistry`);
  }
  if (gateways.length === 0)
    throw new NotFoundError("no gateway is listed in PrivacyRegistry: no operator serves the private path");
  const refusals: string[] = [];
  for (const gateway of gateways) {
    const reading = await readEnclave(contracts, gateway.enclave, retry);
    const refusal = await privateServingRefusal(
      contracts,
      gateway.enclave,
      reading,
      gateway.operator,
      { modelId, version },
      retry,
    );
    if (refusal === undefined) return gateway;
    refusals.push(`${gateway.operator}: ${refusal}`);
  }
  throw new NotFoundError(`no listed gateway may serve model ${modelId}@${version} now (${refusals.join("; ")})`);
}

function chooseRelay(relays: readonly RelayEntry[], wanted: string | undefined, gateway: GatewayEntry): RelayEntry {
  if (wanted !== undefined) {
    const relay = relays.find((entry) => entry.address.toLowerCase() === wanted.toLowerCase());
    if (relay === undefined)
      throw new InputError(
        `relay ${wanted} is not a listed relay independent of the gateway's operator ${gateway.operator}: choose another (\`vin relay list\`)`,
      );
    return relay;
  }
  if (relays.length === 0)
    throw new NotFoundError(
      `no relay independent of the gateway's operator ${gateway.operator} is listed in PrivacyRegistry`,
    );
  return relays[Math.floor(Math.random() * relays.length)]!;
}

function refusalOf(status: number, body: unknown, gateway: GatewayEntry): BaseError {
  const detail =
    typeof body === "object" && body !== null && typeof (body as { detail?: unknown }).detail === "string"
      ? (body as { detail: string }).detail
      : `status ${status}`;
  const text = `gateway ${gateway.url} (operator ${gateway.operator}) refused the request: ${detail}`;
  const context = { context: { gatewayStatus: status } };
  if (status === 402)
    return new PassRefusedError(
      `${text} (buy passes of this operator with \`vin passes buy --operator ${gateway.operator} --count 10\`)`,
      context,
    );
  if (status >= 500) return new StateError(text, context);
  return new InputError(text, context);
}

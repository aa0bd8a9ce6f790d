/**
 * An operator's enclave in TeeVerifier, off-chain: attest it (a DCAP quote whose report data binds the enclave's
 * keys to the operator, this chain, the verifier and the block before the latest), register it with that quote
 * (`registerEnclaveWithQuote`, the platform's CA and PCK certificates cached first when the DCAP verifier lacks
 * them), read its registration, and keep it registered (renew before it expires). `vin enclave` and the daemon call
 * these.
 *
 * Quotes come from one of two sources. "development" (the default): the node's development enclave signs them with
 * the public development platform's keys, so they prove nothing, and only a deployment rooted at the development CA
 * (local chains) accepts them. "configfs-tsm": the node runs inside an Intel TDX guest and the quote comes from the
 * TDX module (see configfs-tsm.ts); the enclave's keys are the same in-process keys, which the TD's memory
 * protection keeps from the host, and whose file in the data directory must sit on storage only the TD reads: that is
 * what the TD's measurement has to stand for.
 */
import { hexlify, keccak256, ZeroAddress, ZeroHash, type ErrorDescription, type Provider } from "ethers";
import type { Contracts } from "../core/contracts";
import { InputError, NotFoundError, RevertError, UnsupportedError, VerificationError, walk } from "../core/errors";
import { Mode } from "../core/modes";
import { formatDecoded } from "../core/revert";
import { withRetry } from "../core/retry";
import { enclaveReportData, type EnclaveBinding } from "../tee/binding";
import type { DevEnclave } from "../tee/dev-enclave";
import { parseQuote, pckChain, quoteFacts, TeeType, withoutPckChain } from "../tee/quote";
import { DcapVerifier__factory } from "../../typechain-types/factories/contracts/verifiers/tee/DcapVerifier__factory";
import type { DcapVerifier } from "../../typechain-types/contracts/verifiers/tee/DcapVerifier";
import { readTsmQuote } from "./configfs-tsm";
import type { OperatorContext } from "./context";
import { loadDevEnclave } from "./enclave";
import type { Logger } from "../core/log";
import type { TxSender } from "./sender";

/** Where an enclave's quotes come from (see the module comment). */
export type QuoteSource = "development" | "configfs-tsm";

export const QUOTE_SOURCES: readonly QuoteSource[] = ["development", "configfs-tsm"];

/**
 * The daemon renews a registration once less than `maxEnclaveAge / RENEWAL_DIVISOR` is left: a quarter, at least
 * 15 minutes with the shortest age, 1.75 days with the default week.
 */
export const RENEWAL_DIVISOR = 4n;

/** Versions `enclaveStatus` asks `isBound` about at most; a larger registry is not scanned. */
export const MAX_SCANNED_VERSIONS = 256;

/** The node's enclave: its keys and, for development quotes, its attestation. */
export type NodeEnclave = Pick<DevEnclave, "address" | "hpkePublicKey" | "attest">;

/** What reading an enclave's registration needs. */
export interface EnclaveReadContext {
  provider: Provider;
  contracts: Contracts;
  /** The operator (the account that registers the enclave). */
  operator: string;
  /** The enclave's signing address. */
  signer: string;
  /** Time limit of each chain read (default 10 s). */
  rpcTimeoutMs?: number;
}

/** What attesting an enclave needs. */
export interface EnclaveContext extends Omit<EnclaveReadContext, "signer"> {
  enclave: NodeEnclave;
  /** Default "development". */
  quotes?: QuoteSource;
  /** configfs-tsm's report directory (default `/sys/kernel/config/tsm/report`). */
  tsmDir?: string;
}

/** What registering an enclave needs: its context and the operator's outbox. */
export interface RegistrationContext extends EnclaveContext {
  sender: TxSender;
}

/** A quote of the enclave and what it binds, ready to register. */
export interface EnclaveAttestation {
  source: QuoteSource;
  /** What the quote's report data commits to (`ITeeVerifier.EnclaveBinding`). */
  binding: EnclaveBinding;
  /** The whole quote, its PEM certificate chain included (registration sends it without: `withoutPckChain`). */
  quote: Uint8Array;
  teeType: TeeType;
  /** The measurement the registration will record (`measurementHash` of MRTD ‖ RTMR0..3, or MRENCLAVE ‖ MRSIGNER). */
  measurement: string;
  /** keccak256 of the PCK certificate: the `pckCertificate` of `registerEnclaveWithQuote`. */
  pckCertificate: string;
  /** The DER certificates below the root, from the quote's chain: the PCK platform CA and the PCK certificate. */
  ca: Uint8Array;
  pck: Uint8Array;
}

/** A registration made by {@link registerEnclave}. */
export interface EnclaveRegistration {
  signer: string;
  operator: string;
  measurement: string;
  hpkePublicKey: string;
  expiresAt: bigint;
  anchorBlock: bigint;
  /** The `registerEnclaveWithQuote` transaction. */
  tx: string;
  /** The certificates this call verified and cached in the DCAP verifier (none when the platform's were cached). */
  cachedCertificates: string[];
  /** 1, or 2 when the first quote's anchor block was too old by the time it landed and a fresh quote was sent. */
  attempts: number;
  source: QuoteSource;
}

/** An enclave's registration in TeeVerifier, read now. */
export interface EnclaveStatus {
  signer: string;
  /** The operator it is registered to (the zero address when it is not registered). */
  operator: string;
  /** Whether it is registered to the context's operator. */
  registered: boolean;
  expiresAt: bigint;
  /** The latest block's timestamp. */
  now: bigint;
  expired: boolean;
  revoked: boolean;
  measurement: string;
  /** When the measurement was revoked (zero if it is not). */
  measurementRevokedAt: bigint;
  hpkePublicKey: string;
  /** TeeVerifier's `maxEnclaveAge`: how long a registration made now lasts. */
  maxEnclaveAge: bigint;
  /** Registered to the operator, unrevoked, and expired or with less than `maxEnclaveAge / RENEWAL_DIVISOR` left. */
  renewalDue: boolean;
  /** The model versions whose TEE binding lists the measurement; undefined when the registry has more than {@link MAX_SCANNED_VERSIONS} versions. */
  boundBy: { modelId: bigint; version: bigint }[] | undefined;
}

/**
 * A fresh quote of the node's enclave for the operator, anchored at the block before the latest (a block cannot
 * anchor itself, and `eth_estimateGas` runs in the latest).
 * @throws UnsupportedError when the quote source is unavailable; VerificationError when the quote does not carry the
 *   report data asked for, is a debug TD's, or has no certificate chain.
 * @example const attestation = await attestEnclave({ provider, contracts, operator, enclave });
 */
export async function attestEnclave(ctx: EnclaveContext): Promise<EnclaveAttestation> {
  const { provider, contracts, enclave } = ctx;
  const retry = { timeoutMs: ctx.rpcTimeoutMs };
  const source = ctx.quotes ?? "development";
  const latest = await withRetry("eth_blockNumber", () => provider.getBlockNumber(), retry);
  if (latest < 1) throw new UnsupportedError("the chain has no block before the latest to anchor a quote to yet");
  const [anchor, network, verifier] = await Promise.all([
    withRetry("eth_getBlock", () => provider.getBlock(latest - 1), retry),
    withRetry("eth_chainId", () => provider.getNetwork(), retry),
    contracts.teeVerifier.getAddress(),
  ]);
  if (anchor === null || anchor.hash === null)
    throw new NotFoundError(`block ${latest - 1} not found: cannot anchor the quote`);
  const context = {
    operator: ctx.operator,
    chainId: network.chainId,
    verifier,
    anchorBlock: BigInt(anchor.number),
    anchorBlockHash: anchor.hash,
  };
  const binding: EnclaveBinding = { ...context, signer: enclave.address, hpkePublicKey: enclave.hpkePublicKey };
  const quote =
    source === "development"
      ? enclave.attest(context).quote
      : await readTsmQuote(enclaveReportData(binding), { dir: ctx.tsmDir });
  return { source, binding, quote, ...checkQuote(quote, binding) };
}

/** What a registration needs from the quote, checked as the contracts will check it. */
function checkQuote(
  quote: Uint8Array,
  binding: EnclaveBinding,
): Pick<EnclaveAttestation, "teeType" | "measurement" | "pckCertificate" | "ca" | "pck"> {
  const parsed = parseQuote(quote);
  const facts = quoteFacts(parsed);
  const expected = hexlify(enclaveReportData(binding));
  if (hexlify(facts.reportData) !== expected)
    throw new VerificationError(
      `the quote's report data ${hexlify(facts.reportData)} is not the enclave binding ${expected}`,
    );
  if (facts.debug)
    throw new VerificationError("the quote comes from a debug TD or enclave: DcapVerifier refuses it (DcapDebugMode)");
  const [pck, ca] = pckChain(parsed);
  if (pck === undefined || ca === undefined)
    throw new VerificationError(
      "the quote's certification data holds no PCK certificate and CA: cannot cache its chain",
    );
  return {
    teeType: facts.teeType,
    measurement: keccak256(facts.measurements),
    pckCertificate: keccak256(pck),
    ca,
    pck,
  };
}

/**
 * Registers (or renews) the node's enclave with a quote: caches the quote's CA and PCK certificates in the DCAP
 * verifier if it lacks them, then sends `registerEnclaveWithQuote` with the quote stripped of its PEM chain. A quote
 * whose anchor block left the 256-block window before it landed (`TeeVerifierStaleQuote`) is made again with a fresh
 * anchor, once. Every transaction goes through the operator's outbox; reverts come back decoded, DCAP errors included.
 * @param options.attestation A quote already made (default: a fresh one).
 * @throws RevertError for a refused certificate or registration; UnsupportedError when the deployment has no DCAP verifier.
 * @example const { expiresAt } = await registerEnclave(registrationContext(ctx));
 */
export async function registerEnclave(
  ctx: RegistrationContext,
  options: { attestation?: EnclaveAttestation } = {},
): Promise<EnclaveRegistration> {
  const { teeVerifier } = ctx.contracts;
  const dcap = await dcapVerifierOf(ctx);
  let attestation = options.attestation ?? (await attestEnclave(ctx));
  const cachedCertificates = await cacheCertificates(ctx, dcap, attestation);
  const to = await teeVerifier.getAddress();
  let attempts = 1;
  let tx: string;
  for (;;) {
    const { binding } = attestation;
    const data = teeVerifier.interface.encodeFunctionData("registerEnclaveWithQuote", [
      withoutPckChain(attestation.quote),
      attestation.pckCertificate,
      binding.signer,
      binding.hpkePublicKey,
      binding.anchorBlock,
    ]);
    try {
      tx = await send(ctx, {
        contract: "teeVerifier",
        call: "registerEnclaveWithQuote",
        key: `${binding.signer}:${binding.anchorBlock}`,
        to,
        data,
      });
      break;
    } catch (error) {
      if (
        attempts > 1 ||
        walk(error, (e) => e instanceof RevertError && e.errorName === "TeeVerifierStaleQuote") === undefined
      )
        throw error;
      attempts++;
      attestation = await attestEnclave(ctx);
    }
  }
  const record = await withRetry("teeVerifier.enclaveOf", () => teeVerifier.enclaveOf(attestation.binding.signer), {
    timeoutMs: ctx.rpcTimeoutMs,
  });
  const { binding } = attestation;
  return {
    signer: binding.signer,
    operator: record.operator,
    measurement: record.measurement,
    hpkePublicKey: record.hpkePublicKey,
    expiresAt: record.expiresAt,
    anchorBlock: binding.anchorBlock,
    tx,
    cachedCertificates,
    attempts,
    source: attestation.source,
  };
}

/**
 * The registration of `ctx.signer` now, and which model versions bind its measurement (when the registry is small
 * enough to ask every version: at most {@link MAX_SCANNED_VERSIONS}).
 * @example const { registered, expiresAt, renewalDue } = await enclaveStatus({ provider, contracts, operator, signer });
 */
export async function enclaveStatus(ctx: EnclaveReadContext): Promise<EnclaveStatus> {
  const { provider, contracts, signer } = ctx;
  const { teeVerifier } = contracts;
  const retry = { timeoutMs: ctx.rpcTimeoutMs };
  const [record, block, parameters] = await Promise.all([
    withRetry("teeVerifier.enclaveOf", () => teeVerifier.enclaveOf(signer), retry),
    withRetry("eth_getBlock", () => provider.getBlock("latest"), retry),
    withRetry("teeVerifier.parameters", () => teeVerifier.parameters(), retry),
  ]);
  if (block === null) throw new NotFoundError("the latest block was not found");
  const unregistered = record.operator === ZeroAddress;
  const [measurementRevokedAt, boundBy] = unregistered
    ? [0n, []]
    : await Promise.all([
        withRetry(
          "teeVerifier.measurementRevokedAt",
          () => teeVerifier.measurementRevokedAt(record.measurement),
          retry,
        ),
        versionsBinding(ctx, record.measurement),
      ]);
  const now = BigInt(block.timestamp);
  const registered = !unregistered && record.operator.toLowerCase() === ctx.operator.toLowerCase();
  const renewalDue =
    registered && !record.revoked && record.expiresAt - now < parameters.maxEnclaveAge / RENEWAL_DIVISOR;
  return {
    signer,
    operator: record.operator,
    registered,
    expiresAt: record.expiresAt,
    now,
    expired: now >= record.expiresAt,
    revoked: record.revoked,
    measurement: record.measurement,
    measurementRevokedAt,
    hpkePublicKey: record.hpkePublicKey,
    maxEnclaveAge: parameters.maxEnclaveAge,
    renewalDue,
    boundBy,
  };
}

/** What {@link maintainEnclave} did. */
export interface EnclaveMaintenance {
  action: "registered" | "renewed" | "kept" | "blocked";
  /** The registration before the action. */
  status: EnclaveStatus;
  /** The new registration, when one was made. */
  registration?: EnclaveRegistration;
  /** Why the enclave cannot be registered again ("blocked"). */
  reason?: string;
}

/**
 * Keeps the node's enclave registered: registers it when it is not, renews it once less than
 * `maxEnclaveAge / RENEWAL_DIVISOR` is left (or it expired), and leaves it otherwise. An enclave revoked,
 * registered to another operator or whose measurement is revoked cannot be registered again: "blocked", with why.
 * @example const { action } = await maintainEnclave(registrationContext(ctx), log);
 */
export async function maintainEnclave(ctx: RegistrationContext, log?: Logger): Promise<EnclaveMaintenance> {
  const status = await enclaveStatus({ ...ctx, signer: ctx.enclave.address });
  const blocked = blockedReason(status);
  if (blocked !== undefined) return { action: "blocked", status, reason: blocked };
  if (status.registered && !status.renewalDue) return { action: "kept", status };
  const attestation = await attestEnclave(ctx);
  if (status.registered && status.measurement !== attestation.measurement) {
    log?.warn(
      { enclave: status.signer, from: status.measurement, to: attestation.measurement },
      "renewing the enclave changes its measurement: model versions that bind only the old one stop accepting it",
    );
  }
  const registration = await registerEnclave(ctx, { attestation });
  return { action: status.registered ? "renewed" : "registered", status, registration };
}

function blockedReason(status: EnclaveStatus): string | undefined {
  if (status.operator !== ZeroAddress && !status.registered)
    return `enclave ${status.signer} is registered to another operator, ${status.operator}`;
  if (status.revoked)
    return `enclave ${status.signer} was revoked: a revoked key never comes back (a new enclave key is needed)`;
  if (status.measurementRevokedAt !== 0n)
    return `the measurement ${status.measurement} of enclave ${status.signer} was revoked: the enclave's software must change`;
  return undefined;
}

/**
 * The registration context of an open operator: its chain, outbox and development enclave (created in the data
 * directory if missing).
 */
export function registrationContext(
  ctx: OperatorContext,
  options: { quotes?: QuoteSource; tsmDir?: string } = {},
): RegistrationContext {
  const enclave = loadDevEnclave(ctx.config.dataDir, { create: true })!;
  return {
    provider: ctx.provider,
    contracts: ctx.contracts,
    operator: ctx.wallet.address,
    sender: ctx.sender,
    enclave,
    rpcTimeoutMs: ctx.config.rpcTimeoutMs,
    ...options,
  };
}

/**
 * A quote source by name.
 * @throws InputError naming the value and the sources.
 */
export function parseQuoteSource(value: unknown): QuoteSource {
  if (typeof value === "string" && (QUOTE_SOURCES as readonly string[]).includes(value)) return value as QuoteSource;
  throw new InputError(`quote source ${JSON.stringify(value)} is not one of ${QUOTE_SOURCES.join(", ")}`);
}

/* CHAIN */

async function dcapVerifierOf(ctx: RegistrationContext): Promise<DcapVerifier> {
  const { dcapVerifier } = await withRetry("teeVerifier.parameters", () => ctx.contracts.teeVerifier.parameters(), {
    timeoutMs: ctx.rpcTimeoutMs,
  });
  if (dcapVerifier === ZeroAddress)
    throw new UnsupportedError(
      "this deployment's TeeVerifier has no DCAP verifier: quote registration is not configured (governance sets it with setParameters)",
    );
  return DcapVerifier__factory.connect(dcapVerifier, ctx.provider);
}

/** Verifies and caches the CA (under the root) and the PCK certificate (under the CA) the DCAP verifier lacks. */
async function cacheCertificates(
  ctx: RegistrationContext,
  dcap: DcapVerifier,
  attestation: EnclaveAttestation,
): Promise<string[]> {
  const retry = { timeoutMs: ctx.rpcTimeoutMs };
  const [root, to] = await Promise.all([
    withRetry("dcapVerifier.rootCertificate", () => dcap.rootCertificate(), retry),
    dcap.getAddress(),
  ]);
  const cached: string[] = [];
  for (const [der, issuer] of [
    [attestation.ca, root],
    [attestation.pck, keccak256(attestation.ca)],
  ] as const) {
    const hash = keccak256(der);
    // notAfter is never zero for a cached certificate.
    if ((await withRetry("dcapVerifier.certificateOf", () => dcap.certificateOf(hash), retry)).notAfter !== 0n)
      continue;
    await send(ctx, {
      contract: "dcapVerifier",
      call: "verifyCertificate",
      key: hash,
      to,
      data: dcap.interface.encodeFunctionData("verifyCertificate", [der, issuer]),
    });
    cached.push(hash);
  }
  return cached;
}

interface Call {
  contract: string;
  call: string;
  /** What makes the outbox key unique besides the call and the time. */
  key: string;
  to: string;
  data: string;
}

/**
 * Sends a transaction through the outbox and waits for it. A transaction that was mined but reverted (the chain
 * moved since its simulation) is simulated again, which says why.
 */
async function send(ctx: RegistrationContext, call: Call): Promise<string> {
  const context = { contract: call.contract, call: call.call };
  try {
    const tx = await ctx.sender.send({
      key: `${call.call}:${call.key}:${Date.now()}`,
      kind: call.call,
      to: call.to,
      data: call.data,
      context,
    });
    const receipt = await ctx.sender.wait(tx);
    if (receipt.status === 1) return receipt.hash;
    await ctx.sender.simulate({ to: call.to, data: call.data, context });
    throw new RevertError(
      `${call.contract}.${call.call} reverted in ${receipt.hash}`,
      undefined,
      {},
      { context: { ...context, tx: receipt.hash } },
    );
  } catch (error) {
    throw explained(error);
  }
}

const DCAP_INTERFACE = DcapVerifier__factory.createInterface();

/** What to do about the errors a registration meets that the operator can fix. */
const HINTS: Record<string, string> = {
  TeeVerifierOperatorIneligible:
    "register for TEE mode (`vin register --modes ...,tee`) with at least the minimum stake",
  TeeVerifierAttestationUnavailable: "governance has not configured quote registration on this deployment",
  TeeVerifierMeasurementRevoked: "the enclave's software (its measurement) was revoked: it must change",
  TeeVerifierEnclaveRevoked: "a revoked key never comes back: use a new enclave key",
  DcapCertificateSignatureInvalid:
    "the quote's certificate chain is not under this deployment's root CA (a development quote on a network rooted at Intel's?)",
  DcapTcbPolicyUnavailable: "governance has set no TCB policy for this platform's FMSPC, or it lapsed",
  DcapTcbNotAccepted: "the platform's TCB is below the deployment's minimum: update its firmware and microcode",
};

/**
 * A revert with the DCAP verifier's errors decoded (core's decoder does not know its ABI: they bubble up through
 * TeeVerifier undecoded) and a hint where the operator can act.
 */
function explained(error: unknown): unknown {
  if (!(error instanceof RevertError)) return error;
  const data = error.context.data;
  let name = error.errorName;
  let message = error.shortMessage;
  let args = error.args;
  if (name === undefined && typeof data === "string") {
    const decoded = tryParseError(data);
    if (decoded !== undefined) {
      name = decoded.name;
      args = Object.fromEntries(decoded.fragment.inputs.map((input, i) => [input.name, decoded.args[i] as unknown]));
      message = `${String(error.context.contract)}.${String(error.context.call)} reverted with ${formatDecoded(decoded)}`;
    }
  }
  const hint = name === undefined ? undefined : HINTS[name];
  if (name === error.errorName && hint === undefined) return error;
  return new RevertError(hint === undefined ? message : `${message}: ${hint}`, name, args, {
    cause: error,
    context: error.context,
  });
}

function tryParseError(data: string): ErrorDescription | undefined {
  try {
    return DCAP_INTERFACE.parseError(data) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The model versions whose TEE binding lists `measurement`, asking `isBound` of every version if there are few enough. */
async function versionsBinding(ctx: EnclaveReadContext, measurement: string): Promise<EnclaveStatus["boundBy"]> {
  if (measurement === ZeroHash) return [];
  const { registry } = ctx.contracts;
  const retry = { timeoutMs: ctx.rpcTimeoutMs };
  const models = Number(await withRetry("registry.modelCount", () => registry.modelCount(), retry));
  if (models > MAX_SCANNED_VERSIONS) return undefined;
  const ids = Array.from({ length: models }, (_, i) => BigInt(i + 1));
  const counts = await Promise.all(
    ids.map((id) => withRetry("registry.versionCount", () => registry.versionCount(id), retry)),
  );
  const versions = ids.flatMap((modelId, i) =>
    Array.from({ length: Number(counts[i]) }, (_, v) => ({ modelId, version: BigInt(v + 1) })),
  );
  if (versions.length > MAX_SCANNED_VERSIONS) return undefined;
  const bound = await Promise.all(
    versions.map((v) =>
      withRetry("registry.isBound", () => registry.isBound(v.modelId, v.version, Mode.Tee, measurement), retry),
    ),
  );
  return versions.filter((_, i) => bound[i]);
}

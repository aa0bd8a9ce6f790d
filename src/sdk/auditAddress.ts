/**
 * The audit trail of an address: every inference a requester (an account or a consumer contract) paid for,
 * re-verified from the chain alone, as of one confirmed block. Per job: the proof in the settling call (`verifyResult`:
 * the enclave signature and its registration and measurement at the settlement block, or the Groth16 proof and the
 * circuit rebuilt from the version's files), the redundancy agreement, the model version and its verified evaluations
 * (each with its baseline, and whether its enclave is still trusted), the input against its commitment, the output,
 * the price taken and paid, and the timing against the deadline; and, for a consumer contract, what it did with each
 * outcome. A risk officer re-runs it against any RPC endpoint and gets the same answer.
 *
 * Reorganisation safety: every read is pinned to the block `confirmations` below the head when the audit starts
 * ({@link PinnedProvider}: `latest` means that block, logs stop there, later transactions are invisible), and the
 * audit fails if that block's hash changed by the time it ends.
 */
import {
  getBytes,
  Interface,
  JsonRpcApiProvider,
  keccak256,
  Network,
  toQuantity,
  zeroPadValue,
  type JsonRpcError,
  type JsonRpcPayload,
  type JsonRpcResult,
  type Log,
} from "ethers";
import { addressesFromRecord, connectContracts, type Contracts } from "../core/contracts";
import { BaseError, InputError, NotFoundError } from "../core/errors";
import { toJobId } from "../core/ids";
import { JobStatus, toJob, type Job } from "../core/job";
import { getLogsChunked } from "../core/logs";
import { MODE_NAMES, Mode, type Mode as ModeValue } from "../core/modes";
import { withRetry } from "../core/retry";
import { isSealed } from "../core/sealed";
import { revertDataOf } from "../core/transport";
import { decodeClassification } from "../inference/onnx";
import { ExampleConsumer__factory, VolatilityRiskVault__factory } from "../../typechain-types";
import type { IJobEscrow } from "../../typechain-types/contracts/escrow/JobEscrow";
import { decodeZkOutput } from "../zkml/claim";
import { openZkJobInput } from "../zkml/job";
import { parseZkManifest, quantizedModelFor, ZK_FILES } from "../zkml/package";
import type { QuantizedModel } from "../zkml/quantize";
import type { ContentSource } from "../zkml/verify-version";
import { fetchVerified } from "../core/content";
import { cidString } from "../core/cid";
import { versionEvaluations, type VersionEvaluation } from "./evaluations";
import { verifyResult, type VerifyResultReturnType } from "./verifyResult";

/** Something that answers JSON-RPC: an ethers JsonRpcProvider, Hardhat's provider. */
export interface JsonRpcSender {
  send(method: string, params: unknown[]): Promise<unknown>;
}

const MOVING_TAGS = new Set(["latest", "pending", "safe", "finalized"]);
const WRITES = new Set(["eth_sendRawTransaction", "eth_sendTransaction", "eth_sign", "eth_signTypedData_v4"]);

/**
 * A read-only view of a chain as of one block: `eth_blockNumber` answers that block, every call and state read at
 * `latest` reads it, `eth_getLogs` stops there, and transactions mined after it are not found. Sends are refused.
 * @example const pinned = new PinnedProvider(provider, 1234, 31337n); await connectContracts(addresses, pinned).escrow.jobCount();
 */
export class PinnedProvider extends JsonRpcApiProvider {
  constructor(
    private readonly inner: JsonRpcSender,
    readonly block: number,
    chainId: bigint,
  ) {
    const network = Network.from(chainId);
    super(network, { staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1 });
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<(JsonRpcResult | JsonRpcError)[]> {
    const payloads = Array.isArray(payload) ? payload : [payload];
    return Promise.all(payloads.map((p) => this.one(p)));
  }

  private async one(p: JsonRpcPayload): Promise<JsonRpcResult | JsonRpcError> {
    const tag = toQuantity(this.block);
    const params = [...(p.params as unknown[])];
    const pin = (i: number) => {
      const value = params[i];
      if (value === undefined || (typeof value === "string" && MOVING_TAGS.has(value))) params[i] = tag;
      else if (typeof value === "string" && value.startsWith("0x") && Number(value) > this.block) params[i] = tag;
    };
    try {
      switch (p.method) {
        case "eth_blockNumber":
          return { id: p.id, result: tag };
        case "eth_call":
        case "eth_getBalance":
        case "eth_getCode":
        case "eth_getTransactionCount":
          pin(1);
          break;
        case "eth_getStorageAt":
          pin(2);
          break;
        case "eth_getBlockByNumber":
          pin(0);
          break;
        case "eth_getLogs": {
          const filter = { ...(params[0] as Record<string, unknown>) };
          const to = filter.toBlock;
          if (to === undefined || (typeof to === "string" && (MOVING_TAGS.has(to) || Number(to) > this.block)))
            filter.toBlock = tag;
          params[0] = filter;
          break;
        }
        default:
          if (WRITES.has(p.method))
            throw new InputError(`${p.method}: the audit's pinned view of the chain is read-only`);
      }
      const result = await this.inner.send(p.method, params);
      if ((p.method === "eth_getTransactionByHash" || p.method === "eth_getTransactionReceipt") && result !== null) {
        const mined = (result as { blockNumber?: string | null }).blockNumber;
        if (mined !== null && mined !== undefined && Number(mined) > this.block) return { id: p.id, result: null };
      }
      return { id: p.id, result };
    } catch (error) {
      const data = revertDataOf(error);
      const message = (error as Error)?.message ?? String(error);
      return {
        id: p.id,
        error: data === undefined ? { code: -32000, message } : { code: 3, message: "execution reverted", data },
      };
    }
  }
}

/** One check of a job, or of the audit; `warn` ones are reported without failing the audit. */
export interface AuditCheck {
  name: string;
  ok: boolean;
  detail: string;
  severity: "fail" | "warn";
}

/** A point in time on the chain. */
export interface ChainTime {
  block: number;
  timestamp: number;
  tx?: string;
}

/** One audited job. */
export interface AuditedJob {
  jobId: string;
  status: "open" | "settled" | "refunded";
  mode: string;
  modelId: string;
  version: number;
  redundancy: number;
  requested: ChainTime;
  settled?: ChainTime;
  refunded?: ChainTime;
  deadline: number;
  /** Seconds from the request's block to the settling block. */
  latencySeconds?: number;
  input: { commitment: string; kind: "inline" | "uri" | "sealed" | "zk"; text?: string; uri?: string };
  output?: { hex: string; hash: string; text: string; value?: number; label?: number };
  /** Token wei, as decimal strings. */
  price: {
    escrowed: string;
    pulled?: string;
    modelFee: string;
    feePerNode: string;
    protocolFee: string;
    paid?: string;
    refunded?: string;
  };
  agreeing?: number;
  /** Gas of the job's transactions: the request, each slot claim, the settling call (with any consumer callback). */
  gas: { request: number; claims: number[]; settle?: number };
  evaluations: VersionEvaluation[];
  /** What `verifyResult` found (settled jobs). */
  verification?: VerifyResultReturnType;
  /** What the consumer contract did with the outcome (its own events), if it says. */
  consumer?: { event: string; detail: string };
  checks: AuditCheck[];
  ok: boolean;
}

/** The audit of one address. */
export interface AuditReport {
  address: string;
  chainId: number;
  /** The block every read was pinned to. */
  block: { number: number; hash: string; timestamp: number };
  head: number;
  confirmations: number;
  fromBlock: number;
  generatedAt: string;
  jobs: AuditedJob[];
  /** Checks of the audit as a whole (the pinned block still canonical at the end). */
  checks: AuditCheck[];
  summary: { jobs: number; settled: number; refunded: number; open: number; failedJobs: number; warnings: number };
  ok: boolean;
}

export interface AuditAddressParams {
  /** The endpoint (any RPC; it must keep state at the settlement blocks for TEE checks: an archive node for old jobs). */
  provider: JsonRpcSender;
  chainId: bigint;
  /** The deployment record's addresses and start block (`deployments/<network>.json`). */
  deployment: { startBlock: number; contracts: Partial<Record<string, { address: string }>> };
  /** The requester or consumer contract whose jobs to audit. */
  address: string;
  /** Blocks below the head the audit reads at. Default 12. */
  confirmations?: number;
  /** ZK jobs: where the version's files are read by CID (to rebuild the circuit, check the proof and open the input). */
  content?: ContentSource;
  /** A version without a valid verified evaluation fails its jobs' evaluation check; with this it only warns. */
  allowUnevaluated?: boolean;
  maxRange?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/**
 * Audits every job `address` requested up to a confirmed block (see the file comment).
 * @example const report = await auditAddress({ provider, chainId: 31337n, deployment, address: vault }); if (!report.ok) process.exitCode = 1;
 */
export async function auditAddress(params: AuditAddressParams): Promise<AuditReport> {
  const log = params.log ?? (() => undefined);
  const confirmations = params.confirmations ?? 12;
  const head = Number(await withRetry("eth_blockNumber", () => params.provider.send("eth_blockNumber", [])));
  const number = Math.max(params.deployment.startBlock, head - confirmations);
  const pinnedBlock = await blockAt(params.provider, number);
  const pinned = new PinnedProvider(params.provider, number, params.chainId);
  const contracts = connectContracts(addressesFromRecord(params.deployment), pinned);
  log(
    `auditing ${params.address} as of block ${number} (${pinnedBlock.hash}), ${head - number} below the head ${head}`,
  );
  const requested = await requestedBy(contracts, pinned, params, number);
  const consumerEvents = await consumerDecisions(
    pinned,
    params.address,
    params.deployment.startBlock,
    number,
    params.maxRange,
  );
  const evaluationCache = new Map<string, Promise<VersionEvaluation[]>>();
  const zkModels = new Map<string, Promise<QuantizedModel>>();
  const jobs: AuditedJob[] = [];
  for (const r of requested) {
    log(`job ${r.job.id} (${MODE_NAMES[Number(r.job.mode) as ModeValue] ?? r.job.mode})`);
    const key = `${r.job.modelId}@${r.job.version}`;
    if (!evaluationCache.has(key))
      evaluationCache.set(
        key,
        versionEvaluations({
          contracts,
          provider: pinned,
          modelId: r.job.modelId,
          version: Number(r.job.version),
          fromBlock: params.deployment.startBlock,
          blockTag: number,
          maxRange: params.maxRange,
        }).catch(() => []),
      );
    jobs.push(
      await auditJob(
        { contracts, provider: pinned, params, zkModels },
        r,
        await evaluationCache.get(key)!,
        consumerEvents.get(r.job.id),
      ),
    );
  }
  const after = await blockAt(params.provider, number);
  const checks: AuditCheck[] = [
    {
      name: "pinned block still canonical",
      ok: after.hash === pinnedBlock.hash,
      detail:
        after.hash === pinnedBlock.hash
          ? `block ${number} is still ${pinnedBlock.hash} at the end of the audit`
          : `block ${number} was ${pinnedBlock.hash} and is now ${after.hash}: the chain reorganised below the audited block; audit again with more confirmations`,
      severity: "fail",
    },
  ];
  const failedJobs = jobs.filter((j) => !j.ok).length;
  const warnings = jobs.reduce((n, j) => n + j.checks.filter((c) => !c.ok && c.severity === "warn").length, 0);
  return {
    address: params.address,
    chainId: Number(params.chainId),
    block: { number, hash: pinnedBlock.hash, timestamp: pinnedBlock.timestamp },
    head,
    confirmations: head - number,
    fromBlock: params.deployment.startBlock,
    generatedAt: new Date().toISOString(),
    jobs,
    checks,
    summary: {
      jobs: jobs.length,
      settled: jobs.filter((j) => j.status === "settled").length,
      refunded: jobs.filter((j) => j.status === "refunded").length,
      open: jobs.filter((j) => j.status === "open").length,
      failedJobs,
      warnings,
    },
    ok: failedJobs === 0 && checks.every((c) => c.ok),
  };
}

async function blockAt(provider: JsonRpcSender, number: number): Promise<{ hash: string; timestamp: number }> {
  const block = (await withRetry(`eth_getBlockByNumber ${number}`, () =>
    provider.send("eth_getBlockByNumber", [toQuantity(number), false]),
  )) as { hash: string; timestamp: string } | null;
  if (block === null) throw new NotFoundError(`block ${number} is not available from the endpoint`);
  return { hash: block.hash, timestamp: Number(block.timestamp) };
}

interface Requested {
  job: Job;
  input: string;
  inputUri: string;
  log: Log;
}

/** The jobs `address` requested up to `toBlock`, from `JobRequested` (its requester topic). */
async function requestedBy(
  contracts: Contracts,
  provider: PinnedProvider,
  params: AuditAddressParams,
  toBlock: number,
): Promise<Requested[]> {
  const { escrow } = contracts;
  const logs = await getLogsChunked(provider, {
    address: await escrow.getAddress(),
    topics: [escrow.interface.getEvent("JobRequested").topicHash, null, zeroPadValue(params.address.toLowerCase(), 32)],
    fromBlock: params.deployment.startBlock,
    toBlock,
    maxRange: params.maxRange,
  });
  return logs.map((l) => {
    const e = escrow.interface.parseLog(l)!;
    return {
      job: toJob(e.args.job as IJobEscrow.JobStructOutput),
      input: e.args.input as string,
      inputUri: e.args.inputUri as string,
      log: l,
    };
  });
}

const CONSUMER_INTERFACES = [VolatilityRiskVault__factory, ExampleConsumer__factory].map(
  (f) => f.createInterface() as unknown as Interface,
);
/** `VolatilityRiskVault.Refusal`, by value. */
export const REFUSALS = [
  "none",
  "not settled",
  "wrong model",
  "mode not verified",
  "no evaluation",
  "evaluation revoked",
  "evaluation below threshold",
  "not better than the baseline",
  "late",
  "superseded",
  "malformed output",
  "out of range",
  "breaker tripped",
] as const;

/** What a consumer contract said about each of its jobs (VolatilityRiskVault, ExampleConsumer events), by job id. */
async function consumerDecisions(
  provider: PinnedProvider,
  address: string,
  fromBlock: number,
  toBlock: number,
  maxRange?: number,
): Promise<Map<bigint, { event: string; detail: string }>> {
  const out = new Map<bigint, { event: string; detail: string }>();
  const code = await provider.getCode(address);
  if (code === "0x") return out;
  const logs = await getLogsChunked(provider, { address, topics: [], fromBlock, toBlock, maxRange });
  for (const l of logs) {
    for (const iface of CONSUMER_INTERFACES) {
      const e = (() => {
        try {
          return iface.parseLog(l);
        } catch {
          return null;
        }
      })();
      if (e === null) continue;
      const jobId = e.args.jobId as bigint | undefined;
      if (jobId === undefined) break;
      if (e.name === "ForecastAccepted")
        out.set(jobId, {
          event: e.name,
          detail: `acted on: volatility ${(Number(e.args.volatility) / 1e6).toFixed(4)} % per day, risk limit ${Number(e.args.limit) / 1e18} tokens`,
        });
      else if (e.name === "ForecastRefused")
        out.set(jobId, {
          event: e.name,
          detail: `refused: ${REFUSALS[Number(e.args.reason)] ?? e.args.reason}${e.args.volatility === 0n ? "" : ` (volatility ${(Number(e.args.volatility) / 1e6).toFixed(4)} % per day)`}`,
        });
      else if (e.name === "OutcomeReceived")
        out.set(jobId, { event: e.name, detail: `received (${e.args.settled ? "settled" : "refunded"})` });
      break;
    }
  }
  return out;
}

/** What every job's audit reads with. */
interface AuditContext {
  contracts: Contracts;
  provider: PinnedProvider;
  params: AuditAddressParams;
  /** The quantized models of ZK versions, by `model@version`, built once from their files. */
  zkModels: Map<string, Promise<QuantizedModel>>;
}

type CheckFn = (name: string, ok: boolean, detail: string, severity?: "fail" | "warn") => void;

async function auditJob(
  ctx: AuditContext,
  r: Requested,
  evaluations: VersionEvaluation[],
  consumer: { event: string; detail: string } | undefined,
): Promise<AuditedJob> {
  const { contracts, provider, params } = ctx;
  const { escrow } = contracts;
  const { job } = r;
  const checks: AuditCheck[] = [];
  const check: CheckFn = (name, ok, detail, severity = "fail") => checks.push({ name, ok, detail, severity });
  const jobId = toJobId(job.id);
  const state = await withRetry("escrow.stateOf", () => escrow.stateOf(jobId));
  const status = Number(state.status);
  const requestBlock = await provider.getBlock(r.log.blockNumber);
  const requested = { block: r.log.blockNumber, timestamp: requestBlock!.timestamp, tx: r.log.transactionHash };
  const mode = Number(job.mode) as ModeValue;
  const out: AuditedJob = {
    jobId: job.id.toString(),
    status: status === JobStatus.Settled ? "settled" : status === JobStatus.Refunded ? "refunded" : "open",
    mode: MODE_NAMES[mode] ?? String(job.mode),
    modelId: job.modelId.toString(),
    version: Number(job.version),
    redundancy: Number(job.redundancy),
    requested,
    deadline: Number(job.deadline),
    input: inputOf(r),
    price: {
      escrowed: (job.modelFee + job.feePerNode * job.redundancy + job.protocolFee).toString(),
      modelFee: job.modelFee.toString(),
      feePerNode: job.feePerNode.toString(),
      protocolFee: job.protocolFee.toString(),
    },
    gas: { request: 0, claims: [] },
    evaluations,
    ...(consumer === undefined ? {} : { consumer }),
    checks,
    ok: true,
  };
  await checkPrice(contracts, provider, r, out, check);
  await checkInput(ctx, r, out, check);
  if (status === JobStatus.Settled) await settledChecks(ctx, r, out, check);
  else if (status === JobStatus.Refunded) await refundedChecks(contracts, provider, r, out, check);
  else check("settled or refunded", true, `open at the audited block (deadline ${isoTime(out.deadline)})`, "warn");
  checkEvaluation(out, params.allowUnevaluated === true, check);
  out.ok = checks.every((c) => c.ok || c.severity === "warn");
  return out;
}

function inputOf(r: Requested): AuditedJob["input"] {
  const { job } = r;
  if (r.inputUri !== "") return { commitment: job.inputHash, kind: "uri", uri: r.inputUri };
  if (isSealed(r.input)) return { commitment: job.inputHash, kind: "sealed" };
  const text = (() => {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(getBytes(r.input));
    } catch {
      return undefined;
    }
  })();
  return {
    commitment: job.inputHash,
    kind: Number(job.mode) === Mode.Zk || Number(job.mode) === Mode.Dual ? "zk" : "inline",
    ...(text === undefined ? {} : { text }),
  };
}

/** The escrow took exactly the job's price from the requester in the request transaction. */
async function checkPrice(
  contracts: Contracts,
  provider: PinnedProvider,
  r: Requested,
  out: AuditedJob,
  check: CheckFn,
): Promise<void> {
  const receipt = await provider.getTransactionReceipt(r.log.transactionHash);
  out.gas.request = Number(receipt?.gasUsed ?? 0n);
  const claims = await contracts.escrow.queryFilter(contracts.escrow.filters.SlotClaimed(r.job.id), r.log.blockNumber);
  for (const claim of claims)
    out.gas.claims.push(Number((await provider.getTransactionReceipt(claim.transactionHash))?.gasUsed ?? 0n));
  const escrow = (await contracts.escrow.getAddress()).toLowerCase();
  const token = contracts.token;
  const transfer = token.interface.getEvent("Transfer").topicHash;
  const pulled = (receipt?.logs ?? [])
    .filter((l) => l.address.toLowerCase() === (token.target as string).toLowerCase() && l.topics[0] === transfer)
    .map((l) => token.interface.parseLog(l)!)
    .filter(
      (e) =>
        String(e.args.to).toLowerCase() === escrow &&
        String(e.args.from).toLowerCase() === r.job.requester.toLowerCase(),
    )
    .reduce((sum, e) => sum + (e.args.value as bigint), 0n);
  out.price.pulled = pulled.toString();
  check(
    "price taken",
    pulled.toString() === out.price.escrowed,
    `the escrow took ${pulled} token wei from ${r.job.requester} in ${r.log.transactionHash}; the terms add up to ${out.price.escrowed} (model ${r.job.modelFee} + ${r.job.redundancy} × node ${r.job.feePerNode} + protocol ${r.job.protocolFee})`,
  );
}

/** The input in the request opens its commitment (inline: keccak256; ZK: the circuit's Poseidon commitment). */
async function checkInput(ctx: AuditContext, r: Requested, out: AuditedJob, check: CheckFn): Promise<void> {
  const { job } = r;
  if (out.input.kind === "inline") {
    const hash = keccak256(r.input);
    check(
      "input commitment",
      hash === job.inputHash,
      `keccak256 of the request's input is ${hash}; the job commits to ${job.inputHash}`,
    );
    return;
  }
  if (out.input.kind === "sealed") {
    check(
      "input commitment",
      true,
      "the input is sealed to the serving nodes: an auditor cannot open it; the node checked it before claiming, and the proof or signature binds the commitment",
      "warn",
    );
    return;
  }
  if (out.input.kind === "uri") {
    check(
      "input commitment",
      true,
      `the input is at ${r.inputUri}: fetch it and compare keccak256 with ${job.inputHash}`,
      "warn",
    );
    return;
  }
  if (ctx.params.content === undefined) {
    check(
      "input commitment",
      false,
      "a ZK input is checked against the circuit's commitment: give the content store",
      "warn",
    );
    return;
  }
  try {
    const opened = openZkJobInput(await zkModelOf(ctx, job), r.input, job.inputHash);
    check(
      "input commitment",
      true,
      `the input ${JSON.stringify(opened.input.x)} and its salt open the Poseidon commitment ${job.inputHash}`,
    );
  } catch (error) {
    check("input commitment", false, error instanceof BaseError ? error.shortMessage : String(error));
  }
}

/** The quantized model a ZK version's circuit computes, from its ONNX file and manifest (by CID and SHA-256). */
function zkModelOf(ctx: AuditContext, job: Job): Promise<QuantizedModel> {
  const key = `${job.modelId}@${job.version}`;
  let entry = ctx.zkModels.get(key);
  if (entry === undefined) {
    entry = (async () => {
      const content = ctx.params.content;
      if (content === undefined) throw new NotFoundError("no content store to read the version's circuit files from");
      const files = await ctx.contracts.registry.filesOf(job.modelId, job.version);
      const file = (path: string) => {
        const f = files.find((x) => x.path === path);
        if (f === undefined) throw new NotFoundError(`model ${key} lists no ${path}`);
        return fetchVerified(content, { path, cid: cidString(f.cid), sha256: f.sha256 });
      };
      const onnx = await file(files.find((f) => f.path.endsWith(".onnx"))?.path ?? "model.onnx");
      return quantizedModelFor(onnx, parseZkManifest(await file(ZK_FILES.manifest)));
    })();
    entry.catch(() => ctx.zkModels.delete(key));
    ctx.zkModels.set(key, entry);
  }
  return entry;
}

async function settledChecks(ctx: AuditContext, r: Requested, out: AuditedJob, check: CheckFn): Promise<void> {
  const { contracts, provider, params } = ctx;
  const { escrow } = contracts;
  const { job } = r;
  const verification = await verifyResult({
    contracts,
    provider,
    jobId: toJobId(job.id),
    fromBlock: r.log.blockNumber,
    maxRange: params.maxRange,
    content: params.content,
  });
  out.verification = verification;
  for (const c of verification.checks) check(`verify: ${c.name}`, c.ok, c.detail);
  const [settledLog] = await escrow.queryFilter(escrow.filters.JobSettled(job.id), r.log.blockNumber);
  if (settledLog === undefined) return;
  const block = await provider.getBlock(settledLog.blockNumber);
  out.settled = { block: settledLog.blockNumber, timestamp: block!.timestamp, tx: settledLog.transactionHash };
  out.gas.settle = Number((await provider.getTransactionReceipt(settledLog.transactionHash))?.gasUsed ?? 0n);
  out.latencySeconds = block!.timestamp - out.requested.timestamp;
  const agreeing = Number(settledLog.args.agreeing);
  out.agreeing = agreeing;
  const k = Number(job.redundancy);
  check(
    "redundancy agreement",
    2 * agreeing > k,
    k === 1
      ? "one node (k = 1): its proof or signature decides"
      : `${agreeing} of ${k} nodes revealed the settled output (more than half needed)`,
  );
  // k = 1 settles only by a submission before the deadline; k > 1 may settle by `expire` after the reveal window.
  const settleBy = k > 1 ? Number(job.revealDeadline) : Number(job.deadline);
  check(
    "settled in time",
    k > 1 || block!.timestamp <= settleBy,
    `settled at ${isoTime(block!.timestamp)} (block ${settledLog.blockNumber}), ${out.latencySeconds} s after the request; ${k > 1 ? "reveal deadline" : "deadline"} ${isoTime(settleBy)}`,
  );
  const paid = settledPayment(job, agreeing);
  out.price.paid = paid.toString();
  out.price.refunded = (BigInt(out.price.escrowed) - paid).toString();
  const mode = Number(job.mode) as ModeValue;
  const zk =
    (mode === Mode.Zk || mode === Mode.Dual) && params.content !== undefined
      ? await zkModelOf(ctx, job).catch(() => undefined)
      : undefined;
  out.output = describeOutput(settledLog.args.output, settledLog.args.outputHash, mode, zk);
}

async function refundedChecks(
  contracts: Contracts,
  provider: PinnedProvider,
  r: Requested,
  out: AuditedJob,
  check: CheckFn,
): Promise<void> {
  const { escrow } = contracts;
  const [refund] = await escrow.queryFilter(escrow.filters.JobRefunded(r.job.id), r.log.blockNumber);
  if (refund === undefined) {
    check("refund", false, "the job is refunded but no JobRefunded event was found");
    return;
  }
  const block = await provider.getBlock(refund.blockNumber);
  out.refunded = { block: refund.blockNumber, timestamp: block!.timestamp, tx: refund.transactionHash };
  out.price.refunded = (refund.args.amount as bigint).toString();
  out.price.paid = "0";
  check(
    "refund",
    (refund.args.amount as bigint).toString() === out.price.escrowed,
    `refunded ${refund.args.amount} token wei of ${out.price.escrowed} escrowed (${Number(refund.args.reason) === 0 ? "expired unserved" : "no majority"}); the job produced no result to use`,
    "warn",
  );
}

/** The version's verified evaluations: at least one valid one, better than its baseline, or a failure (a warning with `allow`). */
function checkEvaluation(out: AuditedJob, allow: boolean, check: CheckFn): void {
  const valid = out.evaluations.filter((e) => e.valid);
  const model = `model ${out.modelId}@${out.version}`;
  if (valid.length === 0) {
    check(
      "verified evaluation",
      false,
      out.evaluations.length === 0
        ? `${model} has no verified evaluation: how good its outputs are is only what its card says`
        : `${model}'s evaluations were signed by enclaves since revoked`,
      allow ? "warn" : "fail",
    );
    return;
  }
  const beating = valid.filter((e) => e.beatsBaseline);
  check(
    "verified evaluation",
    true,
    valid
      .map((e) => `${e.dataset.name}: ${e.beatsBaseline ? "better" : "NOT better"} than its trivial baseline`)
      .join("; "),
  );
  check(
    "better than the trivial baseline",
    beating.length > 0,
    beating.length > 0
      ? `on ${beating.map((e) => e.dataset.name).join(", ")}`
      : `${model} does not beat the trivial baseline on any dataset it was evaluated on`,
    "warn",
  );
}

/** What a settled job paid: the escrow's rule (model fee and the agreeing nodes' fees, with the protocol fee on them). */
function settledPayment(job: Job, agreeing: number): bigint {
  const k = BigInt(job.redundancy);
  const paidNodes = BigInt(Math.min(agreeing, Number(k)));
  const base = job.modelFee + job.feePerNode * k;
  const charged = job.modelFee + job.feePerNode * paidNodes;
  const protocol = paidNodes === k ? job.protocolFee : base === 0n ? 0n : (job.protocolFee * charged) / base;
  return charged + protocol;
}

/** A settled output as people read it: a class or a value (ZK: decoded at the circuit's scale when its model is known). */
function describeOutput(
  hex: string,
  hash: string,
  mode: ModeValue,
  zk: QuantizedModel | undefined,
): NonNullable<AuditedJob["output"]> {
  const bytes = getBytes(hex);
  if ((mode === Mode.Zk || mode === Mode.Dual) && bytes.length === 6) {
    if (zk === undefined)
      return {
        hex,
        hash,
        text: `packed ZK output ${BigInt(hex)} (class index, or value + 2^47 at the circuit's scale)`,
      };
    const d = decodeZkOutput(zk, hex);
    return d.kind === "argmax"
      ? { hex, hash, text: `class ${d.classIndex} (proved)`, label: d.classIndex! }
      : { hex, hash, text: `${d.value} (proved, fixed point ${d.fixedPoint} at 2^-${zk.scaleBits})`, value: d.value! };
  }
  try {
    const { label, logits } = decodeClassification(bytes);
    if (logits.length === 1) return { hex, hash, text: `${logits[0]}`, value: logits[0] };
    return { hex, hash, text: `class ${label} (logits ${logits.join(", ")})`, label };
  } catch {
    return { hex, hash, text: hex };
  }
}

function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

import { keccak256, toBeHex, zeroPadValue, type Provider } from "ethers";
import { type Mode, MODE_NAMES } from "../core/modes";
import { JobStatus } from "../core/job";
import type { Contracts } from "../core/contracts";
import { getJobRequest } from "./jobs";
import { type JobId } from "../core/ids";
import { getLogsChunked } from "./logs";
import { withRetry } from "../core/retry";
import { headBlockNumber } from "../core/provider";
import type { ContentSource } from "../zkml/verify-version";
import { modeModule, type ModeVerification } from "../modes";

export interface VerifyResultParams {
  contracts: Contracts;
  provider: Provider;
  jobId: JobId;
  fromBlock: number;
  maxRange?: number;
  /**
   * ZK jobs: where the version's files (ONNX, manifest, proving key, powers of tau) are read by CID, to rebuild its
   * circuit and check the proving key. Without it a ZK job cannot be verified.
   */
  content?: ContentSource;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** The report: every check, and what the job's mode verified (`enclave` for TEE, `zk` for ZK). */
export interface VerifyResultReturnType extends ModeVerification {
  jobId: string;
  mode: string;
  ok: boolean;
  outputHash?: string;
  output?: string;
  checks: Check[];
}

/**
 * Re-verifies a settled job off-chain, trusting only the chain's logs and views: the stored output hashes to the
 * hash of `resultOf` and of `JobSettled`; then the job's mode re-verifies the proof in the settling call (its
 * module's `verifySettlement`): for TEE the enclave signature in the settling transaction's calldata
 * recovers to a key that TeeVerifier registered, as of the settlement block (every read at that block: the endpoint
 * must keep its state), to the submitting node, unrevoked and unexpired (`block.timestamp < expiresAt`), with a
 * measurement unrevoked at or before that block and bound by the model version, each a check of its own and the
 * record in `enclave`; for ZK the version's verifier was deployed by the registry's verifier
 * factory with the bound key hash, the circuit recompiled from the version's ONNX file matches its manifest and the
 * proving key passes `snarkjs zkey verify` against it and the published powers of tau with the bound key
 * (`verifyZkVersion`), and the Groth16 proof in the settling calldata verifies off-chain (snarkjs) against that key.
 * @example const report = await verifyResult({ contracts, provider, jobId: toJobId(2), fromBlock: 0 }); if (!report.ok) console.log(report.checks);
 */
export async function verifyResult(params: VerifyResultParams): Promise<VerifyResultReturnType> {
  const { contracts, provider, jobId } = params;
  const { escrow } = contracts;
  const { job } = await getJobRequest({
    escrow,
    provider,
    jobId,
    fromBlock: params.fromBlock,
    maxRange: params.maxRange,
  });
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const report = (): VerifyResultReturnType => ({
    jobId: jobId.toString(),
    mode: MODE_NAMES[Number(job.mode) as Mode] ?? String(job.mode),
    ok: checks.every((c) => c.ok),
    checks,
  });

  // One snapshot: the state, the result and the logs are all read at the head, so a settlement cannot be seen in
  // one and missed in another.
  const toBlock = await headBlockNumber(provider);
  const state = await withRetry("escrow.stateOf", () => escrow.stateOf(jobId, { blockTag: toBlock }));
  check("settled", Number(state.status) === JobStatus.Settled, `status ${state.status} (2 = settled)`);
  if (Number(state.status) !== JobStatus.Settled) return report();

  const [outputHash, output] = await withRetry("escrow.resultOf", () => escrow.resultOf(jobId, { blockTag: toBlock }));
  check(
    "resultOf hash",
    keccak256(output) === outputHash,
    `keccak256(output) ${keccak256(output)} vs resultOf ${outputHash}`,
  );
  const settledTopic = escrow.interface.getEvent("JobSettled").topicHash;
  const logs = await getLogsChunked(provider, {
    address: await escrow.getAddress(),
    topics: [settledTopic, zeroPadValue(toBeHex(jobId), 32)],
    fromBlock: params.fromBlock,
    toBlock,
    maxRange: params.maxRange,
  });
  check("one JobSettled", logs.length === 1, `${logs.length} JobSettled event(s)`);
  const settled = logs[0];
  if (settled === undefined) return { ...report(), outputHash, output };
  const event = escrow.interface.parseLog(settled)!;
  check(
    "JobSettled output",
    keccak256(event.args.output as string) === outputHash && event.args.outputHash === outputHash,
    `event output hash ${keccak256(event.args.output as string)}`,
  );
  const base = { outputHash, output };
  const mode = modeModule(job.mode);
  if (mode.verifySettlement === undefined) return { ...report(), ...base };
  // The proof is in the settling call's calldata: a direct call to the escrow (submit, reveal or submitBatch).
  const calls = mode.settlingCalls;
  const tx = await withRetry("eth_getTransactionByHash", () => provider.getTransaction(settled.transactionHash));
  const call = tx === null ? null : escrow.interface.parseTransaction({ data: tx.data });
  if (
    tx === null ||
    call === null ||
    !calls.includes(call.name) ||
    tx.to?.toLowerCase() !== (await escrow.getAddress()).toLowerCase()
  ) {
    check(
      "settling calldata",
      false,
      `transaction ${settled.transactionHash} is not a direct ${calls.join("/")} call to the escrow`,
    );
    return { ...report(), ...base };
  }
  const verified = await mode.verifySettlement({
    contracts,
    provider,
    job,
    tx,
    call,
    outputHash,
    blockNumber: settled.blockNumber,
    content: params.content,
    check,
  });
  return { ...verified, ...report(), ...base };
}

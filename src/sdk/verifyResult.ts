import { type Result, type TransactionDescription, getBytes, keccak256, toBeHex, verifyTypedData, zeroPadValue, type Provider } from "ethers";
import * as snarkjs from "snarkjs";
import type { Job } from "../core/job";
import { claimSignal, decodeZkBatchProof, decodeZkProof, encodeZkOutput, type ZkProofItem } from "../zkml/claim";
import { fromSolidityProof, releaseSnarkjs } from "../zkml/prover";
import { verificationKeyFromWords } from "../zkml/solidity";
import { Groth16Verifier__factory } from "../../typechain-types";
import { Mode, MODE_NAMES } from "../core/modes";
import { JobStatus } from "../core/job";
import { INFERENCE_RESULT_TYPES, teeDomain } from "../core/tee";
import type { Contracts } from "../core/contracts";
import { getJobRequest } from "./jobs";
import { type JobId } from "../core/ids";
import { getLogsChunked } from "./logs";
import { VerificationError } from "../core/errors";
import { withRetry } from "../core/retry";
import { isTransportError } from "../core/transport";
import { checkZkVerifier, readZkSetupFiles, type ContentSource } from "../zkml/verify-version";
import { verifyZkSetup } from "../zkml/verify-setup";

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

export interface VerifyResultReturnType {
  jobId: string;
  mode: string;
  ok: boolean;
  outputHash?: string;
  output?: string;
  enclave?: { signer: string; operator: string; measurement: string };
  zk?: { verifier: string; vkHash: string; packedOutput: string; compileSeconds?: number; zkeyVerifySeconds?: number };
  checks: Check[];
}

/**
 * Re-verifies a settled job off-chain, trusting only the chain's logs and views: the stored output hashes to the
 * hash of `resultOf` and of `JobSettled`; for TEE the enclave signature in the settling transaction's calldata
 * recovers to a key that TeeVerifier registers for the submitting node, unrevoked, unexpired at settlement,
 * with a measurement the model version binds; for ZK the version's verifier was deployed by the registry's verifier
 * factory with the bound key hash, the circuit recompiled from the version's ONNX file matches its manifest and the
 * proving key passes `snarkjs zkey verify` against it and the published powers of tau with the bound key
 * (`verifyZkVersion`), and the Groth16 proof in the settling calldata verifies off-chain (snarkjs) against that key.
 * @example const report = await verifyResult({ contracts, provider, jobId: toJobId(2), fromBlock: 0 }); if (!report.ok) console.log(report.checks);
 */
export async function verifyResult(params: VerifyResultParams): Promise<VerifyResultReturnType> {
  const { contracts, provider, jobId } = params;
  const { escrow, teeVerifier, registry } = contracts;
  const { job } = await getJobRequest({ escrow, provider, jobId, fromBlock: params.fromBlock, maxRange: params.maxRange });
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const report = (): VerifyResultReturnType => ({ jobId: jobId.toString(), mode: MODE_NAMES[Number(job.mode) as Mode] ?? String(job.mode), ok: checks.every((c) => c.ok), checks });

  const state = await withRetry("escrow.stateOf", () => escrow.stateOf(jobId));
  check("settled", Number(state.status) === JobStatus.Settled, `status ${state.status} (2 = settled)`);
  if (Number(state.status) !== JobStatus.Settled) return report();

  const [outputHash, output] = await withRetry("escrow.resultOf", () => escrow.resultOf(jobId));
  check("resultOf hash", keccak256(output) === outputHash, `keccak256(output) ${keccak256(output)} vs resultOf ${outputHash}`);
  const settledTopic = escrow.interface.getEvent("JobSettled").topicHash;
  const toBlock = await withRetry("eth_blockNumber", () => provider.getBlockNumber());
  const logs = await getLogsChunked(provider, { address: await escrow.getAddress(), topics: [settledTopic, zeroPadValue(toBeHex(jobId), 32)], fromBlock: params.fromBlock, toBlock, maxRange: params.maxRange });
  check("one JobSettled", logs.length === 1, `${logs.length} JobSettled event(s)`);
  const settled = logs[0];
  if (settled === undefined) return { ...report(), outputHash, output };
  const event = escrow.interface.parseLog(settled)!;
  check("JobSettled output", keccak256(event.args.output as string) === outputHash && event.args.outputHash === outputHash, `event output hash ${keccak256(event.args.output as string)}`);
  const base = { outputHash, output };
  const mode = Number(job.mode);
  if (mode !== Mode.Zk && mode !== Mode.Tee) return { ...report(), ...base };
  // The proof is in the settling call's calldata: a direct submit (or reveal, TEE; or submitBatch, ZK) to the escrow.
  const calls = mode === Mode.Zk ? ["submit", "submitBatch"] : ["submit", "reveal"];
  const tx = await withRetry("eth_getTransactionByHash", () => provider.getTransaction(settled.transactionHash));
  const parsed = tx === null ? null : escrow.interface.parseTransaction({ data: tx.data });
  if (tx === null || parsed === null || !calls.includes(parsed.name) || tx.to?.toLowerCase() !== (await escrow.getAddress()).toLowerCase()) {
    check("settling calldata", false, `transaction ${settled.transactionHash} is not a direct ${calls.join("/")} call to the escrow`);
    return { ...report(), ...base };
  }
  if (mode === Mode.Zk) return { ...(await verifyZk(params, job, parsed, outputHash, check)), ...report(), ...base };

  const proof = parsed.args.proof as string;
  const revealed = parsed.args.output as string;
  check("calldata output", keccak256(revealed) === outputHash, `the settling call carried output hash ${keccak256(revealed)}`);
  const { chainId } = await provider.getNetwork();
  const message = { escrow: await escrow.getAddress(), jobId: job.id, modelId: job.modelId, version: job.version, inputHash: job.inputHash, outputHash: keccak256(revealed), node: tx.from };
  let signer: string;
  try {
    signer = verifyTypedData(teeDomain(chainId, job.verifier), INFERENCE_RESULT_TYPES, message, proof);
  } catch (error) {
    check("enclave signature", false, `the proof is not an EIP-712 signature: ${String(error)}`);
    return { ...report(), ...base };
  }
  check("enclave signature", getBytes(proof).length === 65, `recovered signer ${signer}`);
  const enclave = await withRetry("teeVerifier.enclaveOf", () => (teeVerifier.attach(job.verifier) as typeof teeVerifier).enclaveOf(signer));
  const block = await withRetry("eth_getBlock", () => provider.getBlock(settled.blockNumber));
  check("enclave registered to the node", enclave.operator.toLowerCase() === tx.from.toLowerCase(), `enclave ${signer} is run by ${enclave.operator}; the result came from ${tx.from}`);
  check("enclave live at settlement", !enclave.revoked && BigInt(block!.timestamp) <= enclave.expiresAt, `revoked ${enclave.revoked}, expires ${enclave.expiresAt}, settled at ${block!.timestamp}`);
  const bound = await withRetry("registry.isBound", () => registry.isBound(job.modelId, job.version, Mode.Tee, enclave.measurement));
  check("measurement bound by the model version", bound, `measurement ${enclave.measurement} ${bound ? "is" : "is not"} accepted by model ${job.modelId}@${job.version}`);
  return { ...report(), ...base, enclave: { signer, operator: enclave.operator, measurement: enclave.measurement } };
}

/** The ZK checks of `verifyResult`: the proof of the settling call, re-verified off-chain. */
async function verifyZk(
  params: VerifyResultParams,
  job: Job,
  parsed: TransactionDescription,
  outputHash: string,
  check: (name: string, ok: boolean, detail: string) => void,
): Promise<{ zk?: VerifyResultReturnType["zk"] }> {
  const { contracts, provider } = params;
  const { registry } = contracts;
  let output: string;
  let item: ZkProofItem;
  try {
    if (parsed.name === "submit") {
      output = parsed.args.output as string;
      item = decodeZkProof(parsed.args.proof as string);
    } else {
      const index = (parsed.args.jobs as Result[]).findIndex((j) => (j[0] as bigint) === job.id);
      output = (parsed.args.outputs as string[])[index]!;
      item = decodeZkBatchProof(parsed.args.proof as string)[index]!;
    }
  } catch (error) {
    check("proof encoding", false, `the settling call's proof does not decode: ${String(error)}`);
    return {};
  }
  const packed = item.packedOutput;
  check("calldata output", keccak256(output) === outputHash && output === encodeZkOutput(packed), `the proof is for packed output ${packed}; the call carried ${output}`);
  let binding;
  try {
    binding = await checkZkVerifier(registry, job.modelId, job.version);
    check("verifier deployed by the registry's factory with the bound key", true, `verifier ${binding.verifier} holds key hash ${binding.vkHash} (factory ${binding.factory})`);
  } catch (error) {
    if (!(error instanceof VerificationError)) throw error;
    check("verifier deployed by the registry's factory with the bound key", false, error.message);
    return {};
  }
  const setup = await circuitCheck(params, job, binding.vkHash);
  check("circuit rebuilt from the version's files", setup.ok, setup.detail);
  const words = await withRetry("verifier.verifyingKey", () => Groth16Verifier__factory.connect(binding.verifier, provider).verifyingKey());
  const signal = claimSignal(BigInt(job.inputHash), packed);
  let valid = false;
  try {
    valid = await snarkjs.groth16.verify(verificationKeyFromWords(words), [signal.toString()], fromSolidityProof(item.proof));
  } finally {
    await releaseSnarkjs();
  }
  check("Groth16 proof (off-chain)", valid, `claim ${signal} = commitment ${job.inputHash} with output ${packed}`);
  return { zk: { verifier: binding.verifier, vkHash: binding.vkHash, packedOutput: packed.toString(), compileSeconds: setup.seconds?.compile, zkeyVerifySeconds: setup.seconds?.zkeyVerify } };
}

/** Rebuilds the job's circuit from the version's files and checks its proving key (`verifyZkSetup`). */
async function circuitCheck(params: VerifyResultParams, job: Job, vkHash: string): Promise<{ ok: boolean; detail: string; seconds?: { compile: number; zkeyVerify: number } }> {
  if (params.content === undefined) return { ok: false, detail: "no content source to read the version's files from (pass `content`)" };
  try {
    const files = await readZkSetupFiles({ registry: params.contracts.registry, content: params.content, modelId: job.modelId, version: job.version });
    const { seconds, manifest } = await verifyZkSetup(files, { vkHash });
    return { ok: true, detail: `R1CS ${manifest.r1csSha256} recompiled from the ONNX file; zkey verify passed on the published ptau 2^${manifest.ptau.power}; its key hashes to the bound ${vkHash}`, seconds };
  } catch (error) {
    // A transport failure says nothing about the version: it is thrown, not reported as a failed check.
    if (isTransportError(error)) throw error;
    return { ok: false, detail: String((error as Error)?.message ?? error) };
  }
}

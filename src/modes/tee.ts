/**
 * TEE mode: a result is backed by an EIP-712 signature from an enclave key the node registered in `TeeVerifier` with
 * a DCAP quote, live and with an unrevoked measurement the model version binds. The node signs with its enclave and
 * claims only jobs its enclave can settle; a client checks the signature in the settling call against `TeeVerifier`
 * as of the settlement block.
 */
import { getBytes, keccak256, verifyTypedData, ZeroAddress } from "ethers";
import { Mode } from "../core/modes";
import { NotFoundError } from "../core/errors";
import { withRetry } from "../core/retry";
import { INFERENCE_RESULT_TYPES, teeDomain } from "../core/tee";
import { ModeNotServedError } from "./errors";
import { bindingValues, classify, hashRefusal, infoOf, MAX_BINDINGS, noVerifier, plainInput } from "./shared";
import type { ClaimChecks, EnclaveSigner, ModeModule, ModeNode, ModeVerification, SettlementContext } from "./types";
import type { Job } from "../core/job";
import type { TeeVerifier } from "../../typechain-types";

export const tee: ModeModule = {
  ...infoOf(Mode.Tee),
  binding(spec) {
    noVerifier("tee", spec);
    return {
      mode: Mode.Tee,
      verifier: ZeroAddress,
      bindings: bindingValues("tee", spec, "enclave measurement", 1, MAX_BINDINGS),
    };
  },
  redundancyRefusal: () => undefined,
  prepareInput: plainInput,
  needs: ["enclave"],
  readiness,
  inputRefusal: (job, input) => Promise.resolve(hashRefusal(job, input)),
  async compute(job, input, node) {
    const output = await classify(job, input, node);
    return { output, proof: await sign(job, output, node, enclaveOf(job, node)) };
  },
  batchable: false,
  settlingCalls: ["submit", "reveal"],
  verifySettlement,
};

/**
 * Why this node's enclave cannot settle `checks.job`, or undefined: it must be registered to the node, unrevoked,
 * with an unrevoked measurement the job's version binds, and live until the job's last settling call (its deadline;
 * for k > 1 its reveal deadline), since an expiry, unlike a revocation, excuses nothing (`ITeeVerifier`).
 */
async function readiness(node: ModeNode, checks: ClaimChecks): Promise<string | undefined> {
  if (node.enclave === undefined) return "no development enclave";
  const { job } = checks;
  const signer = node.enclave.address;
  const enclave = await checks.enclave(signer);
  const renew = "run `vin enclave register`";
  if (enclave.operator === ZeroAddress) return `enclave ${signer} is not registered: ${renew}`;
  if (enclave.operator.toLowerCase() !== node.address.toLowerCase())
    return `enclave ${signer} is registered to ${enclave.operator}, not to this node`;
  if (enclave.revoked) return `enclave ${signer} was revoked: it never serves again`;
  if (enclave.measurementRevokedAt !== 0n)
    return `the measurement ${enclave.measurement} of enclave ${signer} was revoked at ${enclave.measurementRevokedAt}`;
  if (enclave.now >= enclave.expiresAt)
    return `the registration of enclave ${signer} expired at ${enclave.expiresAt} (chain time ${enclave.now}): ${renew}`;
  const settleBy = job.redundancy > 1n ? job.revealDeadline : job.deadline;
  if (enclave.expiresAt < settleBy) {
    return `the registration of enclave ${signer} expires at ${enclave.expiresAt}, before the job's ${job.redundancy > 1n ? "reveal deadline" : "deadline"} ${settleBy}: ${renew} to renew it`;
  }
  if (!(await checks.isBound(job.modelId, job.version, Mode.Tee, enclave.measurement))) {
    return `model ${job.modelId}@${job.version} does not bind the measurement ${enclave.measurement} of enclave ${signer} for TEE mode`;
  }
  return undefined;
}

function enclaveOf(job: Job, node: ModeNode): EnclaveSigner {
  if (node.enclave === undefined)
    throw new ModeNotServedError(`job ${job.id}: TEE mode needs the development enclave (serve "tee" in the config)`);
  return node.enclave;
}

/**
 * The enclave's signature over the result under the job's verifier's EIP-712 domain: TEE mode's `proof`, and the
 * signature half of a dual proof (whose verifier is the dual verifier).
 */
export function sign(job: Job, output: string, node: ModeNode, enclave: EnclaveSigner): Promise<string> {
  return enclave.sign(teeDomain(node.chainId, job.verifier), {
    escrow: node.escrow,
    jobId: job.id,
    modelId: job.modelId,
    version: job.version,
    inputHash: job.inputHash,
    outputHash: keccak256(output),
    node: node.address,
  });
}

/**
 * The enclave signature in the settling call recovers to a key that TeeVerifier registered, as of the settlement
 * block, to the submitting node, unrevoked, unexpired (`block.timestamp < expiresAt`, as the contract checks), with a
 * measurement unrevoked at or before that block and bound by the job's model version. Every read is made at the
 * settlement block (`blockTag`), so a later revocation, renewal or expiry does not change the answer; an endpoint
 * that keeps no state that old (not an archive node) fails the read.
 */
async function verifySettlement(s: SettlementContext): Promise<ModeVerification> {
  const { contracts, job, check } = s;
  const { teeVerifier } = contracts;
  const proof = s.call.args.proof as string;
  const revealed = s.call.args.output as string;
  check(
    "calldata output",
    keccak256(revealed) === s.outputHash,
    `the settling call carried output hash ${keccak256(revealed)}`,
  );
  return verifyEnclaveAtSettlement(s, proof, teeVerifier.attach(job.verifier) as typeof teeVerifier, "the proof");
}

/**
 * The enclave checks of a settlement, read at the settlement block: `signature` recovers (under the job's verifier's
 * EIP-712 domain) to a key that `verifier` had registered to the submitting node, unrevoked and unexpired, with an
 * unrevoked measurement the job's version binds to TEE mode. TEE mode checks its proof this way, dual mode its
 * signature half (with the TeeVerifier the dual verifier reads).
 */
export async function verifyEnclaveAtSettlement(
  s: SettlementContext,
  signature: string,
  verifier: Pick<TeeVerifier, "enclaveOf" | "measurementRevokedAt">,
  what: string,
): Promise<ModeVerification> {
  const { contracts, provider, job, tx, check } = s;
  const { escrow, registry } = contracts;
  const revealed = s.call.args.output as string;
  const { chainId } = await provider.getNetwork();
  const message = {
    escrow: await escrow.getAddress(),
    jobId: job.id,
    modelId: job.modelId,
    version: job.version,
    inputHash: job.inputHash,
    outputHash: keccak256(revealed),
    node: tx.from,
  };
  let signer: string;
  try {
    signer = verifyTypedData(teeDomain(chainId, job.verifier), INFERENCE_RESULT_TYPES, message, signature);
  } catch (error) {
    check("enclave signature", false, `${what} is not an EIP-712 signature: ${String(error)}`);
    return {};
  }
  check("enclave signature", getBytes(signature).length === 65, `recovered signer ${signer}`);
  const at = { blockTag: s.blockNumber };
  const [enclave, block] = await Promise.all([
    withRetry("teeVerifier.enclaveOf", () => verifier.enclaveOf(signer, at)),
    withRetry("eth_getBlock", () => provider.getBlock(s.blockNumber)),
  ]);
  if (block === null) throw new NotFoundError(`block ${s.blockNumber} of the settlement of job ${job.id} not found`);
  const timestamp = BigInt(block.timestamp);
  const [revokedAt, bound] = await Promise.all([
    withRetry("teeVerifier.measurementRevokedAt", () => verifier.measurementRevokedAt(enclave.measurement, at)),
    withRetry("registry.isBound", () => registry.isBound(job.modelId, job.version, Mode.Tee, enclave.measurement, at)),
  ]);
  const when = `at block ${s.blockNumber} (timestamp ${timestamp})`;
  check(
    "enclave registered to the node",
    enclave.operator.toLowerCase() === tx.from.toLowerCase(),
    `enclave ${signer} was registered to ${enclave.operator} ${when}; the result came from ${tx.from}`,
  );
  check(
    "enclave unrevoked at settlement",
    !enclave.revoked,
    `enclave ${signer} ${enclave.revoked ? "was revoked" : "was not revoked"} ${when}`,
  );
  check(
    "enclave unexpired at settlement",
    timestamp < enclave.expiresAt,
    `its registration ${timestamp < enclave.expiresAt ? "expires" : "had expired"} at ${enclave.expiresAt}; settled at ${timestamp}`,
  );
  check(
    "measurement unrevoked at settlement",
    revokedAt === 0n,
    revokedAt === 0n
      ? `measurement ${enclave.measurement} was not revoked ${when}`
      : `measurement ${enclave.measurement} was revoked at ${revokedAt}, at or before block ${s.blockNumber}`,
  );
  check(
    "measurement bound by the model version",
    bound,
    `measurement ${enclave.measurement} ${bound ? "is" : "is not"} accepted by model ${job.modelId}@${job.version}`,
  );
  return {
    enclave: {
      signer,
      operator: enclave.operator,
      measurement: enclave.measurement,
      expiresAt: enclave.expiresAt,
      revoked: enclave.revoked,
      measurementRevokedAt: revokedAt,
      hpkePublicKey: enclave.hpkePublicKey,
      block: s.blockNumber,
      timestamp,
    },
  };
}

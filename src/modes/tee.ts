/**
 * TEE mode: a result is backed by an EIP-712 signature from an enclave key the attestor registered for the node,
 * with a measurement the model version binds. The node signs with its enclave; a client checks the signature in
 * the settling call against `TeeVerifier` and the version's bound measurements.
 */
import { getBytes, keccak256, verifyTypedData, ZeroAddress } from "ethers";
import { Mode } from "../core/modes";
import { withRetry } from "../core/retry";
import { INFERENCE_RESULT_TYPES, teeDomain } from "../core/tee";
import { ModeNotServedError } from "./errors";
import { bindingValues, classify, hashRefusal, infoOf, MAX_BINDINGS, noVerifier, plainInput } from "./shared";
import type { EnclaveSigner, ModeModule, ModeNode, ModeVerification, SettlementContext } from "./types";
import type { Job } from "../core/job";

export const tee: ModeModule = {
  ...infoOf(Mode.Tee),
  binding(spec) {
    noVerifier("tee", spec);
    return { mode: Mode.Tee, verifier: ZeroAddress, bindings: bindingValues("tee", spec, "enclave measurement", 1, MAX_BINDINGS) };
  },
  redundancyRefusal: () => undefined,
  prepareInput: plainInput,
  needs: ["enclave"],
  async readiness(node, checks) {
    if (node.enclave === undefined) return "no development enclave";
    if (!(await checks.enclaveRegistered(node.enclave.address))) return `enclave ${node.enclave.address} is not registered to this node: ask the attestor to register it`;
    return undefined;
  },
  inputRefusal: (job, input) => Promise.resolve(hashRefusal(job, input)),
  async compute(job, input, node) {
    const output = await classify(job, input, node);
    return { output, proof: await sign(job, output, node, enclaveOf(job, node)) };
  },
  batchable: false,
  settlingCalls: ["submit", "reveal"],
  verifySettlement,
};

function enclaveOf(job: Job, node: ModeNode): EnclaveSigner {
  if (node.enclave === undefined) throw new ModeNotServedError(`job ${job.id}: TEE mode needs the development enclave (serve "tee" in the config)`);
  return node.enclave;
}

/** The enclave's signature over the result: the `proof` of the submission. */
function sign(job: Job, output: string, node: ModeNode, enclave: EnclaveSigner): Promise<string> {
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
 * The enclave signature in the settling call recovers to a key that TeeVerifier registers for the submitting
 * node, unrevoked and unexpired at settlement, with a measurement the model version binds.
 */
async function verifySettlement(s: SettlementContext): Promise<ModeVerification> {
  const { contracts, provider, job, tx, check } = s;
  const { escrow, teeVerifier, registry } = contracts;
  const proof = s.call.args.proof as string;
  const revealed = s.call.args.output as string;
  check("calldata output", keccak256(revealed) === s.outputHash, `the settling call carried output hash ${keccak256(revealed)}`);
  const { chainId } = await provider.getNetwork();
  const message = { escrow: await escrow.getAddress(), jobId: job.id, modelId: job.modelId, version: job.version, inputHash: job.inputHash, outputHash: keccak256(revealed), node: tx.from };
  let signer: string;
  try {
    signer = verifyTypedData(teeDomain(chainId, job.verifier), INFERENCE_RESULT_TYPES, message, proof);
  } catch (error) {
    check("enclave signature", false, `the proof is not an EIP-712 signature: ${String(error)}`);
    return {};
  }
  check("enclave signature", getBytes(proof).length === 65, `recovered signer ${signer}`);
  const enclave = await withRetry("teeVerifier.enclaveOf", () => (teeVerifier.attach(job.verifier) as typeof teeVerifier).enclaveOf(signer));
  const block = await withRetry("eth_getBlock", () => provider.getBlock(s.blockNumber));
  check("enclave registered to the node", enclave.operator.toLowerCase() === tx.from.toLowerCase(), `enclave ${signer} is run by ${enclave.operator}; the result came from ${tx.from}`);
  check("enclave live at settlement", !enclave.revoked && BigInt(block!.timestamp) <= enclave.expiresAt, `revoked ${enclave.revoked}, expires ${enclave.expiresAt}, settled at ${block!.timestamp}`);
  const bound = await withRetry("registry.isBound", () => registry.isBound(job.modelId, job.version, Mode.Tee, enclave.measurement));
  check("measurement bound by the model version", bound, `measurement ${enclave.measurement} ${bound ? "is" : "is not"} accepted by model ${job.modelId}@${job.version}`);
  return { enclave: { signer, operator: enclave.operator, measurement: enclave.measurement } };
}

/**
 * ZK mode: a result is backed by a Groth16 proof, checked on-chain against the verifying key the version binds
 * (its verifier deployed by the registry's factory). The requester commits to the quantized input with a salt; a
 * node proves with a circuit it rebuilt and checked itself; a job takes one node, and a node may settle several
 * jobs in one `submitBatch`. A client re-verifies the proof off-chain after rebuilding the circuit.
 */
import type { Result } from "ethers";
import { keccak256 } from "ethers";
import * as snarkjs from "snarkjs";
import { Groth16Verifier__factory } from "../../typechain-types";
import { InputError, NotFoundError, VerificationError, type BaseError } from "../core/errors";
import type { Job } from "../core/job";
import { Mode } from "../core/modes";
import { withRetry } from "../core/retry";
import { isTransportError } from "../core/transport";
import {
  claimSignal,
  decodeZkBatchProof,
  decodeZkProof,
  encodeZkOutput,
  encodeZkProof,
  packedOutputOf,
  type ZkProofItem,
} from "../zkml/claim";
import { ZkmlInputRangeError, ZkmlOverflowError, ZkmlShapeMismatchError } from "../zkml/errors";
import { openZkJobInput, ZkJobInputError, zkJobRequest } from "../zkml/job";
import { fromSolidityProof, releaseSnarkjs } from "../zkml/prover";
import { evaluateQuantized } from "../zkml/reference";
import { verificationKeyFromWords } from "../zkml/solidity";
import { verifyZkSetup } from "../zkml/verify-setup";
import { decodeZkSlotProof, isZkSlotProof, type DecodedZkSlotProof } from "../zkml/batch-solidity";
import { verifySlotProof, verifySlotVersion } from "../zkml/verify-slots";
import { checkZkVerifier, readZkSetupFiles, verifyZkVersion } from "../zkml/verify-version";
import { ModeNotServedError } from "./errors";
import { bindingValues, infoOf, verifierAddress } from "./shared";
import type { ModeModule, ModeNode, ModeVerification, SettlementContext, ZkCircuit, ZkCircuitSource } from "./types";

export const zk: ModeModule = {
  ...infoOf(Mode.Zk),
  binding(spec) {
    const verifier = verifierAddress("zk", spec);
    return { mode: Mode.Zk, verifier, bindings: bindingValues("zk", spec, "verifying key hash", 1, 1) };
  },
  redundancyRefusal(redundancy) {
    return BigInt(redundancy) === 1n
      ? undefined
      : `a ZK job takes one node (redundancy 1), not ${redundancy}: its proof settles the answer by itself`;
  },
  prepareInput(request) {
    if (request.zk === undefined)
      throw new InputError("a ZK job needs the model's quantized circuit model (zk.model) to commit to its input");
    try {
      const prepared = zkJobRequest(request.zk.model, request.features, request.zk.salt);
      return { input: prepared.input, inputCommitment: prepared.inputCommitment, salt: prepared.salt };
    } catch (cause) {
      throw new InputError(`the input does not fit the model's circuit: ${(cause as Error).message}`, { cause });
    }
  },
  needs: ["zk"],
  readiness: () => Promise.resolve(undefined),
  inputRefusal,
  async compute(job, input, node) {
    const circuit = await circuitsOf(node, job).load(job.modelId, job.version);
    let answer: ZkAnswer;
    try {
      answer = await answerZkJob(circuit, job, input);
    } catch (cause) {
      // An input that does not open the commitment, or lies outside the circuit's range, can never be proved; a
      // prover failure (a worker that crashed, memory) is thrown as it is, so the step is retried.
      if (isUnprovableInput(cause)) throw new InputError(`job ${job.id}: ${cause.message}`, { cause });
      throw cause;
    }
    return { output: answer.output, proof: answer.proof };
  },
  batchable: true,
  settlingCalls: ["submit", "submitBatch"],
  verifySettlement,
};

/** What a ZK job needs from the escrow: the 6-byte output and `abi.encode(packedOutput, proof)`. */
export interface ZkAnswer {
  output: string;
  proof: string;
  packedOutput: bigint;
  proveSeconds: number;
}

/**
 * Answers a ZK job: opens the requester's commitment with the input bytes (input and salt), evaluates the circuit's
 * arithmetic, proves, and encodes output and proof for `submit`.
 *
 * @throws ZkJobInputError when the input does not open the job's commitment (never computable: refuse the job).
 */
export async function answerZkJob(circuit: ZkCircuit, job: Job, input: string): Promise<ZkAnswer> {
  const { quantized, input: opened } = openZkJobInput(circuit.model, input, job.inputHash);
  const packedOutput = packedOutputOf(circuit.model, evaluateQuantized(circuit.model, quantized));
  const proved = await circuit.prover.prove({ model: circuit.model, input: quantized, inputSalt: opened.salt });
  return {
    output: encodeZkOutput(packedOutput),
    proof: encodeZkProof(packedOutput, proved.solidity),
    packedOutput,
    proveSeconds: proved.proveSeconds,
  };
}

/** Errors that mean this input can never be proved by this circuit (not a failure of the prover). */
function isUnprovableInput(error: unknown): error is BaseError {
  return (
    error instanceof ZkJobInputError ||
    error instanceof ZkmlInputRangeError ||
    error instanceof ZkmlShapeMismatchError ||
    error instanceof ZkmlOverflowError
  );
}

function circuitsOf(node: ModeNode, job: Job): ZkCircuitSource {
  if (node.zk === undefined)
    throw new ModeNotServedError(`job ${job.id}: ZK mode is not served by this node (serve "zk" in the config)`);
  return node.zk;
}

/**
 * A ZK job commits to the Poseidon hash of the quantized input and its salt, which only the circuit's model can
 * recompute, so the circuit is loaded (and cached by the node) here: a node refuses before claiming, not after.
 */
async function inputRefusal(job: Job, input: string, node: ModeNode): Promise<string | undefined> {
  if (node.zk === undefined) return 'ZK mode is not served by this node (serve "zk" in the config)';
  let circuit: ZkCircuit;
  try {
    circuit = await node.zk.load(job.modelId, job.version);
  } catch (error) {
    if (error instanceof NotFoundError) return error.message;
    throw error;
  }
  try {
    // Opening the commitment and evaluating the circuit's arithmetic (no proving) catches every input the
    // circuit cannot take: another input or salt, a value out of range, an output that overflows its 48 bits.
    const { quantized } = openZkJobInput(circuit.model, input, job.inputHash);
    packedOutputOf(circuit.model, evaluateQuantized(circuit.model, quantized));
    return undefined;
  } catch (error) {
    if (isUnprovableInput(error)) return `the input cannot be proved for this job: ${error.message}`;
    throw error;
  }
}

/**
 * The version's verifier was deployed by the registry's verifier factory with the bound key hash, the circuit
 * recompiled from the version's files matches its manifest and proving key, and the Groth16 proof in the settling
 * calldata verifies off-chain (snarkjs) against that key.
 */
async function verifySettlement(s: SettlementContext): Promise<ModeVerification> {
  const { contracts, provider, job, call, check } = s;
  let output: string;
  let item: ZkProofItem;
  if (call.name === "submitBatch" && isZkSlotProof(call.args.proof as string)) return verifySlotSettlement(s);
  try {
    if (call.name === "submit") {
      output = call.args.output as string;
      item = decodeZkProof(call.args.proof as string);
    } else {
      const index = (call.args.jobs as Result[]).findIndex((j) => (j[0] as bigint) === job.id);
      output = (call.args.outputs as string[])[index]!;
      item = decodeZkBatchProof(call.args.proof as string)[index]!;
    }
  } catch (error) {
    check("proof encoding", false, `the settling call's proof does not decode: ${String(error)}`);
    return {};
  }
  const packed = item.packedOutput;
  check(
    "calldata output",
    keccak256(output) === s.outputHash && output === encodeZkOutput(packed),
    `the proof is for packed output ${packed}; the call carried ${output}`,
  );
  let binding;
  try {
    binding = await checkZkVerifier(contracts.registry, job.modelId, job.version);
    check(
      "verifier deployed by the registry's factory with the bound key",
      true,
      `verifier ${binding.verifier} holds key hash ${binding.vkHash} (factory ${binding.factory})`,
    );
  } catch (error) {
    if (!(error instanceof VerificationError)) throw error;
    check("verifier deployed by the registry's factory with the bound key", false, error.message);
    return {};
  }
  const setup = await circuitCheck(s, binding.vkHash);
  check("circuit rebuilt from the version's files", setup.ok, setup.detail);
  const words = await withRetry("verifier.verifyingKey", () =>
    Groth16Verifier__factory.connect(binding.verifier, provider).verifyingKey(),
  );
  const signal = claimSignal(BigInt(job.inputHash), packed);
  let valid = false;
  try {
    valid = await snarkjs.groth16.verify(
      verificationKeyFromWords(words),
      [signal.toString()],
      fromSolidityProof(item.proof),
    );
  } finally {
    await releaseSnarkjs();
  }
  check("Groth16 proof (off-chain)", valid, `claim ${signal} = commitment ${job.inputHash} with output ${packed}`);
  return {
    zk: {
      verifier: binding.verifier,
      vkHash: binding.vkHash,
      packedOutput: packed.toString(),
      compileSeconds: setup.seconds?.compile,
      zkeyVerifySeconds: setup.seconds?.zkeyVerify,
    },
  };
}

/**
 * A job settled by one N-slot proof (`submitBatch`, issue #15): the slot verifier the ZK verifier deployed for
 * (version, N) holds a key that `verifySlotVersion` ties to the N-slot circuit rebuilt from the version's files (after
 * the version's own circuit is checked, as for one proof), and the proof verifies off-chain against it with every
 * job of the call in its slot.
 */
async function verifySlotSettlement(s: SettlementContext): Promise<ModeVerification> {
  const { contracts, provider, job, call, check } = s;
  const jobs = call.args.jobs as Result[];
  const index = jobs.findIndex((j) => (j[0] as bigint) === job.id);
  let decoded: DecodedZkSlotProof;
  let output: string;
  try {
    decoded = decodeZkSlotProof(call.args.proof as string);
    output = (call.args.outputs as string[])[index]!;
    if (index < 0 || index >= decoded.packedOutputs.length) throw new InputError(`job ${job.id} is not in the call`);
  } catch (error) {
    check("proof encoding", false, `the settling call's N-slot proof does not decode: ${String(error)}`);
    return {};
  }
  const packed = decoded.packedOutputs[index]!;
  check(
    "calldata output",
    keccak256(output) === s.outputHash && output === encodeZkOutput(packed),
    `slot ${index} of the proof is for packed output ${packed}; the call carried ${output}`,
  );
  let slotKey: { ok: boolean; detail: string };
  if (s.content === undefined) {
    slotKey = { ok: false, detail: "no content source to read the version's files from (pass `content`)" };
  } else {
    try {
      const version = await verifyZkVersion({
        registry: contracts.registry,
        content: s.content,
        modelId: job.modelId,
        version: job.version,
      });
      const slots = await verifySlotVersion({
        registry: contracts.registry,
        zkVerifier: job.verifier,
        content: s.content,
        modelId: job.modelId,
        version: job.version,
        slots: decoded.slots,
        model: version.model,
        optimization: version.manifest.optimization,
      });
      slotKey = {
        ok: true,
        detail: `the ${decoded.slots}-slot verifier ${slots.slotVerifier} holds key hash ${slots.keyHash}, whose published key verifies against the N-slot circuit rebuilt from the version's files`,
      };
    } catch (error) {
      if (isTransportError(error)) throw error;
      slotKey = { ok: false, detail: String((error as Error)?.message ?? error) };
    }
  }
  check(`${decoded.slots}-slot key rebuilt from the version's files`, slotKey.ok, slotKey.detail);
  let checked: { valid: boolean; slotVerifier: string; keyHash: string };
  try {
    checked = await verifySlotProof({
      runner: provider,
      zkVerifier: job.verifier,
      modelId: job.modelId,
      version: job.version,
      inputHashes: jobs.map((j) => (j as unknown as { inputHash: string }).inputHash),
      proof: call.args.proof as string,
    });
  } catch (error) {
    if (isTransportError(error)) throw error;
    check("Groth16 proof (off-chain)", false, String((error as Error)?.message ?? error));
    return {};
  } finally {
    await releaseSnarkjs();
  }
  check(
    "Groth16 proof (off-chain)",
    checked.valid,
    `one ${decoded.slots}-slot proof of ${jobs.length} jobs; slot ${index}: commitment ${job.inputHash} with output ${packed}`,
  );
  return { zk: { verifier: checked.slotVerifier, vkHash: checked.keyHash, packedOutput: packed.toString() } };
}

/** Rebuilds the job's circuit from the version's files and checks its proving key (`verifyZkSetup`). */
async function circuitCheck(
  s: SettlementContext,
  vkHash: string,
): Promise<{ ok: boolean; detail: string; seconds?: { compile: number; zkeyVerify: number } }> {
  if (s.content === undefined)
    return { ok: false, detail: "no content source to read the version's files from (pass `content`)" };
  try {
    const files = await readZkSetupFiles({
      registry: s.contracts.registry,
      content: s.content,
      modelId: s.job.modelId,
      version: s.job.version,
    });
    const { seconds, manifest } = await verifyZkSetup(files, { vkHash });
    return {
      ok: true,
      detail: `R1CS ${manifest.r1csSha256} recompiled from the ONNX file; zkey verify passed on the published ptau 2^${manifest.ptau.power}; its key hashes to the bound ${vkHash}`,
      seconds,
    };
  } catch (error) {
    // A transport failure says nothing about the version: it is thrown, not reported as a failed check.
    if (isTransportError(error)) throw error;
    return { ok: false, detail: String((error as Error)?.message ?? error) };
  }
}

import { hexlify, keccak256, randomBytes, type TypedDataDomain } from "ethers";
import { encodeClassification } from "../inference/onnx";
import type { Job } from "../core/job";
import { Mode } from "../core/modes";
import { teeDomain } from "../core/tee";
import { InputError } from "../core/errors";
import { ModelError } from "./errors";
import { decodeInput } from "../core/job";
import type { ModelLoader } from "./models";
import type { DevEnclave } from "../tee/dev-enclave";
import { answerZkJob, type ZkAnswer, type ZkCircuit, type ZkCircuitLoader } from "./zk";
import { openZkJobInput } from "../zkml/job";
import { ZkmlInputRangeError, ZkmlOverflowError, ZkmlShapeMismatchError } from "../zkml/errors";
import { type BaseError } from "../core/errors";
import { packedOutputOf } from "../zkml/claim";
import { ZkJobInputError } from "../zkml/job";
import { evaluateQuantized } from "../zkml/reference";

/** Errors that mean this input can never be proved by this circuit (not a failure of the prover). */
function isUnprovableInput(error: unknown): error is BaseError {
  return error instanceof ZkJobInputError || error instanceof ZkmlInputRangeError || error instanceof ZkmlShapeMismatchError || error instanceof ZkmlOverflowError;
}

export interface ComputeResult {
  output: string;
  /** The verifier's proof: the enclave signature for TEE, `abi.encode(packedOutput, Groth16 proof)` for ZK, empty for vanilla. */
  proof: string;
  /** The commit-reveal salt for k > 1. */
  salt?: string;
}

/** Runs a job's inference and produces what the escrow needs: output, proof (TEE) and salt (k > 1). */
export class Computer {
  constructor(
    private readonly models: ModelLoader,
    private readonly chainId: bigint,
    private readonly escrow: string,
    private readonly node: string,
    private readonly enclave: DevEnclave | undefined,
    private readonly zk?: ZkCircuitLoader,
  ) {}

  /**
   * Why `input` can never be computed for `job`, or undefined. Vanilla and TEE jobs commit to `keccak256(input)`;
   * a ZK job commits to the Poseidon hash of the quantized input and its salt, which only the circuit's model can
   * recompute, so the circuit is loaded (and cached) here: a node refuses before claiming, not after.
   */
  async refusal(job: Job, input: string): Promise<string | undefined> {
    if (Number(job.mode) !== Mode.Zk) {
      const hash = keccak256(input);
      return hash === job.inputHash ? undefined : `it hashes to ${hash}, but the job commits to ${job.inputHash}; refusing to compute on it`;
    }
    if (this.zk === undefined) return 'ZK mode is not served by this node (serve "zk" in the config)';
    let circuit: ZkCircuit;
    try {
      circuit = await this.zk.load(job.modelId, job.version);
    } catch (error) {
      if (error instanceof ModelError) return error.message;
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

  async compute(job: Job, input: string): Promise<ComputeResult> {
    const salt = job.redundancy > 1n ? hexlify(randomBytes(32)) : undefined;
    if (Number(job.mode) === Mode.Zk) {
      if (this.zk === undefined) throw new ModelError(`job ${job.id}: ZK mode is not served by this node (serve "zk" in the config)`);
      const circuit = await this.zk.load(job.modelId, job.version);
      let answer: ZkAnswer;
      try {
        answer = await answerZkJob(circuit, job, input);
      } catch (cause) {
        // An input that does not open the commitment, or lies outside the circuit's range, can never be proved; a
        // prover failure (a worker that crashed, memory) is thrown as it is, so the step is retried.
        if (isUnprovableInput(cause)) throw new InputError(`job ${job.id}: ${cause.message}`, { cause });
        throw cause;
      }
      return { output: answer.output, proof: answer.proof, salt };
    }
    if (keccak256(input) !== job.inputHash) throw new InputError(`job ${job.id}: the inline input does not hash to the job's inputHash`);
    const features = decodeInput(input);
    const model = await this.models.load(job.modelId, job.version);
    const output = hexlify(encodeClassification(await model.run(features)));
    return { output, proof: await this.prove(job, output), salt };
  }

  private async prove(job: Job, output: string): Promise<string> {
    if (Number(job.mode) === Mode.Vanilla) return "0x";
    if (Number(job.mode) !== Mode.Tee) throw new ModelError(`job ${job.id}: mode ${job.mode} is not supported by this node`);
    if (this.enclave === undefined) throw new ModelError(`job ${job.id}: TEE mode needs the development enclave (serve "tee" in the config)`);
    const domain: TypedDataDomain = teeDomain(this.chainId, job.verifier);
    return this.enclave.sign(domain, {
      escrow: this.escrow,
      jobId: job.id,
      modelId: job.modelId,
      version: job.version,
      inputHash: job.inputHash,
      outputHash: keccak256(output),
      node: this.node,
    });
  }
}

import { hexlify, keccak256, randomBytes, type TypedDataDomain } from "ethers";
import { encodeClassification } from "../inference/onnx";
import type { Job } from "../protocol/job";
import { Mode } from "../protocol/modes";
import { teeDomain } from "../protocol/tee";
import { InputError, ModelError } from "../sdk/errors";
import { decodeInput } from "../sdk/jobs";
import type { ModelLoader } from "./models";
import type { DevEnclave } from "./tee/dev-enclave";

export interface ComputeResult {
  output: string;
  /** The verifier's proof: the enclave signature for TEE, empty for vanilla. */
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
  ) {}

  async compute(job: Job, input: string): Promise<ComputeResult> {
    if (keccak256(input) !== job.inputHash) throw new InputError(`job ${job.id}: the inline input does not hash to the job's inputHash`);
    const features = decodeInput(input);
    const model = await this.models.load(job.modelId, job.version);
    const output = hexlify(encodeClassification(await model.run(features)));
    const salt = job.redundancy > 1n ? hexlify(randomBytes(32)) : undefined;
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

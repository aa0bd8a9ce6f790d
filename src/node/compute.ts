import { hexlify, randomBytes } from "ethers";
import type { Job } from "../core/job";
import { UnsupportedError } from "../core/errors";
import { ModelError } from "./errors";
import {
  modeModule,
  ModeNotServedError,
  type ClaimChecks,
  type EnclaveSigner,
  type ModeModule,
  type ModeNode,
  type ModelSource,
  type ZkCircuitSource,
} from "../modes";

export interface ComputeResult {
  output: string;
  /** The verifier's proof: the enclave signature for TEE, `abi.encode(packedOutput, Groth16 proof)` for ZK, empty for vanilla. */
  proof: string;
  /** The commit-reveal salt for k > 1. */
  salt?: string;
}

/**
 * Runs a job's inference and produces what the escrow needs: output, proof and salt (k > 1). What depends on the
 * job's mode is its module's (`src/modes`); a mode this node cannot serve is a ModelError (the job is refused).
 */
export class Computer {
  private readonly node: ModeNode;

  constructor(
    models: ModelSource,
    chainId: bigint,
    escrow: string,
    address: string,
    enclave: EnclaveSigner | undefined,
    zk?: ZkCircuitSource,
  ) {
    this.node = { chainId, escrow, address, models, enclave, zk };
  }

  /** Why the job's terms rule it out for its mode (a ZK job with k > 1), or undefined. */
  claimRefusal(job: Job): string | undefined {
    const mode = this.moduleOrRefusal(job);
    return typeof mode === "string" ? mode : mode.redundancyRefusal(job.redundancy);
  }

  /** Why this node is not ready for a job of its mode (no enclave, enclave not registered), or undefined. */
  async readiness(job: Job, checks: ClaimChecks): Promise<string | undefined> {
    const mode = this.moduleOrRefusal(job);
    return typeof mode === "string" ? mode : mode.readiness(this.node, checks);
  }

  /** Whether a job's submission may go into a batch (`submitBatch`). */
  batchable(job: Job): boolean {
    const mode = this.moduleOrRefusal(job);
    return typeof mode !== "string" && mode.batchable;
  }

  /**
   * Why `input` can never be computed for `job`, or undefined. Vanilla and TEE jobs commit to `keccak256(input)`;
   * a ZK job commits to the Poseidon hash of the quantized input and its salt, which only the circuit's model can
   * recompute, so the circuit is loaded (and cached) here: a node refuses before claiming, not after.
   */
  async refusal(job: Job, input: string): Promise<string | undefined> {
    const mode = this.moduleOrRefusal(job);
    return typeof mode === "string" ? mode : mode.inputRefusal(job, input, this.node);
  }

  /**
   * @throws InputError when the input can never be computed; ModelError when the model or the mode cannot be served.
   */
  async compute(job: Job, input: string): Promise<ComputeResult> {
    const salt = job.redundancy > 1n ? hexlify(randomBytes(32)) : undefined;
    const mode = this.moduleOrRefusal(job);
    if (typeof mode === "string") throw new ModelError(`job ${job.id}: ${mode}`);
    try {
      return { ...(await mode.compute(job, input, this.node)), salt };
    } catch (error) {
      if (error instanceof ModeNotServedError) throw new ModelError(error.message, { cause: error });
      throw error;
    }
  }

  private moduleOrRefusal(job: Job): ModeModule | string {
    try {
      return modeModule(job.mode);
    } catch (error) {
      if (error instanceof UnsupportedError) return `mode ${job.mode} is not supported by this node`;
      throw error;
    }
  }
}

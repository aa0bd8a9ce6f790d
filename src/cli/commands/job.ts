import type { Command } from "commander";
import { getBytes, keccak256 } from "ethers";
import { toJobId } from "../../core/ids";
import { MODE_NAMES, type Mode } from "../../core/modes";
import { withRetry } from "../../core/retry";
import { getJobRequest } from "../../sdk/jobs";
import { withChain } from "../context";
import { parseJobId, type Globals } from "../options";
import { describeOutput, print, tokens } from "../output";

const STATUS = ["none", "open", "settled", "refunded"];

/** `vin job <id>`: a job's terms, state and result, from its request event and the escrow. */
export function register(program: Command, global: Globals): void {
  program
    .command("job <id>")
    .description("show a job: its terms, state and result")
    .action(async (id: string) => {
      const g = global();
      const jobId = toJobId(parseJobId(id));
      await withChain(g, async (config, provider, contracts) => {
        const request = await getJobRequest({
          escrow: contracts.escrow,
          provider,
          jobId,
          fromBlock: config.contracts.startBlock,
          maxRange: config.maxBlockRange,
        });
        const state = await withRetry("escrow.stateOf", () => contracts.escrow.stateOf(jobId));
        const [outputHash, output] = await withRetry("escrow.resultOf", () => contracts.escrow.resultOf(jobId));
        const status = STATUS[Number(state.status)] ?? String(state.status);
        const value = {
          jobId,
          terms: request.job,
          input: request.input,
          inputUri: request.inputUri,
          requestTx: request.transactionHash,
          status,
          filled: state.filled,
          committed: state.committed,
          revealed: state.revealed,
          output: output === "0x" ? undefined : output,
          outputHash: output === "0x" ? undefined : outputHash,
        };
        const { job } = request;
        print(!!g.json, value, () =>
          [
            `job ${jobId}: ${status} (slots filled ${state.filled}/${job.redundancy})`,
            `model ${job.modelId}@${job.version}, mode ${MODE_NAMES[Number(job.mode) as Mode] ?? job.mode}, requester ${job.requester}`,
            `fee per node ${tokens(job.feePerNode)}, collateral ${tokens(job.collateral)}, deadline ${new Date(Number(job.deadline) * 1000).toISOString()}`,
            `input ${new TextDecoder().decode(getBytes(request.input)) || request.inputUri} (hash ${keccak256(request.input)})`,
            ...(output === "0x" ? [] : [`result ${describeOutput(output)}`, `output hash ${outputHash}`]),
          ].join("\n"),
        );
      });
    });
}

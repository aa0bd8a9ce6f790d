import type { Command } from "commander";
import { VerificationError } from "../../core/errors";
import { toJobId } from "../../core/ids";
import { verifyJob, withChain } from "../context";
import { parseJobId, type Globals } from "../options";
import { print } from "../output";

/** `vin verify <id>`: a settled job re-verified off-chain (see `verifyResult`); exits non-zero if it fails. */
export function register(program: Command, global: Globals): void {
  program
    .command("verify <id>")
    .description(
      "re-verify a settled job off-chain (output hash; TEE: the enclave signature and its registration; ZK: the verifier's factory and key, the circuit rebuilt from the ONNX file, zkey verify, the proof)",
    )
    .action(async (id: string) => {
      const g = global();
      parseJobId(id);
      await withChain(g, async (config, provider, contracts) => {
        const report = await verifyJob(config, provider, contracts, toJobId(id), config.contracts.startBlock);
        print(!!g.json, report, () =>
          [
            `job ${id} (${report.mode}): ${report.ok ? "VERIFIED" : "NOT VERIFIED"}`,
            ...report.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`),
          ].join("\n"),
        );
        if (!report.ok)
          throw new VerificationError(
            `job ${id} failed verification: ${report.checks
              .filter((c) => !c.ok)
              .map((c) => c.name)
              .join(", ")}`,
          );
      });
    });
}

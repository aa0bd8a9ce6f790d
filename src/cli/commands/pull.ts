import type { Command } from "commander";
import { ModelRegistry__factory } from "../../../typechain-types";
import { parseModelRef, pullModel } from "../../hub/pull";
import { progressPrinter } from "../output";
import type { Globals } from "../options";
import { hubContext, hubOutput, type HubContext } from "./hub";

/** `vin pull <model[@version]>`: a version's files by their registered CIDs, each SHA-256 checked (see `pullModel`). */
export function register(program: Command, global: Globals, context: HubContext = hubContext(global)): void {
  const { out, err } = hubOutput(context);
  program
    .command("pull")
    .description("download a model version by its registered CIDs and verify every file's SHA-256")
    .argument("<model[@version]>", "model id, optionally @version (default: latest)")
    .requiredOption("--out <dir>", "directory to write the files to")
    .option("--force", "write into a non-empty directory")
    .option("--json", "print the result as JSON")
    .action(async (ref: string, opts: { out: string; force?: boolean; json?: boolean }) => {
      const parsed = parseModelRef(ref);
      const { contracts } = await context.deployment();
      const registry = ModelRegistry__factory.connect(contracts.registry.address, await context.provider());
      const store = await context.contentStore();
      try {
        const result = await pullModel({
          ...parsed,
          registry,
          store,
          outDir: opts.out,
          overwrite: opts.force ?? false,
          log: opts.json ? undefined : out,
          onProgress: progressPrinter(err, opts.json === true),
        });
        if (opts.json) out(JSON.stringify({ ...result, modelId: result.modelId.toString() }, null, 2));
        else
          out(
            `pulled model ${result.modelId} version ${result.version} (${result.files.length} files) into ${result.outDir}`,
          );
      } finally {
        await store.close();
      }
    });
}

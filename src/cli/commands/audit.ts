import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { getAddress, isAddress } from "ethers";
import { isLocalChain } from "../../core/chains";
import { readDeployment } from "../../core/deployment";
import { InputError, VerificationError } from "../../core/errors";
import { checkEndpoint, createProvider } from "../../core/provider";
import { loadConfig } from "../../node/config";
import { openNodeContent } from "../../node/content-store";
import { auditAddress, type AuditReport } from "../../sdk/auditAddress";
import { writeAuditReport } from "../../sdk/auditReport";
import { openContentStore } from "../../storage";
import type { Globals } from "../options";
import { print } from "../output";

interface AuditFlags {
  rpc?: string;
  deployment?: string;
  confirmations?: string;
  out?: string;
  allowUnevaluated?: boolean;
  contentDir?: string;
}

/**
 * `vin audit <address>`: every inference `address` (an account or a consumer contract) paid for, re-verified from the
 * chain as of a confirmed block (see `auditAddress`), written as `report.json`, `report.html` and SVG plots; exits
 * non-zero if any check fails.
 */
export function register(program: Command, global: Globals): void {
  program
    .command("audit <address>")
    .description(
      "re-verify every inference an address (requester or consumer contract) used: proof or enclave, redundancy, model version and its verified evaluation, input commitment, output, price, timing; JSON and HTML report, non-zero exit on any failure",
    )
    .option(
      "--rpc <url>",
      "any JSON-RPC endpoint (default: the config's rpcUrl); TEE checks read state at settlement blocks",
    )
    .option(
      "--deployment <file>",
      "the deployment record (default: the config's contracts, else deployments/localhost.json)",
    )
    .option("--confirmations <n>", "blocks below the head to read at (default 12; 0 on local chains)")
    .option("--out <dir>", "where report.json, report.html and the plots go (default audit-<address>)")
    .option("--allow-unevaluated", "a version without a verified evaluation is a warning, not a failure")
    .option(
      "--content-dir <dir>",
      "ZK jobs: a directory of files named by CID holding the versions' files (default: the config's, else --ipfs-dir or --kubo)",
    )
    .action(async (address: string, opts: AuditFlags) => {
      const g = global();
      if (!isAddress(address)) throw new InputError(`"${address}" is not an address`);
      const target = getAddress(address);
      const config = existsSync(g.config) ? loadConfig(g.config) : undefined;
      const rpc = opts.rpc ?? config?.rpcUrl;
      if (rpc === undefined) throw new InputError("give --rpc <url> (or a config with rpcUrl: --config)");
      const deployment = deploymentOf(opts.deployment, config);
      const provider = createProvider(rpc, { timeoutMs: config?.rpcTimeoutMs ?? 30_000 });
      const content =
        opts.contentDir !== undefined
          ? await openNodeContent({ contentDir: path.resolve(opts.contentDir), kuboUrl: g.kubo, timeoutMs: 30_000 })
          : config !== undefined
            ? await openNodeContent({
                contentDir: config.contentDir,
                ipfsDir: config.ipfsDir,
                kuboUrl: config.kuboUrl,
                timeoutMs: config.contentTimeoutMs,
              })
            : { store: await openContentStore(g.kubo === undefined ? { dir: g.ipfsDir } : { kuboUrl: g.kubo }) };
      try {
        const chainId = BigInt(await checkEndpoint(provider, rpc, deployment.chainId));
        const confirmations =
          opts.confirmations === undefined ? (isLocalChain(chainId) ? 0 : 12) : parseCount(opts.confirmations);
        const report = await auditAddress({
          provider,
          chainId,
          deployment,
          address: target,
          confirmations,
          content: content.store,
          allowUnevaluated: opts.allowUnevaluated === true,
          maxRange: config?.maxBlockRange,
          log: g.json ? undefined : (line) => process.stderr.write(`${line}\n`),
        });
        const out = path.resolve(opts.out ?? `audit-${target.toLowerCase()}`);
        const files = writeAuditReport(report, out);
        print(!!g.json, report, () => summarize(report, files));
        if (!report.ok)
          throw new VerificationError(
            `the audit of ${target} failed: ${[
              ...report.checks.filter((c) => !c.ok).map((c) => c.name),
              ...report.jobs
                .filter((j) => !j.ok)
                .map(
                  (j) =>
                    `job ${j.jobId} (${j.checks
                      .filter((c) => !c.ok && c.severity === "fail")
                      .map((c) => c.name)
                      .join(", ")})`,
                ),
            ].join("; ")} (see ${files.html})`,
          );
      } finally {
        await ("close" in content ? content.close() : content.store.close());
        provider.destroy();
      }
    });
}

function summarize(report: AuditReport, files: { json: string; html: string }): string {
  const s = report.summary;
  return [
    `audit of ${report.address}: ${report.ok ? "PASSED" : "FAILED"} — ${s.jobs} jobs (${s.settled} settled, ${s.refunded} refunded, ${s.open} open), ${s.failedJobs} failed, ${s.warnings} warnings`,
    `read at block ${report.block.number} (${report.block.hash}), ${report.confirmations} below the head ${report.head}`,
    ...report.jobs.map(
      (j) =>
        `  ${j.ok ? "ok  " : "FAIL"} job ${j.jobId} [${j.mode}] model ${j.modelId}@${j.version}: ${j.status}${j.output === undefined ? "" : ` -> ${j.output.text}`}${j.consumer === undefined ? "" : `; consumer ${j.consumer.detail}`}${j.checks
          .filter((c) => !c.ok)
          .map((c) => `\n        ${c.severity === "warn" ? "warning" : "FAIL"} ${c.name}: ${c.detail}`)
          .join("")}`,
    ),
    `report: ${path.relative(process.cwd(), files.html)} and ${path.relative(process.cwd(), files.json)}`,
  ].join("\n");
}

/** The deployment to audit against: `--deployment`, else the config's addresses, else deployments/localhost.json. */
function deploymentOf(
  file: string | undefined,
  config: ReturnType<typeof loadConfig> | undefined,
): { chainId: number; startBlock: number; contracts: Record<string, { address: string }> } {
  if (file !== undefined) return readDeployment(file);
  if (config !== undefined) {
    const { startBlock, ...addresses } = config.contracts;
    return {
      chainId: config.chainId,
      startBlock,
      contracts: Object.fromEntries(
        Object.entries(addresses)
          .filter(([, a]) => typeof a === "string")
          .map(([name, a]) => [name, { address: a as string }]),
      ),
    };
  }
  return readDeployment(path.join("deployments", "localhost.json"));
}

function parseCount(value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new InputError(`--confirmations must be a whole number, got "${value}"`);
  return Number(value);
}

import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { requireReceiptSettlement, type Contracts } from "../../core/contracts";
import { InputError, VerificationError, firstLine } from "../../core/errors";
import {
  buildReceiptTree,
  parseBatchData,
  parseReceiptFile,
  type Inclusion,
  type ReceiptFile,
} from "../../core/receipts";
import { teeDomain } from "../../core/tee";
import { checkReceipt, proveInclusion, verifyInclusion } from "../../sdk/receipts";
import { withChain } from "../context";
import type { Globals } from "../options";
import { print } from "../output";

export interface VerifyOptions {
  batch?: string;
  data?: string;
}

/**
 * `vin receipt verify <receipt.json> [--batch <id>] [--data <batch.json>]`: checks a receipt against the chain (its
 * enclave's signature and registration, its contract and price) and, with an inclusion (in the file, or found in a
 * batch's published data), that it is in a committed batch not cancelled; exits non-zero with the reason otherwise.
 */
export function register(program: Command, global: Globals): void {
  const receipt = program.command("receipt").description("inference receipts and their batched settlement");
  receipt
    .command("verify <file>")
    .description(
      "check a receipt (enclave signature and registration, contract, price) and its inclusion in a committed batch",
    )
    .option("--batch <id>", "the batch the receipt must be in")
    .option("--data <file>", "the batch's published data, to prove the receipt's inclusion from")
    .action(async (path: string, options: VerifyOptions) => {
      const g = global();
      const file = loadReceiptFile(path, options);
      await withChain(g, async (_config, _provider, contracts) => {
        const report = await verifyReceiptFile(contracts, file);
        print(!!g.json, report, () =>
          [
            `receipt ${file.receipt.paymentId}: ${report.ok ? "VERIFIED" : "NOT VERIFIED"}`,
            ...report.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`),
          ].join("\n"),
        );
        if (!report.ok)
          throw new VerificationError(
            `the receipt failed verification: ${report.checks
              .filter((c) => !c.ok)
              .map((c) => `${c.name} (${c.detail})`)
              .join("; ")}`,
          );
      });
    });
}

/** What `vin receipt verify` found: each check, and whether all passed. */
export interface ReceiptReport {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string }[];
}

/**
 * Checks `file`'s receipt against the chain and, when it has an inclusion, its batch.
 * @throws only for what is not a verification failure (no settlement configured, the chain unreachable).
 */
export async function verifyReceiptFile(
  contracts: Pick<Contracts, "teeVerifier" | "registry" | "escrow" | "receiptSettlement">,
  file: ReceiptFile,
): Promise<ReceiptReport> {
  const settlement = requireReceiptSettlement(contracts);
  const checks: ReceiptReport["checks"] = [];
  const run = async (name: string, check: () => Promise<string>) => {
    try {
      checks.push({ name, ok: true, detail: await check() });
    } catch (error) {
      if (!(error instanceof VerificationError)) throw error;
      checks.push({ name, ok: false, detail: firstLine(error) });
    }
  };
  await run("receipt", async () => {
    const checked = await checkReceipt(contracts, settlement, file);
    return `signed by enclave ${checked.enclave} of operator ${file.receipt.operator}, price ${file.receipt.price}`;
  });
  const inclusion = file.inclusion;
  if (inclusion !== undefined)
    await run("inclusion", async () => {
      const batch = await verifyInclusion(settlement, file);
      const status = ["none", "pending", "finalized", "cancelled"][Number(batch.status)];
      return `leaf ${inclusion.index} of batch ${inclusion.batchId} (${status})`;
    });
  return { ok: checks.every((c) => c.ok), checks };
}

/**
 * Reads a receipt file; with `--data`, proves its inclusion from the batch's published data; with `--batch`,
 * requires the inclusion to name that batch.
 * @throws InputError for an unreadable or malformed file or option; VerificationError when the receipt is not in the
 * data or the inclusion names another batch.
 */
export function loadReceiptFile(path: string, options: VerifyOptions = {}): ReceiptFile {
  const file = readJson(path, parseReceiptFile);
  const batchId = options.batch === undefined ? undefined : parseBatchId(options.batch);
  let inclusion: Inclusion | undefined = file.inclusion;
  if (options.data !== undefined) {
    if (batchId === undefined)
      throw new InputError("--data needs --batch: the id of the batch the data was committed as");
    const data = readJson(options.data, parseBatchData);
    const index = data.receipts.findIndex((r) => r.signature.toLowerCase() === file.signature.toLowerCase());
    if (index < 0) throw new VerificationError(`the receipt is not in the batch data ${options.data}`);
    inclusion = proveInclusion(
      buildReceiptTree(teeDomain(data.chainId, data.teeVerifier), data.receipts),
      batchId,
      index,
    );
  }
  if (batchId !== undefined && inclusion === undefined)
    throw new InputError(`--batch ${batchId} needs the receipt's inclusion: in the file, or from the batch's --data`);
  if (batchId !== undefined && inclusion!.batchId !== batchId)
    throw new VerificationError(`the receipt's inclusion names batch ${inclusion!.batchId}, not ${batchId}`);
  return inclusion === undefined ? file : { ...file, inclusion };
}

function parseBatchId(text: string): bigint {
  if (!/^[1-9]\d{0,18}$/.test(text))
    throw new InputError(`--batch must be a batch id (a positive integer), got "${text}"`);
  return BigInt(text);
}

function readJson<T>(path: string, parse: (body: unknown) => T): T {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new InputError(`cannot read ${path}`, { cause });
  }
  try {
    return parse(JSON.parse(text));
  } catch (cause) {
    throw new InputError(`${path} is malformed: ${firstLine(cause)}`, { cause });
  }
}

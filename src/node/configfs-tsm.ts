/**
 * Quotes from a real Intel TDX guest through the Linux kernel's configfs-tsm interface (Linux 6.7 or later,
 * `Documentation/ABI/testing/configfs-tsm`): the guest creates a report entry, writes the 64 bytes of report data
 * to its `inblob`, and reads the quote the TDX module and the host's quoting enclave produced from its `outblob`.
 * The quote's certification data carries the platform's PCK certificate chain (from Intel's PCS, cached by the
 * host's QCNL), which the registration caches on-chain.
 *
 * This is the production path of `vin enclave register --quotes configfs-tsm`: the node runs inside the TD, whose
 * memory the hardware keeps from the host, and the quote proves what the TD runs (MRTD, RTMR0-3). It is not
 * exercised here (no TDX hardware): only its absence is.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { ConflictError, InputError, UnsupportedError } from "../core/errors";
import { trimQuote } from "../tee/quote";

/** Where configfs-tsm's report entries live when configfs is mounted at its usual place. */
export const TSM_REPORT_DIR = "/sys/kernel/config/tsm/report";

/** The configfs-tsm provider of TDX guests (`provider` of a report entry). */
const TDX_PROVIDER = "tdx_guest";

export interface TsmQuoteOptions {
  /** The report directory (default {@link TSM_REPORT_DIR}). */
  dir?: string;
}

/**
 * A TDX quote whose report data is `reportData` (64 bytes), from the TDX module through configfs-tsm.
 * @throws UnsupportedError when there is no configfs-tsm report directory (not a TDX guest, an older kernel, configfs
 *   not mounted) or its provider is not TDX; ConflictError when another process wrote to the entry meanwhile.
 * @example const quote = await readTsmQuote(enclaveReportData(binding));
 */
export async function readTsmQuote(reportData: Uint8Array, options: TsmQuoteOptions = {}): Promise<Uint8Array> {
  if (reportData.length !== 64) throw new InputError(`report data is 64 bytes, got ${reportData.length}`);
  const root = options.dir ?? TSM_REPORT_DIR;
  if (!existsSync(root)) {
    throw new UnsupportedError(
      `${root} not found: quotes from configfs-tsm need an Intel TDX guest with Linux 6.7 or later and configfs mounted (use the development quotes elsewhere)`,
    );
  }
  // mkdir in configfs creates a report entry; the kernel removes it with rmdir.
  const entry = await mkdtemp(path.join(root, "vin-"));
  try {
    const read = (name: string) => readFile(path.join(entry, name));
    const provider = (await read("provider")).toString("utf8").trim();
    if (provider !== TDX_PROVIDER)
      throw new UnsupportedError(
        `configfs-tsm provider is "${provider}", not "${TDX_PROVIDER}": only Intel TDX quotes register enclaves`,
      );
    await writeFile(path.join(entry, "inblob"), reportData);
    const generation = (await read("generation")).toString("utf8").trim();
    const quote = await read("outblob");
    // Every write to the entry bumps its generation: a different one means another writer's report data.
    if ((await read("generation")).toString("utf8").trim() !== generation)
      throw new ConflictError(
        `configfs-tsm entry ${entry} was written by another process while its quote was read; try again`,
      );
    return trimQuote(new Uint8Array(quote));
  } finally {
    await rmdir(entry).catch(() => undefined);
  }
}

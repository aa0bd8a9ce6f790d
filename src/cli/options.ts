/** Parsers of the flags several commands share; each failure is an InputError naming the flag's value. */
import { parseUnits } from "ethers";
import { InputError } from "../core/errors";
import { isModeName, type ModeName } from "../core/modes";

/** The options every command sees (before its own): `vin --config ... --password-file ... --json <command>`. */
export interface GlobalOptions {
  config: string;
  passwordFile?: string;
  json?: boolean;
  /** Embedded IPFS store of publish and pull. */
  ipfsDir: string;
  /** A Kubo node's RPC, used instead of the embedded store. */
  kubo?: string;
}

/** Reads the global options when a command runs (commander parses them first). */
export type Globals = () => GlobalOptions;

/** A `--modes` list such as `vanilla,tee`, without duplicates. */
export function parseModeNames(list: string): ModeName[] {
  const modes = list.split(",").map((m) => m.trim().toLowerCase());
  for (const m of modes)
    if (!isModeName(m))
      throw new InputError(`unknown mode "${m}": use vanilla, tee, zk or a list (--modes vanilla,tee,zk)`);
  return [...new Set(modes)] as ModeName[];
}

/** A positive token amount such as `100` or `0.5`, in wei (18 decimals). */
export function parseAmount(amount: string): bigint {
  try {
    const wei = parseUnits(amount, 18);
    if (wei <= 0n) throw new Error("not positive");
    return wei;
  } catch (cause) {
    throw new InputError(`"${amount}" is not a positive token amount (e.g. 100 or 0.5)`, { cause });
  }
}

/** A job id argument: decimal digits. */
export function parseJobId(id: string): string {
  if (!/^\d+$/.test(id)) throw new InputError(`job id "${id}" is not a number`);
  return id;
}

/**
 * Features from `--input` or a line of input: a non-empty JSON array of finite numbers.
 * @throws InputError naming `what` and the expected form.
 */
export function parseFeatures(json: string, what = "--input"): number[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (cause) {
    throw new InputError(`${what} is not JSON: pass an array of numbers, e.g. '[39.1, 18.7, 181, 3750]'`, { cause });
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "number" && Number.isFinite(v)))
    throw new InputError(`${what} must be a non-empty JSON array of numbers`);
  return value as number[];
}

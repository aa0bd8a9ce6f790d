import { formatUnits, getBytes } from "ethers";
import { BaseError, exitCodeOf } from "../core/errors";
import { decodeClassification } from "../inference/onnx";
import type { FetchProgress } from "../storage";

/** Prints `value` as JSON (bigints as decimal strings) or as `text()`. */
export function print(json: boolean, value: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) : text());
}

export const tokens = (wei: bigint): string => `${formatUnits(wei, 18)} tokens`;

/** A job's output as a person reads it: a packed ZK output, a class and its logits, or the raw bytes. */
export function describeOutput(output: string): string {
  if (getBytes(output).length === 6)
    return `packed ZK output ${BigInt(output)} (class index for classifiers, value + 2^47 at 2^-s for regressors)`;
  try {
    const { label, logits } = decodeClassification(getBytes(output));
    return `class ${label} (logits ${logits.join(", ")})`;
  } catch {
    return output;
  }
}

/** One line: what is wrong and what to do; the exit code from the one table in src/core/errors.ts. The cause chain goes to stderr only with VIN_DEBUG=1. */
export function reportError(error: unknown): number {
  const message =
    error instanceof BaseError
      ? error.message
      : `unexpected error: ${String((error as Error)?.message ?? error).split("\n")[0]}`;
  console.error(`error: ${message}`);
  if (process.env.VIN_DEBUG === "1") console.error(error);
  return exitCodeOf(error);
}

/** Prints a large fetch's progress to stderr, at most once a second. */
export function progressPrinter(err: (line: string) => void, quiet: boolean): ((p: FetchProgress) => void) | undefined {
  if (quiet) return undefined;
  let last = Date.now();
  return (p) => {
    if (Date.now() - last < 1_000) return;
    last = Date.now();
    const total = p.total === undefined ? "" : ` of ${p.total}`;
    err(`${p.cid}: ${p.bytes}${total} bytes from ${p.provider}`);
  };
}

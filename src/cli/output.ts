import { formatUnits } from "ethers";
import { BaseError, exitCodeOf } from "../core/errors";

/** Prints `value` as JSON (bigints as decimal strings) or as `text()`. */
export function print(json: boolean, value: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) : text());
}

export const tokens = (wei: bigint): string => `${formatUnits(wei, 18)} tokens`;

/** One line: what is wrong and what to do; the exit code from the one table in src/core/errors.ts. The cause chain goes to stderr only with VIN_DEBUG=1. */
export function reportError(error: unknown): number {
  const message = error instanceof BaseError ? error.message : `unexpected error: ${String((error as Error)?.message ?? error).split("\n")[0]}`;
  console.error(`error: ${message}`);
  if (process.env.VIN_DEBUG === "1") console.error(error);
  return exitCodeOf(error);
}

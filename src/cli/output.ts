import { formatUnits } from "ethers";
import { VinError, ConfigError, InputError, KeyError, RpcError, ContractError, InstanceConflictError, TimeoutError, VerificationError, ModelError, StoreError } from "../sdk/errors";

/** Prints `value` as JSON (bigints as decimal strings) or as `text()`. */
export function print(json: boolean, value: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2) : text());
}

export const tokens = (wei: bigint): string => `${formatUnits(wei, 18)} tokens`;

/** Exit code per error area, so scripts can tell a bad config from an outage. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof ConfigError || error instanceof InputError) return 2;
  if (error instanceof KeyError) return 3;
  if (error instanceof RpcError || error instanceof TimeoutError) return 4;
  if (error instanceof ContractError) return 5;
  if (error instanceof InstanceConflictError) return 6;
  if (error instanceof VerificationError) return 7;
  if (error instanceof ModelError || error instanceof StoreError) return 8;
  return 1;
}

/** One line: what is wrong and what to do. The cause chain goes to stderr only with VIN_DEBUG=1. */
export function reportError(error: unknown): number {
  const message = error instanceof VinError ? error.message : `unexpected error: ${String((error as Error)?.message ?? error).split("\n")[0]}`;
  console.error(`error: ${message}`);
  if (process.env.VIN_DEBUG === "1") console.error(error);
  return exitCodeOf(error);
}

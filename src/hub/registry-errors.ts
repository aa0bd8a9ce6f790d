import type { Interface } from "ethers";
import { RegistryTransactionError } from "./errors";

interface EthersCallError {
  data?: unknown;
  revert?: { name: string; args: readonly unknown[] } | null;
  receipt?: { hash: string } | null;
  info?: { error?: { data?: unknown } };
  shortMessage?: string;
}

/**
 * Turns an ethers error of a registry call (simulation or mined transaction) into a
 * {@link RegistryTransactionError} carrying the decoded custom error, when there is one.
 * @example catch (e) { throw decodeRegistryError(registry.interface, "publishVersion", e); }
 */
export function decodeRegistryError(
  iface: Interface,
  call: string,
  error: unknown,
  txHash?: string,
): RegistryTransactionError {
  const e = (error ?? {}) as EthersCallError;
  let decoded = e.revert ?? undefined;
  const data =
    typeof e.data === "string" ? e.data : typeof e.info?.error?.data === "string" ? e.info.error.data : undefined;
  if (decoded === undefined && data !== undefined && data.length >= 10) {
    const parsed = iface.parseError(data);
    if (parsed !== null) decoded = { name: parsed.name, args: [...parsed.args] };
  }
  return new RegistryTransactionError(call, decoded?.name, decoded?.args ?? [], {
    cause: error,
    txHash: txHash ?? e.receipt?.hash,
    details:
      decoded === undefined ? (e.shortMessage ?? (error instanceof Error ? error.message : String(error))) : undefined,
  });
}

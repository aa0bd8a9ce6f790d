/**
 * What serving and using the private path needs from TEE mode: an enclave's on-chain state, whether it may serve a
 * model version privately right now, and the inference itself. The operator's gateway (src/node) and the client
 * (src/sdk) read the same state the same way.
 */
import { ZeroAddress, ZeroHash } from "ethers";
import type { Contracts } from "../core/contracts";
import { Mode } from "../core/modes";
import { withRetry, type RetryOptions } from "../core/retry";
import type { EnclaveReading } from "./types";

/** TeeVerifier's record of `enclave`, whether its measurement is revoked, and the latest block's clock. */
export async function readEnclave(
  contracts: Pick<Contracts, "teeVerifier" | "escrow">,
  enclave: string,
  retry: RetryOptions = {},
): Promise<EnclaveReading> {
  const { teeVerifier } = contracts;
  const [record, block] = await Promise.all([
    withRetry("teeVerifier.enclaveOf", () => teeVerifier.enclaveOf(enclave), retry),
    withRetry("eth_getBlock", () => contracts.escrow.runner!.provider!.getBlock("latest"), retry),
  ]);
  const measurementRevokedAt =
    record.measurement === ZeroHash
      ? 0n
      : await withRetry(
          "teeVerifier.measurementRevokedAt",
          () => teeVerifier.measurementRevokedAt(record.measurement),
          retry,
        );
  // No block means no clock to judge the expiry by: read as expired.
  const now = block === null ? record.expiresAt : BigInt(block.timestamp);
  return {
    operator: record.operator,
    expiresAt: record.expiresAt,
    revoked: record.revoked,
    measurement: record.measurement,
    measurementRevokedAt,
    now,
  };
}

/**
 * Why `enclave` (as `reading` found it) may not serve model `modelId`@`version` privately for `operator` now, or
 * undefined: it must be registered to that operator, unrevoked, unexpired, with an unrevoked measurement the version
 * binds for TEE mode.
 */
export async function privateServingRefusal(
  contracts: Pick<Contracts, "registry">,
  enclave: string,
  reading: EnclaveReading,
  operator: string,
  model: { modelId: bigint; version: bigint },
  retry: RetryOptions = {},
): Promise<string | undefined> {
  if (reading.operator === ZeroAddress) return `enclave ${enclave} is not registered in TeeVerifier`;
  if (reading.operator.toLowerCase() !== operator.toLowerCase())
    return `enclave ${enclave} is registered to ${reading.operator}, not to the gateway's operator ${operator}`;
  if (reading.revoked) return `enclave ${enclave} was revoked`;
  if (reading.measurementRevokedAt !== 0n)
    return `the measurement ${reading.measurement} of enclave ${enclave} was revoked at ${reading.measurementRevokedAt}`;
  if (reading.now >= reading.expiresAt)
    return `the registration of enclave ${enclave} expired at ${reading.expiresAt} (chain time ${reading.now})`;
  const { modelId, version } = model;
  const bound = await withRetry(
    "registry.isBound",
    () => contracts.registry.isBound(modelId, version, Mode.Tee, reading.measurement),
    retry,
  );
  if (!bound)
    return `model ${modelId}@${version} does not bind the measurement ${reading.measurement} of enclave ${enclave} for TEE mode`;
  return undefined;
}

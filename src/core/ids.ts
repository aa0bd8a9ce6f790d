/**
 * Typed identifiers, mirroring `contracts/types/Ids.sol`: a model id cannot be passed where a job id is expected.
 * They are made once, where values enter from the chain (TypeChain output, event logs) or from a person (a flag,
 * an HTTP parameter), by the `to*` functions, which refuse what is not a valid id.
 */
import { InputError } from "./errors";

declare const jobIdBrand: unique symbol;
declare const modelIdBrand: unique symbol;

/** A job in a JobEscrow (`JobId`, 1-based `uint64`). */
export type JobId = bigint & { readonly [jobIdBrand]: true };
/** A model in the ModelRegistry (`ModelId`, 1-based `uint64`). */
export type ModelId = bigint & { readonly [modelIdBrand]: true };

const UINT64_MAX = (1n << 64n) - 1n;

/**
 * A positive 64-bit id (`uint64`, 1-based) from a number, bigint or decimal string: what every typed id is made of.
 * @throws InputError naming `what` when it is not one.
 */
export function positiveUint64(what: string, value: bigint | number | string): bigint {
  let n: bigint;
  try {
    n = BigInt(value);
  } catch (cause) {
    throw new InputError(`${what} "${String(value)}" is not a whole number`, { cause });
  }
  if (n < 1n || n > UINT64_MAX) throw new InputError(`${what} ${n} is out of range: ids start at 1 and fit in 64 bits`);
  return n;
}

/**
 * A {@link JobId} from a number, bigint or decimal string.
 * @throws InputError when it is not a positive 64-bit integer.
 * @example toJobId(7n)
 */
export const toJobId = (value: bigint | number | string): JobId => positiveUint64("job id", value) as JobId;

/**
 * A {@link ModelId} from a number, bigint or decimal string.
 * @throws InputError when it is not a positive 64-bit integer.
 * @example toModelId("3")
 */
export const toModelId = (value: bigint | number | string): ModelId => positiveUint64("model id", value) as ModelId;

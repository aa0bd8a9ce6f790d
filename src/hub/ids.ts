/**
 * The hub keeps a model id as a JavaScript number: SQLite's INTEGER columns and JSON (the HTTP API, the web page)
 * carry it as one. {@link modelIdNumber} is the one conversion from the chain's ids (core's bigint `ModelId`,
 * event arguments, URL parameters); every other id type and mode comes from src/core.
 */
import { InputError } from "../core/errors";
import { type ModelId, toModelId } from "../core/ids";

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A model id as the hub keeps it.
 * @throws InputError when `value` is not a model id (a positive 64-bit integer) or exceeds 2^53 - 1.
 * @example modelIdNumber(7n) // 7
 */
export function modelIdNumber(value: ModelId | bigint | number | string): number {
  const id = toModelId(value);
  if (id > MAX_SAFE) throw new InputError(`model id ${id} is above 2^53 - 1, the largest the hub indexes`);
  return Number(id);
}

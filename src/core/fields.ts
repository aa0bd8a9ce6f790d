/**
 * Reading fields of untrusted JSON (a request body, a receipt file, a gateway's answer) with errors that name the
 * field and what it must be. One copy for every parser in `src/`.
 */
import { getBytes, isHexString } from "ethers";
import { InputError } from "./errors";

/**
 * `body` as a JSON object.
 * @throws InputError naming `what` when it is not an object (an array or null is not).
 */
export function objectOf(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new InputError(`${what} must be a JSON object`);
  return body as Record<string, unknown>;
}

/**
 * `record[name]` as an unsigned integer below 2^`bits`: a decimal string, or a JSON number that is a safe integer.
 * @throws InputError naming the field, the width and the value otherwise.
 */
export function uintField(record: Record<string, unknown>, name: string, bits: number): bigint {
  const value = record[name];
  const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  const digits = Math.ceil(bits * Math.log10(2));
  if (typeof text !== "string" || !new RegExp(`^\\d{1,${digits}}$`).test(text) || BigInt(text) >= 1n << BigInt(bits))
    throw new InputError(`"${name}" must be an unsigned ${bits}-bit integer, got ${JSON.stringify(value)}`);
  return BigInt(text);
}

/**
 * `record[name]` as 0x-prefixed hex of whole bytes, exactly `bytes` of them when given; returned as written.
 * @throws InputError naming the field, and the length expected, otherwise.
 */
export function hexField(record: Record<string, unknown>, name: string, bytes?: number): string {
  const value = record[name];
  const what = bytes === undefined ? "0x-prefixed hex bytes" : `${bytes} bytes of 0x-prefixed hex`;
  if (typeof value !== "string" || !isHexString(value) || value.length % 2 !== 0)
    throw new InputError(`"${name}" must be ${what}, got ${JSON.stringify(value)?.slice(0, 80)}`);
  if (bytes !== undefined && getBytes(value).length !== bytes)
    throw new InputError(`"${name}" must be ${what}, got ${getBytes(value).length} bytes`);
  return value;
}

/**
 * Byte helpers of the wire formats: the integer conversions of RFC 8017 (I2OSP, OS2IP), 0x hex, and a reader that
 * names the field it was reading when the input ends early or has bytes left over.
 */
import { PrivacyPassInputError } from "./errors";

/** `0x`-prefixed lowercase hex, as the contracts take bytes32 values. */
export type Hex = `0x${string}`;

export function toHex(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}

/** The bytes of `0x`-prefixed (or bare) hex of even length; throws naming `field` otherwise. */
export function fromHex(value: string, field: string, length?: number): Uint8Array {
  const digits = value.startsWith("0x") || value.startsWith("0X") ? value.slice(2) : value;
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits))
    throw new PrivacyPassInputError(field, `expected hex bytes, got ${JSON.stringify(value.slice(0, 80))}`);
  if (length !== undefined && digits.length !== 2 * length)
    throw new PrivacyPassInputError(field, `expected ${length} bytes, got ${digits.length / 2}`);
  return new Uint8Array(Buffer.from(digits, "hex"));
}

/** The parts joined, in an ArrayBuffer of their own (never a view into Node's shared Buffer pool). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** A big-endian uint16. */
export function uint16(value: number): Uint8Array {
  return Uint8Array.of(value >> 8, value & 0xff);
}

/** RFC 8017 §4.1 I2OSP: `value` as `length` big-endian bytes; throws when it does not fit. */
export function i2osp(value: bigint, length: number): Uint8Array {
  if (value < 0n || value >= 1n << BigInt(8 * length)) throw new RangeError(`integer too large for ${length} bytes`);
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return out;
}

/** RFC 8017 §4.2 OS2IP: big-endian bytes as an integer. */
export function os2ip(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(toHex(bytes));
}

/** Reads a message field by field; every error names the field and the message. */
export class FieldReader {
  private offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    /** The message being read, prefixed to field names: "token", "requests[3]". */
    private readonly message: string,
  ) {}

  /** Exactly `n` bytes of `field`. */
  read(n: number, field: string): Uint8Array {
    const left = this.bytes.length - this.offset;
    if (left < n) throw new PrivacyPassInputError(this.name(field), `truncated: expected ${n} bytes, ${left} remain`);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  uint8(field: string): number {
    return this.read(1, field)[0]!;
  }

  uint16(field: string): number {
    const [high, low] = this.read(2, field);
    return (high! << 8) | low!;
  }

  /** A TLS-style vector with a 1- or 2-byte length prefix. */
  vector(prefix: 1 | 2, field: string): Uint8Array {
    return this.read(prefix === 1 ? this.uint8(field) : this.uint16(field), field);
  }

  /** Throws when bytes are left after the last field. */
  end(): void {
    const left = this.bytes.length - this.offset;
    if (left !== 0)
      throw new PrivacyPassInputError(this.message, `${left} unexpected bytes after the last field (${this.offset})`);
  }

  private name(field: string): string {
    return `${this.message}.${field}`;
  }
}

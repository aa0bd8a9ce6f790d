import { TeeQuoteError } from "./errors";

/** One DER element: its tag, where its header starts, and its content range [start, end). */
export interface DerElement {
  tag: number;
  offset: number;
  start: number;
  end: number;
}

/**
 * Reads the DER element at `offset`, which must end by `limit` (definite lengths of at most two bytes, as in
 * X.509 certificates); throws `DcapCertificateMalformed` otherwise.
 *
 * @example
 * const cert = readDer(der, 0); // the outer SEQUENCE
 */
export function readDer(der: Uint8Array, offset: number, limit = der.length): DerElement {
  const fail = (): never => {
    throw new TeeQuoteError("DcapCertificateMalformed", `bad DER element at offset ${offset}`);
  };
  if (limit > der.length || offset + 2 > limit) fail();
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length > 0x7f) {
    const count = length & 0x7f;
    if (count === 0 || count > 2 || start + count > limit) fail();
    length = count === 1 ? der[start]! : (der[start]! << 8) | der[start + 1]!;
    start += count;
  }
  const end = start + length;
  if (end > limit) fail();
  return { tag, offset, start, end };
}

/** The elements inside `parent`, in order. */
export function derChildren(der: Uint8Array, parent: DerElement): DerElement[] {
  const out: DerElement[] = [];
  for (let offset = parent.start; offset < parent.end;) {
    const child = readDer(der, offset, parent.end);
    out.push(child);
    offset = child.end;
  }
  return out;
}

/** Encodes one DER element. */
export function derEncode(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const header = n < 0x80 ? [tag, n] : n < 0x100 ? [tag, 0x81, n] : [tag, 0x82, n >> 8, n & 0xff];
  if (n > 0xffff) throw new TeeQuoteError("DcapCertificateMalformed", `element of ${n} bytes is too long`);
  return Buffer.concat([Uint8Array.from(header), content]);
}

/** A DER SEQUENCE of the given elements. */
export const derSequence = (...items: Uint8Array[]): Uint8Array => derEncode(0x30, Buffer.concat(items));

/** A DER OBJECT IDENTIFIER from its dotted form. */
export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const bytes = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const groups = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128))
      groups.unshift((rest & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return derEncode(0x06, Uint8Array.from(bytes));
}

/** A DER INTEGER of a non-negative value. */
export function derUint(value: bigint | number): Uint8Array {
  let hex = BigInt(value).toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let bytes = Buffer.from(hex, "hex");
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Uint8Array.of(0), bytes]);
  return derEncode(0x02, bytes);
}

/**
 * GGUF version 3, the file format of llama.cpp: a header (magic `GGUF`, version, tensor count, metadata count),
 * typed metadata key/values, tensor descriptors (name, dimensions innermost first, type, offset), then the tensor
 * data, each tensor aligned to `general.alignment` (default 32) from the start of the data section. All integers
 * are little-endian. This writer and reader cover the scalar, string and array value types and the F32 and F16
 * tensor types; the reader rejects anything else with an error naming it.
 */
import { InputError, UnsupportedError } from "../../core/errors";

/** The magic number, `GGUF` read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

const VALUE_TYPES = [
  "uint8",
  "int8",
  "uint16",
  "int16",
  "uint32",
  "int32",
  "float32",
  "bool",
  "string",
  "array",
  "uint64",
  "int64",
  "float64",
] as const;

/** A metadata value type other than array. */
export type GgufScalarType = Exclude<(typeof VALUE_TYPES)[number], "array">;
export type GgufScalar = number | bigint | boolean | string;

/** A typed metadata value (64-bit integers are bigints). */
export type GgufValue =
  { type: GgufScalarType; value: GgufScalar } | { type: "array"; itemType: GgufScalarType; value: GgufScalar[] };

/** Tensor types this module reads and writes (ggml type ids 0 and 1). */
export type GgufTensorType = "F32" | "F16";
const TENSOR_TYPES: Record<GgufTensorType, { id: number; bytes: number }> = {
  F32: { id: 0, bytes: 4 },
  F16: { id: 1, bytes: 2 },
};

/** A tensor to write: `dims` innermost first (a `[rows, cols]` row-major matrix is `[cols, rows]`). */
export interface GgufTensorInput {
  name: string;
  dims: number[];
  type: GgufTensorType;
  data: Float32Array;
}

/** What a GGUF holds. */
export interface GgufFile {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensor[];
}

/** A tensor as read: its raw bytes, and its values decoded by {@link tensorValues}. */
export interface GgufTensor {
  name: string;
  dims: number[];
  type: GgufTensorType;
  /** Offset in the data section. */
  offset: number;
  bytes: Uint8Array;
}

/** Raised when bytes are not a GGUF file this module understands, or are cut short. */
export class GgufFormatError extends InputError {
  override readonly name = "GgufFormatError";
}

/* WRITER */

class Writer {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  u64(v: number | bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  string(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.push(bytes);
  }
  scalar(type: GgufScalarType, v: GgufScalar): void {
    const b = Buffer.alloc(scalarSize(type));
    switch (type) {
      case "uint8":
        return this.push((b.writeUInt8(Number(v)), b));
      case "int8":
        return this.push((b.writeInt8(Number(v)), b));
      case "uint16":
        return this.push((b.writeUInt16LE(Number(v)), b));
      case "int16":
        return this.push((b.writeInt16LE(Number(v)), b));
      case "uint32":
        return this.push((b.writeUInt32LE(Number(v)), b));
      case "int32":
        return this.push((b.writeInt32LE(Number(v)), b));
      case "float32":
        return this.push((b.writeFloatLE(Number(v)), b));
      case "bool":
        return this.push((b.writeUInt8(v ? 1 : 0), b));
      case "uint64":
        return this.push((b.writeBigUInt64LE(BigInt(v)), b));
      case "int64":
        return this.push((b.writeBigInt64LE(BigInt(v)), b));
      case "float64":
        return this.push((b.writeDoubleLE(Number(v)), b));
      case "string":
        return this.string(String(v));
    }
  }
  pad(alignment: number): void {
    const rest = this.length % alignment;
    if (rest !== 0) this.push(Buffer.alloc(alignment - rest));
  }
  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks));
  }
}

function scalarSize(type: GgufScalarType): number {
  return {
    uint8: 1,
    int8: 1,
    bool: 1,
    uint16: 2,
    int16: 2,
    uint32: 4,
    int32: 4,
    float32: 4,
    uint64: 8,
    int64: 8,
    float64: 8,
    string: 0,
  }[type];
}

/**
 * Serialises metadata and tensors as GGUF v3 (metadata in the order given; tensor data aligned to
 * `general.alignment` when the metadata sets it, else 32 bytes).
 *
 * @example
 * const bytes = writeGguf(new Map([["general.architecture", { type: "string", value: "llama" }]]), [
 *   { name: "output_norm.weight", dims: [64], type: "F32", data: new Float32Array(64).fill(1) },
 * ]);
 */
export function writeGguf(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorInput[]): Uint8Array {
  const alignment = alignmentOf(metadata);
  const w = new Writer();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    w.u32(VALUE_TYPES.indexOf(value.type));
    if (value.type === "array") {
      w.u32(VALUE_TYPES.indexOf(value.itemType));
      w.u64(value.value.length);
      for (const item of value.value) w.scalar(value.itemType, item);
    } else w.scalar(value.type, value.value);
  }
  let offset = 0;
  const datas: Buffer[] = [];
  for (const t of tensors) {
    const count = t.dims.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new InputError(`tensor ${t.name}: dims ${t.dims.join("x")} hold ${count} values, got ${t.data.length}`);
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(TENSOR_TYPES[t.type].id);
    w.u64(offset);
    const data =
      t.type === "F32" ? Buffer.from(Float32Array.from(t.data).buffer) : Buffer.from(toFloat16(t.data).buffer);
    datas.push(data);
    offset += Math.ceil(data.length / alignment) * alignment;
  }
  w.pad(alignment);
  for (const data of datas) {
    w.push(data);
    w.pad(alignment);
  }
  return w.bytes();
}

function alignmentOf(metadata: ReadonlyMap<string, GgufValue>): number {
  const value = metadata.get("general.alignment")?.value;
  if (value === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0 || n % 8 !== 0)
    throw new GgufFormatError(`general.alignment ${n} is not a positive multiple of 8`);
  return n;
}

/* READER */

class Reader {
  offset = 0;
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.offset + n > this.bytes.length)
      throw new GgufFormatError(
        `GGUF is truncated: ${what} at byte ${this.offset} needs ${n} bytes, ${this.bytes.length - this.offset} left`,
      );
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  u64(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.offset, true);
    this.offset += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufFormatError(`GGUF ${what} ${v} is too large`);
    return Number(v);
  }
  string(what: string): string {
    const length = this.u64(`${what} length`);
    this.need(length, what);
    const s = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.offset, length).toString("utf8");
    this.offset += length;
    return s;
  }
  scalar(type: GgufScalarType, what: string): GgufScalar {
    if (type === "string") return this.string(what);
    const size = scalarSize(type);
    this.need(size, what);
    const o = this.offset;
    this.offset += size;
    const v = this.view;
    switch (type) {
      case "uint8":
        return v.getUint8(o);
      case "int8":
        return v.getInt8(o);
      case "uint16":
        return v.getUint16(o, true);
      case "int16":
        return v.getInt16(o, true);
      case "uint32":
        return v.getUint32(o, true);
      case "int32":
        return v.getInt32(o, true);
      case "float32":
        return v.getFloat32(o, true);
      case "bool":
        return v.getUint8(o) !== 0;
      case "uint64":
        return v.getBigUint64(o, true);
      case "int64":
        return v.getBigInt64(o, true);
      case "float64":
        return v.getFloat64(o, true);
    }
  }
  valueType(what: string): (typeof VALUE_TYPES)[number] {
    const id = this.u32(what);
    const type = VALUE_TYPES[id];
    if (type === undefined) throw new GgufFormatError(`GGUF ${what}: unknown value type ${id}`);
    return type;
  }
}

/**
 * Parses a GGUF file: header, metadata, tensor descriptors, and a view of every tensor's bytes.
 *
 * @throws GgufFormatError when the bytes are not GGUF, cut short, or inconsistent.
 * @throws UnsupportedError for a GGUF version other than 2 or 3, or a tensor type other than F32 or F16.
 * @example
 * const file = readGguf(readFileSync("model.gguf"));
 * file.metadata.get("general.architecture")?.value // "llama"
 */
export function readGguf(bytes: Uint8Array): GgufFile {
  const r = new Reader(bytes);
  if (bytes.length < 4 || r.u32("magic") !== GGUF_MAGIC)
    throw new GgufFormatError("not a GGUF file: it does not start with the magic bytes GGUF");
  const version = r.u32("version");
  if (version !== 2 && version !== 3) throw new UnsupportedError(`GGUF version ${version} is not supported (2 or 3)`);
  const tensorCount = r.u64("tensor count");
  const kvCount = r.u64("metadata count");
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = r.string(`metadata key ${i}`);
    const type = r.valueType(`metadata ${key}`);
    if (type === "array") {
      const itemType = r.valueType(`metadata ${key} item`);
      if (itemType === "array") throw new UnsupportedError(`GGUF metadata ${key}: nested arrays are not supported`);
      const count = r.u64(`metadata ${key} count`);
      const value: GgufScalar[] = [];
      for (let j = 0; j < count; j++) value.push(r.scalar(itemType, `metadata ${key}[${j}]`));
      metadata.set(key, { type, itemType, value });
    } else metadata.set(key, { type, value: r.scalar(type, `metadata ${key}`) });
  }
  const infos: Omit<GgufTensor, "bytes">[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = r.string(`tensor ${i} name`);
    const nDims = r.u32(`tensor ${name} dimension count`);
    if (nDims === 0 || nDims > 4) throw new GgufFormatError(`GGUF tensor ${name} has ${nDims} dimensions (1 to 4)`);
    const dims = Array.from({ length: nDims }, () => r.u64(`tensor ${name} dimension`));
    const typeId = r.u32(`tensor ${name} type`);
    const type = (Object.keys(TENSOR_TYPES) as GgufTensorType[]).find((t) => TENSOR_TYPES[t].id === typeId);
    if (type === undefined)
      throw new UnsupportedError(`GGUF tensor ${name} has ggml type ${typeId}: only F32 and F16 are read`);
    infos.push({ name, dims, type, offset: r.u64(`tensor ${name} offset`) });
  }
  const alignment = alignmentOf(metadata);
  const dataStart = Math.ceil(r.offset / alignment) * alignment;
  const tensors = infos.map((info) => {
    const size = info.dims.reduce((a, b) => a * b, 1) * TENSOR_TYPES[info.type].bytes;
    const start = dataStart + info.offset;
    if (info.offset % alignment !== 0)
      throw new GgufFormatError(`GGUF tensor ${info.name} is not aligned to ${alignment}`);
    if (start + size > bytes.length)
      throw new GgufFormatError(
        `GGUF is truncated: tensor ${info.name} needs bytes ${start} to ${start + size}, the file has ${bytes.length}`,
      );
    return { ...info, bytes: bytes.subarray(start, start + size) };
  });
  return { version, metadata, tensors };
}

/** The values of a tensor read by {@link readGguf}. */
export function tensorValues(tensor: GgufTensor): Float32Array {
  // A copy, aligned and detached from the file (Buffer#slice would share the file's memory, offset included).
  const copy = new Uint8Array(tensor.bytes);
  if (tensor.type === "F32") return new Float32Array(copy.buffer, 0, copy.length / 4);
  return fromFloat16(new Uint16Array(copy.buffer, 0, copy.length / 2));
}

/** A metadata value that must be present. */
export function requireMetadata(file: GgufFile, key: string): GgufValue {
  const value = file.metadata.get(key);
  if (value === undefined) throw new GgufFormatError(`GGUF has no metadata ${key}`);
  return value;
}

/* FLOAT16 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half precision of each value, rounded to nearest even. */
export function toFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i]!;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >>> shift;
      const rest = mant & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
    out[i] = sign | half;
  }
  return out;
}

/** The float values of IEEE half-precision bits. */
export function fromFloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    out[i] =
      exp === 0
        ? sign * 2 ** -14 * (mant / 1024)
        : exp === 0x1f
          ? mant
            ? NaN
            : sign * Infinity
          : sign * 2 ** (exp - 15) * (1 + mant / 1024);
  }
  return out;
}

import { readFile } from "node:fs/promises";
import { onnx } from "onnx-proto";
import { ZkmlOnnxParseError, ZkmlUnsupportedOpError } from "./errors";

/** Operators the compiler understands. */
export const SUPPORTED_OPS = ["Gemm", "MatMul", "Add", "Relu", "Flatten", "Reshape", "Identity"] as const;
export type SupportedOp = (typeof SUPPORTED_OPS)[number];

/** A constant tensor (initializer) with its values widened to float64. */
export interface OnnxTensor {
  name: string;
  dims: number[];
  data: number[];
}

/** An attribute value, narrowed to the kinds the supported ops use. */
export type OnnxAttribute = number | number[] | string | OnnxTensor;

/** One graph node. */
export interface OnnxNode {
  name: string;
  opType: SupportedOp;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, OnnxAttribute>;
}

/** A graph input or output: its name and shape (`null` for a symbolic dimension such as the batch). */
export interface OnnxValueInfo {
  name: string;
  shape: (number | null)[];
}

/** A decoded ONNX graph restricted to supported operators. */
export interface OnnxGraph {
  name: string;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializers: Map<string, OnnxTensor>;
  nodes: OnnxNode[];
}

type LongLike = number | { toString(): string };

function toNumber(v: LongLike): number {
  return typeof v === "number" ? v : Number(v.toString());
}

function isSupported(op: string): op is SupportedOp {
  return (SUPPORTED_OPS as readonly string[]).includes(op);
}

/** Decodes the values of a tensor proto (float, double, int32 or int64; inline or raw little-endian). */
export function decodeTensor(t: onnx.ITensorProto): OnnxTensor {
  const name = t.name ?? "";
  const dims = (t.dims ?? []).map(toNumber);
  const type = t.dataType ?? onnx.TensorProto.DataType.UNDEFINED;
  const raw = t.rawData !== undefined && t.rawData !== null && t.rawData.length > 0 ? t.rawData : undefined;
  const view = raw === undefined ? undefined : new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const DT = onnx.TensorProto.DataType;
  let data: number[];
  switch (type) {
    case DT.FLOAT:
      data =
        view === undefined
          ? [...(t.floatData ?? [])]
          : Array.from({ length: view.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
      break;
    case DT.DOUBLE:
      data =
        view === undefined
          ? [...(t.doubleData ?? [])]
          : Array.from({ length: view.byteLength / 8 }, (_, i) => view.getFloat64(i * 8, true));
      break;
    case DT.INT32:
      data =
        view === undefined
          ? [...(t.int32Data ?? [])]
          : Array.from({ length: view.byteLength / 4 }, (_, i) => view.getInt32(i * 4, true));
      break;
    case DT.INT64:
      data =
        view === undefined
          ? (t.int64Data ?? []).map(toNumber)
          : Array.from({ length: view.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
      break;
    default:
      throw new ZkmlOnnxParseError(`tensor "${name}" has unsupported data type ${type}`, {
        context: { tensor: name, dataType: type },
      });
  }
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new ZkmlOnnxParseError(
      `tensor "${name}" has ${data.length} values but dims [${dims.join(",")}] need ${expected}`,
      {
        context: { tensor: name },
      },
    );
  }
  return { name, dims, data };
}

function decodeAttribute(a: onnx.IAttributeProto, nodeName: string): OnnxAttribute {
  const AT = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case AT.FLOAT:
      return a.f ?? 0;
    case AT.INT:
      return toNumber(a.i ?? 0);
    case AT.STRING:
      return Buffer.from(a.s ?? new Uint8Array()).toString("utf8");
    case AT.INTS:
      return (a.ints ?? []).map(toNumber);
    case AT.FLOATS:
      return [...(a.floats ?? [])];
    case AT.TENSOR:
      if (a.t === null || a.t === undefined) break;
      return decodeTensor(a.t);
    default:
      break;
  }
  throw new ZkmlOnnxParseError(
    `attribute "${a.name ?? ""}" of node "${nodeName}" has unsupported type ${a.type ?? "?"}`,
  );
}

function decodeValueInfo(v: onnx.IValueInfoProto): OnnxValueInfo {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return {
    name: v.name ?? "",
    shape: dims.map((d) =>
      d.dimValue !== undefined && d.dimValue !== null && (d.dimParam ?? "") === "" ? toNumber(d.dimValue) : null,
    ),
  };
}

/**
 * Decodes a serialized ONNX ModelProto into an {@link OnnxGraph}.
 *
 * @throws ZkmlOnnxParseError when the bytes are not a valid model.
 * @throws ZkmlUnsupportedOpError naming the first node whose operator is not in {@link SUPPORTED_OPS}.
 * @example
 * const graph = parseOnnx(await readFile("model.onnx"));
 */
export function parseOnnx(bytes: Uint8Array): OnnxGraph {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (cause) {
    throw new ZkmlOnnxParseError("not a valid ONNX model", { cause });
  }
  const g = model.graph;
  if (g === null || g === undefined) throw new ZkmlOnnxParseError("ONNX model has no graph");
  const initializers = new Map<string, OnnxTensor>();
  for (const t of g.initializer ?? []) initializers.set(t.name ?? "", decodeTensor(t));
  const nodes = (g.node ?? []).map((n, i): OnnxNode => {
    const name = n.name !== undefined && n.name !== null && n.name !== "" ? n.name : `#${i}`;
    const op = n.opType ?? "";
    if (!isSupported(op)) throw new ZkmlUnsupportedOpError(op, name, { context: { supported: SUPPORTED_OPS } });
    const attributes: Record<string, OnnxAttribute> = {};
    for (const a of n.attribute ?? []) attributes[a.name ?? ""] = decodeAttribute(a, name);
    return { name, opType: op, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attributes };
  });
  return {
    name: g.name ?? "",
    // Graph inputs that are also initializers are constants, not model inputs (ONNX IR < 4 lists them).
    inputs: (g.input ?? []).map(decodeValueInfo).filter((v) => !initializers.has(v.name)),
    outputs: (g.output ?? []).map(decodeValueInfo),
    initializers,
    nodes,
  };
}

/**
 * Reads and decodes an `.onnx` file. See {@link parseOnnx}.
 *
 * @example
 * const graph = await readOnnxFile("models/iris.onnx");
 */
export async function readOnnxFile(path: string): Promise<OnnxGraph> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new ZkmlOnnxParseError(`cannot read ONNX file ${path}`, { cause });
  }
  return parseOnnx(bytes);
}

import { onnx } from "onnx-proto";
import type { DenseLayer } from "./mlp";

/** A node to write: op type, inputs, outputs and integer/float attributes. */
export interface NodeSpec {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, number>;
}

/** A float32 initializer to write. */
export interface InitializerSpec {
  name: string;
  dims: number[];
  data: number[];
  /** Defaults to FLOAT; INT64 is used for Reshape shapes. */
  dataType?: "float" | "int64";
}

/** A whole graph to write. */
export interface GraphSpec {
  name: string;
  inputName: string;
  inputShape: (number | string)[];
  outputName: string;
  outputShape: (number | string)[];
  nodes: NodeSpec[];
  initializers: InitializerSpec[];
}

function valueInfo(name: string, shape: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function tensor(spec: InitializerSpec): onnx.ITensorProto {
  if (spec.dataType === "int64") {
    return { name: spec.name, dims: spec.dims, dataType: onnx.TensorProto.DataType.INT64, int64Data: spec.data };
  }
  return { name: spec.name, dims: spec.dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: spec.data };
}

function attribute(name: string, value: number): onnx.IAttributeProto {
  return Number.isInteger(value)
    ? { name, type: onnx.AttributeProto.AttributeType.INT, i: value }
    : { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value };
}

/**
 * Serialises a {@link GraphSpec} as an ONNX ModelProto (IR 8, default opset 13).
 *
 * @example
 * const bytes = encodeOnnxModel({ name: "g", inputName: "x", inputShape: ["N", 4], ... });
 */
export function encodeOnnxModel(spec: GraphSpec): Uint8Array {
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: "zkml-onnx-writer",
    opsetImport: [{ domain: "", version: 13 }],
    graph: {
      name: spec.name,
      input: [valueInfo(spec.inputName, spec.inputShape)],
      output: [valueInfo(spec.outputName, spec.outputShape)],
      initializer: spec.initializers.map(tensor),
      node: spec.nodes.map((n) => ({
        opType: n.opType,
        name: n.name,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Options for {@link mlpToGraphSpec}. */
export interface MlpExportOptions {
  name?: string;
  /** "gemm": Gemm(transB=1) per layer; "matmul-add": MatMul then Add (the PyTorch/TF exporter style). */
  style?: "gemm" | "matmul-add";
  /** Prepend a Flatten node (as exporters of image models do). */
  flatten?: boolean;
}

/** Describes an MLP as a {@link GraphSpec} with weights as initializers. */
export function mlpToGraphSpec(layers: DenseLayer[], options: MlpExportOptions = {}): GraphSpec {
  const { name = "mlp", style = "gemm", flatten = false } = options;
  const nodes: NodeSpec[] = [];
  const initializers: InitializerSpec[] = [];
  let current = "input";
  if (flatten) {
    nodes.push({ opType: "Flatten", name: "flatten", inputs: [current], outputs: ["flat"], attributes: { axis: 1 } });
    current = "flat";
  }
  layers.forEach((layer, l) => {
    const out = layer.weights.length;
    const inDim = layer.weights[0].length;
    const b = `layer${l}.bias`;
    initializers.push({ name: b, dims: [out], data: layer.bias });
    if (style === "gemm") {
      const w = `layer${l}.weight`;
      initializers.push({ name: w, dims: [out, inDim], data: layer.weights.flat() });
      nodes.push({
        opType: "Gemm",
        name: `gemm${l}`,
        inputs: [current, w, b],
        outputs: [`z${l}`],
        attributes: { transB: 1 },
      });
      current = `z${l}`;
    } else {
      const w = `layer${l}.weight_t`;
      const transposed = Array.from({ length: inDim }, (_, i) => layer.weights.map((row) => row[i])).flat();
      initializers.push({ name: w, dims: [inDim, out], data: transposed });
      nodes.push({ opType: "MatMul", name: `matmul${l}`, inputs: [current, w], outputs: [`m${l}`] });
      nodes.push({ opType: "Add", name: `add${l}`, inputs: [`m${l}`, b], outputs: [`z${l}`] });
      current = `z${l}`;
    }
    if (layer.relu) {
      nodes.push({ opType: "Relu", name: `relu${l}`, inputs: [current], outputs: [`a${l}`] });
      current = `a${l}`;
    }
  });
  const last = layers[layers.length - 1];
  nodes.push({ opType: "Identity", name: "output", inputs: [current], outputs: ["output"] });
  return {
    name,
    inputName: "input",
    inputShape: ["N", layers[0].weights[0].length],
    outputName: "output",
    outputShape: ["N", last.weights.length],
    nodes,
    initializers,
  };
}

/**
 * Builds the ONNX bytes of an MLP (weights as initializers), so tests and training scripts can export models
 * without Python.
 *
 * @example
 * await writeFile("iris.onnx", writeMlpOnnx(layers, { style: "matmul-add" }));
 */
export function writeMlpOnnx(layers: DenseLayer[], options: MlpExportOptions = {}): Uint8Array {
  return encodeOnnxModel(mlpToGraphSpec(layers, options));
}

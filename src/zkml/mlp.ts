import { ZkmlShapeMismatchError, ZkmlUnsupportedGraphError } from "./errors";
import type { OnnxAttribute, OnnxGraph, OnnxNode, OnnxTensor } from "./onnx";

/** A fully connected layer `y = W·x + b`, optionally followed by ReLU. */
export interface DenseLayer {
  /** Name of the ONNX node that produced the weights. */
  name: string;
  /** Weights as `[out][in]`. */
  weights: number[][];
  bias: number[];
  relu: boolean;
}

/** A float multi-layer perceptron: the only graph shape the compiler accepts. */
export interface Mlp {
  inputName: string;
  outputName: string;
  inputSize: number;
  layers: DenseLayer[];
}

function numAttr(node: OnnxNode, key: string, fallback: number): number {
  const v: OnnxAttribute | undefined = node.attributes[key];
  if (v === undefined) return fallback;
  if (typeof v !== "number")
    throw new ZkmlUnsupportedGraphError(`attribute ${key} of node "${node.name}" must be a scalar`);
  return v;
}

function initializer(graph: OnnxGraph, node: OnnxNode, name: string | undefined, role: string): OnnxTensor {
  const t = name === undefined ? undefined : graph.initializers.get(name);
  if (t === undefined) {
    throw new ZkmlUnsupportedGraphError(
      `node "${node.name}" (${node.opType}): ${role} "${name ?? ""}" must be a constant initializer`,
      {
        context: { node: node.name, tensor: name },
      },
    );
  }
  return t;
}

function vectorSize(t: OnnxTensor): number {
  return t.dims.reduce((a, b) => a * b, 1);
}

/** Bias broadcast to `out` values; a scalar broadcasts, anything else must hold exactly `out` values. */
function broadcastBias(t: OnnxTensor, out: number, scale: number): number[] {
  if (t.data.length === 1) return Array.from({ length: out }, () => t.data[0] * scale);
  if (t.data.length !== out) throw new ZkmlShapeMismatchError(t.name, [out], t.dims);
  return t.data.map((v) => v * scale);
}

function gemmLayer(graph: OnnxGraph, node: OnnxNode, size: number): DenseLayer {
  if (numAttr(node, "transA", 0) !== 0)
    throw new ZkmlUnsupportedGraphError(`node "${node.name}": Gemm with transA=1 is not supported`);
  const alpha = numAttr(node, "alpha", 1);
  const beta = numAttr(node, "beta", 1);
  const transB = numAttr(node, "transB", 0) !== 0;
  const b = initializer(graph, node, node.inputs[1], "weight");
  if (b.dims.length !== 2) throw new ZkmlShapeMismatchError(b.name, transB ? [-1, size] : [size, -1], b.dims);
  const [rows, cols] = b.dims;
  const inDim = transB ? cols : rows;
  const out = transB ? rows : cols;
  if (inDim !== size) throw new ZkmlShapeMismatchError(b.name, transB ? [out, size] : [size, out], b.dims);
  const weights = Array.from({ length: out }, (_, o) =>
    Array.from({ length: size }, (_, i) => alpha * (transB ? b.data[o * cols + i] : b.data[i * cols + o])),
  );
  const cName = node.inputs[2];
  const bias =
    cName === undefined || cName === ""
      ? new Array<number>(out).fill(0)
      : broadcastBias(initializer(graph, node, cName, "bias"), out, beta);
  return { name: node.name, weights, bias, relu: false };
}

function matMulLayer(graph: OnnxGraph, node: OnnxNode, size: number): DenseLayer {
  const b = initializer(graph, node, node.inputs[1], "weight");
  if (b.dims.length !== 2 || b.dims[0] !== size)
    throw new ZkmlShapeMismatchError(b.name, [size, b.dims[1] ?? -1], b.dims);
  const out = b.dims[1];
  const weights = Array.from({ length: out }, (_, o) => Array.from({ length: size }, (_, i) => b.data[i * out + o]));
  return { name: node.name, weights, bias: new Array<number>(out).fill(0), relu: false };
}

function checkReshape(graph: OnnxGraph, node: OnnxNode, size: number): void {
  const shapeName = node.inputs[1];
  if (shapeName === undefined) return;
  const shape = initializer(graph, node, shapeName, "shape");
  const known = shape.data.filter((d) => d !== -1 && d !== 0).reduce((a, b) => a * b, 1);
  const hasWildcard = shape.data.includes(-1);
  if (hasWildcard ? size % known !== 0 : known !== size) {
    throw new ZkmlShapeMismatchError(node.outputs[0] ?? node.name, [size], shape.data);
  }
}

function inputSizeOf(graph: OnnxGraph): number | undefined {
  const input = graph.inputs[0];
  if (input === undefined) throw new ZkmlUnsupportedGraphError("graph has no (non-constant) input");
  if (graph.inputs.length !== 1)
    throw new ZkmlUnsupportedGraphError(`graph must have exactly one input, has ${graph.inputs.length}`);
  if (input.shape.length === 0) return undefined;
  // The leading dimension may be a symbolic or unit batch dimension.
  const dims =
    input.shape.length > 1 && (input.shape[0] === null || input.shape[0] === 1) ? input.shape.slice(1) : input.shape;
  if (dims.some((d) => d === null)) return undefined;
  return dims.reduce<number>((a, b) => a * (b ?? 1), 1);
}

/**
 * Lowers a decoded ONNX graph to an {@link Mlp}: a single chain of Gemm/MatMul(+Add)(+Relu) layers, with
 * Flatten, Reshape and Identity treated as no-ops on the (batch-1) vector.
 *
 * @throws ZkmlShapeMismatchError naming the tensor whose shape does not fit.
 * @throws ZkmlUnsupportedGraphError when the graph is not such a chain.
 * @example
 * const mlp = lowerToMlp(await readOnnxFile("iris.onnx"));
 */
export function lowerToMlp(graph: OnnxGraph): Mlp {
  const inputName = graph.inputs[0]?.name ?? "";
  let size = inputSizeOf(graph);
  let current = inputName;
  const layers: DenseLayer[] = [];
  for (const node of graph.nodes) {
    const dataIdx = node.inputs.indexOf(current);
    if (dataIdx < 0) {
      throw new ZkmlUnsupportedGraphError(
        `node "${node.name}" (${node.opType}) does not consume "${current}": only a single chain of layers is supported`,
      );
    }
    const last = layers[layers.length - 1];
    const followsLayer = last !== undefined && layers.length > 0 && current !== inputName;
    switch (node.opType) {
      case "Gemm":
      case "MatMul": {
        if (dataIdx !== 0)
          throw new ZkmlUnsupportedGraphError(`node "${node.name}": the data tensor must be the first input`);
        if (size === undefined) {
          const w = initializer(graph, node, node.inputs[1], "weight");
          size = node.opType === "Gemm" && numAttr(node, "transB", 0) !== 0 ? w.dims[1] : w.dims[0];
        }
        const layer = node.opType === "Gemm" ? gemmLayer(graph, node, size) : matMulLayer(graph, node, size);
        layers.push(layer);
        size = layer.weights.length;
        break;
      }
      case "Add": {
        if (!followsLayer || last.relu)
          throw new ZkmlUnsupportedGraphError(`node "${node.name}": Add must directly follow a Gemm or MatMul`);
        const bias = initializer(graph, node, node.inputs[1 - dataIdx], "bias");
        if (vectorSize(bias) !== 1 && vectorSize(bias) !== last.bias.length)
          throw new ZkmlShapeMismatchError(bias.name, [last.bias.length], bias.dims);
        const add = broadcastBias(bias, last.bias.length, 1);
        last.bias = last.bias.map((v, i) => v + add[i]);
        break;
      }
      case "Relu":
        if (!followsLayer)
          throw new ZkmlUnsupportedGraphError(`node "${node.name}": Relu must follow a Gemm or MatMul`);
        last.relu = true;
        break;
      case "Reshape":
        if (size !== undefined) checkReshape(graph, node, size);
        break;
      case "Flatten":
      case "Identity":
        break;
    }
    current = node.outputs[0] ?? "";
  }
  const outputName = graph.outputs[0]?.name ?? "";
  if (layers.length === 0) throw new ZkmlUnsupportedGraphError("graph has no Gemm or MatMul layer");
  if (outputName !== current)
    throw new ZkmlUnsupportedGraphError(
      `graph output "${outputName}" is not the end of the layer chain ("${current}")`,
    );
  return { inputName, outputName, inputSize: layers[0].weights[0].length, layers };
}

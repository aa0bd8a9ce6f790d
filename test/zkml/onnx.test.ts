import { expect } from "chai";
import { onnx } from "onnx-proto";
import * as ort from "onnxruntime-node";
import { UnsupportedError } from "../../src/core/errors";
import {
  ZkmlOnnxParseError,
  ZkmlShapeMismatchError,
  ZkmlUnsupportedGraphError,
  ZkmlUnsupportedOpError,
} from "../../src/zkml/errors";
import { lowerToMlp } from "../../src/zkml/mlp";
import { parseOnnx } from "../../src/zkml/onnx";
import { encodeOnnxModel, mlpToGraphSpec, writeMlpOnnx } from "../../src/zkml/onnx-writer";
import { randomMlp } from "./fixtures";

function forward(layers: ReturnType<typeof randomMlp>, x: number[]): number[] {
  return layers.reduce(
    (a, l) =>
      l.weights
        .map((row, j) => row.reduce((s, w, i) => s + w * a[i], l.bias[j]))
        .map((v) => (l.relu ? Math.max(v, 0) : v)),
    x,
  );
}

describe("zkml/onnx", () => {
  const layers = randomMlp([5, 7, 4, 3], 42);

  for (const style of ["gemm", "matmul-add"] as const) {
    it(`reads back an MLP written in the ${style} style (with Flatten)`, () => {
      const mlp = lowerToMlp(parseOnnx(writeMlpOnnx(layers, { style, flatten: true })));
      expect(mlp.inputSize).to.equal(5);
      expect(mlp.layers.map((l) => l.relu)).to.deep.equal([true, true, false]);
      mlp.layers.forEach((l, i) => {
        l.weights.flat().forEach((w, k) => expect(w).to.be.closeTo(layers[i].weights.flat()[k], 1e-6));
        l.bias.forEach((b, k) => expect(b).to.be.closeTo(layers[i].bias[k], 1e-6));
      });
    });
  }

  it("writes models that onnxruntime runs to the same outputs", async () => {
    const session = await ort.InferenceSession.create(writeMlpOnnx(layers, { style: "matmul-add" }));
    const x = [0.5, -1, 2, 0.25, -0.75];
    const res = await session.run({ input: new ort.Tensor("float32", Float32Array.from(x), [1, 5]) });
    const got = Array.from(res.output.data as Float32Array);
    forward(layers, x).forEach((v, i) => expect(got[i]).to.be.closeTo(v, 1e-4));
  });

  it("applies Gemm's alpha, beta and transB=0 layout", () => {
    const bytes = encodeOnnxModel({
      name: "gemm",
      inputName: "x",
      inputShape: [1, 2],
      outputName: "y",
      outputShape: [1, 3],
      nodes: [
        { opType: "Gemm", name: "g", inputs: ["x", "B", "C"], outputs: ["y"], attributes: { alpha: 2, beta: 0.5 } },
      ],
      initializers: [
        { name: "B", dims: [2, 3], data: [1, 2, 3, 4, 5, 6] },
        { name: "C", dims: [1, 3], data: [10, 20, 30] },
      ],
    });
    const [layer] = lowerToMlp(parseOnnx(bytes)).layers;
    expect(layer.weights).to.deep.equal([
      [2, 8],
      [4, 10],
      [6, 12],
    ]);
    expect(layer.bias).to.deep.equal([5, 10, 15]);
  });

  it("throws ZkmlUnsupportedOpError naming the op and the node", () => {
    const spec = mlpToGraphSpec(layers);
    spec.nodes.splice(1, 0, { opType: "Sigmoid", name: "act_sigmoid", inputs: ["z0"], outputs: ["s0"] });
    try {
      parseOnnx(encodeOnnxModel(spec));
      expect.fail("expected an error");
    } catch (err) {
      expect(err).to.be.instanceOf(ZkmlUnsupportedOpError).and.instanceOf(UnsupportedError);
      const e = err as ZkmlUnsupportedOpError;
      expect([e.opType, e.nodeName]).to.deep.equal(["Sigmoid", "act_sigmoid"]);
      expect(e.message).to.contain("Sigmoid").and.contain("act_sigmoid");
    }
  });

  it("throws ZkmlShapeMismatchError naming the weight tensor whose input size is wrong", () => {
    const spec = mlpToGraphSpec(layers);
    const w = spec.initializers.find((t) => t.name === "layer1.weight");
    if (w === undefined) throw new Error("fixture");
    w.dims = [4, 6];
    w.data = w.data.slice(0, 24);
    expect(() => lowerToMlp(parseOnnx(encodeOnnxModel(spec))))
      .to.throw(ZkmlShapeMismatchError, 'tensor "layer1.weight"')
      .with.property("tensor", "layer1.weight");
  });

  it("throws ZkmlShapeMismatchError naming the bias tensor whose length is wrong", () => {
    const spec = mlpToGraphSpec(layers);
    const b = spec.initializers.find((t) => t.name === "layer2.bias");
    if (b === undefined) throw new Error("fixture");
    b.dims = [2];
    b.data = [1, 2];
    expect(() => lowerToMlp(parseOnnx(encodeOnnxModel(spec)))).to.throw(ZkmlShapeMismatchError, "layer2.bias");
  });

  it("throws ZkmlShapeMismatchError for a Reshape to an incompatible shape", () => {
    const spec = mlpToGraphSpec(layers);
    spec.initializers.push({ name: "shape", dims: [2], data: [1, 6], dataType: "int64" });
    spec.nodes.unshift({ opType: "Reshape", name: "reshape", inputs: ["input", "shape"], outputs: ["r"] });
    spec.nodes[1].inputs[0] = "r";
    expect(() => lowerToMlp(parseOnnx(encodeOnnxModel(spec)))).to.throw(ZkmlShapeMismatchError, '"r"');
  });

  it("throws ZkmlUnsupportedGraphError when weights are not initializers", () => {
    const spec = mlpToGraphSpec(layers);
    spec.initializers = spec.initializers.filter((t) => t.name !== "layer0.weight");
    expect(() => lowerToMlp(parseOnnx(encodeOnnxModel(spec)))).to.throw(ZkmlUnsupportedGraphError, "layer0.weight");
  });

  it("throws ZkmlOnnxParseError with a cause for bytes that are not a model", () => {
    const bytes = onnx.ModelProto.encode({ irVersion: 8 }).finish();
    expect(() => parseOnnx(bytes)).to.throw(ZkmlOnnxParseError, "no graph");
    try {
      parseOnnx(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
      expect.fail("expected an error");
    } catch (err) {
      expect(err).to.be.instanceOf(ZkmlOnnxParseError);
      expect((err as Error).cause).to.be.instanceOf(Error);
    }
  });
});

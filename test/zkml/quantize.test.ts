import { expect } from "chai";
import { ZkmlInputRangeError, ZkmlOverflowError, ZkmlShapeMismatchError } from "../../src/zkml/errors";
import { quantizeInput, quantizeMlp } from "../../src/zkml/quantize";
import { evaluateQuantized } from "../../src/zkml/reference";
import { randomMlp, rng } from "./fixtures";

const mlp = { inputName: "input", outputName: "output", inputSize: 4, layers: randomMlp([4, 6, 3], 7) };

describe("zkml/quantize", () => {
  it("chooses the largest scale whose range checks fit, and reports it", () => {
    const q = quantizeMlp(mlp, { inputRange: 4, maxScaleBits: 12, maxBits: 64 });
    expect(q.scaleBits).to.equal(12);
    const narrow = quantizeMlp(mlp, { inputRange: 4, maxScaleBits: 12, maxBits: 30 });
    expect(narrow.scaleBits).to.be.lessThan(12);
  });

  it("throws ZkmlOverflowError when a forced scale needs range checks wider than 200 bits", () => {
    expect(() => quantizeMlp(mlp, { inputRange: 4, scaleBits: 110 })).to.throw(ZkmlOverflowError, "2^110");
  });

  it("throws ZkmlInputRangeError naming the index and the value of an out-of-range input", () => {
    const q = quantizeMlp(mlp, { inputRange: 4, scaleBits: 8 });
    expect(() => quantizeInput(q, [0, 1, 4.5, 0]))
      .to.throw(ZkmlInputRangeError, "input[2] = 4.5")
      .with.property("value", 4.5);
    expect(() => quantizeInput(q, [0, 1, 2])).to.throw(ZkmlShapeMismatchError, '"input"');
  });

  it("rescales with a floor division, also for negative sums", () => {
    const q = quantizeMlp(
      {
        inputName: "x",
        outputName: "y",
        inputSize: 1,
        layers: [{ name: "l", weights: [[1]], bias: [0], relu: false }],
      },
      { inputRange: 4, scaleBits: 2 },
    );
    // W = 4, so z = 4x and floor(4x / 4) = x exactly; a bias of -1/16 (scale 2^4: -1) pushes it below.
    q.layers[0].bias = [-1n];
    expect(evaluateQuantized(q, [3n]).output).to.deep.equal([2n]);
    expect(evaluateQuantized(q, [-3n]).output).to.deep.equal([-4n]);
  });

  it("agrees with the float model on the argmax for most inputs", () => {
    const q = quantizeMlp(mlp, { inputRange: 4, scaleBits: 8 });
    const r = rng(3);
    let agree = 0;
    for (let n = 0; n < 200; n++) {
      const x = Array.from({ length: 4 }, () => r() * 8 - 4);
      const f = mlp.layers.reduce(
        (a, l) =>
          l.weights
            .map((row, j) => row.reduce((s, w, i) => s + w * a[i], l.bias[j]))
            .map((v) => (l.relu ? Math.max(v, 0) : v)),
        x,
      );
      const ref = evaluateQuantized(q, quantizeInput(q, x));
      if (f.indexOf(Math.max(...f)) === ref.argmax) agree++;
      ref.output.forEach((v, i) => expect(Number(v) / 256).to.be.closeTo(f[i], 0.1));
    }
    expect(agree).to.be.greaterThan(190);
  });
});

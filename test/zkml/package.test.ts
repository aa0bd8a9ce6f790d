import { expect } from "chai";
import { toUtf8Bytes, toUtf8String } from "ethers";
import { writeMlpOnnx } from "../../src/zkml/onnx-writer";
import { parseZkManifest, quantizedModelFor, ZK_FILES, zkModelFiles, type ZkManifest } from "../../src/zkml/package";
import { ZkmlError } from "../../src/zkml/errors";
import type { ZkModel } from "../../src/zkml/pipeline";
import { randomMlp, TEST_INPUT_RANGE, TEST_SIZES, zkModels } from "./fixtures";

describe("zkml/package (the ZK files of a published version)", () => {
  let a: ZkModel;
  let onnx: Uint8Array;
  let manifest: ZkManifest;

  before(async () => {
    let layersA;
    ({ a, layersA } = await zkModels());
    onnx = writeMlpOnnx(layersA, { name: "test-a" });
    const files = await zkModelFiles(a, { inputRange: TEST_INPUT_RANGE, optimization: 1 });
    expect(files.map((f) => f.path)).to.deep.equal([ZK_FILES.manifest, ZK_FILES.wasm, ZK_FILES.zkey, ZK_FILES.verificationKey]);
    manifest = parseZkManifest(files[0]!.bytes);
  });

  it("records what rebuilds the circuit's arithmetic, and the rebuilt model is the compiled one", () => {
    expect(manifest.vkHash).to.equal(a.setup.vkHash);
    expect(manifest.scaleBits).to.equal(a.model.scaleBits);
    expect(quantizedModelFor(onnx, manifest)).to.deep.equal(a.model);
  });

  it("refuses another ONNX file, another scale, and malformed manifests, naming the problem", () => {
    const other = writeMlpOnnx(randomMlp(TEST_SIZES, 99), { name: "other" });
    expect(() => quantizedModelFor(other, manifest)).to.throw(ZkmlError, "is not the one the circuit was built from");
    expect(() => quantizedModelFor(onnx, { ...manifest, scaleBits: manifest.scaleBits - 1 })).to.throw(ZkmlError, "source hash");
    const edit = (patch: Record<string, unknown>) => toUtf8Bytes(JSON.stringify({ ...manifest, ...patch }));
    expect(() => parseZkManifest(edit({ format: "other" }))).to.throw(ZkmlError, "unknown format");
    expect(() => parseZkManifest(edit({ scaleBits: -1 }))).to.throw(ZkmlError, '"scaleBits"');
    expect(() => parseZkManifest(edit({ vkHash: "0x12" }))).to.throw(ZkmlError, '"vkHash"');
    expect(() => parseZkManifest(toUtf8Bytes("{"))).to.throw(ZkmlError, "is not JSON");
    expect(toUtf8String(edit({}))).to.contain(manifest.vkHash);
  });
});

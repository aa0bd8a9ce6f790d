import { expect } from "chai";
import { toUtf8Bytes, toUtf8String } from "ethers";
import { writeMlpOnnx } from "../../src/zkml/onnx-writer";
import {
  parseZkManifest,
  quantizedModelFor,
  ZK_FILES,
  zkModelFiles,
  type ZkFile,
  type ZkManifest,
} from "../../src/zkml/package";
import { InputError } from "../../src/core/errors";
import { ZkmlSetupMismatchError } from "../../src/zkml/errors";
import { sha256File, sha256Hex } from "../../src/core/hash";
import type { ZkModel } from "../../src/zkml/pipeline";
import { randomMlp, TEST_INPUT_RANGE, TEST_SIZES, zkModels } from "./fixtures";

describe("zkml/package (the ZK files of a published version)", () => {
  let a: ZkModel;
  let onnx: Uint8Array;
  let manifest: ZkManifest;
  let files: ZkFile[];

  before(async () => {
    let layersA;
    ({ a, layersA } = await zkModels());
    onnx = writeMlpOnnx(layersA, { name: "test-a" });
    files = await zkModelFiles(a);
    manifest = parseZkManifest(files[0]!.bytes);
  });

  it("publishes the manifest, witness calculator, proving key, verification key and powers of tau", async () => {
    expect(files.map((f) => f.path)).to.deep.equal([
      ZK_FILES.manifest,
      ZK_FILES.wasm,
      ZK_FILES.zkey,
      ZK_FILES.verificationKey,
      ZK_FILES.ptau,
    ]);
    expect(sha256Hex(files.find((f) => f.path === ZK_FILES.ptau)!.bytes)).to.equal(manifest.ptau.sha256);
    expect(manifest.ptau).to.deep.equal({ power: a.ptau.power, sha256: a.ptau.sha256 });
  });

  it("records what rebuilds the circuit and its setup, and the rebuilt model is the compiled one", async () => {
    expect(manifest.format).to.equal("vin-zk/2");
    expect(manifest.vkHash).to.equal(a.setup.vkHash);
    expect(manifest.scaleBits).to.equal(a.model.scaleBits);
    expect(manifest.inputRange).to.equal(TEST_INPUT_RANGE);
    expect(manifest.optimization).to.equal(1);
    expect(manifest.r1csSha256).to.equal(await sha256File(a.circuit.r1csPath));
    expect(manifest.compiler).to.match(/^circom2 \d+\.\d+\.\d+$/);
    expect(quantizedModelFor(onnx, manifest)).to.deep.equal(a.model);
  });

  it("refuses another ONNX file, another scale, and malformed manifests, naming the problem", () => {
    const other = writeMlpOnnx(randomMlp(TEST_SIZES, 99), { name: "other" });
    expect(() => quantizedModelFor(other, manifest)).to.throw(
      ZkmlSetupMismatchError,
      "is not the one the circuit was built from",
    );
    expect(() => quantizedModelFor(onnx, { ...manifest, scaleBits: manifest.scaleBits - 1 })).to.throw(
      ZkmlSetupMismatchError,
      "source hash",
    );
    const edit = (patch: Record<string, unknown>) => toUtf8Bytes(JSON.stringify({ ...manifest, ...patch }));
    expect(() => parseZkManifest(edit({ format: "other" }))).to.throw(InputError, "unknown format");
    expect(() => parseZkManifest(edit({ scaleBits: -1 }))).to.throw(InputError, '"scaleBits"');
    expect(() => parseZkManifest(edit({ vkHash: "0x12" }))).to.throw(InputError, '"vkHash"');
    expect(() => parseZkManifest(edit({ r1csSha256: undefined }))).to.throw(InputError, '"r1csSha256"');
    expect(() => parseZkManifest(edit({ ptau: { power: 12 } }))).to.throw(InputError, '"ptau"');
    expect(() => parseZkManifest(edit({ format: "vin-zk/1" }))).to.throw(
      InputError,
      "unknown format vin-zk/1 (expected vin-zk/2)",
    );
    expect(() => parseZkManifest(toUtf8Bytes("{"))).to.throw(InputError, "is not JSON");
    expect(toUtf8String(edit({}))).to.contain(manifest.vkHash);
  });
});

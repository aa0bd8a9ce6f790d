import { expect } from "chai";
import { hexlify, toUtf8Bytes } from "ethers";
import { loadSystem, MEASUREMENT } from "../../fixtures/system";
import { cidToString, rawCid } from "../../../src/core/cid";
import { InputError } from "../../../src/core/errors";
import { sha256Hex } from "../../../src/core/hash";
import { Mode } from "../../../src/core/modes";
import { rawContentRef, rawFileRef, versionInput } from "../../../src/core/registry";
import { modeModule } from "../../../src/modes";

const ONNX = toUtf8Bytes("onnx-bytes");
const CARD = toUtf8Bytes("---\nname: builder\ntask: classification\nlicense: mit\n---\n# Builder\n");
const MODES = [modeModule(Mode.Vanilla).binding({}), modeModule(Mode.Tee).binding({ bindings: [MEASUREMENT] })];

describe("versionInput", () => {
  it("builds an input ModelRegistry publishes, with the files, card and bindings it was given", async () => {
    const fx = await loadSystem();
    const { registry } = fx.system;
    // One file by its CID string (as IPFS prints it), one by its binary CID.
    const files = [
      { path: "model.onnx", cid: cidToString(rawCid(ONNX)), sha256: sha256Hex(ONNX) },
      rawFileRef("README.md", CARD),
    ];
    const input = versionInput({ files, card: "README.md", modes: MODES });
    await expect(registry.connect(fx.owner).publishVersion(1n, input)).to.emit(registry, "VersionPublished");

    const stored = await registry.filesOf(1n, 2);
    expect(stored.map((f) => [f.path, f.cid, f.sha256])).to.deep.equal([
      ["model.onnx", hexlify(rawCid(ONNX)), sha256Hex(ONNX)],
      ["README.md", hexlify(rawCid(CARD)), sha256Hex(CARD)],
    ]);
    expect((await registry.versionOf(1n, 2)).cardHash).to.equal(sha256Hex(CARD));
    expect(await registry.cardCidOf(1n, 2)).to.equal(hexlify(rawCid(CARD)));
    expect(await registry.isBound(1n, 2, Mode.Tee, MEASUREMENT)).to.equal(true);
    expect((await registry.versionOf(1n, 2)).modes).to.equal(0b11n);
  });

  it("takes a card that is not one of the files by its CID and hash", () => {
    const input = versionInput({ files: [rawFileRef("model.onnx", ONNX)], card: rawContentRef(CARD), modes: MODES });
    expect([input.cardHash, hexlify(input.cardCid)]).to.deep.equal([sha256Hex(CARD), hexlify(rawCid(CARD))]);
    expect(input.files).to.have.length(1);
  });

  it("throws InputError when the card path names none of the files", () => {
    expect(() => versionInput({ files: [rawFileRef("model.onnx", ONNX)], card: "README.md", modes: MODES }))
      .to.throw(InputError)
      .with.property("shortMessage", "the model card README.md is not among the version's files (model.onnx)");
  });

  it("throws InputError naming a file whose SHA-256 is not 32 bytes, or whose CID is not a CIDv1", () => {
    const bad = { ...rawFileRef("model.onnx", ONNX), sha256: "0x1234" };
    expect(() => versionInput({ files: [bad], card: rawContentRef(CARD), modes: MODES }))
      .to.throw(InputError)
      .with.property("shortMessage", "the SHA-256 of model.onnx is 0x1234, not 0x and 64 hex digits");
    const qm = { ...rawFileRef("model.onnx", ONNX), cid: "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG" };
    expect(() => versionInput({ files: [qm], card: rawContentRef(CARD), modes: MODES })).to.throw(
      InputError,
      "is not a CIDv1 in base32",
    );
  });
});

import { expect } from "chai";
import { toUtf8Bytes } from "ethers";
import { claimSignal, inputCommitment, packedOutputOf } from "../../src/zkml/claim";
import { ZkmlSetupMismatchError } from "../../src/zkml/errors";
import { writeMlpOnnx } from "../../src/zkml/onnx-writer";
import { parseZkManifest, ZK_FILES, zkModelFiles, type ZkManifest } from "../../src/zkml/package";
import type { ZkModel } from "../../src/zkml/pipeline";
import { CircuitProver, releaseSnarkjs } from "../../src/zkml/prover";
import { quantizeInput } from "../../src/zkml/quantize";
import { evaluateQuantized } from "../../src/zkml/reference";
import { setupGroth16 } from "../../src/zkml/setup";
import { verifyZkSetup, type ZkSetupFiles } from "../../src/zkml/verify-setup";
import { readFile } from "node:fs/promises";
import { randomMlp, TEST_SIZES, zkModels } from "./fixtures";

/** The files model A publishes: its ONNX file, manifest, proving key and powers of tau. */
async function publishedFiles(zk: ZkModel, onnx: Uint8Array): Promise<ZkSetupFiles> {
  const files = await zkModelFiles(zk);
  const get = (path: string) => files.find((f) => f.path === path)!.bytes;
  return { onnx, manifest: get(ZK_FILES.manifest), zkey: get(ZK_FILES.zkey), ptau: get(ZK_FILES.ptau) };
}

/** Expects `run` to reject with a ZkmlSetupMismatchError about `what`, with these expected and actual values. */
async function expectMismatch(
  run: Promise<unknown>,
  what: string,
  expected: string | RegExp,
  actual: string | RegExp,
): Promise<void> {
  const error = await run.then(
    () => expect.fail(`expected a ZkmlSetupMismatchError about the ${what}`),
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(ZkmlSetupMismatchError);
  const mismatch = error as ZkmlSetupMismatchError;
  expect(mismatch.what).to.equal(what);
  expect(mismatch.expected).to.match(typeof expected === "string" ? new RegExp(`^${expected}$`) : expected);
  expect(mismatch.actual).to.match(typeof actual === "string" ? new RegExp(`^${actual}$`) : actual);
}

describe("zkml/verify-setup (rebuilding a published version's circuit and checking its proving key)", () => {
  let a: ZkModel;
  let b: ZkModel;
  let files: ZkSetupFiles;
  let manifest: ZkManifest;
  const edit = (patch: Partial<ZkManifest>): Uint8Array => toUtf8Bytes(JSON.stringify({ ...manifest, ...patch }));

  before(async () => {
    let layersA;
    ({ a, b, layersA } = await zkModels());
    files = await publishedFiles(a, writeMlpOnnx(layersA, { name: "test-a" }));
    manifest = parseZkManifest(files.manifest);
  });

  after(releaseSnarkjs);

  it("accepts the files of a version whose proving key is the bound circuit's, and proves with the circuit it compiled", async () => {
    const verified = await verifyZkSetup(files, { vkHash: a.setup.vkHash });
    expect(verified.model).to.deep.equal(a.model);
    expect(verified.manifest.r1csSha256).to.equal(manifest.r1csSha256);
    expect(verified.seconds.compile).to.be.a("number");
    expect(verified.seconds.zkeyVerify).to.be.a("number");
    const input = quantizeInput(a.model, [1, -2, 0.5, 3]);
    const proof = await (
      await CircuitProver.load({ wasm: verified.wasm, zkey: files.zkey })
    ).prove({ model: a.model, input, inputSalt: 5n });
    expect(proof.claim).to.equal(
      claimSignal(inputCommitment(a.model, input, 5n), packedOutputOf(a.model, evaluateQuantized(a.model, input))),
    );
    console.log(
      `      test circuit (${a.nConstraints} constraints): compile ${verified.seconds.compile.toFixed(1)} s, zkey verify ${verified.seconds.zkeyVerify.toFixed(1)} s`,
    );
  });

  it("checks a version once per process: the same files and key hash are not compiled again", async () => {
    const again = await verifyZkSetup(files, { vkHash: a.setup.vkHash.toUpperCase().replace("0X", "0x") });
    expect(again.seconds).to.deep.equal({ compile: 0, zkeyVerify: 0 });
    expect(again.model).to.deep.equal(a.model);
  });

  it("refuses, naming the verifying-key hash, a manifest that records another key than the version binds", async () => {
    await expectMismatch(
      verifyZkSetup(files, { vkHash: b.setup.vkHash }),
      "verifying-key hash",
      b.setup.vkHash,
      a.setup.vkHash,
    );
  });

  it("refuses, naming the powers of tau, a published ptau that is not the one the manifest records", async () => {
    const ptau = Uint8Array.from(files.ptau);
    ptau[ptau.length - 1] ^= 1;
    await expectMismatch(
      verifyZkSetup({ ...files, ptau }, { vkHash: a.setup.vkHash }),
      "powers of tau",
      manifest.ptau.sha256,
      /^0x[0-9a-f]{64}$/,
    );
  });

  it("refuses, naming the ONNX file, another model's ONNX file", async () => {
    const other = writeMlpOnnx(randomMlp(TEST_SIZES, 2), { name: "test-b", style: "matmul-add" });
    await expectMismatch(
      verifyZkSetup({ ...files, onnx: other }, { vkHash: a.setup.vkHash }),
      "ONNX file",
      manifest.onnxSha256,
      b.onnxHash,
    );
  });

  it("refuses, naming the circuit source, a manifest whose arithmetic (scale) is not the circuit's", async () => {
    await expectMismatch(
      verifyZkSetup({ ...files, manifest: edit({ scaleBits: manifest.scaleBits + 1 }) }, { vkHash: a.setup.vkHash }),
      "circuit source",
      manifest.circuitSourceHash,
      /^0x[0-9a-f]{64}$/,
    );
  });

  it("refuses, naming the R1CS, a circuit that recompiles to another R1CS than the manifest records (another --O level)", async () => {
    await expectMismatch(
      verifyZkSetup({ ...files, manifest: edit({ optimization: 2 }) }, { vkHash: a.setup.vkHash }),
      "R1CS",
      manifest.r1csSha256,
      /^0x[0-9a-f]{64}$/,
    );
  });

  it("refuses, naming the proving key, another circuit's proving key (zkey verify fails)", async () => {
    await expectMismatch(
      verifyZkSetup({ ...files, zkey: await readFile(b.setup.zkeyPath) }, { vkHash: a.setup.vkHash }),
      "proving key",
      /^a phase-2 key of R1CS 0x[0-9a-f]{64} on ptau 0x[0-9a-f]{64}$/,
      /^a (key zkey verify rejects|file zkey verify cannot read)$/,
    );
  });

  it("refuses, naming the proving key's verifying key, a valid setup of the same circuit that is not the bound one", async () => {
    const second = await setupGroth16({
      r1csPath: a.circuit.r1csPath,
      ptau: a.ptau,
      outDir: ".cache/zk/tmp/second-setup-a",
    });
    expect(second.vkHash).to.not.equal(a.setup.vkHash);
    await expectMismatch(
      verifyZkSetup({ ...files, zkey: await readFile(second.zkeyPath) }, { vkHash: a.setup.vkHash }),
      "proving key's verifying key",
      a.setup.vkHash,
      second.vkHash,
    );
  });
});

import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { toUtf8Bytes } from "ethers";
import { COLLATERAL, FEE_PER_NODE, MODEL_PRICE, loadSystem, type Fixture } from "../fixtures/system";
import {
  BUNDLED_MODEL_NAMES,
  bundledModels,
  clampToRange,
  forward,
  argmax,
  type AnyBundledModel,
} from "../../src/models";
import { JobStatus } from "../../src/core/job";
import { Mode, modeMask } from "../../src/core/modes";
import { addressesFromRecord, connectContracts } from "../../src/core/contracts";
import { toJobId, toModelId } from "../../src/core/ids";
import { requestInference } from "../../src/sdk/requestInference";
import { verifyResult } from "../../src/sdk/verifyResult";
import { decodeZkOutput, encodeZkOutput, encodeZkProof, packedOutputOf } from "../../src/zkml/claim";
import { openZkJobInput } from "../../src/zkml/job";
import { parseZkManifest, quantizedModelFor, ZK_FILES } from "../../src/zkml/package";
import { deployZkCircuit, registerZkModel } from "../../src/zkml/deploy";
import { FsContentStore } from "../../src/node/content-store";
import { buildZkModel, type ZkModel } from "../../src/zkml/pipeline";
import { proveInference, releaseSnarkjs } from "../../src/zkml/prover";
import { evaluateQuantized } from "../../src/zkml/reference";
import { ZK_POWER } from "../zkml/fixtures";

/**
 * Every bundled model as a ZK job on the local chain: compile and set up its circuit, publish the version with its
 * ZK files and verifier, request with the SDK (the input committed as the circuit commits it), prove as a node
 * does from the job's input bytes, settle through the escrow, and re-verify the result off-chain.
 */
describe("ZK jobs of every bundled model (request, prove, verify on-chain, settle)", () => {
  let fx: Fixture;
  const content = new FsContentStore(mkdtempSync(path.join(os.tmpdir(), "vin-zk-models-")));
  // Each bundled model (trained once) with its circuit.
  const built = new Map<string, { bundled: AnyBundledModel; zk: ZkModel }>();

  before(async () => {
    for (const m of bundledModels())
      built.set(m.name, {
        bundled: m,
        zk: await buildZkModel({ onnx: m.onnx, inputRange: m.inputRange, minPower: ZK_POWER }),
      });
  });

  after(releaseSnarkjs);

  for (const name of BUNDLED_MODEL_NAMES) {
    it(`${name}: the settled output is the circuit's answer on a held-out row, and verifyResult passes`, async () => {
      fx = await loadSystem();
      const { bundled, zk } = built.get(name)!;
      const deployment = await deployZkCircuit(fx.deployer, zk, {
        verifierFactory: await fx.system.verifierFactory.getAddress(),
      });
      for (const bytes of [bundled.onnx, toUtf8Bytes(bundled.card), ...deployment.files.map((f) => f.bytes)])
        await content.add(bytes);
      const { modelId } = await registerZkModel({
        registry: fx.system.registry.connect(fx.owner),
        deployment,
        onnx: bundled.onnx,
        card: toUtf8Bytes(bundled.card),
        price: MODEL_PRICE,
      });
      const files = deployment.files;
      const node = fx.nodes[0]!;
      await fx.system.staking.connect(node).register(modeMask([Mode.Vanilla, Mode.Tee, Mode.Zk]));
      const contracts = connectContracts(addressesFromRecord(fx.system.record), hre.ethers.provider);

      // The requester rebuilds the circuit's model from the published files, as `vin request --mode zk` does.
      const manifest = parseZkManifest(files.find((f) => f.path === ZK_FILES.manifest)!.bytes);
      const circuitModel = quantizedModelFor(bundled.onnx, manifest);
      const x = clampToRange(bundled.test.x[0]!, bundled.inputRange);
      const requested = await requestInference({
        contracts,
        signer: fx.requester,
        modelId: toModelId(modelId),
        mode: Mode.Zk,
        input: x,
        feePerNode: FEE_PER_NODE,
        collateral: COLLATERAL,
        zk: { model: circuitModel },
      });

      // The node opens the commitment from the event's input bytes, computes, proves and submits.
      const { job } = requested;
      const { quantized, input } = openZkJobInput(circuitModel, requested.input, job.inputHash);
      await fx.system.escrow.connect(node).claimSlot(job);
      const proof = await proveInference(
        { wasmPath: zk.circuit.wasmPath, zkeyPath: zk.setup.zkeyPath },
        { model: circuitModel, input: quantized, inputSalt: input.salt },
      );
      const reference = evaluateQuantized(circuitModel, quantized);
      const packed = packedOutputOf(circuitModel, reference);
      await fx.system.escrow.connect(node).submit(job, encodeZkOutput(packed), encodeZkProof(packed, proof.solidity));

      expect(Number((await fx.system.escrow.stateOf(job.id)).status), "the proof settled the job").to.equal(
        JobStatus.Settled,
      );
      const [, output] = await fx.system.escrow.resultOf(job.id);
      const decoded = decodeZkOutput(circuitModel, output);
      const float = forward(bundled.layers, x);
      if (bundled.kind === "classifier") {
        expect(decoded.classIndex, "the circuit agrees with the float model on this row").to.equal(argmax(float));
      } else {
        expect(decoded.value).to.be.closeTo(float[0]!, 0.01);
      }
      const report = await verifyResult({
        contracts,
        provider: hre.ethers.provider,
        jobId: toJobId(job.id),
        fromBlock: requested.blockNumber,
        content,
      });
      expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
      console.log(
        `      ${name}: ${zk.nConstraints} constraints, circuit rebuilt in ${report.zk?.compileSeconds?.toFixed(1)} s + zkey verify ${report.zk?.zkeyVerifySeconds?.toFixed(1)} s, proved in ${proof.proveSeconds.toFixed(2)} s, output ${JSON.stringify({ ...decoded, packedOutput: decoded.packedOutput.toString(), fixedPoint: decoded.fixedPoint?.toString() })}`,
      );
    });
  }

  it("a node cannot open a commitment with another input or salt", async () => {
    const { bundled, zk } = built.get(BUNDLED_MODEL_NAMES[0])!;
    const x = clampToRange(bundled.test.x[0]!, bundled.inputRange);
    const { zkJobRequest, encodeZkJobInput, ZkJobInputError } = await import("../../src/zkml/job");
    const request = zkJobRequest(zk.model, x, 42n);
    expect(openZkJobInput(zk.model, request.input, request.inputCommitment).input.salt).to.equal(42n);
    expect(() => openZkJobInput(zk.model, encodeZkJobInput({ x, salt: 43n }), request.inputCommitment)).to.throw(
      ZkJobInputError,
      "not to the job's inputHash",
    );
    expect(() =>
      openZkJobInput(zk.model, encodeZkJobInput({ x: x.map((v) => v / 2), salt: 42n }), request.inputCommitment),
    ).to.throw(ZkJobInputError);
    expect(() => openZkJobInput(zk.model, "0x7b", request.inputCommitment)).to.throw(ZkJobInputError, "not UTF-8 JSON");
  });
});

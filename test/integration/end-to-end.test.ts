import { expect } from "chai";
import hre from "hardhat";
import { deploySystem } from "../../deploy/system";
import { runEndToEnd } from "./end-to-end";
import { buildPenguinClassifier } from "../../src/models/penguins";
import { forward, argmax } from "../../src/models/train";
import { OnnxModel } from "../../src/inference/onnx";

describe("the local network's end-to-end run", () => {
  it("publishes the penguin model and settles one vanilla and one TEE job with the model's true answer", async () => {
    const system = await deploySystem(hre, { persist: false });
    const [, operator, requester, modelOwner] = await hre.ethers.getSigners();
    const model = buildPenguinClassifier();
    const reports = await runEndToEnd(
      system,
      { operator: operator!, requester: requester!, modelOwner: modelOwner! },
      model,
    );
    expect(reports.map((r) => r.mode)).to.deep.equal(["vanilla", "tee"]);
    const expected = model.classes[argmax(forward(model.layers, model.example))];
    for (const report of reports) {
      expect(report.label).to.equal(expected);
      const [outputHash] = await system.escrow.resultOf(report.jobId);
      expect(outputHash).to.equal(report.outputHash);
      expect((await system.escrow.stateOf(report.jobId)).status).to.equal(2n);
    }
    expect(await system.escrow.claimable(await operator!.getAddress())).to.equal(0n);
    expect(await system.escrow.claimable(await modelOwner!.getAddress())).to.equal(2n * 10n ** 18n);
  });

  it("the ONNX export matches the float model on every penguin", async () => {
    const model = buildPenguinClassifier();
    const onnx = await OnnxModel.load(model.onnx);
    const { loadPenguins } = await import("../../src/models/datasets");
    for (const x of loadPenguins().x) {
      const ort = await onnx.run(x);
      forward(model.layers, x).forEach((v, i) => expect(ort[i]).to.be.closeTo(v, 1e-3 * Math.max(1, Math.abs(v))));
    }
    expect(model.accuracy).to.be.greaterThan(0.9);
  });
});

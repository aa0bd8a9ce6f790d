import { expect } from "chai";
import { ZeroAddress } from "ethers";
import { slotKeyHash } from "../../src/zkml/batch-solidity";
import { Groth16SlotVerifier__factory } from "../../typechain-types";
import { SLOTS, slotFixture } from "./batch-fixtures";

describe("ZkInferenceVerifier.setSlotVerifier and Groth16SlotVerifier", () => {
  it("binds the owner's slot key once, emitting SlotVerifierSet with its key hash", async () => {
    const s = await slotFixture({ bind: false });
    const { zkVerifier } = s.fx.system;
    const address = await zkVerifier.connect(s.fx.owner).setSlotVerifier.staticCall(s.modelId, 1, s.slotKey);
    await expect(zkVerifier.connect(s.fx.owner).setSlotVerifier(s.modelId, 1, s.slotKey))
      .to.emit(zkVerifier, "SlotVerifierSet")
      .withArgs(s.modelId, 1n, BigInt(SLOTS), address, slotKeyHash(s.slotKey));
    expect(await zkVerifier.slotVerifierOf(s.modelId, 1, SLOTS)).to.equal(address);
    expect(await zkVerifier.slotVerifierOf(s.modelId, 1, 8)).to.equal(ZeroAddress);
    const verifier = Groth16SlotVerifier__factory.connect(address, s.fx.owner);
    expect(await verifier.slots()).to.equal(BigInt(SLOTS));
    expect(await verifier.verifyingKey()).to.deep.equal(s.slotKey);
    await expect(zkVerifier.connect(s.fx.owner).setSlotVerifier(s.modelId, 1, s.slotKey))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierSlotVerifierAlreadySet")
      .withArgs(s.modelId, 1n, BigInt(SLOTS));
  });

  it("reverts with ZkInferenceVerifierUnauthorizedAccount for anyone but the model's owner", async () => {
    const s = await slotFixture({ bind: false });
    const { zkVerifier } = s.fx.system;
    await expect(zkVerifier.connect(s.fx.other).setSlotVerifier(s.modelId, 1, s.slotKey))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierUnauthorizedAccount")
      .withArgs(s.modelId, s.fx.other.address);
  });

  it("reverts with ModelRegistryModeNotSupported for a version that does not serve ZK", async () => {
    const s = await slotFixture({ bind: false });
    const { zkVerifier, registry } = s.fx.system;
    await expect(zkVerifier.connect(s.fx.owner).setSlotVerifier(1n, 1, s.slotKey))
      .to.be.revertedWithCustomError(registry, "ModelRegistryModeNotSupported")
      .withArgs(1n, 1n, 2n);
  });

  it("reverts with Groth16SlotVerifierInvalidKey for a key of a length no slot count has", async () => {
    const s = await slotFixture({ bind: false });
    const { zkVerifier } = s.fx.system;
    const factory = new Groth16SlotVerifier__factory(s.fx.owner);
    for (const length of [18, 19, 21, 16 + 2 * 65]) {
      const key = Array.from({ length }, (_, i) => s.slotKey[i % s.slotKey.length]!);
      await expect(zkVerifier.connect(s.fx.owner).setSlotVerifier(s.modelId, 1, key))
        .to.be.revertedWithCustomError(factory, "Groth16SlotVerifierInvalidKey")
        .withArgs(BigInt(length));
    }
  });

  it("verifyProof takes 1 to N signals (Groth16SlotVerifierSignalCount) and is false for a signal not below the field order", async () => {
    const s = await slotFixture();
    const verifier = Groth16SlotVerifier__factory.connect(
      await s.fx.system.zkVerifier.slotVerifierOf(s.modelId, 1, SLOTS),
      s.fx.owner,
    );
    const { solidity, claims } = await s.prover.prove([
      { input: new Array<bigint>(s.zk.model.inputSize).fill(1n), inputSalt: 5n },
    ]);
    const proof = { a: solidity.a, b: solidity.b, c: solidity.c };
    expect(await verifier.verifyProof(proof, [claims[0]!])).to.equal(true);
    expect(await verifier.verifyProof(proof, claims)).to.equal(true);
    await expect(verifier.verifyProof(proof, []))
      .to.be.revertedWithCustomError(verifier, "Groth16SlotVerifierSignalCount")
      .withArgs(0n, BigInt(SLOTS));
    await expect(verifier.verifyProof(proof, [...claims, claims[0]!]))
      .to.be.revertedWithCustomError(verifier, "Groth16SlotVerifierSignalCount")
      .withArgs(BigInt(SLOTS + 1), BigInt(SLOTS));
    const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
    expect(await verifier.verifyProof(proof, [claims[0]! + R])).to.equal(false);
  });
});

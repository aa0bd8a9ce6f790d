import { expect } from "chai";
import hre from "hardhat";
import { getCreate2Address, keccak256 } from "ethers";
import { keyHash, loadSystem, syntheticKey } from "../../fixtures/system";
import { Groth16Verifier__factory } from "../../../typechain-types";

describe("Groth16VerifierFactory (issue #10 §4)", () => {
  it("deploys the Groth16Verifier of a key by CREATE2 with salt = the key's hash, records it and emits VerifierDeployed", async () => {
    const fx = await loadSystem();
    const { verifierFactory } = fx.system;
    const key = syntheticKey(7);
    const vkHash = keyHash(key);
    const initCode = (await new Groth16Verifier__factory(fx.deployer).getDeployTransaction([...key])).data;
    const predicted = getCreate2Address(await verifierFactory.getAddress(), vkHash, keccak256(initCode));
    expect(await verifierFactory.verifierOf(vkHash)).to.equal(hre.ethers.ZeroAddress);
    await expect(verifierFactory.connect(fx.other).deploy([...key]))
      .to.emit(verifierFactory, "VerifierDeployed")
      .withArgs(predicted, vkHash);
    expect(await verifierFactory.verifierOf(vkHash)).to.equal(predicted);
    expect(await verifierFactory.vkHashOf(predicted)).to.equal(vkHash);
    const verifier = Groth16Verifier__factory.connect(predicted, fx.deployer);
    expect(await verifier.verifyingKey()).to.deep.equal(key);
  });

  it("is idempotent: the same key returns the same verifier, deploys nothing and emits no VerifierDeployed", async () => {
    const fx = await loadSystem();
    const { verifierFactory } = fx.system;
    const key = syntheticKey(8);
    const first = await verifierFactory.deploy.staticCall([...key]);
    await verifierFactory.deploy([...key]);
    expect(await verifierFactory.deploy.staticCall([...key])).to.equal(first);
    const again = verifierFactory.connect(fx.other).deploy([...key]);
    await expect(again).not.to.emit(verifierFactory, "VerifierDeployed");
    expect(await verifierFactory.verifierOf(keyHash(key))).to.equal(first);
    const other = syntheticKey(9);
    const second = await verifierFactory.deploy.staticCall([...other]);
    expect(second).to.not.equal(first);
  });

  it("vouches for no address it did not deploy: vkHashOf is zero, and verifierOf an unknown hash is zero", async () => {
    const fx = await loadSystem();
    const { verifierFactory } = fx.system;
    const key = syntheticKey(10);
    const outside = await new Groth16Verifier__factory(fx.deployer).deploy([...key]);
    expect(await verifierFactory.vkHashOf(await outside.getAddress())).to.equal(hre.ethers.ZeroHash);
    expect(await verifierFactory.vkHashOf(fx.other.address)).to.equal(hre.ethers.ZeroHash);
    expect(await verifierFactory.verifierOf(keyHash(key))).to.equal(hre.ethers.ZeroAddress);
  });
});

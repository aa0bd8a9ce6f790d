import { expect } from "chai";
import hre from "hardhat";
import { keccak256, toBeHex } from "ethers";
import { factoryVerifier, keyHash, loadSystem, requestJob, requestParams, syntheticKey, zkVersionInput, type Fixture } from "../../fixtures/system";
import { Mode } from "../../../src/protocol/modes";

const INPUT_BITS = 200n;

/** Publishes version 2 of the fixture's model with a ZK binding to the factory verifier of a synthetic key. */
async function zkVersion(fx: Fixture): Promise<void> {
  const key = syntheticKey(42);
  await fx.system.registry.connect(fx.owner).publishVersion(1n, zkVersionInput(await factoryVerifier(fx, key), keyHash(key)));
}

describe("ZkInferenceVerifier at request time (issue #10 §4)", () => {
  it("refuses a ZK request with redundancy 3: ZkInferenceVerifierRedundancyUnsupported(3)", async () => {
    const fx = await loadSystem();
    await zkVersion(fx);
    const params = await requestParams({ mode: Mode.Zk, version: 2, redundancy: 3, input: "0x", inputCommitment: toBeHex(1n, 32) });
    await expect(fx.system.escrow.connect(fx.requester).request(params))
      .to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierRedundancyUnsupported")
      .withArgs(3);
  });

  it("refuses a ZK request whose input commitment has more than 200 bits: ZkInferenceVerifierCommitmentOutOfRange", async () => {
    const fx = await loadSystem();
    await zkVersion(fx);
    const tooWide = [1n << INPUT_BITS, (1n << 256n) - 1n];
    for (const commitment of tooWide) {
      const params = await requestParams({ mode: Mode.Zk, version: 2, input: "0x", inputCommitment: toBeHex(commitment, 32) });
      await expect(fx.system.escrow.connect(fx.requester).request(params))
        .to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierCommitmentOutOfRange")
        .withArgs(toBeHex(commitment, 32), INPUT_BITS);
    }
    // An inline input's keccak256 commitment is a full 256-bit word: refused too, before any node can claim it.
    const inline = await requestParams({ mode: Mode.Zk, version: 2 });
    await expect(fx.system.escrow.connect(fx.requester).request(inline))
      .to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierCommitmentOutOfRange")
      .withArgs(keccak256(inline.input), INPUT_BITS);
    expect(await fx.system.escrow.jobCount()).to.equal(0n);
  });

  it("accepts a k = 1 ZK request with the widest commitment the circuit opens (2^200 - 1)", async () => {
    const fx = await loadSystem();
    await zkVersion(fx);
    const commitment = toBeHex((1n << INPUT_BITS) - 1n, 32);
    const job = await requestJob(fx, { mode: Mode.Zk, version: 2, input: "0x", inputCommitment: commitment });
    expect([job.inputHash, job.verifier]).to.deep.equal([commitment, await fx.system.zkVerifier.getAddress()]);
  });

  it("binds the whole commitment in the public signal, inputHash * 2^48 + packedOutput, and checks both ranges", async () => {
    const fx = await loadSystem();
    const { zkVerifier } = fx.system;
    const commitment = (1n << INPUT_BITS) - 3n;
    expect(await zkVerifier.claimSignal(toBeHex(commitment, 32), 5n)).to.equal(commitment * (1n << 48n) + 5n);
    await expect(zkVerifier.claimSignal(toBeHex(1n << INPUT_BITS, 32), 5n))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierCommitmentOutOfRange")
      .withArgs(toBeHex(1n << INPUT_BITS, 32), INPUT_BITS);
    await expect(zkVerifier.claimSignal(toBeHex(commitment, 32), 1n << 48n))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierOutputOutOfRange")
      .withArgs(1n << 48n);
  });

  it("never excuses a node; it alone checks requests, and passes a k = 1 request within range", async () => {
    const fx = await loadSystem();
    const { zkVerifier, vanillaVerifier } = fx.system;
    for (const verifier of [zkVerifier, vanillaVerifier]) {
      expect(await verifier.excuses(fx.nodes[0]!.address, 1n, 1n, 0n)).to.equal(false);
      expect(await verifier.excuses(fx.nodes[0]!.address, 1n, 1n, 2n ** 64n - 1n)).to.equal(false);
    }
    // Only the ZK verifier asks the escrow to call checkRequest; the others have nothing to refuse at request time.
    expect(await zkVerifier.checksRequests()).to.equal(true);
    expect(await vanillaVerifier.checksRequests()).to.equal(false);
    expect(await fx.system.teeVerifier.checksRequests()).to.equal(false);
    await zkVerifier.checkRequest(1n, 1n, 1, hre.ethers.ZeroHash);
    await vanillaVerifier.checkRequest(1n, 1n, 7, toBeHex(hre.ethers.MaxUint256, 32));
  });
});

import { expect } from "chai";
import { AbiCoder, solidityPacked, toBeHex } from "ethers";
import { factoryVerifier, keyHash, loadSystem, requestJob, requestParams, syntheticKey, zkVersionInput } from "../fixtures/system";
import { Mode, modeMask } from "../../src/protocol/modes";
import { AlwaysTrueGroth16Verifier__factory } from "../../typechain-types";

const PROOF = "tuple(uint256[2] a, uint256[2][2] b, uint256[2] c)";
/** The BN254 generators: G1 = (1, 2); G2 in the EIP-197 order (imaginary part first). */
const G1 = [1n, 2n];
const G2 = [
  [11559732032986387107991004021392285783925812861821192530917403151452391805634n, 10857046999023057135944570762232829481370756359578518086990519993285655852781n],
  [4082367875863433681332203403145435568316851327593401208105741076214120093531n, 8495653923123431417604973247489272438418190587263600148770280649306958101930n],
];
/** A key whose points are all on the curve (the generators), so the pairing runs and answers rather than failing. */
const CURVE_KEY = [...G1, ...G2.flat(), ...G2.flat(), ...G2.flat(), ...G1, ...G1];
/** A proof of valid points that proves nothing: with CURVE_KEY the pairing product is e(G1, G2)^(s + 2), not 1. */
const BOGUS = { a: G1, b: G2, c: G1 };

describe("attack: a ZK version bound to a verifier that proves nothing (issue #10 §4)", () => {
  it("a model owner cannot publish a ZK version bound to an always-true verifier (ModelRegistryVerifierKeyMismatch), so no ZK job can name it", async () => {
    const fx = await loadSystem();
    const { registry, escrow } = fx.system;
    const key = syntheticKey(11);
    const rogue = await new AlwaysTrueGroth16Verifier__factory(fx.owner).deploy([...key]);
    const rogueAddress = await rogue.getAddress();
    await expect(registry.connect(fx.owner).publishVersion(1n, zkVersionInput(rogueAddress, keyHash(key))))
      .to.be.revertedWithCustomError(registry, "ModelRegistryVerifierKeyMismatch")
      .withArgs(rogueAddress, `0x${"0".repeat(64)}`, keyHash(key));
    // Nor by binding the hash the factory recorded for another key: the hash is looked up by the verifier's address.
    const honest = await factoryVerifier(fx, syntheticKey(12));
    await expect(registry.connect(fx.owner).publishVersion(1n, zkVersionInput(rogueAddress, keyHash(syntheticKey(12)))))
      .to.be.revertedWithCustomError(registry, "ModelRegistryVerifierKeyMismatch")
      .withArgs(rogueAddress, `0x${"0".repeat(64)}`, keyHash(syntheticKey(12)));
    expect(honest).to.not.equal(rogueAddress);
    await expect(escrow.connect(fx.requester).request(await requestParams({ mode: Mode.Zk, version: 2, input: "0x", inputCommitment: toBeHex(1n, 32) })))
      .to.be.revertedWithCustomError(registry, "ModelRegistryUnknownVersion")
      .withArgs(1n, 2n);
  });

  it("a ZK job on a version bound to a factory verifier does not settle with a bogus proof (ZkInferenceVerifierInvalidProof)", async () => {
    const fx = await loadSystem();
    const { registry, escrow, staking, zkVerifier } = fx.system;
    const key = CURVE_KEY;
    await registry.connect(fx.owner).publishVersion(1n, zkVersionInput(await factoryVerifier(fx, key), keyHash(key)));
    const node = fx.nodes[0]!;
    await staking.connect(node).register(modeMask([Mode.Vanilla, Mode.Tee, Mode.Zk]));
    const job = await requestJob(fx, { mode: Mode.Zk, version: 2, input: "0x", inputCommitment: toBeHex(12345n, 32) });
    await escrow.connect(node).claimSlot(job);
    const output = solidityPacked(["uint48"], [5n]);
    const proof = AbiCoder.defaultAbiCoder().encode(["uint256", PROOF], [5n, BOGUS]);
    await expect(escrow.connect(node).submit(job, output, proof)).to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierInvalidProof").withArgs(job.id);
    expect((await escrow.stateOf(job.id)).status).to.equal(1n);
  });
});

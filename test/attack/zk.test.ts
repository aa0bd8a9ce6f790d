import { expect } from "chai";
import { toBeHex } from "ethers";
import {
  DEGENERATE_KEY,
  G1_GENERATOR,
  G2_GENERATOR,
  factoryVerifier,
  keyHash,
  loadSystem,
  requestJob,
  requestParams,
  syntheticKey,
  zkOutput,
  zkProofBytes,
  zkVersionInput,
  type Groth16Proof,
} from "../fixtures/system";
import { Mode, modeMask } from "../../src/core/modes";
import { AlwaysTrueGroth16Verifier__factory } from "../../typechain-types";

/** A proof of valid points that proves nothing: under DEGENERATE_KEY its pairing product is e(G1, G2)^(s + 2), not 1. */
const BOGUS: Groth16Proof = { a: G1_GENERATOR, b: G2_GENERATOR, c: G1_GENERATOR };

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
    await expect(
      escrow
        .connect(fx.requester)
        .request(await requestParams({ mode: Mode.Zk, version: 2, input: "0x", inputCommitment: toBeHex(1n, 32) })),
    )
      .to.be.revertedWithCustomError(registry, "ModelRegistryUnknownVersion")
      .withArgs(1n, 2n);
  });

  it("a ZK job on a version bound to a factory verifier does not settle with a bogus proof (ZkInferenceVerifierInvalidProof)", async () => {
    const fx = await loadSystem();
    const { registry, escrow, staking, zkVerifier } = fx.system;
    const key = DEGENERATE_KEY;
    await registry.connect(fx.owner).publishVersion(1n, zkVersionInput(await factoryVerifier(fx, key), keyHash(key)));
    const node = fx.nodes[0]!;
    await staking.connect(node).register(modeMask([Mode.Vanilla, Mode.Tee, Mode.Zk]));
    const job = await requestJob(fx, { mode: Mode.Zk, version: 2, input: "0x", inputCommitment: toBeHex(12345n, 32) });
    await escrow.connect(node).claimSlot(job);
    await expect(escrow.connect(node).submit(job, zkOutput(5n), zkProofBytes(5n, BOGUS)))
      .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierInvalidProof")
      .withArgs(job.id);
    expect((await escrow.stateOf(job.id)).status).to.equal(1n);
  });
});

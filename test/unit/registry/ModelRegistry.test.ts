import { expect } from "chai";
import hre from "hardhat";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { hexlify, toUtf8Bytes } from "ethers";
import {
  factoryVerifier,
  keyHash,
  loadSystem,
  MEASUREMENT,
  MODEL_PRICE,
  syntheticKey,
  versionInput,
  zkVersionInput,
} from "../../fixtures/system";
import { AlwaysTrueGroth16Verifier__factory, Groth16Verifier__factory } from "../../../typechain-types";
import { Mode, modeMask } from "../../../src/core/modes";
import { rawCid } from "../../../src/core/cid";
import { sha256Hex } from "../../../src/core/hash";
import type { IModelRegistry } from "../../../typechain-types/contracts/registry/ModelRegistry";

const ZERO = hre.ethers.ZeroAddress;

describe("ModelRegistry", () => {
  describe("createModel", () => {
    it("creates sequential models owned by the caller and emits ModelCreated", async () => {
      const { system, other } = await loadSystem();
      await expect(system.registry.connect(other).createModel(7n))
        .to.emit(system.registry, "ModelCreated")
        .withArgs(2n, other.address, 7n);
      expect(await system.registry.modelCount()).to.equal(2n);
      const model = await system.registry.modelOf(2n);
      expect(model.owner).to.equal(other.address);
      expect(model.price).to.equal(7n);
      expect(await system.registry.versionCount(2n)).to.equal(0n);
    });
  });

  describe("publishVersion", () => {
    it("records the version and emits everything an indexer needs", async () => {
      const { system, owner } = await loadSystem();
      const input = versionInput("v2-weights");
      const tx = system.registry.connect(owner).publishVersion(1n, input);
      await expect(tx)
        .to.emit(system.registry, "VersionPublished")
        .withArgs(1n, 2n, owner.address, input.cardHash, hexlify(input.cardCid as Uint8Array), anyValue, anyValue);
      const info = await system.registry.versionOf(1n, 2n);
      expect(info.modes).to.equal(BigInt(modeMask([Mode.Vanilla, Mode.Tee])));
      expect(info.deprecated).to.equal(false);
      expect(info.cardHash).to.equal(input.cardHash);
      expect(info.publishedAt).to.be.greaterThan(0n);
      const [file] = await system.registry.filesOf(1n, 2n);
      expect(file?.path).to.equal("model.onnx");
      expect(file?.cid).to.equal(hexlify(rawCid(toUtf8Bytes("v2-weights"))));
      expect(file?.sha256).to.equal(sha256Hex(toUtf8Bytes("v2-weights")));
      expect(await system.registry.cardCidOf(1n, 2n)).to.equal(hexlify(input.cardCid as Uint8Array));
      expect(await system.registry.isBound(1n, 2n, Mode.Tee, MEASUREMENT)).to.equal(true);
      expect(await system.registry.isBound(1n, 2n, Mode.Tee, hre.ethers.ZeroHash)).to.equal(false);
      const binding = await system.registry.bindingOf(1n, 2n, Mode.Tee);
      expect(binding.bindings).to.deep.equal([MEASUREMENT]);
    });

    it("reverts with ModelRegistryUnauthorizedAccount when the caller is not the owner", async () => {
      const { system, other } = await loadSystem();
      await expect(system.registry.connect(other).publishVersion(1n, versionInput()))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryUnauthorizedAccount")
        .withArgs(1n, other.address);
    });

    it("reverts with ModelRegistryUnknownModel for a model that does not exist", async () => {
      const { system, owner } = await loadSystem();
      await expect(system.registry.connect(owner).publishVersion(9n, versionInput()))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryUnknownModel")
        .withArgs(9n);
    });

    it("reverts with ModelRegistryInvalidCard for a zero card hash, an empty CID or one over 128 bytes", async () => {
      const { system, owner } = await loadSystem();
      const input = versionInput();
      await expect(system.registry.connect(owner).publishVersion(1n, { ...input, cardHash: hre.ethers.ZeroHash }))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryInvalidCard")
        .withArgs(hre.ethers.ZeroHash, 36n);
      await expect(system.registry.connect(owner).publishVersion(1n, { ...input, cardCid: "0x" }))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryInvalidCard")
        .withArgs(input.cardHash, 0n);
      await expect(system.registry.connect(owner).publishVersion(1n, { ...input, cardCid: new Uint8Array(129) }))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryInvalidCard")
        .withArgs(input.cardHash, 129n);
    });

    it("reverts with ModelRegistryInvalidFileCount for no files or more than MAX_FILES", async () => {
      const { system, owner } = await loadSystem();
      const input = versionInput();
      await expect(system.registry.connect(owner).publishVersion(1n, { ...input, files: [] }))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryInvalidFileCount")
        .withArgs(0n, 64n);
      const many = Array.from({ length: 65 }, () => input.files[0]!);
      await expect(system.registry.connect(owner).publishVersion(1n, { ...input, files: many }))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryInvalidFileCount")
        .withArgs(65n, 64n);
    });

    it("reverts with ModelRegistryInvalidFile naming the bad file", async () => {
      const { system, owner } = await loadSystem();
      const input = versionInput();
      const good = input.files[0]!;
      const cases: IModelRegistry.FileRefStruct[] = [
        { ...good, path: "" },
        { ...good, path: "x".repeat(257) },
        { ...good, cid: "0x" },
        { ...good, cid: new Uint8Array(129) },
        { ...good, sha256: hre.ethers.ZeroHash },
      ];
      for (const bad of cases) {
        await expect(system.registry.connect(owner).publishVersion(1n, { ...input, files: [good, bad] }))
          .to.be.revertedWithCustomError(system.registry, "ModelRegistryInvalidFile")
          .withArgs(1n);
      }
    });

    it("reverts with ModelRegistryInvalidModeCount and ModelRegistryInvalidMode for bad mode lists, an unknown mode (4) included", async () => {
      const { system, owner } = await loadSystem();
      const input = versionInput();
      const vanilla = { mode: Mode.Vanilla, verifier: ZERO, bindings: [] };
      await expect(system.registry.connect(owner).publishVersion(1n, { ...input, modes: [] }))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryInvalidModeCount")
        .withArgs(0n, 8n);
      await expect(system.registry.connect(owner).publishVersion(1n, { ...input, modes: Array(9).fill(vanilla) }))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryInvalidModeCount")
        .withArgs(9n, 8n);
      await expect(system.registry.connect(owner).publishVersion(1n, { ...input, modes: [vanilla, vanilla] }))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryInvalidMode")
        .withArgs(Mode.Vanilla);
      for (const mode of [4, 31, 32]) {
        await expect(
          system.registry
            .connect(owner)
            .publishVersion(1n, { ...input, modes: [vanilla, { mode, verifier: ZERO, bindings: [] }] }),
        )
          .to.be.revertedWithCustomError(system.registry, "ModelRegistryInvalidMode")
          .withArgs(mode);
      }
    });

    it("reverts with ModelRegistryInvalidBinding when a binding has the wrong shape for its mode", async () => {
      const { system, owner, deployer } = await loadSystem();
      const input = versionInput();
      const aContract = await system.vanillaVerifier.getAddress();
      const bad: [IModelRegistry.ModeBindingStruct, string, number][] = [
        [{ mode: Mode.Vanilla, verifier: deployer.address, bindings: [] }, deployer.address, 0],
        [{ mode: Mode.Vanilla, verifier: ZERO, bindings: [MEASUREMENT] }, ZERO, 1],
        [{ mode: Mode.Tee, verifier: ZERO, bindings: [] }, ZERO, 0],
        [{ mode: Mode.Tee, verifier: ZERO, bindings: [hre.ethers.ZeroHash] }, ZERO, 1],
        [{ mode: Mode.Tee, verifier: ZERO, bindings: Array(17).fill(MEASUREMENT) }, ZERO, 17],
        [{ mode: Mode.Zk, verifier: ZERO, bindings: [MEASUREMENT] }, ZERO, 1],
        [{ mode: Mode.Zk, verifier: aContract, bindings: [] }, aContract, 0],
        [{ mode: Mode.Zk, verifier: aContract, bindings: [MEASUREMENT, MEASUREMENT] }, aContract, 2],
        [{ mode: Mode.Zk, verifier: aContract, bindings: [hre.ethers.ZeroHash] }, aContract, 1],
      ];
      for (const [binding, verifier, count] of bad) {
        await expect(system.registry.connect(owner).publishVersion(1n, { ...input, modes: [binding] }))
          .to.be.revertedWithCustomError(system.registry, "ModelRegistryInvalidBinding")
          .withArgs(binding.mode, verifier, count);
      }
    });
  });

  describe("ZK bindings (issue #10 §4)", () => {
    it("reverts with ModelRegistryVerifierKeyMismatch(verifier, 0, bound) for an always-true contract, whatever key it claims", async () => {
      const fx = await loadSystem();
      const { registry } = fx.system;
      const key = syntheticKey(1);
      const bound = keyHash(key);
      const rogue = await new AlwaysTrueGroth16Verifier__factory(fx.deployer).deploy([...key]);
      expect(keyHash(await rogue.verifyingKey())).to.equal(bound);
      await expect(registry.connect(fx.owner).publishVersion(1n, zkVersionInput(await rogue.getAddress(), bound)))
        .to.be.revertedWithCustomError(registry, "ModelRegistryVerifierKeyMismatch")
        .withArgs(await rogue.getAddress(), hre.ethers.ZeroHash, bound);
      // Nor a plain Groth16Verifier of the very key deployed outside the factory.
      const outside = await new Groth16Verifier__factory(fx.deployer).deploy([...key]);
      await expect(registry.connect(fx.owner).publishVersion(1n, zkVersionInput(await outside.getAddress(), bound)))
        .to.be.revertedWithCustomError(registry, "ModelRegistryVerifierKeyMismatch")
        .withArgs(await outside.getAddress(), hre.ethers.ZeroHash, bound);
    });

    it("reverts with ModelRegistryVerifierKeyMismatch(verifier, deployed, bound) for a factory verifier of another key", async () => {
      const fx = await loadSystem();
      const { registry } = fx.system;
      const [keyA, keyB] = [syntheticKey(1), syntheticKey(2)];
      const verifierA = await factoryVerifier(fx, keyA);
      await expect(registry.connect(fx.owner).publishVersion(1n, zkVersionInput(verifierA, keyHash(keyB))))
        .to.be.revertedWithCustomError(registry, "ModelRegistryVerifierKeyMismatch")
        .withArgs(verifierA, keyHash(keyA), keyHash(keyB));
    });

    it("reverts with ModelRegistryVerifierKeyMismatch for another model's verifier bound under a different hash", async () => {
      const fx = await loadSystem();
      const { registry } = fx.system;
      const [keyA, keyB] = [syntheticKey(1), syntheticKey(2)];
      const verifierA = await factoryVerifier(fx, keyA);
      await registry
        .connect(fx.owner)
        .createModelAndPublish(MODEL_PRICE, zkVersionInput(verifierA, keyHash(keyA), "model-a"));
      expect((await registry.bindingOf(2n, 1n, Mode.Zk)).verifier).to.equal(verifierA);
      await expect(
        registry
          .connect(fx.other)
          .createModelAndPublish(MODEL_PRICE, zkVersionInput(verifierA, keyHash(keyB), "model-b")),
      )
        .to.be.revertedWithCustomError(registry, "ModelRegistryVerifierKeyMismatch")
        .withArgs(verifierA, keyHash(keyA), keyHash(keyB));
    });

    it("accepts the factory verifier of the bound key and records the binding", async () => {
      const fx = await loadSystem();
      const { registry, verifierFactory } = fx.system;
      expect(await registry.verifierFactory()).to.equal(await verifierFactory.getAddress());
      const key = syntheticKey(3);
      const verifier = await factoryVerifier(fx, key);
      await expect(registry.connect(fx.owner).publishVersion(1n, zkVersionInput(verifier, keyHash(key)))).to.emit(
        registry,
        "VersionPublished",
      );
      const binding = await registry.bindingOf(1n, 2n, Mode.Zk);
      expect([binding.verifier, binding.bindings]).to.deep.equal([verifier, [keyHash(key)]]);
      expect(await registry.isBound(1n, 2n, Mode.Zk, keyHash(key))).to.equal(true);
    });
  });

  describe("deprecateVersion", () => {
    it("marks the version deprecated for good and emits VersionDeprecated", async () => {
      const { system, owner } = await loadSystem();
      await expect(system.registry.connect(owner).deprecateVersion(1n, 1n))
        .to.emit(system.registry, "VersionDeprecated")
        .withArgs(1n, 1n);
      expect((await system.registry.versionOf(1n, 1n)).deprecated).to.equal(true);
      await expect(system.registry.connect(owner).deprecateVersion(1n, 1n))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryVersionDeprecated")
        .withArgs(1n, 1n);
      await expect(system.registry.quote(1n, 1n, Mode.Vanilla))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryVersionDeprecated")
        .withArgs(1n, 1n);
    });

    it("reverts for a stranger and for an unknown version", async () => {
      const { system, owner, other } = await loadSystem();
      await expect(system.registry.connect(other).deprecateVersion(1n, 1n))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryUnauthorizedAccount")
        .withArgs(1n, other.address);
      await expect(system.registry.connect(owner).deprecateVersion(1n, 5n))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryUnknownVersion")
        .withArgs(1n, 5n);
    });
  });

  describe("setPrice", () => {
    it("changes the price and emits PriceUpdated; only the owner", async () => {
      const { system, owner, other } = await loadSystem();
      await expect(system.registry.connect(owner).setPrice(1n, 9n))
        .to.emit(system.registry, "PriceUpdated")
        .withArgs(1n, MODEL_PRICE, 9n);
      expect((await system.registry.modelOf(1n)).price).to.equal(9n);
      await expect(system.registry.connect(other).setPrice(1n, 1n))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryUnauthorizedAccount")
        .withArgs(1n, other.address);
    });
  });

  describe("ownership", () => {
    it("moves in two steps and emits both events", async () => {
      const { system, owner, other } = await loadSystem();
      await expect(system.registry.connect(owner).transferOwnership(1n, other.address))
        .to.emit(system.registry, "OwnershipTransferStarted")
        .withArgs(1n, owner.address, other.address);
      expect(await system.registry.pendingOwnerOf(1n)).to.equal(other.address);
      expect((await system.registry.modelOf(1n)).owner).to.equal(owner.address);
      await expect(system.registry.connect(other).acceptOwnership(1n))
        .to.emit(system.registry, "OwnershipTransferred")
        .withArgs(1n, owner.address, other.address);
      expect((await system.registry.modelOf(1n)).owner).to.equal(other.address);
      expect(await system.registry.pendingOwnerOf(1n)).to.equal(ZERO);
      await expect(system.registry.connect(owner).setPrice(1n, 1n))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryUnauthorizedAccount")
        .withArgs(1n, owner.address);
    });

    it("reverts transferOwnership for anyone but the owner", async () => {
      const { system, other } = await loadSystem();
      await expect(system.registry.connect(other).transferOwnership(1n, other.address))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryUnauthorizedAccount")
        .withArgs(1n, other.address);
      expect(await system.registry.pendingOwnerOf(1n)).to.equal(ZERO);
    });

    it("reverts acceptOwnership for anyone but the pending owner", async () => {
      const { system, owner, other, requester } = await loadSystem();
      await system.registry.connect(owner).transferOwnership(1n, other.address);
      await expect(system.registry.connect(requester).acceptOwnership(1n))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryUnauthorizedAccount")
        .withArgs(1n, requester.address);
    });
  });

  describe("views", () => {
    it("quote returns owner and price, and reverts for an unknown model, version or unsupported mode", async () => {
      const { system, owner } = await loadSystem();
      const [quotedOwner, price] = await system.registry.quote(1n, 1n, Mode.Tee);
      expect(quotedOwner).to.equal(owner.address);
      expect(price).to.equal(MODEL_PRICE);
      await expect(system.registry.quote(2n, 1n, Mode.Tee))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryUnknownModel")
        .withArgs(2n);
      await expect(system.registry.quote(1n, 2n, Mode.Tee))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryUnknownVersion")
        .withArgs(1n, 2n);
      await expect(system.registry.quote(1n, 1n, Mode.Zk))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryModeNotSupported")
        .withArgs(1n, 1n, Mode.Zk);
      await expect(system.registry.bindingOf(1n, 1n, Mode.Zk))
        .to.be.revertedWithCustomError(system.registry, "ModelRegistryModeNotSupported")
        .withArgs(1n, 1n, Mode.Zk);
    });

    it("has no function that can rewrite or delete a published version", async () => {
      const { system } = await loadSystem();
      const mutating = system.registry.interface.fragments
        .filter((f) => f.type === "function")
        .map((f) => f as unknown as { name: string; stateMutability: string })
        .filter((f) => f.stateMutability !== "view" && f.stateMutability !== "pure")
        .map((f) => f.name)
        .sort();
      expect(mutating).to.deep.equal([
        "acceptOwnership",
        "createModel",
        "createModelAndPublish",
        "deprecateVersion",
        "publishVersion",
        "setPrice",
        "transferOwnership",
      ]);
    });
  });
});

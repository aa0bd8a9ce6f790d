import { expect } from "chai";
import hre from "hardhat";
import { ZeroHash } from "ethers";
import {
  factoryVerifier,
  keyHash,
  loadSystem,
  MEASUREMENT,
  syntheticKey,
  versionInput,
  type Fixture,
} from "../../fixtures/system";
import { InputError, UnsupportedError } from "../../../src/core/errors";
import { Mode, MODES } from "../../../src/core/modes";
import { decodeRevert, revertDataOf } from "../../../src/core/revert";
import { MODE_MODULES, modeModule, type BindingSpec } from "../../../src/modes";
import type { IModelRegistry } from "../../../typechain-types/contracts/registry/ModelRegistry";

const ZERO = hre.ethers.ZeroAddress;
/** `ModesLib.MAX_MODES`: every mode number the chain could know. */
const MAX_MODES = 32;

/** The custom error `publishVersion` of model 1 reverts with for `modes`, or undefined when it would publish. */
async function publishError(fx: Fixture, modes: IModelRegistry.ModeBindingStruct[]): Promise<string | undefined> {
  try {
    await fx.system.registry.connect(fx.owner).publishVersion.staticCall(1n, { ...versionInput(), modes });
    return undefined;
  } catch (error) {
    const decoded = decodeRevert(revertDataOf(error) ?? "0x");
    if (decoded === undefined) throw error;
    return decoded.name;
  }
}

describe("mode registry", () => {
  describe("MODE_MODULES", () => {
    it("has one module for each mode ModelRegistry knows, in on-chain order", async () => {
      const fx = await loadSystem();
      const known: number[] = [];
      for (let mode = 0; mode < MAX_MODES; mode++) {
        // An unknown mode reverts with ModelRegistryInvalidMode whatever its binding; a known one gets past that check.
        if ((await publishError(fx, [{ mode, verifier: ZERO, bindings: [] }])) !== "ModelRegistryInvalidMode")
          known.push(mode);
      }
      expect(MODE_MODULES.map((m) => m.mode)).to.deep.equal(known);
    });

    it("takes each module's number, name and label from the core list", () => {
      expect(MODE_MODULES.map((m) => [m.mode, m.name, m.label, m.trust])).to.deep.equal(
        MODES.map((m) => [m.mode, m.name, m.label, m.trust]),
      );
    });

    it("batches only ZK submissions, and limits only ZK jobs to one node", () => {
      expect(MODE_MODULES.filter((m) => m.batchable).map((m) => m.name)).to.deep.equal(["zk"]);
      expect(MODE_MODULES.map((m) => m.redundancyRefusal(3n) !== undefined)).to.deep.equal([false, false, true, true]);
      expect(MODE_MODULES.map((m) => m.redundancyRefusal(1))).to.deep.equal([
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
      expect(modeModule(Mode.Zk).redundancyRefusal(3)).to.equal(
        "a ZK job takes one node (redundancy 1), not 3: its proof settles the answer by itself",
      );
    });

    it("re-verifies a settlement from the calldata of the calls that carry a proof, and only in modes that have one", () => {
      for (const m of MODE_MODULES)
        expect(m.verifySettlement === undefined, m.name).to.equal(m.settlingCalls.length === 0);
      expect(MODE_MODULES.map((m) => m.settlingCalls)).to.deep.equal([
        [],
        ["submit", "reveal"],
        ["submit", "submitBatch"],
        ["submit"],
      ]);
    });
  });

  describe("modeModule", () => {
    it("finds a module by Mode, bigint, number or name", () => {
      expect(modeModule(Mode.Tee).name).to.equal("tee");
      expect(modeModule(2n).name).to.equal("zk");
      expect(modeModule(0).name).to.equal("vanilla");
      expect(modeModule("zk").mode).to.equal(Mode.Zk);
    });

    it("throws UnsupportedError naming an unknown mode and the known ones", () => {
      for (const unknown of [4, 31n, 32, -1, 1.5, "sgx"]) {
        expect(() => modeModule(unknown as number), String(unknown))
          .to.throw(UnsupportedError)
          .with.property(
            "shortMessage",
            `mode ${String(unknown)} is not supported: modes are 0 (vanilla), 1 (tee), 2 (zk), 3 (dual)`,
          );
      }
    });
  });

  describe("binding", () => {
    it("builds bindings ModelRegistry accepts, for every mode", async () => {
      const fx = await loadSystem();
      const key = syntheticKey(41);
      const verifier = await factoryVerifier(fx, key);
      const specs: Record<string, BindingSpec> = {
        vanilla: {},
        tee: { bindings: [MEASUREMENT] },
        zk: { verifier, bindings: [keyHash(key)] },
        dual: {},
      };
      const modes = MODE_MODULES.map((m) => m.binding(specs[m.name]!));
      const { registry } = fx.system;
      await expect(registry.connect(fx.owner).publishVersion(1n, { ...versionInput("every-mode"), modes })).to.emit(
        registry,
        "VersionPublished",
      );
      for (const m of MODE_MODULES) {
        const bound = await registry.bindingOf(1n, 2, m.mode);
        expect([bound.verifier, [...bound.bindings]], m.name).to.deep.equal([
          m.name === "zk" ? verifier : ZERO,
          [...(specs[m.name]!.bindings ?? [])],
        ]);
      }
    });

    it("throws InputError naming a bad verifier or binding, for bindings ModelRegistry refuses too", async () => {
      const fx = await loadSystem();
      const contract = await fx.system.vanillaVerifier.getAddress();
      const cases: [Mode, BindingSpec, string][] = [
        [Mode.Vanilla, { verifier: contract }, `mode vanilla takes no verifier address, got ${contract}`],
        [Mode.Vanilla, { bindings: [MEASUREMENT] }, "mode vanilla takes no bindings, got 1"],
        [Mode.Tee, {}, "mode tee needs 1 to 16 enclave measurements, got 0"],
        [Mode.Tee, { bindings: [ZeroHash] }, `enclave measurement ${ZeroHash} is not a non-zero 32-byte hex value`],
        [Mode.Tee, { bindings: Array(17).fill(MEASUREMENT) }, "mode tee needs 1 to 16 enclave measurements, got 17"],
        [
          Mode.Tee,
          { verifier: contract, bindings: [MEASUREMENT] },
          `mode tee takes no verifier address, got ${contract}`,
        ],
        [Mode.Zk, { bindings: [MEASUREMENT] }, "mode zk needs a verifier contract address"],
        [Mode.Zk, { verifier: ZERO, bindings: [MEASUREMENT] }, `zk verifier ${ZERO} is not a contract address`],
        [Mode.Zk, { verifier: contract, bindings: [] }, "mode zk needs 1 verifying key hash, got 0"],
        [
          Mode.Zk,
          { verifier: contract, bindings: [MEASUREMENT, MEASUREMENT] },
          "mode zk needs 1 verifying key hash, got 2",
        ],
        [
          Mode.Zk,
          { verifier: contract, bindings: [ZeroHash] },
          `verifying key hash ${ZeroHash} is not a non-zero 32-byte hex value`,
        ],
      ];
      for (const [mode, spec, message] of cases) {
        expect(() => modeModule(mode).binding(spec), message)
          .to.throw(InputError)
          .with.property("shortMessage", message);
        // The same binding sent as it is: the registry refuses it as well, so the module checks no more than the chain.
        const raw = { mode, verifier: spec.verifier ?? ZERO, bindings: [...(spec.bindings ?? [])] };
        expect(await publishError(fx, [raw]), message).to.equal("ModelRegistryInvalidBinding");
      }
    });

    it("refuses values that are not 32-byte hex or addresses, naming them", () => {
      expect(() => modeModule("tee").binding({ bindings: ["0x1234"] })).to.throw(
        InputError,
        "enclave measurement 0x1234 is not a non-zero 32-byte hex value",
      );
      expect(() => modeModule("zk").binding({ verifier: "0xnot-an-address", bindings: [MEASUREMENT] })).to.throw(
        InputError,
        "zk verifier 0xnot-an-address is not a contract address",
      );
    });
  });

  describe("prepareInput", () => {
    it("sends vanilla and TEE inputs inline as JSON, committed by the escrow", () => {
      for (const mode of [Mode.Vanilla, Mode.Tee]) {
        const prepared = modeModule(mode).prepareInput({ features: [39.1, 18.7] });
        expect([
          Buffer.from(prepared.input as Uint8Array).toString(),
          prepared.inputCommitment,
          prepared.salt,
        ]).to.deep.equal(["[39.1,18.7]", ZeroHash, undefined]);
      }
    });

    it("refuses a ZK request without the circuit's model to commit with", () => {
      expect(() => modeModule(Mode.Zk).prepareInput({ features: [1, 2] })).to.throw(
        InputError,
        "a ZK job needs the model's quantized circuit model (zk.model) to commit to its input",
      );
    });
  });
});

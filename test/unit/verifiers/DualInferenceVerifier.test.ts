import { expect } from "chai";
import hre from "hardhat";
import { AbiCoder, keccak256, verifyTypedData } from "ethers";
import {
  DEGENERATE_KEY,
  degenerateProof,
  factoryVerifier,
  governance,
  keyHash,
  loadSystem,
  MEASUREMENT,
  requestParams,
  teeSign,
  versionInput,
  zkOutput,
  zkProofBytes,
} from "../../fixtures/system";
import {
  claimedDualJob,
  COMMITMENT,
  dualVersion,
  OUTPUT,
  PACKED,
  teeHalf,
  zkHalf,
} from "./DualInferenceVerifier.fixture";
import { Mode, modeMask } from "../../../src/core/modes";
import { INFERENCE_RESULT_TYPES, teeDomain } from "../../../src/core/tee";
import { encodeDualProof, modeModule } from "../../../src/modes";
import { DualInferenceVerifier__factory } from "../../../typechain-types";

describe("DualInferenceVerifier (mode 3, ZK + TEE)", () => {
  describe("verify", () => {
    it("settles a dual job with both a valid ZK proof and the enclave's signature over the same output", async () => {
      const fx = await loadSystem();
      await dualVersion(fx);
      const job = await claimedDualJob(fx);
      expect(job.verifier).to.equal(await fx.system.dualVerifier.getAddress());
      const proof = encodeDualProof(await zkHalf(job), await teeHalf(fx, job));
      const tx = await fx.system.escrow.connect(fx.nodes[0]!).submit(job, OUTPUT, proof);
      await expect(tx).to.emit(fx.system.escrow, "JobSettled");
      console.log(`      gas of a dual submit with settlement: ${(await tx.wait())!.gasUsed}`);
      expect(await fx.system.escrow.resultOf(job.id)).to.deep.equal([keccak256(OUTPUT), OUTPUT]);
    });

    it("reverts with TeeVerifierInvalidSignature when the signature half is missing", async () => {
      const fx = await loadSystem();
      await dualVersion(fx);
      const job = await claimedDualJob(fx);
      await expect(
        fx.system.escrow.connect(fx.nodes[0]!).submit(job, OUTPUT, encodeDualProof(await zkHalf(job), "0x")),
      ).to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierInvalidSignature");
    });

    it("reverts with ZkInferenceVerifierMalformedProof(0) when the ZK half is missing", async () => {
      const fx = await loadSystem();
      await dualVersion(fx);
      const job = await claimedDualJob(fx);
      await expect(
        fx.system.escrow.connect(fx.nodes[0]!).submit(job, OUTPUT, encodeDualProof("0x", await teeHalf(fx, job))),
      )
        .to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierMalformedProof")
        .withArgs(0);
    });

    it("reverts with DualInferenceVerifierMalformedProof when the proof is not abi.encode(bytes, bytes)", async () => {
      const fx = await loadSystem();
      await dualVersion(fx);
      const job = await claimedDualJob(fx);
      const { dualVerifier } = fx.system;
      const escrow = fx.system.escrow.connect(fx.nodes[0]!);
      const coder = AbiCoder.defaultAbiCoder();
      const pastEnd = coder.encode(["uint256", "uint256", "uint256", "uint256"], [64, 4096, 0, 0]);
      const tooLong = coder.encode(["uint256", "uint256", "uint256", "uint256"], [64, 96, 1000, 0]);
      for (const proof of ["0x", "0x1234", pastEnd, tooLong]) {
        await expect(escrow.submit(job, OUTPUT, proof))
          .to.be.revertedWithCustomError(dualVerifier, "DualInferenceVerifierMalformedProof")
          .withArgs((proof.length - 2) / 2);
      }
    });

    it("rejects a signature of another output, another job or another node (the signer recovered is no enclave)", async () => {
      const fx = await loadSystem();
      await dualVersion(fx);
      const job = await claimedDualJob(fx);
      const dual = await fx.system.dualVerifier.getAddress();
      const chainId = (await hre.ethers.provider.getNetwork()).chainId;
      const escrow = fx.system.escrow.connect(fx.nodes[0]!);
      const signed = [
        (await teeSign(fx, job, zkOutput(PACKED + 1n), { verifier: dual })).signature,
        (await teeSign(fx, { ...job, id: job.id + 1n }, OUTPUT, { verifier: dual })).signature,
        (await teeSign(fx, job, OUTPUT, { verifier: dual, node: fx.nodes[1]!.address })).signature,
      ];
      const message = {
        escrow: await fx.system.escrow.getAddress(),
        jobId: job.id,
        modelId: job.modelId,
        version: job.version,
        inputHash: job.inputHash,
        outputHash: keccak256(OUTPUT),
        node: fx.nodes[0]!.address,
      };
      for (const signature of signed) {
        const recovered = verifyTypedData(teeDomain(chainId, dual), INFERENCE_RESULT_TYPES, message, signature);
        await expect(escrow.submit(job, OUTPUT, encodeDualProof(await zkHalf(job), signature)))
          .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierUnknownEnclave")
          .withArgs(recovered);
      }
    });

    it("rejects a ZK proof of another output than the one submitted and signed (ZkInferenceVerifierOutputMismatch)", async () => {
      const fx = await loadSystem();
      await dualVersion(fx);
      const job = await claimedDualJob(fx);
      const other = zkProofBytes(PACKED + 1n, await degenerateProof(BigInt(job.inputHash) * (1n << 48n) + PACKED + 1n));
      await expect(
        fx.system.escrow.connect(fx.nodes[0]!).submit(job, OUTPUT, encodeDualProof(other, await teeHalf(fx, job))),
      )
        .to.be.revertedWithCustomError(fx.system.zkVerifier, "ZkInferenceVerifierOutputMismatch")
        .withArgs(job.id, keccak256(OUTPUT), PACKED + 1n);
    });
  });

  describe("checkRequest", () => {
    it("applies the ZK rules: redundancy 1 and a commitment below 2^200", async () => {
      const fx = await loadSystem();
      await dualVersion(fx);
      const { escrow, zkVerifier, dualVerifier } = fx.system;
      expect(await dualVerifier.checksRequests()).to.equal(true);
      await expect(
        escrow.connect(fx.requester).request(
          await requestParams({
            mode: Mode.Dual,
            version: 2,
            redundancy: 3,
            input: "0x",
            inputCommitment: COMMITMENT,
          }),
        ),
      )
        .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierRedundancyUnsupported")
        .withArgs(3);
      const inline = await requestParams({ mode: Mode.Dual, version: 2 });
      await expect(escrow.connect(fx.requester).request(inline))
        .to.be.revertedWithCustomError(zkVerifier, "ZkInferenceVerifierCommitmentOutOfRange")
        .withArgs(keccak256(inline.input), 200);
    });
  });

  describe("excuses", () => {
    it("excuses a node whose enclave governance revoked between its claim and deadline, as the TEE verifier does", async () => {
      const fx = await loadSystem();
      await dualVersion(fx);
      const job = await claimedDualJob(fx);
      const { dualVerifier, teeVerifier } = fx.system;
      const node = fx.nodes[0]!.address;
      const claimedAt = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
      const window = [node, 1n, 2, claimedAt, claimedAt + 7n * 24n * 3600n] as const;
      expect(await dualVerifier.excuses(...window)).to.equal(false);
      await governance(
        fx,
        teeVerifier,
        teeVerifier.interface.encodeFunctionData("revokeEnclave", [fx.enclave.address]),
      );
      expect(await teeVerifier.excuses(...window)).to.equal(true);
      expect(await dualVerifier.excuses(...window)).to.equal(true);
      await expect(
        fx.system.escrow
          .connect(fx.nodes[0]!)
          .submit(job, OUTPUT, encodeDualProof(await zkHalf(job), await teeHalf(fx, job))),
      )
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierEnclaveRevoked")
        .withArgs(fx.enclave.address);
    });
  });

  describe("deployment", () => {
    it("composes the deployed ZK and TEE verifiers and their registry, and is mode 3", async () => {
      const fx = await loadSystem();
      const { dualVerifier, zkVerifier, teeVerifier, registry, escrow } = fx.system;
      expect([
        await dualVerifier.mode(),
        await dualVerifier.zkVerifier(),
        await dualVerifier.teeVerifier(),
        await dualVerifier.registry(),
      ]).to.deep.equal([
        3n,
        await zkVerifier.getAddress(),
        await teeVerifier.getAddress(),
        await registry.getAddress(),
      ]);
      expect(await escrow.verifierOf(Mode.Dual)).to.equal(await dualVerifier.getAddress());
    });

    it("refuses swapped inner verifiers: DualInferenceVerifierInvalidVerifiers", async () => {
      const fx = await loadSystem();
      const { zkVerifier, teeVerifier, registry } = fx.system;
      const [zk, tee] = [await zkVerifier.getAddress(), await teeVerifier.getAddress()];
      const factory = new DualInferenceVerifier__factory(fx.deployer);
      await expect(factory.deploy(tee, zk))
        .to.be.revertedWithCustomError(factory, "DualInferenceVerifierInvalidVerifiers")
        .withArgs(tee, zk, await registry.getAddress());
    });
  });

  describe("registry binding", () => {
    it("refuses a dual version that does not also bind ZK and TEE: ModelRegistryIncompleteDualMode", async () => {
      const fx = await loadSystem();
      const { registry } = fx.system;
      const verifier = await factoryVerifier(fx, DEGENERATE_KEY);
      const zkBinding = modeModule(Mode.Zk).binding({ verifier, bindings: [keyHash(DEGENERATE_KEY)] });
      const teeBinding = modeModule(Mode.Tee).binding({ bindings: [MEASUREMENT] });
      const dualBinding = modeModule(Mode.Dual).binding({});
      const base = versionInput("incomplete");
      for (const modes of [[dualBinding], [teeBinding, dualBinding], [zkBinding, dualBinding]]) {
        const mask = modes.reduce((m, b) => m | (1 << Number(b.mode)), 0);
        await expect(registry.connect(fx.owner).publishVersion(1n, { ...base, modes }))
          .to.be.revertedWithCustomError(registry, "ModelRegistryIncompleteDualMode")
          .withArgs(mask);
      }
      await expect(
        registry
          .connect(fx.owner)
          .publishVersion(1n, { ...base, modes: [teeBinding, zkBinding, { mode: Mode.Dual, verifier, bindings: [] }] }),
      )
        .to.be.revertedWithCustomError(registry, "ModelRegistryInvalidBinding")
        .withArgs(Mode.Dual, verifier, 0);
      await expect(
        registry.connect(fx.owner).publishVersion(1n, {
          ...base,
          modes: [
            teeBinding,
            zkBinding,
            { mode: Mode.Dual, verifier: hre.ethers.ZeroAddress, bindings: [MEASUREMENT] },
          ],
        }),
      )
        .to.be.revertedWithCustomError(registry, "ModelRegistryInvalidBinding")
        .withArgs(Mode.Dual, hre.ethers.ZeroAddress, 1);
      await registry.connect(fx.owner).publishVersion(1n, { ...base, modes: [teeBinding, zkBinding, dualBinding] });
      expect((await registry.versionOf(1n, 2)).modes).to.equal(BigInt(modeMask([Mode.Tee, Mode.Zk, Mode.Dual])));
    });

    it("lets an operator register for mode 3 (bit 3 of its capabilities)", async () => {
      const fx = await loadSystem();
      const mask = modeMask([Mode.Tee, Mode.Zk, Mode.Dual]);
      await fx.system.staking.connect(fx.nodes[2]!).register(mask);
      await expect(fx.system.staking.connect(fx.nodes[2]!).register(1 << 4))
        .to.be.revertedWithCustomError(fx.system.staking, "NodeStakingInvalidCapabilities")
        .withArgs(1 << 4);
    });
  });
});

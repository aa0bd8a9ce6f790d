import { expect } from "chai";
import hre from "hardhat";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { keccak256, Signature, toUtf8Bytes } from "ethers";
import {
  COLLATERAL,
  FEE_PER_NODE,
  MODEL_PRICE,
  governance,
  loadSystem,
  requestJob,
  requestParams,
  TOKEN,
} from "../../fixtures/system";
import { DEFAULT_ESCROW_PARAMETERS } from "../../../deploy/system";
import { hashJob, jobTotal } from "../../../src/core/job";
import { JobStatus } from "../../../src/core/job";
import { Mode } from "../../../src/core/modes";

const PROTOCOL_FEE_BPS = 500n;

describe("JobEscrow.request", () => {
  it("escrows model price + k node fees + protocol fee and stores only the job's hash", async () => {
    const fx = await loadSystem();
    const { escrow, token } = fx.system;
    const escrowAddress = await escrow.getAddress();
    const before = await token.balanceOf(fx.requester.address);
    const job = await requestJob(fx, { redundancy: 3 });
    const protocolFee = ((MODEL_PRICE + 3n * FEE_PER_NODE) * PROTOCOL_FEE_BPS) / 10_000n;
    const total = MODEL_PRICE + 3n * FEE_PER_NODE + protocolFee;
    expect(jobTotal(job)).to.equal(total);
    expect(await token.balanceOf(fx.requester.address)).to.equal(before - total);
    expect(await token.balanceOf(escrowAddress)).to.equal(total);
    expect(await escrow.commitmentOf(job.id)).to.equal(hashJob(job));
    expect(await escrow.hashJob(job)).to.equal(hashJob(job));
    expect((await escrow.stateOf(job.id)).status).to.equal(BigInt(JobStatus.Open));
    expect(await escrow.jobCount()).to.equal(1n);
    const [quoted, modelFee, quotedProtocolFee] = await escrow.quote(1n, 1n, Mode.Vanilla, 3, FEE_PER_NODE);
    expect([quoted, modelFee, quotedProtocolFee]).to.deep.equal([total, MODEL_PRICE, protocolFee]);
  });

  it("fixes the job's terms and emits them with the input in JobRequested", async () => {
    const fx = await loadSystem();
    const params = await requestParams({ redundancy: 3 });
    const tx = fx.system.escrow.connect(fx.requester).request(params);
    await expect(tx)
      .to.emit(fx.system.escrow, "JobRequested")
      .withArgs(1n, fx.requester.address, 1n, anyValue, params.input, "");
    const job = await requestJob(fx, { redundancy: 3 });
    expect(job.requester).to.equal(fx.requester.address);
    expect(job.modelOwner).to.equal(fx.owner.address);
    expect(job.verifier).to.equal(await fx.system.vanillaVerifier.getAddress());
    expect(job.inputHash).to.equal(keccak256(params.input));
    expect(job.revealDeadline).to.equal(job.deadline + 600n);
    expect(job.collateral).to.equal(COLLATERAL);
  });

  it("uses the input commitment when one is given, with the input by URI", async () => {
    const fx = await loadSystem();
    const commitment = keccak256(toUtf8Bytes("salted input"));
    const job = await requestJob(fx, { input: "0x", inputCommitment: commitment, inputUri: "ipfs://bafy..." });
    expect(job.inputHash).to.equal(commitment);
    expect(job.revealDeadline).to.equal(job.deadline);
  });

  it("requestWithPermit escrows with a signed permit and no prior approval", async () => {
    const fx = await loadSystem();
    const wallet = hre.ethers.Wallet.createRandom().connect(hre.ethers.provider);
    await fx.deployer.sendTransaction({ to: wallet.address, value: 10n ** 18n });
    await fx.system.token.mint(wallet.address, 10n * TOKEN);
    const [total] = await fx.system.escrow.quote(1n, 1n, Mode.Vanilla, 1, FEE_PER_NODE);
    const params = await requestParams({ maxTotal: total });
    const deadline = BigInt(await time.latest()) + 3600n;
    const { chainId } = await hre.ethers.provider.getNetwork();
    const signature = Signature.from(
      await wallet.signTypedData(
        { name: "Inference Test Token", version: "1", chainId, verifyingContract: await fx.system.token.getAddress() },
        {
          Permit: [
            { name: "owner", type: "address" },
            { name: "spender", type: "address" },
            { name: "value", type: "uint256" },
            { name: "nonce", type: "uint256" },
            { name: "deadline", type: "uint256" },
          ],
        },
        { owner: wallet.address, spender: await fx.system.escrow.getAddress(), value: total, nonce: 0n, deadline },
      ),
    );
    await expect(
      fx.system.escrow.connect(wallet).requestWithPermit(params, deadline, signature.v, signature.r, signature.s),
    ).to.emit(fx.system.escrow, "JobRequested");
    // The permit was used; replaying it fails inside the try/catch and the missing allowance decides.
    await expect(
      fx.system.escrow.connect(wallet).requestWithPermit(params, deadline, signature.v, signature.r, signature.s),
    ).to.be.revertedWithCustomError(fx.system.token, "ERC20InsufficientAllowance");
  });

  describe("reverts", () => {
    it("with JobEscrowInsufficientFee(jobId, sent, needed) when maxTotal is below the price", async () => {
      const fx = await loadSystem();
      const [total] = await fx.system.escrow.quote(1n, 1n, Mode.Vanilla, 1, FEE_PER_NODE);
      await expect(fx.system.escrow.connect(fx.requester).request(await requestParams({ maxTotal: total - 1n })))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInsufficientFee")
        .withArgs(1n, total - 1n, total);
    });

    it("with JobEscrowInsufficientFee when the owner raised the price after the requester's quote", async () => {
      const fx = await loadSystem();
      const [total] = await fx.system.escrow.quote(1n, 1n, Mode.Vanilla, 1, FEE_PER_NODE);
      await fx.system.registry.connect(fx.owner).setPrice(1n, MODEL_PRICE * 10n);
      await expect(
        fx.system.escrow.connect(fx.requester).request(await requestParams({ maxTotal: total })),
      ).to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInsufficientFee");
    });

    it("with JobEscrowInvalidRedundancy for 0, an even k (2, 4, 6) or more than MAX_REDUNDANCY", async () => {
      const fx = await loadSystem();
      for (const redundancy of [0, 2, 4, 6, 8, 9]) {
        await expect(fx.system.escrow.connect(fx.requester).request(await requestParams({ redundancy })))
          .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInvalidRedundancy")
          .withArgs(redundancy, 7);
      }
    });

    it("with JobEscrowInvalidDeadline outside [now + minDuration, now + maxDuration]", async () => {
      const fx = await loadSystem();
      const now = BigInt(await time.latest());
      await time.setNextBlockTimestamp(now + 10n);
      await expect(fx.system.escrow.connect(fx.requester).request(await requestParams({ deadline: now + 39n })))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInvalidDeadline")
        .withArgs(now + 39n, now + 40n, now + 10n + 30n * 24n * 3600n);
      await time.setNextBlockTimestamp(now + 20n);
      const tooLate = now + 20n + 30n * 24n * 3600n + 1n;
      await expect(fx.system.escrow.connect(fx.requester).request(await requestParams({ deadline: tooLate })))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInvalidDeadline")
        .withArgs(tooLate, now + 50n, tooLate - 1n);
    });

    it("with JobEscrowModeDisabled for a mode without a verifier", async () => {
      const fx = await loadSystem();
      await governance(
        fx,
        fx.system.escrow,
        fx.system.escrow.interface.encodeFunctionData("setVerifier", [Mode.Zk, hre.ethers.ZeroAddress]),
      );
      await expect(fx.system.escrow.connect(fx.requester).request(await requestParams({ mode: Mode.Zk })))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowModeDisabled")
        .withArgs(Mode.Zk);
    });

    it("with JobEscrowInvalidCollateral(collateral, min, max) below the minimum", async () => {
      const fx = await loadSystem();
      await expect(fx.system.escrow.connect(fx.requester).request(await requestParams({ collateral: TOKEN - 1n })))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInvalidCollateral")
        .withArgs(TOKEN - 1n, TOKEN, FEE_PER_NODE * 20n);
    });

    it("with JobEscrowInvalidCollateral(collateral, min, max) above feePerNode * maxCollateralRatio (issue #10 §1)", async () => {
      const fx = await loadSystem();
      const max = FEE_PER_NODE * 20n;
      await expect(
        fx.system.escrow.connect(fx.requester).request(await requestParams({ redundancy: 3, collateral: max + 1n })),
      )
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInvalidCollateral")
        .withArgs(max + 1n, TOKEN, max);
      const job = await requestJob(fx, { redundancy: 3, collateral: max });
      expect(job.collateral).to.equal(max);
    });

    it("with JobEscrowInvalidCollateral for a node fee of 0 with any collateral above 0, even with no minimum", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      await governance(
        fx,
        escrow,
        escrow.interface.encodeFunctionData("setParameters", [{ ...DEFAULT_ESCROW_PARAMETERS, minCollateral: 0 }]),
      );
      for (const collateral of [1n, TOKEN]) {
        await expect(escrow.connect(fx.requester).request(await requestParams({ feePerNode: 0n, collateral })))
          .to.be.revertedWithCustomError(escrow, "JobEscrowInvalidCollateral")
          .withArgs(collateral, 0n, 0n);
      }
      const job = await requestJob(fx, { feePerNode: 0n, collateral: 0n });
      expect([job.feePerNode, job.collateral]).to.deep.equal([0n, 0n]);
    });

    it("with JobEscrowInvalidCallback(callback, requester) for a callback other than the requester (issue #10 §2)", async () => {
      const fx = await loadSystem();
      for (const callback of [await fx.system.exampleConsumer.getAddress(), fx.other.address]) {
        await expect(
          fx.system.escrow.connect(fx.requester).request(await requestParams({ callback, callbackGasLimit: 100_000 })),
        )
          .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInvalidCallback")
          .withArgs(callback, fx.requester.address);
      }
    });

    it("with JobEscrowMissingInput and JobEscrowInputTooLarge", async () => {
      const fx = await loadSystem();
      await expect(
        fx.system.escrow.connect(fx.requester).request(await requestParams({ input: "0x" })),
      ).to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowMissingInput");
      await expect(
        fx.system.escrow.connect(fx.requester).request(await requestParams({ input: new Uint8Array(16_385) })),
      )
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInputTooLarge")
        .withArgs(16_385n, 16_384n);
    });

    it("with JobEscrowInvalidCallbackGas for gas without a callback, a callback without gas, or gas above the cap", async () => {
      const fx = await loadSystem();
      const consumer = fx.requester.address;
      // Without a callback the only valid gas is 0; with one, 1 to maxCallbackGas.
      const cases: [{ callback: string; callbackGasLimit: number }, number][] = [
        [{ callback: hre.ethers.ZeroAddress, callbackGasLimit: 1 }, 0],
        [{ callback: consumer, callbackGasLimit: 0 }, 500_000],
        [{ callback: consumer, callbackGasLimit: 500_001 }, 500_000],
      ];
      for (const [c, max] of cases) {
        await expect(fx.system.escrow.connect(fx.requester).request(await requestParams(c)))
          .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowInvalidCallbackGas")
          .withArgs(c.callbackGasLimit, max);
      }
    });

    it("with the registry's error for an unknown, deprecated or unsupported version", async () => {
      const fx = await loadSystem();
      await expect(fx.system.escrow.connect(fx.requester).request(await requestParams({ version: 2 })))
        .to.be.revertedWithCustomError(fx.system.registry, "ModelRegistryUnknownVersion")
        .withArgs(1n, 2n);
      await fx.system.registry.connect(fx.owner).deprecateVersion(1n, 1n);
      await expect(fx.system.escrow.connect(fx.requester).request(await requestParams()))
        .to.be.revertedWithCustomError(fx.system.registry, "ModelRegistryVersionDeprecated")
        .withArgs(1n, 1n);
    });

    it("with JobEscrowRequestsPaused while paused, and only the pauser can pause", async () => {
      const fx = await loadSystem();
      const role = await fx.system.escrow.PAUSER_ROLE();
      await expect(fx.system.escrow.connect(fx.other).setPaused(true))
        .to.be.revertedWithCustomError(fx.system.escrow, "AccessControlUnauthorizedAccount")
        .withArgs(fx.other.address, role);
      await expect(fx.system.escrow.connect(fx.deployer).setPaused(true))
        .to.emit(fx.system.escrow, "RequestsPaused")
        .withArgs(true);
      expect(await fx.system.escrow.paused()).to.equal(true);
      await expect(fx.system.escrow.connect(fx.requester).request(await requestParams())).to.be.revertedWithCustomError(
        fx.system.escrow,
        "JobEscrowRequestsPaused",
      );
      await fx.system.escrow.connect(fx.deployer).setPaused(false);
      await expect(fx.system.escrow.connect(fx.requester).request(await requestParams())).to.emit(
        fx.system.escrow,
        "JobRequested",
      );
    });

    it("with ERC20InsufficientAllowance when the requester has not approved the escrow", async () => {
      const fx = await loadSystem();
      await fx.system.token.connect(fx.requester).approve(await fx.system.escrow.getAddress(), 0n);
      await expect(fx.system.escrow.connect(fx.requester).request(await requestParams())).to.be.revertedWithCustomError(
        fx.system.token,
        "ERC20InsufficientAllowance",
      );
    });
  });

  it("keeps governance changes of the verifier away from open jobs", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx);
    await governance(
      fx,
      fx.system.escrow,
      fx.system.escrow.interface.encodeFunctionData("setVerifier", [Mode.Vanilla, hre.ethers.ZeroAddress]),
    );
    await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
    await expect(fx.system.escrow.connect(fx.nodes[0]!).submit(job, "0x01", "0x")).to.emit(
      fx.system.escrow,
      "JobSettled",
    );
    await expect(fx.system.escrow.connect(fx.requester).request(await requestParams()))
      .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowModeDisabled")
      .withArgs(Mode.Vanilla);
  });
});

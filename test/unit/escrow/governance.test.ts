import { expect } from "chai";
import hre from "hardhat";
import { governance, loadSystem, requestParams, TOKEN } from "../../fixtures/system";
import { DEFAULT_ESCROW_PARAMETERS, escrowLibraries } from "../../../deploy/system";
import { JobEscrow__factory } from "../../../typechain-types";
import { Mode } from "../../../src/core/modes";

describe("JobEscrow governance", () => {
  it("is held by the timelock alone: the deployer kept no admin role", async () => {
    const fx = await loadSystem();
    const admin = await fx.system.escrow.DEFAULT_ADMIN_ROLE();
    for (const contract of [fx.system.escrow, fx.system.staking, fx.system.teeVerifier]) {
      expect(await contract.hasRole(admin, await fx.system.timelock.getAddress())).to.equal(true);
      expect(await contract.hasRole(admin, fx.deployer.address)).to.equal(false);
    }
    await expect(fx.system.escrow.connect(fx.deployer).setTreasury(fx.other.address))
      .to.be.revertedWithCustomError(fx.system.escrow, "AccessControlUnauthorizedAccount")
      .withArgs(fx.deployer.address, admin);
  });

  it("changes parameters through the timelock and emits ParametersUpdated", async () => {
    const fx = await loadSystem();
    const p = { ...DEFAULT_ESCROW_PARAMETERS, protocolFeeBps: 1_000 };
    await expect(governance(fx, fx.system.escrow, fx.system.escrow.interface.encodeFunctionData("setParameters", [p])))
      .to.emit(fx.system.escrow, "ParametersUpdated")
      .withArgs([
        p.minCollateral,
        p.protocolFeeBps,
        p.slashBeneficiaryBps,
        p.minDuration,
        p.maxDuration,
        p.revealPeriod,
        p.maxCallbackGas,
        p.maxCollateralRatio,
        p.usageFeeFloor,
      ]);
    expect((await fx.system.escrow.parameters()).protocolFeeBps).to.equal(1_000n);
  });

  it("rejects each out-of-bounds parameter with JobEscrowParameterOutOfBounds", async () => {
    const fx = await loadSystem();
    const factory = new JobEscrow__factory(
      escrowLibraries(fx.system.record.contracts.settlementLib.address),
      fx.deployer,
    );
    const args = [
      await fx.system.registry.getAddress(),
      await fx.system.staking.getAddress(),
      fx.other.address,
      fx.deployer.address,
    ] as const;
    const base = DEFAULT_ESCROW_PARAMETERS;
    const cases: [Partial<typeof base>, string, bigint, bigint, bigint][] = [
      [{ protocolFeeBps: 1_001 }, "protocolFeeBps", 1001n, 0n, 1000n],
      [{ slashBeneficiaryBps: 10_001 }, "slashBeneficiaryBps", 10_001n, 0n, 10_000n],
      [{ minDuration: 9 }, "minDuration", 9n, 10n, 86_400n],
      [{ minDuration: 86_401 }, "minDuration", 86_401n, 10n, 86_400n],
      [{ minDuration: 100, maxDuration: 99 }, "maxDuration", 99n, 100n, 90n * 86_400n],
      [{ maxDuration: 90 * 86_400 + 1 }, "maxDuration", 90n * 86_400n + 1n, 30n, 90n * 86_400n],
      [{ revealPeriod: 9 }, "revealPeriod", 9n, 10n, 7n * 86_400n],
      [{ revealPeriod: 7 * 86_400 + 1 }, "revealPeriod", 7n * 86_400n + 1n, 10n, 7n * 86_400n],
      [{ maxCallbackGas: 5_000_001 }, "maxCallbackGas", 5_000_001n, 0n, 5_000_000n],
      [{ minCollateral: 10n ** 27n + 1n }, "minCollateral", 10n ** 27n + 1n, 0n, 10n ** 27n],
      [{ maxCollateralRatio: 0 }, "maxCollateralRatio", 0n, 1n, 1_000n],
      [{ maxCollateralRatio: 1_001 }, "maxCollateralRatio", 1_001n, 1n, 1_000n],
      [{ usageFeeFloor: 10n ** 27n + 1n }, "usageFeeFloor", 10n ** 27n + 1n, 0n, 10n ** 27n],
    ];
    for (const [override, name, value, min, max] of cases) {
      await expect(factory.deploy(...args, { ...base, ...override }))
        .to.be.revertedWithCustomError(fx.system.escrow, "JobEscrowParameterOutOfBounds")
        .withArgs(name, value, min, max);
    }
  });

  it("changes maxCollateralRatio only within [1, 1000] through the timelock, and the new ratio bounds later requests", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const set = (maxCollateralRatio: number) =>
      governance(
        fx,
        escrow,
        escrow.interface.encodeFunctionData("setParameters", [{ ...DEFAULT_ESCROW_PARAMETERS, maxCollateralRatio }]),
      );
    for (const ratio of [0, 1_001]) {
      await expect(set(ratio))
        .to.be.revertedWithCustomError(escrow, "JobEscrowParameterOutOfBounds")
        .withArgs("maxCollateralRatio", ratio, 1, 1_000);
    }
    expect((await escrow.parameters()).maxCollateralRatio).to.equal(20n);
    await expect(set(1_000)).to.emit(escrow, "ParametersUpdated");
    expect((await escrow.parameters()).maxCollateralRatio).to.equal(1_000n);
    await expect(set(1)).to.emit(escrow, "ParametersUpdated");
    expect((await escrow.parameters()).maxCollateralRatio).to.equal(1n);
    await expect(
      escrow.connect(fx.requester).request(await requestParams({ feePerNode: 2n * TOKEN, collateral: 2n * TOKEN })),
    ).to.emit(escrow, "JobRequested");
    await expect(
      escrow
        .connect(fx.requester)
        .request(await requestParams({ feePerNode: 2n * TOKEN, collateral: 2n * TOKEN + 1n })),
    )
      .to.be.revertedWithCustomError(escrow, "JobEscrowInvalidCollateral")
      .withArgs(2n * TOKEN + 1n, TOKEN, 2n * TOKEN);
  });

  it("accepts minCollateral and usageFeeFloor up to 1e27 and rejects one wei more", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const cap = 10n ** 27n;
    const set = (p: Partial<typeof DEFAULT_ESCROW_PARAMETERS>) =>
      governance(
        fx,
        escrow,
        escrow.interface.encodeFunctionData("setParameters", [{ ...DEFAULT_ESCROW_PARAMETERS, ...p }]),
      );
    await expect(set({ minCollateral: cap + 1n }))
      .to.be.revertedWithCustomError(escrow, "JobEscrowParameterOutOfBounds")
      .withArgs("minCollateral", cap + 1n, 0n, cap);
    await expect(set({ usageFeeFloor: cap + 1n }))
      .to.be.revertedWithCustomError(escrow, "JobEscrowParameterOutOfBounds")
      .withArgs("usageFeeFloor", cap + 1n, 0n, cap);
    await expect(set({ minCollateral: cap, usageFeeFloor: cap })).to.emit(escrow, "ParametersUpdated");
    const p = await escrow.parameters();
    expect([p.minCollateral, p.usageFeeFloor]).to.deep.equal([cap, cap]);
  });

  it("setVerifier accepts only a contract implementing the mode, and zero disables the mode", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    const vanilla = await fx.system.vanillaVerifier.getAddress();
    const call = (mode: number, verifier: string) =>
      governance(fx, escrow, escrow.interface.encodeFunctionData("setVerifier", [mode, verifier]));
    await expect(call(Mode.Zk, vanilla))
      .to.be.revertedWithCustomError(escrow, "JobEscrowInvalidVerifier")
      .withArgs(Mode.Zk, vanilla);
    await expect(call(Mode.Zk, fx.other.address))
      .to.be.revertedWithCustomError(escrow, "JobEscrowInvalidVerifier")
      .withArgs(Mode.Zk, fx.other.address);
    await expect(call(Mode.Tee, hre.ethers.ZeroAddress))
      .to.emit(escrow, "VerifierSet")
      .withArgs(Mode.Tee, hre.ethers.ZeroAddress);
    expect(await escrow.verifierOf(Mode.Tee)).to.equal(hre.ethers.ZeroAddress);
    await call(Mode.Tee, await fx.system.teeVerifier.getAddress());
    expect(await escrow.verifierOf(Mode.Tee)).to.equal(await fx.system.teeVerifier.getAddress());
  });

  it("setTreasury rejects the zero address and emits TreasuryUpdated", async () => {
    const fx = await loadSystem();
    const { escrow } = fx.system;
    await expect(governance(fx, escrow, escrow.interface.encodeFunctionData("setTreasury", [hre.ethers.ZeroAddress])))
      .to.be.revertedWithCustomError(escrow, "JobEscrowInvalidRecipient")
      .withArgs(hre.ethers.ZeroAddress);
    const previous = await escrow.treasury();
    await expect(governance(fx, escrow, escrow.interface.encodeFunctionData("setTreasury", [fx.other.address])))
      .to.emit(escrow, "TreasuryUpdated")
      .withArgs(previous, fx.other.address);
    expect(await escrow.treasury()).to.equal(fx.other.address);
  });

  it("a timelocked call cannot execute before its delay", async () => {
    const fx = await loadSystem();
    const { escrow, timelock } = fx.system;
    const data = escrow.interface.encodeFunctionData("setTreasury", [fx.other.address]);
    const salt = hre.ethers.id("early");
    await timelock.schedule(
      await escrow.getAddress(),
      0,
      data,
      hre.ethers.ZeroHash,
      salt,
      await timelock.getMinDelay(),
    );
    await expect(
      timelock.execute(await escrow.getAddress(), 0, data, hre.ethers.ZeroHash, salt),
    ).to.be.revertedWithCustomError(timelock, "TimelockUnexpectedOperationState");
  });
});

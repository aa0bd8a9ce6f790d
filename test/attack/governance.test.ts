import { expect } from "chai";
import hre from "hardhat";
import { governance, loadSystem } from "../fixtures/system";
import { DEFAULT_ESCROW_PARAMETERS, DEFAULT_STAKING_PARAMETERS } from "../../deploy/system";
import { Mode } from "../../src/core/modes";

const ADMIN = "0x" + "00".repeat(32); // DEFAULT_ADMIN_ROLE

describe("attack: governance", () => {
  describe("a parameter change that skips the timelock", () => {
    it("reverts with AccessControlUnauthorizedAccount for the deployer (admin handed to the timelock)", async () => {
      const fx = await loadSystem();
      const { escrow, staking } = fx.system;
      await expect(escrow.connect(fx.deployer).setParameters(DEFAULT_ESCROW_PARAMETERS))
        .to.be.revertedWithCustomError(escrow, "AccessControlUnauthorizedAccount")
        .withArgs(fx.deployer.address, ADMIN);
      await expect(staking.connect(fx.deployer).setParameters(DEFAULT_STAKING_PARAMETERS))
        .to.be.revertedWithCustomError(staking, "AccessControlUnauthorizedAccount")
        .withArgs(fx.deployer.address, ADMIN);
      await expect(escrow.connect(fx.deployer).setVerifier(Mode.Tee, fx.deployer.address))
        .to.be.revertedWithCustomError(escrow, "AccessControlUnauthorizedAccount")
        .withArgs(fx.deployer.address, ADMIN);
      await expect(staking.connect(fx.deployer).addStakeLocker(fx.deployer.address))
        .to.be.revertedWithCustomError(staking, "AccessControlUnauthorizedAccount")
        .withArgs(fx.deployer.address, ADMIN);
    });

    it("reverts with AccessControlUnauthorizedAccount for anyone, the treasury and the pauser role included", async () => {
      const fx = await loadSystem();
      const { escrow, teeVerifier } = fx.system;
      await expect(escrow.connect(fx.other).setTreasury(fx.other.address))
        .to.be.revertedWithCustomError(escrow, "AccessControlUnauthorizedAccount")
        .withArgs(fx.other.address, ADMIN);
      await expect(escrow.connect(fx.other).setPaused(true))
        .to.be.revertedWithCustomError(escrow, "AccessControlUnauthorizedAccount")
        .withArgs(fx.other.address, await escrow.PAUSER_ROLE());
      await expect(teeVerifier.connect(fx.other).revokeEnclave(fx.enclave.address))
        .to.be.revertedWithCustomError(teeVerifier, "AccessControlUnauthorizedAccount")
        .withArgs(fx.other.address, await teeVerifier.DEFAULT_ADMIN_ROLE());
    });

    it("reverts with TimelockUnexpectedOperationState when executed before the delay", async () => {
      const fx = await loadSystem();
      const { escrow, timelock } = fx.system;
      const data = escrow.interface.encodeFunctionData("setParameters", [
        { ...DEFAULT_ESCROW_PARAMETERS, protocolFeeBps: 100 },
      ]);
      const salt = hre.ethers.id("early");
      await timelock.schedule(escrow, 0, data, hre.ethers.ZeroHash, salt, await timelock.getMinDelay());
      const id = await timelock.hashOperation(escrow, 0, data, hre.ethers.ZeroHash, salt);
      const ready = hre.ethers.toBeHex(1n << 2n, 32); // 1 << OperationState.Ready
      await expect(timelock.execute(escrow, 0, data, hre.ethers.ZeroHash, salt))
        .to.be.revertedWithCustomError(timelock, "TimelockUnexpectedOperationState")
        .withArgs(id, ready);
    });
  });

  describe("a fee above its cap", () => {
    it("reverts with JobEscrowParameterOutOfBounds even through the timelock (protocolFeeBps 1001)", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const data = escrow.interface.encodeFunctionData("setParameters", [
        { ...DEFAULT_ESCROW_PARAMETERS, protocolFeeBps: 1001 },
      ]);
      await expect(governance(fx, escrow, data))
        .to.be.revertedWithCustomError(escrow, "JobEscrowParameterOutOfBounds")
        .withArgs("protocolFeeBps", 1001, 0, 1000);
      expect((await escrow.parameters()).protocolFeeBps).to.equal(BigInt(DEFAULT_ESCROW_PARAMETERS.protocolFeeBps));
    });

    it("accepts the cap itself (protocolFeeBps 1000) through the timelock", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const data = escrow.interface.encodeFunctionData("setParameters", [
        { ...DEFAULT_ESCROW_PARAMETERS, protocolFeeBps: 1000 },
      ]);
      await expect(governance(fx, escrow, data)).to.emit(escrow, "ParametersUpdated");
      expect((await escrow.parameters()).protocolFeeBps).to.equal(1000n);
    });
  });
});

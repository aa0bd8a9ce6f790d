import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { Signature } from "ethers";
import { governance, loadSystem, STAKE, TOKEN, type Fixture } from "../../fixtures/system";
import { Mode, modeMask } from "../../../src/core/modes";
import { MockStakeLocker__factory, type MockStakeLocker } from "../../../typechain-types";

const WEEK = 7 * 24 * 3600;

async function withLocker(fx: Fixture): Promise<MockStakeLocker> {
  const locker = await new MockStakeLocker__factory(fx.deployer).deploy(await fx.system.staking.getAddress());
  const address = await locker.getAddress();
  await expect(
    governance(fx, fx.system.staking, fx.system.staking.interface.encodeFunctionData("addStakeLocker", [address])),
  )
    .to.emit(fx.system.staking, "StakeLockerAdded")
    .withArgs(address);
  return locker;
}

describe("NodeStaking", () => {
  describe("stake", () => {
    it("adds to active stake, pulls the tokens and emits Staked", async () => {
      const { system, other } = await loadSystem();
      const staking = await system.staking.getAddress();
      const before = await system.token.balanceOf(staking);
      await expect(system.staking.connect(other).stake(5n * TOKEN))
        .to.emit(system.staking, "Staked")
        .withArgs(other.address, 5n * TOKEN);
      expect((await system.staking.operatorOf(other.address)).staked).to.equal(5n * TOKEN);
      expect(await system.token.balanceOf(staking)).to.equal(before + 5n * TOKEN);
      expect(await system.staking.totalStaked()).to.equal(3n * STAKE + 5n * TOKEN);
    });

    it("reverts with NodeStakingZeroAmount for zero", async () => {
      const { system, other } = await loadSystem();
      await expect(system.staking.connect(other).stake(0n)).to.be.revertedWithCustomError(
        system.staking,
        "NodeStakingZeroAmount",
      );
    });

    it("stakeWithPermit stakes with a signed permit and no prior approval", async () => {
      const { system, deployer } = await loadSystem();
      const wallet = hre.ethers.Wallet.createRandom().connect(hre.ethers.provider);
      await deployer.sendTransaction({ to: wallet.address, value: 10n ** 18n });
      await system.token.mint(wallet.address, 50n * TOKEN);
      const staking = await system.staking.getAddress();
      const deadline = BigInt(await time.latest()) + 3600n;
      const { chainId } = await hre.ethers.provider.getNetwork();
      const signature = Signature.from(
        await wallet.signTypedData(
          { name: "Inference Test Token", version: "1", chainId, verifyingContract: await system.token.getAddress() },
          {
            Permit: [
              { name: "owner", type: "address" },
              { name: "spender", type: "address" },
              { name: "value", type: "uint256" },
              { name: "nonce", type: "uint256" },
              { name: "deadline", type: "uint256" },
            ],
          },
          { owner: wallet.address, spender: staking, value: 50n * TOKEN, nonce: 0n, deadline },
        ),
      );
      await expect(
        system.staking.connect(wallet).stakeWithPermit(50n * TOKEN, deadline, signature.v, signature.r, signature.s),
      )
        .to.emit(system.staking, "Staked")
        .withArgs(wallet.address, 50n * TOKEN);
    });
  });

  describe("register", () => {
    it("sets capabilities and emits CapabilitiesUpdated", async () => {
      const { system, nodes } = await loadSystem();
      const node = nodes[0]!;
      await expect(system.staking.connect(node).register(modeMask([Mode.Tee])))
        .to.emit(system.staking, "CapabilitiesUpdated")
        .withArgs(node.address, 2n);
      expect(await system.staking.isEligible(node.address, Mode.Tee, 0n)).to.equal(true);
      expect(await system.staking.isEligible(node.address, Mode.Vanilla, 0n)).to.equal(false);
    });

    it("reverts with NodeStakingInvalidCapabilities for an empty set", async () => {
      const { system, nodes } = await loadSystem();
      await expect(system.staking.connect(nodes[0]!).register(0))
        .to.be.revertedWithCustomError(system.staking, "NodeStakingInvalidCapabilities")
        .withArgs(0n);
    });

    it("reverts with NodeStakingInvalidCapabilities for a set naming an unknown mode (1 << 4, 1 << 31), alone or with known ones", async () => {
      const { system, nodes } = await loadSystem();
      const known = modeMask([Mode.Vanilla, Mode.Tee, Mode.Zk, Mode.Dual]);
      for (const capabilities of [1 << 4, known | (1 << 4), 2 ** 31, 0xffffffff]) {
        await expect(system.staking.connect(nodes[0]!).register(capabilities))
          .to.be.revertedWithCustomError(system.staking, "NodeStakingInvalidCapabilities")
          .withArgs(capabilities);
      }
      await expect(system.staking.connect(nodes[0]!).register(known))
        .to.emit(system.staking, "CapabilitiesUpdated")
        .withArgs(nodes[0]!.address, known);
      expect((await system.staking.operatorOf(nodes[0]!.address)).capabilities).to.equal(BigInt(known));
    });

    it("reverts with NodeStakingBelowMinimumStake without the minimum stake", async () => {
      const { system, other } = await loadSystem();
      await system.staking.connect(other).stake(TOKEN);
      await expect(system.staking.connect(other).register(1))
        .to.be.revertedWithCustomError(system.staking, "NodeStakingBelowMinimumStake")
        .withArgs(other.address, TOKEN, 100n * TOKEN);
    });
  });

  describe("unstake, restake, withdraw", () => {
    it("moves stake through thawing to the operator after the thawing period", async () => {
      const { system, nodes, other } = await loadSystem();
      const node = nodes[0]!;
      const at = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(at);
      const tx = system.staking.connect(node).unstake(400n * TOKEN);
      const thawEnd = at + BigInt(WEEK);
      await expect(tx)
        .to.emit(system.staking, "Unstaked")
        .withArgs(node.address, 400n * TOKEN, thawEnd);
      let position = await system.staking.operatorOf(node.address);
      expect(position.staked).to.equal(600n * TOKEN);
      expect(position.thawing).to.equal(400n * TOKEN);
      await expect(system.staking.connect(node).withdraw(node.address))
        .to.be.revertedWithCustomError(system.staking, "NodeStakingStillThawing")
        .withArgs(node.address, thawEnd);
      await time.increaseTo(thawEnd);
      const before = await system.token.balanceOf(other.address);
      await expect(system.staking.connect(node).withdraw(other.address))
        .to.emit(system.staking, "Withdrawn")
        .withArgs(node.address, other.address, 400n * TOKEN);
      expect(await system.token.balanceOf(other.address)).to.equal(before + 400n * TOKEN);
      position = await system.staking.operatorOf(node.address);
      expect(position.thawing).to.equal(0n);
      expect(position.thawEnd).to.equal(0n);
      expect(await system.staking.totalStaked()).to.equal(3n * STAKE - 400n * TOKEN);
    });

    it("restake moves thawing stake back to active stake", async () => {
      const { system, nodes } = await loadSystem();
      const node = nodes[0]!;
      await system.staking.connect(node).unstake(400n * TOKEN);
      await expect(system.staking.connect(node).restake(100n * TOKEN))
        .to.emit(system.staking, "Restaked")
        .withArgs(node.address, 100n * TOKEN);
      await system.staking.connect(node).restake(300n * TOKEN);
      const position = await system.staking.operatorOf(node.address);
      expect(position.staked).to.equal(STAKE);
      expect(position.thawing).to.equal(0n);
      expect(position.thawEnd).to.equal(0n);
      await expect(system.staking.connect(node).restake(1n))
        .to.be.revertedWithCustomError(system.staking, "NodeStakingInsufficientStake")
        .withArgs(node.address, 0n, 1n);
      await expect(system.staking.connect(node).restake(0n)).to.be.revertedWithCustomError(
        system.staking,
        "NodeStakingZeroAmount",
      );
    });

    it("reverts unstake beyond the unlocked stake with NodeStakingInsufficientStake", async () => {
      const fx = await loadSystem();
      const node = fx.nodes[0]!;
      const locker = await withLocker(fx);
      await locker.setLocked(node.address, 700n * TOKEN);
      expect(await fx.system.staking.availableStake(node.address)).to.equal(300n * TOKEN);
      expect(await fx.system.staking.lockedStake(node.address)).to.equal(700n * TOKEN);
      await expect(fx.system.staking.connect(node).unstake(301n * TOKEN))
        .to.be.revertedWithCustomError(fx.system.staking, "NodeStakingInsufficientStake")
        .withArgs(node.address, 300n * TOKEN, 301n * TOKEN);
      await expect(fx.system.staking.connect(node).unstake(0n)).to.be.revertedWithCustomError(
        fx.system.staking,
        "NodeStakingZeroAmount",
      );
    });

    it("reverts withdraw with nothing thawing or to the zero address", async () => {
      const { system, nodes } = await loadSystem();
      await expect(system.staking.connect(nodes[0]!).withdraw(nodes[0]!.address))
        .to.be.revertedWithCustomError(system.staking, "NodeStakingNothingThawing")
        .withArgs(nodes[0]!.address);
      await expect(system.staking.connect(nodes[0]!).withdraw(hre.ethers.ZeroAddress))
        .to.be.revertedWithCustomError(system.staking, "NodeStakingInvalidRecipient")
        .withArgs(hre.ethers.ZeroAddress);
    });
  });

  describe("slash", () => {
    it("takes thawing stake pro-rata, rounding the thawing share up, and sends the tokens to the locker", async () => {
      const fx = await loadSystem();
      const node = fx.nodes[0]!;
      const locker = await withLocker(fx);
      await fx.system.staking.connect(node).unstake(333n * TOKEN); // 667 active, 333 thawing
      const amount = 100n * TOKEN + 1n;
      const fromThawing = (amount * 333n * TOKEN + STAKE - 1n) / STAKE; // ceil
      await expect(locker.slash(node.address, amount))
        .to.emit(fx.system.staking, "Slashed")
        .withArgs(node.address, await locker.getAddress(), amount, fromThawing);
      const position = await fx.system.staking.operatorOf(node.address);
      expect(position.thawing).to.equal(333n * TOKEN - fromThawing);
      expect(position.staked).to.equal(667n * TOKEN - (amount - fromThawing));
      expect(await fx.system.token.balanceOf(await locker.getAddress())).to.equal(amount);
      expect(await fx.system.staking.totalStaked()).to.equal(3n * STAKE - amount);
    });

    it("caps a slash at maxSlashBps of the slashable stake and at the stake itself", async () => {
      const fx = await loadSystem();
      const node = fx.nodes[0]!;
      const locker = await withLocker(fx);
      const current = await fx.system.staking.parameters();
      const parameters = {
        minimumStake: current.minimumStake,
        thawingPeriod: current.thawingPeriod,
        maxSlashBps: 2_500,
      };
      await governance(
        fx,
        fx.system.staking,
        fx.system.staking.interface.encodeFunctionData("setParameters", [parameters]),
      );
      await expect(locker.slash(node.address, 10_000n * TOKEN))
        .to.emit(fx.system.staking, "Slashed")
        .withArgs(node.address, await locker.getAddress(), 250n * TOKEN, 0n);
      await expect(locker.slash(fx.other.address, TOKEN)).not.to.emit(fx.system.staking, "Slashed");
    });

    it("reverts with NodeStakingUnauthorizedLocker for anyone but a locker", async () => {
      const { system, other, nodes } = await loadSystem();
      await expect(system.staking.connect(other).slash(nodes[0]!.address, 1n))
        .to.be.revertedWithCustomError(system.staking, "NodeStakingUnauthorizedLocker")
        .withArgs(other.address);
    });
  });

  describe("governance", () => {
    it("adds lockers only through governance, at most MAX_LOCKERS, never twice, never an account without code", async () => {
      const fx = await loadSystem();
      const { staking } = fx.system;
      await expect(staking.connect(fx.deployer).addStakeLocker(fx.other.address))
        .to.be.revertedWithCustomError(staking, "AccessControlUnauthorizedAccount")
        .withArgs(fx.deployer.address, hre.ethers.ZeroHash);
      expect(await staking.stakeLockers()).to.deep.equal([await fx.system.escrow.getAddress()]);
      const escrow = await fx.system.escrow.getAddress();
      await expect(governance(fx, staking, staking.interface.encodeFunctionData("addStakeLocker", [escrow])))
        .to.be.revertedWithCustomError(staking, "NodeStakingInvalidLocker")
        .withArgs(escrow);
      await expect(governance(fx, staking, staking.interface.encodeFunctionData("addStakeLocker", [fx.other.address])))
        .to.be.revertedWithCustomError(staking, "NodeStakingInvalidLocker")
        .withArgs(fx.other.address);
      for (let i = 0; i < 3; i++) await withLocker(fx);
      expect((await staking.stakeLockers()).length).to.equal(4);
      const extra = await new MockStakeLocker__factory(fx.deployer).deploy(await staking.getAddress());
      await expect(staking.connect(fx.deployer).addStakeLocker(await extra.getAddress())).to.be.revertedWithCustomError(
        staking,
        "AccessControlUnauthorizedAccount",
      );
      await expect(
        governance(fx, staking, staking.interface.encodeFunctionData("addStakeLocker", [await extra.getAddress()])),
      )
        .to.be.revertedWithCustomError(staking, "NodeStakingInvalidLocker")
        .withArgs(await extra.getAddress());
    });

    it("sets parameters within bounds and emits ParametersUpdated", async () => {
      const fx = await loadSystem();
      const { staking } = fx.system;
      const p = { minimumStake: 5n * TOKEN, thawingPeriod: 3600n, maxSlashBps: 1_000n };
      await expect(governance(fx, staking, staking.interface.encodeFunctionData("setParameters", [p])))
        .to.emit(staking, "ParametersUpdated")
        .withArgs([5n * TOKEN, 3600n, 1000n]);
      const stored = await staking.parameters();
      expect([stored.minimumStake, stored.thawingPeriod, stored.maxSlashBps]).to.deep.equal([5n * TOKEN, 3600n, 1000n]);
    });

    it("rejects each out-of-bounds parameter with NodeStakingParameterOutOfBounds", async () => {
      const fx = await loadSystem();
      const { staking } = fx.system;
      const factory = await hre.ethers.getContractFactory("NodeStaking");
      const token = await fx.system.token.getAddress();
      const base = { minimumStake: 1n, thawingPeriod: 3600n, maxSlashBps: 10_000n };
      const cases: [Partial<typeof base>, string, bigint, bigint, bigint][] = [
        [{ minimumStake: 10n ** 30n + 1n }, "minimumStake", 10n ** 30n + 1n, 0n, 10n ** 30n],
        [{ thawingPeriod: 3599n }, "thawingPeriod", 3599n, 3600n, 365n * 24n * 3600n],
        [
          { thawingPeriod: 365n * 24n * 3600n + 1n },
          "thawingPeriod",
          365n * 24n * 3600n + 1n,
          3600n,
          365n * 24n * 3600n,
        ],
        [{ maxSlashBps: 999n }, "maxSlashBps", 999n, 1000n, 10_000n],
        [{ maxSlashBps: 10_001n }, "maxSlashBps", 10_001n, 1000n, 10_000n],
      ];
      for (const [override, name, value, min, max] of cases) {
        await expect(factory.deploy(token, fx.deployer.address, { ...base, ...override }))
          .to.be.revertedWithCustomError(staking, "NodeStakingParameterOutOfBounds")
          .withArgs(name, value, min, max);
      }
    });
  });
});

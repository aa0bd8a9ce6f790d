import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, toBeHex, toUtf8Bytes } from "ethers";
import { governor, STAKE, systemFixture, TOKEN, type Fixture } from "../../fixtures/system";
import { DEFAULT_STAKING_PARAMETERS } from "../../../deploy/system";
import { ProviderDirectory__factory, type ProviderDirectory } from "../../../typechain-types";

const PEER = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
const A = `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`;
const B = `/ip6/::1/tcp/4001/p2p/${PEER}`;
const C = `/dns4/provider.example/tcp/4001/p2p/${PEER}`;
const D = `/dns6/provider.example/tcp/4002/p2p/${PEER}`;
const MINIMUM = BigInt(DEFAULT_STAKING_PARAMETERS.minimumStake);

interface DirectoryFixture extends Fixture {
  directory: ProviderDirectory;
}

async function load(): Promise<DirectoryFixture> {
  const fx = await loadFixture(systemFixture);
  await mine();
  return { ...fx, directory: fx.system.providerDirectory };
}

/** `/` and then `length - 1` letters. */
function addressOfLength(length: number): string {
  return `/${"a".repeat(length - 1)}`;
}

describe("ProviderDirectory", () => {
  describe("constructor", () => {
    it("records the staking contract; the bounds are 4 addresses of 256 bytes and 1,024 operators", async () => {
      const fx = await load();
      const directory = await new ProviderDirectory__factory(fx.deployer).deploy(await fx.system.staking.getAddress());
      expect(await directory.staking()).to.equal(await fx.system.staking.getAddress());
      expect([
        await directory.MAX_ADDRESSES(),
        await directory.MAX_ADDRESS_BYTES(),
        await directory.MAX_PROVIDERS(),
      ]).to.deep.equal([4n, 256n, 1024n]);
      expect(await directory.providers()).to.deep.equal([]);
    });

    it("reverts with ProviderDirectoryInvalidContract for a staking address without code", async () => {
      const fx = await load();
      const factory = new ProviderDirectory__factory(fx.deployer);
      await expect(factory.deploy(fx.other.address))
        .to.be.revertedWithCustomError(factory, "ProviderDirectoryInvalidContract")
        .withArgs("staking", fx.other.address);
    });
  });

  describe("announce", () => {
    it("records a staked operator's addresses, lists it and emits ProvidersAnnounced", async () => {
      const { directory, nodes } = await load();
      const node = nodes[0]!;
      await expect(directory.connect(node).announce([A, C]))
        .to.emit(directory, "ProvidersAnnounced")
        .withArgs(node.address, [A, C]);
      expect(await directory.addressesOf(node.address)).to.deep.equal([A, C]);
      expect(await directory.providers()).to.deep.equal([node.address]);
    });

    it("replaces the previous announcement, longer or shorter, and lists the operator once", async () => {
      const { directory, nodes } = await load();
      const node = nodes[0]!;
      await directory.connect(node).announce([A]);
      await expect(directory.connect(node).announce([D, C, B, A]))
        .to.emit(directory, "ProvidersAnnounced")
        .withArgs(node.address, [D, C, B, A]);
      expect(await directory.addressesOf(node.address)).to.deep.equal([D, C, B, A]);
      await directory.connect(node).announce([B]);
      expect(await directory.addressesOf(node.address)).to.deep.equal([B]);
      expect(await directory.providers()).to.deep.equal([node.address]);
    });

    it("takes 1 and 4 addresses, and addresses of 1 and 256 bytes (the bounds are inclusive)", async () => {
      const { directory, nodes } = await load();
      await directory.connect(nodes[0]!).announce(["/"]);
      const longest = [256, 256, 256, 256].map(addressOfLength);
      await directory.connect(nodes[1]!).announce(longest);
      expect(await directory.addressesOf(nodes[0]!.address)).to.deep.equal(["/"]);
      expect(await directory.addressesOf(nodes[1]!.address)).to.deep.equal(longest);
    });

    it("reverts with ProviderDirectoryInvalidAddressCount for no address and for five", async () => {
      const { directory, nodes } = await load();
      await expect(directory.connect(nodes[0]!).announce([]))
        .to.be.revertedWithCustomError(directory, "ProviderDirectoryInvalidAddressCount")
        .withArgs(0n, 4n);
      await expect(directory.connect(nodes[0]!).announce([A, B, C, D, A]))
        .to.be.revertedWithCustomError(directory, "ProviderDirectoryInvalidAddressCount")
        .withArgs(5n, 4n);
    });

    it("reverts with ProviderDirectoryInvalidAddress, naming the index and the bytes, for a malformed address", async () => {
      const { directory, nodes } = await load();
      const node = nodes[0]!;
      for (const bad of [
        "",
        addressOfLength(257),
        "ip4/127.0.0.1/tcp/4001",
        "/ip4/127.0.0.1 /tcp/4001",
        "/ip4/127.0.0.1/tcp/4001\n",
        "/dns4/prövider.example/tcp/1",
        "/x\u007f",
      ]) {
        await expect(directory.connect(node).announce([A, bad]))
          .to.be.revertedWithCustomError(directory, "ProviderDirectoryInvalidAddress")
          .withArgs(1n, hexlify(toUtf8Bytes(bad)));
      }
      expect(await directory.providers()).to.deep.equal([]);
    });

    it("reverts with ProviderDirectoryNotOperator for an account not registered in NodeStaking", async () => {
      const { directory, other } = await load();
      await expect(directory.connect(other).announce([A]))
        .to.be.revertedWithCustomError(directory, "ProviderDirectoryNotOperator")
        .withArgs(other.address);
    });

    it("reverts with ProviderDirectoryBelowMinimumStake for a registered operator whose active stake is below the minimum", async () => {
      const { directory, system, nodes } = await load();
      const node = nodes[0]!;
      await system.staking.connect(node).unstake(STAKE - MINIMUM + 1n);
      await expect(directory.connect(node).announce([A]))
        .to.be.revertedWithCustomError(directory, "ProviderDirectoryBelowMinimumStake")
        .withArgs(node.address, MINIMUM - 1n, MINIMUM);
    });

    it("reverts with ProviderDirectoryFull for a new operator when 1,024 are listed; a listed one still replaces", async () => {
      const { directory, nodes } = await load();
      await directory.connect(nodes[0]!).announce([A]);
      // The set's length is slot 0 (EnumerableSet.AddressSet's `_values`): the list made to look full. The real
      // filling, with 1,024 staked operators, is in the forge suite (test/invariant/storage).
      const address = await directory.getAddress();
      expect(await hre.ethers.provider.getStorage(address, 0)).to.equal(toBeHex(1n, 32));
      await hre.network.provider.send("hardhat_setStorageAt", [address, "0x0", toBeHex(1024n, 32)]);
      await expect(directory.connect(nodes[1]!).announce([A]))
        .to.be.revertedWithCustomError(directory, "ProviderDirectoryFull")
        .withArgs(1024n);
      await expect(directory.connect(nodes[0]!).announce([B])).to.emit(directory, "ProvidersAnnounced");
    });
  });

  describe("withdraw", () => {
    it("removes the caller's announcement and place in the list, and emits ProvidersWithdrawn", async () => {
      const { directory, nodes } = await load();
      for (const node of nodes) await directory.connect(node).announce([A]);
      await expect(directory.connect(nodes[0]!).withdraw())
        .to.emit(directory, "ProvidersWithdrawn")
        .withArgs(nodes[0]!.address);
      expect(await directory.addressesOf(nodes[0]!.address)).to.deep.equal([]);
      // The last operator moved into the freed place.
      expect(await directory.providers()).to.deep.equal([nodes[2]!.address, nodes[1]!.address]);
    });

    it("works for an operator no longer staked", async () => {
      const { directory, system, nodes } = await load();
      const node = nodes[0]!;
      await directory.connect(node).announce([A]);
      await system.staking.connect(node).unstake(STAKE);
      await expect(directory.connect(node).withdraw()).to.emit(directory, "ProvidersWithdrawn").withArgs(node.address);
    });

    it("reverts with ProviderDirectoryNotAnnounced without an announcement, and the second time", async () => {
      const { directory, nodes, other } = await load();
      await expect(directory.connect(other).withdraw())
        .to.be.revertedWithCustomError(directory, "ProviderDirectoryNotAnnounced")
        .withArgs(other.address);
      await directory.connect(nodes[0]!).announce([A]);
      await directory.connect(nodes[0]!).withdraw();
      await expect(directory.connect(nodes[0]!).withdraw())
        .to.be.revertedWithCustomError(directory, "ProviderDirectoryNotAnnounced")
        .withArgs(nodes[0]!.address);
    });
  });

  describe("prune", () => {
    it("lets anyone remove an unstaked operator's announcement, emitting ProvidersPruned with the pruner", async () => {
      const { directory, system, nodes, other } = await load();
      const node = nodes[0]!;
      await directory.connect(node).announce([A, B]);
      await directory.connect(nodes[1]!).announce([C]);
      await system.staking.connect(node).unstake(STAKE);
      await expect(directory.connect(other).prune(node.address))
        .to.emit(directory, "ProvidersPruned")
        .withArgs(node.address, other.address);
      expect(await directory.addressesOf(node.address)).to.deep.equal([]);
      expect(await directory.providers()).to.deep.equal([nodes[1]!.address]);
    });

    it("reverts with ProviderDirectoryStillStaked for a staked operator", async () => {
      const { directory, nodes, other } = await load();
      await directory.connect(nodes[0]!).announce([A]);
      await expect(directory.connect(other).prune(nodes[0]!.address))
        .to.be.revertedWithCustomError(directory, "ProviderDirectoryStillStaked")
        .withArgs(nodes[0]!.address);
    });

    it("reverts with ProviderDirectoryNotAnnounced for an unstaked account without an announcement", async () => {
      const { directory, other } = await load();
      await expect(directory.connect(other).prune(other.address))
        .to.be.revertedWithCustomError(directory, "ProviderDirectoryNotAnnounced")
        .withArgs(other.address);
    });
  });

  describe("views", () => {
    it("isStakedOperator: registered with the minimum stake active; not for others, nor after unstaking below it", async () => {
      const { directory, system, nodes, other } = await load();
      const node = nodes[0]!;
      expect(await directory.isStakedOperator(node.address)).to.equal(true);
      expect(await directory.isStakedOperator(other.address)).to.equal(false);
      await system.staking.connect(other).stake(MINIMUM);
      expect(await directory.isStakedOperator(other.address)).to.equal(false); // staked, not registered
      await system.staking.connect(node).unstake(STAKE - MINIMUM);
      expect(await directory.isStakedOperator(node.address)).to.equal(true); // exactly the minimum
      await system.staking.connect(node).unstake(1n);
      expect(await directory.isStakedOperator(node.address)).to.equal(false);
    });

    it("isStakedOperator follows governance's minimum stake", async () => {
      const { directory, system, nodes } = await load();
      const gov = await governor({ system });
      const parameters = { ...DEFAULT_STAKING_PARAMETERS, minimumStake: STAKE + TOKEN };
      await system.staking.connect(gov).setParameters(parameters);
      expect(await directory.isStakedOperator(nodes[0]!.address)).to.equal(false);
    });

    it("addressesOf is empty and providers() does not list an operator that never announced", async () => {
      const { directory, nodes } = await load();
      expect(await directory.addressesOf(nodes[0]!.address)).to.deep.equal([]);
      await directory.connect(nodes[1]!).announce([A]);
      expect(await directory.providers()).to.deep.equal([nodes[1]!.address]);
    });
  });
});

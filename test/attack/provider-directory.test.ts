import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { AbiCoder, concat, keccak256, toBeHex, zeroPadValue } from "ethers";
import { STAKE, systemFixture, type Fixture } from "../fixtures/system";
import { DEFAULT_STAKING_PARAMETERS } from "../../deploy/system";
import { Mode, modeMask } from "../../src/core/modes";
import type { ProviderDirectory } from "../../typechain-types";

const PEER = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
const A = `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`;
const B = `/ip4/127.0.0.2/tcp/4001/p2p/${PEER}`;
const MINIMUM = BigInt(DEFAULT_STAKING_PARAMETERS.minimumStake);
/** The slot of `_addresses` (after EnumerableSet.AddressSet's `_values` and `_positions`). */
const ADDRESSES_SLOT = 2n;

interface DirectoryFixture extends Fixture {
  directory: ProviderDirectory;
}

async function load(): Promise<DirectoryFixture> {
  const fx = await loadFixture(systemFixture);
  await mine();
  return { ...fx, directory: fx.system.providerDirectory };
}

async function gasOf(tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("no receipt");
  return receipt.gasUsed;
}

/** Every storage slot `operator`'s announcement can occupy with up to four addresses of up to 256 bytes. */
async function announcementSlots(directory: ProviderDirectory, operator: string): Promise<string[]> {
  const address = await directory.getAddress();
  const array = BigInt(
    keccak256(AbiCoder.defaultAbiCoder().encode(["address", "uint256"], [operator, ADDRESSES_SLOT])),
  );
  const elements = BigInt(keccak256(toBeHex(array, 32)));
  const slots: bigint[] = [array];
  for (let i = 0n; i < 4n; i++) {
    slots.push(elements + i);
    const data = BigInt(keccak256(toBeHex(elements + i, 32)));
    for (let j = 0n; j < 8n; j++) slots.push(data + j);
  }
  return Promise.all(slots.map((slot) => hre.ethers.provider.getStorage(address, slot)));
}

describe("attack: ProviderDirectory", () => {
  describe("announcing for someone else", () => {
    it("an operator's announce and withdraw touch its own entry only; no call names another's entry but prune", async () => {
      const { directory, nodes } = await load();
      const [mallory, victim] = [nodes[0]!, nodes[1]!];
      await directory.connect(victim).announce([A]);
      await directory.connect(mallory).announce([B]);
      await directory.connect(mallory).announce([B, B]);
      await directory.connect(mallory).withdraw();
      expect(await directory.addressesOf(victim.address)).to.deep.equal([A]);
      expect(await directory.providers()).to.deep.equal([victim.address]);
      const writers = directory.interface.fragments
        .filter((f) => f.type === "function" && !("constant" in f && f.constant))
        .map((f) => f.format("sighash"));
      expect(writers.sort()).to.deep.equal(["announce(string[])", "prune(address)", "withdraw()"]);
    });
  });

  describe("unstaked callers", () => {
    it("an account that only stakes, or only registered and then unstaked, cannot announce", async () => {
      const { directory, system, other, nodes } = await load();
      await system.staking.connect(other).stake(STAKE);
      await expect(directory.connect(other).announce([A]))
        .to.be.revertedWithCustomError(directory, "ProviderDirectoryNotOperator")
        .withArgs(other.address);
      const node = nodes[0]!;
      await system.staking.connect(node).unstake(STAKE);
      await expect(directory.connect(node).announce([A]))
        .to.be.revertedWithCustomError(directory, "ProviderDirectoryBelowMinimumStake")
        .withArgs(node.address, 0n, MINIMUM);
    });

    it("stake, register, announce and unstake: the entry stays until pruned, prunable by anyone; the stake thaws meanwhile", async () => {
      const { directory, system, other, requester } = await load();
      await system.staking.connect(other).stake(MINIMUM);
      await system.staking.connect(other).register(modeMask([Mode.Vanilla]));
      await directory.connect(other).announce([A]);
      await system.staking.connect(other).unstake(MINIMUM);
      expect(await directory.isStakedOperator(other.address)).to.equal(false);
      expect((await system.staking.operatorOf(other.address)).thawing).to.equal(MINIMUM);
      await expect(directory.connect(requester).prune(other.address))
        .to.emit(directory, "ProvidersPruned")
        .withArgs(other.address, requester.address);
      expect(await directory.providers()).to.deep.equal([]);
    });
  });

  describe("pruning", () => {
    it("a staked operator cannot be pruned, by anyone, itself included; one that restakes before the prune cannot either", async () => {
      const { directory, system, nodes, other } = await load();
      const node = nodes[0]!;
      await directory.connect(node).announce([A]);
      for (const caller of [other, nodes[1]!, node]) {
        await expect(directory.connect(caller).prune(node.address))
          .to.be.revertedWithCustomError(directory, "ProviderDirectoryStillStaked")
          .withArgs(node.address);
      }
      await system.staking.connect(node).unstake(STAKE);
      await system.staking.connect(node).restake(MINIMUM);
      await expect(directory.connect(other).prune(node.address))
        .to.be.revertedWithCustomError(directory, "ProviderDirectoryStillStaked")
        .withArgs(node.address);
      expect(await directory.addressesOf(node.address)).to.deep.equal([A]);
    });

    it("pruning moves no tokens and pays the pruner nothing", async () => {
      const { directory, system, nodes, other } = await load();
      const node = nodes[0]!;
      await directory.connect(node).announce([A]);
      await system.staking.connect(node).unstake(STAKE);
      const accounts = [other.address, node.address, await directory.getAddress(), await system.staking.getAddress()];
      const before = await Promise.all(accounts.map((a) => system.token.balanceOf(a)));
      const receipt = await (await directory.connect(other).prune(node.address)).wait();
      expect(await Promise.all(accounts.map((a) => system.token.balanceOf(a)))).to.deep.equal(before);
      const transfers = receipt!.logs.filter((l) => l.address === (system.token.target as string));
      expect(transfers).to.deep.equal([]);
    });
  });

  describe("oversize and malformed announcements", () => {
    it("five addresses, or one of 257 bytes, are refused; the previous announcement stays", async () => {
      const { directory, nodes } = await load();
      const node = nodes[0]!;
      await directory.connect(node).announce([A]);
      await expect(directory.connect(node).announce([A, A, A, A, A])).to.be.revertedWithCustomError(
        directory,
        "ProviderDirectoryInvalidAddressCount",
      );
      await expect(directory.connect(node).announce([`/${"a".repeat(256)}`])).to.be.revertedWithCustomError(
        directory,
        "ProviderDirectoryInvalidAddress",
      );
      expect(await directory.addressesOf(node.address)).to.deep.equal([A]);
    });

    it("bytes that are not printable ASCII (invalid UTF-8 included) are refused, so readers' ABI decoding never breaks", async () => {
      const { directory, nodes } = await load();
      const node = nodes[0]!;
      const selector = directory.interface.getFunction("announce").selector;
      for (const bad of ["0x2fc328", "0x2fff", "0x2f80", "0x2f00", "0x2f20"]) {
        // bytes[] and string[] encode alike: raw calldata carries bytes no JavaScript string would encode to.
        const data = concat([selector, AbiCoder.defaultAbiCoder().encode(["bytes[]"], [[bad]])]);
        await expect(node.sendTransaction({ to: await directory.getAddress(), data }))
          .to.be.revertedWithCustomError(directory, "ProviderDirectoryInvalidAddress")
          .withArgs(0n, bad);
      }
      expect(await directory.providers()).to.deep.equal([]);
    });
  });

  describe("re-announcing", () => {
    it("replaces: the old addresses are gone from storage, not only from the view, when the new list is shorter", async () => {
      const { directory, nodes } = await load();
      const node = nodes[0]!;
      const long = [1, 2, 3, 4].map((i) => `/dns4/${String(i).repeat(150)}.example/tcp/4001/p2p/${PEER}`);
      await directory.connect(node).announce(long);
      const zero = zeroPadValue("0x", 32);
      const full = await announcementSlots(directory, node.address);
      expect(full.filter((s) => s !== zero).length).to.be.greaterThan(30); // the layout is the one computed
      await expect(directory.connect(node).announce([A]))
        .to.emit(directory, "ProvidersAnnounced")
        .withArgs(node.address, [A]);
      const after = await announcementSlots(directory, node.address);
      // Left: the array's length, its one element's length and that element's ceil(80 / 32) = 3 words of data.
      expect(A.length).to.equal(80);
      expect(after.filter((s) => s !== zero).length).to.equal(1 + 1 + 3);
      expect(await directory.addressesOf(node.address)).to.deep.equal([A]);
      await directory.connect(node).withdraw();
      expect((await announcementSlots(directory, node.address)).every((s) => s === zero)).to.equal(true);
    });
  });

  describe("gas", () => {
    it("the largest announcement (4 × 256 bytes) stays under 1M gas; replacing, withdrawing and pruning it less", async () => {
      const { directory, system, nodes, other } = await load();
      const node = nodes[0]!;
      const largest = [0, 1, 2, 3].map((i) => `/${String(i).repeat(255)}`);
      const first = await gasOf(directory.connect(node).announce(largest));
      const replace = await gasOf(directory.connect(node).announce([...largest].reverse()));
      const withdraw = await gasOf(directory.connect(node).withdraw());
      await directory.connect(node).announce(largest);
      await system.staking.connect(node).unstake(STAKE);
      const prune = await gasOf(directory.connect(other).prune(node.address));
      // Instrumented for coverage the contracts cost more: the absolute bound holds for the deployed bytecode only.
      const instrumented = (hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING;
      if (instrumented !== true) expect(first).to.be.lessThan(1_000_000n);
      for (const g of [replace, withdraw, prune]) expect(g).to.be.lessThan(first);
      expect(await directory.providers()).to.deep.equal([]);
    });
  });
});

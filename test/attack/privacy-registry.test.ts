import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, mine, setBalance, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { getAddress, hexlify, toBeHex, toUtf8Bytes, Wallet, zeroPadValue } from "ethers";
import { governor, registerByQuote, systemFixture, TOKEN, type Fixture } from "../fixtures/system";
import { DEFAULT_PRIVACY_PARAMETERS } from "../../deploy/system";
import {
  FeeOnTransferToken__factory,
  PrivacyRegistry__factory,
  ReentrantToken__factory,
  type PrivacyRegistry,
} from "../../typechain-types";

const BOND = BigInt(DEFAULT_PRIVACY_PARAMETERS.relayBond);
const UNBONDING = BigInt(DEFAULT_PRIVACY_PARAMETERS.unbondingPeriod);
const URL = "https://relay.example/ohttp";

interface PrivacyFixture extends Fixture {
  privacy: PrivacyRegistry;
  relays: HardhatEthersSigner[];
}

async function privacyFixture(): Promise<PrivacyFixture> {
  const fx = await systemFixture();
  const privacy = fx.system.privacyRegistry;
  const relays = (await hre.ethers.getSigners()).slice(7, 10);
  for (const account of [...relays, fx.other, ...fx.nodes]) {
    await fx.system.token.mint(account.address, 10_000n * TOKEN);
    await fx.system.token.connect(account).approve(await privacy.getAddress(), hre.ethers.MaxUint256);
  }
  return { ...fx, privacy, relays };
}

async function load(): Promise<PrivacyFixture> {
  const fx = await loadFixture(privacyFixture);
  await mine();
  return fx;
}

/** A PrivacyRegistry like the deployment's, on `token` instead of the network token. */
async function registryOn(fx: Fixture, token: string): Promise<PrivacyRegistry> {
  return new PrivacyRegistry__factory(fx.deployer).deploy(
    token,
    await fx.system.staking.getAddress(),
    await fx.system.teeVerifier.getAddress(),
    await fx.system.timelock.getAddress(),
    DEFAULT_PRIVACY_PARAMETERS,
  );
}

describe("attack: PrivacyRegistry", () => {
  describe("bonds", () => {
    it("one bond holds one listing: listing again, listed or unbonding, reverts and takes nothing", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      const relay = fx.relays[0]!;
      const address = await privacy.getAddress();
      await privacy.connect(relay).listRelay(URL);
      for (const step of [async () => {}, async () => void (await privacy.connect(relay).unlistRelay())]) {
        await step();
        await expect(privacy.connect(relay).listRelay("https://second.example"))
          .to.be.revertedWithCustomError(privacy, "PrivacyRegistryRelayExists")
          .withArgs(relay.address);
        expect(await system.token.balanceOf(address)).to.equal(BOND);
      }
      expect(await privacy.relays()).to.deep.equal([]);
    });

    it("a bond leaves neither before its unbonding ends nor twice", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      const relay = fx.relays[0]!;
      await privacy.connect(relay).listRelay(URL);
      await privacy.connect(fx.relays[1]!).listRelay(URL);
      await expect(privacy.connect(relay).withdrawRelayBond(relay.address)).to.be.revertedWithCustomError(
        privacy,
        "PrivacyRegistryRelayStillListed",
      );
      await privacy.connect(relay).unlistRelay();
      const { withdrawableAt } = await privacy.relay(relay.address);
      await time.setNextBlockTimestamp(withdrawableAt - 1n);
      await expect(privacy.connect(relay).withdrawRelayBond(relay.address))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryRelayStillUnbonding")
        .withArgs(relay.address, withdrawableAt);
      await privacy.connect(relay).withdrawRelayBond(relay.address);
      await expect(privacy.connect(relay).withdrawRelayBond(relay.address))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryNothingToWithdraw")
        .withArgs(relay.address);
      // The other relay's bond is still there, whole.
      expect(await system.token.balanceOf(await privacy.getAddress())).to.equal(BOND);
    });

    it("no one but the relay moves its listing or its bond: others act on their own (empty) records, governance too", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      const victim = fx.relays[0]!;
      await privacy.connect(victim).listRelay(URL);
      await privacy.connect(victim).unlistRelay();
      await time.increase(UNBONDING);
      const gov = await governor(fx);
      for (const attacker of [fx.other, gov]) {
        await expect(privacy.connect(attacker).withdrawRelayBond(attacker.address))
          .to.be.revertedWithCustomError(privacy, "PrivacyRegistryNothingToWithdraw")
          .withArgs(attacker.address);
        await expect(privacy.connect(attacker).updateRelayUrl("https://evil.example"))
          .to.be.revertedWithCustomError(privacy, "PrivacyRegistryRelayNotListed")
          .withArgs(attacker.address);
      }
      const r = await privacy.relay(victim.address);
      expect([r.url, r.bond]).to.deep.equal([URL, BOND]);
      expect(await system.token.balanceOf(await privacy.getAddress())).to.equal(BOND);
    });

    it("filling the list locks MAX_RELAYS bonds; then PrivacyRegistryListFull, until a relay unlists", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      const max = await privacy.MAX_RELAYS();
      const address = await privacy.getAddress();
      for (let i = 0n; i < max; i++) {
        const account = getAddress(zeroPadValue(toBeHex(0x5e1a10000n + i), 20));
        await setBalance(account, 10n ** 18n);
        const relay = await hre.ethers.getImpersonatedSigner(account);
        await system.token.mint(account, BOND);
        await system.token.connect(relay).approve(address, BOND);
        await privacy.connect(relay).listRelay(`https://relay-${i}.example`);
      }
      expect(await system.token.balanceOf(address)).to.equal(max * BOND);
      expect((await privacy.relays()).length).to.equal(Number(max));
      await expect(privacy.connect(fx.relays[0]!).listRelay(URL))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryListFull")
        .withArgs(max);
      const first = await hre.ethers.getImpersonatedSigner((await privacy.relays())[0]!);
      await privacy.connect(first).unlistRelay();
      await expect(privacy.connect(fx.relays[0]!).listRelay(URL)).to.emit(privacy, "RelayListed");
    });
  });

  describe("non-standard tokens", () => {
    it("refuses a short bond from a fee-on-transfer token with PrivacyRegistryTransferMismatch, recording nothing", async () => {
      const fx = await load();
      const token = await new FeeOnTransferToken__factory(fx.deployer).deploy();
      const privacy = await registryOn(fx, await token.getAddress());
      const relay = fx.relays[0]!;
      await token.mint(relay.address, 10n * BOND);
      await token.connect(relay).approve(await privacy.getAddress(), hre.ethers.MaxUint256);
      const fee = (BOND * (await token.FEE_BPS())) / 10_000n;
      await expect(privacy.connect(relay).listRelay(URL))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryTransferMismatch")
        .withArgs(BOND, BOND - fee);
      expect((await privacy.relay(relay.address)).bond).to.equal(0n);
      expect(await privacy.relays()).to.deep.equal([]);
    });

    it("a token re-entering listRelay or withdrawRelayBond from its transfers is stopped by the guard", async () => {
      const fx = await load();
      const token = await new ReentrantToken__factory(fx.deployer).deploy();
      const privacy = await registryOn(fx, await token.getAddress());
      const address = await privacy.getAddress();
      const relay = fx.relays[0]!;
      await token.mint(relay.address, 10n * BOND);
      await token.connect(relay).approve(address, hre.ethers.MaxUint256);
      const guard = privacy.interface.getError("ReentrancyGuardReentrantCall")!.selector;

      await token.arm(address, privacy.interface.encodeFunctionData("listRelay", ["https://reentered.example"]));
      await privacy.connect(relay).listRelay(URL);
      expect([await token.attempted(), await token.reentrySucceeded(), await token.reentryResult()]).to.deep.equal([
        true,
        false,
        guard,
      ]);

      await privacy.connect(relay).unlistRelay();
      await time.increase(UNBONDING);
      await token.arm(address, privacy.interface.encodeFunctionData("withdrawRelayBond", [relay.address]));
      await privacy.connect(relay).withdrawRelayBond(relay.address);
      expect([await token.reentrySucceeded(), await token.reentryResult()]).to.deep.equal([false, guard]);
      expect(await token.balanceOf(address)).to.equal(0n);
      expect(await token.balanceOf(relay.address)).to.equal(10n * BOND);
      expect(await privacy.relays()).to.deep.equal([]);
    });
  });

  describe("gateways", () => {
    it("an operator cannot advertise another operator's enclave as its gateway", async () => {
      const fx = await load();
      const { privacy } = fx;
      const [owner, thief] = [fx.nodes[0]!, fx.nodes[1]!];
      await expect(privacy.connect(thief).setGateway(fx.enclave.address, "https://thief.example"))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryEnclaveNotOwned")
        .withArgs(fx.enclave.address, owner.address, thief.address);
      expect(await privacy.gatewayOperators()).to.deep.equal([]);
    });

    it("its own enclave, once revoked or expired, cannot be advertised", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      const node = fx.nodes[0]!;
      const spare = Wallet.createRandom();
      await registerByQuote(system, node, spare);
      await system.teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
      await expect(privacy.connect(node).setGateway(fx.enclave.address, "https://g.example"))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryEnclaveRevoked")
        .withArgs(fx.enclave.address);
      const { expiresAt } = await system.teeVerifier.enclaveOf(spare.address);
      await time.increaseTo(expiresAt);
      await expect(privacy.connect(node).setGateway(spare.address, "https://g.example"))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryEnclaveExpired")
        .withArgs(spare.address, expiresAt);
      expect(await privacy.gatewayOperators()).to.deep.equal([]);
    });
  });

  describe("node keys", () => {
    it("an address not registered in NodeStaking cannot publish a node key", async () => {
      const fx = await load();
      const { privacy } = fx;
      for (const account of [fx.other, fx.relays[0]!, await governor(fx)]) {
        await expect(privacy.connect(account).setNodeKey(`0x${"ab".repeat(32)}`))
          .to.be.revertedWithCustomError(privacy, "PrivacyRegistryNotOperator")
          .withArgs(account.address);
        expect(await privacy.nodeKey(account.address)).to.equal(hre.ethers.ZeroHash);
      }
    });
  });

  describe("URLs", () => {
    it("refuses header injection, other schemes, controls, non-ASCII look-alikes and direction overrides", async () => {
      const fx = await load();
      const { privacy } = fx;
      const relay = fx.relays[0]!;
      const bad = [
        "https://relay.example\r\nX-Forwarded-For: 1.2.3.4",
        "javascript:alert(1)",
        "data:text/html,<script>",
        "file:///etc/passwd",
        "https://relay.example\x00.attacker",
        "https://r\u0435lay.example", // Cyrillic е
        "https://relay.example/\u202egpj.exe",
        "https://relay.example/\x1b[2J",
      ];
      for (const url of bad) {
        await expect(privacy.connect(relay).listRelay(url), JSON.stringify(url))
          .to.be.revertedWithCustomError(privacy, "PrivacyRegistryInvalidUrl")
          .withArgs(hexlify(toUtf8Bytes(url)));
      }
      await privacy.connect(relay).listRelay(URL);
      for (const url of bad) {
        await expect(privacy.connect(relay).updateRelayUrl(url)).to.be.revertedWithCustomError(
          privacy,
          "PrivacyRegistryInvalidUrl",
        );
      }
      expect((await privacy.relay(relay.address)).url).to.equal(URL);
    });
  });
});

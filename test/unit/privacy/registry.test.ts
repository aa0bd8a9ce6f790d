import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { hexlify, toUtf8Bytes, Wallet } from "ethers";
import {
  governor,
  MEASUREMENT,
  registerByQuote,
  STAKE,
  systemFixture,
  TOKEN,
  type Fixture,
} from "../../fixtures/system";
import { DEFAULT_PRIVACY_PARAMETERS } from "../../../deploy/system";
import { enclaveKeyConfigHash } from "../../../src/ohttp/enclave-key";
import { PrivacyRegistry__factory, type PrivacyRegistry } from "../../../typechain-types";

const BOND = BigInt(DEFAULT_PRIVACY_PARAMETERS.relayBond);
const UNBONDING = BigInt(DEFAULT_PRIVACY_PARAMETERS.unbondingPeriod);
const DAY = 24n * 3600n;
const URL = "https://relay.example/ohttp";
const GATEWAY_URL = "https://gateway.example/ohttp";
const KEY = `0x${"11".repeat(32)}`;

interface PrivacyFixture extends Fixture {
  privacy: PrivacyRegistry;
  /** Accounts that are not operators, funded and approved for the registry. */
  relays: HardhatEthersSigner[];
}

/** The system fixture with four funded relay accounts and every account's approval of the privacy registry. */
async function privacyFixture(): Promise<PrivacyFixture> {
  const fx = await systemFixture();
  const privacy = fx.system.privacyRegistry;
  const signers = await hre.ethers.getSigners();
  const relays = signers.slice(7, 11);
  for (const account of [...relays, fx.other, fx.requester, ...fx.nodes]) {
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

/** `count` bytes of printable ASCII after "https://". */
function urlOfLength(length: number): string {
  return `https://${"a".repeat(length - "https://".length)}`;
}

describe("PrivacyRegistry", () => {
  describe("constructor", () => {
    it("records the token, staking, TEE verifier, admin and parameters, and emits ParametersUpdated", async () => {
      const fx = await load();
      const { system, deployer } = fx;
      const args = [
        await system.token.getAddress(),
        await system.staking.getAddress(),
        await system.teeVerifier.getAddress(),
        fx.other.address,
        { relayBond: 5n, unbondingPeriod: DAY },
      ] as const;
      const privacy = await new PrivacyRegistry__factory(deployer).deploy(...args);
      await expect(privacy.deploymentTransaction()).to.emit(privacy, "ParametersUpdated").withArgs([5n, DAY]);
      expect([await privacy.token(), await privacy.staking(), await privacy.teeVerifier()]).to.deep.equal(
        args.slice(0, 3),
      );
      expect(await privacy.hasRole(await privacy.DEFAULT_ADMIN_ROLE(), fx.other.address)).to.equal(true);
      expect(await privacy.hasRole(await privacy.DEFAULT_ADMIN_ROLE(), deployer.address)).to.equal(false);
      const p = await privacy.parameters();
      expect([p.relayBond, p.unbondingPeriod]).to.deep.equal([5n, DAY]);
    });

    it("reverts with PrivacyRegistryInvalidContract for a token, staking or TEE verifier without code", async () => {
      const fx = await load();
      const { system, deployer } = fx;
      const factory = new PrivacyRegistry__factory(deployer);
      const good = [
        await system.token.getAddress(),
        await system.staking.getAddress(),
        await system.teeVerifier.getAddress(),
      ];
      const names = ["token", "staking", "teeVerifier"];
      for (let i = 0; i < 3; i++) {
        const args = [...good];
        args[i] = fx.other.address;
        await expect(factory.deploy(args[0]!, args[1]!, args[2]!, deployer.address, DEFAULT_PRIVACY_PARAMETERS))
          .to.be.revertedWithCustomError(factory, "PrivacyRegistryInvalidContract")
          .withArgs(names[i], fx.other.address);
      }
    });

    it("reverts with PrivacyRegistryParameterOutOfBounds for parameters outside their bounds", async () => {
      const fx = await load();
      const { system, deployer } = fx;
      const factory = new PrivacyRegistry__factory(deployer);
      const contracts = [
        await system.token.getAddress(),
        await system.staking.getAddress(),
        await system.teeVerifier.getAddress(),
      ] as const;
      await expect(factory.deploy(...contracts, deployer.address, { relayBond: 0n, unbondingPeriod: DAY }))
        .to.be.revertedWithCustomError(factory, "PrivacyRegistryParameterOutOfBounds")
        .withArgs("relayBond", 0n, 1n, 10n ** 27n);
    });
  });

  describe("setParameters", () => {
    it("sets the parameters through governance and emits ParametersUpdated; bounds are inclusive", async () => {
      const fx = await load();
      const { privacy } = fx;
      const gov = await governor(fx);
      for (const p of [
        { relayBond: 1n, unbondingPeriod: DAY },
        { relayBond: 10n ** 27n, unbondingPeriod: 30n * DAY },
      ]) {
        await expect(privacy.connect(gov).setParameters(p))
          .to.emit(privacy, "ParametersUpdated")
          .withArgs([p.relayBond, p.unbondingPeriod]);
        const now = await privacy.parameters();
        expect([now.relayBond, now.unbondingPeriod]).to.deep.equal([p.relayBond, p.unbondingPeriod]);
      }
    });

    it("reverts with PrivacyRegistryParameterOutOfBounds outside the bounds, naming the parameter", async () => {
      const fx = await load();
      const { privacy } = fx;
      const gov = await governor(fx);
      const cases: [bigint, bigint, string, bigint, bigint, bigint][] = [
        [0n, DAY, "relayBond", 0n, 1n, 10n ** 27n],
        [10n ** 27n + 1n, DAY, "relayBond", 10n ** 27n + 1n, 1n, 10n ** 27n],
        [BOND, DAY - 1n, "unbondingPeriod", DAY - 1n, DAY, 30n * DAY],
        [BOND, 30n * DAY + 1n, "unbondingPeriod", 30n * DAY + 1n, DAY, 30n * DAY],
      ];
      for (const [relayBond, unbondingPeriod, name, value, min, max] of cases) {
        await expect(privacy.connect(gov).setParameters({ relayBond, unbondingPeriod }))
          .to.be.revertedWithCustomError(privacy, "PrivacyRegistryParameterOutOfBounds")
          .withArgs(name, value, min, max);
      }
    });

    it("reverts with AccessControlUnauthorizedAccount for anyone but governance (the deployer too)", async () => {
      const fx = await load();
      const { privacy } = fx;
      for (const caller of [fx.deployer, fx.other]) {
        await expect(privacy.connect(caller).setParameters(DEFAULT_PRIVACY_PARAMETERS))
          .to.be.revertedWithCustomError(privacy, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, await privacy.DEFAULT_ADMIN_ROLE());
      }
    });

    it("applies to later listings and unlistings only", async () => {
      const fx = await load();
      const { privacy, relays } = fx;
      await privacy.connect(relays[0]!).listRelay(URL);
      await privacy.connect(relays[1]!).listRelay(URL);
      await privacy.connect(relays[1]!).unlistRelay();
      const unbonding = (await privacy.relay(relays[1]!.address)).withdrawableAt;
      await privacy.connect(await governor(fx)).setParameters({ relayBond: 3n * BOND, unbondingPeriod: 2n * DAY });
      expect((await privacy.relay(relays[0]!.address)).bond).to.equal(BOND);
      expect((await privacy.relay(relays[1]!.address)).withdrawableAt).to.equal(unbonding);
      await expect(privacy.connect(relays[2]!).listRelay(URL))
        .to.emit(privacy, "RelayListed")
        .withArgs(relays[2]!.address, URL, 3n * BOND);
      const tx = await privacy.connect(relays[0]!).unlistRelay();
      const at = BigInt((await tx.getBlock())!.timestamp);
      expect((await privacy.relay(relays[0]!.address)).withdrawableAt).to.equal(at + 2n * DAY);
    });
  });

  describe("listRelay", () => {
    it("pulls the bond, records the relay, adds it to relays() and emits RelayListed", async () => {
      const fx = await load();
      const { privacy, system, relays } = fx;
      const relay = relays[0]!;
      const address = await privacy.getAddress();
      const [before, own] = [await system.token.balanceOf(address), await system.token.balanceOf(relay.address)];
      await expect(privacy.connect(relay).listRelay(URL))
        .to.emit(privacy, "RelayListed")
        .withArgs(relay.address, URL, BOND);
      expect(await system.token.balanceOf(address)).to.equal(before + BOND);
      expect(await system.token.balanceOf(relay.address)).to.equal(own - BOND);
      const r = await privacy.relay(relay.address);
      expect([r.url, r.bond, r.withdrawableAt]).to.deep.equal([URL, BOND, 0n]);
      expect(await privacy.relays()).to.deep.equal([relay.address]);
    });

    it("is open to anyone, operators included", async () => {
      const fx = await load();
      const { privacy } = fx;
      await privacy.connect(fx.nodes[0]!).listRelay(URL);
      await privacy.connect(fx.other).listRelay("http://127.0.0.1:8080");
      expect(await privacy.relays()).to.deep.equal([fx.nodes[0]!.address, fx.other.address]);
    });

    it("reverts with PrivacyRegistryRelayExists while the caller's relay is listed or its bond unbonding", async () => {
      const fx = await load();
      const { privacy } = fx;
      const relay = fx.relays[0]!;
      await privacy.connect(relay).listRelay(URL);
      await expect(privacy.connect(relay).listRelay(URL))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryRelayExists")
        .withArgs(relay.address);
      await privacy.connect(relay).unlistRelay();
      await expect(privacy.connect(relay).listRelay(URL))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryRelayExists")
        .withArgs(relay.address);
    });

    it("accepts URLs of 8 to 256 bytes of printable ASCII starting with http:// or https://", async () => {
      const fx = await load();
      const { privacy, relays } = fx;
      const good = ["http://a", "https://a", urlOfLength(256), "https://[::1]:8443/p?q=~!$&'()*+,;=%20#f"];
      for (const [i, url] of good.entries()) {
        await expect(privacy.connect(relays[i]!).listRelay(url))
          .to.emit(privacy, "RelayListed")
          .withArgs(relays[i]!.address, url, BOND);
      }
    });

    it("reverts with PrivacyRegistryInvalidUrl for a bad URL, returning its bytes", async () => {
      const fx = await load();
      const { privacy } = fx;
      const bad = [
        "",
        "http://",
        "https://",
        "ftp://relay.example",
        "HTTPS://relay.example",
        "relay.example",
        " https://relay.example",
        "https://relay.example/a b",
        "https://relay.example/\t",
        "https://relay.example/\n",
        "https://relay.example/\x7f",
        "https://relay.example/\x00",
        "https://relay.éxample",
        urlOfLength(257),
      ];
      for (const url of bad) {
        await expect(privacy.connect(fx.relays[0]!).listRelay(url), JSON.stringify(url))
          .to.be.revertedWithCustomError(privacy, "PrivacyRegistryInvalidUrl")
          .withArgs(hexlify(toUtf8Bytes(url)));
      }
    });
  });

  describe("updateRelayUrl", () => {
    it("moves the caller's listed relay and emits RelayUrlUpdated", async () => {
      const fx = await load();
      const { privacy } = fx;
      const relay = fx.relays[0]!;
      await privacy.connect(relay).listRelay(URL);
      await expect(privacy.connect(relay).updateRelayUrl("https://elsewhere.example"))
        .to.emit(privacy, "RelayUrlUpdated")
        .withArgs(relay.address, "https://elsewhere.example");
      const r = await privacy.relay(relay.address);
      expect([r.url, r.bond]).to.deep.equal(["https://elsewhere.example", BOND]);
    });

    it("reverts with PrivacyRegistryRelayNotListed without a listed relay (none, or unlisted)", async () => {
      const fx = await load();
      const { privacy } = fx;
      const relay = fx.relays[0]!;
      await expect(privacy.connect(relay).updateRelayUrl(URL))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryRelayNotListed")
        .withArgs(relay.address);
      await privacy.connect(relay).listRelay(URL);
      await privacy.connect(relay).unlistRelay();
      await expect(privacy.connect(relay).updateRelayUrl(URL))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryRelayNotListed")
        .withArgs(relay.address);
    });

    it("reverts with PrivacyRegistryInvalidUrl for a bad URL", async () => {
      const fx = await load();
      const { privacy } = fx;
      await privacy.connect(fx.relays[0]!).listRelay(URL);
      await expect(privacy.connect(fx.relays[0]!).updateRelayUrl("https://a b"))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryInvalidUrl")
        .withArgs(hexlify(toUtf8Bytes("https://a b")));
    });
  });

  describe("unlistRelay", () => {
    it("takes the relay off relays(), starts unbonding and emits RelayUnlisted", async () => {
      const fx = await load();
      const { privacy } = fx;
      const [a, b, c] = fx.relays as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner];
      for (const relay of [a, b, c]) await privacy.connect(relay).listRelay(URL);
      const at = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(at);
      await expect(privacy.connect(a).unlistRelay())
        .to.emit(privacy, "RelayUnlisted")
        .withArgs(a.address, at + UNBONDING);
      // The last relay takes the freed place.
      expect(await privacy.relays()).to.deep.equal([c.address, b.address]);
      const r = await privacy.relay(a.address);
      expect([r.url, r.bond, r.withdrawableAt]).to.deep.equal([URL, BOND, at + UNBONDING]);
      await privacy.connect(b).unlistRelay();
      expect(await privacy.relays()).to.deep.equal([c.address]);
      await privacy.connect(c).unlistRelay();
      expect(await privacy.relays()).to.deep.equal([]);
    });

    it("reverts with PrivacyRegistryRelayNotListed without a listed relay (none, or already unlisted)", async () => {
      const fx = await load();
      const { privacy } = fx;
      const relay = fx.relays[0]!;
      await expect(privacy.connect(relay).unlistRelay())
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryRelayNotListed")
        .withArgs(relay.address);
      await privacy.connect(relay).listRelay(URL);
      await privacy.connect(relay).unlistRelay();
      await expect(privacy.connect(relay).unlistRelay())
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryRelayNotListed")
        .withArgs(relay.address);
    });
  });

  describe("withdrawRelayBond", () => {
    it("sends the bond to the recipient at withdrawableAt, deletes the record and emits RelayBondWithdrawn", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      const relay = fx.relays[0]!;
      await privacy.connect(relay).listRelay(URL);
      await privacy.connect(relay).unlistRelay();
      const { withdrawableAt } = await privacy.relay(relay.address);
      await time.setNextBlockTimestamp(withdrawableAt);
      const before = await system.token.balanceOf(fx.other.address);
      await expect(privacy.connect(relay).withdrawRelayBond(fx.other.address))
        .to.emit(privacy, "RelayBondWithdrawn")
        .withArgs(relay.address, fx.other.address, BOND);
      expect(await system.token.balanceOf(fx.other.address)).to.equal(before + BOND);
      expect(await system.token.balanceOf(await privacy.getAddress())).to.equal(0n);
      const r = await privacy.relay(relay.address);
      expect([r.url, r.bond, r.withdrawableAt]).to.deep.equal(["", 0n, 0n]);
      await expect(privacy.connect(relay).listRelay(URL)).to.emit(privacy, "RelayListed");
    });

    it("returns the amount sent", async () => {
      const fx = await load();
      const { privacy } = fx;
      const relay = fx.relays[0]!;
      await privacy.connect(relay).listRelay(URL);
      await privacy.connect(relay).unlistRelay();
      await time.increase(UNBONDING);
      expect(await privacy.connect(relay).withdrawRelayBond.staticCall(relay.address)).to.equal(BOND);
    });

    it("reverts with PrivacyRegistryRelayStillUnbonding before withdrawableAt", async () => {
      const fx = await load();
      const { privacy } = fx;
      const relay = fx.relays[0]!;
      await privacy.connect(relay).listRelay(URL);
      await privacy.connect(relay).unlistRelay();
      const { withdrawableAt } = await privacy.relay(relay.address);
      await time.setNextBlockTimestamp(withdrawableAt - 1n);
      await expect(privacy.connect(relay).withdrawRelayBond(relay.address))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryRelayStillUnbonding")
        .withArgs(relay.address, withdrawableAt);
    });

    it("reverts with PrivacyRegistryRelayStillListed while listed", async () => {
      const fx = await load();
      const { privacy } = fx;
      const relay = fx.relays[0]!;
      await privacy.connect(relay).listRelay(URL);
      await time.increase(60n * DAY);
      await expect(privacy.connect(relay).withdrawRelayBond(relay.address))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryRelayStillListed")
        .withArgs(relay.address);
    });

    it("reverts with PrivacyRegistryNothingToWithdraw without a bond", async () => {
      const fx = await load();
      const { privacy } = fx;
      await expect(privacy.connect(fx.other).withdrawRelayBond(fx.other.address))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryNothingToWithdraw")
        .withArgs(fx.other.address);
    });

    it("reverts with PrivacyRegistryInvalidRecipient for the zero address", async () => {
      const fx = await load();
      const { privacy } = fx;
      await expect(privacy.connect(fx.other).withdrawRelayBond(hre.ethers.ZeroAddress))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryInvalidRecipient")
        .withArgs(hre.ethers.ZeroAddress);
    });
  });

  describe("setGateway", () => {
    it("records the operator's gateway on its live enclave and emits GatewaySet with the key configuration hash", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      const node = fx.nodes[0]!;
      const { hpkePublicKey } = await system.teeVerifier.enclaveOf(fx.enclave.address);
      const hash = await system.teeVerifier.ohttpKeyConfigHash(fx.enclave.address);
      expect(hash).to.equal(enclaveKeyConfigHash(hpkePublicKey));
      await expect(privacy.connect(node).setGateway(fx.enclave.address, GATEWAY_URL))
        .to.emit(privacy, "GatewaySet")
        .withArgs(node.address, fx.enclave.address, GATEWAY_URL, hash);
      const g = await privacy.gateway(node.address);
      expect([g.enclave, g.url]).to.deep.equal([fx.enclave.address, GATEWAY_URL]);
      expect(await privacy.gatewayOperators()).to.deep.equal([node.address]);
    });

    it("replaces the operator's gateway (another enclave and URL) without listing it twice", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      const node = fx.nodes[0]!;
      await privacy.connect(node).setGateway(fx.enclave.address, GATEWAY_URL);
      const second = Wallet.createRandom();
      await registerByQuote(system, node, second);
      await expect(privacy.connect(node).setGateway(second.address, "https://g2.example"))
        .to.emit(privacy, "GatewaySet")
        .withArgs(
          node.address,
          second.address,
          "https://g2.example",
          await system.teeVerifier.ohttpKeyConfigHash(second.address),
        );
      const g = await privacy.gateway(node.address);
      expect([g.enclave, g.url]).to.deep.equal([second.address, "https://g2.example"]);
      expect(await privacy.gatewayOperators()).to.deep.equal([node.address]);
    });

    it("reverts with PrivacyRegistryUnknownEnclave for a key not registered in TeeVerifier", async () => {
      const fx = await load();
      const { privacy } = fx;
      const unknown = Wallet.createRandom().address;
      await expect(privacy.connect(fx.nodes[0]!).setGateway(unknown, GATEWAY_URL))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryUnknownEnclave")
        .withArgs(unknown);
    });

    it("reverts with PrivacyRegistryEnclaveNotOwned for another operator's enclave", async () => {
      const fx = await load();
      const { privacy } = fx;
      const [owner, thief] = [fx.nodes[0]!, fx.nodes[1]!];
      await expect(privacy.connect(thief).setGateway(fx.enclave.address, GATEWAY_URL))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryEnclaveNotOwned")
        .withArgs(fx.enclave.address, owner.address, thief.address);
    });

    it("reverts with PrivacyRegistryEnclaveRevoked for a revoked enclave", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      await system.teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
      await expect(privacy.connect(fx.nodes[0]!).setGateway(fx.enclave.address, GATEWAY_URL))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryEnclaveRevoked")
        .withArgs(fx.enclave.address);
    });

    it("reverts with PrivacyRegistryEnclaveExpired from the enclave's expiry on", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      const { expiresAt } = await system.teeVerifier.enclaveOf(fx.enclave.address);
      await time.setNextBlockTimestamp(expiresAt - 1n);
      await expect(privacy.connect(fx.nodes[0]!).setGateway(fx.enclave.address, GATEWAY_URL)).to.emit(
        privacy,
        "GatewaySet",
      );
      await time.setNextBlockTimestamp(expiresAt);
      await expect(privacy.connect(fx.nodes[0]!).setGateway(fx.enclave.address, GATEWAY_URL))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryEnclaveExpired")
        .withArgs(fx.enclave.address, expiresAt);
    });

    it("reverts with PrivacyRegistryMeasurementRevoked when the enclave's measurement is revoked", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      await system.teeVerifier.connect(await governor(fx)).revokeMeasurement(MEASUREMENT);
      await expect(privacy.connect(fx.nodes[0]!).setGateway(fx.enclave.address, GATEWAY_URL))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryMeasurementRevoked")
        .withArgs(fx.enclave.address, MEASUREMENT);
    });

    it("reverts with PrivacyRegistryInvalidUrl for a bad URL", async () => {
      const fx = await load();
      const { privacy } = fx;
      await expect(privacy.connect(fx.nodes[0]!).setGateway(fx.enclave.address, "gateway.example"))
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryInvalidUrl")
        .withArgs(hexlify(toUtf8Bytes("gateway.example")));
    });

    it("keeps an entry whose enclave is revoked later: clients check the enclave at use time", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      await privacy.connect(fx.nodes[0]!).setGateway(fx.enclave.address, GATEWAY_URL);
      await system.teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
      expect((await privacy.gateway(fx.nodes[0]!.address)).enclave).to.equal(fx.enclave.address);
      expect((await system.teeVerifier.enclaveOf(fx.enclave.address)).revoked).to.equal(true);
    });
  });

  describe("removeGateway", () => {
    it("removes the caller's gateway from gateway() and gatewayOperators() and emits GatewayRemoved", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      const [a, b] = [fx.nodes[0]!, fx.nodes[1]!];
      const enclaveB = Wallet.createRandom();
      await registerByQuote(system, b, enclaveB);
      await privacy.connect(a).setGateway(fx.enclave.address, GATEWAY_URL);
      await privacy.connect(b).setGateway(enclaveB.address, "https://b.example");
      await expect(privacy.connect(a).removeGateway()).to.emit(privacy, "GatewayRemoved").withArgs(a.address);
      const g = await privacy.gateway(a.address);
      expect([g.enclave, g.url]).to.deep.equal([hre.ethers.ZeroAddress, ""]);
      expect(await privacy.gatewayOperators()).to.deep.equal([b.address]);
    });

    it("reverts with PrivacyRegistryNoGateway without a gateway", async () => {
      const fx = await load();
      const { privacy } = fx;
      await expect(privacy.connect(fx.nodes[0]!).removeGateway())
        .to.be.revertedWithCustomError(privacy, "PrivacyRegistryNoGateway")
        .withArgs(fx.nodes[0]!.address);
    });
  });

  describe("setNodeKey", () => {
    it("records a registered operator's key (replacing it) and emits NodeKeySet", async () => {
      const fx = await load();
      const { privacy } = fx;
      const node = fx.nodes[1]!;
      await expect(privacy.connect(node).setNodeKey(KEY)).to.emit(privacy, "NodeKeySet").withArgs(node.address, KEY);
      expect(await privacy.nodeKey(node.address)).to.equal(KEY);
      const next = `0x${"22".repeat(32)}`;
      await expect(privacy.connect(node).setNodeKey(next)).to.emit(privacy, "NodeKeySet").withArgs(node.address, next);
      expect(await privacy.nodeKey(node.address)).to.equal(next);
      expect(await privacy.nodeKey(fx.other.address)).to.equal(hre.ethers.ZeroHash);
    });

    it("reverts with PrivacyRegistryNotOperator for an account not registered in NodeStaking (staked or not)", async () => {
      const fx = await load();
      const { privacy, system } = fx;
      await system.staking.connect(fx.other).stake(STAKE);
      for (const account of [fx.other, fx.requester]) {
        await expect(privacy.connect(account).setNodeKey(KEY))
          .to.be.revertedWithCustomError(privacy, "PrivacyRegistryNotOperator")
          .withArgs(account.address);
      }
    });

    it("reverts with PrivacyRegistryInvalidNodeKey for the zero key", async () => {
      const fx = await load();
      const { privacy } = fx;
      await expect(privacy.connect(fx.nodes[0]!).setNodeKey(hre.ethers.ZeroHash)).to.be.revertedWithCustomError(
        privacy,
        "PrivacyRegistryInvalidNodeKey",
      );
    });
  });
});

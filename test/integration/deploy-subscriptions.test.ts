import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { deploySystem } from "../../deploy/system";
import { addressesFromRecord, connectContracts, requireSubscriptionManager } from "../../src/core/contracts";
import { ConfigError } from "../../src/core/errors";
import { readDeployment, type Deployment } from "../../src/core/deployment";

describe("deploySystem: the subscription manager and its input sources", () => {
  it("deploys the manager on the escrow (its token, unlimited allowance) and both sources after the Privacy Pass escrow", async () => {
    const system = await deploySystem(hre, { persist: false });
    const manager = system.subscriptionManager;
    const escrow = await system.escrow.getAddress();
    expect(await manager.escrow()).to.equal(escrow);
    expect(await manager.token()).to.equal(await system.token.getAddress());
    expect(await system.token.allowance(await manager.getAddress(), escrow)).to.equal(hre.ethers.MaxUint256);
    expect(await system.realizedVolatilitySource.fractionBits()).to.equal(16n);
    expect(await system.feedWindowSource.fractionBits()).to.equal(16n);
    const { contracts } = system.record;
    for (const name of ["subscriptionManager", "realizedVolatilitySource", "feedWindowSource"] as const)
      expect(contracts[name].block).to.be.greaterThan(contracts.privacyPassEscrow.block);
    const addresses = addressesFromRecord(system.record);
    expect([addresses.realizedVolatilitySource, addresses.feedWindowSource]).to.deep.equal([
      await system.realizedVolatilitySource.getAddress(),
      await system.feedWindowSource.getAddress(),
    ]);
    const connected = connectContracts(addresses, hre.ethers.provider);
    expect(await requireSubscriptionManager(connected).getAddress()).to.equal(await manager.getAddress());
  });

  it("completes a record from before them by deploying only them; readDeployment refuses such a record", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "deployments-"));
    await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const file = path.join(dir, `${hre.network.name}.json`);
    const old = JSON.parse(readFileSync(file, "utf8")) as Deployment;
    const { subscriptionManager: _m, realizedVolatilitySource: _v, feedWindowSource: _w, ...rest } = old.contracts;
    writeFileSync(file, JSON.stringify({ ...old, contracts: rest }));
    expect(() => readDeployment(file)).to.throw(ConfigError, /"contracts\.subscriptionManager" is missing.*redeploy/);
    const second = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const { subscriptionManager, realizedVolatilitySource, feedWindowSource, ...others } = second.record.contracts;
    expect(others).to.deep.equal(rest);
    expect(readDeployment(file).contracts.subscriptionManager.address).to.equal(subscriptionManager.address);
    expect(realizedVolatilitySource.address).to.not.equal(feedWindowSource.address);
  });

  it("addresses without it connect no manager, and requireSubscriptionManager says what to configure", () => {
    const contracts = connectContracts(
      {
        escrow: hre.ethers.ZeroAddress,
        staking: "0x" + "11".repeat(20),
        registry: "0x" + "22".repeat(20),
        teeVerifier: "0x" + "33".repeat(20),
        token: "0x" + "44".repeat(20),
        startBlock: 0,
      },
      hre.ethers.provider,
    );
    expect(contracts.subscriptionManager).to.equal(undefined);
    expect(() => requireSubscriptionManager(contracts)).to.throw(ConfigError, /no "subscriptionManager" address/);
  });
});

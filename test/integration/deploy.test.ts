import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { getCreateAddress } from "ethers";
import {
  DEFAULT_PASSES_PARAMETERS,
  DEFAULT_PRIVACY_PARAMETERS,
  DEFAULT_RECEIPT_PARAMETERS,
  deploySystem,
  DeployError,
} from "../../deploy/system";
import {
  addressesFromRecord,
  connectContracts,
  requirePrivacyPassEscrow,
  requireProviderDirectory,
  requireReceiptSettlement,
} from "../../src/core/contracts";
import { ConfigError } from "../../src/core/errors";
import { ReceiptSettlement__factory } from "../../typechain-types";
import { readDeployment, type Deployment } from "../../src/core/deployment";
import { expectRejection } from "../fixtures/assert";

describe("deploySystem", () => {
  it("writes the deployment record and is idempotent on re-run", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "deployments-"));
    const first = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const file = path.join(dir, `${hre.network.name}.json`);
    const record = JSON.parse(readFileSync(file, "utf8")) as Deployment;
    expect(record.chainId).to.equal(31337);
    expect(record.startBlock).to.be.greaterThan(0);
    expect(Object.keys(record.contracts).sort()).to.deep.equal([
      "dcapVerifier",
      "dualVerifier",
      "escrow",
      "evaluationRegistry",
      "exampleConsumer",
      "feedWindowSource",
      "privacyPassEscrow",
      "privacyRegistry",
      "providerDirectory",
      "realizedVolatilitySource",
      "receiptSettlement",
      "registry",
      "settlementLib",
      "staking",
      "subscriptionManager",
      "teeVerifier",
      "timelock",
      "token",
      "vanillaVerifier",
      "verifierFactory",
      "zkVerifier",
    ]);
    const blockBefore = await hre.ethers.provider.getBlockNumber();
    const second = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    expect(await hre.ethers.provider.getBlockNumber()).to.equal(blockBefore);
    expect(second.record.contracts).to.deep.equal(first.record.contracts);
  });

  it("deploys the privacy registry on the network's token, staking and TEE verifier, governed by the timelock alone", async () => {
    const system = await deploySystem(hre, { persist: false });
    const { privacyRegistry, timelock } = system;
    const [deployer] = await hre.ethers.getSigners();
    const admin = await privacyRegistry.DEFAULT_ADMIN_ROLE();
    expect(await privacyRegistry.hasRole(admin, await timelock.getAddress())).to.equal(true);
    expect(await privacyRegistry.hasRole(admin, deployer!.address)).to.equal(false);
    expect([
      await privacyRegistry.token(),
      await privacyRegistry.staking(),
      await privacyRegistry.teeVerifier(),
    ]).to.deep.equal([
      await system.token.getAddress(),
      await system.staking.getAddress(),
      await system.teeVerifier.getAddress(),
    ]);
    const { relayBond, unbondingPeriod } = await privacyRegistry.parameters();
    expect([relayBond, unbondingPeriod]).to.deep.equal([
      BigInt(DEFAULT_PRIVACY_PARAMETERS.relayBond),
      BigInt(DEFAULT_PRIVACY_PARAMETERS.unbondingPeriod),
    ]);
    expect(system.record.contracts.privacyRegistry.address).to.equal(await privacyRegistry.getAddress());
  });

  it("deploys the Privacy Pass escrow on NodeStaking's token and NodeStaking, governed by the timelock alone", async () => {
    const system = await deploySystem(hre, { persist: false });
    const { privacyPassEscrow, timelock } = system;
    const [deployer] = await hre.ethers.getSigners();
    const admin = await privacyPassEscrow.DEFAULT_ADMIN_ROLE();
    expect(await privacyPassEscrow.hasRole(admin, await timelock.getAddress())).to.equal(true);
    expect(await privacyPassEscrow.hasRole(admin, deployer!.address)).to.equal(false);
    expect([await privacyPassEscrow.token(), await privacyPassEscrow.staking()]).to.deep.equal([
      await system.staking.token(),
      await system.staking.getAddress(),
    ]);
    expect((await privacyPassEscrow.parameters()).issueWindow).to.equal(BigInt(DEFAULT_PASSES_PARAMETERS.issueWindow));
    expect(system.record.contracts.privacyPassEscrow.address).to.equal(await privacyPassEscrow.getAddress());
    const contracts = connectContracts(addressesFromRecord(system.record), hre.ethers.provider);
    expect(await requirePrivacyPassEscrow(contracts).getAddress()).to.equal(await privacyPassEscrow.getAddress());
    expect(() => requirePrivacyPassEscrow({})).to.throw(ConfigError, /"privacyPassEscrow".*redeploy/);
  });

  it("completes a record from before the Privacy Pass escrow by deploying only it", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "deployments-"));
    const first = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const file = path.join(dir, `${hre.network.name}.json`);
    const old = JSON.parse(readFileSync(file, "utf8")) as Deployment;
    const { privacyPassEscrow: _dropped, ...rest } = old.contracts;
    writeFileSync(file, JSON.stringify({ ...old, contracts: rest }));
    expect(() => readDeployment(file)).to.throw(ConfigError, /"contracts\.privacyPassEscrow" is missing/);
    const second = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const { privacyPassEscrow: created, ...others } = second.record.contracts;
    expect(others).to.deep.equal(rest);
    expect(created.address).to.not.equal(first.record.contracts.privacyPassEscrow.address);
    expect(readDeployment(file).contracts.privacyPassEscrow.address).to.equal(created.address);
  });

  it("completes a record from before the privacy registry by deploying only it; readDeployment refuses such a record", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "deployments-"));
    const first = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const file = path.join(dir, `${hre.network.name}.json`);
    const old = JSON.parse(readFileSync(file, "utf8")) as Deployment;
    const { privacyRegistry: _dropped, ...rest } = old.contracts;
    writeFileSync(file, JSON.stringify({ ...old, contracts: rest }));
    expect(() => readDeployment(file)).to.throw(ConfigError, /"contracts\.privacyRegistry" is missing.*redeploy/);
    const second = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const { privacyRegistry: created, ...others } = second.record.contracts;
    expect(others).to.deep.equal(rest);
    expect(created.address).to.not.equal(first.record.contracts.privacyRegistry.address);
    expect(readDeployment(file).contracts.privacyRegistry.address).to.equal(created.address);
  });

  it("deploys the provider directory on NodeStaking, with no admin, and connects it from the record", async () => {
    const system = await deploySystem(hre, { persist: false });
    const { providerDirectory } = system;
    expect(await providerDirectory.staking()).to.equal(await system.staking.getAddress());
    expect(system.record.contracts.providerDirectory?.address).to.equal(await providerDirectory.getAddress());
    const contracts = connectContracts(addressesFromRecord(system.record), hre.ethers.provider);
    expect(await requireProviderDirectory(contracts).getAddress()).to.equal(await providerDirectory.getAddress());
    expect(() => requireProviderDirectory({})).to.throw(ConfigError, /no "providerDirectory" address.*redeploy/);
  });

  it("loads a record from before the provider directory without it, and completes it by deploying only it", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "deployments-"));
    const first = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const file = path.join(dir, `${hre.network.name}.json`);
    const old = JSON.parse(readFileSync(file, "utf8")) as Deployment;
    const { providerDirectory: _dropped, ...rest } = old.contracts;
    writeFileSync(file, JSON.stringify({ ...old, contracts: rest }));
    const loaded = readDeployment(file);
    expect(loaded.contracts.providerDirectory).to.equal(undefined);
    expect(connectContracts(addressesFromRecord(loaded), hre.ethers.provider).providerDirectory).to.equal(undefined);
    const second = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const { providerDirectory: created, ...others } = second.record.contracts;
    expect(others).to.deep.equal(rest);
    expect(created?.address).to.not.equal(first.record.contracts.providerDirectory?.address);
    expect(readDeployment(file).contracts.providerDirectory?.address).to.equal(created?.address);
  });

  it("deploys the receipt settlement on the token, TEE verifier, registry and treasury with the default parameters, and connects it from the record", async () => {
    const system = await deploySystem(hre, { persist: false });
    const { receiptSettlement } = system;
    expect([
      await receiptSettlement.token(),
      await receiptSettlement.teeVerifier(),
      await receiptSettlement.registry(),
      await receiptSettlement.treasury(),
    ]).to.deep.equal([
      await system.token.getAddress(),
      await system.teeVerifier.getAddress(),
      await system.registry.getAddress(),
      await system.timelock.getAddress(),
    ]);
    const { challengeWindow, maxReceiptAge, batchBond, challengerShareBps, openingFee } = DEFAULT_RECEIPT_PARAMETERS;
    expect(await receiptSettlement.parameters()).to.deep.equal(
      [challengeWindow, maxReceiptAge, batchBond, challengerShareBps, openingFee].map(BigInt),
    );
    const contracts = connectContracts(addressesFromRecord(system.record), hre.ethers.provider);
    expect(await requireReceiptSettlement(contracts).getAddress()).to.equal(await receiptSettlement.getAddress());
    expect(() => requireReceiptSettlement({})).to.throw(ConfigError, /no "receiptSettlement" address.*redeploy/);
  });

  it("deploys the receipt settlement with parameters over the defaults, and records the constructor arguments verify-system sends", async () => {
    const system = await deploySystem(hre, { persist: false, receipts: { challengeWindow: 3600 } });
    expect((await system.receiptSettlement.parameters()).challengeWindow).to.equal(3600n);
    const { address, args, block } = system.record.contracts.receiptSettlement!;
    const created = await hre.ethers.provider.getBlock(block, true);
    const deployment = created!.prefetchedTransactions.find((tx) => tx.to === null && getCreateAddress(tx) === address);
    const encoded = new ReceiptSettlement__factory().interface.encodeDeploy(args);
    expect(deployment!.data.endsWith(encoded.slice(2))).to.equal(true);
  });

  it("loads a record from before the receipt settlement without it, and completes it by deploying only it", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "deployments-"));
    const first = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const file = path.join(dir, `${hre.network.name}.json`);
    const old = JSON.parse(readFileSync(file, "utf8")) as Deployment;
    const { receiptSettlement: _dropped, ...rest } = old.contracts;
    writeFileSync(file, JSON.stringify({ ...old, contracts: rest }));
    const loaded = readDeployment(file);
    expect(loaded.contracts.receiptSettlement).to.equal(undefined);
    expect(connectContracts(addressesFromRecord(loaded), hre.ethers.provider).receiptSettlement).to.equal(undefined);
    const second = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const { receiptSettlement: created, ...others } = second.record.contracts;
    expect(others).to.deep.equal(rest);
    expect(created?.address).to.not.equal(first.record.contracts.receiptSettlement?.address);
    expect(readDeployment(file).contracts.receiptSettlement?.address).to.equal(created?.address);
  });

  it("refuses a record from another chain and an unreadable record, naming the file", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "deployments-"));
    const file = path.join(dir, `${hre.network.name}.json`);
    writeFileSync(file, JSON.stringify({ chainId: 5, contracts: {} }));
    await expectRejection(
      deploySystem(hre, { persist: true, deploymentsDir: dir }),
      DeployError,
      /records chain 5 but the network is chain 31337/,
    );
    writeFileSync(file, "{not json");
    await expectRejection(deploySystem(hre, { persist: true, deploymentsDir: dir }), DeployError, /is not valid JSON/);
  });

  it("refuses a token address without code", async () => {
    await expectRejection(
      deploySystem(hre, { persist: false, token: "0x000000000000000000000000000000000000dEaD" }),
      DeployError,
      /has no code/,
    );
    await expectRejection(
      deploySystem(hre, { persist: false, token: "not-an-address" }),
      DeployError,
      /is not an address/,
    );
  });
});

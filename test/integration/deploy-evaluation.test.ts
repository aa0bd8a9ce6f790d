import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { deploySystem } from "../../deploy/system";
import { addressesFromRecord, connectContracts, requireEvaluationRegistry } from "../../src/core/contracts";
import { ConfigError } from "../../src/core/errors";
import { readDeployment, type Deployment } from "../../src/core/deployment";

describe("deploySystem: the evaluation registry", () => {
  it("deploys it last on the network's token, model registry, TEE verifier and staking", async () => {
    const system = await deploySystem(hre, { persist: false });
    const e = system.evaluationRegistry;
    expect([await e.token(), await e.registry(), await e.teeVerifier(), await e.staking()]).to.deep.equal(
      await Promise.all([system.token, system.registry, system.teeVerifier, system.staking].map((c) => c.getAddress())),
    );
    const blocks = Object.values(system.record.contracts).map((c) => c.block);
    expect(system.record.contracts.evaluationRegistry.block).to.equal(Math.max(...blocks));
    const contracts = connectContracts(addressesFromRecord(system.record), hre.ethers.provider);
    expect(await requireEvaluationRegistry(contracts).getAddress()).to.equal(await e.getAddress());
  });

  it("completes a record from before it by deploying only it; readDeployment refuses such a record", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "deployments-"));
    const first = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const file = path.join(dir, `${hre.network.name}.json`);
    const old = JSON.parse(readFileSync(file, "utf8")) as Deployment;
    const { evaluationRegistry: _dropped, ...rest } = old.contracts;
    writeFileSync(file, JSON.stringify({ ...old, contracts: rest }));
    expect(() => readDeployment(file)).to.throw(ConfigError, /"contracts\.evaluationRegistry" is missing.*redeploy/);
    const second = await deploySystem(hre, { persist: true, deploymentsDir: dir });
    const { evaluationRegistry: created, ...others } = second.record.contracts;
    expect(others).to.deep.equal(rest);
    expect(created.address).to.not.equal(first.record.contracts.evaluationRegistry.address);
    expect(readDeployment(file).contracts.evaluationRegistry.address).to.equal(created.address);
  });

  it("addresses without it connect no registry, and requireEvaluationRegistry says what to configure", () => {
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
    expect(contracts.evaluationRegistry).to.equal(undefined);
    expect(() => requireEvaluationRegistry(contracts)).to.throw(ConfigError, /no "evaluationRegistry" address/);
  });
});

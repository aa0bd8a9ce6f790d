import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { deploySystem, DeployError } from "../../deploy/system";
import type { Deployment } from "../../src/core/deployment";
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
      "exampleConsumer",
      "registry",
      "settlementLib",
      "staking",
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

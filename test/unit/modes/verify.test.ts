import { expect } from "chai";
import hre from "hardhat";
import { addressesFromRecord, connectContracts } from "../../../src/core/contracts";
import { toJobId } from "../../../src/core/ids";
import type { Job } from "../../../src/core/job";
import { Mode } from "../../../src/core/modes";
import { verifyResult } from "../../../src/sdk/verifyResult";
import { loadSystem, MEASUREMENT, requestJob, teeProof, type Fixture } from "../../fixtures/system";

const OUTPUT = "0x2a";

/** Settles a job of `mode` by node 0 (with the fixture's enclave signature for TEE). */
async function settled(fx: Fixture, mode: Mode): Promise<Job> {
  const job = await requestJob(fx, { mode });
  const escrow = fx.system.escrow.connect(fx.nodes[0]!);
  await escrow.claimSlot(job);
  await escrow.submit(job, OUTPUT, mode === Mode.Tee ? await teeProof(fx, job, OUTPUT) : "0x");
  return job;
}

function verify(fx: Fixture, job: Job) {
  const contracts = connectContracts(addressesFromRecord(fx.system.record), hre.ethers.provider);
  return verifyResult({ contracts, provider: hre.ethers.provider, jobId: toJobId(job.id), fromBlock: 0 });
}

describe("verifyResult, through the job's mode", () => {
  it("vanilla: checks the settled output only", async () => {
    const fx = await loadSystem();
    const report = await verify(fx, await settled(fx, Mode.Vanilla));
    expect([report.mode, report.ok, report.output, report.enclave, report.zk]).to.deep.equal(["vanilla", true, OUTPUT, undefined, undefined]);
    expect(report.checks.map((c) => c.name)).to.deep.equal(["settled", "resultOf hash", "one JobSettled", "JobSettled output"]);
  });

  it("TEE: recovers the enclave from the settling call's signature and checks its registration and measurement", async () => {
    const fx = await loadSystem();
    const report = await verify(fx, await settled(fx, Mode.Tee));
    expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
    expect(report.checks.map((c) => c.name)).to.include.members(["calldata output", "enclave signature", "enclave registered to the node", "enclave live at settlement", "measurement bound by the model version"]);
    expect(report.enclave).to.deep.equal({ signer: fx.enclave.address, operator: fx.nodes[0]!.address, measurement: MEASUREMENT });
  });

  it("TEE: fails the liveness check once the enclave is revoked", async () => {
    const fx = await loadSystem();
    const job = await settled(fx, Mode.Tee);
    await fx.system.teeVerifier.revokeEnclave(fx.enclave.address);
    const report = await verify(fx, job);
    expect(report.ok).to.equal(false);
    expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).to.deep.equal(["enclave live at settlement"]);
  });
});

import { expect } from "chai";
import hre from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { addressesFromRecord, connectContracts } from "../../../src/core/contracts";
import { toJobId } from "../../../src/core/ids";
import type { Job } from "../../../src/core/job";
import { Mode } from "../../../src/core/modes";
import { verifyResult } from "../../../src/sdk/verifyResult";
import { DevEnclave } from "../../../src/tee";
import { loadSystem, MEASUREMENT, requestJob, teeProof, type Fixture, governor } from "../../fixtures/system";
import { loadQuoteSystem, registerWithQuote, type Attestation, type QuoteFixture } from "../../tee/system";

const OUTPUT = "0x2a";
const TEE_CHECKS = [
  "calldata output",
  "enclave signature",
  "enclave registered to the node",
  "enclave unrevoked at settlement",
  "enclave unexpired at settlement",
  "measurement unrevoked at settlement",
  "measurement bound by the model version",
];

/** Settles a job of `mode` by node 0 (with the fixture's enclave signature for TEE). */
async function settled(fx: Fixture, mode: Mode): Promise<Job> {
  const job = await requestJob(fx, { mode });
  const escrow = fx.system.escrow.connect(fx.nodes[0]!);
  await escrow.claimSlot(job);
  await escrow.submit(job, OUTPUT, mode === Mode.Tee ? await teeProof(fx, job, OUTPUT) : "0x");
  return job;
}

/** A TEE job on the attested model (its version binds the development TD), claimed by node 0. */
async function claimedAttested(fx: QuoteFixture): Promise<Job> {
  const job = await requestJob(fx, { modelId: fx.attestedModelId, mode: Mode.Tee });
  await fx.system.escrow.connect(fx.nodes[0]!).claimSlot(job);
  return job;
}

/** Submits `job` signed by `a` and, in the same block after it, sends `after` (a revocation). */
async function submitThenInSameBlock(
  fx: QuoteFixture,
  job: Job,
  a: Attestation,
  after: () => Promise<unknown>,
): Promise<number> {
  const proof = await teeProof(fx, job, OUTPUT, { signer: a.wallet });
  await hre.network.provider.send("evm_setAutomine", [false]);
  try {
    const submit = await fx.system.escrow.connect(fx.nodes[0]!).submit(job, OUTPUT, proof, { gasLimit: 1_000_000 });
    await after();
    await mine();
    const receipt = (await submit.wait())!;
    expect(receipt.status).to.equal(1);
    return receipt.blockNumber;
  } finally {
    await hre.network.provider.send("evm_setAutomine", [true]);
  }
}

function verify(fx: Fixture, job: Job) {
  const contracts = connectContracts(addressesFromRecord(fx.system.record), hre.ethers.provider);
  return verifyResult({ contracts, provider: hre.ethers.provider, jobId: toJobId(job.id), fromBlock: 0 });
}

describe("verifyResult, through the job's mode", () => {
  it("vanilla: checks the settled output only", async () => {
    const fx = await loadSystem();
    const report = await verify(fx, await settled(fx, Mode.Vanilla));
    expect([report.mode, report.ok, report.output, report.enclave, report.zk]).to.deep.equal([
      "vanilla",
      true,
      OUTPUT,
      undefined,
      undefined,
    ]);
    expect(report.checks.map((c) => c.name)).to.deep.equal([
      "settled",
      "resultOf hash",
      "one JobSettled",
      "JobSettled output",
    ]);
  });

  it("reads the head itself: a provider whose getBlockNumber answers a block before the settlement (as ethers' 250 ms cache can) still finds the JobSettled", async () => {
    const fx = await loadSystem();
    const job = await requestJob(fx, { mode: Mode.Vanilla });
    const escrow = fx.system.escrow.connect(fx.nodes[0]!);
    await escrow.claimSlot(job);
    const before = await hre.ethers.provider.getBlockNumber();
    await escrow.submit(job, OUTPUT, "0x");
    const real = hre.ethers.provider;
    const stale = new Proxy(real, {
      get: (target, key) => (key === "getBlockNumber" ? async () => before : Reflect.get(target, key, target)),
    });
    expect(await stale.getBlockNumber()).to.be.lessThan(await real.getBlockNumber());
    const contracts = connectContracts(addressesFromRecord(fx.system.record), stale);
    const report = await verifyResult({ contracts, provider: stale, jobId: toJobId(job.id), fromBlock: 0 });
    expect(report.checks.filter((c) => !c.ok)).to.deep.equal([]);
    expect(report.ok).to.equal(true);
    // A provider that cannot send JSON-RPC is asked for its block number: the head is then its answer.
    const { headBlockNumber } = await import("../../../src/core/provider");
    expect(await headBlockNumber({ getBlockNumber: async () => before })).to.equal(before);
    expect(await headBlockNumber(stale)).to.equal(await real.getBlockNumber());
  });

  describe("TEE: the enclave of the settling call's signature, as TeeVerifier recorded it at the settlement block", () => {
    it("the fixture's enclave, registered by quote: registered to the node, unrevoked, unexpired, its measurement unrevoked and bound", async () => {
      const fx = await loadSystem();
      const job = await settled(fx, Mode.Tee);
      const report = await verify(fx, job);
      expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
      expect(report.checks.map((c) => c.name)).to.deep.equal([
        "settled",
        "resultOf hash",
        "one JobSettled",
        "JobSettled output",
        ...TEE_CHECKS,
      ]);
      const record = await fx.system.teeVerifier.enclaveOf(fx.enclave.address);
      const [settledLog] = await fx.system.escrow.queryFilter(fx.system.escrow.filters.JobSettled(job.id));
      const block = (await hre.ethers.provider.getBlock(settledLog!.blockNumber))!;
      expect(report.enclave).to.deep.equal({
        signer: fx.enclave.address,
        operator: fx.nodes[0]!.address,
        measurement: MEASUREMENT,
        expiresAt: record.expiresAt,
        revoked: false,
        measurementRevokedAt: 0n,
        hpkePublicKey: new DevEnclave(fx.enclave.privateKey).hpkePublicKey,
        block: block.number,
        timestamp: BigInt(block.timestamp),
      });
    });

    it("a revocation after the settlement block does not change the verdict: the result was accepted by a live enclave", async () => {
      const fx = await loadSystem();
      const job = await settled(fx, Mode.Tee);
      await fx.system.teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
      await fx.system.teeVerifier.connect(await governor(fx)).revokeMeasurement(MEASUREMENT);
      const report = await verify(fx, job);
      expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
      expect([report.enclave?.revoked, report.enclave?.measurementRevokedAt]).to.deep.equal([false, 0n]);
      // Read today, both are revoked.
      expect((await fx.system.teeVerifier.enclaveOf(fx.enclave.address)).revoked).to.equal(true);
    });

    it("an enclave registered with a development quote: its TD measurement and HPKE key, expiry and binding", async () => {
      const fx = await loadQuoteSystem();
      const a = await registerWithQuote(fx, fx.nodes[0]!);
      const job = await claimedAttested(fx);
      await fx.system.escrow
        .connect(fx.nodes[0]!)
        .submit(job, OUTPUT, await teeProof(fx, job, OUTPUT, { signer: a.wallet }));
      const report = await verify(fx, job);
      expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
      const record = await fx.system.teeVerifier.enclaveOf(a.wallet.address);
      expect(report.enclave).to.deep.include({
        signer: a.wallet.address,
        operator: fx.nodes[0]!.address,
        measurement: DevEnclave.TD_MEASUREMENT,
        expiresAt: record.expiresAt,
        hpkePublicKey: a.enclave.hpkePublicKey,
        measurementRevokedAt: 0n,
      });
      expect(report.enclave!.timestamp < record.expiresAt).to.equal(true);
    });

    it("fails 'measurement unrevoked at settlement' when the measurement was revoked in the settlement block itself", async () => {
      const fx = await loadQuoteSystem();
      const a = await registerWithQuote(fx, fx.nodes[0]!);
      const job = await claimedAttested(fx);
      const block = await submitThenInSameBlock(fx, job, a, async () =>
        fx.system.teeVerifier.connect(await governor(fx)).revokeMeasurement(DevEnclave.TD_MEASUREMENT),
      );
      const report = await verify(fx, job);
      expect(report.ok).to.equal(false);
      expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).to.deep.equal([
        "measurement unrevoked at settlement",
      ]);
      const timestamp = BigInt((await hre.ethers.provider.getBlock(block))!.timestamp);
      expect(report.enclave?.measurementRevokedAt).to.equal(timestamp);
    });

    it("fails 'enclave unrevoked at settlement' when the enclave was revoked in the settlement block itself", async () => {
      const fx = await loadQuoteSystem();
      const a = await registerWithQuote(fx, fx.nodes[0]!);
      const job = await claimedAttested(fx);
      await submitThenInSameBlock(fx, job, a, async () =>
        fx.system.teeVerifier.connect(await governor(fx)).revokeEnclave(a.wallet.address),
      );
      const report = await verify(fx, job);
      expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).to.deep.equal(["enclave unrevoked at settlement"]);
      expect(report.enclave?.revoked).to.equal(true);
    });
  });
});

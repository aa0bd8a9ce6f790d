import { expect } from "chai";
import hre from "hardhat";
import { mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, keccak256, toUtf8Bytes, Wallet } from "ethers";
import { governance, requestJob, teeProof, governor } from "../../fixtures/system";
import { attest, loadQuoteSystem, registerWithQuote, type QuoteFixture } from "../../tee/system";
import {
  createDevelopmentPlatform,
  createDevelopmentQuote,
  DevEnclave,
  developmentPlatform,
  enclaveReportData,
  TeeType,
  withoutPckChain,
} from "../../../src/tee";
import { TeeVerifier__factory } from "../../../typechain-types";
import { enclaveKeyConfigHash } from "../../../src/ohttp/enclave-key";
import { Mode, modeMask } from "../../../src/core/modes";
import type { Job } from "../../../src/core/job";

const DAY = 24n * 3600n;
const MAX_AGE = 7n * DAY;
const OTHER_TD = Uint8Array.from({ length: 240 }, (_, i) => i);

/** A k = 1 TEE job on the attested model, claimed by `node` (default node 0). */
async function claimedJob(fx: QuoteFixture, node = fx.nodes[0]!): Promise<Job> {
  const job = await requestJob(fx, { modelId: fx.attestedModelId, mode: Mode.Tee });
  await fx.system.escrow.connect(node).claimSlot(job);
  return job;
}

describe("TeeVerifier: registration with a DCAP quote (issue #12)", () => {
  describe("registerEnclaveWithQuote", () => {
    it("registers the caller's enclave until maxEnclaveAge from now and emits EnclaveRegistered and EnclaveAttested", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!;
      const a = await attest(fx, node.address);
      expect(await teeVerifier.connect(node).registerEnclaveWithQuote.staticCall(...a.args)).to.equal(
        DevEnclave.TD_MEASUREMENT,
      );
      const at = BigInt(await time.latest()) + 7n;
      await time.setNextBlockTimestamp(at);
      const tx = teeVerifier.connect(node).registerEnclaveWithQuote(...a.args);
      await expect(tx)
        .to.emit(teeVerifier, "EnclaveRegistered")
        .withArgs(a.wallet.address, node.address, DevEnclave.TD_MEASUREMENT, at + MAX_AGE);
      await expect(tx)
        .to.emit(teeVerifier, "EnclaveAttested")
        .withArgs(
          a.wallet.address,
          node.address,
          fx.pckCertificate,
          TeeType.Tdx,
          a.enclave.hpkePublicKey,
          a.binding.anchorBlock,
          enclaveKeyConfigHash(a.enclave.hpkePublicKey),
        );
      await expect(tx).not.to.emit(teeVerifier, "OperatorDisrupted");
      const enclave = await teeVerifier.enclaveOf(a.wallet.address);
      expect([
        enclave.operator,
        enclave.expiresAt,
        enclave.revoked,
        enclave.measurement,
        enclave.hpkePublicKey,
      ]).to.deep.equal([node.address, at + MAX_AGE, false, DevEnclave.TD_MEASUREMENT, a.enclave.hpkePublicKey]);
    });

    it("registers with the quote stripped of its PEM chain (withoutPckChain), which the contract does not read", async () => {
      const fx = await loadQuoteSystem();
      const node = fx.nodes[0]!;
      const a = await attest(fx, node.address);
      const [quote, ...rest] = a.args;
      await expect(fx.system.teeVerifier.connect(node).registerEnclaveWithQuote(withoutPckChain(quote), ...rest))
        .to.emit(fx.system.teeVerifier, "EnclaveAttested")
        .withArgs(
          a.wallet.address,
          node.address,
          fx.pckCertificate,
          TeeType.Tdx,
          a.enclave.hpkePublicKey,
          a.binding.anchorBlock,
          enclaveKeyConfigHash(a.enclave.hpkePublicKey),
        );
    });

    it("renews a registration when the enclave attests again, without a disruption", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!;
      const first = await registerWithQuote(fx, node);
      await time.increase(3n * DAY);
      const again = await attest(fx, node.address, { wallet: first.wallet });
      const at = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(at);
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(...again.args))
        .to.emit(teeVerifier, "EnclaveRegistered")
        .withArgs(first.wallet.address, node.address, DevEnclave.TD_MEASUREMENT, at + MAX_AGE)
        .and.not.to.emit(teeVerifier, "OperatorDisrupted");
      expect((await teeVerifier.enclaveOf(first.wallet.address)).expiresAt).to.equal(at + MAX_AGE);
    });

    it("reverts with TeeVerifierAttestationUnavailable before governance sets the parameters", async () => {
      const fx = await loadQuoteSystem();
      const fresh = await new TeeVerifier__factory(fx.deployer).deploy(
        await fx.system.registry.getAddress(),
        fx.deployer.address,
      );
      const a = await attest(fx, fx.nodes[0]!.address);
      await expect(fresh.connect(fx.nodes[0]!).registerEnclaveWithQuote(...a.args)).to.be.revertedWithCustomError(
        fresh,
        "TeeVerifierAttestationUnavailable",
      );
      const p = await fresh.parameters();
      expect([p.dcapVerifier, p.maxEnclaveAge, p.staking]).to.deep.equal([
        hre.ethers.ZeroAddress,
        MAX_AGE,
        hre.ethers.ZeroAddress,
      ]);
    });

    it("reverts with TeeVerifierOperatorIneligible for a caller without stake, or not registered for TEE", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier, staking } = fx.system;
      const a = await attest(fx, fx.other.address);
      await expect(teeVerifier.connect(fx.other).registerEnclaveWithQuote(...a.args))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierOperatorIneligible")
        .withArgs(fx.other.address);
      const node = fx.nodes[1]!;
      await staking.connect(node).register(modeMask([Mode.Vanilla]));
      const b = await attest(fx, node.address);
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(...b.args))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierOperatorIneligible")
        .withArgs(node.address);
    });

    it("reverts with TeeVerifierInvalidKeys for a zero signing address or a zero HPKE key", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!;
      const a = await attest(fx, node.address);
      const [quote, pck, signer, hpke, anchor] = a.args;
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(quote, pck, hre.ethers.ZeroAddress, hpke, anchor))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierInvalidKeys")
        .withArgs(hre.ethers.ZeroAddress, hpke);
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(quote, pck, signer, hre.ethers.ZeroHash, anchor))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierInvalidKeys")
        .withArgs(signer, hre.ethers.ZeroHash);
    });

    it("reverts with TeeVerifierStaleQuote for an anchor block older than QUOTE_WINDOW blocks, or not yet mined", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!;
      expect(await teeVerifier.QUOTE_WINDOW()).to.equal(256n);
      // The fixture anchors quotes one block before the latest: the registration 256 blocks after its anchor is the
      // last one allowed, 257 blocks after is too late.
      const a = await attest(fx, node.address);
      await mine(254);
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(...a.args)).to.emit(
        teeVerifier,
        "EnclaveRegistered",
      );
      expect(BigInt(await hre.ethers.provider.getBlockNumber())).to.equal(a.binding.anchorBlock + 256n);
      const b = await attest(fx, node.address);
      await mine(255);
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(...b.args))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierStaleQuote")
        .withArgs(b.binding.anchorBlock, b.binding.anchorBlock + 257n);
      const next = BigInt(await hre.ethers.provider.getBlockNumber()) + 1n;
      const c = await attest(fx, node.address, { anchorBlock: next });
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(...c.args))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierStaleQuote")
        .withArgs(next, next);
      await expect(teeVerifier.enclaveReportData(c.wallet.address, c.enclave.hpkePublicKey, node.address, next + 5n))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierStaleQuote")
        .withArgs(next + 5n, next); // eth_call runs in the latest block: the failed registration's
    });

    it("reverts with TeeVerifierReportDataMismatch when the quote binds another key, HPKE key, operator, chain, verifier or block", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!;
      const earlier = (await hre.ethers.provider.getBlock("latest"))!;
      await mine(2);
      const cases = [
        { signer: Wallet.createRandom().address },
        { hpkePublicKey: keccak256(toUtf8Bytes("another HPKE key")) },
        { operator: fx.nodes[1]!.address },
        { chainId: 1n },
        { verifier: await fx.system.escrow.getAddress() },
        { anchorBlockHash: earlier.hash! },
        { anchorBlock: BigInt(earlier.number) },
      ];
      for (const binding of cases) {
        const a = await attest(fx, node.address, { binding });
        const expected = await teeVerifier.enclaveReportData(a.args[2], a.args[3], node.address, a.args[4]);
        await expect(teeVerifier.connect(node).registerEnclaveWithQuote(...a.args))
          .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierReportDataMismatch")
          .withArgs(expected.slice(0, 66), hexlify(enclaveReportData(a.binding)));
      }
    });

    it("reverts with TeeVerifierReportDataMismatch when the second half of the report data is not zero", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!;
      const a = await attest(fx, node.address);
      const reportData = enclaveReportData(a.binding);
      reportData[63] = 1;
      const quote = createDevelopmentQuote(developmentPlatform(), {
        teeType: TeeType.Tdx,
        reportData,
        measurements: DevEnclave.TD_MEASUREMENTS,
      });
      await expect(
        teeVerifier
          .connect(node)
          .registerEnclaveWithQuote(quote, ...(a.args.slice(1) as [string, string, string, bigint])),
      )
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierReportDataMismatch")
        .withArgs(hexlify(reportData.subarray(0, 32)), hexlify(reportData));
    });

    it("computes the report data the off-chain enclaveReportData computes", async () => {
      const fx = await loadQuoteSystem();
      const a = await attest(fx, fx.nodes[2]!.address);
      const { signer, hpkePublicKey, operator, anchorBlock } = a.binding;
      expect(await fx.system.teeVerifier.enclaveReportData(signer, hpkePublicKey, operator, anchorBlock)).to.equal(
        hexlify(enclaveReportData(a.binding)),
      );
    });

    it("reverts with the DCAP verifier's error for a quote it refuses", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier, dcapVerifier } = fx.system;
      const node = fx.nodes[0]!;
      const foreign = createDevelopmentPlatform();
      const a = await attest(fx, node.address, { platform: foreign });
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(...a.args))
        .to.be.revertedWithCustomError(dcapVerifier, "DcapCertificateUnknown")
        .withArgs(keccak256(foreign.pck.der));
      const debug = await attest(fx, node.address, { debug: true });
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(...debug.args)).to.be.revertedWithCustomError(
        dcapVerifier,
        "DcapDebugMode",
      );
      const honest = await attest(fx, node.address);
      const forged = Uint8Array.from(honest.quote);
      forged[200] = forged[200]! ^ 1; // a byte of MRTD: the quote signature no longer verifies
      await expect(
        teeVerifier
          .connect(node)
          .registerEnclaveWithQuote(forged, ...(honest.args.slice(1) as [string, string, string, bigint])),
      ).to.be.revertedWithCustomError(dcapVerifier, "DcapQuoteSignatureInvalid");
    });

    it("reverts with TeeVerifierEnclaveRevoked for a revoked key, which never comes back", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!;
      const a = await registerWithQuote(fx, node);
      await teeVerifier.connect(await governor(fx)).revokeEnclave(a.wallet.address);
      const again = await attest(fx, node.address, { wallet: a.wallet });
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(...again.args))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierEnclaveRevoked")
        .withArgs(a.wallet.address);
    });

    it("reverts with TeeVerifierOperatorMismatch for a key registered to another operator: a quote cannot move a key", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const [owner, taker] = [fx.nodes[0]!, fx.nodes[1]!];
      const a = await registerWithQuote(fx, owner);
      const b = await attest(fx, taker.address, { wallet: a.wallet });
      await expect(teeVerifier.connect(taker).registerEnclaveWithQuote(...b.args))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierOperatorMismatch")
        .withArgs(a.wallet.address, owner.address, taker.address);
      expect(await teeVerifier.disruptedAt(owner.address)).to.equal(0n);
    });

    it("reverts with TeeVerifierMeasurementRevoked for a revoked measurement", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const node = fx.nodes[0]!;
      await teeVerifier.connect(await governor(fx)).revokeMeasurement(DevEnclave.TD_MEASUREMENT);
      const a = await attest(fx, node.address);
      await expect(teeVerifier.connect(node).registerEnclaveWithQuote(...a.args))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierMeasurementRevoked")
        .withArgs(DevEnclave.TD_MEASUREMENT);
    });
  });

  describe("verify, for an enclave registered with a quote", () => {
    it("accepts its signature on a job of a version that binds its measurement, and settles", async () => {
      const fx = await loadQuoteSystem();
      const { escrow } = fx.system;
      const node = fx.nodes[0]!;
      const a = await registerWithQuote(fx, node);
      const job = await claimedJob(fx);
      await expect(escrow.connect(node).submit(job, "0x01", await teeProof(fx, job, "0x01", { signer: a.wallet })))
        .to.emit(escrow, "JobSettled")
        .withArgs(job.id, keccak256("0x01"), 1, "0x01");
    });

    it("reverts with TeeVerifierMeasurementNotAccepted on a version that does not bind its measurement", async () => {
      const fx = await loadQuoteSystem();
      const node = fx.nodes[0]!;
      const a = await registerWithQuote(fx, node);
      const job = await requestJob(fx, { mode: Mode.Tee });
      await fx.system.escrow.connect(node).claimSlot(job);
      await expect(
        fx.system.escrow.connect(node).submit(job, "0x01", await teeProof(fx, job, "0x01", { signer: a.wallet })),
      )
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierMeasurementNotAccepted")
        .withArgs(1n, 1n, DevEnclave.TD_MEASUREMENT);
    });

    it("reverts with TeeVerifierMeasurementNotAccepted for an enclave whose quote reports another TD", async () => {
      const fx = await loadQuoteSystem();
      const node = fx.nodes[0]!;
      const a = await registerWithQuote(fx, node, { measurements: OTHER_TD });
      expect((await fx.system.teeVerifier.enclaveOf(a.wallet.address)).measurement).to.equal(keccak256(OTHER_TD));
      const job = await claimedJob(fx);
      await expect(
        fx.system.escrow.connect(node).submit(job, "0x01", await teeProof(fx, job, "0x01", { signer: a.wallet })),
      )
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierMeasurementNotAccepted")
        .withArgs(fx.attestedModelId, 1n, keccak256(OTHER_TD));
    });

    it("reverts with TeeVerifierMeasurementRevoked once its measurement is revoked", async () => {
      const fx = await loadQuoteSystem();
      const node = fx.nodes[0]!;
      const a = await registerWithQuote(fx, node);
      const job = await claimedJob(fx);
      await fx.system.teeVerifier.connect(await governor(fx)).revokeMeasurement(DevEnclave.TD_MEASUREMENT);
      await expect(
        fx.system.escrow.connect(node).submit(job, "0x01", await teeProof(fx, job, "0x01", { signer: a.wallet })),
      )
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierMeasurementRevoked")
        .withArgs(DevEnclave.TD_MEASUREMENT);
    });

    it("reverts with TeeVerifierEnclaveExpired maxEnclaveAge after the registration", async () => {
      const fx = await loadQuoteSystem();
      const node = fx.nodes[0]!;
      const a = await registerWithQuote(fx, node);
      const { expiresAt } = await fx.system.teeVerifier.enclaveOf(a.wallet.address);
      await time.increaseTo(expiresAt - 10n);
      const job = await requestJob(fx, { modelId: fx.attestedModelId, mode: Mode.Tee });
      await fx.system.escrow.connect(node).claimSlot(job);
      await time.increaseTo(expiresAt);
      await expect(
        fx.system.escrow.connect(node).submit(job, "0x01", await teeProof(fx, job, "0x01", { signer: a.wallet })),
      )
        .to.be.revertedWithCustomError(fx.system.teeVerifier, "TeeVerifierEnclaveExpired")
        .withArgs(a.wallet.address, expiresAt);
    });
  });

  describe("revokeMeasurement", () => {
    it("revokes for good, effective at once, emits MeasurementRevoked and records when", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      expect(await teeVerifier.measurementRevokedAt(DevEnclave.TD_MEASUREMENT)).to.equal(0n);
      const at = BigInt(await time.latest()) + 3n;
      await time.setNextBlockTimestamp(at);
      await expect(teeVerifier.connect(await governor(fx)).revokeMeasurement(DevEnclave.TD_MEASUREMENT))
        .to.emit(teeVerifier, "MeasurementRevoked")
        .withArgs(DevEnclave.TD_MEASUREMENT);
      expect(await teeVerifier.measurementRevokedAt(DevEnclave.TD_MEASUREMENT)).to.equal(at);
      await expect(teeVerifier.connect(await governor(fx)).revokeMeasurement(DevEnclave.TD_MEASUREMENT))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierMeasurementRevoked")
        .withArgs(DevEnclave.TD_MEASUREMENT);
    });

    it("keeps a revoked measurement's value for enclaveOf, and refuses it to any later registration", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const a = await registerWithQuote(fx, fx.nodes[0]!);
      await teeVerifier.connect(await governor(fx)).revokeMeasurement(DevEnclave.TD_MEASUREMENT);
      expect((await teeVerifier.enclaveOf(a.wallet.address)).measurement).to.equal(DevEnclave.TD_MEASUREMENT);
      const b = await attest(fx, fx.nodes[1]!.address);
      await expect(teeVerifier.connect(fx.nodes[1]!).registerEnclaveWithQuote(...b.args))
        .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierMeasurementRevoked")
        .withArgs(DevEnclave.TD_MEASUREMENT);
    });

    it("is for governance only: reverts with AccessControlUnauthorizedAccount for anyone else", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      await expect(teeVerifier.connect(fx.other).revokeMeasurement(DevEnclave.TD_MEASUREMENT))
        .to.be.revertedWithCustomError(teeVerifier, "AccessControlUnauthorizedAccount")
        .withArgs(fx.other.address, await teeVerifier.DEFAULT_ADMIN_ROLE());
      await governance(
        fx,
        teeVerifier,
        teeVerifier.interface.encodeFunctionData("revokeMeasurement", [DevEnclave.TD_MEASUREMENT]),
      );
      expect(await teeVerifier.measurementRevokedAt(DevEnclave.TD_MEASUREMENT)).to.not.equal(0n);
    });
  });

  describe("setParameters", () => {
    it("is for governance only; through the timelock it sets the parameters and emits ParametersUpdated", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const p = await teeVerifier.parameters();
      expect([p.dcapVerifier, p.maxEnclaveAge, p.staking]).to.deep.equal([
        await fx.system.dcapVerifier.getAddress(),
        MAX_AGE,
        await fx.system.staking.getAddress(),
      ]);
      const wanted = { dcapVerifier: p.dcapVerifier, maxEnclaveAge: DAY, staking: p.staking };
      await expect(teeVerifier.setParameters(wanted))
        .to.be.revertedWithCustomError(teeVerifier, "AccessControlUnauthorizedAccount")
        .withArgs(fx.deployer.address, hre.ethers.ZeroHash);
      await expect(governance(fx, teeVerifier, teeVerifier.interface.encodeFunctionData("setParameters", [wanted])))
        .to.emit(teeVerifier, "ParametersUpdated")
        .withArgs([wanted.dcapVerifier, DAY, wanted.staking]);
      expect((await teeVerifier.parameters()).maxEnclaveAge).to.equal(DAY);
    });

    it("reverts with TeeVerifierParameterOutOfBounds for maxEnclaveAge outside [1 hour, 30 days], and TeeVerifierInvalidContract for a contract without code", async () => {
      const fx = await loadQuoteSystem();
      const verifier = await new TeeVerifier__factory(fx.deployer).deploy(
        await fx.system.registry.getAddress(),
        fx.deployer.address,
      );
      const good = {
        dcapVerifier: await fx.system.dcapVerifier.getAddress(),
        maxEnclaveAge: 3600n,
        staking: await fx.system.staking.getAddress(),
      };
      for (const age of [3599n, 30n * DAY + 1n]) {
        await expect(verifier.setParameters({ ...good, maxEnclaveAge: age }))
          .to.be.revertedWithCustomError(verifier, "TeeVerifierParameterOutOfBounds")
          .withArgs("maxEnclaveAge", age, 3600n, 30n * DAY);
      }
      await expect(verifier.setParameters({ ...good, dcapVerifier: fx.other.address }))
        .to.be.revertedWithCustomError(verifier, "TeeVerifierInvalidContract")
        .withArgs("dcapVerifier", fx.other.address);
      await expect(verifier.setParameters({ ...good, staking: hre.ethers.ZeroAddress }))
        .to.be.revertedWithCustomError(verifier, "TeeVerifierInvalidContract")
        .withArgs("staking", hre.ethers.ZeroAddress);
      for (const age of [3600n, 30n * DAY])
        await expect(verifier.setParameters({ ...good, maxEnclaveAge: age })).to.emit(verifier, "ParametersUpdated");
    });

    it("applies a new maxEnclaveAge to later registrations only", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const before = await registerWithQuote(fx, fx.nodes[0]!);
      const expiresAt = (await teeVerifier.enclaveOf(before.wallet.address)).expiresAt;
      const p = await teeVerifier.parameters();
      await governance(
        fx,
        teeVerifier,
        teeVerifier.interface.encodeFunctionData("setParameters", [
          { dcapVerifier: p.dcapVerifier, maxEnclaveAge: DAY, staking: p.staking },
        ]),
      );
      expect((await teeVerifier.enclaveOf(before.wallet.address)).expiresAt).to.equal(expiresAt);
      const after = await registerWithQuote(fx, fx.nodes[1]!);
      expect((await teeVerifier.enclaveOf(after.wallet.address)).expiresAt).to.equal(BigInt(await time.latest()) + DAY);
    });
  });

  describe("excuses, for measurement revocations", () => {
    it("excuses a node with an enclave of a revoked measurement the version binds, when the revocation falls in [claim, deadline]", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const [node, bystander] = [fx.nodes[0]!.address, fx.nodes[1]!.address];
      await registerWithQuote(fx, fx.nodes[0]!);
      await teeVerifier.connect(await governor(fx)).revokeMeasurement(DevEnclave.TD_MEASUREMENT);
      const at = await teeVerifier.measurementRevokedAt(DevEnclave.TD_MEASUREMENT);
      const model = fx.attestedModelId;
      expect(await teeVerifier.excuses(node, model, 1n, at - 1n, at + 10n)).to.equal(true);
      expect(await teeVerifier.excuses(node, model, 1n, at, at)).to.equal(true);
      // Claimed after the revocation (the node knew), or failed before it.
      expect(await teeVerifier.excuses(node, model, 1n, at + 1n, at + 10n)).to.equal(false);
      expect(await teeVerifier.excuses(node, model, 1n, at - 10n, at - 1n)).to.equal(false);
      // A node that never registered an enclave with it, and a version that does not bind it.
      expect(await teeVerifier.excuses(bystander, model, 1n, at - 1n, at + 10n)).to.equal(false);
      expect(await teeVerifier.excuses(node, 1n, 1n, at - 1n, at + 10n)).to.equal(false);
      // An unknown version excuses nothing and does not revert.
      expect(await teeVerifier.excuses(node, model, 9n, at - 1n, at + 10n)).to.equal(false);
      expect(await teeVerifier.disruptedAt(node)).to.equal(0n);
    });

    it("does not excuse a node whose enclave with the measurement had expired before the revocation", async () => {
      const fx = await loadQuoteSystem();
      const { teeVerifier } = fx.system;
      const a = await registerWithQuote(fx, fx.nodes[0]!);
      const { expiresAt } = await teeVerifier.enclaveOf(a.wallet.address);
      await time.increaseTo(expiresAt + 1n);
      await teeVerifier.connect(await governor(fx)).revokeMeasurement(DevEnclave.TD_MEASUREMENT);
      const at = await teeVerifier.measurementRevokedAt(DevEnclave.TD_MEASUREMENT);
      expect(await teeVerifier.excuses(fx.nodes[0]!.address, fx.attestedModelId, 1n, at - 1n, at + 10n)).to.equal(
        false,
      );
    });
  });
});

import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { TypedDataEncoder, Wallet, ZeroAddress } from "ethers";
import { EvaluationRegistry__factory } from "../../../typechain-types";
import { EVALUATION_RESULT_TYPES, evaluationDomain, EvaluationStatus, Metric } from "../../../src/core/evaluation";
import { Mode } from "../../../src/core/modes";
import { modeModule } from "../../../src/modes";
import { governor, MEASUREMENT, registerByQuote, tdMeasurements, versionInput } from "../../fixtures/system";
import {
  BASELINE,
  datasetInput,
  deadline,
  EVALUATION_FEE,
  evaluationFixture,
  requestEvaluation,
  resultMessage,
  ROW_COUNT,
  signResult,
  submitResult,
  type EvaluationFixture,
} from "../../fixtures/evaluation";

const VALUE = 912_345n;

/** Publishes another model from the fixture's owner and returns its id. */
async function publish(fx: EvaluationFixture, input: ReturnType<typeof versionInput>): Promise<bigint> {
  await fx.system.registry.connect(fx.owner).createModelAndPublish(1n, input);
  return fx.system.registry.modelCount();
}

describe("EvaluationRegistry", () => {
  describe("constructor", () => {
    it("reverts with EvaluationRegistryInvalidContract for an argument without code", async () => {
      const fx = await evaluationFixture();
      const { token, registry, teeVerifier, staking } = fx.system;
      const args = await Promise.all([token, registry, teeVerifier, staking].map((c) => c.getAddress()));
      const names = ["token", "registry", "teeVerifier", "staking"];
      const factory = new EvaluationRegistry__factory(fx.deployer);
      for (const [i, name] of names.entries()) {
        const bad = [...args];
        bad[i] = fx.other.address;
        await expect(factory.deploy(bad[0]!, bad[1]!, bad[2]!, bad[3]!))
          .to.be.revertedWithCustomError(factory, "EvaluationRegistryInvalidContract")
          .withArgs(name, fx.other.address);
      }
    });

    it("records its token, registry, TEE verifier and staking, and has no admin", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      expect([await e.token(), await e.registry(), await e.teeVerifier(), await e.staking()]).to.deep.equal(
        await Promise.all(
          [fx.system.token, fx.system.registry, fx.system.teeVerifier, fx.system.staking].map((c) => c.getAddress()),
        ),
      );
      expect(e.interface.fragments.some((f) => f.type === "function" && /role|owner|admin/i.test(f.format()))).to.equal(
        false,
      );
    });
  });

  describe("registerDataset", () => {
    it("numbers datasets from 1, stores everything and emits DatasetRegistered", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const input = datasetInput({ metric: Metric.MeanAbsoluteError, baselineValue: 2_500_000n, name: "second" });
      await expect(e.connect(fx.requester).registerDataset(input))
        .to.emit(e, "DatasetRegistered")
        .withArgs(
          2n,
          fx.requester.address,
          input.rowsSha256,
          input.rowsCid,
          input.rowCount,
          input.metric,
          input.baselineValue,
          input.name,
          input.split,
          input.baseline,
        );
      expect(await e.datasetCount()).to.equal(2n);
      const stored = await e.datasetOf(2n);
      expect(stored.registrant).to.equal(fx.requester.address);
      expect(stored.registeredAt).to.equal(BigInt(await time.latest()));
      expect([stored.rowsSha256, stored.rowCount, stored.metric, stored.baselineValue]).to.deep.equal([
        input.rowsSha256,
        input.rowCount,
        BigInt(input.metric),
        input.baselineValue,
      ]);
      expect([stored.name, stored.split, stored.baseline]).to.deep.equal([input.name, input.split, input.baseline]);
    });

    it("reverts with EvaluationRegistryInvalidRows for an empty or oversize CID, a zero hash or no rows", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const good = datasetInput();
      for (const [rowsCid, rowsSha256, rowCount] of [
        ["0x", good.rowsSha256, good.rowCount],
        [new Uint8Array(129), good.rowsSha256, good.rowCount],
        [good.rowsCid, hre.ethers.ZeroHash, good.rowCount],
        [good.rowsCid, good.rowsSha256, 0n],
      ] as const) {
        await expect(e.registerDataset(datasetInput({ rowsCid, rowsSha256, rowCount })))
          .to.be.revertedWithCustomError(e, "EvaluationRegistryInvalidRows")
          .withArgs(hre.ethers.getBytes(rowsCid).length, rowsSha256, rowCount);
      }
      await expect(e.registerDataset(datasetInput({ rowsCid: new Uint8Array(128) }))).to.emit(e, "DatasetRegistered");
    });

    it("reverts with EvaluationRegistryInvalidText for an empty name or a text over 256 bytes", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const long = "x".repeat(257);
      await expect(e.registerDataset(datasetInput({ name: "" })))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryInvalidText")
        .withArgs("name", 0, 256);
      for (const field of ["name", "split", "baseline"] as const) {
        await expect(e.registerDataset(datasetInput({ [field]: long })))
          .to.be.revertedWithCustomError(e, "EvaluationRegistryInvalidText")
          .withArgs(field, 257, 256);
      }
      await expect(e.registerDataset(datasetInput({ split: "", baseline: "", name: "x".repeat(256) }))).to.emit(
        e,
        "DatasetRegistered",
      );
    });

    it("reverts with EvaluationRegistryValueOutOfRange for a baseline no metric value can be", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      for (const [metric, baselineValue] of [
        [Metric.Accuracy, 1_000_001n],
        [Metric.Accuracy, -1n],
        [Metric.MeanAbsoluteError, -1n],
        [Metric.RootMeanSquaredError, -5n],
      ] as const) {
        await expect(e.registerDataset(datasetInput({ metric, baselineValue })))
          .to.be.revertedWithCustomError(e, "EvaluationRegistryValueOutOfRange")
          .withArgs(metric, baselineValue);
      }
      await expect(e.registerDataset(datasetInput({ metric: Metric.Accuracy, baselineValue: 1_000_000n }))).to.emit(
        e,
        "DatasetRegistered",
      );
    });
  });

  describe("requestEvaluation", () => {
    it("numbers requests from 1, pulls the fee, stores the request and emits EvaluationRequested", async () => {
      const fx = await evaluationFixture();
      const { evaluationRegistry: e, token } = fx.system;
      const before = await token.balanceOf(fx.requester.address);
      const end = await deadline();
      await expect(e.connect(fx.requester).requestEvaluation(1n, 1, fx.datasetId, EVALUATION_FEE, end))
        .to.emit(e, "EvaluationRequested")
        .withArgs(1n, 1n, fx.datasetId, 1n, fx.requester.address, EVALUATION_FEE, end);
      expect(await token.balanceOf(fx.requester.address)).to.equal(before - EVALUATION_FEE);
      expect(await token.balanceOf(await e.getAddress())).to.equal(EVALUATION_FEE);
      const request = await e.requestOf(1n);
      expect([request.modelId, request.version, request.datasetId, request.deadline]).to.deep.equal([
        1n,
        1n,
        fx.datasetId,
        end,
      ]);
      expect([Number(request.status), request.requester, request.fee]).to.deep.equal([
        EvaluationStatus.Open,
        fx.requester.address,
        EVALUATION_FEE,
      ]);
      expect(await e.requestCount()).to.equal(1n);
    });

    it("takes a zero fee without a transfer", async () => {
      const fx = await evaluationFixture();
      const { evaluationRegistry: e, token } = fx.system;
      await expect(e.connect(fx.other).requestEvaluation(1n, 1, fx.datasetId, 0n, await deadline())).to.not.emit(
        token,
        "Transfer",
      );
      expect((await e.requestOf(1n)).fee).to.equal(0n);
    });

    it("reverts with EvaluationRegistryUnknownDataset for dataset 0 or one not registered", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      for (const id of [0n, 2n]) {
        await expect(requestEvaluation(fx, { datasetId: id }))
          .to.be.revertedWithCustomError(e, "EvaluationRegistryUnknownDataset")
          .withArgs(id);
      }
    });

    it("reverts with the registry's ModelRegistryUnknownVersion for a version that does not exist", async () => {
      const fx = await evaluationFixture();
      await expect(requestEvaluation(fx, { version: 2 }))
        .to.be.revertedWithCustomError(fx.system.registry, "ModelRegistryUnknownVersion")
        .withArgs(1n, 2n);
    });

    it("reverts with EvaluationRegistryTeeNotSupported for a version without TEE mode", async () => {
      const fx = await evaluationFixture();
      const vanilla = await publish(fx, {
        ...versionInput("vanilla only"),
        modes: [modeModule(Mode.Vanilla).binding({})],
      });
      await expect(requestEvaluation(fx, { modelId: vanilla }))
        .to.be.revertedWithCustomError(fx.system.evaluationRegistry, "EvaluationRegistryTeeNotSupported")
        .withArgs(vanilla, 1n);
    });

    it("accepts a deprecated version", async () => {
      const fx = await evaluationFixture();
      await fx.system.registry.connect(fx.owner).deprecateVersion(1n, 1);
      expect(await requestEvaluation(fx)).to.equal(1n);
    });

    it("reverts with EvaluationRegistryInvalidDeadline below 1 minute or beyond 30 days from now", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const now = BigInt(await time.latest()) + 1n; // the next block's timestamp
      await time.setNextBlockTimestamp(now);
      await expect(requestEvaluation(fx, { deadline: now + 59n }))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryInvalidDeadline")
        .withArgs(now + 59n, now + 60n, now + 30n * 86_400n);
      await time.setNextBlockTimestamp(now + 1n);
      await expect(requestEvaluation(fx, { deadline: now + 1n + 30n * 86_400n + 1n }))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryInvalidDeadline")
        .withArgs(now + 1n + 30n * 86_400n + 1n, now + 61n, now + 1n + 30n * 86_400n);
      await time.setNextBlockTimestamp(now + 2n);
      expect(await requestEvaluation(fx, { deadline: now + 62n })).to.equal(1n);
      await time.setNextBlockTimestamp(now + 3n);
      expect(await requestEvaluation(fx, { deadline: now + 3n + 30n * 86_400n })).to.equal(2n);
    });

    it("reverts with the token's error when the requester has not approved the fee", async () => {
      const fx = await evaluationFixture();
      const { evaluationRegistry: e, token } = fx.system;
      await token.connect(fx.requester).approve(await e.getAddress(), 0n);
      await expect(requestEvaluation(fx)).to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance");
    });
  });

  describe("submitEvaluation", () => {
    it("records the result, credits the fee to the enclave's operator and emits EvaluationRecorded", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const id = await requestEvaluation(fx);
      await expect(submitResult(fx, id, VALUE))
        .to.emit(e, "EvaluationRecorded")
        .withArgs(
          id,
          1n,
          fx.datasetId,
          1n,
          VALUE,
          BASELINE,
          ROW_COUNT,
          fx.enclave.address,
          fx.nodes[0]!.address,
          MEASUREMENT,
          EVALUATION_FEE,
        );
      const at = BigInt(await time.latest());
      expect(Number((await e.requestOf(id)).status)).to.equal(EvaluationStatus.Evaluated);
      const result = await e.resultOf(id);
      expect([result.value, result.evaluatedAt, result.enclave]).to.deep.equal([VALUE, at, fx.enclave.address]);
      expect(await e.latestEvaluationOf(1n, 1, fx.datasetId)).to.equal(id);
      expect(await e.credits(fx.nodes[0]!.address)).to.equal(EVALUATION_FEE);
      const v = await e.verifiedEvaluation(1n, 1, fx.datasetId);
      expect([v.id, v.valid, Number(v.metric), v.value, v.baselineValue, v.rowCount, v.evaluatedAt]).to.deep.equal([
        id,
        true,
        Metric.Accuracy,
        VALUE,
        BASELINE,
        ROW_COUNT,
        at,
      ]);
      expect([v.enclave, v.operator, v.measurement]).to.deep.equal([
        fx.enclave.address,
        fx.nodes[0]!.address,
        MEASUREMENT,
      ]);
    });

    it("accepts the submission from anyone: the fee goes to the enclave's operator, not the sender", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const id = await requestEvaluation(fx);
      await submitResult(fx, id, VALUE, fx.other);
      expect(await e.credits(fx.other.address)).to.equal(0n);
      expect(await e.credits(fx.nodes[0]!.address)).to.equal(EVALUATION_FEE);
    });

    it("keeps the latest result of a (model, version, dataset) as the one verifiedEvaluation reports", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const first = await requestEvaluation(fx);
      const second = await requestEvaluation(fx);
      await submitResult(fx, second, VALUE);
      await submitResult(fx, first, VALUE - 1n);
      expect(await e.latestEvaluationOf(1n, 1, fx.datasetId)).to.equal(first);
      expect((await e.verifiedEvaluation(1n, 1, fx.datasetId)).value).to.equal(VALUE - 1n);
      expect(await e.credits(fx.nodes[0]!.address)).to.equal(2n * EVALUATION_FEE);
    });

    it("reverts with EvaluationRegistryUnknownRequest for a request that does not exist", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      await expect(e.submitEvaluation(7n, VALUE, BASELINE, ROW_COUNT, "0x"))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryUnknownRequest")
        .withArgs(7n);
    });

    it("reverts with EvaluationRegistryRequestNotOpen for a request evaluated or refunded", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const evaluated = await requestEvaluation(fx);
      await submitResult(fx, evaluated, VALUE);
      await expect(submitResult(fx, evaluated, VALUE))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryRequestNotOpen")
        .withArgs(evaluated, EvaluationStatus.Evaluated);
      const refunded = await requestEvaluation(fx, { deadline: await deadline(120) });
      const message = await resultMessage(fx, refunded, VALUE);
      const signature = await signResult(fx, message);
      await time.increase(121);
      await e.refund(refunded);
      await expect(e.submitEvaluation(refunded, VALUE, BASELINE, ROW_COUNT, signature))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryRequestNotOpen")
        .withArgs(refunded, EvaluationStatus.Refunded);
    });

    it("accepts a result at its deadline and reverts with EvaluationRegistryDeadlinePassed a second later", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const end = await deadline(600);
      const onTime = await requestEvaluation(fx, { deadline: end });
      const late = await requestEvaluation(fx, { deadline: end });
      const signature = await signResult(fx, await resultMessage(fx, late, VALUE));
      await time.setNextBlockTimestamp(end);
      await submitResult(fx, onTime, VALUE);
      await expect(e.submitEvaluation(late, VALUE, BASELINE, ROW_COUNT, signature))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryDeadlinePassed")
        .withArgs(late, end);
    });

    it("reverts with EvaluationRegistryRowCountMismatch and EvaluationRegistryBaselineMismatch against the dataset", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const id = await requestEvaluation(fx);
      await expect(e.submitEvaluation(id, VALUE, BASELINE, ROW_COUNT - 1n, "0x"))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryRowCountMismatch")
        .withArgs(id, ROW_COUNT, ROW_COUNT - 1n);
      await expect(e.submitEvaluation(id, VALUE, BASELINE + 1n, ROW_COUNT, "0x"))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryBaselineMismatch")
        .withArgs(id, BASELINE, BASELINE + 1n);
    });

    it("reverts with EvaluationRegistryValueOutOfRange for an accuracy above 100% or a negative one", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const id = await requestEvaluation(fx);
      for (const value of [1_000_001n, -1n]) {
        await expect(e.submitEvaluation(id, value, BASELINE, ROW_COUNT, "0x"))
          .to.be.revertedWithCustomError(e, "EvaluationRegistryValueOutOfRange")
          .withArgs(Metric.Accuracy, value);
      }
    });

    it("reverts with EvaluationRegistryInvalidSignature for a signature that is not 65 bytes or recovers nothing", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const id = await requestEvaluation(fx);
      const good = await signResult(fx, await resultMessage(fx, id, VALUE));
      for (const signature of ["0x", good.slice(0, -2), `0x${"00".repeat(65)}`]) {
        await expect(e.submitEvaluation(id, VALUE, BASELINE, ROW_COUNT, signature)).to.be.revertedWithCustomError(
          e,
          "EvaluationRegistryInvalidSignature",
        );
      }
    });

    it("reverts with EvaluationRegistryUnknownEnclave for a key TeeVerifier never registered", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const id = await requestEvaluation(fx);
      const stranger = Wallet.createRandom();
      const message = await resultMessage(fx, id, VALUE);
      await expect(e.submitEvaluation(id, VALUE, BASELINE, ROW_COUNT, await signResult(fx, message, stranger)))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryUnknownEnclave")
        .withArgs(stranger.address);
    });

    it("reverts with EvaluationRegistryEnclaveRevoked once governance revoked the enclave", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const id = await requestEvaluation(fx);
      await fx.system.teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
      await expect(submitResult(fx, id, VALUE))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryEnclaveRevoked")
        .withArgs(fx.enclave.address);
    });

    it("reverts with EvaluationRegistryEnclaveExpired once the enclave's registration lapsed", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const id = await requestEvaluation(fx, { deadline: await deadline(10 * 86_400) });
      const { expiresAt } = await fx.system.teeVerifier.enclaveOf(fx.enclave.address);
      await time.increaseTo(expiresAt);
      await expect(submitResult(fx, id, VALUE))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryEnclaveExpired")
        .withArgs(fx.enclave.address, expiresAt);
    });

    it("reverts with EvaluationRegistryMeasurementRevoked once governance revoked the enclave's measurement", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const id = await requestEvaluation(fx);
      await fx.system.teeVerifier.connect(await governor(fx)).revokeMeasurement(MEASUREMENT);
      await expect(submitResult(fx, id, VALUE))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryMeasurementRevoked")
        .withArgs(fx.enclave.address, MEASUREMENT);
    });

    it("reverts with EvaluationRegistryMeasurementNotBound for a version that binds other measurements", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const other = await publish(fx, versionInput("other enclaves", [hre.ethers.keccak256(tdMeasurements("other"))]));
      const id = await requestEvaluation(fx, { modelId: other });
      await expect(submitResult(fx, id, VALUE))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryMeasurementNotBound")
        .withArgs(other, 1n, MEASUREMENT);
    });

    it("reverts with EvaluationRegistryOperatorIneligible when the enclave's operator left TEE mode", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const id = await requestEvaluation(fx);
      await fx.system.staking.connect(fx.nodes[0]!).register(1 << Mode.Vanilla);
      await expect(submitResult(fx, id, VALUE))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryOperatorIneligible")
        .withArgs(fx.nodes[0]!.address);
    });

    it("accepts an enclave of another operator whose measurement the version binds", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const second = Wallet.createRandom();
      await registerByQuote(fx.system, fx.nodes[1]!, second);
      const id = await requestEvaluation(fx);
      const message = await resultMessage(fx, id, VALUE);
      await e.submitEvaluation(id, VALUE, BASELINE, ROW_COUNT, await signResult(fx, message, second));
      expect(await e.credits(fx.nodes[1]!.address)).to.equal(EVALUATION_FEE);
      expect((await e.verifiedEvaluation(1n, 1, fx.datasetId)).operator).to.equal(fx.nodes[1]!.address);
    });
  });

  describe("refund", () => {
    it("credits the fee to the requester after the deadline, from anyone, and emits EvaluationRefunded", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const end = await deadline(120);
      const id = await requestEvaluation(fx, { deadline: end });
      await time.setNextBlockTimestamp(end);
      await expect(e.connect(fx.other).refund(id))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryNotExpired")
        .withArgs(id, end);
      await expect(e.connect(fx.other).refund(id))
        .to.emit(e, "EvaluationRefunded")
        .withArgs(id, fx.requester.address, EVALUATION_FEE);
      expect(Number((await e.requestOf(id)).status)).to.equal(EvaluationStatus.Refunded);
      expect(await e.credits(fx.requester.address)).to.equal(EVALUATION_FEE);
      expect(await e.credits(fx.other.address)).to.equal(0n);
    });

    it("reverts with EvaluationRegistryRequestNotOpen for a request refunded or evaluated, and UnknownRequest for none", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const refunded = await requestEvaluation(fx, { deadline: await deadline(120) });
      const evaluated = await requestEvaluation(fx, { deadline: await deadline(120) });
      await submitResult(fx, evaluated, VALUE);
      await time.increase(200);
      await e.refund(refunded);
      await expect(e.refund(refunded))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryRequestNotOpen")
        .withArgs(refunded, EvaluationStatus.Refunded);
      await expect(e.refund(evaluated))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryRequestNotOpen")
        .withArgs(evaluated, EvaluationStatus.Evaluated);
      await expect(e.refund(9n)).to.be.revertedWithCustomError(e, "EvaluationRegistryUnknownRequest").withArgs(9n);
    });
  });

  describe("withdraw", () => {
    it("sends all of the caller's credits to the recipient and emits CreditsWithdrawn", async () => {
      const fx = await evaluationFixture();
      const { evaluationRegistry: e, token } = fx.system;
      await submitResult(fx, await requestEvaluation(fx), VALUE);
      await submitResult(fx, await requestEvaluation(fx), VALUE);
      const node = fx.nodes[0]!;
      const before = await token.balanceOf(fx.other.address);
      await expect(e.connect(node).withdraw(fx.other.address))
        .to.emit(e, "CreditsWithdrawn")
        .withArgs(node.address, fx.other.address, 2n * EVALUATION_FEE);
      expect(await token.balanceOf(fx.other.address)).to.equal(before + 2n * EVALUATION_FEE);
      expect(await e.credits(node.address)).to.equal(0n);
      expect(await token.balanceOf(await e.getAddress())).to.equal(0n);
    });

    it("reverts with EvaluationRegistryNothingToWithdraw and EvaluationRegistryInvalidRecipient", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      await expect(e.connect(fx.other).withdraw(fx.other.address))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryNothingToWithdraw")
        .withArgs(fx.other.address);
      await expect(e.connect(fx.other).withdraw(ZeroAddress))
        .to.be.revertedWithCustomError(e, "EvaluationRegistryInvalidRecipient")
        .withArgs(ZeroAddress);
    });
  });

  describe("views", () => {
    it("datasetOf and requestOf revert for ids that do not exist; resultOf and latestEvaluationOf are zero", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      await expect(e.datasetOf(0n)).to.be.revertedWithCustomError(e, "EvaluationRegistryUnknownDataset").withArgs(0n);
      await expect(e.datasetOf(2n)).to.be.revertedWithCustomError(e, "EvaluationRegistryUnknownDataset").withArgs(2n);
      await expect(e.requestOf(1n)).to.be.revertedWithCustomError(e, "EvaluationRegistryUnknownRequest").withArgs(1n);
      const result = await e.resultOf(1n);
      expect([result.value, result.evaluatedAt, result.enclave]).to.deep.equal([0n, 0n, ZeroAddress]);
      expect(await e.latestEvaluationOf(1n, 1, fx.datasetId)).to.equal(0n);
    });

    it("verifiedEvaluation is all zero without a result, and invalid once the enclave or its measurement is revoked", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const none = await e.verifiedEvaluation(1n, 1, fx.datasetId);
      expect([none.id, none.valid, none.value, none.enclave]).to.deep.equal([0n, false, 0n, ZeroAddress]);
      await submitResult(fx, await requestEvaluation(fx), VALUE);
      const gov = await governor(fx);
      await fx.system.teeVerifier.connect(gov).revokeMeasurement(MEASUREMENT);
      const afterMeasurement = await e.verifiedEvaluation(1n, 1, fx.datasetId);
      expect([afterMeasurement.valid, afterMeasurement.value]).to.deep.equal([false, VALUE]);

      const fx2 = await evaluationFixture();
      const e2 = fx2.system.evaluationRegistry;
      await submitResult(fx2, await requestEvaluation(fx2), VALUE);
      await fx2.system.teeVerifier.connect(await governor(fx2)).revokeEnclave(fx2.enclave.address);
      expect((await e2.verifiedEvaluation(1n, 1, fx2.datasetId)).valid).to.equal(false);
    });

    it("isBetter: a higher accuracy, a lower error", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      expect(await e.isBetter(Metric.Accuracy, 2n, 1n)).to.equal(true);
      expect(await e.isBetter(Metric.Accuracy, 1n, 1n)).to.equal(false);
      expect(await e.isBetter(Metric.MeanAbsoluteError, 1n, 2n)).to.equal(true);
      expect(await e.isBetter(Metric.RootMeanSquaredError, 2n, 1n)).to.equal(false);
    });

    it("evaluationDigest is the EIP-712 hash of the result under the registry's domain (what ethers signs)", async () => {
      const fx = await evaluationFixture();
      const e = fx.system.evaluationRegistry;
      const dataset = await e.datasetOf(fx.datasetId);
      const message = {
        requestId: 3n,
        modelId: 1n,
        version: 1n,
        datasetId: fx.datasetId,
        rowsSha256: dataset.rowsSha256,
        metric: Metric.MeanAbsoluteError,
        rowCount: 7n,
        value: -5n,
        baselineValue: 1_234n,
      };
      const chainId = (await hre.ethers.provider.getNetwork()).chainId;
      const domain = evaluationDomain(chainId, await e.getAddress());
      expect(await e.evaluationDigest(message)).to.equal(
        TypedDataEncoder.hash(domain, EVALUATION_RESULT_TYPES, message),
      );
      expect(await e.METRIC_SCALE()).to.equal(1_000_000n);
    });
  });
});

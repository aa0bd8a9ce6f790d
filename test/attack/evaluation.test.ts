/**
 * Attacks on verified evaluations: who could profit from each rule of EvaluationRegistry, and whether they can cause
 * it. A fake metric needs an enclave's signature; a signature cannot be moved to another request, registry, chain or
 * value; an operator cannot evaluate with an enclave whose measurement the version does not bind; a registrant cannot
 * misstate its baseline; fees and refunds reach only whom they belong to; hostile tokens cannot open a hole in the books.
 */
import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet } from "ethers";
import {
  EvaluationRegistry__factory,
  FeeOnTransferToken__factory,
  ReentrantToken__factory,
} from "../../typechain-types";
import { signInferenceResult, teeDomain } from "../../src/core/tee";
import { EVALUATION_RESULT_TYPES } from "../../src/core/evaluation";
import { Mode } from "../../src/core/modes";
import { governor, registerByQuote, tdMeasurements, versionInput } from "../fixtures/system";
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
} from "../fixtures/evaluation";

const VALUE = 700_000n;

describe("attack: verified evaluations", () => {
  it("an operator cannot post a metric signed by its own key, or by its node key: only an enclave's signature counts", async () => {
    const fx = await evaluationFixture();
    const e = fx.system.evaluationRegistry;
    const id = await requestEvaluation(fx);
    const message = await resultMessage(fx, id, 1_000_000n);
    for (const signer of [fx.nodes[0]!, fx.owner]) {
      await expect(
        e.connect(signer).submitEvaluation(id, 1_000_000n, BASELINE, ROW_COUNT, await signResult(fx, message, signer)),
      )
        .to.be.revertedWithCustomError(e, "EvaluationRegistryUnknownEnclave")
        .withArgs(signer.address);
    }
  });

  it("a signature for one value does not carry another: the value is part of what the enclave signed", async () => {
    const fx = await evaluationFixture();
    const e = fx.system.evaluationRegistry;
    const id = await requestEvaluation(fx);
    const signature = await signResult(fx, await resultMessage(fx, id, VALUE));
    const tx = e.submitEvaluation(id, 999_999n, BASELINE, ROW_COUNT, signature);
    await expect(tx).to.be.revertedWithCustomError(e, "EvaluationRegistryUnknownEnclave");
  });

  it("a signature for one request cannot be replayed on another request of the same triple", async () => {
    const fx = await evaluationFixture();
    const e = fx.system.evaluationRegistry;
    const first = await requestEvaluation(fx);
    const second = await requestEvaluation(fx);
    const signature = await signResult(fx, await resultMessage(fx, first, VALUE));
    await e.submitEvaluation(first, VALUE, BASELINE, ROW_COUNT, signature);
    await expect(e.submitEvaluation(second, VALUE, BASELINE, ROW_COUNT, signature)).to.be.revertedWithCustomError(
      e,
      "EvaluationRegistryUnknownEnclave",
    );
  });

  it("a signature made for another registry, or another chain, does not verify here", async () => {
    const fx = await evaluationFixture();
    const e = fx.system.evaluationRegistry;
    const id = await requestEvaluation(fx);
    const message = await resultMessage(fx, id, VALUE);
    const elsewhere = await signResult(fx, message, fx.enclave, fx.other.address);
    await expect(e.submitEvaluation(id, VALUE, BASELINE, ROW_COUNT, elsewhere)).to.be.revertedWithCustomError(
      e,
      "EvaluationRegistryUnknownEnclave",
    );
    const otherChain = await fx.enclave.signTypedData(
      { name: "InferenceEvaluationRegistry", version: "1", chainId: 1n, verifyingContract: await e.getAddress() },
      EVALUATION_RESULT_TYPES,
      { ...message },
    );
    await expect(e.submitEvaluation(id, VALUE, BASELINE, ROW_COUNT, otherChain)).to.be.revertedWithCustomError(
      e,
      "EvaluationRegistryUnknownEnclave",
    );
  });

  it("an enclave's signature of an inference result is not an evaluation", async () => {
    const fx = await evaluationFixture();
    const e = fx.system.evaluationRegistry;
    const id = await requestEvaluation(fx);
    const chainId = (await hre.ethers.provider.getNetwork()).chainId;
    const inference = await signInferenceResult(
      fx.enclave,
      teeDomain(chainId, await fx.system.teeVerifier.getAddress()),
      {
        escrow: await fx.system.escrow.getAddress(),
        jobId: id,
        modelId: 1n,
        version: 1n,
        inputHash: hre.ethers.ZeroHash,
        outputHash: hre.ethers.ZeroHash,
        node: fx.nodes[0]!.address,
      },
    );
    await expect(e.submitEvaluation(id, VALUE, BASELINE, ROW_COUNT, inference)).to.be.revertedWithCustomError(
      e,
      "EvaluationRegistryUnknownEnclave",
    );
  });

  it("an operator cannot evaluate with an enclave whose measurement the version does not bind, though it is live", async () => {
    const fx = await evaluationFixture();
    const e = fx.system.evaluationRegistry;
    const rogue = Wallet.createRandom();
    const measurement = await registerByQuote(fx.system, fx.nodes[2]!, rogue, tdMeasurements("rogue image"));
    const id = await requestEvaluation(fx);
    const message = await resultMessage(fx, id, 1_000_000n);
    await expect(
      e
        .connect(fx.nodes[2]!)
        .submitEvaluation(id, 1_000_000n, BASELINE, ROW_COUNT, await signResult(fx, message, rogue)),
    )
      .to.be.revertedWithCustomError(e, "EvaluationRegistryMeasurementNotBound")
      .withArgs(1n, 1n, measurement);
  });

  it("a front-runner copying a submission earns nothing: the operator is credited, the copy reverts", async () => {
    const fx = await evaluationFixture();
    const e = fx.system.evaluationRegistry;
    const id = await requestEvaluation(fx);
    const signature = await signResult(fx, await resultMessage(fx, id, VALUE));
    await e.connect(fx.other).submitEvaluation(id, VALUE, BASELINE, ROW_COUNT, signature);
    await expect(e.connect(fx.nodes[0]!).submitEvaluation(id, VALUE, BASELINE, ROW_COUNT, signature))
      .to.be.revertedWithCustomError(e, "EvaluationRegistryRequestNotOpen")
      .withArgs(id, 2);
    expect(await e.credits(fx.other.address)).to.equal(0n);
    expect(await e.credits(fx.nodes[0]!.address)).to.equal(EVALUATION_FEE);
  });

  it("a registrant that misstates its baseline gets no result ever; the requester is refunded", async () => {
    const fx = await evaluationFixture();
    const e = fx.system.evaluationRegistry;
    await e.connect(fx.owner).registerDataset(datasetInput({ baselineValue: 100_000n, name: "flattering" }));
    const dataset = await e.datasetCount();
    const id = await requestEvaluation(fx, { datasetId: dataset, deadline: await deadline(120) });
    // The enclave computes the true baseline from the rows (600000) and signs it; the registry refuses the pair.
    const message = { ...(await resultMessage(fx, id, VALUE)), baselineValue: BASELINE };
    await expect(e.submitEvaluation(id, VALUE, BASELINE, ROW_COUNT, await signResult(fx, message)))
      .to.be.revertedWithCustomError(e, "EvaluationRegistryBaselineMismatch")
      .withArgs(id, 100_000n, BASELINE);
    await time.increase(121);
    await e.refund(id);
    expect(await e.credits(fx.requester.address)).to.equal(EVALUATION_FEE);
  });

  it("a requester cannot take back a fee once served, nor twice once refunded; no one else can take it", async () => {
    const fx = await evaluationFixture();
    const e = fx.system.evaluationRegistry;
    const served = await requestEvaluation(fx, { deadline: await deadline(120) });
    const unserved = await requestEvaluation(fx, { deadline: await deadline(120) });
    await submitResult(fx, served, VALUE);
    await time.increase(121);
    await expect(e.refund(served)).to.be.revertedWithCustomError(e, "EvaluationRegistryRequestNotOpen");
    await e.connect(fx.other).refund(unserved);
    await expect(e.refund(unserved)).to.be.revertedWithCustomError(e, "EvaluationRegistryRequestNotOpen");
    await expect(e.connect(fx.other).withdraw(fx.other.address)).to.be.revertedWithCustomError(
      e,
      "EvaluationRegistryNothingToWithdraw",
    );
    expect(await e.credits(fx.requester.address)).to.equal(EVALUATION_FEE);
    expect(await e.credits(fx.nodes[0]!.address)).to.equal(EVALUATION_FEE);
  });

  it("a revoked enclave's evaluation stops counting as verified, and a fresh one from a live enclave replaces it", async () => {
    const fx = await evaluationFixture();
    const e = fx.system.evaluationRegistry;
    await submitResult(fx, await requestEvaluation(fx), 1_000_000n);
    await fx.system.teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
    expect((await e.verifiedEvaluation(1n, 1, fx.datasetId)).valid).to.equal(false);
    const honest = Wallet.createRandom();
    await registerByQuote(fx.system, fx.nodes[1]!, honest);
    const id = await requestEvaluation(fx);
    const message = await resultMessage(fx, id, VALUE);
    await e.submitEvaluation(id, VALUE, BASELINE, ROW_COUNT, await signResult(fx, message, honest));
    const v = await e.verifiedEvaluation(1n, 1, fx.datasetId);
    expect([v.valid, v.value, v.enclave]).to.deep.equal([true, VALUE, honest.address]);
  });

  it("the registry's balance always equals open fees plus credits through a mixed history", async () => {
    const fx = await evaluationFixture();
    const { evaluationRegistry: e, token } = fx.system;
    const address = await e.getAddress();
    const fees = [EVALUATION_FEE, 0n, 7n, EVALUATION_FEE * 2n];
    const ids = [];
    for (const fee of fees) ids.push(await requestEvaluation(fx, { fee, deadline: await deadline(300) }));
    await submitResult(fx, ids[0]!, VALUE);
    await submitResult(fx, ids[2]!, VALUE);
    await time.increase(301);
    await e.refund(ids[1]!);
    await e.refund(ids[3]!);
    await e.connect(fx.nodes[0]!).withdraw(fx.nodes[0]!.address);
    const credits = await e.credits(fx.requester.address);
    expect(credits).to.equal(EVALUATION_FEE * 2n);
    expect(await token.balanceOf(address)).to.equal(credits);
    await e.connect(fx.requester).withdraw(fx.requester.address);
    expect(await token.balanceOf(address)).to.equal(0n);
  });

  it("a fee-on-transfer token cannot open a hole: the request reverts with EvaluationRegistryTransferMismatch", async () => {
    const fx = await evaluationFixture();
    const token = await new FeeOnTransferToken__factory(fx.deployer).deploy();
    const { registry, teeVerifier, staking } = fx.system;
    const e = await new EvaluationRegistry__factory(fx.deployer).deploy(token, registry, teeVerifier, staking);
    await e.registerDataset(datasetInput());
    await token.mint(fx.requester.address, 1_000n);
    await token.connect(fx.requester).approve(await e.getAddress(), 1_000n);
    await expect(e.connect(fx.requester).requestEvaluation(1n, 1, 1n, 1_000n, await deadline()))
      .to.be.revertedWithCustomError(e, "EvaluationRegistryTransferMismatch")
      .withArgs(1_000n, 990n);
  });

  it("a re-entering token cannot request twice in one pull nor withdraw twice: the guard refuses the inner call", async () => {
    const fx = await evaluationFixture();
    const token = await new ReentrantToken__factory(fx.deployer).deploy();
    const { registry, teeVerifier, staking } = fx.system;
    const e = await new EvaluationRegistry__factory(fx.deployer).deploy(token, registry, teeVerifier, staking);
    const address = await e.getAddress();
    await e.registerDataset(datasetInput());
    await token.mint(fx.requester.address, 10n * EVALUATION_FEE);
    await token.connect(fx.requester).approve(address, hre.ethers.MaxUint256);
    const end = await deadline(120);
    await token.arm(address, e.interface.encodeFunctionData("requestEvaluation", [1n, 1, 1n, EVALUATION_FEE, end]));
    await e.connect(fx.requester).requestEvaluation(1n, 1, 1n, EVALUATION_FEE, end);
    expect(await token.attempted()).to.equal(true);
    expect(await token.reentrySucceeded()).to.equal(false);
    expect(await token.reentryResult()).to.equal(e.interface.encodeErrorResult("ReentrancyGuardReentrantCall", []));
    expect(await e.requestCount()).to.equal(1n);
    await time.increase(121);
    await e.refund(1n);
    await token.arm(address, e.interface.encodeFunctionData("withdraw", [fx.requester.address]));
    await e.connect(fx.requester).withdraw(fx.requester.address);
    expect(await token.reentrySucceeded()).to.equal(false);
    expect(await token.reentryResult()).to.equal(e.interface.encodeErrorResult("ReentrancyGuardReentrantCall", []));
    expect(await token.balanceOf(address)).to.equal(0n);
    expect(await token.balanceOf(fx.requester.address)).to.equal(10n * EVALUATION_FEE);
  });

  it("a version that serves no enclave cannot be sold an evaluation no one could make", async () => {
    const fx = await evaluationFixture();
    await fx.system.registry
      .connect(fx.owner)
      .createModelAndPublish(1n, { ...versionInput("vanilla"), modes: [versionInput().modes[0]!] });
    const model = await fx.system.registry.modelCount();
    expect(Number(versionInput().modes[0]!.mode)).to.equal(Mode.Vanilla);
    await expect(requestEvaluation(fx, { modelId: model })).to.be.revertedWithCustomError(
      fx.system.evaluationRegistry,
      "EvaluationRegistryTeeNotSupported",
    );
  });
});

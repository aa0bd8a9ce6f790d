/**
 * The gas of verified evaluations (EvaluationRegistry) and of the risk vault's gated callback, measured on a fresh
 * in-process deployment: rows of `npm run bench:gas` and of the committed snapshot (`snapshots/gas.json`).
 */
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, type ContractTransactionResponse } from "ethers";
import { VolatilityRiskVault__factory } from "../../typechain-types";
import { Metric } from "../../src/core/evaluation";
import { requestedJobs } from "../../src/core/job";
import { Mode } from "../../src/core/modes";
import { encodeClassification } from "../../src/inference/onnx";
import { datasetInput, resultMessage, signResult, type EvaluationFixture } from "../../test/fixtures/evaluation";
import { requestParams, systemFixture, teeProof } from "../../test/fixtures/system";
import type { Row } from "./report";

async function gas(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("no receipt");
  return Number(receipt.gasUsed);
}

/** Measures each evaluation operation and the vault's callback (deterministic up to the enclave's signature bytes). */
export async function measureEvaluationGas(): Promise<Row[]> {
  const fx = await systemFixture();
  const { evaluationRegistry: e, token, escrow } = fx.system;
  const address = await e.getAddress();
  await token.connect(fx.requester).approve(address, hre.ethers.MaxUint256);
  const rows: Row[] = [];
  const dataset = datasetInput({
    metric: Metric.MeanAbsoluteError,
    baselineValue: 404_652n,
    name: "sp500-volatility-mlp held-out",
    split: "the last 20% of the trading days, chronologically (2016 to 2020)",
    baseline: "naive: the realised volatility of the last 5 days (the second input)",
  });
  rows.push({
    key: "registerDataset",
    value: await gas(e.connect(fx.other).registerDataset(dataset)),
    unit: "gas",
    note: "a dataset with a 36-byte CID and the bundled volatility model's name, split and baseline texts",
  });
  const ev = { ...fx, datasetId: await e.datasetCount() } as EvaluationFixture;
  const deadline = async () => BigInt(await time.latest()) + 3600n;
  const request = async () => {
    await e.connect(fx.requester).requestEvaluation(1n, 1, ev.datasetId, 10n ** 18n, await deadline());
    return e.requestCount();
  };
  rows.push({
    key: "requestEvaluation",
    value: await gas(e.connect(fx.requester).requestEvaluation(1n, 1, ev.datasetId, 10n ** 18n, await deadline())),
    unit: "gas",
    note: "checks the version serves TEE and the dataset exists, stores the request, pulls a 1-token fee",
  });
  const submit = async (id: bigint, value: bigint) => {
    const m = await resultMessage(ev, id, value);
    return gas(e.submitEvaluation(id, value, m.baselineValue, m.rowCount, await signResult(ev, m)));
  };
  rows.push({
    key: "submitEvaluationCold",
    value: await submit(1n, 330_000n),
    unit: "gas",
    note: "first result: EIP-712 recovery, TeeVerifier/registry/staking views, result and latest stored, operator credited from zero",
  });
  rows.push({
    key: "submitEvaluation",
    value: await submit(await request(), 331_000n),
    unit: "gas",
    note: "a result of the same version and dataset, the operator already holding credits: gas per evaluation",
  });
  const unserved = await request();
  await time.increase(3601);
  rows.push({
    key: "refundEvaluation",
    value: await gas(e.refund(unserved)),
    unit: "gas",
    note: "an unserved request after its deadline",
  });
  rows.push({
    key: "withdrawEvaluationCredits",
    value: await gas(e.connect(fx.nodes[0]!).withdraw(fx.nodes[0]!.address)),
    unit: "gas",
    note: "the operator withdraws its evaluation fees",
  });

  // The vault's gated callback: a TEE forecast settled and acted on (evaluation read and judged, output decoded).
  await submit(await request(), 330_000n);
  const vault = await new VolatilityRiskVault__factory(fx.deployer).deploy(
    await escrow.getAddress(),
    address,
    fx.deployer.address,
    {
      modelId: 1n,
      version: 1,
      datasetId: ev.datasetId,
      evaluationThreshold: 404_652n,
      requireBeatsBaseline: true,
      maxDelay: 3600,
      maxAge: 86_400,
      maxChangeBps: 5_000,
      zkScaleBits: 16,
      minVolatility: 50_000n,
      maxVolatility: 20_000_000n,
      targetVolatility: 1_000_000n,
      maxLeverageBps: 20_000,
    },
  );
  await token.mint(await vault.getAddress(), 100n * 10n ** 18n);
  await vault.setCapital(10n ** 21n);
  const settle = async (percent: number) => {
    const tx = await vault.request(
      await requestParams({ mode: Mode.Tee, callback: await vault.getAddress(), callbackGasLimit: 300_000 }),
    );
    const [requested] = requestedJobs(escrow, await tx.wait());
    const job = requested!.job;
    const output = hexlify(encodeClassification([percent]));
    await escrow.connect(fx.nodes[0]!).claimSlot(job);
    return gas(escrow.connect(fx.nodes[0]!).submit(job, output, await teeProof(fx, job, output)));
  };
  await settle(1.0);
  rows.push({
    key: "settleVaultForecast",
    value: await settle(1.1),
    unit: "gas",
    note: "k = 1 TEE submit whose callback the VolatilityRiskVault gates (evaluation, mode, freshness, breaker) and acts on",
  });
  return rows;
}

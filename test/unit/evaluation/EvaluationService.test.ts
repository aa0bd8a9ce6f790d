/**
 * The TEE node's evaluation service against the in-process chain: it follows requests, fetches and checks the rows,
 * runs the version (the bundled weather classifier, by its ONNX bytes), has the enclave sign, and submits from a hot
 * key of its own; and it refuses what it must (a misstated baseline, a low fee, a version that does not bind its
 * enclave's measurement, rows the model cannot take, rows no store holds).
 */
import { expect } from "chai";
import hre from "hardhat";
import Database from "better-sqlite3";
import { Wallet } from "ethers";
import { cidToString, rawCid } from "../../../src/core/cid";
import { NotFoundError } from "../../../src/core/errors";
import { Metric, signEvaluationResult } from "../../../src/core/evaluation";
import { sha256Hex } from "../../../src/core/hash";
import { silentLogger } from "../../../src/core/log";
import { OnnxModel } from "../../../src/inference/onnx";
import { buildSpamClassifier, buildWeatherClassifier } from "../../../src/models";
import {
  bundledEvaluationRows,
  encodeRows,
  evaluateRows,
  scoreBaseline,
  type EvaluationRows,
} from "../../../src/models/evaluation";
import { EvaluationService, type EvaluationServiceOptions } from "../../../src/node/evaluations";
import { tdMeasurements, TOKEN, versionInput } from "../../fixtures/system";
import { deadline, evaluationFixture, type EvaluationFixture } from "../../fixtures/evaluation";

const weather = buildWeatherClassifier();

/** A content store of the files given, by raw-block CID. */
function memoryContent(files: Uint8Array[]) {
  const byCid = new Map(files.map((bytes) => [cidToString(rawCid(bytes)), bytes]));
  return {
    cat: (cid: string) => {
      const bytes = byCid.get(cid);
      return bytes === undefined ? Promise.reject(new NotFoundError(`no ${cid}`)) : Promise.resolve(bytes);
    },
  };
}

interface ServiceFixture extends EvaluationFixture {
  service: EvaluationService;
  submitter: { address: string };
  /** The weather rows' dataset. */
  weatherDataset: bigint;
  register(rows: EvaluationRows, baselineValue?: bigint): Promise<bigint>;
  /** Another service of the same enclave, with its own database. */
  another(): EvaluationService;
}

async function serviceFixture(options: Partial<EvaluationServiceOptions> = {}): Promise<ServiceFixture> {
  const fx = await evaluationFixture();
  const { evaluationRegistry: e, registry, teeVerifier, staking } = fx.system;
  const submitter = Wallet.createRandom().connect(hre.ethers.provider);
  await fx.deployer.sendTransaction({ to: submitter.address, value: 10n ** 18n });
  const contents: Uint8Array[] = [];
  const register = async (rows: EvaluationRows, baselineValue = scoreBaseline(rows).value) => {
    const bytes = encodeRows(rows);
    contents.push(bytes);
    await e.connect(fx.other).registerDataset({
      rowsCid: rawCid(bytes),
      rowsSha256: sha256Hex(bytes),
      rowCount: rows.x.length,
      metric: rows.metric === "accuracy" ? Metric.Accuracy : Metric.MeanAbsoluteError,
      baselineValue,
      name: rows.name,
      split: rows.split,
      baseline: rows.baseline.description,
    });
    return e.datasetCount();
  };
  const weatherDataset = await register(bundledEvaluationRows(weather));
  const chainId = (await hre.ethers.provider.getNetwork()).chainId;
  const make = () =>
    new EvaluationService({
      provider: hre.ethers.provider,
      contracts: { evaluations: e.connect(submitter), registry, teeVerifier, staking },
      enclave: {
        address: fx.enclave.address,
        signEvaluation: (domain, message) => signEvaluationResult(fx.enclave, domain, message),
      },
      models: { load: () => OnnxModel.load(weather.onnx) },
      content: { cat: (cid) => memoryContent(contents).cat(cid) },
      db: new Database(":memory:"),
      chainId,
      startBlock: Number(fx.system.record.startBlock),
      log: silentLogger,
      confirmations: 0,
      ...options,
    });
  return { ...fx, service: make(), submitter, weatherDataset, register, another: make };
}

describe("EvaluationService", () => {
  it("serves a request: the weather classifier on its held-out rows, signed by the enclave, sent by the hot key", async () => {
    const fx = await serviceFixture();
    const e = fx.system.evaluationRegistry;
    await e.connect(fx.requester).requestEvaluation(1n, 1, fx.weatherDataset, 2n * TOKEN, await deadline());
    const [row] = await fx.service.syncOnce();
    const expected = await evaluateRows(bundledEvaluationRows(weather), await OnnxModel.load(weather.onnx));
    expect(row!.state, row!.reason ?? "").to.equal("evaluated");
    expect(row!.value).to.equal(expected.value);
    const tx = await hre.ethers.provider.getTransaction(row!.tx!);
    expect(tx!.from).to.equal(fx.submitter.address);
    const v = await e.verifiedEvaluation(1n, 1, fx.weatherDataset);
    expect([v.valid, v.value, v.baselineValue, v.rowCount]).to.deep.equal([true, 941_780n, 945_205n, 292n]);
    expect(await e.credits(fx.nodes[0]!.address)).to.equal(2n * TOKEN);
    expect(await e.credits(fx.submitter.address)).to.equal(0n);
    // A second pass has nothing left to do.
    expect((await fx.service.syncOnce()).map((r) => r.state)).to.deep.equal(["evaluated"]);
  });

  it("skips a dataset whose declared baseline its rows contradict, and never submits for it", async () => {
    const fx = await serviceFixture();
    const e = fx.system.evaluationRegistry;
    const flattering = await fx.register({ ...bundledEvaluationRows(weather), name: "flattering" }, 500_000n);
    await e.connect(fx.requester).requestEvaluation(1n, 1, flattering, TOKEN, await deadline());
    const [row] = await fx.service.syncOnce();
    expect(row!.state).to.equal("skipped");
    expect(row!.reason).to.match(/the baseline scores 945205 on these rows, the dataset declares 500000/);
    expect(Number((await e.requestOf(row!.id)).status)).to.equal(1);
  });

  it("skips a request paying less than its minimum fee, and one whose deadline is too close", async () => {
    const fx = await serviceFixture({ minFee: TOKEN, deadlineMarginSeconds: 3_000 });
    const e = fx.system.evaluationRegistry;
    await e.connect(fx.requester).requestEvaluation(1n, 1, fx.weatherDataset, TOKEN / 2n, await deadline());
    await e.connect(fx.requester).requestEvaluation(1n, 1, fx.weatherDataset, TOKEN, await deadline(120));
    const rows = await fx.service.syncOnce();
    expect(rows.map((r) => r.state)).to.deep.equal(["skipped", "skipped"]);
    expect(rows[0]!.reason).to.match(/below this node's minimum/);
    expect(rows[1]!.reason).to.match(/deadline .* is too close/);
  });

  it("waits on a version that does not bind its enclave's measurement: the request stays queued with the reason", async () => {
    const fx = await serviceFixture();
    await fx.system.registry
      .connect(fx.owner)
      .createModelAndPublish(1n, versionInput("other enclaves", [hre.ethers.keccak256(tdMeasurements("other"))]));
    const model = await fx.system.registry.modelCount();
    await fx.system.evaluationRegistry
      .connect(fx.requester)
      .requestEvaluation(model, 1, fx.weatherDataset, TOKEN, await deadline());
    const [row] = await fx.service.syncOnce();
    expect(row!.state).to.equal("queued");
    expect(row!.reason).to.match(/which model \d+@1 does not bind/);
  });

  it("closes a request someone else served, and skips rows the model cannot take", async () => {
    const fx = await serviceFixture();
    const e = fx.system.evaluationRegistry;
    const spam = await fx.register(bundledEvaluationRows(buildSpamClassifier()));
    await e.connect(fx.requester).requestEvaluation(1n, 1, spam, TOKEN, await deadline());
    await e.connect(fx.requester).requestEvaluation(1n, 1, fx.weatherDataset, TOKEN, await deadline());
    // Another service (its own database) serves the weather request first.
    await fx.another().syncOnce();
    const rows = await fx.service.syncOnce();
    expect(rows.map((r) => r.state)).to.deep.equal(["skipped", "closed"]);
    expect(rows[0]!.reason).to.match(/does not take dataset \d+'s rows/);
  });

  it("retries rows no store holds, then gives up after maxAttempts", async () => {
    const fx = await serviceFixture({ maxAttempts: 2 });
    const e = fx.system.evaluationRegistry;
    const bytes = new TextEncoder().encode("rows nobody stored");
    await e.connect(fx.other).registerDataset({
      rowsCid: rawCid(bytes),
      rowsSha256: sha256Hex(bytes),
      rowCount: 1,
      metric: Metric.Accuracy,
      baselineValue: 0n,
      name: "missing",
      split: "",
      baseline: "",
    });
    await e.connect(fx.requester).requestEvaluation(1n, 1, await e.datasetCount(), TOKEN, await deadline());
    expect((await fx.service.syncOnce())[0]!.state).to.equal("queued");
    const [row] = await fx.service.syncOnce();
    expect(row!.state).to.equal("failed");
    expect(row!.reason).to.match(/is not available from the content store/);
    expect(row!.attempts).to.equal(2);
  });
});

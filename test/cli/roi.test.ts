import { expect } from "chai";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Mode } from "../../src/core/modes";
import { toJobId, toModelId } from "../../src/core/ids";
import { requestInference } from "../../src/sdk/requestInference";
import { waitForResult } from "../../src/sdk/waitForResult";
import { findAll, parseXml } from "../economics/xml";
import { createOperator, DaemonProcess, startDevnet, TOKEN, vin, type Devnet, type Operator } from "../node/harness";

/** The ROI report as `vin roi --json` prints it (the fields these tests read). */
interface RoiJson {
  observed?: {
    operatorAddress: string;
    operators: number;
    feePerJob: number;
    used: string[];
    operator: { stake: number; claimed: number; served: number; earned: number; slashes: number };
  };
  result: {
    params: { stake: { amount: number }; feePerJob: number; competition: { operators: number } };
    monthly: { month: number; mean: number; p5: number; p95: number }[];
    cumulative: { p50: number }[];
    horizon: { mean: number; lossProbability: number };
    payback: { month: number | null; probability: number };
    zeroDemand: { meanMonthly: number[]; meanTotal: number };
  };
  files: string[];
}

/**
 * No demand, one operator, constant price: each month loses exactly depreciation (3,600 / 36 = 100) + power (40) +
 * hosting (20) + the stake's opportunity cost (1,200 tokens × 1 USD × 5 % / 12 = 5) = 165.
 */
const ZERO_DEMAND = {
  horizonMonths: 36,
  hardware: { cost: 3_600, resaleValue: 0, lifeMonths: 36, method: "straight-line" },
  powerPerMonth: 40,
  hostingPerMonth: 20,
  uptime: 1,
  stake: { amount: 1_200, annualRate: 0.05 },
  slashing: { probabilityPerJob: 0, amount: 0 },
  demand: { kind: "constant", jobsPerMonth: 0 },
  competition: { operators: 1, split: "equal" },
  feePerJob: 0.5,
  tokenPrice: { kind: "constant", price: 1 },
  runs: 50,
};
const ZERO_DEMAND_FLAGS = [
  "--hardware-cost",
  "3600",
  "--resale",
  "0",
  "--life-years",
  "3",
  "--power",
  "40",
  "--hosting",
  "20",
  "--uptime",
  "1",
  "--stake",
  "1200",
  "--opportunity-rate",
  "0.05",
  "--slash-probability",
  "0",
  "--slash-amount",
  "0",
  "--jobs-per-month",
  "0",
  "--operators",
  "1",
  "--fee",
  "0.5",
  "--token-price",
  "1",
  "--months",
  "36",
  "--runs",
  "50",
];

describe("vin roi", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "vin-roi-"));
  const scenario = (name: string, value: unknown) => {
    const file = path.join(dir, name);
    writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value));
    return file;
  };

  describe("without a chain", () => {
    it("prints the exact monthly loss when demand never comes (165 a month, 5,940 over 36 months)", async () => {
      const result = await vin(["roi", ...ZERO_DEMAND_FLAGS]);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.match(/^Operator ROI — 36 months, 50 Monte Carlo runs, seed 1 \(money in USD\)$/m);
      expect(result.stdout).to.match(/^if demand never comes: month 1 cash flow\s+-165$/m);
      expect(result.stdout).to.match(/^if demand never comes: result at month 36\s+-5,940$/m);
      expect(result.stdout).to.match(/^payback month \(median over runs\)\s+never$/m);
      // month, operators, jobs, revenue, depreciation, mean, p5, p50, p95, cumulative p50
      expect(result.stdout).to.match(/^\s+1\s+1\s+0\s+0\s+100\s+-165\s+-165\s+-165\s+-165\s+-165$/m);
      expect(result.stdout).to.match(/^\s+36\s+1\s+0\s+0\s+100\s+-165\s+-165\s+-165\s+-165\s+-5,940$/m);
    });

    it("reads the same scenario from a file, and --json gives every month's loss", async () => {
      const fromFile = await vin(["roi", "--scenario", scenario("zero.json", ZERO_DEMAND), "--json"]);
      expect(fromFile.code, fromFile.stderr).to.equal(0);
      const report = JSON.parse(fromFile.stdout) as RoiJson;
      expect(report.result.monthly.map((m) => [m.mean, m.p5, m.p95])).to.deep.equal(
        Array.from({ length: 36 }, () => [-165, -165, -165]),
      );
      expect(report.result.cumulative.at(-1)!.p50).to.equal(-5_940);
      expect(report.result.horizon).to.include({ mean: -5_940, lossProbability: 1 });
      expect(report.result.payback).to.deep.equal({ month: null, probability: 0 });
      const fromFlags = JSON.parse((await vin(["roi", ...ZERO_DEMAND_FLAGS, "--json"])).stdout) as RoiJson;
      const { params: _flagParams, ...byFlags } = fromFlags.result;
      const { params: _fileParams, ...byFile } = report.result;
      expect(byFlags).to.deep.equal(byFile);
    });

    it("lets a flag override the scenario file", async () => {
      const result = await vin([
        "roi",
        "--scenario",
        scenario("zero-power.json", ZERO_DEMAND),
        "--power",
        "140",
        "--json",
      ]);
      expect(result.code, result.stderr).to.equal(0);
      expect((JSON.parse(result.stdout) as RoiJson).result.monthly[0]!.mean).to.equal(-265);
    });

    it("exits 2 naming the flag and what it allows for a bad flag value", async () => {
      const method = await vin(["roi", "--depreciation", "linear"]);
      expect(method.code).to.equal(2);
      expect(method.stderr).to.equal(`error: --depreciation "linear" is not allowed: use straight or declining\n`);
      const uptime = await vin(["roi", "--uptime", "2"]);
      expect(uptime.code).to.equal(2);
      expect(uptime.stderr).to.equal("error: --uptime: ROI parameter uptime is 2: it must be a number from 0 to 1\n");
      const unknown = await vin(["roi", "--hardwarecost", "10"]);
      expect(unknown.code).to.equal(2);
      expect(unknown.stderr).to.contain("unknown option '--hardwarecost'");
    });

    it("exits 2 naming the scenario file, the field and what is allowed for a bad scenario", async () => {
      const resale = scenario("resale.json", {
        ...ZERO_DEMAND,
        hardware: { ...ZERO_DEMAND.hardware, resaleValue: 5_000 },
      });
      const bad = await vin(["roi", "--scenario", resale]);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.equal(
        `error: scenario file ${resale}: ROI parameter hardware.resaleValue is 5000: it must be a number from 0 to 3600\n`,
      );
      const typo = scenario("typo.json", { ...ZERO_DEMAND, hardware: { ...ZERO_DEMAND.hardware, lifeMonth: 12 } });
      const unknown = await vin(["roi", "--scenario", typo]);
      expect(unknown.code).to.equal(2);
      expect(unknown.stderr).to.equal(
        `error: scenario file ${typo}: unknown field "hardware.lifeMonth": the fields of hardware are cost, resaleValue, lifeMonths, method, annualRate\n`,
      );
      const broken = scenario("broken.json", "{ horizonMonths: 3 ");
      const notJson = await vin(["roi", "--scenario", broken]);
      expect(notJson.code).to.equal(2);
      expect(notJson.stderr).to.match(new RegExp(`^error: scenario file ${broken} is not JSON: `));
    });

    it("writes the three plots as well-formed SVG and as PNG, and the report as JSON with --out", async () => {
      const out = path.join(dir, "plots");
      const result = await vin([
        "roi",
        "--runs",
        "100",
        "--operators-growth",
        "0.5",
        "--depreciation",
        "declining",
        "--out",
        out,
      ]);
      expect(result.code, result.stderr).to.equal(0);
      const plots = ["monthly", "cumulative", "operators"];
      expect(readdirSync(out).sort()).to.deep.equal([
        "cumulative.png",
        "cumulative.svg",
        "monthly.png",
        "monthly.svg",
        "operators.png",
        "operators.svg",
        "report.json",
      ]);
      expect(result.stdout).to.contain(
        `wrote ${[...plots.flatMap((p) => [`${p}.svg`, `${p}.png`]), "report.json"].map((f) => path.join(out, f)).join(", ")}`,
      );
      for (const name of plots) {
        const svg = parseXml(readFileSync(path.join(out, `${name}.svg`), "utf8"));
        expect(svg.name).to.equal("svg");
        expect(svg.attributes.xmlns).to.equal("http://www.w3.org/2000/svg");
        expect(findAll(svg, name === "operators" ? "rect" : "polyline").length, name).to.be.at.least(2);
        // A PNG (signature, then IHDR) twice the SVG's size.
        const png = readFileSync(path.join(out, `${name}.png`));
        expect(png.subarray(0, 16).toString("hex"), name).to.equal("89504e470d0a1a0a0000000d49484452");
        expect([png.readUInt32BE(16), png.readUInt32BE(20)], name).to.deep.equal([
          2 * Number(svg.attributes.width),
          2 * Number(svg.attributes.height),
        ]);
      }
      const report = JSON.parse(readFileSync(path.join(out, "report.json"), "utf8")) as RoiJson & { currency: string };
      expect(report.currency).to.equal("USD");
      expect(report.result.monthly).to.have.length(36);
    });
  });

  describe("--operator (against a real hardhat node)", () => {
    let net: Devnet;
    let operator: Operator;
    let config: string;
    let daemon: DaemonProcess | undefined;

    before(async () => {
      net = await startDevnet();
      operator = await createOperator(net, "earner", { modes: "vanilla" });
      await createOperator(net, "idle", { modes: "vanilla" });
      config = path.join(net.workDir, "reader.json");
      const init = await vin([
        "--config",
        config,
        "init",
        "--deployment",
        net.deploymentFile,
        "--rpc-url",
        net.chain.url,
        "--data-dir",
        path.join(net.workDir, "reader"),
        "--scrypt-n",
        "1024",
      ]);
      expect(init.code, init.stderr).to.equal(0);
      daemon = new DaemonProcess(operator);
      await daemon.waitForLog(/operator node started/);
      const { job } = await requestInference({
        contracts: net.contracts,
        signer: net.requester,
        modelId: toModelId(net.modelId),
        mode: Mode.Vanilla,
        input: net.model.example,
        feePerNode: TOKEN / 2n,
        collateral: 10n * TOKEN,
      });
      const result = await waitForResult({ escrow: net.contracts.escrow, jobId: toJobId(job.id), pollIntervalMs: 200 });
      expect(result.status).to.equal("settled");
      await daemon.stop();
      daemon = undefined;
    });

    after(async () => {
      await daemon?.stop();
      await net?.chain.stop();
    });

    it("reads the operator's real earnings and the network's fee and operators from the chain, and simulates with them", async () => {
      const result = await vin(["--config", config, "roi", "--operator", operator.address, "--runs", "20", "--json"]);
      expect(result.code, result.stderr).to.equal(0);
      const { observed, result: roi } = JSON.parse(result.stdout) as RoiJson;
      expect(observed!.operator).to.include({ claimed: 1, served: 1, earned: 0.5, slashes: 0 });
      expect(observed!.operator.stake).to.be.at.least(1_000);
      expect(observed!.feePerJob).to.equal(0.5);
      expect(observed!.operators).to.equal(2);
      expect(observed!.used).to.include.members(["feePerJob", "competition.operators", "stake.amount"]);
      expect(roi.params.feePerJob).to.equal(0.5);
      expect(roi.params.competition.operators).to.equal(2);
      expect(roi.params.stake.amount).to.equal(observed!.operator.stake);
    });

    it("prints what it observed before the simulation, and a flag still wins over the chain", async () => {
      const result = await vin([
        "--config",
        config,
        "roi",
        "--operator",
        operator.address,
        "--operators",
        "7",
        "--runs",
        "20",
      ]);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.match(
        new RegExp(
          `^operator ${operator.address}: stake [\\d,.]+ tokens, 1 slots claimed, 1 jobs served, earned 0\\.5 tokens, 0 slashes \\(0 tokens\\)$`,
          "m",
        ),
      );
      expect(result.stdout).to.match(/^operators\s+7, equal split$/m);
    });

    it("exits 8 when the chain never saw the operator", async () => {
      const stranger = "0x000000000000000000000000000000000000dEaD";
      const result = await vin(["--config", config, "roi", "--operator", stranger]);
      expect(result.code).to.equal(8);
      expect(result.stderr).to.match(new RegExp(`^error: operator ${stranger} never staked`));
    });
  });
});

import { expect } from "chai";
import { Mode } from "../../src/core/modes";
import { computeConcentration, concentrationHistory, type NetworkInputs } from "../../src/economics/concentration";
import { reduceNetworkEvents, NetworkReducer, type DecodedLog } from "../../src/economics/events";
import {
  formatTokens,
  renderConcentration,
  renderHistory,
  renderRoi,
  roiCharts,
  table,
  toJson,
} from "../../src/economics/report";
import { simulateRoi, type RoiParams } from "../../src/economics/roi";
import { findAll, parseXml } from "./xml";

const TOKEN = 10n ** 18n;

const TEN_EQUAL: NetworkInputs = {
  operators: Array.from({ length: 10 }, (_, i) => ({
    address: `0x${(i + 1).toString(16).padStart(40, "0")}`,
    stake: 250n * TOKEN,
    modes: [Mode.Vanilla],
    jobsServed: 4,
  })),
  jobs: [
    { id: 1n, redundancy: 3 },
    { id: 2n, redundancy: 1 },
  ],
  models: [
    { id: 1n, operators: ["0x0000000000000000000000000000000000000001", "0x0000000000000000000000000000000000000002"] },
  ],
};

const ROI: RoiParams = {
  horizonMonths: 12,
  hardware: { cost: 1200, resaleValue: 0, lifeMonths: 12, method: "straight-line" },
  powerPerMonth: 30,
  hostingPerMonth: 20,
  uptime: 1,
  stake: { amount: 1000, annualRate: 0.06 },
  slashing: { probabilityPerJob: 0, amount: 0 },
  demand: { kind: "constant", jobsPerMonth: 200 },
  competition: { operators: 1, split: "equal" },
  feePerJob: 0.5,
  tokenPrice: { kind: "constant", price: 2 },
  runs: 10,
  operatorCurve: [1, 2, 4],
};

describe("economics: reports", () => {
  describe("formatTokens", () => {
    it("formats token wei exactly, truncating to the places asked for", () => {
      expect(formatTokens(1_234_567_890_000_000_000_000n)).to.equal("1,234.56");
      expect(formatTokens(-1_500_000_000_000_000_000n)).to.equal("-1.5");
      expect(formatTokens(10n ** 40n)).to.equal("10,000,000,000,000,000,000,000");
      expect(formatTokens(1n)).to.equal("0");
      expect(formatTokens(1_234_567n, 6, 4)).to.equal("1.2345");
    });
  });

  describe("toJson", () => {
    it("turns bigints into decimal strings, drops undefined and keeps null, so JSON.stringify round-trips", () => {
      expect(toJson({ a: 10n ** 30n, b: undefined, c: null, d: [1n, 2], e: NaN })).to.deep.equal({
        a: "1000000000000000000000000000000",
        c: null,
        d: ["1", 2],
        e: null,
      });
      const json = toJson(computeConcentration(TEN_EQUAL));
      expect(JSON.parse(JSON.stringify(json))).to.deep.equal(json);
      expect(json).to.deep.include({
        nakamoto: { thresholdBps: 5000, byStake: 6, byJobs: 6 },
        hhi: { byStake: 1000, byJobs: 1000 },
      });
    });
  });

  describe("renderConcentration", () => {
    it("prints the figures as text tables", () => {
      const text = renderConcentration(computeConcentration(TEN_EQUAL), { symbol: "VIN" });
      expect(text).to.match(/Operators: 10 +Total active stake: 2,500 VIN +Jobs requested: 2 \(redundancy > 1: 1\)/);
      expect(text).to.match(/^vanilla +10$/m);
      expect(text).to.match(/^stake +6 +1,000$/m);
      expect(text).to.match(/^jobs served +6 +1,000$/m);
      expect(text).to.match(/more than 50 %/);
      expect(text).to.match(/^ *1 +250 +10 %$/m); // the top operator holds 250 of 2,500
      expect(text).to.match(/^1 +1$/m); // one model servable by at least 1 operator
      expect(text).to.match(/^3 +0$/m);
    });

    it("shows dashes, not zeros, for figures of an empty network", () => {
      const text = renderConcentration(computeConcentration({ operators: [], jobs: [], models: [] }));
      expect(text).to.match(/^stake +– +–$/m);
      expect(text).to.include("no operator");
    });
  });

  describe("renderHistory", () => {
    it("prints one row per window", () => {
      const logs: DecodedLog[] = [
        {
          name: "Staked",
          args: { operator: "0x00000000000000000000000000000000000000aa", amount: 3n * TOKEN },
          blockNumber: 1,
        },
        {
          name: "Staked",
          args: { operator: "0x00000000000000000000000000000000000000bb", amount: 1n * TOKEN },
          blockNumber: 12,
        },
      ];
      const text = renderHistory(
        concentrationHistory(logs, new NetworkReducer(), { window: 10, fromBlock: 0, toBlock: 19 }),
      );
      expect(text.split("\n")[0]).to.match(/^blocks +operators +stake \(tokens\) +Nakamoto stake/);
      expect(text).to.match(/^ *0–9 +1 +3 +1 +– +10,000 +–/m);
      expect(text).to.match(/^ *10–19 +2 +4 +1 +– +6,250 +–/m); // 75 %² + 25 %² = 5,625 + 625
      expect(renderHistory([])).to.include("no history");
      expect(reduceNetworkEvents(logs).inputs().operators).to.have.length(2);
    });
  });

  describe("renderRoi", () => {
    it("prints the assumptions, payback, loss probability, zero-demand case, monthly table and operators curve", () => {
      const text = renderRoi(simulateRoi(ROI));
      expect(text).to.match(/^payback month \(median over runs\) +9$/m);
      expect(text).to.match(/^probability of a loss at month 12 +0 %$/m);
      expect(text).to.match(/^if demand never comes: month 1 cash flow +-160$/m);
      expect(text).to.match(/^if demand never comes: probability of a loss +100 %$/m);
      expect(text).to.match(/^hardware +1,200 USD, straight-line over 12 months to 0$/m);
      const monthRows = text.split("\n").filter((l) => /^ +\d+ +1 +200 +200 +100 +40 /.test(l));
      expect(monthRows).to.have.length(12);
      expect(text).to.match(/^ +2 +-60 +-720 +100 % +never$/m); // two operators: 100 - 160 a month
    });

    it("shows the first year and then every sixth month of a long horizon", () => {
      const text = renderRoi(simulateRoi({ ...ROI, horizonMonths: 40, runs: 2 }));
      const months = text
        .split("Monthly cash flow")[1]!
        .split("\n\n")[0]!
        .split("\n")
        .slice(3)
        .map((l) => Number(l.trim().split(/ +/)[0]));
      expect(months).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18, 24, 30, 36, 40]);
    });
  });

  describe("roiCharts", () => {
    it("draws the monthly and cumulative cash flow with percentile bands, and the result by number of operators", () => {
      const charts = roiCharts(simulateRoi(ROI));
      const cumulative = parseXml(charts.cumulative);
      expect(cumulative.children[0]!.text).to.equal("Cumulative cash flow");
      expect(findAll(cumulative, "polyline")).to.have.length(2);
      expect(findAll(cumulative, "polygon")).to.have.length(2);
      expect(findAll(cumulative, "title").map((t) => t.text)).to.include.members([
        "median",
        "if demand never comes",
        "5th–95th percentile",
        "25th–75th percentile",
      ]);
      const operators = parseXml(charts.operators);
      expect(findAll(operators, "title").map((t) => t.text)).to.include.members(["1: 480", "2: -720", "4: -1.32k"]);
      expect(parseXml(charts.monthly).name).to.equal("svg");
    });
  });

  describe("table", () => {
    it("pads columns and right-aligns numbers", () => {
      expect(
        table(
          ["name", "n"],
          [
            ["a", "1"],
            ["bbb", "1,000"],
          ],
        ),
      ).to.equal(["name      n", "----  -----", "a         1", "bbb   1,000"].join("\n"));
    });
  });
});

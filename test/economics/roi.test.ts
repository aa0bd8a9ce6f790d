import { expect } from "chai";
import { InputError } from "../../src/core/errors";
import { depreciationSchedule, simulateRoi, type RoiParams } from "../../src/economics/roi";

const EPS = 1e-9;

/** One operator, constant demand and price, no slashing, no variance: every figure can be computed by hand. */
function handCase(overrides: Partial<RoiParams> = {}): RoiParams {
  return {
    horizonMonths: 12,
    hardware: { cost: 1200, resaleValue: 0, lifeMonths: 12, method: "straight-line" }, // 100 a month
    powerPerMonth: 30,
    hostingPerMonth: 20,
    uptime: 1,
    stake: { amount: 1000, annualRate: 0.06 }, // 1000 tokens * 2 USD * 6 % / 12 = 10 a month
    slashing: { probabilityPerJob: 0, amount: 0 },
    demand: { kind: "constant", jobsPerMonth: 200 },
    competition: { operators: 1, split: "equal" },
    feePerJob: 0.5, // 200 jobs * 0.5 token * 2 USD = 200 a month
    tokenPrice: { kind: "constant", price: 2 },
    runs: 20,
    seed: 42,
    operatorCurve: [1, 2, 4],
    ...overrides,
  };
}

describe("economics: ROI simulator", () => {
  describe("depreciationSchedule", () => {
    it("straight-line writes off (cost - resale) / life each month of the life, then nothing", () => {
      expect(
        depreciationSchedule({ cost: 1000, resaleValue: 100, lifeMonths: 3, method: "straight-line" }, 5),
      ).to.deep.equal([300, 300, 300, 0, 0]);
    });

    it("declining balance writes off a share of the book value, and the rest down to resale in the last month", () => {
      // 600 % a year = 50 % of the book value a month: 1000 -> 500 -> 250 -> 125, then 125 - 100 in month 4.
      expect(
        depreciationSchedule(
          { cost: 1000, resaleValue: 100, lifeMonths: 4, method: "declining-balance", annualRate: 6 },
          5,
        ),
      ).to.deep.equal([500, 250, 125, 25, 0]);
    });

    it("declining balance never goes below the resale value", () => {
      // 1000 -> 500 (500); 50 % of 500 = 250 would pass 300: only 200; nothing after.
      expect(
        depreciationSchedule(
          { cost: 1000, resaleValue: 300, lifeMonths: 4, method: "declining-balance", annualRate: 6 },
          4,
        ),
      ).to.deep.equal([500, 200, 0, 0]);
    });

    it("declining balance defaults to double declining: 24 / life a year", () => {
      // Life 24 months: 100 % a year, 1/12 of the book value a month.
      const schedule = depreciationSchedule(
        { cost: 1200, resaleValue: 0, lifeMonths: 24, method: "declining-balance" },
        24,
      );
      expect(schedule[0]).to.be.closeTo(100, EPS);
      expect(schedule[1]).to.be.closeTo(1100 / 12, EPS);
      expect(schedule[2]).to.be.closeTo((1100 - 1100 / 12) / 12, EPS);
      expect(schedule.reduce((a, b) => a + b, 0)).to.be.closeTo(1200, 1e-6); // the last month writes the rest off
    });
  });

  describe("one operator, constant demand and price, no slashing, no variance", () => {
    it("gives the hand-computed cash flow every month: 200 - 30 - 20 - 10 - 100 = 40", () => {
      const r = simulateRoi(handCase());
      for (const m of r.monthly) {
        for (const v of [m.mean, m.p5, m.p25, m.p50, m.p75, m.p95]) expect(v).to.be.closeTo(40, EPS);
      }
      expect(r.cumulative.map((c) => c.p50)).to.satisfy((values: number[]) =>
        values.every((v, i) => Math.abs(v - 40 * (i + 1)) < EPS),
      );
      expect(r.meanRevenue.every((v) => Math.abs(v - 200) < EPS)).to.be.true;
      expect(r.meanJobs.every((v) => v === 200)).to.be.true;
      expect(r.horizon.mean).to.be.closeTo(480, EPS);
      expect(r.horizon.lossProbability).to.equal(0);
    });

    it("pays back in month 9: cash before depreciation is 140 a month and 9 * 140 = 1260 is the first to reach 1200", () => {
      const r = simulateRoi(handCase());
      expect(r.payback).to.deep.equal({ month: 9, probability: 1 });
    });

    it("never pays back when the hardware costs more than the horizon earns", () => {
      const r = simulateRoi(
        handCase({ hardware: { cost: 1800, resaleValue: 0, lifeMonths: 12, method: "straight-line" } }),
      ); // 12 * 140 = 1680 < 1800
      expect(r.payback).to.deep.equal({ month: null, probability: 0 });
      expect(r.horizon.mean).to.be.closeTo(1680 - 1800, EPS);
      expect(r.horizon.lossProbability).to.equal(1);
    });
  });

  describe("zero demand", () => {
    const params = handCase({
      demand: { kind: "constant", jobsPerMonth: 0 },
      hardware: { cost: 1000, resaleValue: 100, lifeMonths: 4, method: "declining-balance", annualRate: 6 },
      horizonMonths: 6,
    });
    const depreciation = [500, 250, 125, 25, 0, 0];

    it("loses depreciation + power + hosting + opportunity cost every month, never pays back, and loses with probability 1", () => {
      const r = simulateRoi(params);
      r.monthly.forEach((m, i) => expect(m.mean).to.be.closeTo(-(depreciation[i]! + 30 + 20 + 10), EPS));
      expect(r.payback).to.deep.equal({ month: null, probability: 0 });
      expect(r.horizon.lossProbability).to.equal(1);
      expect(r.horizon.mean).to.be.closeTo(-(900 + 6 * 60), EPS);
    });

    it("is reported beside every simulation, whatever the demand", () => {
      const r = simulateRoi({ ...params, demand: { kind: "constant", jobsPerMonth: 1_000_000 } });
      expect(r.zeroDemand.meanMonthly.map((v, i) => v + depreciation[i]! + 60).every((v) => Math.abs(v) < EPS)).to.be
        .true;
      expect(r.zeroDemand.paybackMonth).to.equal(null);
      expect(r.zeroDemand.lossProbability).to.equal(1);
      expect(r.zeroDemand.meanTotal).to.be.closeTo(-1260, EPS);
      expect(r.payback.month).to.equal(1); // with a million jobs a month it pays back at once
    });
  });

  describe("competition", () => {
    it("an equal split among n operators divides revenue by n", () => {
      const one = simulateRoi(handCase());
      const four = simulateRoi(handCase({ competition: { operators: 4, split: "equal" } }));
      four.meanRevenue.forEach((v, i) => expect(v).to.be.closeTo(one.meanRevenue[i]! / 4, EPS));
      four.monthly.forEach((m) => expect(m.mean).to.be.closeTo(200 / 4 - 160, EPS));
    });

    it("operators joining take their share month by month: 1 + 0.5 a month gives 1, 1, 2, 2, 3, ...", () => {
      const r = simulateRoi(
        handCase({ competition: { operators: 1, joinsPerMonth: 0.5, split: "equal" }, horizonMonths: 6 }),
      );
      expect(r.operators).to.deep.equal([1, 1, 2, 2, 3, 3]);
      r.meanRevenue.forEach((v, i) => expect(v).to.be.closeTo(200 / r.operators[i]!, EPS));
    });

    it("a stake-weighted split pays in proportion to stake: 1000 against three of 3000 is 1/10", () => {
      const r = simulateRoi(handCase({ competition: { operators: 4, split: "stake-weighted", othersStake: 3000 } }));
      r.meanRevenue.forEach((v) => expect(v).to.be.closeTo(20, EPS));
    });

    it("uptime scales the jobs taken", () => {
      const r = simulateRoi(handCase({ uptime: 0.25 }));
      r.meanJobs.forEach((v) => expect(v).to.equal(50));
    });

    it("reports the curve of returns against the number of operators", () => {
      const r = simulateRoi(handCase());
      // Result at month 12 with n operators: 12 * (200 / n - 160).
      expect(
        r.byOperators.map((o) => [o.operators, Math.round(o.meanTotal * 1e6) / 1e6, o.lossProbability, o.paybackMonth]),
      ).to.deep.equal([
        [1, 480, 0, 9],
        [2, -720, 1, null],
        [4, -1320, 1, null],
      ]);
    });
  });

  describe("Monte Carlo", () => {
    const noisy = handCase({
      runs: 500,
      demand: { kind: "constant", jobsPerMonth: 200, volatility: 0.5 },
      tokenPrice: { kind: "gbm", initial: 2, annualDrift: 0, annualVolatility: 0.6 },
      slashing: { probabilityPerJob: 0.05, amount: 2 },
    });

    it("is reproducible with a seed and changes with another", () => {
      expect(simulateRoi(noisy)).to.deep.equal(simulateRoi(noisy));
      expect(simulateRoi({ ...noisy, seed: 43 }).monthly).to.not.deep.equal(simulateRoi(noisy).monthly);
    });

    it("orders the percentiles and brackets the mean result", () => {
      const r = simulateRoi(noisy);
      for (const m of r.monthly) expect(m.p5 <= m.p25 && m.p25 <= m.p50 && m.p50 <= m.p75 && m.p75 <= m.p95).to.be.true;
      expect(r.horizon.p5).to.be.below(r.horizon.p50);
      expect(r.horizon.p50).to.be.below(r.horizon.p95);
      expect(r.horizon.lossProbability).to.be.within(0, 1);
    });

    it("draws slashes around their expectation: 100 jobs at 10 % and 3 tokens cost 30 tokens a month on average", () => {
      const r = simulateRoi(
        handCase({
          runs: 2000,
          demand: { kind: "constant", jobsPerMonth: 100 },
          slashing: { probabilityPerJob: 0.1, amount: 3 },
          tokenPrice: { kind: "constant", price: 1 },
          feePerJob: 1,
        }),
      );
      // Cash flow = 100 revenue - slashes - 30 - 20 - 5 (opportunity at price 1) - 100 depreciation = -55 - slashes.
      const meanSlashing = -55 - r.monthly.reduce((s, m) => s + m.mean, 0) / r.monthly.length;
      expect(meanSlashing).to.be.closeTo(30, 1);
    });

    it("draws demand from observed months for history demand", () => {
      const r = simulateRoi(handCase({ runs: 2000, demand: { kind: "history", samples: [0, 400] } }));
      expect(r.meanJobs[0]).to.be.closeTo(200, 20);
      expect(r.monthly[0]!.p5).to.be.closeTo(-160, EPS); // a month drawn at 0 jobs
      expect(r.monthly[0]!.p95).to.be.closeTo(240, EPS); // a month drawn at 400 jobs
    });

    it("follows price and demand paths, holding their last value", () => {
      const r = simulateRoi(
        handCase({
          horizonMonths: 4,
          demand: { kind: "path", jobsPerMonth: [0, 100] },
          tokenPrice: { kind: "path", prices: [1, 2, 4] },
        }),
      );
      expect(r.meanRevenue).to.deep.equal([0, 100, 200, 200]); // jobs * 0.5 * price
    });

    it("counts the stake's change in value at the horizon", () => {
      const r = simulateRoi(
        handCase({
          horizonMonths: 2,
          tokenPrice: { kind: "path", prices: [2, 1] },
          demand: { kind: "constant", jobsPerMonth: 0 },
        }),
      );
      expect(r.horizon.meanStakeRevaluation).to.equal(-1000);
    });
  });

  describe("parameter checks", () => {
    const cases: [string, Partial<RoiParams>, RegExp][] = [
      ["horizonMonths", { horizonMonths: 0 }, /horizonMonths is 0: it must be a whole number from 1 to 240/],
      ["horizonMonths", { horizonMonths: 2.5 }, /horizonMonths is 2.5: it must be a whole number from 1 to 240/],
      ["uptime", { uptime: 1.5 }, /uptime is 1.5: it must be a number from 0 to 1/],
      [
        "hardware.resaleValue",
        { hardware: { cost: 100, resaleValue: 200, lifeMonths: 12, method: "straight-line" } },
        /hardware.resaleValue is 200: it must be a number from 0 to 100/,
      ],
      [
        "hardware.lifeMonths",
        { hardware: { cost: 100, resaleValue: 0, lifeMonths: 0, method: "straight-line" } },
        /hardware.lifeMonths is 0: it must be a whole number from 1 to 240/,
      ],
      [
        "hardware.method",
        { hardware: { cost: 100, resaleValue: 0, lifeMonths: 1, method: "sum-of-years" as "straight-line" } },
        /hardware.method is "sum-of-years": it must be one of "straight-line", "declining-balance"/,
      ],
      [
        "hardware.annualRate",
        { hardware: { cost: 100, resaleValue: 0, lifeMonths: 1, method: "declining-balance", annualRate: 13 } },
        /hardware.annualRate is 13: it must be a number above 0 and at most 12/,
      ],
      [
        "hardware.annualRate",
        { hardware: { cost: 100, resaleValue: 0, lifeMonths: 1, method: "straight-line", annualRate: 1 } },
        /hardware.annualRate .* unset unless method is "declining-balance"/,
      ],
      ["powerPerMonth", { powerPerMonth: -1 }, /powerPerMonth is -1: it must be a number of at least 0/],
      ["hostingPerMonth", { hostingPerMonth: NaN }, /hostingPerMonth is NaN/],
      [
        "stake.annualRate",
        { stake: { amount: 1, annualRate: 2 } },
        /stake.annualRate is 2: it must be a number from 0 to 1/,
      ],
      [
        "slashing.probabilityPerJob",
        { slashing: { probabilityPerJob: -0.1, amount: 1 } },
        /slashing.probabilityPerJob is -0.1/,
      ],
      [
        "demand.kind",
        { demand: { kind: "poisson" } as unknown as RoiParams["demand"] },
        /demand.kind is "poisson": it must be one of "constant", "path", "history"/,
      ],
      [
        "demand.samples",
        { demand: { kind: "history", samples: [] } },
        /demand.samples is a list of 0: it must be a list of 1 to 10,000 numbers/,
      ],
      ["demand.jobsPerMonth[1]", { demand: { kind: "path", jobsPerMonth: [1, -2] } }, /demand.jobsPerMonth\[1\] is -2/],
      [
        "demand.volatility",
        { demand: { kind: "constant", jobsPerMonth: 1, volatility: 9 } },
        /demand.volatility is 9: it must be a number from 0 to 5/,
      ],
      [
        "competition.operators",
        { competition: { operators: 0, split: "equal" } },
        /competition.operators is 0: it must be a whole number from 1 to 1000000/,
      ],
      [
        "competition.split",
        { competition: { operators: 1, split: "random" as "equal" } },
        /competition.split is "random"/,
      ],
      [
        "stake.amount",
        { stake: { amount: 0, annualRate: 0 }, competition: { operators: 2, split: "stake-weighted" } },
        /stake.amount is 0: it must be above 0 for the "stake-weighted" split/,
      ],
      [
        "tokenPrice.initial",
        { tokenPrice: { kind: "gbm", initial: 0, annualDrift: 0, annualVolatility: 0.5 } },
        /tokenPrice.initial is 0: it must be a number above 0/,
      ],
      ["runs", { runs: 10_001 }, /runs is 10001: it must be a whole number from 1 to 10000/],
      ["seed", { seed: -1 }, /seed is -1/],
      ["operatorCurve[1]", { operatorCurve: [1, 0] }, /operatorCurve\[1\] is 0/],
    ];
    for (const [name, overrides, message] of cases) {
      it(`rejects ${name} with InputError naming it: ${message.source.replace(/\\/g, "")}`, () => {
        let error: unknown;
        try {
          simulateRoi(handCase(overrides));
        } catch (caught) {
          error = caught;
        }
        expect(error).to.be.instanceOf(InputError);
        expect((error as InputError).message).to.match(message);
        expect((error as InputError).context.parameter).to.equal(name);
      });
    }
  });
});

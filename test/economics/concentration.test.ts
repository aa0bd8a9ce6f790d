import { expect } from "chai";
import { InputError } from "../../src/core/errors";
import { Mode } from "../../src/core/modes";
import {
  computeConcentration,
  concentrationHistory,
  herfindahlHirschman,
  nakamotoCoefficient,
  nearestRank,
  type NetworkFold,
  type NetworkInputs,
  type OperatorInput,
} from "../../src/economics/concentration";

const TOKEN = 10n ** 18n;

function operator(i: number, stake: bigint, jobsServed = 0, modes: Mode[] = [Mode.Vanilla]): OperatorInput {
  return { address: `0x${i.toString(16).padStart(40, "0")}`, stake, modes, jobsServed };
}

function only(operators: OperatorInput[]): NetworkInputs {
  return { operators, jobs: [], models: [] };
}

describe("economics: concentration", () => {
  describe("nakamotoCoefficient", () => {
    it("is 6 for ten equal holders with a strict majority: five hold exactly half, which is not more", () => {
      expect(nakamotoCoefficient(Array<bigint>(10).fill(100n * TOKEN))).to.equal(6);
    });

    it("takes the largest holders first", () => {
      expect(nakamotoCoefficient([20n, 50n, 30n])).to.equal(2); // 50 is not more than half of 100; 50 + 30 is
      expect(nakamotoCoefficient([49n, 51n])).to.equal(1);
      expect(nakamotoCoefficient([100n, 0n, 0n])).to.equal(1);
    });

    it("uses the threshold given, in basis points, strictly", () => {
      const equal = Array<bigint>(10).fill(1n);
      expect(nakamotoCoefficient(equal, 3_333)).to.equal(4); // 3 of 10 is 30 %, not more than 33.33 %
      expect(nakamotoCoefficient(equal, 3_000)).to.equal(4); // 3 of 10 is exactly 30 %: not more
      expect(nakamotoCoefficient(equal, 0)).to.equal(1);
    });

    it("is exact where floating point would tie: 10^30 + 1 against 10^30 - 1", () => {
      const big = 10n ** 30n;
      expect(Number(big + 1n)).to.equal(Number(big - 1n)); // what a float comparison would see
      expect(nakamotoCoefficient([big - 1n, big + 1n])).to.equal(1);
      expect(nakamotoCoefficient([big, big])).to.equal(2);
    });

    it("is null when nothing is held", () => {
      expect(nakamotoCoefficient([])).to.equal(null);
      expect(nakamotoCoefficient([0n, 0n])).to.equal(null);
    });

    it("rejects a threshold outside 0..9999 basis points with InputError naming it", () => {
      for (const bad of [-1, 10_000, 50.5])
        expect(() => nakamotoCoefficient([1n], bad)).to.throw(InputError, /thresholdBps .* 0 to 9999/);
    });
  });

  describe("herfindahlHirschman", () => {
    it("is 1,000 for ten equal holders and 10,000 for one", () => {
      expect(herfindahlHirschman(Array<bigint>(10).fill(7n * TOKEN))).to.equal(1_000);
      expect(herfindahlHirschman([5n * TOKEN, 0n, 0n])).to.equal(10_000);
    });

    it("sums squared percentage shares: 50/30/20 gives 2,500 + 900 + 400 = 3,800", () => {
      expect(herfindahlHirschman([50n, 30n, 20n])).to.equal(3_800);
    });

    it("keeps the integer part exact for huge amounts", () => {
      const big = 10n ** 30n;
      const hhi = herfindahlHirschman([big + 1n, big - 1n])!;
      expect(Math.floor(hhi)).to.equal(5_000); // 5,000 + 2 * 10^4 / (4 * 10^60): above 5,000 by far less than a unit
      expect(herfindahlHirschman([1n, 2n])).to.equal(5_555.555555); // 10^4 * 5 / 9, truncated to 6 decimals
    });

    it("is null when nothing is held", () => {
      expect(herfindahlHirschman([0n])).to.equal(null);
    });
  });

  describe("computeConcentration", () => {
    it("gives Nakamoto 6 and HHI 1,000 by stake and by jobs for ten equal operators", () => {
      const c = computeConcentration(only(Array.from({ length: 10 }, (_, i) => operator(i + 1, 100n * TOKEN, 3))));
      expect(c.operators).to.equal(10);
      expect(c.nakamoto).to.deep.equal({ thresholdBps: 5_000, byStake: 6, byJobs: 6 });
      expect(c.hhi).to.deep.equal({ byStake: 1_000, byJobs: 1_000 });
      expect(c.stake.total).to.equal(1_000n * TOKEN);
      expect(c.jobShares.every((s) => s.share === 0.1)).to.be.true;
    });

    it("computes stake quantiles by nearest rank and the top holders' shares exactly", () => {
      const c = computeConcentration(
        only([10n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n].map((s, i) => operator(i + 1, s * TOKEN))),
      );
      expect(c.stake.quantiles).to.deep.equal({
        min: 1n * TOKEN,
        p25: 3n * TOKEN,
        median: 5n * TOKEN,
        p75: 8n * TOKEN,
        p90: 9n * TOKEN,
        max: 10n * TOKEN,
      });
      expect(c.stake.total).to.equal(55n * TOKEN);
      expect(c.stake.top).to.deep.equal([
        { n: 1, stake: 10n * TOKEN, share: 0.181818181 }, // 10/55
        { n: 3, stake: 27n * TOKEN, share: 0.49090909 }, // 27/55
        { n: 5, stake: 40n * TOKEN, share: 0.727272727 }, // 40/55
        { n: 10, stake: 55n * TOKEN, share: 1 },
      ]);
      expect(c.nakamoto.byStake).to.equal(4); // 10 + 9 + 8 = 27 is not more than 27.5; + 7 = 34 is
    });

    it("counts operators per mode, jobs with redundancy and each operator's share of jobs served", () => {
      const inputs: NetworkInputs = {
        operators: [
          operator(1, 10n, 6, [Mode.Vanilla, Mode.Tee]),
          operator(2, 10n, 3, [Mode.Vanilla]),
          operator(3, 10n, 1, [Mode.Zk, Mode.Tee]),
        ],
        jobs: [1, 3, 1, 5, 1].map((redundancy, i) => ({ id: BigInt(i + 1), redundancy })),
        models: [],
      };
      const c = computeConcentration(inputs);
      expect(c.operatorsPerMode.map((m) => [m.name, m.operators])).to.deep.equal([
        ["vanilla", 2],
        ["tee", 2],
        ["zk", 1],
        ["dual", 0],
      ]);
      expect(c.jobs).to.deep.equal({ total: 5, redundant: 2 });
      expect(c.jobShares.map((s) => [s.address, s.jobsServed, s.share])).to.deep.equal([
        [operator(1, 0n).address, 6, 0.6],
        [operator(2, 0n).address, 3, 0.3],
        [operator(3, 0n).address, 1, 0.1],
      ]);
      expect(c.nakamoto.byJobs).to.equal(1);
      expect(c.hhi.byJobs).to.equal(4_600); // 3600 + 900 + 100
    });

    it("counts models servable by at least k distinct operator addresses, case-insensitively", () => {
      const [a, b, c] = [
        "0x00000000000000000000000000000000000000aa",
        "0x00000000000000000000000000000000000000bb",
        "0x00000000000000000000000000000000000000cc",
      ];
      const inputs: NetworkInputs = {
        operators: [],
        jobs: [],
        models: [
          { id: 1n, operators: [a, b, c] },
          { id: 2n, operators: [a, a.toUpperCase().replace("0X", "0x"), b] }, // two addresses, one listed twice
          { id: 3n, operators: [c] },
          { id: 4n, operators: [] },
        ],
      };
      const result = computeConcentration(inputs, { ks: [1, 2, 3, 4] });
      expect(result.servable).to.deep.equal({
        models: 4,
        byAtLeast: [
          { k: 1, models: 3 },
          { k: 2, models: 2 },
          { k: 3, models: 1 },
          { k: 4, models: 0 },
        ],
      });
    });

    it("reports null figures, not zeros, for an empty network", () => {
      const c = computeConcentration({ operators: [], jobs: [], models: [] });
      expect(c.stake).to.deep.equal({ total: 0n, quantiles: null, top: [] });
      expect(c.nakamoto).to.deep.equal({ thresholdBps: 5_000, byStake: null, byJobs: null });
      expect(c.hhi).to.deep.equal({ byStake: null, byJobs: null });
    });

    it("rejects an operator listed twice (addresses compared case-insensitively) and bad amounts with InputError", () => {
      const a = operator(0xab, 1n);
      expect(() =>
        computeConcentration(only([a, { ...a, address: a.address.toUpperCase().replace("0X", "0x") }])),
      ).to.throw(InputError, /listed twice/);
      expect(() => computeConcentration(only([operator(1, -1n)]))).to.throw(InputError, /negative stake/);
      expect(() => computeConcentration(only([operator(1, 1n, 1.5)]))).to.throw(InputError, /jobsServed/);
      expect(() => computeConcentration(only([]), { ks: [0] })).to.throw(InputError, /ks contains 0/);
    });
  });

  describe("nearestRank", () => {
    it("returns a member of the values", () => {
      expect(nearestRank([3n, 1n, 2n], 0.5)).to.equal(2n);
      expect(nearestRank([3n, 1n, 2n], 0)).to.equal(1n);
      expect(nearestRank([3n, 1n, 2n], 1)).to.equal(3n);
    });

    it("rejects no values and q outside [0, 1]", () => {
      expect(() => nearestRank([], 0.5)).to.throw(InputError, /no values/);
      expect(() => nearestRank([1n], 1.5)).to.throw(InputError, /quantile 1.5/);
    });
  });

  describe("concentrationHistory", () => {
    /** A toy fold: each event sets an operator's stake; a served job counts for its operator. */
    type Event = { blockNumber: number; operator: number; stake?: bigint; served?: boolean };
    class StakeFold implements NetworkFold<Event> {
      stakes = new Map<number, bigint>();
      served: { operator: number; block: number }[] = [];
      apply(e: Event): void {
        if (e.stake !== undefined) this.stakes.set(e.operator, e.stake);
        if (e.served === true) this.served.push({ operator: e.operator, block: e.blockNumber });
      }
      inputs(since?: number): NetworkInputs {
        const operators = [...this.stakes].map(([i, stake]) =>
          operator(i, stake, this.served.filter((s) => s.operator === i && s.block >= (since ?? 0)).length),
        );
        return { operators, jobs: [], models: [] };
      }
    }

    const events: Event[] = [
      { blockNumber: 3, operator: 1, stake: 100n },
      { blockNumber: 5, operator: 2, stake: 100n },
      { blockNumber: 12, operator: 3, stake: 100n },
      { blockNumber: 14, operator: 1, served: true },
      { blockNumber: 25, operator: 2, served: true },
      { blockNumber: 26, operator: 2, served: true },
    ];

    it("takes the state at each window's end, and counts jobs within the window", () => {
      const points = concentrationHistory(events, new StakeFold(), { window: 10, fromBlock: 0, toBlock: 29 });
      expect(
        points.map((p) => [
          p.fromBlock,
          p.toBlock,
          p.concentration.operators,
          p.concentration.nakamoto.byStake,
          p.concentration.nakamoto.byJobs,
        ]),
      ).to.deep.equal([
        [0, 9, 2, 2, null],
        [10, 19, 3, 2, 1],
        [20, 29, 3, 2, 1],
      ]);
      expect(points[2]!.concentration.jobShares.find((s) => s.jobsServed > 0)!.address).to.equal(
        operator(2, 0n).address,
      );
    });

    it("counts jobs from the start with jobs: cumulative, and folds events before fromBlock into the first window", () => {
      const points = concentrationHistory(events, new StakeFold(), {
        window: 10,
        fromBlock: 10,
        toBlock: 29,
        jobs: "cumulative",
      });
      expect(
        points.map((p) => [p.fromBlock, p.concentration.operators, p.concentration.jobShares.map((s) => s.jobsServed)]),
      ).to.deep.equal([
        [10, 3, [1, 0, 0]],
        [20, 3, [2, 1, 0]],
      ]);
    });

    it("defaults to the events' first and last blocks, with a shorter last window", () => {
      const points = concentrationHistory(events, new StakeFold(), { window: 20 });
      expect(points.map((p) => [p.fromBlock, p.toBlock])).to.deep.equal([
        [3, 22],
        [23, 26],
      ]);
      expect(concentrationHistory([], new StakeFold(), { window: 5 })).to.deep.equal([]);
    });

    it("rejects events out of block order and bad windows with InputError", () => {
      expect(() => concentrationHistory([events[1]!, events[0]!], new StakeFold(), { window: 10 })).to.throw(
        InputError,
        /not in block order/,
      );
      expect(() => concentrationHistory(events, new StakeFold(), { window: 0 })).to.throw(InputError, /window 0/);
      expect(() =>
        concentrationHistory(events, new StakeFold(), { window: 1, fromBlock: 0, toBlock: 10_000_000 }),
      ).to.throw(InputError, /more than 10000 windows/);
      expect(() => concentrationHistory(events, new StakeFold(), { window: 1, fromBlock: 9, toBlock: 3 })).to.throw(
        InputError,
        /before fromBlock/,
      );
    });
  });
});

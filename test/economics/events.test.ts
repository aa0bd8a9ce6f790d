import { expect } from "chai";
import hre from "hardhat";
import { hexlify, keccak256, randomBytes } from "ethers";
import { InputError } from "../../src/core/errors";
import { resultCommitment } from "../../src/core/job";
import { Mode } from "../../src/core/modes";
import { computeConcentration, concentrationHistory } from "../../src/economics/concentration";
import {
  NetworkReducer,
  observeForRoi,
  observedSlashing,
  readNetworkEvents,
  reduceNetworkEvents,
  settledPerWindow,
  type DecodedLog,
} from "../../src/economics/events";
import { expectRejection } from "../fixtures/assert";
import { FEE_PER_NODE, STAKE, loadSystem, requestJob } from "../fixtures/system";

const [A, B, C, D] = [
  "0x00000000000000000000000000000000000000aa",
  "0x00000000000000000000000000000000000000bb",
  "0x00000000000000000000000000000000000000cc",
  "0x00000000000000000000000000000000000000dd",
];
const [H1, H2] = [keccak256("0x01"), keccak256("0x02")];

function log(
  blockNumber: number,
  name: string,
  args: Record<string, unknown>,
  contract?: DecodedLog["contract"],
): DecodedLog {
  return { name, args, blockNumber, contract };
}

function job(
  id: bigint,
  modelId: bigint,
  redundancy: number,
  feePerNode: bigint,
  mode: number = Mode.Vanilla,
): Record<string, unknown> {
  return { jobId: id, modelId, job: { id, modelId, mode: BigInt(mode), redundancy: BigInt(redundancy), feePerNode } };
}

/**
 * A: stakes 100, registers vanilla + TEE, is slashed 10 (all from active stake): 90.
 * B: stakes 60, unstakes 20, restakes 5, registers vanilla: 45 active, 15 thawing.
 * C: stakes 30, registers ZK: below the minimum stake of 40.
 * D: never stakes; claims a slot of the redundant job and dissents.
 * Model 1 (vanilla + TEE): servable by A and B. Model 2 (ZK; its version 2 with vanilla deprecated): by nobody.
 * Job 1 (k = 1, fee 7): served by A. Job 2 (k = 3, fee 5): A and B agree, D dissents. Job 3 (k = 1): B claims it, is
 * slashed 10 and the job is refunded.
 */
const LOGS: DecodedLog[] = [
  log(
    1,
    "ParametersUpdated",
    { parameters: { minimumStake: 40n, thawingPeriod: 3600n, maxSlashBps: 5000n } },
    "staking",
  ),
  log(1, "ParametersUpdated", { parameters: { protocolFeeBps: 100n, usageFeeFloor: 0n } }, "escrow"),
  log(2, "Staked", { operator: A, amount: 100n }),
  log(2, "Staked", { operator: B, amount: 60n }),
  log(2, "Staked", { operator: C, amount: 30n }),
  log(3, "CapabilitiesUpdated", { operator: A, capabilities: 0b011n }),
  log(3, "CapabilitiesUpdated", { operator: B, capabilities: 0b001n }),
  log(3, "CapabilitiesUpdated", { operator: C, capabilities: 0b100n }),
  log(4, "Unstaked", { operator: B, amount: 20n, thawEnd: 99n }),
  log(4, "Restaked", { operator: B, amount: 5n }),
  log(5, "ModelCreated", { modelId: 1n, owner: D, price: 2n }),
  log(5, "VersionPublished", {
    modelId: 1n,
    version: 1n,
    modes: [
      { mode: 0n, verifier: D, bindings: [] },
      { mode: 1n, verifier: D, bindings: [] },
    ],
  }),
  log(5, "ModelCreated", { modelId: 2n, owner: D, price: 2n }),
  log(5, "VersionPublished", { modelId: 2n, version: 1n, modes: [{ mode: 2n, verifier: D, bindings: [] }] }),
  log(5, "VersionPublished", { modelId: 2n, version: 2n, modes: [{ mode: 0n, verifier: D, bindings: [] }] }),
  log(6, "VersionDeprecated", { modelId: 2n, version: 2n }),
  log(10, "JobRequested", job(1n, 1n, 1, 7n)),
  log(10, "SlotClaimed", { jobId: 1n, node: A, slot: 0n, collateral: 1n }),
  log(11, "JobSettled", { jobId: 1n, outputHash: H1, agreeing: 1n, output: "0x01" }),
  log(20, "JobRequested", job(2n, 1n, 3, 5n)),
  log(20, "SlotClaimed", { jobId: 2n, node: A, slot: 0n, collateral: 1n }),
  log(20, "SlotClaimed", { jobId: 2n, node: B, slot: 1n, collateral: 1n }),
  log(20, "SlotClaimed", { jobId: 2n, node: D, slot: 2n, collateral: 1n }),
  log(21, "ResultRevealed", { jobId: 2n, node: A, outputHash: H1 }),
  log(21, "ResultRevealed", { jobId: 2n, node: D, outputHash: H2 }),
  log(22, "ResultRevealed", { jobId: 2n, node: B.toUpperCase().replace("0X", "0x"), outputHash: H1 }),
  log(22, "JobSettled", { jobId: 2n, outputHash: H1, agreeing: 2n, output: "0x01" }),
  log(30, "JobRequested", job(3n, 1n, 1, 7n)),
  log(30, "SlotClaimed", { jobId: 3n, node: B, slot: 0n, collateral: 10n }),
  log(40, "Slashed", { operator: A, slasher: D, amount: 10n, fromThawing: 0n }),
  log(41, "Slashed", { operator: B, slasher: D, amount: 10n, fromThawing: 3n }),
  log(41, "NodeSlashed", { jobId: 3n, node: B, amount: 10n, toRequester: 5n }),
  log(41, "JobRefunded", { jobId: 3n, requester: D, amount: 9n, reason: 0n }),
];

describe("economics: events", () => {
  describe("NetworkReducer", () => {
    it("reduces logs to operators (active stake, modes, jobs served), jobs and the operators able to serve each model", () => {
      const inputs = reduceNetworkEvents(LOGS).inputs();
      expect(inputs.operators).to.deep.equal([
        { address: A, stake: 90n, modes: [Mode.Vanilla, Mode.Tee], jobsServed: 2 },
        // B: 60 - 20 + 5 - (10 - 3) = 38, below the minimum of 40, so it can serve no mode; C's 30 neither.
        { address: B, stake: 38n, modes: [], jobsServed: 1 },
        { address: C, stake: 30n, modes: [], jobsServed: 0 },
      ]);
      expect(inputs.jobs).to.deep.equal([
        { id: 1n, redundancy: 1 },
        { id: 2n, redundancy: 3 },
        { id: 3n, redundancy: 1 },
      ]);
      // B (38) is below the minimum stake of 40 after its slash; C serves ZK with 30, below it too.
      expect(inputs.models).to.deep.equal([
        { id: 1n, operators: [A] },
        { id: 2n, operators: [] },
      ]);
    });

    it("counts a model's servers, and an operator's modes, before a slash takes it below the minimum stake", () => {
      const inputs = reduceNetworkEvents(LOGS.filter((l) => l.blockNumber < 40)).inputs();
      expect(inputs.operators.map((o) => o.modes)).to.deep.equal([[Mode.Vanilla, Mode.Tee], [Mode.Vanilla], []]);
      expect(inputs.models).to.deep.equal([
        { id: 1n, operators: [A, B] },
        { id: 2n, operators: [] },
      ]);
    });

    it("records each operator's activity: slots claimed, jobs served, fees earned, slashes", () => {
      const reducer = reduceNetworkEvents(LOGS);
      const byAddress = Object.fromEntries(reducer.activity().map((a) => [a.address, a]));
      expect(byAddress[A]).to.deep.equal({
        address: A,
        stake: 90n,
        thawing: 0n,
        capabilities: 3,
        claimed: 2,
        served: 2,
        earned: 12n,
        slashes: 0,
        slashed: 0n,
      });
      expect(byAddress[B]).to.deep.equal({
        address: B,
        stake: 38n,
        thawing: 12n,
        capabilities: 1,
        claimed: 2,
        served: 1,
        earned: 5n,
        slashes: 1,
        slashed: 10n,
      });
      expect(byAddress[D]).to.deep.include({ claimed: 1, served: 0, earned: 0n });
      expect(reducer.minimumStake).to.equal(40n);
      expect(reducer.skipped).to.equal(0);
      expect(reducer.jobRecords().map((j) => [j.id, j.status, j.closedAt, j.servedBy])).to.deep.equal([
        [1n, "settled", 11, [A]],
        [2n, "settled", 22, [A, B]],
        [3n, "refunded", 41, []],
      ]);
    });

    it("gives the observed slashing rate and the jobs settled per window", () => {
      const reducer = reduceNetworkEvents(LOGS);
      expect(observedSlashing(reducer.activity())).to.deep.equal({
        slots: 5,
        slashes: 1,
        probabilityPerJob: 0.2,
        meanAmount: 10n,
      });
      expect(settledPerWindow(reducer.jobRecords(), { fromBlock: 0, toBlock: 29, window: 10 })).to.deep.equal([
        0, 1, 1,
      ]);
      expect(settledPerWindow(reducer.jobRecords(), { fromBlock: 12, toBlock: 22, window: 100 })).to.deep.equal([1]);
      expect(() => settledPerWindow([], { fromBlock: 5, toBlock: 4, window: 1 })).to.throw(
        InputError,
        /toBlock 4 is before fromBlock 5/,
      );
    });

    it("observes the ROI simulator's inputs: demand per whole month of blocks, slashing, the going fee, operators, one operator's record", () => {
      const reducer = reduceNetworkEvents(LOGS);
      const seen = observeForRoi(reducer, {
        fromBlock: 0,
        toBlock: 44,
        blocksPerMonth: 10,
        decimals: 0,
        operator: B.toUpperCase().replace("0X", "0x"),
      });
      expect(seen).to.deep.equal({
        monthlyJobs: [0, 1, 1, 0], // blocks 40..44 are not a whole month
        slashing: { probabilityPerJob: 0.2, amount: 10 },
        feePerJob: 6, // jobs 1 (7) and 2 (5) settled
        operators: 1, // only A can take work
        operator: { stake: 38, claimed: 2, served: 1, earned: 5, slashes: 1, slashed: 10 },
      });
      expect(observeForRoi(reducer, { fromBlock: 0, toBlock: 5, blocksPerMonth: 10 }).monthlyJobs).to.deep.equal([]);
      expect(
        observeForRoi(reducer, {
          fromBlock: 0,
          toBlock: 44,
          blocksPerMonth: 10,
          operator: "0x0000000000000000000000000000000000000001",
        }).operator,
      ).to.equal(undefined);
      expect(() => observeForRoi(reducer, { fromBlock: 0, toBlock: 44, blocksPerMonth: 0 })).to.throw(
        InputError,
        /blocksPerMonth 0/,
      );
    });

    it("counts jobs requested and served from a block with inputs(since)", () => {
      const inputs = reduceNetworkEvents(LOGS).inputs(20);
      expect(inputs.jobs.map((j) => j.id)).to.deep.equal([2n, 3n]);
      expect(inputs.operators.map((o) => o.jobsServed)).to.deep.equal([1, 1, 0]);
    });

    it("feeds concentrationHistory", () => {
      const points = concentrationHistory(LOGS, new NetworkReducer(), { window: 20, fromBlock: 0, toBlock: 39 });
      expect(
        points.map((p) => [
          p.concentration.operators,
          p.concentration.stake.total,
          p.concentration.jobs.total,
          p.concentration.nakamoto.byJobs,
        ]),
      ).to.deep.equal([
        [3, 175n, 1, 1], // 100 + 45 + 30 active (15 thawing); job 1, served by A
        [3, 175n, 2, 2], // job 2 served by A and B, job 3 not served
      ]);
    });

    it("skips events about jobs and models it never saw created, and counts them", () => {
      const reducer = reduceNetworkEvents([
        log(1, "SlotClaimed", { jobId: 9n, node: A, slot: 0n, collateral: 1n }),
        log(1, "JobSettled", { jobId: 9n, outputHash: H1, agreeing: 1n, output: "0x01" }),
        log(1, "VersionPublished", { modelId: 9n, version: 1n, modes: [] }),
        log(1, "SomethingElse", {}),
      ]);
      expect(reducer.skipped).to.equal(3);
      expect(reducer.inputs()).to.deep.equal({ operators: [], jobs: [], models: [] });
    });

    it("rejects logs out of block order and logs missing an argument, naming it", () => {
      expect(() =>
        reduceNetworkEvents([
          log(5, "Staked", { operator: A, amount: 1n }),
          log(4, "Staked", { operator: A, amount: 1n }),
        ]),
      ).to.throw(InputError, /block 4 comes after block 5/);
      expect(() => reduceNetworkEvents([log(5, "Staked", { operator: A })])).to.throw(
        InputError,
        /Staked at block 5 has no valid argument "amount"/,
      );
      expect(() =>
        reduceNetworkEvents([log(5, "JobRequested", { jobId: 1n, modelId: 1n, job: { mode: 0n, redundancy: 1n } })]),
      ).to.throw(InputError, /"job.feePerNode"/);
    });
  });

  describe("readNetworkEvents", () => {
    it("reads and decodes a deployment's events in chain order, in bounded ranges, into the reducer's inputs", async () => {
      const fx = await loadSystem();
      const { escrow } = fx.system;
      const [n1, n2, n3] = [fx.nodes[0]!, fx.nodes[1]!, fx.nodes[2]!];
      // A k = 1 job served by node 1, and a k = 3 job settled 2-1 (node 3 dissents).
      const single = await requestJob(fx);
      await escrow.connect(n1).claimSlot(single);
      await escrow.connect(n1).submit(single, "0x2a", "0x");
      const triple = await requestJob(fx, { redundancy: 3 });
      const salts = [hexlify(randomBytes(32)), hexlify(randomBytes(32)), hexlify(randomBytes(32))];
      const outputs = ["0x07", "0x07", "0x08"];
      for (const node of [n1, n2, n3]) await escrow.connect(node).claimSlot(triple);
      for (const [i, node] of [n1, n2, n3].entries())
        await escrow.connect(node).commit(triple, resultCommitment(triple.id, node.address, outputs[i]!, salts[i]!));
      for (const [i, node] of [n1, n2, n3].entries())
        await escrow.connect(node).reveal(triple, outputs[i]!, salts[i]!, "0x");

      const head = await hre.ethers.provider.getBlockNumber();
      const logs = await readNetworkEvents(fx.system, 0, head, { maxBlockRange: 7 });
      expect(logs.map((l) => l.blockNumber)).to.deep.equal([...logs.map((l) => l.blockNumber)].sort((a, b) => a - b));
      expect(new Set(logs.map((l) => l.contract))).to.deep.equal(new Set(["staking", "escrow", "registry"]));

      const reducer = reduceNetworkEvents(logs);
      const inputs = reducer.inputs();
      const address = (s: { address: string }) => s.address.toLowerCase();
      expect(reducer.minimumStake).to.equal((await fx.system.staking.parameters()).minimumStake);
      expect(inputs.operators).to.deep.equal([
        { address: address(n1), stake: STAKE, modes: [Mode.Vanilla, Mode.Tee], jobsServed: 2 },
        { address: address(n2), stake: STAKE, modes: [Mode.Vanilla, Mode.Tee], jobsServed: 1 },
        { address: address(n3), stake: STAKE, modes: [Mode.Vanilla, Mode.Tee], jobsServed: 0 },
      ]);
      expect(inputs.jobs).to.deep.equal([
        { id: single.id, redundancy: 1 },
        { id: triple.id, redundancy: 3 },
      ]);
      expect(inputs.models).to.deep.equal([{ id: 1n, operators: [address(n1), address(n2), address(n3)] }]);
      expect(reducer.activity().find((a) => a.address === address(n1))!.earned).to.equal(2n * FEE_PER_NODE);

      const c = computeConcentration(inputs);
      expect(c.nakamoto.byStake).to.equal(2);
      expect(c.nakamoto.byJobs).to.equal(1); // node 1 served 2 of 3
      expect(c.jobs).to.deep.equal({ total: 2, redundant: 1 });
      expect(c.servable.byAtLeast).to.deep.equal([
        { k: 1, models: 1 },
        { k: 2, models: 1 },
        { k: 3, models: 1 },
      ]);
    });

    it("rejects a bad block range with InputError", async () => {
      const fx = await loadSystem();
      await expectRejection(readNetworkEvents(fx.system, 5, 4), InputError, /toBlock 4 is before fromBlock 5/);
      await expectRejection(readNetworkEvents(fx.system, -1, 4), InputError, /fromBlock -1/);
      await expectRejection(readNetworkEvents(fx.system, 0, 4, { maxBlockRange: 0 }), InputError, /maxBlockRange 0/);
    });
  });
});

/**
 * The gas of subscriptions (issue #19): setting one up, and each transaction of a served round in TEE and ZK mode —
 * the keeper's `startRound` (input read as of the due time, job requested on the escrow), the node's `claimSlot` and
 * its `submit`, whose settlement delivers the output into the feed by the manager's callback. Measured on a fresh
 * in-process deployment, steady state: the figures are of a subscription's second round (accounts already credited).
 */
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse } from "ethers";
import { Mode, modeMask } from "../../src/core/modes";
import { volatilitySourceArgs } from "../../src/core/subscription";
import {
  DEGENERATE_KEY,
  degenerateProof,
  factoryVerifier,
  keyHash,
  teeProof,
  zkOutput,
  zkProofBytes,
  zkVersionInput,
} from "../../test/fixtures/system";
import {
  MAX_AGE,
  subscribe,
  subscriptionFixture,
  subscriptionParams,
  teeValueOutput,
  type SubscriptionFixture,
} from "../../test/unit/subscriptions/subscriptions.fixture";
import { MockAggregator__factory } from "../../typechain-types";
import { requestedJobs, type Job } from "../../src/core/job";
import type { Row } from "./report";

/** The target for one TEE round, all its transactions together. */
const ROUND_TARGET = 120_000;

async function gas(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("no receipt");
  return Number(receipt.gasUsed);
}

/** One round's three transactions: the keeper's start, the node's claim, the node's verified submission. */
interface RoundGas {
  start: number;
  claim: number;
  submit: number;
}

async function serveRound(
  fx: SubscriptionFixture,
  id: bigint,
  submit: (job: Job) => Promise<ContractTransactionResponse>,
): Promise<RoundGas> {
  const node = fx.nodes[0]!;
  const receipt = await (await fx.manager.connect(fx.keeper).startRound(id)).wait();
  const [requested] = requestedJobs(fx.system.escrow, receipt);
  if (receipt === null || requested === undefined) throw new Error("startRound requested no job");
  const start = Number(receipt.gasUsed);
  const { job } = requested;
  const claim = await gas(fx.system.escrow.connect(node).claimSlot(job));
  return { start, claim, submit: await gas(submit(job)) };
}

/** Rounds 0 and 1 of subscription `id` (period `period`), served; returns round 1's gas. */
async function steadyRound(
  fx: SubscriptionFixture,
  id: bigint,
  startTime: bigint,
  period: bigint,
  submit: (job: Job) => Promise<ContractTransactionResponse>,
): Promise<RoundGas> {
  await time.increaseTo(startTime);
  await serveRound(fx, id, submit);
  await time.increaseTo(startTime + period);
  return serveRound(fx, id, submit);
}

function roundRows(name: string, mode: string, round: RoundGas, input: string, target?: number): Row[] {
  const total = round.start + round.claim + round.submit;
  return [
    {
      key: `perRound${name}`,
      value: total,
      unit: "gas",
      ...(target === undefined ? {} : { target }),
      note: `one ${mode} round in all: startRound ${round.start.toLocaleString("en-US")} + claimSlot ${round.claim.toLocaleString("en-US")} + submit with the feed's callback ${round.submit.toLocaleString("en-US")} (${input})`,
    },
    { key: `startRound${name}`, value: round.start, unit: "gas", note: `keeper: input (${input}), job requested` },
    {
      key: `submitRound${name}`,
      value: round.submit,
      unit: "gas",
      note: `node: ${mode} submit, settlement and the manager's callback writing the feed's round`,
    },
  ];
}

/** Measures subscription set-up and served rounds (TEE over two inputs, ZK) on a fresh deployment. */
export async function measureSubscriptionGas(): Promise<Row[]> {
  const fx = await subscriptionFixture();
  const rows: Row[] = [];
  const node = fx.nodes[0]!;
  const period = 600n;

  // Set-up: the first subscription of a deployment writes the manager's counters from zero; the second is steady.
  await subscribe(fx);
  const params = await subscriptionParams(fx);
  rows.push({
    key: "subscriptionSetup",
    value: await gas(fx.manager.connect(fx.subscriber).subscribe(params)),
    unit: "gas",
    note: "subscribe: checks, escrow quote, feed clone deployed, terms stored, 5 rounds' funds pulled",
  });

  const teeSubmit = async (job: Job) => {
    const output = teeValueOutput(12_345);
    return fx.system.escrow.connect(node).submit(job, output, await teeProof(fx, job, output));
  };
  const tee = await subscribe(fx);
  rows.push(
    ...roundRows(
      "Tee",
      "TEE",
      await steadyRound(fx, tee.id, tee.startTime, period, teeSubmit),
      "the last 4 answers of a feed",
      ROUND_TARGET,
    ),
  );

  // The volatility model's input: 67 answers of a feed, log returns and realised volatilities computed on-chain.
  const sp500 = await new MockAggregator__factory(fx.deployer).deploy(fx.deployer.address, 8, "S&P 500 / USD");
  await sp500.updateAnswers(
    Array.from({ length: 80 }, (_, i) => 3_000n * 10n ** 8n + BigInt((i * 7919) % 5_000) * 10n ** 6n),
  );
  const volatility = await subscribe(fx, {
    inputSource: await fx.volatility.getAddress(),
    inputArgs: volatilitySourceArgs(await sp500.getAddress(), MAX_AGE),
  });
  rows.push(
    ...roundRows(
      "TeeVolatility",
      "TEE",
      await steadyRound(fx, volatility.id, volatility.startTime, period, teeSubmit),
      "the volatility model's 4 features from 67 answers of a feed",
    ),
  );

  // ZK: a version bound to the factory verifier of a degenerate key (the pairing check costs what a real one does).
  const verifier = await factoryVerifier(fx, DEGENERATE_KEY);
  await fx.system.registry.connect(fx.owner).publishVersion(1n, zkVersionInput(verifier, keyHash(DEGENERATE_KEY)));
  await fx.system.staking.connect(node).register(modeMask([Mode.Vanilla, Mode.Tee, Mode.Zk]));
  const zk = await subscribe(fx, { mode: Mode.Zk, version: 2, zkScaleBits: 12, zkInputBits: 26 });
  const zkSubmit = async (job: Job) => {
    const packed = (1n << 47n) + 6_144n;
    const proof = await degenerateProof((BigInt(job.inputHash) << 48n) | packed);
    return fx.system.escrow.connect(node).submit(job, zkOutput(packed), zkProofBytes(packed, proof));
  };
  rows.push(
    ...roundRows(
      "Zk",
      "ZK",
      await steadyRound(fx, zk.id, zk.startTime, period, zkSubmit),
      "the last 4 answers of a feed, committed with Poseidon on-chain",
    ),
  );
  return rows;
}

/**
 * The gas of each protocol operation, measured on a fresh in-process deployment: what `npm run bench:gas` prints and
 * what the committed snapshot (`snapshots/gas.json`, checked by `npm run snapshot:check`) records.
 */
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, keccak256, toUtf8Bytes, type ContractTransactionResponse } from "ethers";
import { requestJob, requestParams, systemFixture, teeProof } from "../../test/fixtures/system";
import { Mode } from "../../src/core/modes";
import { requestedJobs, resultCommitment } from "../../src/core/job";
import { measureEvaluationGas } from "./evaluation-gas";
import type { Row } from "./report";

/** A compact classifier output: label index and a fixed-point probability (abi.encodePacked(uint8, uint64)). */
const OUTPUT = hexlify(Uint8Array.from([2, 0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00]));
/** An ABI-encoded int256 score: 32 bytes, which takes two storage slots. */
const OUTPUT_32 = keccak256(toUtf8Bytes("bench:gas 32-byte output"));

async function gas(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("no receipt");
  return Number(receipt.gasUsed);
}

/** Measures every row on a fresh in-process deployment (deterministic: the same code gives the same figures). */
export async function measureGas(): Promise<Row[]> {
  const fx = await systemFixture();
  const { escrow } = fx.system;
  const [node] = fx.nodes;
  if (node === undefined) throw new Error("fixture has no nodes");
  const rows: Row[] = [];

  // Cold: the first job of a fresh deployment credits accounts that hold nothing yet.
  const first = await requestJob(fx, { mode: Mode.Tee });
  await escrow.connect(node).claimSlot(first);
  rows.push({
    key: "submitTeeCold",
    value: await gas(escrow.connect(node).submit(first, OUTPUT, await teeProof(fx, first, OUTPUT))),
    unit: "gas",
    note: "first TEE submit: node, owner and treasury credited from zero",
  });

  const params = await requestParams({ input: toUtf8Bytes("[5.1, 3.5, 1.4, 0.2]") });
  rows.push({
    key: "request",
    value: await gas(escrow.connect(fx.requester).request(params)),
    unit: "gas",
    target: 110_000,
    note: "vanilla, k = 1, 20-byte inline input (Chainlink Functions sendRequest: 178,588)",
  });
  const vanilla = await requestJob(fx);
  rows.push({
    key: "claimSlot",
    value: await gas(escrow.connect(node).claimSlot(vanilla)),
    unit: "gas",
    note: "k = 1: eligibility check and collateral lock",
  });
  rows.push({
    key: "submitVanilla",
    value: await gas(escrow.connect(node).submit(vanilla, OUTPUT, "0x")),
    unit: "gas",
    note: "k = 1 vanilla submit, settled in the same transaction (9-byte output)",
  });

  const tee = await requestJob(fx, { mode: Mode.Tee });
  await escrow.connect(node).claimSlot(tee);
  rows.push({
    key: "submitTee",
    value: await gas(escrow.connect(node).submit(tee, OUTPUT, await teeProof(fx, tee, OUTPUT))),
    unit: "gas",
    target: 90_000,
    note: "k = 1 TEE submit: EIP-712 check, enclave and measurement lookup, settlement (9-byte output)",
  });

  const tee32 = await requestJob(fx, { mode: Mode.Tee });
  await escrow.connect(node).claimSlot(tee32);
  rows.push({
    key: "submitTee32",
    value: await gas(escrow.connect(node).submit(tee32, OUTPUT_32, await teeProof(fx, tee32, OUTPUT_32))),
    unit: "gas",
    note: "as submitTee with a 32-byte output (one more storage slot)",
  });

  // A callback goes only to the requester: the example consumer requests the job itself, paid from its tokens.
  const consumer = fx.system.exampleConsumer;
  await fx.system.token.connect(fx.requester).transfer(await consumer.getAddress(), 100n * 10n ** 18n);
  const consumerRequest = await (
    await consumer.connect(fx.deployer).request(await requestParams({ mode: Mode.Tee, callbackGasLimit: 100_000 }))
  ).wait();
  const [withCallbackRequested] = requestedJobs(escrow, consumerRequest);
  if (withCallbackRequested === undefined) throw new Error("the consumer's request emitted no JobRequested");
  const withCallback = withCallbackRequested.job;
  await escrow.connect(node).claimSlot(withCallback);
  rows.push({
    key: "settleK1",
    value: await gas(escrow.connect(node).submit(withCallback, OUTPUT, await teeProof(fx, withCallback, OUTPUT))),
    unit: "gas",
    note: "k = 1 TEE submit whose settlement also delivers a consumer callback (ExampleConsumer stores the result)",
  });

  // Redundant vanilla job, k = 3: commit-reveal and settlement by majority.
  const k3 = await requestJob(fx, { redundancy: 3 });
  for (const n of fx.nodes) await escrow.connect(n).claimSlot(k3);
  const salts = fx.nodes.map((_, i) => keccak256(toUtf8Bytes(`bench:gas salt ${i}`)));
  const commits: number[] = [];
  for (const [i, n] of fx.nodes.entries())
    commits.push(await gas(escrow.connect(n).commit(k3, resultCommitment(k3.id, n.address, OUTPUT, salts[i]!))));
  const reveals: number[] = [];
  for (const [i, n] of fx.nodes.entries())
    reveals.push(await gas(escrow.connect(n).reveal(k3, OUTPUT, salts[i]!, "0x")));
  rows.push({ key: "commit", value: commits[0]!, unit: "gas", note: "k = 3, one node's commitment" });
  rows.push({ key: "reveal", value: reveals[0]!, unit: "gas", note: "k = 3, a reveal that does not settle" });
  rows.push({
    key: "revealSettleK3",
    value: reveals[2]!,
    unit: "gas",
    note: "k = 3, the last reveal: majority tally and settlement of 3 nodes",
  });

  // k = 3 with one dissenter: two agree, the third revealed another output (released unpaid, not slashed).
  const split = await requestJob(fx, { redundancy: 3 });
  for (const n of fx.nodes) await escrow.connect(n).claimSlot(split);
  const outputs = [OUTPUT, OUTPUT, hexlify(Uint8Array.from([1, 0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00]))];
  for (const [i, n] of fx.nodes.entries())
    await escrow.connect(n).commit(split, resultCommitment(split.id, n.address, outputs[i]!, salts[i]!));
  const splitReveals: number[] = [];
  for (const [i, n] of fx.nodes.entries())
    splitReveals.push(await gas(escrow.connect(n).reveal(split, outputs[i]!, salts[i]!, "0x")));
  rows.push({
    key: "revealSettleK3Split",
    value: splitReveals[2]!,
    unit: "gas",
    note: "k = 3, the last reveal settling 2-1: the dissenter released unpaid, its fee and protocol fee share refunded",
  });

  rows.push({
    key: "claim",
    value: await gas(escrow.connect(node).claim(node.address)),
    unit: "gas",
    target: 50_000,
    note: "node withdraws all its credits (ERC-20 transfer to a holder)",
  });

  const late = await requestJob(fx);
  await escrow.connect(node).claimSlot(late);
  await time.increaseTo(late.deadline);
  rows.push({
    key: "expire",
    value: await gas(escrow.connect(fx.other).expire(late)),
    unit: "gas",
    note: "k = 1 after the deadline: full refund credited, the silent node slashed",
  });
  rows.push(...(await measureEvaluationGas()));
  return rows;
}

/**
 * Gas per protocol operation, on the in-process Hardhat network, against the targets of the protocol issue.
 * Figures are steady state: the accounts credited already hold a balance (an operator claims after many jobs),
 * except where a row says "cold". The per-job rows add up every transaction of one verified job (issue #15 §3).
 *
 * Run: npm run bench:gas
 */
import hre from "hardhat";
import { hexlify, keccak256, toBeHex, toUtf8Bytes, type ContractTransactionResponse } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  COLLATERAL,
  DEGENERATE_KEY,
  degenerateProof,
  factoryVerifier,
  keyHash,
  requestParams,
  systemFixture,
  teeProof,
  zkBatchProofBytes,
  zkOutput,
  zkProofBytes,
  zkVersionInput,
  type Fixture,
} from "../test/fixtures/system";
import type { IJobEscrow } from "../typechain-types/contracts/escrow/JobEscrow";
import { Mode, modeMask } from "../src/core/modes";
import { requestedJobs, resultCommitment, type Job } from "../src/core/job";
import { measureGas } from "./lib/gas";
import { measureSubscriptionGas } from "./lib/subscription-gas";
import { measurePrivacyGas } from "./lib/privacy-gas";
import { measureDirectoryGas } from "./lib/directory-gas";
import { report, type Row } from "./lib/report";

/** The 9-byte classifier output the other rows submit (label index and a fixed-point probability). */
const OUTPUT = hexlify(Uint8Array.from([2, 0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00]));
const INPUT = toUtf8Bytes("[5.1, 3.5, 1.4, 0.2]");
/** Issue #15 §3: every transaction of one verified k = 1 job, TEE or vanilla; and per node of a k > 1 job. */
const PER_JOB_TARGET = 180_000;
const PER_NODE_TARGET = 120_000;
const ZK_BATCH = 16;

async function gas(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("no receipt");
  return Number(receipt.gasUsed);
}

/** `requestFor` of a k = 1 job assigned to `node`; its gas and terms. */
async function assign(
  fx: Fixture,
  node: HardhatEthersSigner,
  overrides: Partial<IJobEscrow.RequestParamsStruct> = {},
): Promise<{ gas: number; job: Job }> {
  const tx = await fx.system.escrow.connect(fx.requester).requestFor(await requestParams(overrides), node.address);
  const receipt = await tx.wait();
  const [requested] = requestedJobs(fx.system.escrow, receipt);
  if (receipt === null || requested === undefined) throw new Error("requestFor emitted no JobRequested");
  return { gas: Number(receipt.gasUsed), job: requested.job };
}

/** A ZK version of the fixture's model under `DEGENERATE_KEY` (one public signal, as the bundled circuits). */
async function zkVersion(fx: Fixture, node: HardhatEthersSigner): Promise<number> {
  const verifier = await factoryVerifier(fx, DEGENERATE_KEY);
  await fx.system.registry.connect(fx.owner).publishVersion(1n, zkVersionInput(verifier, keyHash(DEGENERATE_KEY)));
  await fx.system.staking.connect(node).register(modeMask([Mode.Vanilla, Mode.Tee, Mode.Zk]));
  return Number(await fx.system.registry.versionCount(1n));
}

/** A ZK job's commitment (below 2^200) and its proof of `packed` under `DEGENERATE_KEY`. */
async function zkResult(job: Job, packed: bigint): Promise<string> {
  return zkProofBytes(packed, await degenerateProof((BigInt(job.inputHash) << 48n) | packed));
}

/**
 * Every transaction of one verified job, cheapest honest path first (`requestFor` + `submit`, issue #15 §3), then
 * the claim path it replaces (`request` + `claimSlot` + `submit`), ZK, and commit-reveal per node.
 */
async function measurePerJobGas(): Promise<Row[]> {
  const fx = await systemFixture();
  const { escrow } = fx.system;
  const [node, node2, node3] = fx.nodes;
  if (node === undefined || node2 === undefined || node3 === undefined) throw new Error("fixture has no nodes");
  // Steady state: node, owner and protocol already hold credits.
  const warm = await assign(fx, node, { mode: Mode.Tee });
  await escrow.connect(node).submit(warm.job, OUTPUT, await teeProof(fx, warm.job, OUTPUT));
  const rows: Row[] = [];

  const vanilla = await assign(fx, node, { input: INPUT });
  const submitVanilla = await gas(escrow.connect(node).submit(vanilla.job, OUTPUT, "0x"));
  const tee = await assign(fx, node, { mode: Mode.Tee, input: INPUT });
  const submitTee = await gas(escrow.connect(node).submit(tee.job, OUTPUT, await teeProof(fx, tee.job, OUTPUT)));

  const claimed = async (mode: Mode): Promise<number[]> => {
    const params = await requestParams({ mode, input: INPUT });
    const receipt = await (await escrow.connect(fx.requester).request(params)).wait();
    const job = requestedJobs(escrow, receipt)[0]!.job;
    const claim = await gas(escrow.connect(node).claimSlot(job));
    const proof = mode === Mode.Tee ? await teeProof(fx, job, OUTPUT) : "0x";
    return [Number(receipt!.gasUsed), claim, await gas(escrow.connect(node).submit(job, OUTPUT, proof))];
  };
  const [vr, vc, vs] = await claimed(Mode.Vanilla);
  const [tr, tc, ts] = await claimed(Mode.Tee);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const fmt = (n: number) => n.toLocaleString("en-US");

  rows.push({
    key: "perJobVanilla",
    value: vanilla.gas + submitVanilla,
    unit: "gas",
    target: PER_JOB_TARGET,
    note: `requestFor ${fmt(vanilla.gas)} + submit by the assignee ${fmt(submitVanilla)} (eligibility checked at submission); with a claim: request ${fmt(vr!)} + claimSlot ${fmt(vc!)} + submit ${fmt(vs!)} = ${fmt(sum([vr!, vc!, vs!]))}`,
  });
  rows.push({
    key: "perJobTee",
    value: tee.gas + submitTee,
    unit: "gas",
    target: PER_JOB_TARGET,
    note: `requestFor ${fmt(tee.gas)} + TEE submit by the assignee ${fmt(submitTee)}; with a claim: request ${fmt(tr!)} + claimSlot ${fmt(tc!)} + submit ${fmt(ts!)} = ${fmt(sum([tr!, tc!, ts!]))}`,
  });
  rows.push({
    key: "requestFor",
    value: vanilla.gas,
    unit: "gas",
    note: "vanilla, k = 1, 20-byte inline input, assigned to a node (its address packed into the job's state slot)",
  });
  rows.push({
    key: "submitAssignedVanilla",
    value: submitVanilla,
    unit: "gas",
    note: "the assignee's vanilla submit: staking eligibility against the collateral, settlement (9-byte output)",
  });
  rows.push({
    key: "submitAssignedTee",
    value: submitTee,
    unit: "gas",
    note: "the assignee's TEE submit: eligibility, EIP-712 check, enclave and measurement lookup, settlement",
  });
  rows.push({
    key: "perJobVanillaClaimed",
    value: sum([vr!, vc!, vs!]),
    unit: "gas",
    note: "request + claimSlot + submit",
  });
  rows.push({
    key: "perJobTeeClaimed",
    value: sum([tr!, tc!, ts!]),
    unit: "gas",
    note: "request + claimSlot + submit",
  });

  // ZK, input by commitment (no inline input): one proof per job, then 16 jobs with one batched proof.
  const version = await zkVersion(fx, node);
  const zkParams = (i: number) => ({
    mode: Mode.Zk,
    version,
    input: "0x",
    inputCommitment: toBeHex(BigInt(keccak256(toUtf8Bytes(`bench:gas zk ${i}`))) >> 56n, 32),
  });
  const zk = await assign(fx, node, zkParams(0));
  const zkSubmit = await gas(escrow.connect(node).submit(zk.job, zkOutput(5n), await zkResult(zk.job, 5n)));
  rows.push({
    key: "perJobZk",
    value: zk.gas + zkSubmit,
    unit: "gas",
    note: `requestFor ${fmt(zk.gas)} + ZK submit ${fmt(zkSubmit)} (a one-signal Groth16 key whose pairing costs as a real circuit's; bench:zk settles the bundled model's real proofs)`,
  });
  const batch: Job[] = [];
  let requested = 0;
  for (let i = 1; i <= ZK_BATCH; i++) {
    const assigned = await assign(fx, node, zkParams(i));
    requested += assigned.gas;
    batch.push(assigned.job);
  }
  const packed = batch.map((_, i) => BigInt(i + 1));
  const proofs = await Promise.all(batch.map((job, i) => degenerateProof((BigInt(job.inputHash) << 48n) | packed[i]!)));
  const settle = await gas(
    escrow.connect(node).submitBatch(batch, packed.map(zkOutput), zkBatchProofBytes(packed, proofs)),
  );
  rows.push({
    key: "perJobZkBatch16",
    value: Math.round((requested + settle) / ZK_BATCH),
    unit: "gas",
    note: `(16 requestFor ${fmt(requested)} + one submitBatch of 16 ${fmt(settle)}) / 16`,
  });

  // k = 3, commit-reveal: every transaction of the job, per node.
  const k3Receipt = await (
    await escrow.connect(fx.requester).request(await requestParams({ redundancy: 3, input: INPUT }))
  ).wait();
  const k3 = requestedJobs(escrow, k3Receipt)[0]!.job;
  const nodes = [node, node2, node3];
  let k3Gas = Number(k3Receipt!.gasUsed);
  for (const n of nodes) k3Gas += await gas(escrow.connect(n).claimSlot(k3));
  const salts = nodes.map((_, i) => keccak256(toUtf8Bytes(`bench:gas k3 salt ${i}`)));
  for (const [i, n] of nodes.entries())
    k3Gas += await gas(escrow.connect(n).commit(k3, resultCommitment(k3.id, n.address, OUTPUT, salts[i]!)));
  for (const [i, n] of nodes.entries()) k3Gas += await gas(escrow.connect(n).reveal(k3, OUTPUT, salts[i]!, "0x"));
  rows.push({
    key: "perNodeK3",
    value: Math.round(k3Gas / 3),
    unit: "gas",
    target: PER_NODE_TARGET,
    note: `vanilla k = 3, (request + 3 claimSlot + 3 commit + 3 reveal) / 3 (${fmt(k3Gas)} in all)`,
  });
  return rows;
}

async function main(): Promise<void> {
  const rows = [
    ...(await measurePerJobGas()),
    ...(await measureGas()),
    ...(await measureSubscriptionGas()),
    ...(await measurePrivacyGas()),
    ...(await measureDirectoryGas()),
  ];
  const solc = hre.config.solidity.compilers[0];
  const runs = solc?.settings?.optimizer?.runs as number | undefined;
  report(
    "gas",
    `Gas per operation (Hardhat network, solc ${solc?.version ?? "?"}, optimizer ${runs?.toLocaleString("en-US") ?? "?"} runs, collateral ${COLLATERAL / 10n ** 18n} tokens)`,
    rows,
    {
      network: hre.network.name,
    },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

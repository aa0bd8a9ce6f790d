/**
 * Gas of batched receipt settlement (issue #14 §4) on the in-process Hardhat network: one `commitBatch` and one
 * `finalize` per batch, per receipt at 100, 1,000 and 4,096 (the most) receipts per batch, against the target
 * of 2,000 gas per receipt at 1,000; and a one-leaf challenge of the largest batch, for reference.
 *
 * Run: npx hardhat run bench/receipts.ts (writes bench/results/receipts.json)
 */
import { loadChat, measureSettlementGas } from "../test/unit/chat/receipts.fixture";
import { report, type Row } from "./lib/report";

const TARGET = 2_000;

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const count of [100, 1_000, 4_096]) {
    const gas = await measureSettlementGas(await loadChat(), count);
    rows.push({
      key: `settle ${count} receipts, per receipt`,
      value: Math.round(gas.perReceipt * 10) / 10,
      unit: "gas",
      ...(count === 1_000 ? { target: TARGET } : {}),
      note: `commitBatch ${gas.commitGas} + finalize ${gas.finalizeGas}`,
    });
    if (count === 4_096)
      rows.push({
        key: `challenge one leaf of ${count}`,
        value: Number(gas.challengeGas),
        unit: "gas",
        note: "commit-reveal's reveal: 12-sibling proof, signature, registry and price checks, bond split",
      });
  }
  report("receipts", "Batched receipt settlement", rows);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

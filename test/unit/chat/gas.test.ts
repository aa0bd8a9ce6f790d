import { expect } from "chai";
import hre from "hardhat";
import { loadChat, measureSettlementGas } from "./receipts.fixture";

/** Issue #14 §4: settlement at most 2,000 gas per receipt at 1,000 receipts per batch. */
const PER_RECEIPT_TARGET = 2_000;

describe("ReceiptSettlement gas", () => {
  it("settles 1,000 receipts in one commit and one finalize at most 2,000 gas per receipt", async () => {
    const fx = await loadChat();
    const gas = await measureSettlementGas(fx, 1_000);
    console.log(
      `      commitBatch ${gas.commitGas} + finalize ${gas.finalizeGas} gas for ${gas.count} receipts: ` +
        `${gas.perReceipt.toFixed(1)} gas per receipt; a one-leaf challenge ${gas.challengeGas}`,
    );
    // The cost of a batch does not grow with its size: nothing is stored or hashed per receipt on-chain.
    const small = await measureSettlementGas(await loadChat(), 2);
    expect(gas.commitGas - small.commitGas).to.be.lessThan(1_000n);
    const instrumented = (hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING;
    if (!instrumented) expect(gas.perReceipt).to.be.at.most(PER_RECEIPT_TARGET);
  });
});

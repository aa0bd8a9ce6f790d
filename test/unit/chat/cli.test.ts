import { expect } from "chai";
import { Command } from "commander";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { InputError, VerificationError, exitCodeOf } from "../../../src/core/errors";
import { encodeBatchData, encodeReceiptFile, type ReceiptFile, type SignedReceipt } from "../../../src/core/receipts";
import { challenge, findBatchFaults, proveInclusion } from "../../../src/sdk/receipts";
import * as receiptCommand from "../../../src/cli/commands/receipt";
import type { GlobalOptions } from "../../../src/cli/options";
import { expectRejection } from "../../fixtures/assert";
import { commit, commitRaw, loadChat, signedReceipts, type ChatFixture } from "./receipts.fixture";

describe("vin receipt verify", () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(tmpdir(), "vin-receipt-"));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const write = (name: string, text: string) => {
    const file = path.join(tmp, name);
    writeFileSync(file, text);
    return file;
  };
  const fileOf = (fx: ChatFixture, signed: SignedReceipt): ReceiptFile => ({
    ...signed,
    chainId: BigInt(fx.domain.chainId!),
    teeVerifier: fx.domain.verifyingContract!,
  });

  it("verifies a receipt and its inclusion, from the file or from the batch's published data", async () => {
    const fx = await loadChat();
    const receipts = await signedReceipts(fx, 3);
    const batch = await commit(fx, receipts);
    const bare = write("bare.json", encodeReceiptFile(fileOf(fx, receipts[1]!)));
    const data = write("batch.json", encodeBatchData(batch.data));
    const fromData = receiptCommand.loadReceiptFile(bare, { batch: String(batch.batchId), data });
    expect(fromData.inclusion).to.deep.equal(proveInclusion(batch.tree, batch.batchId, 1));
    const report = await receiptCommand.verifyReceiptFile(fx.system, fromData);
    expect(report.ok).to.equal(true);
    expect(report.checks.map((c) => [c.name, c.ok])).to.deep.equal([
      ["receipt", true],
      ["inclusion", true],
    ]);
    expect(report.checks[1]!.detail).to.equal(`leaf 1 of batch ${batch.batchId} (pending)`);
    const included = write("included.json", encodeReceiptFile(fromData));
    expect((await receiptCommand.verifyReceiptFile(fx.system, receiptCommand.loadReceiptFile(included))).ok).to.equal(
      true,
    );
  });

  it("fails with the reason for a receipt priced off the card, and for one in a cancelled batch", async () => {
    const fx = await loadChat();
    const receipts = [
      ...(await signedReceipts(fx, 1, () => ({ price: 1n }))),
      ...(await signedReceipts(fx, 1, () => ({}), Wallet.createRandom())),
    ];
    const batch = await commitRaw(fx, receipts);
    const [fault] = await findBatchFaults(fx.settlement, fx.system, batch.batchId, batch.data);
    await challenge(fx.settlement.connect(fx.watcher), batch.batchId, fault!, { waitForBlock: () => mine() });
    const file = { ...fileOf(fx, receipts[0]!), inclusion: proveInclusion(batch.tree, batch.batchId, 0) };
    const report = await receiptCommand.verifyReceiptFile(fx.system, file);
    expect(report.ok).to.equal(false);
    expect(report.checks.map((c) => [c.name, c.ok])).to.deep.equal([
      ["receipt", false],
      ["inclusion", false],
    ]);
    expect(report.checks[0]!.detail).to.match(/its price is 1, not/);
    expect(report.checks[1]!.detail).to.match(/cancelled by a challenge/);
  });

  it("refuses a malformed file, a --batch the inclusion does not name, and --data without --batch", async () => {
    const fx = await loadChat();
    const [signed] = await signedReceipts(fx, 1);
    const batch = await commit(fx, [signed!]);
    const included = write(
      "one.json",
      encodeReceiptFile({ ...fileOf(fx, signed!), inclusion: proveInclusion(batch.tree, batch.batchId, 0) }),
    );
    expect(() => receiptCommand.loadReceiptFile(included, { batch: "2" })).to.throw(
      VerificationError,
      /names batch 1, not 2/,
    );
    expect(() => receiptCommand.loadReceiptFile(included, { data: included })).to.throw(InputError, /--data needs/);
    expect(() => receiptCommand.loadReceiptFile(included, { batch: "x" })).to.throw(InputError, /--batch must be/);
    const broken = write("broken.json", JSON.stringify({ receipt: {}, signature: "0x" }));
    expect(() => receiptCommand.loadReceiptFile(broken)).to.throw(InputError, /broken.json is malformed: "settlement"/);

    // Through the command: the malformed file is refused before any chain is read, with a non-zero exit code.
    const program = new Command("vin").exitOverride();
    const global = (): GlobalOptions => ({ config: path.join(tmp, "no-config.json"), ipfsDir: tmp });
    receiptCommand.register(program, global);
    const error = await expectRejection(
      program.parseAsync(["node", "vin", "receipt", "verify", broken]),
      InputError,
      /is malformed/,
    );
    expect(exitCodeOf(error)).to.not.equal(0);
  });
});

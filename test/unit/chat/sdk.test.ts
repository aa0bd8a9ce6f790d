import { expect } from "chai";
import hre from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, keccak256, toUtf8Bytes } from "ethers";
import { ConflictError, InputError, IntegrityError, RevertError, VerificationError } from "../../../src/core/errors";
import { connectContracts, addressesFromRecord, requireReceiptSettlement } from "../../../src/core/contracts";
import { parseDeployment } from "../../../src/core/deployment";
import { signReceipt, type ReceiptFile, type SignedReceipt } from "../../../src/core/receipts";
import {
  ReceiptFault,
  challenge,
  checkReceipt,
  findBatchFaults,
  postBatch,
  proveInclusion,
  verifyInclusion,
} from "../../../src/sdk/receipts";
import { governor, MEASUREMENT } from "../../fixtures/system";
import { expectRejection } from "../../fixtures/assert";
import { commit, commitRaw, loadChat, makeReceipt, signedReceipts, type ChatFixture } from "./receipts.fixture";

/** A client's file of `signed`, without an inclusion yet. */
function receiptFile(fx: ChatFixture, signed: SignedReceipt): ReceiptFile {
  return { ...signed, chainId: BigInt(fx.domain.chainId!), teeVerifier: fx.domain.verifyingContract! };
}

describe("sdk/receipts", () => {
  describe("checkReceipt", () => {
    it("accepts an honest receipt and returns its enclave, measurement and price per token", async () => {
      const fx = await loadChat();
      const [signed] = await signedReceipts(fx, 1);
      const checked = await checkReceipt(fx.system, fx.settlement, signed!, {
        requestHash: keccak256(toUtf8Bytes("request")),
        responseHash: keccak256(toUtf8Bytes("response")),
        operator: fx.operator.address,
      });
      expect(checked.enclave).to.equal(fx.enclave.address);
      expect(checked.measurement).to.equal(MEASUREMENT);
      expect(checked.perToken).to.equal(
        await fx.settlement.priceOf(fx.operator.address, fx.modelId, signed!.receipt.issuedAt),
      );
    });

    it("refuses, saying why, a receipt of another key, contract, operator, price, version or response", async () => {
      const fx = await loadChat();
      const base = await makeReceipt(fx);
      const check = async (receipt: typeof base, key = fx.enclave, options = {}) =>
        checkReceipt(fx.system, fx.settlement, await signReceipt(key, fx.domain, receipt), options);
      await expectRejection(
        check(base, Wallet.createRandom()),
        VerificationError,
        /its signer is 0x[0-9a-fA-F]{40}, not/,
      );
      const elsewhere = Wallet.createRandom().address;
      await expectRejection(check({ ...base, settlement: elsewhere }), VerificationError, /settlement contract/);
      await expectRejection(check({ ...base, price: base.price + 1n }), VerificationError, /its price is .* per token/);
      await expectRejection(check({ ...base, version: 2n }), VerificationError, /does not bind the measurement/);
      await expectRejection(
        check(base, fx.enclave, { responseHash: keccak256(toUtf8Bytes("other")) }),
        VerificationError,
        /response hash/,
      );
      await expectRejection(
        check({ ...base, operator: fx.nodes[1]!.address }),
        VerificationError,
        /registered to .*, not to the gateway's operator/,
      );
      await fx.system.teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
      await expectRejection(check(base), VerificationError, /was revoked/);
    });

    it("refuses a receipt signed for another chain", async () => {
      const fx = await loadChat();
      const receipt = await makeReceipt(fx);
      const signed = await signReceipt(fx.enclave, { ...fx.domain, chainId: 1n }, receipt);
      await expectRejection(checkReceipt(fx.system, fx.settlement, signed), VerificationError, /its signer/);
    });
  });

  describe("postBatch", () => {
    it("commits one batch whose data hashes to the emitted dataHash and whose root is the tree's", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 7);
      const posted = await postBatch(fx.settlement.connect(fx.operator), fx.enclave.address, receipts);
      expect(posted.batchId).to.equal(1n);
      const batch = await fx.settlement.batch(posted.batchId);
      expect(batch.root).to.equal(posted.tree.root);
      expect(batch.total).to.equal(posted.tree.total);
      expect((await hre.ethers.provider.getTransactionReceipt(posted.transactionHash))?.status).to.equal(1);
      const [event] = await fx.settlement.queryFilter(fx.settlement.filters.BatchCommitted(posted.batchId));
      expect(event!.args.dataHash).to.equal(posted.dataHash);
    });

    it("refuses a reused payment id, a receipt of another enclave, and decodes the contract's revert", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 2);
      const operatorSettlement = fx.settlement.connect(fx.operator);
      await expectRejection(
        postBatch(operatorSettlement, fx.enclave.address, [...receipts, receipts[0]!]),
        ConflictError,
        /spends payment id .* again/,
      );
      await expectRejection(
        postBatch(operatorSettlement, Wallet.createRandom().address, receipts),
        InputError,
        /names enclave/,
      );
      await expectRejection(postBatch(operatorSettlement, fx.enclave.address, []), InputError, /1 to 4096 receipts/);
      const expensive = await signedReceipts(fx, 1, () => ({ promptTokens: 10n ** 9n, completionTokens: 10n ** 9n }));
      const error = await expectRejection(
        postBatch(operatorSettlement, fx.enclave.address, expensive),
        RevertError,
        /commitBatch reverted with ReceiptSettlementInsufficientCredit/,
      );
      expect((error as RevertError).errorName).to.equal("ReceiptSettlementInsufficientCredit");
    });
  });

  describe("proveInclusion and verifyInclusion", () => {
    it("proves every receipt of a batch against the chain, and nothing else", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 5);
      const batch = await commit(fx, receipts);
      for (let index = 0; index < 5; index += 1) {
        const file = {
          ...receiptFile(fx, receipts[index]!),
          inclusion: proveInclusion(batch.tree, batch.batchId, index),
        };
        expect((await verifyInclusion(fx.settlement, file)).root).to.equal(batch.tree.root);
      }
      const file = receiptFile(fx, receipts[0]!);
      await expectRejection(
        verifyInclusion(fx.settlement, { ...file, inclusion: proveInclusion(batch.tree, batch.batchId, 1) }),
        VerificationError,
        /does not lead to its root/,
      );
      await expectRejection(
        verifyInclusion(fx.settlement, { ...file, inclusion: proveInclusion(batch.tree, 9n, 0) }),
        VerificationError,
        /no such batch/,
      );
      await expectRejection(verifyInclusion(fx.settlement, file), InputError, /has no inclusion/);
    });

    it("refuses a receipt of a cancelled batch", async () => {
      const fx = await loadChat();
      const receipts = [
        ...(await signedReceipts(fx, 1)),
        ...(await signedReceipts(fx, 1, () => ({}), Wallet.createRandom())),
      ];
      const batch = await commitRaw(fx, receipts);
      const [fault] = await findBatchFaults(fx.settlement, fx.system, batch.batchId, batch.data);
      await challenge(fx.settlement.connect(fx.watcher), batch.batchId, fault!, { waitForBlock: () => mine() });
      const file = { ...receiptFile(fx, receipts[0]!), inclusion: proveInclusion(batch.tree, batch.batchId, 0) };
      await expectRejection(verifyInclusion(fx.settlement, file), VerificationError, /cancelled by a challenge/);
    });
  });

  describe("findBatchFaults and challenge", () => {
    it("finds no fault in an honest batch", async () => {
      const fx = await loadChat();
      const first = await commit(fx, await signedReceipts(fx, 4));
      const second = await commit(fx, await signedReceipts(fx, 3));
      expect(await findBatchFaults(fx.settlement, fx.system, first.batchId, first.data)).to.deep.equal([]);
      expect(
        await findBatchFaults(fx.settlement, fx.system, second.batchId, second.data, [
          { batchId: first.batchId, data: first.data },
        ]),
      ).to.deep.equal([]);
    });

    it("finds each fault and challenges it to a cancelled batch and a reward", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 4, (i) => (i === 1 ? { price: 1n } : i === 2 ? { version: 2n } : {}));
      const earlier = await commit(fx, await signedReceipts(fx, 2));
      const reused = earlier.data.receipts[0]!;
      const batch = await commitRaw(fx, [...receipts, reused]);
      const faults = await findBatchFaults(fx.settlement, fx.system, batch.batchId, batch.data, [
        { batchId: earlier.batchId, data: earlier.data },
      ]);
      expect(faults.map((f) => [f.kind, f.index, f.kind === "receipt" ? f.fault : undefined])).to.deep.equal([
        ["receipt", 1, ReceiptFault.WrongPrice],
        ["receipt", 2, ReceiptFault.UnboundVersion],
        ["duplicate", 4, undefined],
      ]);
      await challenge(fx.settlement.connect(fx.watcher), batch.batchId, faults[2]!, { waitForBlock: () => mine() });
      expect((await fx.settlement.batch(batch.batchId)).status).to.equal(3n);
      expect(await fx.settlement.balanceOf(fx.watcher.address)).to.be.greaterThan(0n);
      await expectRejection(
        challenge(fx.settlement.connect(fx.watcher), batch.batchId, faults[0]!, { waitForBlock: () => mine() }),
        RevertError,
        /ReceiptSettlementBatchNotPending/,
      );
    });

    it("refuses data that is not the committed batch's", async () => {
      const fx = await loadChat();
      const batch = await commit(fx, await signedReceipts(fx, 2));
      const other = { ...batch.data, receipts: batch.data.receipts.slice(0, 1) };
      await expectRejection(
        findBatchFaults(fx.settlement, fx.system, batch.batchId, other),
        IntegrityError,
        /does not build/,
      );
    });
  });

  describe("deployment record", () => {
    it("connects the settlement when the record names it, and loads a record without it", async () => {
      const fx = await loadChat();
      const record = fx.system.record;
      const contracts = connectContracts(addressesFromRecord(record), hre.ethers.provider);
      expect(await requireReceiptSettlement(contracts).getAddress()).to.equal(await fx.settlement.getAddress());
      const { receiptSettlement: _dropped, ...rest } = record.contracts;
      const old = parseDeployment({ ...record, contracts: rest });
      expect(old.contracts.receiptSettlement).to.equal(undefined);
      expect(connectContracts(addressesFromRecord(old), hre.ethers.provider).receiptSettlement).to.equal(undefined);
      expect(() => requireReceiptSettlement({})).to.throw(InputError, /no "receiptSettlement" address/);
    });
  });
});

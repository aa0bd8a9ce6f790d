import { expect } from "chai";
import { Wallet, ZeroHash, hexlify, keccak256, randomBytes } from "ethers";
import {
  LEAF_TAG,
  MAX_BATCH,
  buildReceiptTree,
  encodeBatchData,
  encodeReceiptFile,
  hashPair,
  parseBatchData,
  parseReceiptFile,
  receiptDigest,
  receiptLeafHash,
  receiptProof,
  receiptSigner,
  treeDepth,
  treeOfLeaves,
  verifyReceiptProof,
} from "../../../src/core/receipts";
import { InputError } from "../../../src/core/errors";
import { loadChat, makeReceipt, signedReceipts } from "./receipts.fixture";

const leaves = (n: number) => Array.from({ length: n }, () => hexlify(randomBytes(32)));

describe("core/receipts", () => {
  describe("receiptDigest and receiptLeafHash", () => {
    it("match the contract's receiptDigest and leafHash", async () => {
      const fx = await loadChat();
      const [signed] = await signedReceipts(fx, 1);
      const digest = receiptDigest(fx.domain, signed!.receipt);
      expect(await fx.settlement.receiptDigest(signed!.receipt)).to.equal(digest);
      expect(receiptSigner(fx.domain, signed!)).to.equal(fx.enclave.address);
      const leaf = { ...signed!, cumulative: 1234n, index: 0, proof: [] };
      expect(await fx.settlement.leafHash(leaf)).to.equal(receiptLeafHash(digest, signed!.signature, 1234n));
    });

    it("binds every field: changing any one changes the digest", async () => {
      const fx = await loadChat();
      const receipt = await makeReceipt(fx);
      const base = receiptDigest(fx.domain, receipt);
      const changed: Record<string, unknown> = {
        settlement: Wallet.createRandom().address,
        operator: Wallet.createRandom().address,
        enclave: Wallet.createRandom().address,
        modelId: 2n,
        version: 2n,
        requestHash: ZeroHash,
        responseHash: ZeroHash,
        promptTokens: 1n,
        completionTokens: 1n,
        price: 1n,
        paymentId: ZeroHash,
        issuedAt: 1n,
      };
      for (const [name, value] of Object.entries(changed)) {
        expect(receiptDigest(fx.domain, { ...receipt, [name]: value }), name).to.not.equal(base);
      }
      expect(receiptDigest({ ...fx.domain, chainId: 1n }, receipt)).to.not.equal(base);
    });
  });

  describe("tree", () => {
    it("has depth ceil(log2(count)) and a root that is the leaf for one leaf", () => {
      expect([1, 2, 3, 4, 5, 1000, 1024, 1025, MAX_BATCH].map(treeDepth)).to.deep.equal([
        0, 1, 2, 2, 3, 10, 10, 11, 12,
      ]);
      const [leaf] = leaves(1);
      expect(treeOfLeaves([leaf!]).root).to.equal(leaf);
      const three = leaves(3);
      expect(treeOfLeaves(three).root).to.equal(
        hashPair(hashPair(three[0]!, three[1]!), hashPair(three[2]!, ZeroHash)),
      );
    });

    it("proves every leaf of trees of 1 to 33 leaves, and nothing else", () => {
      for (let count = 1; count <= 33; count += 1) {
        const hashes = leaves(count);
        const tree = { ...treeOfLeaves(hashes) };
        for (let index = 0; index < count; index += 1) {
          const proof = receiptProof(tree, index);
          expect(verifyReceiptProof(tree.root, count, hashes[index]!, index, proof)).to.equal(true);
          expect(verifyReceiptProof(tree.root, count, hashes[(index + 1) % count]!, index, proof)).to.equal(
            count === 1,
          );
          if (proof.length > 0) {
            const bad = [...proof];
            bad[0] = keccak256(bad[0]!);
            expect(verifyReceiptProof(tree.root, count, hashes[index]!, index, bad)).to.equal(false);
            expect(verifyReceiptProof(tree.root, count, hashes[index]!, index, proof.slice(1))).to.equal(false);
          }
          expect(verifyReceiptProof(tree.root, count, hashes[index]!, index + count, proof)).to.equal(false);
        }
      }
    });

    it("cannot pass an inner node off as a leaf: a node's proof from one level up does not verify", () => {
      const hashes = leaves(4);
      const tree = treeOfLeaves(hashes);
      const node = hashPair(hashes[0]!, hashes[1]!);
      // As a leaf of a 2-leaf tree the node's sibling would do, but the depth of 4 leaves is 2.
      expect(verifyReceiptProof(tree.root, 4, node, 0, [tree.levels[1]![1]!])).to.equal(false);
      expect(verifyReceiptProof(tree.root, 2, node, 0, [tree.levels[1]![1]!])).to.equal(true);
      // ...which is why the contract takes the count from the batch, and leaves hash 128 bytes with a tag.
      expect(LEAF_TAG).to.equal(keccak256(Buffer.from("InferenceReceiptLeaf")));
    });

    it("keeps running sums and the total", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 3, (i) => ({ promptTokens: BigInt(i), completionTokens: 1n }));
      const tree = buildReceiptTree(fx.domain, receipts);
      const prices = receipts.map((r) => r.receipt.price);
      expect(tree.leaves.map((l) => l.cumulative)).to.deep.equal([
        prices[0],
        prices[0]! + prices[1]!,
        prices[0]! + prices[1]! + prices[2]!,
      ]);
      expect(tree.total).to.equal(prices[0]! + prices[1]! + prices[2]!);
    });

    it("refuses an empty batch, one over MAX_BATCH and a proof index outside the batch", () => {
      expect(() => buildReceiptTree({}, [])).to.throw(InputError, /1 to 4096 receipts, got 0/);
      expect(() => receiptProof(treeOfLeaves(leaves(2)), 2)).to.throw(InputError, /outside the batch's 2 leaves/);
    });
  });

  describe("JSON", () => {
    it("round-trips a receipt file and batch data", async () => {
      const fx = await loadChat();
      const receipts = await signedReceipts(fx, 2);
      const tree = buildReceiptTree(fx.domain, receipts);
      const file = {
        ...receipts[1]!,
        chainId: BigInt(fx.domain.chainId!),
        teeVerifier: fx.domain.verifyingContract!,
        inclusion: { batchId: 7n, index: 1, cumulative: tree.leaves[1]!.cumulative, proof: receiptProof(tree, 1) },
      };
      const parsed = parseReceiptFile(JSON.parse(encodeReceiptFile(file)));
      expect(parsed.receipt).to.deep.equal({
        ...file.receipt,
        requestHash: file.receipt.requestHash.toLowerCase(),
        responseHash: file.receipt.responseHash.toLowerCase(),
        paymentId: file.receipt.paymentId.toLowerCase(),
      });
      expect(parsed.inclusion).to.deep.equal(file.inclusion);
      expect(receiptDigest(fx.domain, parsed.receipt)).to.equal(receiptDigest(fx.domain, file.receipt));
      const data = { chainId: 31337n, settlement: file.receipt.settlement, teeVerifier: file.teeVerifier, receipts };
      expect(buildReceiptTree(fx.domain, parseBatchData(JSON.parse(encodeBatchData(data))).receipts).root).to.equal(
        tree.root,
      );
    });

    it("names the field that is malformed", async () => {
      const fx = await loadChat();
      const [signed] = await signedReceipts(fx, 1);
      const file = JSON.parse(
        encodeReceiptFile({ ...signed!, chainId: 31337n, teeVerifier: fx.domain.verifyingContract! }),
      ) as Record<string, Record<string, unknown>>;
      const broken = (path: [string, string] | [string], value: unknown) => {
        const copy = JSON.parse(JSON.stringify(file)) as Record<string, Record<string, unknown>>;
        if (path.length === 1) (copy as Record<string, unknown>)[path[0]] = value;
        else copy[path[0]]![path[1]] = value;
        return () => parseReceiptFile(copy);
      };
      expect(broken(["receipt", "price"], "-1")).to.throw(InputError, /"price" must be an unsigned 96-bit integer/);
      expect(broken(["receipt", "price"], (1n << 96n).toString())).to.throw(InputError, /"price"/);
      expect(broken(["receipt", "paymentId"], "0x12")).to.throw(InputError, /"paymentId" must be 32 bytes/);
      expect(broken(["receipt", "operator"], "nope")).to.throw(InputError, /"operator" must be 20 bytes/);
      expect(broken(["signature"], "0x00")).to.throw(InputError, /"signature" must be 65 bytes/);
      expect(broken(["receipt"], null)).to.throw(InputError, /"receipt" must be a JSON object/);
      expect(() => parseBatchData({ chainId: 1, receipts: [] })).to.throw(InputError, /"receipts" must be an array/);
    });
  });
});

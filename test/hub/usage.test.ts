import { expect } from "chai";
import { countsAsUsage, settledPayment } from "../../src/hub/usage";

const TOKEN = 10n ** 18n;

describe("usage", () => {
  describe("settledPayment", () => {
    it("is the whole escrowed amount when every node agreed", () => {
      const terms = { modelFee: 2n * TOKEN, feePerNode: TOKEN, protocolFee: 25n * 10n ** 16n, redundancy: 3 };
      expect(settledPayment(terms, 3)).to.deep.equal({
        protocolFee: 25n * 10n ** 16n,
        paid: 5_250_000_000_000_000_000n,
      });
    });

    it("leaves out a dissenter's fee and the protocol fee charged on it (2 of 3 agreeing)", () => {
      const terms = { modelFee: 2n * TOKEN, feePerNode: TOKEN, protocolFee: 25n * 10n ** 16n, redundancy: 3 };
      // protocol keeps 0.25 × (2 + 2) / (2 + 3) = 0.2 tokens; paid 2 + 2 + 0.2
      expect(settledPayment(terms, 2)).to.deep.equal({
        protocolFee: 2n * 10n ** 17n,
        paid: 4_200_000_000_000_000_000n,
      });
    });

    it("rounds the protocol's share down, as the escrow does", () => {
      expect(settledPayment({ modelFee: 0n, feePerNode: 1n, protocolFee: 7n, redundancy: 3 }, 2)).to.deep.equal({
        protocolFee: 4n,
        paid: 6n,
      });
    });

    it("is zero for a job with no price, no node fee and no protocol fee", () => {
      expect(settledPayment({ modelFee: 0n, feePerNode: 0n, protocolFee: 0n, redundancy: 3 }, 2)).to.deep.equal({
        protocolFee: 0n,
        paid: 0n,
      });
    });
  });

  describe("countsAsUsage", () => {
    it("counts a protocol fee at or above the floor, not below it", () => {
      expect(countsAsUsage(10n ** 15n, 10n ** 15n)).to.equal(true);
      expect(countsAsUsage(10n ** 15n - 1n, 10n ** 15n)).to.equal(false);
      expect(countsAsUsage(0n, 0n)).to.equal(true);
    });

    it("counts nothing while the floor is unknown", () => {
      expect(countsAsUsage(10n ** 30n, undefined)).to.equal(false);
    });
  });
});

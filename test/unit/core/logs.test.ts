import { expect } from "chai";
import type { Filter, Log, Provider } from "ethers";
import { InputError, TransportError } from "../../../src/core/errors";
import { getLogsChunked } from "../../../src/core/logs";
import { expectRejection } from "../../fixtures/assert";

/** A provider holding one log per block of `blocks`, recording every range it is asked for. */
function fakeProvider(blocks: number[], failures: Record<string, number> = {}) {
  const requests: { from: number; to: number }[] = [];
  const provider: Pick<Provider, "getLogs"> = {
    getLogs: async (filter: Filter) => {
      const [from, to] = [Number(filter.fromBlock), Number(filter.toBlock)];
      requests.push({ from, to });
      const key = `${from}..${to}`;
      if ((failures[key] ?? 0) > 0) {
        failures[key]!--;
        throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8545"), { code: "ECONNREFUSED" });
      }
      return blocks
        .filter((b) => b >= from && b <= to)
        .map((blockNumber) => ({ blockNumber, address: filter.address }) as unknown as Log);
    },
  };
  return { provider, requests };
}

const params = { address: "0x00000000000000000000000000000000000000e5", topics: [] };

describe("getLogsChunked", () => {
  it("reads the range in requests of at most maxRange blocks, covering every block once, and returns the logs in order", async () => {
    const { provider, requests } = fakeProvider([0, 4, 5, 9, 10, 11]);
    const logs = await getLogsChunked(provider, { ...params, fromBlock: 0, toBlock: 11, maxRange: 5 });
    expect(requests).to.deep.equal([
      { from: 0, to: 4 },
      { from: 5, to: 9 },
      { from: 10, to: 11 },
    ]);
    expect(logs.map((l) => l.blockNumber)).to.deep.equal([0, 4, 5, 9, 10, 11]);
  });

  it("reads a range no larger than maxRange in one request, and nothing when toBlock is below fromBlock", async () => {
    const { provider, requests } = fakeProvider([3]);
    expect(
      (await getLogsChunked(provider, { ...params, fromBlock: 3, toBlock: 7, maxRange: 5 })).map((l) => l.blockNumber),
    ).to.deep.equal([3]);
    expect(await getLogsChunked(provider, { ...params, fromBlock: 8, toBlock: 7 })).to.deep.equal([]);
    expect(requests).to.deep.equal([{ from: 3, to: 7 }]);
  });

  it("reads 2,000 blocks per request by default", async () => {
    const { provider, requests } = fakeProvider([]);
    await getLogsChunked(provider, { ...params, fromBlock: 1, toBlock: 4_500 });
    expect(requests).to.deep.equal([
      { from: 1, to: 2_000 },
      { from: 2_001, to: 4_000 },
      { from: 4_001, to: 4_500 },
    ]);
  });

  it("retries a request whose transport failed, then goes on with the next range", async () => {
    const { provider, requests } = fakeProvider([2, 6], { "5..8": 2 });
    const logs = await getLogsChunked(provider, {
      ...params,
      fromBlock: 1,
      toBlock: 8,
      maxRange: 4,
      retry: { attempts: 3, backoffMs: 1 },
    });
    expect(logs.map((l) => l.blockNumber)).to.deep.equal([2, 6]);
    expect(requests.map((r) => `${r.from}..${r.to}`)).to.deep.equal(["1..4", "5..8", "5..8", "5..8"]);
  });

  it("throws a TransportError naming the range when a request fails every attempt", async () => {
    const { provider } = fakeProvider([], { "0..9": 5 });
    await expectRejection(
      getLogsChunked(provider, { ...params, fromBlock: 0, toBlock: 9, retry: { attempts: 2, backoffMs: 1 } }),
      TransportError,
      /eth_getLogs 0\.\.9 failed after 2 attempt\(s\)/,
    );
  });

  for (const maxRange of [0, -1, 1.5]) {
    it(`throws InputError for maxRange ${maxRange}, before any request`, async () => {
      const { provider, requests } = fakeProvider([]);
      await expectRejection(
        getLogsChunked(provider, { ...params, fromBlock: 0, toBlock: 9, maxRange }),
        InputError,
        new RegExp(`maxRange ${maxRange} is out of range`),
      );
      expect(requests).to.deep.equal([]);
    });
  }
});

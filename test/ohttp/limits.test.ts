import { expect } from "chai";
import { ConfigError } from "../../src/core/errors";
import { TokenBucket } from "../../src/ohttp/rate";
import { ReplayCache } from "../../src/ohttp/replay";

describe("ohttp replay record", function () {
  const enc = (n: number) => new Uint8Array(32).fill(n);

  it("refuses an enc seen within 2 × window and forgets it afterwards", function () {
    let now = 1_000_000;
    const cache = new ReplayCache({ windowMs: 1_000, now: () => now });
    expect(cache.remember(enc(1))).to.equal("fresh");
    now += 1_999;
    expect(cache.remember(enc(1))).to.equal("replayed");
    now += 1;
    expect(cache.remember(enc(2))).to.equal("fresh");
    expect(cache.size).to.equal(1);
    expect(cache.remember(enc(1))).to.equal("fresh");
  });

  it("fails closed when full of live entries instead of forgetting one", function () {
    let now = 0;
    const cache = new ReplayCache({ windowMs: 1_000, maxEntries: 2, now: () => now });
    expect([cache.remember(enc(1)), cache.remember(enc(2)), cache.remember(enc(3))]).to.deep.equal([
      "fresh",
      "fresh",
      "full",
    ]);
    expect(cache.remember(enc(1))).to.equal("replayed");
    now = 2_000;
    expect(cache.remember(enc(3))).to.equal("fresh");
  });

  it("accepts Dates within the window on either side of its clock, and no unparsable one", function () {
    const cache = new ReplayCache({ windowMs: 1_000, now: () => 10_000 });
    expect([
      cache.inWindow(9_000),
      cache.inWindow(11_000),
      cache.inWindow(8_999),
      cache.inWindow(11_001),
      cache.inWindow(Date.parse("yesterday")),
    ]).to.deep.equal([true, true, false, false, false]);
  });
});

describe("ohttp token bucket", function () {
  it("allows a burst, then the rate", function () {
    let now = 0;
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 3, now: () => now });
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).to.deep.equal([true, true, true, false]);
    now += 100;
    expect([bucket.take(), bucket.take()]).to.deep.equal([true, false]);
    now += 10_000;
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).to.deep.equal([true, true, true, false]);
  });

  it("refuses a rate or burst that would never admit a request", function () {
    expect(() => new TokenBucket({ ratePerSecond: 0, burst: 1 })).to.throw(ConfigError);
    expect(() => new TokenBucket({ ratePerSecond: 1, burst: 0 })).to.throw(ConfigError);
  });
});

import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { type RunningHubServer, startHubServer } from "../../src/hub/http";
import { SubscriptionFeeds } from "../../src/hub/subscriptions";
import { CONTENT_SECURITY_POLICY, createWebHandler } from "../../src/hub/web";
import { teeProof } from "../fixtures/system";
import {
  loadSubscriptions,
  PERIOD,
  startRound,
  subscribe,
  teeValueOutput,
  type SubscriptionFixture,
} from "../unit/subscriptions/subscriptions.fixture";
import { freshHub } from "./fixtures";

interface FeedJson {
  subscriptionId: string;
  feed: string;
  description: string;
  decimals: number;
  mode: string;
  latest: { roundId: string; answer: string; jobId: string } | null;
  recent: { roundId: string; answer: string }[];
  state: { nextRound: string; status: number };
}

describe("hub: subscription feeds", () => {
  let fx: SubscriptionFixture;
  let server: RunningHubServer;
  let feedAddress: string;
  const hub = freshHub();

  before(async () => {
    fx = await loadSubscriptions();
    const { id, startTime, feed } = await subscribe(fx);
    await subscribe(fx, { description: "no answer yet" });
    feedAddress = await feed.getAddress();
    // Rounds 0 and 1 answered with 1.2345 and 1.5.
    for (const [round, value] of [
      [0n, 12_345],
      [1n, 15_000],
    ] as const) {
      await time.increaseTo(startTime + round * BigInt(PERIOD));
      const { job } = await startRound(fx, id);
      await fx.system.escrow.connect(fx.nodes[0]).claimSlot(job);
      const output = teeValueOutput(value);
      await fx.system.escrow.connect(fx.nodes[0]).submit(job, output, await teeProof(fx, job, output));
    }
    server = await startHubServer({
      ...hub,
      port: 0,
      staticHandler: createWebHandler(),
      feeds: new SubscriptionFeeds({
        provider: hre.ethers.provider,
        manager: await fx.manager.getAddress(),
        startBlock: 0,
        cacheMs: 0,
      }),
    });
  });

  after(async () => {
    await server?.close();
    hub.store.close();
  });

  it("GET /api/feeds lists every subscription with its feed's latest verified rounds", async () => {
    const res = await fetch(`${server.url}/api/feeds`);
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { manager: string; chainTime: number; feeds: FeedJson[] };
    expect(body.manager).to.equal(await fx.manager.getAddress());
    expect(body.chainTime).to.equal(await time.latest());
    expect(body.feeds.map((f) => [f.subscriptionId, f.mode, f.decimals])).to.deep.equal([
      ["1", "tee", 4],
      ["2", "tee", 4],
    ]);
    const [first, second] = body.feeds as [FeedJson, FeedJson];
    expect(first.feed).to.equal(feedAddress);
    expect(first.description).to.equal("S&P 500 volatility forecast (TEE)");
    expect([first.latest!.roundId, first.latest!.answer]).to.deep.equal(["2", "15000"]);
    expect(first.recent.map((r) => [r.roundId, r.answer])).to.deep.equal([
      ["2", "15000"],
      ["1", "12345"],
    ]);
    expect(first.state.nextRound).to.equal("2");
    expect(second.latest).to.equal(null);
    expect(second.recent).to.deep.equal([]);
  });

  it("GET /api/feeds/<address> answers one feed, and 404 for an address that is not a subscription's feed", async () => {
    const one = (await (await fetch(`${server.url}/api/feeds/${feedAddress.toLowerCase()}`)).json()) as FeedJson;
    expect(one.feed).to.equal(feedAddress);
    expect(one.latest!.jobId).to.equal("2");
    for (const path of ["/api/feeds/0x1234", `/api/feeds/${await fx.aggregator.getAddress()}`, "/api/feeds/x/y"]) {
      const res = await fetch(server.url + path);
      expect(res.status, path).to.equal(404);
      expect(((await res.json()) as { error: string }).error).to.equal("NotFound");
    }
  });

  it("a hub without feeds answers 404 on /api/feeds", async () => {
    const bare = await startHubServer({ ...freshHub(), port: 0 });
    try {
      expect((await fetch(`${bare.url}/api/feeds`)).status).to.equal(404);
    } finally {
      await bare.close();
    }
  });

  it("serves the feeds page under the content security policy, with no HTML insertion and nothing from another origin", async () => {
    for (const [route, type] of [
      ["/feeds.html", "text/html"],
      ["/feeds.js", "text/javascript"],
    ] as const) {
      const res = await fetch(server.url + route);
      expect(res.status, route).to.equal(200);
      expect(res.headers.get("content-type")).to.contain(type);
      expect(res.headers.get("content-security-policy")).to.equal(CONTENT_SECURITY_POLICY);
      const text = await res.text();
      expect(text).not.to.match(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
      expect(text).not.to.match(/<script>(?!<\/script>)|\sstyle=|\son\w+=|https?:\/\//i);
    }
    expect(await (await fetch(`${server.url}/`)).text()).to.contain('<a href="/feeds.html" class="nav">Feeds</a>');
  });
});

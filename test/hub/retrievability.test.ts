import { expect } from "chai";
import { existsSync } from "node:fs";
import { pino } from "pino";
import { type Browser, type Page, chromium } from "playwright-core";
import type { Provider } from "../../src/core/content";
import { type RunningHubServer, startHubServer } from "../../src/hub/http";
import {
  type Probe,
  probeFailure,
  type ProbeResult,
  RetrievabilityProber,
  type VersionRetrievability,
} from "../../src/hub/retrievability";
import type { FileInput, HubStore } from "../../src/hub/store";
import { serveHub } from "../../src/hub/serve";
import { createWebHandler } from "../../src/hub/web";
import { address, freshHub, hash, id, versionInput } from "./fixtures";

const CHROMIUM = "/usr/bin/chromium";
const GATEWAY = "http://127.0.0.1:9/gateway";
const T0 = 1_800_000_000_000; // the fake clock's start, ms

/** What a fake provider does when probed for a CID. */
type Behaviour = "ok" | "fail" | "stall" | "throw";

/**
 * A deterministic probe: each provider (by label, or a gateway by URL) behaves as `behaviour[label][cid]` (default
 * `behaviour[label]["*"]`, else "fail"). "stall" never answers and ignores the signal. Every call is recorded.
 */
function fakeProbe(behaviour: Record<string, Record<string, Behaviour>>) {
  const calls: { cid: string; label: string; multiaddrs: string[] }[] = [];
  const probe: Probe = (cid, provider) => {
    const label = "gateway" in provider ? provider.gateway : provider.label;
    calls.push({ cid, label, multiaddrs: "gateway" in provider ? [] : provider.multiaddrs });
    const does = behaviour[label]?.[cid] ?? behaviour[label]?.["*"] ?? "fail";
    if (does === "stall") return new Promise<ProbeResult>(() => {});
    if (does === "throw") return Promise.reject(new Error(`connection to ${label} reset`));
    return Promise.resolve<ProbeResult>(
      does === "ok" ? { ok: true, bytes: 100, ms: 3 } : { ok: false, reason: `${label} does not have ${cid}`, ms: 2 },
    );
  };
  return { probe, calls };
}

function peer(label: string, ...ports: number[]): Provider {
  return { label, multiaddrs: ports.map((p) => `/ip4/127.0.0.1/tcp/${p}/p2p/12D3Koo${label}`) };
}

/** A version of model `model` with these files (path = its CID's name). */
function publishFiles(store: HubStore, model: number, version: number, cids: readonly string[]): FileInput[] {
  const input = versionInput({ model, version });
  const files = cids.map((cid, i) => ({ path: `${cid}.bin`, cid, sha256: hash(1000 + i) }));
  store.batch(() => {
    if (store.getModel(id(model)) === undefined)
      store.upsertModel({ modelId: id(model), owner: address(model), price: 1000n, block: input.block });
    store.upsertVersion({ ...input, files });
  });
  return files;
}

/** `ofVersion` reduced to what the assertions compare: the figure, the warning and each file's serving labels. */
function summary(r: VersionRetrievability) {
  return { providers: r.providers, warning: r.warning, files: r.files.map((f) => [f.cid, f.providers]) };
}

describe("hub retrievability", () => {
  let store: HubStore;
  let clock: number;
  const now = () => clock;
  let v1: FileInput[];
  let v2: FileInput[];

  beforeEach(() => {
    store = freshHub().store;
    clock = T0;
    v1 = publishFiles(store, 1, 1, ["cidA", "cidB"]);
    v2 = publishFiles(store, 1, 2, ["cidA", "cidC"]);
  });
  afterEach(() => store.close());

  /** alice serves everything (from three addresses under two entries), bob A and B, carol stalls, the gateway serves A. */
  function world(overrides: Record<string, Record<string, Behaviour>> = {}) {
    const behaviour: Record<string, Record<string, Behaviour>> = {
      alice: { "*": "ok" },
      bob: { cidA: "ok", cidB: "ok" },
      carol: { "*": "stall" },
      [GATEWAY]: { cidA: "ok" },
      ...overrides,
    };
    const fake = fakeProbe(behaviour);
    let providers = [peer("alice", 4001, 4002), peer("bob", 4101), peer("carol", 4201), peer("alice", 4003)];
    const prober = new RetrievabilityProber(store, {
      probe: fake.probe,
      providers: () => Promise.resolve(providers),
      gateways: [GATEWAY],
      timeoutMs: 50,
      concurrency: 3,
      now,
    });
    return {
      prober,
      behaviour,
      calls: fake.calls,
      setProviders: (p: Provider[]) => (providers = p),
    };
  }

  it("says nothing is probed before the first round", () => {
    const { prober } = world();
    const r = prober.ofVersion(v1);
    expect(r).to.deep.include({ providers: null, warning: false, probedAt: null });
    expect(r.files.map((f) => [f.probedAt, f.providers, f.probes])).to.deep.equal([
      [null, [], []],
      [null, [], []],
    ]);
  });

  it("counts per file the providers whose last probe succeeded, and per version the least-served file", async () => {
    const { prober } = world();
    const round = await prober.probeOnce();
    expect(round).to.deep.equal({ files: 3, providers: 4, succeeded: 6, failed: 6 });
    expect(summary(prober.ofVersion(v1))).to.deep.equal({
      providers: 2,
      warning: false,
      files: [
        ["cidA", ["alice", "bob", GATEWAY]],
        ["cidB", ["alice", "bob"]],
      ],
    });
    expect(summary(prober.ofVersion(v2))).to.deep.equal({
      providers: 1,
      warning: true,
      files: [
        ["cidA", ["alice", "bob", GATEWAY]],
        ["cidC", ["alice"]],
      ],
    });
  });

  it("records the time of the last probe per file and per provider", async () => {
    const { prober } = world();
    clock = T0 + 5_000;
    await prober.probeOnce();
    const r = prober.ofVersion(v1);
    expect(r.probedAt).to.equal((T0 + 5_000) / 1000);
    expect(r.files.map((f) => f.probedAt)).to.deep.equal([(T0 + 5_000) / 1000, (T0 + 5_000) / 1000]);
    expect(r.files[0]!.probes.find((p) => p.label === "alice")).to.deep.equal({
      label: "alice",
      ok: true,
      reason: null,
      peerIds: ["12D3Kooalice"],
      ms: 3,
      probedAt: (T0 + 5_000) / 1000,
    });
  });

  it("warns when a version has fewer than two providers, and when it has none", async () => {
    const { prober } = world({ alice: {}, bob: {} });
    await prober.probeOnce();
    expect(summary(prober.ofVersion(v1))).to.deep.equal({
      providers: 0,
      warning: true,
      files: [
        ["cidA", [GATEWAY]],
        ["cidB", []],
      ],
    });
  });

  it("counts a label once, however many addresses or entries it has, and probes it once per file", async () => {
    const { prober, calls } = world();
    await prober.probeOnce();
    const alice = calls.filter((c) => c.label === "alice");
    expect(alice.map((c) => c.cid).sort()).to.deep.equal(["cidA", "cidB", "cidC"]);
    expect(alice[0]!.multiaddrs).to.deep.equal([
      "/ip4/127.0.0.1/tcp/4001/p2p/12D3Kooalice",
      "/ip4/127.0.0.1/tcp/4002/p2p/12D3Kooalice",
      "/ip4/127.0.0.1/tcp/4003/p2p/12D3Kooalice",
    ]);
    expect(prober.ofVersion(v2).files[1]!.providers).to.deep.equal(["alice"]);
  });

  it("probes trustless gateways as providers labelled by their URL", async () => {
    const { prober, calls } = world();
    await prober.probeOnce();
    expect(calls.filter((c) => c.label === GATEWAY).map((c) => c.cid)).to.deep.equal(["cidA", "cidB", "cidC"]);
    expect(prober.ofVersion(v1).files[0]!.providers).to.include(GATEWAY);
  });

  it("records a probe that outlasts the timeout as a stalled failure", async () => {
    const { prober } = world();
    await prober.probeOnce();
    const carol = prober.ofVersion(v1).files[0]!.probes.find((p) => p.label === "carol");
    expect(carol?.ok).to.equal(false);
    expect(carol?.reason).to.equal("stalled");
  });

  it("records a probe that throws as a failure of category error", async () => {
    const { prober } = world({ carol: { "*": "throw" } });
    await prober.probeOnce();
    const carol = prober.ofVersion(v1).files[1]!.probes.find((p) => p.label === "carol");
    expect(carol).to.deep.include({ ok: false, reason: "error" });
  });

  it("counts labels announcing the same peer id once, whatever their addresses, and names them", async () => {
    // mallory, a second staked account, announces alice's peer id at another (closed) address; a probe that reuses
    // the connection to alice answers ok for it.
    const { prober, setProviders } = world({ mallory: { "*": "ok" } });
    const mallory: Provider = { label: "mallory", multiaddrs: ["/ip4/127.0.0.1/tcp/1/p2p/12D3Kooalice"] };
    setProviders([peer("alice", 4001), mallory]);
    await prober.probeOnce();
    const r = prober.ofVersion(v2);
    expect(summary(r)).to.deep.equal({
      providers: 1,
      warning: true,
      files: [
        ["cidA", ["alice", GATEWAY, "mallory"]],
        ["cidC", ["alice", "mallory"]],
      ],
    });
    expect(r.files.map((f) => [f.independent, f.shared])).to.deep.equal([
      [2, [{ labels: ["alice", "mallory"], peerIds: ["12D3Kooalice"] }]],
      [1, [{ labels: ["alice", "mallory"], peerIds: ["12D3Kooalice"] }]],
    ]);
  });

  it("joins labels transitively through a label that announces two peer ids, and counts gateways by URL", async () => {
    const other = "http://127.0.0.1:9/other-gateway";
    const fake = fakeProbe({
      alice: { "*": "ok" },
      bob: { "*": "ok" },
      eve: { "*": "ok" },
      dave: { "*": "ok" },
      [GATEWAY]: { "*": "ok" },
      [other]: { "*": "ok" },
    });
    const eve: Provider = {
      label: "eve",
      multiaddrs: ["/ip4/127.0.0.1/tcp/2/p2p/12D3Koobob", "/ip4/127.0.0.1/tcp/3/p2p/12D3Kooalice"],
    };
    const prober = new RetrievabilityProber(store, {
      probe: fake.probe,
      providers: () => Promise.resolve([peer("alice", 4001), peer("bob", 4101), eve, peer("dave", 4301)]),
      gateways: [GATEWAY, other],
      now,
    });
    await prober.probeOnce();
    const file = prober.ofVersion(v1).files[0]!;
    expect(file.independent).to.equal(4); // {alice, bob, eve}, dave, and the two gateways
    expect(file.shared).to.deep.equal([{ labels: ["alice", "bob", "eve"], peerIds: ["12D3Kooalice", "12D3Koobob"] }]);
    expect(prober.ofVersion(v1).providers).to.equal(4);
  });

  it("records and serves only a failure's category, logging the probe's own words at debug level", async () => {
    const reasons: Record<string, string> = {
      cidA: "unreachable: cannot dial within 5000 ms (connect ECONNREFUSED 10.0.0.7:6379)",
      cidB: "stalled: sent no block for 10000 ms",
      cidC: "Unexpected EOF from 10.0.0.7:22",
    };
    const lines: string[] = [];
    const prober = new RetrievabilityProber(store, {
      probe: (cid) => Promise.resolve<ProbeResult>({ ok: false, reason: reasons[cid]!, ms: 1 }),
      providers: () => Promise.resolve([peer("scanner", 4001)]),
      logger: pino({ level: "debug" }, { write: (line: string) => lines.push(line) }),
      now,
    });
    await prober.probeOnce();
    const probes = [...prober.ofVersion(v1).files, prober.ofVersion(v2).files[1]!].map((f) => f.probes[0]!.reason);
    expect(probes).to.deep.equal(["unreachable", "stalled", "error"]);
    const stored = store.db.prepare("SELECT reason FROM hub_probe_results ORDER BY cid").all();
    expect(JSON.stringify(stored)).to.not.contain("10.0.0.7");
    const logged = lines.map((l) => JSON.parse(l) as { level: number; reason: string; cid: string });
    expect(
      logged
        .filter((l) => l.level === 20)
        .map((l) => [l.cid, l.reason])
        .sort(),
    ).to.deep.equal(Object.entries(reasons));
  });

  it("maps the probe's reasons to categories", () => {
    const cases: [string, string][] = [
      ["unreachable: cannot dial within 5000 ms (connect ECONNREFUSED 127.0.0.1:37381)", "unreachable"],
      ["announces no address", "unreachable"],
      ["stalled: sent no block for 10000 ms", "stalled"],
      ["timed out: Fetching x was aborted", "stalled"],
      ["probe of cidA from carol timed out after 50 ms", "stalled"],
      ["does not have block bafkreiabc", "does not have the content"],
      ["does not have it: Gateway http://10.0.0.7:8080 does not have block bafkreiabc", "does not have the content"],
      ["sent a corrupted block (its bytes hash to bafkreixyz, which was not asked for)", "served a corrupted block"],
      ["sent a corrupted block: Block bafkreiabc does not match its CID", "served a corrupted block"],
      ["Content is 300 bytes, more than the limit of 200 bytes.", "too large"],
      ["Unexpected EOF", "error"],
    ];
    expect(cases.map(([reason]) => probeFailure(reason))).to.deep.equal(cases.map(([, category]) => category));
    for (const category of [
      "unreachable",
      "stalled",
      "does not have the content",
      "served a corrupted block",
      "too large",
      "error",
    ])
      expect(probeFailure(category)).to.equal(category);
  });

  it("drops a provider that fails after succeeding at the next probe", async () => {
    const { prober, behaviour } = world();
    await prober.probeOnce();
    expect(prober.ofVersion(v1).files[1]!.providers).to.deep.equal(["alice", "bob"]);
    behaviour.bob = { cidA: "ok" };
    clock = T0 + 60_000;
    await prober.probeOnce();
    const r = prober.ofVersion(v1);
    expect(summary(r)).to.deep.equal({
      providers: 1,
      warning: true,
      files: [
        ["cidA", ["alice", "bob", GATEWAY]],
        ["cidB", ["alice"]],
      ],
    });
    expect(r.files[1]!.probes.find((p) => p.label === "bob")).to.deep.include({
      ok: false,
      reason: "does not have the content",
      probedAt: (T0 + 60_000) / 1000,
    });
  });

  it("forgets a provider the source no longer lists", async () => {
    const { prober, setProviders } = world();
    await prober.probeOnce();
    setProviders([peer("alice", 4001)]);
    await prober.probeOnce();
    expect(prober.ofVersion(v1).files[1]!.probes.map((p) => p.label)).to.deep.equal(["alice", GATEWAY]);
    expect(summary(prober.ofVersion(v1)).providers).to.equal(1);
  });

  it("marks files probed by a round with no provider at all, served by nobody", async () => {
    const prober = new RetrievabilityProber(store, { probe: fakeProbe({}).probe, now });
    expect(await prober.probeOnce()).to.deep.equal({ files: 3, providers: 0, succeeded: 0, failed: 0 });
    expect(prober.ofVersion(v2)).to.deep.include({ providers: 0, warning: true, probedAt: T0 / 1000 });
  });

  it("keeps the last results when the provider source fails", async () => {
    const { prober } = world();
    await prober.probeOnce();
    const failing = new RetrievabilityProber(store, {
      probe: fakeProbe({}).probe,
      providers: () => Promise.reject(new Error("chain unreachable")),
      now,
    });
    let thrown: unknown;
    await failing.probeOnce().catch((e: unknown) => (thrown = e));
    expect((thrown as Error).message).to.equal("chain unreachable");
    expect(summary(prober.ofVersion(v1)).providers).to.equal(2);
  });

  it("runs rounds on its schedule until stopped, and records nothing of a round it abandons", async () => {
    const stalling = fakeProbe({ alice: { "*": "stall" } });
    const prober = new RetrievabilityProber(store, {
      probe: stalling.probe,
      providers: () => Promise.resolve([peer("alice", 4001)]),
      timeoutMs: 3_600_000,
      now,
    });
    prober.start();
    expect(() => prober.start()).to.throw("already running");
    while (stalling.calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await prober.stop();
    expect(prober.ofVersion(v1)).to.deep.include({ providers: null, probedAt: null });
    expect(prober.ofVersion(v1).files[0]!.probes).to.deep.equal([]);
  });
});

describe("hub retrievability over HTTP and on the model page", () => {
  let store: HubStore;
  let server: RunningHubServer;
  let plain: RunningHubServer;
  let browser: Browser | undefined;
  let page: Page;

  const get = async (base: string, path: string) => {
    const res = await fetch(base + path);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    store = freshHub().store;
    publishFiles(store, 1, 1, ["cidA", "cidB"]);
    publishFiles(store, 1, 2, ["cidA", "cidC"]);
    const { probe } = fakeProbe({ alice: { "*": "ok" }, bob: { cidA: "ok", cidB: "ok" } });
    const prober = new RetrievabilityProber(store, {
      probe,
      providers: () => Promise.resolve([peer("alice", 4001), peer("bob", 4101)]),
      now: () => T0,
    });
    await prober.probeOnce();
    publishFiles(store, 2, 1, ["cidD"]); // indexed after the round: not probed yet
    const engine = freshHub().engine;
    server = await startHubServer({
      store,
      engine,
      port: 0,
      retrievability: prober,
      staticHandler: createWebHandler(),
    });
    plain = await startHubServer({ store, engine, port: 0 });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await plain?.close();
    store.close();
  });

  it("shows each version's retrievability in GET /api/models/:id", async () => {
    const { status, body } = await get(server.url, `/api/models/${id(1)}`);
    expect(status).to.equal(200);
    const versions = body.versions as ({ version: number } & { retrievability: VersionRetrievability })[];
    expect(versions.map((v) => [v.version, v.retrievability.providers, v.retrievability.warning])).to.deep.equal([
      [2, 1, true],
      [1, 2, false],
    ]);
    expect(versions[1]!.retrievability.files.map((f) => [f.path, f.providers, f.probedAt])).to.deep.equal([
      ["cidA.bin", ["alice", "bob"], T0 / 1000],
      ["cidB.bin", ["alice", "bob"], T0 / 1000],
    ]);
  });

  it("answers GET /api/models/:id/versions/:version/providers", async () => {
    const { status, body } = await get(server.url, `/api/models/${id(1)}/versions/2/providers`);
    expect(status).to.equal(200);
    expect(body).to.deep.include({ modelId: id(1), version: 2, providers: 1, warning: true, probedAt: T0 / 1000 });
    const files = body.files as { cid: string; probes: { label: string; ok: boolean; reason: string | null }[] }[];
    expect(files[1]!.probes.map((p) => [p.label, p.ok, p.reason])).to.deep.equal([
      ["alice", true, null],
      ["bob", false, "does not have the content"],
    ]);
    expect((await get(server.url, `/api/models/${id(2)}/versions/1/providers`)).body).to.deep.include({
      providers: null,
      warning: false,
    });
  });

  it("answers 404 for an unknown version and 400 for a malformed one", async () => {
    expect((await get(server.url, `/api/models/${id(1)}/versions/9/providers`)).status).to.equal(404);
    expect((await get(server.url, `/api/models/${id(9)}/versions/1/providers`)).status).to.equal(404);
    const bad = await get(server.url, `/api/models/${id(1)}/versions/x/providers`);
    expect([bad.status, bad.body.param]).to.deep.equal([400, "version"]);
  });

  it("shows null and answers 404 when the hub does not probe", async () => {
    const { body } = await get(plain.url, `/api/models/${id(1)}`);
    expect((body.versions as { retrievability: unknown }[]).map((v) => v.retrievability)).to.deep.equal([null, null]);
    expect((await get(plain.url, `/api/models/${id(1)}/versions/1/providers`)).status).to.equal(404);
  });

  describe("model page (Chromium)", () => {
    before(async function () {
      if (!existsSync(CHROMIUM))
        throw new Error(`${CHROMIUM} is missing: the browser test needs Debian's Chromium (apt-get install chromium)`);
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--headless", "--no-sandbox", "--disable-gpu"],
      });
      const context = await browser.newContext();
      await context.route("**/*", (route) =>
        route.request().url().startsWith(server.url) ? route.continue() : route.abort(),
      );
      context.setDefaultTimeout(120_000);
      page = await context.newPage();
      page.on("pageerror", (error) => {
        throw error;
      });
    });

    const version = (v: number) => page.locator(`section.version[data-version="${v}"]`);

    it("warns on a version with fewer than two independent providers, naming who serves each file and when", async () => {
      await page.goto(`${server.url}/#/model/${id(1)}`);
      await page.waitForSelector("section.version .retrievability");
      expect(await version(2).locator(".retrievability").textContent()).to.equal(
        "Warning: fewer than two independent providers serve every file of this version: if its one provider goes " +
          "away, it cannot be fetched. Served by 1 independent provider at its least-served file (last probed " +
          "2027-01-15T08:00:00Z; providers announcing the same libp2p peer id count once; one party running two peers " +
          "counts twice).",
      );
      expect(await version(2).locator("table.files tbody tr").nth(1).locator("td").allTextContents()).to.deep.equal([
        "cidC.bin",
        "cidC",
        hash(1001),
        "1 independent: alicenot from bob: does not have the content",
        "2027-01-15T08:00:00Z",
      ]);
      expect(await version(1).locator(".retrievability").textContent()).to.match(/^Served by 2 independent providers/);
      expect(await version(1).locator(".retrievability.warn").count()).to.equal(0);
    });

    it("says not probed yet before the first probe of a version's files", async () => {
      await page.goto(`${server.url}/#/model/${id(2)}`);
      await page.waitForSelector("section.version .retrievability");
      expect(await version(1).locator(".retrievability").textContent()).to.match(/^Providers: not probed yet/);
      expect(await version(1).locator("table.files tbody td").allTextContents()).to.include.members(["not probed yet"]);
    });
  });
});

describe("serveHub with retrievability", () => {
  it("probes at start, serves the figures, and stops the prober with the server", async () => {
    const store = freshHub().store;
    publishFiles(store, 1, 1, ["cidA"]);
    const fake = fakeProbe({ alice: { "*": "ok" }, [GATEWAY]: { "*": "ok" } });
    const hub = await serveHub({
      store,
      port: 0,
      retrievability: {
        probe: fake.probe,
        providers: () => Promise.resolve([peer("alice", 4001)]),
        gateways: [GATEWAY],
        intervalMs: 3_600_000,
      },
    });
    try {
      const providers = async () =>
        ((await (await fetch(`${hub.url}/api/models/${id(1)}/versions/1/providers`)).json()) as VersionRetrievability)
          .providers;
      while ((await providers()) === null) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await providers()).to.equal(2);
    } finally {
      await hub.stop();
    }
    expect(fake.calls.map((c) => c.label)).to.deep.equal(["alice", GATEWAY]);
    expect(store.getModel(id(1))).to.not.equal(undefined); // a store it did not open stays open
    store.close();
  });
});

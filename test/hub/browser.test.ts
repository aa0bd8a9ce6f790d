import hre from "hardhat";
import { expect } from "chai";
import { toUtf8Bytes } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";
import { type RunningHubServer, startHubServer } from "../../src/hub/http";
import { type LocalHub, publishBundledModel, startLocalHub } from "../../src/hub/local";
import { SearchEngine } from "../../src/hub/search";
import { createWebHandler } from "../../src/hub/web";
import { EmbeddedContentStore } from "../../src/storage";
import { buildHubWorld, modelFiles, publishAs, settleFreeJob, TEE, VANILLA, type HubWorld } from "./chain";
import { MEASUREMENT } from "../fixtures/system";

// Page functions run in Chromium; the tests' TypeScript has no DOM library, so declare what they touch.
declare const document: {
  getElementById(id: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { length: number };
};
declare const location: { hash: string };
declare const navigator: { clipboard: { readText(): Promise<string> } };
declare const window: { hubLastCopied?: string; __xss?: number };

const CHROMIUM = "/usr/bin/chromium";
const XSS_CARD_WORDS = 'zebrafish <img src=x onerror="window.__xss=1"> <script>window.__xss=1</script>';
/** A text-generation card (as the devnet's GGUF model has) with emphasis, and markup that must stay text. */
const TEXT_CARD = `---
name: toy/moby-chat
task: text-generation
license: mit
library: gguf
---
# toy/moby-chat

Call me *Ishmael*, said the **whale** and __the sea__; 2 * 3 * 4 and snake_case_name stay as written.
**<b>not bold</b>** *<script>window.__xss=2</script>* <img src=x onerror="window.__xss=2">
`;

describe("hub web page (Chromium)", () => {
  let dir: string;
  let content: EmbeddedContentStore;
  let world: HubWorld;
  let hub: LocalHub;
  let browser: Browser;
  let page: Page;
  let penguinId: bigint;
  let xssId: bigint;
  let freeId: bigint;
  let textId: bigint;

  const hubWorld = () => buildHubWorld(content);

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: the browser test needs Debian's Chromium (apt-get install chromium)`);
    }
    dir = mkdtempSync(path.join(tmpdir(), "vin-web-"));
    content = await EmbeddedContentStore.open(dir);
    world = await loadFixture(hubWorld);
    penguinId = (
      await publishBundledModel({
        signer: world.fx.owner,
        registry: world.fx.system.record.contracts.registry.address,
        contentStore: content,
      })
    ).modelId;
    xssId = (await publishAs(world.fx, content, modelFiles("x/<b>zebrafish</b>", XSS_CARD_WORDS), [VANILLA])).modelId;
    freeId = await settleFreeJob(world.fx, content);
    const textFiles = [
      { path: "README.md", bytes: toUtf8Bytes(TEXT_CARD) },
      { path: "model.gguf", bytes: toUtf8Bytes("GGUF stand-in weights") },
    ];
    textId = (await publishAs(world.fx, content, textFiles, [TEE])).modelId;
    hub = await startLocalHub({
      provider: hre.ethers.provider,
      deployment: world.fx.system.record,
      contentStore: content,
      port: 0,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const context = await browser.newContext();
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: hub.url });
    // Nothing but the hub may be reached.
    await context.route("**/*", (route) =>
      route.request().url().startsWith(hub.url) ? route.continue() : route.abort(),
    );
    context.setDefaultTimeout(120_000); // a shared 2-core machine can be slow; a failure still fails
    page = await context.newPage();
    page.on("pageerror", (error) => {
      throw error;
    });
  });

  after(async () => {
    await browser?.close();
    await hub?.stop();
    await content?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const resultNames = () => page.locator("#results .hit h2 a").allTextContents();
  const searchFor = async (query: string) => {
    await page.fill("#q", query);
    await page.press("#q", "Enter");
    await page.waitForFunction(
      (q) =>
        new URLSearchParams(location.hash.split("?")[1] ?? "").get("q") === q &&
        document.getElementById("status")!.textContent !== "Searching…",
      query,
    );
  };

  it("binds to 127.0.0.1 and serves the page with a strict content security policy", async () => {
    expect(hub.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await page.goto(hub.url);
    expect(res?.headers()["content-security-policy"]).to.contain("script-src 'self'");
    await page.waitForSelector("#results .hit");
    expect(await page.textContent("#network")).to.contain("chain 31337");
  });

  it("searches by words of the cards and shows provenance", async () => {
    await searchFor("penguin species");
    const names = await resultNames();
    expect(names[0]).to.equal("penguin-species-mlp");
    expect(names).to.include("acme/penguin-mlp");
    const hit = page.locator(`#results .hit[data-model="${penguinId}"]`);
    expect(await hit.locator(".prov").textContent()).to.contain(`owner ${world.fx.owner.address.toLowerCase()}`);
    expect(await hit.locator(".prov").textContent()).to.match(/card bafkrei[a-z2-7]+ · SHA-256 0x[0-9a-f]{64}/);
    expect(await hit.locator(".price").textContent()).to.equal("1 token / inference");
    const acme = page.locator(`#results .hit[data-model="${world.penguins}"]`);
    expect(await acme.locator(".usage").textContent()).to.equal("3 verified jobs · 9.45 tokens paid");
    expect(await acme.locator(".price").textContent()).to.equal("2 tokens / inference");
  });

  it("filters by license, mode and minimum usage", async () => {
    await searchFor("penguin");
    await page.fill("#license", "cc0-1.0");
    await page.dispatchEvent("#license", "change");
    await page.waitForFunction(() => location.hash.includes("license=cc0-1.0"));
    await page.waitForFunction(() => document.querySelectorAll("#results .hit").length === 1);
    expect(await resultNames()).to.deep.equal(["penguin-species-mlp"]);
    await page.fill("#license", "");
    await page.dispatchEvent("#license", "change");
    await page.selectOption("#mode", "vanilla");
    await page.fill("#minUsage", "2");
    await page.dispatchEvent("#minUsage", "change");
    await page.waitForFunction(
      () =>
        location.hash.includes("mode=vanilla&minUsage=2") && document.querySelectorAll("#results .hit").length === 1,
    );
    expect(await resultNames()).to.deep.equal(["acme/penguin-mlp"]);
    await page.selectOption("#mode", "");
    await page.fill("#minUsage", "");
    await page.dispatchEvent("#minUsage", "change");
  });

  it("sorts by verified usage", async () => {
    await page.goto(`${hub.url}/#/?sort=usage`);
    await page.waitForFunction(() => document.querySelectorAll("#results .hit").length >= 3);
    expect((await resultNames())[0]).to.equal("acme/penguin-mlp");
  });

  it("opens a model page with its card, versions, files, modes, TEE measurements and verified usage", async () => {
    await searchFor("flippers");
    await page.click(`#results .hit[data-model="${world.penguins}"] h2 a`);
    await page.waitForSelector("#model-name");
    expect(await page.textContent("#model-name")).to.equal("acme/penguin-mlp");
    expect(await page.locator("#card h2").textContent()).to.equal("acme/penguin-mlp");
    expect(await page.locator("#card li").allTextContents()).to.deep.equal(["first point", "second point"]);
    expect(await page.locator("#card pre code").textContent()).to.equal("vin pull");
    const version = page.locator('section.version[data-version="1"]');
    expect(await version.locator(".usage").textContent()).to.equal(
      "Verified inferences: 3 (vanilla: 2, tee: 1) · 9.45 tokens paid",
    );
    expect(await page.textContent("#model-usage")).to.equal("3 verified jobs · 9.45 tokens paid over all versions");
    expect(await version.locator(".badge").allTextContents()).to.deep.equal(["vanilla", "tee"]);
    const files = await world.fx.system.registry.filesOf(world.penguins, 1);
    const cells = (selector: string) =>
      version
        .locator(selector)
        .evaluateAll((trs) =>
          trs.map((tr) =>
            Array.from(
              (tr as unknown as { children: ArrayLike<{ textContent: string | null }> }).children,
              (td) => td.textContent,
            ),
          ),
        );
    expect(await cells("table.tee tbody tr")).to.deep.equal([[MEASUREMENT, "accepted", "1"]]);
    const rows = await version
      .locator("table:not(.tee) tbody tr")
      .evaluateAll((trs) =>
        trs.map((tr) =>
          Array.from(
            (tr as unknown as { children: ArrayLike<{ textContent: string | null }> }).children,
            (td) => td.textContent,
          ),
        ),
      );
    expect(rows.map((r) => [r[0], r[2]])).to.deep.equal(files.map((f) => [f.path, f.sha256]));
    expect(rows[0]![1]).to.match(/^bafkrei/);
  });

  it("copies the request snippet for the chosen mode", async () => {
    await page.selectOption("#snippet-mode", "1");
    await page.click("#copy");
    await page.waitForFunction(() => window.hubLastCopied !== undefined);
    const snippet = await page.textContent("#snippet");
    expect(snippet).to.contain(`modelId: ${world.penguins}, version: 1, mode: 1, redundancy: 1`);
    expect(snippet).to.contain(world.fx.system.record.contracts.escrow.address);
    expect(await page.evaluate(() => navigator.clipboard.readText())).to.equal(snippet);
  });

  it("shows settled jobs below the usage floor apart from verified usage", async () => {
    await page.goto(`${hub.url}/#/model/${freeId}`);
    await page.waitForSelector("#model-name");
    expect(await page.textContent("#model-usage")).to.equal(
      "0 verified jobs · 0 tokens paid (1 below the usage floor, not counted) over all versions",
    );
    expect(await page.locator('section.version[data-version="1"] .usage').textContent()).to.equal(
      "Verified inferences: 0 (vanilla: 0) · 0 tokens paid (1 below the usage floor, not counted)",
    );
    expect(await page.locator("#model .price").textContent()).to.equal("0 tokens / inference");
  });

  it("shows markup in a card as text and runs none of it", async () => {
    await page.goto(`${hub.url}/#/model/${xssId}`);
    await page.waitForSelector("#model-name");
    expect(await page.textContent("#model-name")).to.equal("x/<b>zebrafish</b>");
    expect(await page.locator("#card p").first().textContent()).to.contain('<img src=x onerror="window.__xss=1">');
    expect(await page.locator("#model img, #model script, #model b").count()).to.equal(0);
    expect(await page.evaluate(() => window.__xss)).to.equal(undefined);
  });

  it("offers a text-generation model's chat commands and chat API instead of an on-chain request", async () => {
    await page.goto(`${hub.url}/#/model/${textId}`);
    await page.waitForSelector("#model-name");
    expect(await page.locator("section.request h2").textContent()).to.equal("Chat with this model");
    expect(await page.locator("#snippet-mode").count()).to.equal(0);
    const snippet = (await page.textContent("#snippet"))!;
    expect(snippet).to.contain("vin credit deposit --url <gateway URL> --amount 1");
    expect(snippet).to.contain(`vin agent create my-agent --model ${textId}@1 --system "`);
    expect(snippet).to.match(/vin agent say my-agent "[^"]+" --gateway <operator address> --credit \S+/);
    expect(snippet).to.contain("POST /v1/chat/completions");
    expect(snippet).to.contain(`"model": "${textId}@1"`);
    expect(snippet).not.to.contain("vin request");
    expect(snippet).not.to.contain("escrow.request");
    await page.click("#copy");
    await page.waitForFunction((s) => window.hubLastCopied === s, snippet);
  });

  it("keeps the on-chain request snippet for a model that is not a text-generation model", async () => {
    await page.goto(`${hub.url}/#/model/${world.penguins}`);
    await page.waitForSelector("#snippet-mode");
    expect(await page.locator("section.request h2").textContent()).to.equal("Request an inference");
    expect(await page.textContent("#snippet")).to.contain(`vin request --model ${world.penguins}@1`);
  });

  it("renders *emphasis* and **strong** in a card and keeps markup in them as text", async () => {
    await page.goto(`${hub.url}/#/model/${textId}`);
    await page.waitForSelector("#card p");
    const card = page.locator("#card p").first();
    expect(await card.locator("em").allTextContents()).to.deep.equal(["Ishmael", "<script>window.__xss=2</script>"]);
    expect(await card.locator("strong").allTextContents()).to.deep.equal(["whale", "the sea", "<b>not bold</b>"]);
    const text = (await card.textContent())!;
    expect(text).to.contain("2 * 3 * 4 and snake_case_name stay as written.");
    expect(text).to.contain('<img src=x onerror="window.__xss=2">');
    expect(text).not.to.match(/\*Ishmael\*|\*\*whale\*\*/);
    expect(await page.locator("#model img, #model script, #model b").count()).to.equal(0);
    expect(await page.evaluate(() => window.__xss)).to.equal(undefined);
  });

  describe("network page", () => {
    let server: RunningHubServer;
    let networkPage: Page;

    before(async () => {
      server = await startHubServer({
        store: hub.store,
        engine: new SearchEngine(hub.store),
        port: 0,
        staticHandler: createWebHandler(),
        network: hub.indexer.network,
      });
      const context = await browser.newContext();
      await context.route("**/*", (route) =>
        route.request().url().startsWith(server.url) ? route.continue() : route.abort(),
      );
      context.setDefaultTimeout(120_000);
      networkPage = await context.newPage();
      networkPage.on("pageerror", (error) => {
        throw error;
      });
    });

    after(async () => {
      await networkPage?.context().close();
      await server?.close();
    });

    const rows = (selector: string) =>
      networkPage
        .locator(selector)
        .evaluateAll((trs) =>
          trs.map((tr) =>
            Array.from(
              (tr as unknown as { children: ArrayLike<{ textContent: string | null }> }).children,
              (td) => td.textContent,
            ),
          ),
        );

    it("shows operators per mode, Nakamoto coefficients and HHI by stake and by jobs served", async () => {
      await networkPage.goto(`${server.url}/#/network`);
      await networkPage.waitForSelector("#network-control");
      const api = (await (await fetch(`${server.url}/api/network`)).json()) as {
        operators: number;
        operatorsPerMode: { name: string; operators: number }[];
        nakamoto: { byStake: number; byJobs: number };
        hhi: { byStake: number; byJobs: number };
      };
      expect(await rows("#network-modes tbody tr")).to.deep.equal(
        api.operatorsPerMode.map((m) => [m.name, String(m.operators)]),
      );
      expect(api.operatorsPerMode.find((m) => m.name === "vanilla")!.operators).to.equal(3);
      // Three equal stakes: two hold a majority, HHI 3,333; node 0 served every job: one, HHI 10,000.
      expect(await rows("#network-control tbody tr")).to.deep.equal([
        ["stake", "2", "3333"],
        ["jobs served", "1", "10000"],
      ]);
      expect(await networkPage.textContent("#network-status")).to.match(
        /^Blocks \d+–\d+: 3 operators · 3000 tokens staked · \d+ jobs requested \(0 with redundancy\)$/,
      );
      expect(await networkPage.isHidden("#search-view")).to.equal(true);
    });

    it("shows the stake distribution, each operator's jobs, the models servable by k operators and the history", async () => {
      await networkPage.goto(`${server.url}/#/network`);
      await networkPage.waitForSelector("#network-history");
      const api = (await (await fetch(`${server.url}/api/network`)).json()) as {
        fromBlock: number;
        toBlock: number;
        stake: { top: { n: number; share: number }[] };
        jobShares: { address: string; jobsServed: number }[];
        servable: { byAtLeast: { k: number; models: number }[] };
      };
      // Three operators of 1,000 tokens: the largest holds a third, the largest three all of it.
      expect((await rows("#network-stake tbody tr")).slice(0, 2)).to.deep.equal([
        ["largest operator", "1000", "33.3 %"],
        ["largest 3 operators", "3000", "100.0 %"],
      ]);
      expect(await rows("#network-stake tbody tr")).to.deep.include(["median stake", "1000", ""]);
      expect((await rows("#network-jobs tbody tr")).map((r) => r[1])).to.deep.equal(
        api.jobShares.map((s) => String(s.jobsServed)),
      );
      expect(api.jobShares[0]!.jobsServed).to.be.greaterThan(0);
      expect(await rows("#network-servable tbody tr")).to.deep.equal(
        api.servable.byAtLeast.map((b) => [String(b.k), String(b.models)]),
      );
      const window = Math.ceil((api.toBlock - api.fromBlock + 1) / 12);
      const history = (await (await fetch(`${server.url}/api/network?window=${window}`)).json()) as {
        history: { fromBlock: number; toBlock: number; concentration: { jobs: { total: number } } }[];
      };
      const shown = await rows("#network-history tbody tr");
      expect(shown.map((r) => [r[0], r[5]])).to.deep.equal(
        history.history.map((p) => [`${p.fromBlock}–${p.toBlock}`, String(p.concentration.jobs.total)]),
      );
      expect(shown.length).to.be.within(2, 12);
    });
  });
});

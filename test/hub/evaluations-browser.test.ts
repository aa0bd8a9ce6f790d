import hre from "hardhat";
import { expect } from "chai";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";
import { type LocalHub, publishBundledModel, startLocalHub } from "../../src/hub/local";
import { EmbeddedContentStore } from "../../src/storage";
import { MEASUREMENT } from "../fixtures/system";
import { evaluationFixture, requestEvaluation, submitResult, type EvaluationFixture } from "../fixtures/evaluation";

const CHROMIUM = "/usr/bin/chromium";

/**
 * The model page shows a version's verified evaluation beside its verified usage, naming the dataset and the method,
 * with the trivial baseline beside each figure, and labels the card's own figures self-reported.
 */
describe("hub web page: verified evaluations (Chromium)", () => {
  let dir: string;
  let content: EmbeddedContentStore;
  let fx: EvaluationFixture;
  let hub: LocalHub;
  let browser: Browser;
  let page: Page;
  let modelId: bigint;
  let unevaluated: bigint;

  before(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: the browser test needs Debian's Chromium (apt-get install chromium)`);
    dir = mkdtempSync(path.join(tmpdir(), "vin-web-evaluations-"));
    content = await EmbeddedContentStore.open(dir);
    fx = await evaluationFixture();
    const publish = () =>
      publishBundledModel({
        signer: fx.owner,
        registry: fx.system.record.contracts.registry.address,
        contentStore: content,
        modes: [{ mode: "vanilla" }, { mode: "tee", measurements: [MEASUREMENT] }],
      });
    modelId = (await publish()).modelId;
    unevaluated = (await publish()).modelId;
    await submitResult(fx, await requestEvaluation(fx, { modelId }), 550_000n); // below the 60% baseline
    hub = await startLocalHub({
      provider: hre.ethers.provider,
      deployment: fx.system.record,
      contentStore: content,
      port: 0,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu"],
    });
    const context = await browser.newContext();
    await context.route("**/*", (route) =>
      route.request().url().startsWith(hub.url) ? route.continue() : route.abort(),
    );
    context.setDefaultTimeout(120_000);
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

  it("shows the verified figure beside the usage, with its dataset and baseline, and the card labelled self-reported", async () => {
    await page.goto(`${hub.url}/#/model/${modelId}`);
    await page.waitForSelector("#model-evaluations");
    expect(await page.textContent("#model-evaluations")).to.equal(
      "Verified (version 1, TEE): accuracy 55.00% on fixture held-out (50 rows); trivial baseline 60.00%: NOT better than the baseline",
    );
    expect(await page.textContent("#card-label")).to.match(/self-reported, not verified/);
    const cells = await page
      .locator('section.version[data-version="1"] table.evaluations tbody tr td')
      .allTextContents();
    expect(cells[0]).to.contain("#1 fixture held-out (50 rows)");
    expect(cells[0]).to.contain("the 50 rows of the fixture");
    expect(cells[1]).to.equal("accuracy (higher is better)");
    expect(cells[2]).to.equal("55.00% (not better than the baseline)");
    expect(cells[3]).to.equal("60.00% — always the majority class");
    expect(cells[4]).to.contain(`TEE enclave ${fx.enclave.address.toLowerCase().slice(0, 10)}`);
    expect(cells[4]).to.contain(`measurement ${MEASUREMENT.toLowerCase()}`);
  });

  it("says when a version has no verified evaluation", async () => {
    await page.goto(`${hub.url}/#/model/${unevaluated}`);
    await page.waitForSelector("#model-evaluations");
    expect(await page.textContent("#model-evaluations")).to.equal(
      "Version 1 has no verified evaluation: the card's figures are self-reported.",
    );
    expect(await page.locator("table.evaluations").count()).to.equal(0);
  });
});

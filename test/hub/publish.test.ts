import hre from "hardhat";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Command } from "commander";
import { toUtf8Bytes } from "ethers";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { exitCodeOf, firstLine } from "../../src/core/errors";
import { tokenAmount, usageLine } from "../../src/hub/client";
import type { HubContext } from "../../src/cli/commands/hub";
import * as publishCommand from "../../src/cli/commands/publish";
import * as pullCommand from "../../src/cli/commands/pull";
import * as searchCommand from "../../src/cli/commands/search";
import type { GlobalOptions } from "../../src/cli/options";
import {
  PublishInputError,
  PublishStorageError,
  PullInputError,
  PullIntegrityError,
  RegistryTransactionError,
} from "../../src/hub/errors";
import { loadModelFiles, publishModel } from "../../src/hub/publish";
import { parseModelRef, pullModel } from "../../src/hub/pull";
import { sha256Hex } from "../../src/core/hash";
import { Mode } from "../../src/core/modes";
import { cidBytes, type ContentStore, EmbeddedContentStore, canonicalCid, computeCid } from "../../src/storage";
import { type RunningHubServer, startHubServer } from "../../src/hub/http";
import { freshHub, id, publish } from "./fixtures";
import { MODEL_PRICE, systemFixture, type Fixture } from "../fixtures/system";
import { modelFiles, publishAs, TEE, VANILLA } from "./chain";

/** Writes files into a fresh directory. */
function writeTree(root: string, files: Record<string, string>): string {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
  return root;
}

const CARD = "---\nname: acme/tiny-onnx\ntask: tabular-classification\nlicense: mit\n---\n# Tiny\n\nA tiny model.\n";

describe("publish and pull", () => {
  let tmp: string;
  let content: EmbeddedContentStore;
  let fx: Fixture;
  const dir = (name: string) => {
    const d = path.join(tmp, name);
    mkdirSync(d, { recursive: true });
    return d;
  };

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "vin-publish-"));
    content = await EmbeddedContentStore.open(path.join(tmp, "ipfs"));
  });
  after(async () => {
    await content.close();
    rmSync(tmp, { recursive: true, force: true });
  });
  beforeEach(async () => {
    fx = await loadFixture(systemFixture);
  });

  describe("publishModel", () => {
    it("stores a directory's files and registers their CIDs and SHA-256s in one transaction", async () => {
      const root = writeTree(dir("tree"), {
        "README.md": CARD,
        "model.onnx": "weights",
        "tokenizer/vocab.txt": "a\nb\n",
        ".git/HEAD": "x",
      });
      const before = await hre.ethers.provider.getBlockNumber();
      const result = await publishModel({
        registry: fx.system.registry.connect(fx.owner),
        store: content,
        files: loadModelFiles(root),
        modes: [VANILLA, TEE],
        price: MODEL_PRICE,
      });
      expect(await hre.ethers.provider.getBlockNumber()).to.equal(before + 1);
      expect([result.modelId, result.version]).to.deep.equal([2n, 1]);
      const files = await fx.system.registry.filesOf(result.modelId, 1);
      expect(files.map((f) => f.path)).to.deep.equal(["README.md", "model.onnx", "tokenizer/vocab.txt"]);
      for (const f of files) {
        const bytes = readFileSync(path.join(root, f.path));
        expect(f.sha256).to.equal(sha256Hex(bytes));
        expect(
          Buffer.from(await content.cat(await canonicalCid(Buffer.from(f.cid.slice(2), "hex")))).equals(bytes),
        ).to.equal(true);
      }
      const info = await fx.system.registry.versionOf(result.modelId, 1);
      expect(info.cardHash).to.equal(sha256Hex(toUtf8Bytes(CARD)));
      expect(await fx.system.registry.cardCidOf(result.modelId, 1)).to.equal(
        `0x${Buffer.from(await cidBytes(result.cardCid)).toString("hex")}`,
      );
      expect(info.modes).to.equal(0b11n);
      expect(await fx.system.registry.modelOf(result.modelId)).to.deep.equal([fx.owner.address, MODEL_PRICE]);
    });

    it("publishes a single ONNX file with the README.md beside it, and a next version with publishVersion", async () => {
      const root = writeTree(dir("single"), { "README.md": CARD, "penguins.onnx": "onnx" });
      const files = loadModelFiles(path.join(root, "penguins.onnx"));
      expect(files.map((f) => f.path)).to.deep.equal(["penguins.onnx", "README.md"]);
      const first = await publishModel({
        registry: fx.system.registry.connect(fx.owner),
        store: content,
        files,
        modes: [VANILLA],
        price: 1n,
      });
      const second = await publishModel({
        registry: fx.system.registry.connect(fx.owner),
        store: content,
        files,
        modes: [VANILLA],
        modelId: first.modelId,
      });
      expect([second.modelId, second.version]).to.deep.equal([first.modelId, 2]);
    });

    for (const [title, files, problem] of [
      ["the card is missing", { "model.onnx": "w" }, "model card README.md is missing"],
      [
        "the card has no front matter",
        { "README.md": "# no front matter", "model.onnx": "w" },
        "has no YAML front matter",
      ],
      [
        "the card lacks a license",
        { "README.md": "---\nname: x\ntask: t\n---\n", "model.onnx": "w" },
        "`license` is required",
      ],
      ["a file is empty", { "README.md": CARD, "model.onnx": "" }, "model.onnx is empty"],
    ] as const) {
      it(`registers nothing when ${title}`, async () => {
        const root = writeTree(dir(`bad-${title.replace(/\W+/g, "-")}`), files);
        const error = await publishModel({
          registry: fx.system.registry.connect(fx.owner),
          store: content,
          files: loadModelFiles(root),
          modes: [VANILLA],
          price: 1n,
        }).catch((e: unknown) => e);
        expect(error).to.be.instanceOf(PublishInputError);
        expect((error as Error).message).to.contain(problem);
        expect(await fx.system.registry.modelCount()).to.equal(1n);
      });
    }

    it("hands each card warning to `warn` and returns them with the card", async () => {
      const card =
        "\n\n---\nname: acme/lenient-card\npipeline_tag: tabular-classification\nlicense: mit\n---\n# Lenient\n";
      const warnings: string[] = [];
      const files = [
        { path: "README.md", bytes: toUtf8Bytes(card) },
        { path: "m.onnx", bytes: toUtf8Bytes("lenient") },
      ];
      const result = await publishModel({
        registry: fx.system.registry.connect(fx.owner),
        store: content,
        files,
        modes: [VANILLA],
        price: 1n,
        warn: (w) => warnings.push(w),
      });
      expect(warnings).to.deep.equal(["2 blank line(s) before the opening `---` were ignored"]);
      expect(result.card.warnings).to.deep.equal(warnings);
    });

    it("refuses files above the size limit", () => {
      const root = writeTree(dir("big"), { "README.md": CARD, "model.onnx": "x".repeat(2000) });
      expect(() => loadModelFiles(root, { maxFileBytes: 1000 })).to.throw(
        PublishInputError,
        "more than the limit of 1000 bytes",
      );
    });

    it("registers nothing when the content store reads back other bytes", async () => {
      const lying: ContentStore = {
        add: (bytes) => content.add(bytes),
        cat: async () => toUtf8Bytes("something else"),
        has: (cid) => content.has(cid),
        close: async () => undefined,
      };
      const error = await publishAs(fx, lying, modelFiles("acme/liar", "lies")).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(PublishStorageError);
      expect((error as Error).message).to.match(/Storing README\.md .* nothing was registered/);
      expect(await fx.system.registry.modelCount()).to.equal(1n);
    });

    it("reports a reverted transaction with the registry's decoded custom error", async () => {
      const error = await publishModel({
        registry: fx.system.registry.connect(fx.other),
        store: content,
        files: modelFiles("acme/not-mine", "x"),
        modes: [VANILLA],
        modelId: 1n,
      }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(RegistryTransactionError);
      const e = error as RegistryTransactionError;
      expect(e.errorName).to.equal("ModelRegistryUnauthorizedAccount");
      expect(e.errorArgs).to.deep.equal([1n, fx.other.address]);
      expect(e.shortMessage).to.equal(
        `ModelRegistry.publishVersion reverted with ModelRegistryUnauthorizedAccount(1, ${fx.other.address}).`,
      );
    });

    it("stores nothing when the registry would refuse the version", async () => {
      const files = modelFiles("acme/refused", "refusals");
      await publishModel({
        registry: fx.system.registry.connect(fx.other),
        store: content,
        files,
        modes: [VANILLA],
        modelId: 1n,
      }).catch(() => undefined);
      for (const f of files) expect(await content.has(await computeCid(f.bytes)), f.path).to.equal(false);
    });

    it("requires an enclave measurement for the tee mode", async () => {
      const error = await publishAs(fx, content, modelFiles("acme/tee", "x"), [
        { mode: "tee", measurements: [] },
      ]).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(PublishInputError);
    });
  });

  describe("pullModel", () => {
    it("writes the latest version's files after verifying each SHA-256", async () => {
      const root = writeTree(dir("src-pull"), { "README.md": CARD, "model.onnx": "weights-v1" });
      const { modelId } = await publishModel({
        registry: fx.system.registry.connect(fx.owner),
        store: content,
        files: loadModelFiles(root),
        modes: [VANILLA],
        price: 1n,
      });
      writeFileSync(path.join(root, "model.onnx"), "weights-v2");
      await publishModel({
        registry: fx.system.registry.connect(fx.owner),
        store: content,
        files: loadModelFiles(root),
        modes: [VANILLA],
        modelId,
      });
      const out = path.join(tmp, "pulled-latest");
      const result = await pullModel({ registry: fx.system.registry, store: content, modelId, outDir: out });
      expect(result.version).to.equal(2);
      expect(readFileSync(path.join(out, "model.onnx"), "utf8")).to.equal("weights-v2");
      expect(readFileSync(path.join(out, "README.md"), "utf8")).to.equal(CARD);
      const v1 = path.join(tmp, "pulled-v1");
      await pullModel({ registry: fx.system.registry, store: content, ...parseModelRef(`${modelId}@1`), outDir: v1 });
      expect(readFileSync(path.join(v1, "model.onnx"), "utf8")).to.equal("weights-v1");
    });

    it("writes nothing when a file does not match its registered SHA-256", async () => {
      const card = toUtf8Bytes(CARD);
      const weights = toUtf8Bytes("real weights");
      const cardCid = await cidBytes(await content.add(card));
      await fx.system.registry.connect(fx.owner).createModelAndPublish(1n, {
        cardHash: sha256Hex(card),
        cardCid,
        files: [
          { path: "README.md", cid: cardCid, sha256: sha256Hex(card) },
          {
            path: "model.onnx",
            cid: await cidBytes(await content.add(weights)),
            sha256: sha256Hex(toUtf8Bytes("other weights")),
          },
        ],
        modes: [{ mode: Mode.Vanilla, verifier: hre.ethers.ZeroAddress, bindings: [] }],
      });
      const out = path.join(tmp, "pulled-bad");
      const error = await pullModel({ registry: fx.system.registry, store: content, modelId: 2n, outDir: out }).catch(
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(PullIntegrityError);
      expect((error as PullIntegrityError).path).to.equal("model.onnx");
      expect(existsSync(out)).to.equal(false);
    });

    it("refuses an unknown model, a malformed reference and a non-empty directory", async () => {
      const error = await pullModel({
        registry: fx.system.registry,
        store: content,
        modelId: 99n,
        outDir: path.join(tmp, "none"),
      }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(PullInputError);
      expect(() => parseModelRef("seven@1")).to.throw(PullInputError);
      const full = writeTree(dir("full"), { "x.txt": "x" });
      const again = await pullModel({ registry: fx.system.registry, store: content, modelId: 1n, outDir: full }).catch(
        (e: unknown) => e,
      );
      expect((again as Error).message).to.contain("is not empty");
    });
  });

  describe("CLI commands", () => {
    const cli = async (args: string[]) => {
      const lines: string[] = [];
      const errors: string[] = [];
      const context: HubContext = {
        provider: async () => hre.ethers.provider,
        signer: async () => fx.owner,
        deployment: async () => fx.system.record,
        contentStore: async () => EmbeddedContentStore.open(path.join(tmp, "ipfs-cli")),
        stdout: (l) => lines.push(l),
        stderr: (l) => errors.push(l),
      };
      const program = new Command("vin").exitOverride();
      const global = (): GlobalOptions => ({ config: "unused.json", ipfsDir: "unused" });
      for (const command of [publishCommand, pullCommand, searchCommand]) command.register(program, global, context);
      // What `vin`'s main does with a failure: one `error:` line and the error kind's exit code.
      let code = 0;
      await program.parseAsync(["node", "vin", ...args]).catch((error: unknown) => {
        errors.push(`error: ${firstLine(error)}`);
        code = exitCodeOf(error);
      });
      return { lines, errors, failed: code !== 0, code };
    };

    it("publishes and pulls a directory", async () => {
      const root = writeTree(dir("cli"), { "README.md": CARD, "model.onnx": "cli-weights" });
      const published = await cli([
        "publish",
        root,
        "--price",
        "2.5",
        "--modes",
        "vanilla,tee",
        "--measurement",
        "0x" + "ab".repeat(32),
      ]);
      expect(published.errors).to.deep.equal([]);
      expect(published.lines.at(-1)).to.match(/^published acme\/tiny-onnx as model 2 version 1 \(tx 0x[0-9a-f]{64}\)$/);
      expect((await fx.system.registry.modelOf(2)).price).to.equal(25n * 10n ** 17n);
      const out = path.join(tmp, "cli-out");
      const pulled = await cli(["pull", "2@1", "--out", out]);
      expect(pulled.errors).to.deep.equal([]);
      expect(readdirSync(out).sort()).to.deep.equal(["README.md", "model.onnx"]);
    });

    it("searches a running hub, as text or JSON", async () => {
      const hub = freshHub();
      publish(hub.store, {
        model: 1,
        fields: { name: "acme/txn-guard", tags: ["fraud-detection"] },
        modes: 0b11,
        usage: { 0: 3 },
      });
      hub.store.addBelowFloorUsage({ modelId: id(1), version: 1, mode: Mode.Vanilla, jobs: 1, block: 99 });
      publish(hub.store, { model: 2, fields: { name: "acme/review-bert", license: "apache-2.0" } });
      let server: RunningHubServer | undefined;
      try {
        server = await startHubServer({ ...hub, port: 0 });
        const text = await cli(["search", "fraud", "detection", "--mode", "tee", "--hub", server.url]);
        expect(text.lines).to.deep.equal([
          "1@1  acme/txn-guard  [text-classification, mit]  vanilla,tee  0.000000000000001 tokens / inference  3 verified jobs · 9.45 tokens paid (1 below the usage floor, not counted)\n    A test model.",
        ]);
        const json = await cli(["search", "--license", "apache-2.0", "--json", "--hub", server.url]);
        expect((JSON.parse(json.lines[0]!) as { hits: { name: string }[] }).hits.map((h) => h.name)).to.deep.equal([
          "acme/review-bert",
        ]);
        const bad = await cli(["search", "x", "--mode", "quantum", "--hub", server.url]);
        expect(bad.errors).to.deep.equal([
          "error: Invalid parameter `mode`: must be vanilla, tee, zk, dual or a mode's number (0, 1, 2, 3).",
        ]);
      } finally {
        await server?.close();
        hub.store.close();
      }
    });

    it("says 1 token and 1 verified job in the singular, anything else in the plural", () => {
      expect(tokenAmount(10n ** 18n, 18)).to.equal("1 token");
      expect(tokenAmount(10n ** 17n * 15n, 18)).to.equal("1.5 tokens");
      expect(tokenAmount(0n, 18)).to.equal("0 tokens");
      expect(tokenAmount("12000000", 6)).to.equal("12 tokens");
      expect(usageLine({ verifiedJobs: 1, paidVolume: (10n ** 18n).toString(), belowFloorJobs: 0 }, 18)).to.equal(
        "1 verified job · 1 token paid",
      );
      expect(usageLine({ verifiedJobs: 0, paidVolume: "0", belowFloorJobs: 2 }, 18)).to.equal(
        "0 verified jobs · 0 tokens paid (2 below the usage floor, not counted)",
      );
    });

    it("prints each card warning on its own stderr line and publishes", async () => {
      const card =
        "\n---\nname: acme/lenient\ntask: tabular-classification\nlicense: mit\ntags: finance\n---\n# Lenient\n";
      const root = writeTree(dir("cli-lenient"), { "README.md": card, "model.onnx": "lenient-weights" });
      const published = await cli(["publish", root, "--price", "1"]);
      expect(published.errors).to.deep.equal([
        `warning: ${path.join(root, "README.md")}: 1 blank line(s) before the opening \`---\` were ignored`,
        `warning: ${path.join(root, "README.md")}: \`tags\` is a single string; read as a list of one tag`,
      ]);
      expect(published.failed).to.equal(false);
      expect(published.lines.at(-1)).to.match(/^published acme\/lenient as model 2 version 1/);
    });

    it("prints one error line and exits with the input-error code (2) for a bad invocation", async () => {
      const root = writeTree(dir("cli-bad"), { "README.md": CARD, "model.onnx": "w" });
      const result = await cli(["publish", root, "--price", "1", "--modes", "tee"]);
      expect(result.code).to.equal(2);
      expect(result.errors).to.deep.equal([
        "error: Cannot publish: mode tee needs --measurement 0x… (the accepted enclave measurement).",
      ]);
    });
  });
});

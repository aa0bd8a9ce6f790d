import hre from "hardhat";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { computeCid } from "../../src/storage";
import { sha256Hex } from "../../src/core/hash";
import { Mode, modeMask } from "../../src/core/modes";
import { publishDevnetTextModel, type PublishContext } from "../../src/devnet/models";
import { startLocalHub, type LocalHub } from "../../src/hub/local";
import { mobyDickLlama } from "../../src/models/moby-dick-llama";
import { FsContentStore } from "../../src/node/content-store";
import { DevEnclave } from "../../src/tee/dev-enclave";
import { systemFixture, type Fixture } from "../fixtures/system";

interface ModelPage {
  versions: {
    version: number;
    modes: number[];
    files: { path: string; sha256: string; cid: string }[];
    card: { name: string; task: string; library: string; body: string } | null;
  }[];
}

describe("devnet text model", () => {
  let dir: string;
  let hub: LocalHub | undefined;
  let fx: Fixture;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "vin-devnet-text-"));
    fx = await loadFixture(systemFixture);
  });
  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  function context(ipfsDir: string | undefined): PublishContext {
    return {
      registry: fx.system.registry,
      verifierFactory: fx.system.record.contracts.verifierFactory.address,
      deployer: fx.deployer,
      owner: fx.owner,
      content: new FsContentStore(path.join(dir, "content")),
      ipfsDir,
      log: () => undefined,
    };
  }

  it("publishes the bundled GGUF and its card by CID and SHA-256, TEE only, bound to the development enclave", async () => {
    const ctx = context(undefined);
    const model = mobyDickLlama();
    const { modelId } = await publishDevnetTextModel(ctx, { model });
    const [published] = await ctx.registry.queryFilter(ctx.registry.filters.VersionPublished(modelId, 1));
    expect(published!.args.files.map((f) => [f.path, f.sha256])).to.deep.equal([
      ["model.gguf", sha256Hex(model.gguf)],
      ["README.md", sha256Hex(new TextEncoder().encode(model.card))],
    ]);
    expect((await ctx.registry.versionOf(modelId, 1)).modes).to.equal(BigInt(modeMask([Mode.Tee])));
    expect(await ctx.registry.isBound(modelId, 1, Mode.Tee, DevEnclave.TD_MEASUREMENT)).to.equal(true);
    expect(Buffer.from(await ctx.content.cat(await computeCid(model.gguf))).equals(Buffer.from(model.gguf))).to.equal(
      true,
    );
  });

  it("publishes it to IPFS through the hub, whose model page carries its card and its honest figures", async () => {
    const ipfsDir = path.join(dir, "ipfs");
    const ctx = context(ipfsDir);
    const model = mobyDickLlama();
    const { modelId } = await publishDevnetTextModel(ctx, { model });
    hub = await startLocalHub({
      provider: hre.ethers.provider,
      deployment: fx.system.record,
      contentStoreDir: ipfsDir,
      port: 0,
    });
    const page = (await (await fetch(`${hub.url}/api/models/${modelId}`)).json()) as ModelPage;
    expect(page.versions.map((v) => [v.version, v.modes])).to.deep.equal([[1, [Mode.Tee]]]);
    expect(page.versions[0]!.files.map((f) => [f.path, f.cid])).to.deep.equal([
      ["model.gguf", await computeCid(model.gguf)],
      ["README.md", await computeCid(new TextEncoder().encode(model.card))],
    ]);
    const { card } = page.versions[0]!;
    expect(card).to.include({ name: "moby-dick-llama", task: "text-generation", library: "gguf" });
    expect(card!.body).to.contain(`perplexity ${model.facts.heldOutPerplexity.toFixed(1)}`);
    expect(card!.body).to.contain("it is not useful for anything else");
  });
});

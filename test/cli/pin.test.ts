import hre from "hardhat";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Command } from "commander";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { exitCodeOf, firstLine } from "../../src/core/errors";
import { fetchSources } from "../../src/cli/commands/hub";
import * as pinCommand from "../../src/cli/commands/pin";
import type { GlobalOptions } from "../../src/cli/options";
import { PeerContentStore } from "../../src/storage/peer";
import { PinningServiceClient } from "../../src/storage/pinning";
import { systemFixture, type Fixture } from "../fixtures/system";
import { modelFiles, publishAs } from "../hub/chain";
import { FakePinningService } from "../storage/fake-pinning-service";

const TOKEN = "secret-token";

describe("vin pin / vin unpin", () => {
  let tmp: string;
  let source: PeerContentStore;
  let sourceAddress: string;
  let service: FakePinningService;
  /** The chain of the model-reference tests (loaded by them: the others never touch the registry). */
  let fx: Fixture | undefined;
  const text = (s: string) => new TextEncoder().encode(s);

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), "vin-pin-"));
    source = await PeerContentStore.open({ dir: path.join(tmp, "source"), listen: ["/ip4/127.0.0.1/tcp/0"] });
    sourceAddress = source.multiaddrs()[0]!;
  });
  after(async () => {
    await source.close();
    rmSync(tmp, { recursive: true, force: true });
  });
  beforeEach(async () => {
    service = await FakePinningService.start();
  });
  afterEach(() => service.stop());

  /** Runs `vin <args>` in-process as main does: output lines, the `error:` line and the exit code. */
  const cli = async (ipfsDir: string, args: string[], env: NodeJS.ProcessEnv = { PIN_TOKEN: TOKEN }) => {
    const lines: string[] = [];
    const errors: string[] = [];
    const context: pinCommand.PinContext = {
      provider: async () => hre.ethers.provider,
      signer: () => Promise.reject(new Error("pin never signs")),
      deployment: async () => fx!.system.record,
      contentStore: () => Promise.reject(new Error("pin uses the peer store")),
      env,
      stdout: (l) => lines.push(l),
      stderr: (l) => errors.push(l),
    };
    const program = new Command("vin").exitOverride();
    const global = (): GlobalOptions => ({ config: path.join(tmp, "no-config.json"), ipfsDir });
    pinCommand.register(program, global, context);
    let code = 0;
    await program.parseAsync(["node", "vin", ...args]).catch((error: unknown) => {
      errors.push(`error: ${firstLine(error)}`);
      code = exitCodeOf(error);
    });
    return { lines, errors, code };
  };

  /** The local pins of `dir`, read by opening its store after the command closed it. */
  const localPins = async (dir: string) => {
    const store = await PeerContentStore.open({ dir });
    try {
      return await store.pins();
    } finally {
      await store.close();
    }
  };

  describe("into the local IPFS store", () => {
    it("pins a CID fetched from a peer, lists it, unpins it, and says when it was not pinned", async () => {
      const cid = await source.add(text("weights to keep"));
      const dir = path.join(tmp, "local-1");
      const pinned = await cli(dir, ["pin", cid, "--provider", sourceAddress]);
      expect(pinned.errors).to.deep.equal([]);
      expect(pinned.lines).to.deep.equal([`pinned ${cid}`]);
      expect(await localPins(dir)).to.deep.equal([cid]);
      const store = await PeerContentStore.open({ dir });
      try {
        expect(Buffer.from(await store.cat(cid)).toString()).to.equal("weights to keep");
      } finally {
        await store.close();
      }

      expect((await cli(dir, ["pin", "ls"])).lines).to.deep.equal([cid]);
      expect((await cli(dir, ["unpin", cid])).lines).to.deep.equal([`unpinned ${cid}`]);
      expect(await localPins(dir)).to.deep.equal([]);
      expect((await cli(dir, ["unpin", cid])).lines).to.deep.equal([`was not pinned: ${cid}`]);
    });

    it("fails with NotFoundError's exit code when no peer serves the CID", async () => {
      const cid = await source.add(text("only at the source"));
      const result = await cli(path.join(tmp, "local-2"), ["pin", cid]);
      expect(result.code).to.equal(8);
      expect(result.errors.at(-1)).to.contain(cid);
    });

    it("refuses what is neither a CID nor a model reference, and a provider without a peer id", async () => {
      const dir = path.join(tmp, "local-3");
      const bad = await cli(dir, ["pin", "not-a-cid"]);
      expect(bad.code).to.equal(2);
      expect(bad.errors).to.deep.equal([`error: "not-a-cid" is neither a CID nor a model reference like 7 or 7@2`]);
      const cid = await source.add(text("x"));
      const provider = await cli(dir, ["pin", cid, "--provider", "/ip4/127.0.0.1/tcp/1"]);
      expect(provider.code).to.equal(2);
      expect(provider.errors.at(-1)).to.match(
        /^error: provider "\/ip4\/127.0.0.1\/tcp\/1" cannot be dialled: it .*p2p/,
      );
    });

    it("pins every file of a model version read from the registry, and unpins them", async () => {
      fx = await loadFixture(systemFixture);
      const files = modelFiles("acme/pinned", "pinning");
      const published = await publishAs(fx, source, files);
      const ref = `${published.modelId}@${published.version}`;
      const dir = path.join(tmp, "local-model");
      const result = await cli(dir, ["pin", ref, "--provider", sourceAddress]);
      expect(result.errors).to.deep.equal([]);
      const cids = await Promise.all(files.map((f) => source.add(f.bytes)));
      expect(result.lines).to.deep.equal(files.map((f, i) => `pinned ${f.path} ${cids[i]}`));
      expect((await localPins(dir)).sort()).to.deep.equal([...cids].sort());
      const unpinned = await cli(dir, ["unpin", ref]);
      expect(unpinned.lines).to.deep.equal(files.map((f, i) => `unpinned ${f.path} ${cids[i]}`));
      expect(await localPins(dir)).to.deep.equal([]);
    });
    it("keeps a file another pinned version of the model lists too, naming that version", async () => {
      fx = await loadFixture(systemFixture);
      // Two versions of one model sharing model.onnx (its bytes depend on the name only); the READMEs differ.
      const one = modelFiles("acme/shared", "the first");
      const two = modelFiles("acme/shared", "the second");
      const first = await publishAs(fx, source, one);
      const second = await publishAs(fx, source, two, undefined, first.modelId);
      const [readme1, weights, readme2] = await Promise.all(
        [one[0]!, one[1]!, two[0]!].map((f) => source.add(f.bytes)),
      );
      expect(await source.add(two[1]!.bytes)).to.equal(weights);
      const dir = path.join(tmp, "local-shared");
      for (const version of [first.version, second.version])
        expect(
          (await cli(dir, ["pin", `${first.modelId}@${version}`, "--provider", sourceAddress])).errors,
        ).to.deep.equal([]);

      const unpinned = await cli(dir, ["unpin", `${first.modelId}@${second.version}`]);
      expect(unpinned.errors).to.deep.equal([]);
      expect(unpinned.lines).to.deep.equal([
        `unpinned README.md ${readme2}`,
        `kept model.onnx ${weights}: model ${first.modelId}@${first.version}, pinned here, lists it too`,
      ]);
      expect((await localPins(dir)).sort()).to.deep.equal([readme1, weights].sort());
      const store = await PeerContentStore.open({ dir });
      try {
        expect(Buffer.from(await store.cat(weights!)).toString()).to.equal("onnx-weights-of-acme/shared");
      } finally {
        await store.close();
      }

      // With no other version pinned, the shared file goes too.
      const last = await cli(dir, ["unpin", `${first.modelId}@${first.version}`, "--json"]);
      expect(JSON.parse(last.lines.join("\n"))).to.deep.equal([
        { cid: readme1, path: "README.md", unpinned: true },
        { cid: weights, path: "model.onnx", unpinned: true },
      ]);
      expect(await localPins(dir)).to.deep.equal([]);
    });
  });

  describe("fetchSources", () => {
    it("gives the configured peers alone, and warns once, when the ProviderDirectory cannot be read", async () => {
      const config = path.join(tmp, "broken-directory.json");
      const nobody = "0x000000000000000000000000000000000000dEaD"; // no code: every read of it fails
      writeFileSync(
        config,
        JSON.stringify({
          rpcUrl: "http://127.0.0.1:8545",
          chainId: 31337,
          modes: ["vanilla"],
          keystore: "keystore.json",
          dataDir: "data",
          contentDir: "content",
          ipfsPeers: [sourceAddress],
          contracts: {
            escrow: nobody,
            staking: nobody,
            registry: nobody,
            teeVerifier: nobody,
            token: nobody,
            providerDirectory: nobody,
            startBlock: 0,
          },
        }),
      );
      const warnings: string[] = [];
      const sources = await fetchSources(
        () => ({ config, ipfsDir: path.join(tmp, "unused") }),
        async () => hre.ethers.provider,
        {},
        (line) => warnings.push(line),
      );
      const given = [{ multiaddrs: [sourceAddress], label: sourceAddress }];
      expect(await sources.providers()).to.deep.equal(given);
      expect(await sources.providers()).to.deep.equal(given);
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.match(/^warning: cannot read the ProviderDirectory \(.+\): using the configured peers$/);
    });
  });

  describe("at a pinning service", () => {
    const at = (...args: string[]) => [...args, "--service", service.url, "--token-env", "PIN_TOKEN"];

    it("asks the service to pin a CID with the token from the named variable, once however often it is asked", async () => {
      const cid = await source.add(text("for the service"));
      const first = await cli(tmp, at("pin", cid, "--name", "weights", "--origin", sourceAddress));
      expect(first.errors).to.deep.equal([]);
      const [request] = [...service.pins.values()];
      expect(request!.pin).to.deep.equal({ cid, name: "weights", origins: [sourceAddress] });
      expect(first.lines).to.deep.equal([`queued ${cid} (request ${request!.requestid})`]);
      expect(service.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).to.equal(true);

      const again = await cli(tmp, at("pin", cid));
      expect(again.lines).to.deep.equal([`queued ${cid} (request ${request!.requestid}, already requested)`]);
      expect(service.pins.size).to.equal(1);

      const listed = await cli(tmp, at("pin", "ls", "--json"));
      const pins = JSON.parse(listed.lines.join("\n")) as { requestid: string; status: string }[];
      expect(pins.map((p) => [p.requestid, p.status])).to.deep.equal([[request!.requestid, "queued"]]);
    });

    /** Moves every request of the fake service one step along `steps` each 20 ms, as its workers would. */
    const drive = (steps: Partial<Record<string, "pinning" | "pinned" | "failed">>, info?: Record<string, string>) =>
      setInterval(() => {
        for (const request of service.pins.values()) {
          const next = steps[request.status];
          if (next !== undefined) service.setStatus(request.requestid, next, info);
        }
      }, 20);

    it("waits with --wait until the service reports the pin pinned", async () => {
      const cid = await source.add(text("wait for it"));
      const timer = drive({ queued: "pinning", pinning: "pinned" });
      try {
        const result = await cli(tmp, at("pin", cid, "--wait", "--poll-interval", "0.01"));
        expect(result.code, result.errors.join("\n")).to.equal(0);
        const [request] = [...service.pins.values()];
        expect(result.lines).to.deep.equal([`pinned ${cid} (request ${request!.requestid})`]);
        expect(service.seen("GET", `/pins/${request!.requestid}`).length).to.be.at.least(2);
      } finally {
        clearInterval(timer);
      }
    });

    it("asks again for a CID whose earlier request failed, and reports a failure with the service's details", async () => {
      const cid = await source.add(text("cannot be found"));
      await cli(tmp, at("pin", cid));
      const [first] = [...service.pins.values()];
      service.setStatus(first!.requestid, "failed");
      const timer = drive({ queued: "failed" }, { status_details: "no provider found" });
      try {
        const result = await cli(tmp, at("pin", cid, "--wait", "--poll-interval", "0.01"));
        expect(service.pins.size).to.equal(2);
        expect(result.code).to.equal(8);
        expect(result.errors.at(-1))
          .to.contain(`the pinning service failed to pin ${cid}`)
          .and.contain("no provider found");
      } finally {
        clearInterval(timer);
      }
    });

    it("unpins a CID by removing every request for it", async () => {
      const cid = await source.add(text("to be removed"));
      await cli(tmp, at("pin", cid));
      await cli(tmp, at("pin", cid, "--name", "second"));
      expect(service.pins.size).to.equal(1);
      // A second request for the same CID, made elsewhere (another tool, another machine).
      await new PinningServiceClient({ url: service.url, token: TOKEN }).add({ cid, name: "elsewhere" });
      const removed = await cli(tmp, at("unpin", cid));
      expect(removed.lines).to.deep.equal([`removed 2 pin request(s) of ${cid}`]);
      expect(service.pins.size).to.equal(0);
      expect((await cli(tmp, at("unpin", cid))).lines).to.deep.equal([`no pin request for ${cid}`]);
    });

    it("pins a model version's files under <name>/<path> with the version in meta", async () => {
      fx = await loadFixture(systemFixture);
      const files = modelFiles("acme/serviced", "services");
      const { modelId, version } = await publishAs(fx, source, files);
      const result = await cli(tmp, at("pin", `${modelId}@${version}`));
      expect(result.errors).to.deep.equal([]);
      const pins = [...service.pins.values()].map((p) => p.pin);
      expect(pins.map((p) => [p.name, p.meta])).to.deep.equal(
        files.map((f) => [
          `model-${modelId}@${version}/${f.path}`,
          { "vin.model": String(modelId), "vin.version": String(version), "vin.path": f.path },
        ]),
      );
    });

    it("refuses a missing token variable and a token the service rejects, never printing the token", async () => {
      const cid = await source.add(text("auth"));
      const missing = await cli(tmp, at("pin", cid), {});
      expect(missing.code).to.equal(2);
      expect(missing.errors).to.deep.equal([
        `error: set $PIN_TOKEN to the access token of ${service.url} (or name another with --token-env)`,
      ]);
      expect(service.requests).to.have.length(0);
      const wrong = await cli(tmp, at("pin", cid), { PIN_TOKEN: "leaked-if-printed" });
      expect(wrong.code).to.equal(2);
      expect(wrong.errors.at(-1)).to.contain("the access token in $PIN_TOKEN").and.contain("401");
      expect(wrong.errors.join("\n")).to.not.contain("leaked-if-printed");
    });
  });
});

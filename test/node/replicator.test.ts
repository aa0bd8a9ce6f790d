import { expect } from "chai";
import { NotFoundError } from "../../src/core/errors";
import { sha256Hex } from "../../src/core/hash";
import { silentLogger } from "../../src/core/log";
import { Mode, modeMask } from "../../src/core/modes";
import { reachableAddresses, Replicator, type PinningStore } from "../../src/node/replication";

/** Every `filesOf` call a fake registry answered, as "model@version". */
const filesOfCalls: string[] = [];

/** A registry of `versions[model - 1][version - 1]` = { deprecated, files }. */
function fakeRegistry(
  versions: { deprecated: boolean; modes?: number; files: { path: string; cid: string; sha256: string }[] }[][],
) {
  return {
    modelCount: async () => BigInt(versions.length),
    versionCount: async (modelId: bigint) => BigInt(versions[Number(modelId) - 1]!.length),
    versionOf: async (modelId: bigint, version: bigint) => {
      const v = versions[Number(modelId) - 1]![Number(version) - 1]!;
      return { ...v, modes: BigInt(v.modes ?? VANILLA_TEE) };
    },
    filesOf: async (modelId: bigint, version: bigint) => {
      filesOfCalls.push(`${modelId}@${version}`);
      return versions[Number(modelId) - 1]![Number(version) - 1]!.files;
    },
  } as never;
}

/** A peer store whose providers hold `remote`; `down` CIDs cannot be fetched. */
function fakeStore(remote: Map<string, Uint8Array>) {
  const local = new Map<string, Uint8Array>();
  const down = new Set<string>();
  const pinCalls: string[] = [];
  const store: PinningStore = {
    async pin(cid) {
      pinCalls.push(cid);
      const bytes = remote.get(cid);
      if (bytes === undefined || down.has(cid)) throw new NotFoundError(`no provider serves ${cid}`);
      local.set(cid, bytes);
    },
    async unpin(cid) {
      local.delete(cid);
    },
    async pins() {
      return [...local.keys()];
    },
    async cat(cid) {
      const bytes = local.get(cid);
      if (bytes === undefined) throw new NotFoundError(`${cid} is not local`);
      return bytes;
    },
  };
  return { store, local, down, pinCalls };
}

const VANILLA_TEE = modeMask([Mode.Vanilla, Mode.Tee]);

const file = (name: string, bytes: Uint8Array, sha256 = sha256Hex(bytes)) => ({
  path: name,
  cid: `bafk${name.replace(/[^a-z]/g, "")}`,
  sha256,
});

describe("operator node: Replicator (pins the files of the versions it serves)", () => {
  const a = new TextEncoder().encode("model a");
  const b = new TextEncoder().encode("model b v2");
  const old = new TextEncoder().encode("deprecated");
  const fa = file("a.onnx", a);
  const fb = file("b.onnx", b);
  const fold = file("old.onnx", old);
  const remote = new Map([
    [fa.cid, a],
    [fb.cid, b],
    [fold.cid, old],
  ]);
  const registry = fakeRegistry([
    [{ deprecated: false, files: [fa] }],
    [
      { deprecated: true, files: [fold] },
      { deprecated: false, files: [fb] },
    ],
  ]);
  const options = { registry, log: silentLogger, intervalMs: 10, rpcTimeoutMs: 1_000, modes: VANILLA_TEE };

  it("pins every file of every active version, skips deprecated ones, and pins nothing twice", async () => {
    const { store, local, pinCalls } = fakeStore(remote);
    const replicator = new Replicator({ ...options, store, models: "all" });
    filesOfCalls.length = 0;
    const first = await replicator.pass();
    expect(first.pinned.map((p) => p.path)).to.deep.equal(["a.onnx", "b.onnx"]);
    expect(first.pinned.map((p) => [p.modelId, p.version])).to.deep.equal([
      [1n, 1n],
      [2n, 2n],
    ]);
    expect(first).to.include({ held: 2 });
    expect([...local.keys()]).to.have.members([fa.cid, fb.cid]);
    const second = await replicator.pass();
    expect(second.pinned).to.deep.equal([]);
    expect(second.held).to.equal(2);
    expect(pinCalls).to.deep.equal([fa.cid, fb.cid]);
    // A version's files are read once: the second pass asks the registry only whether versions are deprecated.
    expect(filesOfCalls).to.deep.equal(["1@1", "2@2"]);
  });

  it("pins only the models listed, none with 'none', and ignores ids the registry does not have", async () => {
    const listed = fakeStore(remote);
    const only = await new Replicator({ ...options, store: listed.store, models: [2n, 9n] }).pass();
    expect(only.pinned.map((p) => p.path)).to.deep.equal(["b.onnx"]);
    const none = fakeStore(remote);
    expect(await new Replicator({ ...options, store: none.store, models: "none" }).pass()).to.deep.equal({
      pinned: [],
      failed: [],
      held: 0,
    });
    expect(none.pinCalls).to.deep.equal([]);
  });

  it("reports a file no provider serves with the reason, and pins it on a later pass once one does", async () => {
    const { store, down } = fakeStore(remote);
    down.add(fb.cid);
    const replicator = new Replicator({ ...options, store, models: "all" });
    const first = await replicator.pass();
    expect(first.pinned.map((p) => p.path)).to.deep.equal(["a.onnx"]);
    expect(first.failed).to.have.length(1);
    expect(first.failed[0]).to.include({ path: "b.onnx", cid: fb.cid });
    expect(first.failed[0]!.reason).to.include(`no provider serves ${fb.cid}`);
    expect(first.held).to.equal(1);
    down.delete(fb.cid);
    const second = await replicator.pass();
    expect(second.pinned.map((p) => p.path)).to.deep.equal(["b.onnx"]);
    expect(second.failed).to.deep.equal([]);
  });

  it("pins only versions supporting a mode the node serves: a ZK-only version is not a vanilla node's to keep", async () => {
    const { store, pinCalls } = fakeStore(remote);
    const replicator = new Replicator({
      ...options,
      registry: fakeRegistry([
        [{ deprecated: false, modes: modeMask([Mode.Zk]), files: [fa] }],
        [{ deprecated: false, modes: modeMask([Mode.Tee]), files: [fb] }],
      ]),
      store,
      models: "all",
      modes: modeMask([Mode.Vanilla]),
    });
    expect((await replicator.pass()).pinned).to.deep.equal([]);
    expect(pinCalls).to.deep.equal([]);
    const tee = new Replicator({
      ...options,
      registry: fakeRegistry([[{ deprecated: false, modes: modeMask([Mode.Tee]), files: [fb] }]]),
      store,
      models: "all",
      modes: modeMask([Mode.Tee]),
    });
    expect((await tee.pass()).pinned.map((p) => p.path)).to.deep.equal(["b.onnx"]);
  });

  it("refuses a file whose bytes do not hash to the SHA-256 the version records, naming both hashes", async () => {
    const wrong = file("a.onnx", a, `0x${"11".repeat(32)}`);
    const { store, local } = fakeStore(remote);
    const replicator = new Replicator({
      ...options,
      registry: fakeRegistry([[{ deprecated: false, files: [wrong] }]]),
      store,
      models: "all",
    });
    const pass = await replicator.pass();
    expect(pass.pinned).to.deep.equal([]);
    expect(pass.failed[0]!.reason).to.include(`not the recorded 0x${"11".repeat(32)}`);
    // Not kept, not served, and not counted as held by the next pass.
    expect(local.has(wrong.cid)).to.equal(false);
    const again = await replicator.pass();
    expect(again.held).to.equal(0);
    expect(again.failed).to.have.length(1);
  });

  it("start() runs passes until stop()", async () => {
    const { store, local } = fakeStore(remote);
    const replicator = new Replicator({ ...options, store, models: "all" });
    replicator.start();
    while (local.size < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    await replicator.stop();
    expect([...local.keys()]).to.have.members([fa.cid, fb.cid]);
  });
});

describe("operator node: reachableAddresses (what a peer listening on 0.0.0.0 announces)", () => {
  const id = "/p2p/12D3KooWSAnF4Lq3e3b7ocTg8j32kphcr9mHrFiCepVL5CXXQS51";

  it("drops loopback addresses when others exist, keeps them when they are all there is", () => {
    expect(reachableAddresses([`/ip4/127.0.0.1/tcp/4001${id}`, `/ip4/192.0.2.2/tcp/4001${id}`])).to.deep.equal([
      `/ip4/192.0.2.2/tcp/4001${id}`,
    ]);
    expect(reachableAddresses([`/ip4/127.0.0.1/tcp/4001${id}`, `/ip6/::1/tcp/4001${id}`])).to.deep.equal([
      `/ip4/127.0.0.1/tcp/4001${id}`,
      `/ip6/::1/tcp/4001${id}`,
    ]);
  });

  it("keeps at most the directory's four", () => {
    const many = [1, 2, 3, 4, 5, 6].map((i) => `/ip4/10.0.0.${i}/tcp/4001${id}`);
    expect(reachableAddresses(many)).to.deep.equal(many.slice(0, 4));
  });
});

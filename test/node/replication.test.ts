import { expect } from "chai";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { toUtf8Bytes } from "ethers";
import pino from "pino";
import { cidString } from "../../src/core/cid";
import type { Provider } from "../../src/core/content";
import { addressesFromRecord, connectContracts, type Contracts } from "../../src/core/contracts";
import { sha256Hex } from "../../src/core/hash";
import { toJobId, toModelId } from "../../src/core/ids";
import { Mode } from "../../src/core/modes";
import { providerSource, readProviders } from "../../src/core/providers";
import { publishModel, type PublishResult } from "../../src/hub/publish";
import { requestInference } from "../../src/sdk/requestInference";
import { verifyResult } from "../../src/sdk/verifyResult";
import { waitForResult } from "../../src/sdk/waitForResult";
import { EmbeddedContentStore, PeerContentStore, type FetchProgress } from "../../src/storage";
import {
  createOperator,
  DaemonProcess,
  eventually,
  sleep,
  spawnVin,
  startDevnet,
  TOKEN,
  type Devnet,
  type Operator,
} from "./harness";

/** A file of the replicated version, as the registry records it. */
interface VersionFile {
  path: string;
  cid: string;
  sha256: string;
}

/** `vin ipfs serve` in a child process: the publisher's peer. */
class PublisherPeer {
  output = "";
  stderr = "";
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.on("data", (c: Buffer) => (this.output += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The JSON line `--json` prints once the peer listens. */
  async ready(): Promise<{ peerId: string; multiaddrs: string[]; pins: number }> {
    for (;;) {
      const line = this.output.split("\n").find((l) => l.startsWith("{"));
      if (line !== undefined) return JSON.parse(line) as { peerId: string; multiaddrs: string[]; pins: number };
      if (!this.alive) throw new Error(`vin ipfs serve exited:\n${this.output}\n${this.stderr}`);
      await sleep(100);
    }
  }

  /** SIGKILL to its process group (the publisher's machine goes away: nothing is closed). */
  async kill(): Promise<void> {
    if (this.alive) process.kill(-this.child.pid!, "SIGKILL");
    await this.exited;
  }
}

/**
 * Replication of model files over IPFS (issue #18) on a real hardhat node, every participant its own process and its
 * own Helia peer on 127.0.0.1: a publisher (`vin ipfs serve`) holds a version's files, which are in no operator's
 * content directory; two operator daemons fetch them from it, pin them and announce their addresses in
 * ProviderDirectory; the publisher is killed; a job still settles and re-verifies from the operators' copies, a third
 * operator told of no peer pins every file from the operators it finds on-chain, a fresh peer fetches every file
 * verified; an operator that stops is skipped and the content comes from another.
 */
describe("operator node: model files replicated over IPFS (against a real hardhat node)", () => {
  let net: Devnet;
  let contracts: Contracts;
  let modelId: bigint;
  let files: VersionFile[];
  let publisher: PublisherPeer;
  let publisherAddress: string;
  let operators: Operator[];
  let daemons: DaemonProcess[];
  const stores: PeerContentStore[] = [];

  /** A fresh peer (no listen) in an empty temp dir, fetching from `providers`, its warnings kept in `warnings`. */
  const freshStore = async (providers: () => Promise<Provider[]>, warnings: string[] = []) => {
    const log = pino({ level: "warn" }, { write: (line: string) => warnings.push(line) });
    const store = await PeerContentStore.open({
      dir: mkdtempSync(path.join(os.tmpdir(), "vin-replication-fetcher-")),
      providers,
      log,
    });
    stores.push(store);
    return store;
  };

  /** The IPFS-enabled settings of an operator: its own empty content directory, a peer on 127.0.0.1. */
  const peerSettings = (name: string, ipfsPeers: string[]) => {
    const contentDir = path.join(net.workDir, `${name}-content`);
    mkdirSync(contentDir, { recursive: true });
    return {
      confirmations: 0,
      contentDir,
      p2pListen: ["/ip4/127.0.0.1/tcp/0"],
      ...(ipfsPeers.length === 0 ? {} : { ipfsPeers }),
      pinModels: [modelId.toString()],
    };
  };

  /** The multiaddrs a daemon logged with "IPFS peer started". */
  const loggedAddresses = async (daemon: DaemonProcess): Promise<string[]> => {
    await daemon.waitForLog(/"msg":"IPFS peer started"/);
    const line = daemon.output.split("\n").find((l) => l.includes('"msg":"IPFS peer started"'))!;
    return (JSON.parse(line) as { multiaddrs: string[] }).multiaddrs;
  };

  /** Waits until `daemon` announced what it logged, pinned every file (logged and in its pins), and returns the addresses. */
  const replicated = async (daemon: DaemonProcess): Promise<string[]> => {
    const logged = await loggedAddresses(daemon);
    expect(logged).to.have.length.greaterThan(0);
    for (const address of logged) expect(address).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+$/);
    const directory = net.contracts.providerDirectory!;
    await eventually(
      `${daemon.operator.name} announces its addresses`,
      async () => {
        const announced = [...(await directory.addressesOf(daemon.operator.address))];
        return announced.length === logged.length && announced.every((a, i) => a === logged[i]) ? true : undefined;
      },
      daemon,
    );
    for (const file of files)
      await daemon.waitForLog(new RegExp(`"path":"${file.path}","cid":"${file.cid}"[^\\n]*"msg":"file pinned"`));
    const pinsFile = path.join(daemon.operator.dataDir, "ipfs", "pins.json");
    const pins = JSON.parse(readFileSync(pinsFile, "utf8")) as string[];
    expect(pins).to.include.members(files.map((f) => f.cid));
    return logged;
  };

  before(async () => {
    net = await startDevnet();
    contracts = connectContracts(addressesFromRecord(net.system.record), net.requester);
    expect(contracts.providerDirectory, "the deployment has a ProviderDirectory").to.not.equal(undefined);
    // The version's files go to the publisher's store only: no operator's content directory holds them.
    const publisherDir = path.join(net.workDir, "publisher-ipfs");
    // A third file of 1.5 MB makes a DAG of several blocks (the model and its card fit in one block each).
    const publisherStore = await EmbeddedContentStore.open(publisherDir);
    let published: PublishResult;
    try {
      published = await publishModel({
        registry: contracts.registry,
        store: publisherStore,
        files: [
          { path: "model.onnx", bytes: net.model.onnx },
          { path: "README.md", bytes: toUtf8Bytes(net.model.card) },
          { path: "holdout.bin", bytes: randomBytes(1_500_000) },
        ],
        modes: [{ mode: "vanilla" }],
        price: TOKEN,
      });
    } finally {
      await publisherStore.close();
    }
    modelId = BigInt(published.modelId);
    files = (await net.contracts.registry.filesOf(modelId, 1n)).map((f) => ({
      path: f.path,
      cid: cidString(f.cid),
      sha256: f.sha256,
    }));
    publisher = new PublisherPeer(
      spawnVin(["--ipfs-dir", publisherDir, "ipfs", "serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--json"]),
    );
    publisherAddress = (await publisher.ready()).multiaddrs[0]!;
    // The publisher serves every file (written by the hub's embedded store, so not in its pins: served all the same).
    const prober = await freshStore(async () => []);
    for (const file of files) {
      const probe = await prober.probe(file.cid, { multiaddrs: [publisherAddress], label: "publisher" });
      expect(probe.ok, `${file.path}: ${JSON.stringify(probe)}`).to.equal(true);
    }
    await (await contracts.token.approve(await contracts.escrow.getAddress(), 10_000n * TOKEN)).wait();
    operators = [];
    for (const name of ["replica-a", "replica-b"])
      operators.push(
        await createOperator(net, name, { modes: "vanilla", patch: peerSettings(name, [publisherAddress]) }),
      );
    daemons = operators.map((o) => new DaemonProcess(o));
    for (const daemon of daemons) await daemon.waitForLog(/operator node started/);
  });

  after(async () => {
    await publisher?.kill();
    await Promise.all((daemons ?? []).map((d) => d.stop()));
    for (const store of stores) await store.close().catch(() => undefined);
    await net?.chain.stop();
  });

  it("each operator starts its IPFS peer, announces the addresses it logged in ProviderDirectory and pins every file of the version from the publisher", async () => {
    expect(files.map((f) => f.path)).to.deep.equal(["model.onnx", "README.md", "holdout.bin"]);
    // The large file is a DAG of several blocks (dag-pb root), the others one raw block each.
    expect(files[2]!.cid).to.match(/^bafybei/);
    for (const daemon of daemons) await replicated(daemon);
    const announced = await readProviders(net.contracts, { allowPrivate: true });
    expect(announced.map((p) => p.label)).to.include.members(operators.map((o) => o.address));
  });

  it("after the publisher is killed, a job for the version settles and re-verifies with files fetched from the operators", async () => {
    await publisher.kill();
    // The publisher serves nothing any more.
    const probe = await (
      await freshStore(async () => [])
    ).probe(files[0]!.cid, { multiaddrs: [publisherAddress], label: "publisher" }, { timeoutMs: 10_000 });
    expect(probe.ok).to.equal(false);

    const requested = await requestInference({
      contracts,
      signer: net.requester,
      modelId: toModelId(modelId),
      mode: Mode.Vanilla,
      input: net.model.test.x[0]!,
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
    });
    const result = await waitForResult({
      escrow: net.contracts.escrow,
      jobId: toJobId(requested.job.id),
      pollIntervalMs: 200,
      timeoutMs: 300_000,
    });
    expect(result.status, daemons.map((d) => d.output.slice(-1_500)).join("\n")).to.equal("settled");
    const content = await freshStore(() => readProviders(net.contracts, { allowPrivate: true }));
    const report = await verifyResult({
      contracts: net.contracts,
      provider: net.provider,
      jobId: toJobId(requested.job.id),
      fromBlock: requested.blockNumber,
      content,
    });
    expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
  });

  it("a third operator told of no peer pins every file from the operators announced on-chain; a fresh peer fetches every file, verified", async () => {
    expect(publisher.alive).to.equal(false);
    const name = "replica-c";
    const third = await createOperator(net, name, { modes: "vanilla", patch: peerSettings(name, []) });
    operators.push(third);
    daemons.push(new DaemonProcess(third));
    await replicated(daemons[2]!);

    const progress: FetchProgress[] = [];
    const store = await freshStore(providerSource(net.contracts, { ttlMs: 0, allowPrivate: true }));
    for (const file of files) {
      const bytes = await store.cat(file.cid, { onProgress: (p) => progress.push(p) });
      expect(sha256Hex(bytes), file.path).to.equal(file.sha256.toLowerCase());
      expect(await store.has(file.cid)).to.equal(true);
    }
    // Progress of the large file reaches its size, known from the root.
    const large = progress.filter((p) => p.cid === files[2]!.cid);
    expect(large.at(-1)).to.include({ bytes: 1_500_000, total: 1_500_000 });
    const labels = new Set(progress.map((p) => p.provider));
    expect(labels.size).to.be.greaterThan(0);
    for (const label of labels) expect(operators.map((o) => o.address)).to.include(label);
  });

  it("an operator that stops is skipped by fetchers (its dial fails) and the content comes from another", async () => {
    const announced = await readProviders(net.contracts, { allowPrivate: true });
    // The first provider in the directory's order is the one a fetcher tries first: stop that one.
    const first = announced[0]!;
    const index = operators.findIndex((o) => o.address === first.label);
    expect(index).to.be.greaterThanOrEqual(0);
    await daemons[index]!.stop();
    expect(daemons[index]!.alive).to.equal(false);
    // Its announcement stays: fetchers still find it, and must get past it.
    expect(await readProviders(net.contracts, { allowPrivate: true })).to.deep.equal(announced);

    const warnings: string[] = [];
    const progress: FetchProgress[] = [];
    const store = await freshStore(providerSource(net.contracts, { ttlMs: 0, allowPrivate: true }), warnings);
    for (const file of files) {
      const bytes = await store.cat(file.cid, { onProgress: (p) => progress.push(p) });
      expect(sha256Hex(bytes), file.path).to.equal(file.sha256.toLowerCase());
    }
    const skipped = warnings.map(
      (w) => JSON.parse(w) as { msg: string; provider: string; cid: string; reason: string },
    );
    for (const file of files)
      expect(
        skipped.some((w) => w.msg === "provider skipped" && w.provider === first.label && w.cid === file.cid),
        `${file.path} skipped ${first.label}: ${warnings.join("")}`,
      ).to.equal(true);
    const sources = new Set(progress.map((p) => p.provider));
    expect(sources.size).to.be.greaterThan(0);
    expect([...sources]).to.not.include(first.label);
    for (const source of sources) expect(announced.map((p) => p.label)).to.include(source);
    const probe = await store.probe(files[0]!.cid, first, { timeoutMs: 10_000 });
    expect(probe.ok).to.equal(false);
  });
});

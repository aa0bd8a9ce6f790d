import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startLocalHub } from "../../src/hub/local";
import { createOperator, startDevnet, TOKEN, vin, type Devnet } from "../node/harness";

/** `vin network stats` against a real hardhat node: the devnet's chain events, read through the config's chain. */
describe("vin network stats (against a real hardhat node)", () => {
  let net: Devnet;
  let config: string;

  before(async () => {
    net = await startDevnet();
    await createOperator(net, "alpha", { modes: "vanilla,tee" });
    await createOperator(net, "beta", { modes: "vanilla" });
    config = path.join(net.workDir, "reader.json");
    const init = await vin([
      "--config",
      config,
      "init",
      "--deployment",
      net.deploymentFile,
      "--rpc-url",
      net.chain.url,
      "--data-dir",
      path.join(net.workDir, "reader"),
      "--scrypt-n",
      "1024",
    ]);
    expect(init.code, init.stderr).to.equal(0);
  });

  after(async () => {
    await net?.chain.stop();
  });

  it("prints the operators per mode, their stake and the Nakamoto coefficient as JSON", async () => {
    const result = await vin(["--config", config, "network", "stats", "--json"]);
    expect(result.code, result.stderr).to.equal(0);
    const stats = JSON.parse(result.stdout) as {
      operators: number;
      operatorsPerMode: { name: string; operators: number }[];
      stake: { total: string };
      nakamoto: { byStake: number | null };
    };
    const staked = await Promise.all(
      (await net.contracts.staking.queryFilter(net.contracts.staking.filters.Staked())).map((e) => e.args.operator),
    );
    expect(stats.operators).to.equal(new Set(staked).size);
    expect(stats.operators).to.be.at.least(2);
    expect(stats.operatorsPerMode.find((m) => m.name === "tee")!.operators).to.be.at.least(1);
    expect(stats.operatorsPerMode.find((m) => m.name === "vanilla")!.operators).to.be.at.least(2);
    expect(BigInt(stats.stake.total) >= 2000n * TOKEN).to.equal(true);
    expect(stats.nakamoto.byStake).to.be.a("number");
  });

  it("prints the same figures as text tables", async () => {
    const result = await vin(["--config", config, "network", "stats"]);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^Network concentration — operators are distinct addresses/);
    expect(result.stdout).to.contain("Operators per mode");
  });

  it("adds the figures per window of blocks with --window, the windows covering the chain from the start block", async () => {
    const result = await vin(["--config", config, "network", "stats", "--json", "--window", "5"]);
    expect(result.code, result.stderr).to.equal(0);
    const stats = JSON.parse(result.stdout) as {
      operators: number;
      history: { fromBlock: number; toBlock: number; concentration: { operators: number } }[];
    };
    const { history } = stats;
    expect(history.length).to.be.at.least(2);
    for (const [i, point] of history.entries()) {
      expect(point.toBlock - point.fromBlock).to.be.at.most(4);
      if (i > 0) expect(point.fromBlock).to.equal(history[i - 1]!.toBlock + 1);
    }
    expect(history.at(-1)!.concentration.operators).to.equal(stats.operators);
    const text = await vin(["--config", config, "network", "stats", "--window", "5"]);
    expect(text.stdout).to.contain("History, per window of 5 blocks");
  });

  it("prints the same figures with --hub, as the hub computes them from its indexer's tables", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "vin-network-hub-"));
    // No block between the two reads: the hub's figures cover the blocks up to its cursor, the chain's up to the head.
    await net.provider.send("evm_setIntervalMining", [0]);
    const hub = await startLocalHub({
      rpcUrl: net.chain.url,
      deployment: net.system.record,
      contentStoreDir: dir,
      port: 0,
      pollIntervalMs: 100,
    });
    try {
      const head = await net.provider.getBlockNumber();
      expect(hub.indexer.network!.indexedTo).to.equal(head);
      const fromChain = await vin(["--config", config, "network", "stats", "--json"]);
      const fromHub = await vin(["--config", config, "network", "stats", "--json", "--hub", hub.url]);
      expect(fromHub.code, fromHub.stderr).to.equal(0);
      const figures = JSON.parse(fromHub.stdout) as { toBlock: number; operators: number };
      expect(figures.toBlock).to.equal(head);
      expect(figures.operators).to.be.at.least(2);
      expect(figures).to.deep.equal(JSON.parse(fromChain.stdout));
      const text = await vin(["--config", config, "network", "stats", "--hub", hub.url]);
      expect(text.stdout).to.equal((await vin(["--config", config, "network", "stats"])).stdout);
    } finally {
      await hub.stop();
      await net.provider.send("evm_setIntervalMining", [1_000]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits non-zero naming the hub when --hub cannot be reached", async () => {
    const result = await vin(["--config", config, "network", "stats", "--hub", "http://127.0.0.1:9"]);
    expect(result.code).to.not.equal(0);
    expect(result.stderr).to.match(/^error: Cannot read the network figures of the hub at http:\/\/127\.0\.0\.1:9/);
  });

  it("exits 2 naming --window when it is not a whole number of blocks", async () => {
    for (const bad of ["0", "-3", "1.5", "many"]) {
      const result = await vin(["--config", config, "network", "stats", "--window", bad]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.contain(`--window "${bad}"`);
    }
  });

  it("exits non-zero with one error line when the config file is missing", async () => {
    const result = await vin(["--config", path.join(net.workDir, "none.json"), "network", "stats"]);
    expect(result.code).to.not.equal(0);
    expect(result.stderr.trim().split("\n")).to.have.length(1);
    expect(result.stderr).to.match(/^error: /);
  });
});

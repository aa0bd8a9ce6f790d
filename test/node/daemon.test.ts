import { expect } from "chai";
import Database from "better-sqlite3";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { hexlify, keccak256 } from "ethers";
import { OnnxModel, encodeClassification } from "../../src/inference/onnx";
import { Mode } from "../../src/core/modes";
import { requestInference } from "../../src/sdk/requestInference";
import { toJobId, toModelId } from "../../src/core/ids";
import { verifyResult } from "../../src/sdk/verifyResult";
import { waitForResult } from "../../src/sdk/waitForResult";
import { NodeStore, outboxKey } from "../../src/node/store";
import {
  createClient,
  createOperator,
  DaemonProcess,
  eventually,
  freePort,
  jobEvents,
  sleep,
  startDevnet,
  TcpProxy,
  TOKEN,
  vin,
  type Devnet,
  type Operator,
} from "./harness";

describe("operator node (against a real hardhat node)", () => {
  let net: Devnet;
  let expected: string;
  const daemons: DaemonProcess[] = [];
  let proxy: TcpProxy | undefined;

  const start = (operator: Operator, env: NodeJS.ProcessEnv = {}) => {
    const daemon = new DaemonProcess(operator, env);
    daemons.push(daemon);
    return daemon;
  };
  const request = (mode: number, durationSeconds = 600) =>
    requestInference({
      contracts: net.contracts,
      signer: net.requester,
      modelId: toModelId(net.modelId),
      mode: mode as 0,
      input: net.model.example,
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      durationSeconds,
    });

  before(async () => {
    net = await startDevnet();
    expected = hexlify(encodeClassification(await (await OnnxModel.load(net.model.onnx)).run(net.model.example)));
  });

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop()));
  });

  after(async () => {
    await proxy?.stop();
    await net?.chain.stop();
  });

  it("settles a vanilla and a TEE job: request, compute, verify, settle, and withdraws the earnings", async () => {
    const operator = await createOperator(net, "both", { modes: "vanilla,tee" });
    const daemon = start(operator);
    await daemon.waitForLog(/operator node started/);
    for (const mode of [Mode.Vanilla, Mode.Tee]) {
      const { job } = await request(mode);
      const result = await waitForResult({ escrow: net.contracts.escrow, jobId: toJobId(job.id), pollIntervalMs: 200 });
      expect(result.status).to.equal("settled");
      expect(result.status === "settled" && result.output).to.equal(expected);
      const report = await verifyResult({
        contracts: net.contracts,
        provider: net.provider,
        jobId: toJobId(job.id),
        fromBlock: net.system.record.startBlock,
      });
      expect(report.checks.filter((c) => !c.ok)).to.deep.equal([]);
      if (mode === Mode.Tee) expect(report.enclave?.signer).to.equal(operator.enclave);
      const cli = await vin(["--config", operator.config, "--json", "verify", job.id.toString()]);
      expect(cli.code, cli.stderr).to.equal(0);
      expect((JSON.parse(cli.stdout) as { ok: boolean }).ok).to.equal(true);
    }
    // The dApp side of the CLI, with its own key.
    const client = await createClient(net, "dapp");
    const requested = await vin([
      "--config",
      client.config,
      "--json",
      "request",
      "--model",
      `${net.modelId}@1`,
      "--mode",
      "tee",
      "--input",
      JSON.stringify(net.model.example),
      "--wait",
    ]);
    expect(requested.code, requested.stderr).to.equal(0);
    const answer = JSON.parse(requested.stdout) as { jobId: string; output: string; verified: { ok: boolean } };
    expect(answer.output).to.equal(expected);
    expect(answer.verified.ok).to.equal(true);
    const shown = await vin(["--config", client.config, "--json", "job", answer.jobId]);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(JSON.parse(shown.stdout)).to.include({ status: "settled", output: expected });
    // Without --json: progress on stderr while it waits, the verified result alone on stdout.
    const plain = await vin([
      "--config",
      client.config,
      "request",
      "--model",
      `${net.modelId}@1`,
      "--input",
      JSON.stringify(net.model.example),
      "--wait",
    ]);
    expect(plain.code, plain.stderr).to.equal(0);
    expect(plain.stderr).to.match(
      /^job \d+: requested \(model \d+@1, mode vanilla, deadline [0-9T:.-]+Z\); waiting for 1 node\(s\)$/m,
    );
    expect(plain.stdout).to.match(/^job \d+: .*\noutput hash 0x[0-9a-f]{64} \(verified: \d+ checks passed\)$/m);
    // claimThreshold is 1 wei: the daemon withdraws its fees by itself.
    const claimed = await eventually(
      "earnings withdrawals",
      async () => {
        const logs = await net.contracts.escrow.queryFilter(
          net.contracts.escrow.filters.Claimed(operator.address),
          net.system.record.startBlock,
        );
        const total = logs.reduce((sum, log) => sum + log.args.amount, 0n);
        return total >= 2n * TOKEN ? total : undefined;
      },
      daemon,
    );
    expect(claimed).to.equal(2n * TOKEN); // four jobs at 0.5 each
    expect(await net.contracts.escrow.claimable(operator.address)).to.equal(0n);
    const status = await vin(["--config", operator.config, "--json", "status"]);
    expect(status.code, status.stderr).to.equal(0);
    const shownStatus = JSON.parse(status.stdout) as {
      jobs: Record<string, number>;
      earned: string;
      claimable: string;
    };
    expect(shownStatus.jobs.settled).to.equal(4);
    expect(shownStatus.earned).to.equal((2n * TOKEN).toString());
    expect(shownStatus.claimable).to.equal("0");
    await daemon.stop();
    expect(await daemon.exited).to.deep.equal({ code: 0, signal: null });
    expect(daemon.output).to.match(/"msg":"stopped"/);
  });

  it("a node killed after claiming: the job is refunded after its deadline and the node slashed", async () => {
    const operator = await createOperator(net, "crashy", { modes: "vanilla" });
    const daemon = start(operator, { VIN_CRASH_AT: "after-claim" });
    const { job } = await request(Mode.Vanilla, 60);
    const exit = await daemon.exited;
    expect(exit.signal).to.equal("SIGKILL");
    expect((await jobEvents(net, "SlotClaimed", job.id)).length).to.equal(1);
    await net.provider.send("evm_increaseTime", [120]);
    await net.provider.send("evm_mine", []);
    await (await net.contracts.escrow.connect(net.requester).expire(job)).wait();
    const refunded = await jobEvents(net, "JobRefunded", job.id);
    expect(refunded.length).to.equal(1);
    const slashed = await net.contracts.escrow.queryFilter(
      net.contracts.escrow.filters.NodeSlashed(job.id, operator.address),
      net.system.record.startBlock,
    );
    expect(slashed.length).to.equal(1);
    expect(slashed[0]!.args.amount).to.equal(10n * TOKEN);
  });

  it("killed after computing and again after signing the submission: exactly one submission reaches the chain", async () => {
    const operator = await createOperator(net, "restart", { modes: "vanilla" });
    const { job } = await request(Mode.Vanilla);
    expect((await start(operator, { VIN_CRASH_AT: "after-compute" }).exited).signal).to.equal("SIGKILL");
    expect((await start(operator, { VIN_CRASH_AT: "after-sign:submit" }).exited).signal).to.equal("SIGKILL");
    const db = new Database(NodeStore.pathIn(operator.dataDir), { readonly: true });
    const stored = db.prepare("SELECT hash, nonce FROM txs WHERE key = ?").get(outboxKey.submit(job.id)) as {
      hash: string;
      nonce: number;
    };
    db.close();
    expect(stored, "the signed submission is stored before broadcast").to.not.equal(undefined);
    expect(await net.provider.getTransactionReceipt(stored.hash)).to.equal(null);
    const daemon = start(operator);
    await eventually(
      "settlement",
      async () => ((await jobEvents(net, "JobSettled", job.id)).length > 0 ? true : undefined),
      daemon,
    );
    await daemon.waitForLog(/job settled/);
    const settled = await jobEvents(net, "JobSettled", job.id);
    expect(settled.length).to.equal(1);
    expect(settled[0]!.transactionHash).to.equal(stored.hash);
    // stake: approve + stake, register, the node's sealed-input key published at its first start, claimSlot, submit
    // (+ the automatic earnings withdrawal, if it ran already).
    const nonce = await net.provider.getTransactionCount(operator.address, "latest");
    const db2 = new Database(NodeStore.pathIn(operator.dataDir), { readonly: true });
    const keys = (db2.prepare("SELECT key FROM txs ORDER BY nonce").all() as { key: string }[]).map(
      (r) => r.key.split(":")[0],
    );
    db2.close();
    expect(keys.slice(0, 6)).to.deep.equal(["approve", "stake", "register", "setNodeKey", "claimSlot", "submit"]);
    expect(nonce).to.equal(keys.length);
  });

  it("recovers by itself when the RPC endpoint drops for a while", async () => {
    const port = await freePort();
    proxy = new TcpProxy(port, Number(new URL(net.chain.url).port));
    await proxy.start();
    const operator = await createOperator(net, "flaky", { modes: "vanilla", rpcUrl: proxy.url });
    const daemon = start(operator);
    await daemon.waitForLog(/operator node started/);
    await proxy.stop();
    const { job } = await request(Mode.Vanilla);
    await daemon.waitForLog(/RPC failed; retrying/);
    await sleep(3_000);
    expect(daemon.alive).to.equal(true);
    await proxy.start();
    const settled = await eventually(
      "settlement after the outage",
      async () => {
        const logs = await jobEvents(net, "JobSettled", job.id);
        return logs.length > 0 ? logs : undefined;
      },
      daemon,
    );
    expect(keccak256(net.contracts.escrow.interface.parseLog(settled[0]!)!.args.output as string)).to.equal(
      keccak256(expected),
    );
    expect(daemon.alive).to.equal(true);
  });

  it("a second daemon with the same key refuses to start (same data dir: lock; other data dir: nonce check)", async () => {
    const operator = await createOperator(net, "shared", { modes: "vanilla" });
    const first = start(operator);
    await first.waitForLog(/operator node started/);
    const sameDir = await vin(["--config", operator.config, "run"]);
    expect(sameDir.code).to.equal(6);
    expect(sameDir.stderr).to.match(/^error: another vin process \(pid \d+, daemon\) holds .*vin\.lock/);
    const copy = path.join(path.dirname(operator.config), "shared-copy.json");
    const config = JSON.parse(readFileSync(operator.config, "utf8")) as Record<string, unknown>;
    writeFileSync(copy, JSON.stringify({ ...config, dataDir: `${operator.dataDir}-copy` }));
    const otherDir = await vin(["--config", copy, "run"]);
    expect(otherDir.code).to.equal(6);
    expect(otherDir.stderr.trim().split("\n")).to.have.length(1);
    expect(otherDir.stderr).to.match(/another instance uses this key/);
    expect(first.alive).to.equal(true);
  });

  it("settles a k = 3 job by commit-reveal between three daemons", async () => {
    const operators = [
      await createOperator(net, "k3-a", { modes: "vanilla" }),
      await createOperator(net, "k3-b", { modes: "vanilla" }),
      await createOperator(net, "k3-c", { modes: "vanilla" }),
    ];
    const running = operators.map((o) => start(o));
    await Promise.all(running.map((d) => d.waitForLog(/operator node started/)));
    const { job } = await requestInference({
      contracts: net.contracts,
      signer: net.requester,
      modelId: toModelId(net.modelId),
      mode: Mode.Vanilla,
      redundancy: 3,
      input: net.model.example,
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      durationSeconds: 600,
    });
    const result = await waitForResult({ escrow: net.contracts.escrow, jobId: toJobId(job.id), pollIntervalMs: 200 });
    expect(result.status === "settled" && result.output).to.equal(expected);
    const [settled] = await jobEvents(net, "JobSettled", job.id);
    expect(net.contracts.escrow.interface.parseLog(settled!)!.args.agreeing).to.equal(3n);
    for (const d of running) await d.waitForLog(/job settled/);
  });

  it("does not claim a job whose collateral exceeds its maxCollateral, and says why; serves one at the cap", async () => {
    const operator = await createOperator(net, "capped", { modes: "vanilla", patch: { maxCollateral: "5" } });
    const daemon = start(operator);
    await daemon.waitForLog(/"maxCollateral":"5".*"msg":"operator node started"/);
    const over = await requestInference({
      contracts: net.contracts,
      signer: net.requester,
      modelId: toModelId(net.modelId),
      mode: Mode.Vanilla,
      input: net.model.example,
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      durationSeconds: 600,
    });
    const atCap = await requestInference({
      contracts: net.contracts,
      signer: net.requester,
      modelId: toModelId(net.modelId),
      mode: Mode.Vanilla,
      input: net.model.example,
      feePerNode: TOKEN / 2n,
      collateral: 5n * TOKEN,
      durationSeconds: 600,
    });
    const result = await waitForResult({
      escrow: net.contracts.escrow,
      jobId: toJobId(atCap.job.id),
      pollIntervalMs: 200,
    });
    expect(result.status === "settled" && result.output, daemon.output.slice(-2_000)).to.equal(expected);
    await daemon.waitForLog(
      new RegExp(
        `"jobId":"${over.job.id}","reason":"collateral 10.0 exceeds maxCollateral 5.0 tokens","msg":"job skipped"`,
      ),
    );
    const row = new Database(NodeStore.pathIn(operator.dataDir), { readonly: true });
    try {
      expect(row.prepare("SELECT state, reason FROM jobs WHERE job_id = ?").get(over.job.id.toString())).to.deep.equal({
        state: "skipped",
        reason: "collateral 10.0 exceeds maxCollateral 5.0 tokens",
      });
    } finally {
      row.close();
    }
    expect(await jobEvents(net, "SlotClaimed", over.job.id)).to.deep.equal([]);
    expect(
      (await jobEvents(net, "SlotClaimed", atCap.job.id)).map(
        (l) => net.contracts.escrow.interface.parseLog(l)!.args.node,
      ),
    ).to.deep.equal([operator.address]);
    expect(Number((await net.contracts.escrow.stateOf(over.job.id)).status)).to.equal(1); // still open: another node may take it
  });

  it("the devnet's launch (npm start's operators) runs a vanilla, a TEE and a dual-mode daemon that settle both modes", async () => {
    const settings = { confirmations: 0 };
    const launched = await net.devnet.launch([
      { name: "v", modes: ["vanilla"], settings },
      { name: "t", modes: ["tee"], settings },
      { name: "vt", modes: ["vanilla", "tee"], settings },
    ]);
    try {
      for (const mode of [Mode.Vanilla, Mode.Tee]) {
        const { job } = await request(mode);
        const result = await waitForResult({
          escrow: net.contracts.escrow,
          jobId: toJobId(job.id),
          pollIntervalMs: 200,
        });
        expect(result.status === "settled" && result.output).to.equal(expected);
      }
      expect(launched.every((d) => d.child.exitCode === null)).to.equal(true);
    } finally {
      await Promise.all(launched.map((d) => d.stop()));
    }
    expect(launched.map((d) => d.child.exitCode)).to.deep.equal([0, 0, 0]);
  });

  it("bad input fails with one line and a non-zero exit, and changes nothing", async () => {
    const operator = await createOperator(net, "cli", { modes: "vanilla" });
    const before = readFileSync(operator.config, "utf8");
    const keystore = readFileSync(path.join(operator.dataDir, "keystore.json"), "utf8");
    const dir = path.dirname(operator.config);
    const write = (name: string, content: string) => {
      writeFileSync(path.join(dir, name), content);
      return path.join(dir, name);
    };
    const closed = await freePort();
    const cases: { args: string[]; env?: NodeJS.ProcessEnv; code: number; message: RegExp }[] = [
      {
        args: ["--config", write("broken.json", "{not json"), "status"],
        code: 2,
        message: /broken\.json is not valid JSON/,
      },
      {
        args: ["--config", write("partial.json", JSON.stringify({ ...JSON.parse(before), rpcUrl: 42 })), "status"],
        code: 2,
        message: /"rpcUrl" must be a non-empty string/,
      },
      {
        args: ["--config", path.join(dir, "missing.json"), "status"],
        code: 2,
        message: /not found: create one with `vin init`/,
      },
      {
        args: ["--config", operator.config, "run", "--max-collateral", "1e3"],
        code: 2,
        message:
          /flag --max-collateral: must be a token amount as a decimal string \(e\.g\. "50" or "12\.5"\), got "1e3"/,
      },
      {
        args: ["--config", operator.config, "run"],
        env: { VIN_MAX_COLLATERAL: "ten" },
        code: 2,
        message: /environment variable VIN_MAX_COLLATERAL: must be a token amount/,
      },
      {
        args: ["--config", operator.config, "stake", "1"],
        env: { VIN_PASSWORD: "wrong" },
        code: 3,
        message: /wrong password for keystore/,
      },
      {
        args: ["--config", operator.config, "stake", "1"],
        env: { VIN_PASSWORD: "" },
        code: 3,
        message: /set VIN_PASSWORD or pass --password-file/,
      },
      {
        args: [
          "--config",
          write("down.json", JSON.stringify({ ...JSON.parse(before), rpcUrl: `http://127.0.0.1:${closed}` })),
          "status",
        ],
        code: 4,
        message: /cannot reach the RPC endpoint/,
      },
      {
        args: ["--config", operator.config, "request", "--model", "99", "--input", "[1,2,3,4]"],
        code: 2,
        message: /model 99 is not registered/,
      },
      {
        args: ["--config", operator.config, "request", "--model", "1", "--input", "not json"],
        code: 2,
        message: /--input is not JSON/,
      },
      {
        args: ["--config", operator.config, "stake", "100000"],
        code: 2,
        message: /cannot stake 100000\.0 tokens: fund it first/,
      },
      {
        args: ["--config", operator.config, "unstake", "5000"],
        code: 5,
        message:
          /staking\.unstake reverted with NodeStakingInsufficientStake\(operator=0x[0-9a-fA-F]{40}, available=1000000000000000000000, needed=5000000000000000000000\)/,
      },
      { args: ["--config", operator.config, "stake", "-3"], code: 2, message: /not a positive token amount/ },
      {
        args: ["--config", operator.config, "register", "--modes", "vanilla,quantum"],
        code: 2,
        message: /unknown mode "quantum": use vanilla, tee, zk or a list/,
      },
      {
        args: ["--config", write("batch.json", JSON.stringify({ ...JSON.parse(before), zkBatchMax: 65 })), "status"],
        code: 2,
        message: /"zkBatchMax" must be at most 64/,
      },
    ];
    for (const c of cases) {
      const result = await vin(c.args, c.env);
      expect(result.code, `${c.args.join(" ")}: ${result.stderr}`).to.equal(c.code);
      expect(result.stderr.trim().split("\n"), c.args.join(" ")).to.have.length(1);
      expect(result.stderr).to.match(c.message);
    }
    const unstaked = await createOperator(net, "unstaked", { modes: "vanilla" });
    const run = await vin([
      "--config",
      write(
        "unregistered.json",
        JSON.stringify({ ...JSON.parse(readFileSync(unstaked.config, "utf8")), modes: ["vanilla", "tee"] }),
      ),
      "run",
    ]);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.match(/is not registered for mode tee: run `vin register --modes vanilla,tee`/);
    expect(readFileSync(operator.config, "utf8")).to.equal(before);
    expect(readFileSync(path.join(operator.dataDir, "keystore.json"), "utf8")).to.equal(keystore);
  });
});

/**
 * Test harness for the operator node, over the one devnet (src/devnet/devnet.ts): a real `hardhat node` process,
 * the protocol deployed to it through the production deploy script, the penguin model published with its files in
 * the content directory, operators set up in this process as `vin init`, `vin stake` and `vin register` set them up,
 * daemons run as child processes (`vin run`), and a TCP proxy to cut the RPC.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import hre from "hardhat";
import { JsonRpcProvider, NonceManager, Wallet, type Log } from "ethers";
import type { System } from "../../deploy/system";
import { freePort, type LocalChain } from "../../src/devnet/chain";
import { startDevnet as startLocalDevnet, type Devnet as LocalDevnet } from "../../src/devnet/devnet";
import { startOperatorDaemon, type DevnetOperator, type OperatorDaemon } from "../../src/devnet/operators";
import { buildPenguinClassifier } from "../../src/models/penguins";
import type { BundledClassifier } from "../../src/models/bundle";
import type { ZkDeployment } from "../../src/zkml/deploy";
import { MODE_NAMES, parseModes } from "../../src/core/modes";
import type { NodeConfig } from "../../src/node/config";
import { NodeStore } from "../../src/node/store";
import { addressesFromRecord, type Contracts } from "../../src/core/contracts";
import { sleep } from "../../src/core/retry";

export const ROOT = path.resolve(__dirname, "..", "..");
export const TOKEN = 10n ** 18n;
export const PASSWORD = "correct horse battery staple";
/** Hardhat's account #1, the devnet's requester. */
const REQUESTER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

export { freePort };

/** A TCP proxy on 127.0.0.1 that can be stopped (every connection cut, new ones refused) and started again. */
export class TcpProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, "127.0.0.1", resolve));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
    this.server = undefined;
  }
}

export interface Devnet {
  /** The devnet itself: its operators, daemons, models. */
  devnet: LocalDevnet<BundledClassifier>;
  chain: LocalChain;
  provider: JsonRpcProvider;
  deployer: NonceManager;
  requester: NonceManager;
  system: System;
  contracts: Contracts;
  deploymentFile: string;
  contentDir: string;
  model: BundledClassifier;
  modelId: bigint;
  workDir: string;
}

/**
 * Starts a devnet with the penguin model (vanilla and TEE, raw-block CIDs), a requester holding 1,000,000 tokens,
 * and an empty block every second, so that a confirmation depth of 1 is reached without traffic.
 */
export async function startDevnet(): Promise<Devnet> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), "vin-node-test-"));
  const devnet = await startLocalDevnet({
    hre,
    port: await freePort(),
    workDir,
    network: "node-test",
    models: [{ model: buildPenguinClassifier() }],
    password: PASSWORD,
  });
  try {
    await (
      await devnet.system.token.connect(devnet.requester).mint(await devnet.requester.getAddress(), 1_000_000n * TOKEN)
    ).wait();
    await devnet.provider.send("evm_setIntervalMining", [1_000]);
  } catch (error) {
    await devnet.stop();
    throw error;
  }
  const [{ model, modelId }] = devnet.models as [{ model: BundledClassifier; modelId: bigint }];
  const { chain, provider, deployer, requester, system, contracts, deploymentFile, contentDir } = devnet;
  return {
    devnet,
    chain,
    provider,
    deployer,
    requester,
    system,
    contracts,
    deploymentFile,
    contentDir,
    model,
    modelId,
    workDir,
  };
}

/** A model version published for ZK mode: its id and the circuit's model (what a requester commits inputs with). */
export interface ZkPublished {
  modelId: bigint;
  deployment: ZkDeployment;
}

/**
 * Publishes the penguin classifier as a new model whose version serves ZK mode only: circuit built (cached, setup
 * at `minPower`), verifier deployed through the registry's verifier factory, files (ONNX, card, circuit files,
 * powers of tau) in the content directory.
 */
export async function publishZkModel(net: Devnet, minPower: number): Promise<ZkPublished> {
  const { modelId, zk } = await net.devnet.publish({
    model: net.model,
    modes: [],
    zk: { minPower },
    owner: net.requester,
  });
  return { modelId, deployment: zk! };
}

/** The requester's own wallet, for transactions a test signs itself (to broadcast the same bytes again after a revert). */
export function requesterWallet(net: Devnet): Wallet {
  return new Wallet(REQUESTER_KEY, net.provider);
}

/** The node's outbox and job row as a daemon left them, read from its SQLite database. */
export function readDatabase<T>(operator: Operator, read: (db: Database.Database) => T): T {
  const db = new Database(NodeStore.pathIn(operator.dataDir), { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** The block the daemon's follower has processed up to. */
export function cursorOf(operator: Operator): number {
  return readDatabase(operator, (db) =>
    Number(
      (db.prepare("SELECT value FROM meta WHERE key = 'lastProcessedBlock'").get() as { value: string } | undefined)
        ?.value ?? -1,
    ),
  );
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `vin` as a child process (as an operator would) and collects its output. */
export function vin(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const child = spawnVin(args, env);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

export function spawnVin(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", path.join(ROOT, "src/cli/main.ts"), ...args],
    {
      cwd: ROOT,
      env: { ...process.env, VIN_PASSWORD: PASSWORD, TS_NODE_TRANSPILE_ONLY: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
}

export type Operator = DevnetOperator;

/**
 * Creates an operator as `vin init`, `vin stake 1000` and `vin register` do, funded with 10 ETH and 10,000 tokens,
 * its enclave registered if TEE; its config polls fast, starts at the current block and takes `patch` last.
 */
export async function createOperator(
  net: Devnet,
  name: string,
  options: { modes: string; rpcUrl?: string; patch?: Record<string, unknown> },
): Promise<Operator> {
  const head = await net.provider.getBlockNumber();
  const settings = {
    contracts: { ...addressesFromRecord(net.system.record), startBlock: head },
    pollIntervalMs: 250,
    claimThreshold: "1",
    stuckTxMs: 20_000,
    rpcTimeoutMs: 3_000,
    ...(options.rpcUrl ? { rpcUrl: options.rpcUrl } : {}),
    ...options.patch,
  } as Partial<NodeConfig>;
  return net.devnet.addOperator({ name, modes: parseModes(options.modes).map((m) => MODE_NAMES[m]), settings });
}

/** A dApp client: a key of its own as `vin init` makes one, funded with 10 ETH and 10,000 tokens (never a daemon's key). */
export async function createClient(net: Devnet, name: string): Promise<{ config: string; address: string }> {
  return net.devnet.addClient({
    config: path.join(net.workDir, `${name}.json`),
    dataDir: path.join(net.workDir, name),
  });
}

/** A daemon child process (the devnet's) with its output kept for assertions. */
export class DaemonProcess {
  readonly daemon: OperatorDaemon;
  output = "";

  constructor(
    readonly operator: Operator,
    env: NodeJS.ProcessEnv = {},
  ) {
    this.daemon = startOperatorDaemon(operator, { env, onOutput: (chunk) => (this.output += chunk) });
  }

  get child(): ChildProcess {
    return this.daemon.child;
  }

  get exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.daemon.exited;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForLog(pattern: RegExp): Promise<void> {
    while (!pattern.test(this.output)) {
      if (!this.alive)
        throw new Error(`daemon ${this.operator.name} exited before logging ${pattern}:\n${this.output.slice(-3_000)}`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
  }
}

export { sleep };

/** Polls `fn` until it returns a value other than undefined; fails with `what` if the daemon died meanwhile. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  daemon?: DaemonProcess,
): Promise<T> {
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (daemon !== undefined && !daemon.alive)
      throw new Error(`${what}: daemon ${daemon.operator.name} exited:\n${daemon.output.slice(-3_000)}`);
    await sleep(250);
  }
}

/** Every event `name` of the escrow for `jobId`. */
export async function jobEvents(
  net: Devnet,
  name: "JobSettled" | "JobRefunded" | "NodeSlashed" | "SlotClaimed",
  jobId: bigint,
): Promise<Log[]> {
  const { escrow } = net.contracts;
  const filter = escrow.filters[name](jobId as never);
  return (await escrow.queryFilter(filter, net.system.record.startBlock)) as unknown as Log[];
}

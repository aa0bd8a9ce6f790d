/**
 * Test harness for the operator node: a real `hardhat node` process, the protocol deployed to it through the
 * production deploy script, the penguin model published with its files in a content directory, operators set up
 * through the `vin` CLI, daemons run as child processes, and a TCP proxy to cut the RPC.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import hre from "hardhat";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { JsonRpcProvider, NonceManager, Wallet, parseEther, toUtf8Bytes, type Log } from "ethers";
import { deploySystem, type System } from "../../deploy/system";
import { startHardhatNode, stopProcess, type LocalChain } from "../../src/devnet/chain";
import { buildPenguinClassifier } from "../../src/models/penguins";
import type { BundledClassifier } from "../../src/models/bundle";
import { rawCid } from "../../src/core/cid";
import { deployZkModel, registerZkModel, type ZkDeployment } from "../../src/zkml/deploy";
import { rawCidVersionInput } from "../../src/devnet/end-to-end";
import { FsContentStore } from "../../src/node/content-store";
import { JobStore } from "../../src/node/store";
import { DevEnclave } from "../../src/tee/dev-enclave";
import { addressesFromRecord, connectContracts, type Contracts } from "../../src/core/contracts";

export const ROOT = path.resolve(__dirname, "..", "..");
export const TOKEN = 10n ** 18n;
export const PASSWORD = "correct horse battery staple";
const HARDHAT_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP proxy on 127.0.0.1 that can be stopped (every connection cut, new ones refused) and started again. */
export class TcpProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  constructor(readonly port: number, private readonly target: number) {}

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

/** Starts a chain, deploys through `deploySystem`, publishes the penguin model and stores its files by CID. */
export async function startDevnet(): Promise<Devnet> {
  const chain = await startHardhatNode({ port: await freePort(), cwd: ROOT });
  try {
    return await setUp(chain);
  } catch (error) {
    await chain.stop();
    throw error;
  }
}

async function setUp(chain: LocalChain): Promise<Devnet> {
  const provider = new JsonRpcProvider(chain.url, 31337, { staticNetwork: true, pollingInterval: 200 });
  const deployer = new NonceManager(new Wallet(HARDHAT_KEYS[0]!, provider));
  const requester = new NonceManager(new Wallet(HARDHAT_KEYS[1]!, provider));
  const owner = new Wallet(HARDHAT_KEYS[2]!, provider);
  const shim = {
    ...hre,
    network: { ...hre.network, name: "node-test" },
    ethers: Object.assign(Object.create(hre.ethers) as object, { provider, getSigners: async () => [deployer] }),
  } as unknown as HardhatRuntimeEnvironment;
  const system = await deploySystem(shim, { persist: false });
  const workDir = mkdtempSync(path.join(os.tmpdir(), "vin-node-test-"));
  const deploymentFile = path.join(workDir, "deployment.json");
  writeFileSync(deploymentFile, JSON.stringify(system.record, null, 2));
  const contracts = connectContracts(addressesFromRecord(system.record), provider);

  const model = buildPenguinClassifier();
  const card = toUtf8Bytes(model.card);
  const contentDir = path.join(workDir, "content");
  const store = new FsContentStore(contentDir);
  store.put(rawCid(model.onnx), model.onnx);
  store.put(rawCid(card), card);
  await (await contracts.registry.connect(owner).createModelAndPublish(TOKEN, rawCidVersionInput(model))).wait();
  await (await contracts.token.connect(requester).mint(await requester.getAddress(), 1_000_000n * TOKEN)).wait();
  // Empty blocks every second, so that a confirmation depth of 1 is reached without traffic.
  await provider.send("evm_setIntervalMining", [1_000]);
  return { chain, provider, deployer, requester, system, contracts, deploymentFile, contentDir, model, modelId: await contracts.registry.modelCount(), workDir };
}

/** A model version published for ZK mode: its id and the circuit's model (what a requester commits inputs with). */
export interface ZkPublished {
  modelId: bigint;
  deployment: ZkDeployment;
}

/**
 * Publishes the penguin classifier as a new model whose version serves ZK mode: circuit built (cached, setup at
 * `minPower`), verifier deployed through the registry's verifier factory, files (ONNX, card, circuit files, powers
 * of tau) in the content directory under their raw CIDs.
 */
export async function publishZkModel(net: Devnet, minPower: number): Promise<ZkPublished> {
  const deployment = await deployZkModel(net.deployer, { onnx: net.model.onnx, inputRange: net.model.inputRange, minPower, verifierFactory: net.system.record.contracts.verifierFactory.address });
  const content = new FsContentStore(net.contentDir);
  const { modelId } = await registerZkModel({
    registry: net.contracts.registry.connect(net.requester),
    deployment,
    onnx: net.model.onnx,
    card: toUtf8Bytes(net.model.card),
    price: TOKEN,
    store: (cid, bytes) => content.put(cid, bytes),
  });
  return { modelId, deployment };
}

/** The requester's own wallet, for transactions a test signs itself (to broadcast the same bytes again after a revert). */
export function requesterWallet(net: Devnet): Wallet {
  return new Wallet(HARDHAT_KEYS[1]!, net.provider);
}

/** The node's outbox and job row as a daemon left them, read from its SQLite database. */
export function readDatabase<T>(operator: Operator, read: (db: Database.Database) => T): T {
  const db = new Database(JobStore.pathIn(operator.dataDir), { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** The block the daemon's follower has processed up to. */
export function cursorOf(operator: Operator): number {
  return readDatabase(operator, (db) => Number((db.prepare("SELECT value FROM meta WHERE key = 'lastProcessedBlock'").get() as { value: string } | undefined)?.value ?? -1));
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
  return spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(ROOT, "src/cli/main.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, VIN_PASSWORD: PASSWORD, TS_NODE_TRANSPILE_ONLY: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
}

export interface Operator {
  name: string;
  config: string;
  address: string;
  dataDir: string;
  enclave?: string;
}

/** Creates an operator through the CLI: init, funding (ETH + tokens), stake, register, and its enclave if TEE. */
export async function createOperator(net: Devnet, name: string, options: { modes: string; rpcUrl?: string; patch?: Record<string, unknown> }): Promise<Operator> {
  const dataDir = path.join(net.workDir, name);
  const config = path.join(net.workDir, `${name}.json`);
  const init = await vin(["--config", config, "--json", "init", "--deployment", net.deploymentFile, "--rpc-url", net.chain.url, "--data-dir", dataDir, "--content-dir", net.contentDir, "--modes", options.modes, "--scrypt-n", "1024"]);
  if (init.code !== 0) throw new Error(`vin init failed: ${init.stderr}${init.stdout}`);
  const { address, enclave } = JSON.parse(init.stdout) as { address: string; enclave?: string };
  const head = await net.provider.getBlockNumber();
  const parsed = JSON.parse(readFileSync(config, "utf8")) as Record<string, unknown>;
  const contracts = { ...(parsed.contracts as object), startBlock: head };
  writeFileSync(config, JSON.stringify({ ...parsed, contracts, pollIntervalMs: 250, claimThreshold: "1", stuckTxMs: 20_000, rpcTimeoutMs: 3_000, ...(options.rpcUrl ? { rpcUrl: options.rpcUrl } : {}), ...options.patch }, null, 2));
  await (await net.deployer.sendTransaction({ to: address, value: parseEther("10") })).wait();
  await (await net.contracts.token.connect(net.deployer).mint(address, 10_000n * TOKEN)).wait();
  for (const args of [["stake", "1000"], ["register", "--modes", options.modes]]) {
    const result = await vin(["--config", config, ...args]);
    if (result.code !== 0) throw new Error(`vin ${args.join(" ")} failed: ${result.stderr}`);
  }
  if (enclave !== undefined) {
    const latest = await net.provider.getBlock("latest");
    await (await net.contracts.teeVerifier.connect(net.deployer).registerEnclave(enclave, address, DevEnclave.MEASUREMENT, BigInt(latest!.timestamp) + 7n * 24n * 3600n)).wait();
  }
  return { name, config, address, dataDir, enclave };
}

/** A dApp client: `vin init` for its own key, funded with ETH and tokens (never shares a key with a daemon). */
export async function createClient(net: Devnet, name: string): Promise<{ config: string; address: string }> {
  const config = path.join(net.workDir, `${name}.json`);
  const init = await vin(["--config", config, "--json", "init", "--deployment", net.deploymentFile, "--rpc-url", net.chain.url, "--data-dir", path.join(net.workDir, name), "--scrypt-n", "1024"]);
  if (init.code !== 0) throw new Error(`vin init failed: ${init.stderr}${init.stdout}`);
  const { address } = JSON.parse(init.stdout) as { address: string };
  await (await net.deployer.sendTransaction({ to: address, value: parseEther("10") })).wait();
  await (await net.contracts.token.connect(net.deployer).mint(address, 10_000n * TOKEN)).wait();
  return { config, address };
}

/** A daemon child process with its output kept for assertions. */
export class DaemonProcess {
  readonly child: ChildProcess;
  output = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly operator: Operator, env: NodeJS.ProcessEnv = {}) {
    this.child = spawnVin(["--config", operator.config, "run"], env);
    this.child.stdout!.on("data", (c: Buffer) => (this.output += c.toString()));
    this.child.stderr!.on("data", (c: Buffer) => (this.output += c.toString()));
    this.exited = new Promise((resolve) => this.child.on("exit", (code, signal) => resolve({ code, signal })));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForLog(pattern: RegExp): Promise<void> {
    while (!pattern.test(this.output)) {
      if (!this.alive) throw new Error(`daemon ${this.operator.name} exited before logging ${pattern}:\n${this.output.slice(-3_000)}`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await stopProcess(this.child);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `fn` until it returns a value other than undefined; fails with `what` if the daemon died meanwhile. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, daemon?: DaemonProcess): Promise<T> {
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (daemon !== undefined && !daemon.alive) throw new Error(`${what}: daemon ${daemon.operator.name} exited:\n${daemon.output.slice(-3_000)}`);
    await sleep(250);
  }
}

/** Every event `name` of the escrow for `jobId`. */
export async function jobEvents(net: Devnet, name: "JobSettled" | "JobRefunded" | "NodeSlashed" | "SlotClaimed", jobId: bigint): Promise<Log[]> {
  const { escrow } = net.contracts;
  const filter = escrow.filters[name](jobId as never);
  return (await escrow.queryFilter(filter, net.system.record.startBlock)) as unknown as Log[];
}

/**
 * The one local network: a Hardhat JSON-RPC node on 127.0.0.1, the protocol deployed to it by the production
 * deploy script, models published, optionally the model hub, and operators set up in this process with their
 * daemons as child processes. `npm start` (scripts/local-network.ts), the node tests (test/node/harness.ts) and
 * `npm run bench:e2e` all start it here.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { JsonRpcProvider, NonceManager, parseEther } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { deploySystem, type System } from "../../deploy/system";
import { addressesFromRecord, connectContracts, type Contracts } from "../core/contracts";
import type { NodeConfig } from "../node/config";
import { FsContentStore } from "../node/content-store";
import { startDevnetHub, startPublisherPeer, type PublisherPeer } from "./ipfs";
import { initOperator } from "../node/operator-init";
import type { LocalHub } from "../hub/local";
import { startHardhatNode, type LocalChain } from "./chain";
import { startDevnetRelay, type DevnetRelay } from "./relays";
import {
  publishDevnetModel,
  publishDevnetTextModel,
  type DevnetModel,
  type PublishedModel,
  type PublishedTextModel,
  type PublishModelSpec,
  type PublishTextModelSpec,
} from "./models";
import {
  setUpOperator,
  startOperatorDaemon,
  type DevnetOperator,
  type OperatorDaemon,
  type OperatorSetupContext,
  type OperatorSpec,
  type StartDaemonOptions,
} from "./operators";

const TOKEN = 10n ** 18n;

export interface StartDevnetOptions<M extends DevnetModel = DevnetModel> {
  /** The Hardhat runtime whose deploy script deploys (its root and artifacts; the chain is the devnet's). */
  hre: HardhatRuntimeEnvironment;
  /** Port of the Hardhat node on 127.0.0.1; it must be free. */
  port: number;
  /** Operators' configs, databases and logs, the content directory and the password file. */
  workDir: string;
  /** Name of the deployment record. Default "localhost". */
  network?: string;
  /** Write `deployments/<network>.json` (else `<workDir>/deployment.json` only). Default false. */
  persist?: boolean;
  /** Publish models through the hub into this embedded IPFS store (the hub reads it); default: raw-block CIDs. */
  ipfsDir?: string;
  models?: PublishModelSpec<M>[];
  /** Text-generation models (TEE only, served through the chat API), published after `models`. */
  textModels?: PublishTextModelSpec[];
  /** Serve the model hub (needs `ipfsDir`). */
  hub?: { port: number };
  /**
   * Model files over IPFS between processes (needs `ipfsDir`): the publisher serves `ipfsDir` as its own IPFS peer
   * (`vin ipfs serve`, a child process), operators run IPFS peers that fetch model files from it and from each
   * other, pin them and announce in ProviderDirectory; the content directory then holds inputs only, no model file;
   * the hub fetches cards as a peer and probes who serves every file. Default false (model files in the shared
   * content directory, as tests use).
   */
  p2p?: boolean;
  /** Operators set up and their daemons started (logs in `<workDir>/<name>.log`). */
  operators?: OperatorSpec[];
  /** The keystores' password. Default random (written to `<workDir>/password`). */
  password?: string;
  /**
   * scrypt cost of the devnet's keystores. Default 1024: their password is in a file beside them, so a higher
   * cost protects nothing and only slows every start.
   */
  scryptN?: number;
  /** Settings of every operator's config, under each spec's own. */
  settings?: Partial<NodeConfig>;
  /** Stake of each operator, in token wei. Default 1,000 tokens. */
  stake?: bigint;
  /** Mine an empty block this often besides automining (so confirmations come without traffic). */
  intervalMiningMs?: number;
  /** Receives human-readable lines only. */
  log?: (line: string) => void;
}

export interface Devnet<M extends DevnetModel = DevnetModel> {
  chain: LocalChain;
  provider: JsonRpcProvider;
  /** Hardhat's accounts #0 (deployer, guardian, funder), #1 (a dApp), #2 (models' owner). */
  deployer: NonceManager;
  requester: NonceManager;
  modelOwner: NonceManager;
  system: System;
  /** The deployment's contracts, connected to the provider for reading. */
  contracts: Contracts;
  deploymentFile: string;
  /** Inputs by CID (and model files, unless `p2p`), read by every operator. */
  contentDir: string;
  /** The publisher's IPFS store (`ipfsDir`), when models are published to IPFS. */
  ipfsDir?: string;
  /** With `p2p`: the publisher's IPFS peer (a child process), started once the models are published. */
  publisherPeer?: PublisherPeer;
  workDir: string;
  passwordFile: string;
  models: PublishedModel<M>[];
  textModels: PublishedTextModel[];
  hub?: LocalHub;
  operators: DevnetOperator[];
  daemons: OperatorDaemon[];
  relays: DevnetRelay[];
  /** Publishes another model (see {@link publishDevnetModel}). */
  publish<N extends DevnetModel>(spec: PublishModelSpec<N>): Promise<PublishedModel<N>>;
  /** Publishes another text-generation model (see {@link publishDevnetTextModel}). */
  publishText(spec: PublishTextModelSpec): Promise<PublishedTextModel>;
  /** Sets up an operator without starting its daemon. */
  addOperator(spec: OperatorSpec): Promise<DevnetOperator>;
  /** Starts an operator's daemon (stopped by {@link Devnet.stop}). */
  startDaemon(operator: DevnetOperator, options?: StartDaemonOptions): OperatorDaemon;
  /** Sets up operators side by side and starts their daemons, logs in `<workDir>/<name>.log`; resolves once all have started. */
  launch(specs: OperatorSpec[]): Promise<OperatorDaemon[]>;
  /**
   * Starts an Oblivious HTTP relay run by its own new account (not an operator), listed in PrivacyRegistry at
   * `http://127.0.0.1:<port>/`, as the child process `vin relay serve` (log in `<workDir>/<name>.log`).
   */
  startRelay(name: string, port: number): Promise<DevnetRelay>;
  /** A dApp account as `vin init` makes one, funded. */
  addClient(options: {
    config: string;
    dataDir: string;
    contentDir?: string;
    password?: string;
    eth?: bigint;
    tokens?: bigint;
    /** Config settings (e.g. an `ipfsDir`). */
    settings?: Partial<NodeConfig>;
  }): Promise<{ address: string; config: string }>;
  /** Sends gas money (default 10 ETH) and mints test tokens (default 10,000) to an address. */
  fund(address: string, amounts?: { eth?: bigint; tokens?: bigint }): Promise<void>;
  /** Stops the daemons, the hub and the chain. */
  stop(): Promise<void>;
}

/**
 * Starts a devnet; on failure everything it started is stopped again.
 * @example
 * const devnet = await startDevnet({ hre, port: 8545, workDir: ".vin/nodes", models: [{ model: buildPenguinClassifier() }], operators: [{ name: "tee", modes: ["tee"] }], log: console.log });
 * // ... requests ...
 * await devnet.stop();
 */
export async function startDevnet<M extends DevnetModel>(options: StartDevnetOptions<M>): Promise<Devnet<M>> {
  const log = options.log ?? (() => undefined);
  const chain = await startHardhatNode({ port: options.port, cwd: options.hre.config.paths.root });
  const provider = new JsonRpcProvider(chain.url, undefined, {
    staticNetwork: true,
    pollingInterval: 200,
    cacheTimeout: -1,
  });
  const running: { devnet?: Devnet<M> } = {};
  try {
    running.devnet = await deploy(options, chain, provider, log);
    for (const spec of options.models ?? []) running.devnet.models.push(await running.devnet.publish(spec));
    for (const spec of options.textModels ?? []) running.devnet.textModels.push(await running.devnet.publishText(spec));
    if (options.p2p === true) {
      if (options.ipfsDir === undefined) throw new TypeError("p2p serves the publisher's IPFS store: give ipfsDir");
      const publisher = await startPublisherPeer({
        ipfsDir: options.ipfsDir,
        logFile: path.join(running.devnet.workDir, "publisher.log"),
      });
      running.devnet.publisherPeer = publisher;
      log(
        `the publisher's IPFS peer ${publisher.peerId} serves ${options.ipfsDir} at ${publisher.multiaddrs.join(", ")}`,
      );
    }
    if (options.hub !== undefined) {
      if (options.ipfsDir === undefined) throw new TypeError("the hub reads the IPFS store: give ipfsDir with hub");
      running.devnet.hub = await startDevnetHub(running.devnet, options.ipfsDir, options.hub.port);
      log(`model hub at ${running.devnet.hub.url}`);
    }
    if (options.operators !== undefined && options.operators.length > 0) await running.devnet.launch(options.operators);
    if (options.intervalMiningMs !== undefined)
      await provider.send("evm_setIntervalMining", [options.intervalMiningMs]);
    return running.devnet;
  } catch (error) {
    if (running.devnet !== undefined) await running.devnet.stop();
    else {
      provider.destroy();
      await chain.stop();
    }
    throw error;
  }
}

async function deploy<M extends DevnetModel>(
  options: StartDevnetOptions<M>,
  chain: LocalChain,
  provider: JsonRpcProvider,
  log: (line: string) => void,
): Promise<Devnet<M>> {
  const { hre } = options;
  const [deployer, requester, modelOwner] = await Promise.all(
    [0, 1, 2].map(async (i) => new NonceManager(await provider.getSigner(i))),
  );
  const network = options.network ?? "localhost";
  // The deploy script on this chain: the runtime's root and artifacts, the devnet's provider and deployer.
  const runtime = {
    ...hre,
    network: { ...hre.network, name: network },
    ethers: Object.assign(Object.create(hre.ethers) as object, { provider, getSigners: async () => [deployer] }),
  } as unknown as HardhatRuntimeEnvironment;
  const persist = options.persist ?? false;
  const system = await deploySystem(runtime, { persist, log: (m) => log(`  ${m}`) });
  const workDir = path.resolve(options.workDir);
  mkdirSync(workDir, { recursive: true });
  const deploymentFile = persist
    ? path.join(hre.config.paths.root, "deployments", `${network}.json`)
    : path.join(workDir, "deployment.json");
  if (!persist) writeFileSync(deploymentFile, `${JSON.stringify(system.record, null, 2)}\n`);
  log(`deployed to chain ${system.record.chainId}; addresses in ${path.relative(process.cwd(), deploymentFile)}`);

  const contentDir = path.join(workDir, "content");
  const content = new FsContentStore(contentDir);
  const password = options.password ?? `dev-${randomBytes(8).toString("hex")}`;
  const passwordFile = path.join(workDir, "password");
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  const scryptN = options.scryptN ?? 1024;

  // The deployer funds everyone: its transactions go one at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  const fund = (address: string, amounts: { eth?: bigint; tokens?: bigint } = {}) =>
    serially(async () => {
      await (await deployer.sendTransaction({ to: address, value: amounts.eth ?? parseEther("10") })).wait();
      await (await system.token.connect(deployer).mint(address, amounts.tokens ?? 10_000n * TOKEN)).wait();
    });
  const setup: OperatorSetupContext = {
    workDir,
    deploymentFile,
    rpcUrl: chain.url,
    contentDir,
    password,
    passwordFile,
    scryptN,
    settings: options.settings ?? {},
    stake: options.stake ?? 1_000n * TOKEN,
    fund: (address) => fund(address),
  };
  const publishContext = {
    registry: system.registry,
    verifierFactory: system.record.contracts.verifierFactory.address,
    deployer,
    owner: modelOwner,
    content,
    ipfsDir: options.ipfsDir,
    // Over IPFS, model files live in the publisher's store only: operators fetch them from peers.
    modelFilesInContentDir: options.p2p !== true,
    log,
  };

  const devnet: Devnet<M> = {
    chain,
    provider,
    deployer,
    requester,
    modelOwner,
    system,
    contracts: connectContracts(addressesFromRecord(system.record), provider),
    deploymentFile,
    contentDir,
    ...(options.ipfsDir === undefined ? {} : { ipfsDir: path.resolve(options.ipfsDir) }),
    workDir,
    passwordFile,
    models: [],
    textModels: [],
    operators: [],
    daemons: [],
    relays: [],
    publish: (spec) => publishDevnetModel(publishContext, spec),
    publishText: (spec) => publishDevnetTextModel(publishContext, spec),
    async addOperator(spec) {
      // Over IPFS, each operator runs a peer that fetches from the publisher's (and, on-chain, from each other).
      const peer = devnet.publisherPeer;
      const operator = await setUpOperator(
        peer === undefined ? setup : { ...setup, settings: { ...setup.settings, ipfsPeers: peer.multiaddrs } },
        peer === undefined ? spec : { ...spec, p2p: true },
      );
      devnet.operators.push(operator);
      return operator;
    },
    startDaemon(operator, daemonOptions) {
      const daemon = startOperatorDaemon(operator, daemonOptions);
      devnet.daemons.push(daemon);
      return daemon;
    },
    async launch(specs) {
      log(`starting ${specs.length} operator daemon${specs.length === 1 ? "" : "s"} ...`);
      const settled = await Promise.allSettled(
        specs.map(async (spec) => {
          const operator = await devnet.addOperator(spec);
          log(
            `  operator ${spec.name} ${operator.address} serves ${spec.modes.join(", ")}${operator.enclave ? ` (development enclave ${operator.enclave})` : ""}`,
          );
          return devnet.startDaemon(operator, {
            logFile: path.join(workDir, `${spec.name}.log`),
            log: (line) => log(`  ${line}`),
          });
        }),
      );
      const daemons = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
      try {
        if (failed !== undefined) throw failed.reason;
        await Promise.all(daemons.map((d) => d.started));
        return daemons;
      } catch (error) {
        await Promise.all(daemons.map((d) => d.stop()));
        throw error;
      }
    },
    async startRelay(name, port) {
      const relay = await startDevnetRelay(
        {
          provider,
          contracts: devnet.contracts,
          workDir,
          password,
          passwordFile,
          addClient: (c) => devnet.addClient(c),
        },
        name,
        port,
      );
      devnet.relays.push(relay);
      log(
        `relay ${name} ${relay.address} listed at ${relay.url}; log in ${path.relative(process.cwd(), relay.logFile)}`,
      );
      return relay;
    },
    async addClient(client) {
      const { address } = await initOperator({
        configFile: client.config,
        password: client.password ?? password,
        deploymentFile,
        rpcUrl: chain.url,
        dataDir: client.dataDir,
        contentDir: client.contentDir,
        modes: ["vanilla"],
        scryptN,
        // Every peer of a devnet listens on 127.0.0.1.
        settings: { ipfsAllowPrivate: true, ...client.settings },
      });
      await fund(address, { eth: client.eth, tokens: client.tokens });
      return { address, config: client.config };
    },
    fund,
    async stop() {
      await Promise.all([...devnet.daemons, ...devnet.relays].map((d) => d.stop()));
      await devnet.hub?.stop();
      await devnet.publisherPeer?.stop();
      provider.destroy();
      await chain.stop();
    },
  };
  return devnet;
}

import path from "node:path";
import { type JsonRpcProvider, type Provider, toUtf8Bytes, type Signer } from "ethers";
import type { Logger } from "pino";
import { ModelRegistry__factory } from "../../typechain-types";
import { buildPenguinClassifier, type BundledModel } from "../models/penguins";
import type { Deployment } from "../core/deployment";
import { createProvider } from "../core/provider";
import { DevEnclave } from "../tee/dev-enclave";
import type { ContentStore } from "../storage/content-store";
import { EmbeddedContentStore } from "../storage/embedded";
import { trustlessGatewayHandler, type BlockSource } from "../storage/gateway";
import { type RunningHubServer, startHubServer, type StaticHandler } from "./http";
import { HubIndexer } from "./indexer";
import { RetrievabilityProber, type RetrievabilityOptions } from "./retrievability";
import { type ModeSpec, type ModelFile, type PublishResult, publishModel } from "./publish";
import { SearchEngine } from "./search";
import { SubscriptionFeeds } from "./subscriptions";
import { HubStore } from "./store";
import { createWebHandler } from "./web";

/** The parts of a deployment record the hub reads. */
export type HubDeployment = Pick<Deployment, "chainId" | "startBlock"> & {
  contracts: Pick<Deployment["contracts"], "registry" | "escrow"> &
    Partial<
      Pick<Deployment["contracts"], "token" | "teeVerifier" | "staking" | "evaluationRegistry" | "subscriptionManager">
    >;
};

/** Options of {@link startLocalHub}. Give `provider` or `rpcUrl`, and `contentStore` or `contentStoreDir`. */
export interface StartLocalHubOptions {
  provider?: Provider;
  rpcUrl?: string;
  deployment: HubDeployment;
  contentStore?: ContentStore;
  /** Directory of the embedded content store (the one {@link publishBundledModel} wrote to). */
  contentStoreDir?: string;
  /** SQLite file of the index. Default in memory: the index is rebuilt from the chain at every start. */
  dbPath?: string;
  /** HTTP port on 127.0.0.1; 0 picks a free one. Default 8787. */
  port?: number;
  /** Default 0: a local development chain does not reorganise. */
  confirmations?: number;
  /** Default 1 s. */
  pollIntervalMs?: number;
  logger?: Logger;
  /**
   * Probe, on a schedule, which providers serve every file of every version (shown on the model page with a
   * warning under two). Unset, the hub shows no provider figures.
   */
  retrievability?: Omit<RetrievabilityOptions, "logger">;
}

/** A running hub: indexer, API and web page. */
export interface LocalHub {
  /** Base URL of the page and API, e.g. `http://127.0.0.1:8787`. */
  url: string;
  store: HubStore;
  indexer: HubIndexer;
  server: RunningHubServer;
  /** Stops the indexer and the server and closes what this function opened. */
  stop(): Promise<void>;
}

/**
 * Indexes a deployment and serves the hub (API and web page) on 127.0.0.1: one first sync before it
 * returns, then polling every `pollIntervalMs`.
 * @example
 * const hub = await startLocalHub({ rpcUrl: chain.url, deployment: system.record, contentStoreDir: ".vin/ipfs", port: 8787 });
 * console.log(`model hub at ${hub.url}`);
 * // on shutdown: await hub.stop();
 */
export async function startLocalHub(options: StartLocalHubOptions): Promise<LocalHub> {
  const ownsContent = options.contentStore === undefined;
  const content = options.contentStore ?? (await EmbeddedContentStore.open(requireDir(options.contentStoreDir)));
  const ownedProvider: JsonRpcProvider | undefined =
    options.provider === undefined ? createProvider(requireUrl(options.rpcUrl)) : undefined;
  const provider = options.provider ?? ownedProvider!;
  const store = HubStore.open(options.dbPath ?? ":memory:", { logger: options.logger });
  const { deployment } = options;
  const indexer = new HubIndexer({
    provider,
    registry: deployment.contracts.registry.address,
    escrow: deployment.contracts.escrow.address,
    ...(deployment.contracts.teeVerifier === undefined
      ? {}
      : { teeVerifier: deployment.contracts.teeVerifier.address }),
    // `GET /api/network` and the page's Network view are computed from the network's events the indexer keeps.
    ...(deployment.contracts.staking === undefined ? {} : { staking: deployment.contracts.staking.address }),
    // Datasets and verified evaluations, shown on each version of the model page.
    ...(deployment.contracts.evaluationRegistry === undefined
      ? {}
      : { evaluationRegistry: deployment.contracts.evaluationRegistry.address }),
    startBlock: deployment.startBlock,
    store,
    content,
    confirmations: options.confirmations ?? 0,
    pollIntervalMs: options.pollIntervalMs ?? 1_000,
    logger: options.logger,
  });
  const prober =
    options.retrievability === undefined
      ? undefined
      : new RetrievabilityProber(store, {
          ...options.retrievability,
          ...(options.logger === undefined ? {} : { logger: options.logger }),
        });
  let server: RunningHubServer | undefined;
  try {
    await indexer.syncOnce();
    server = await startHubServer({
      store,
      engine: new SearchEngine(store, { vocabularyMaxAgeMs: 1_000 }),
      logger: options.logger,
      port: options.port ?? 8787,
      host: "127.0.0.1",
      ...(indexer.network === undefined ? {} : { network: indexer.network }),
      ...(prober === undefined ? {} : { retrievability: prober }),
      // `GET /api/feeds` and the feeds page read the subscriptions' feeds from the chain.
      ...(deployment.contracts.subscriptionManager === undefined
        ? {}
        : {
            feeds: new SubscriptionFeeds({
              provider,
              manager: deployment.contracts.subscriptionManager.address,
              startBlock: deployment.contracts.subscriptionManager.block,
            }),
          }),
      staticHandler: withGateway(
        content,
        createWebHandler({
          config: {
            chainId: deployment.chainId,
            registry: deployment.contracts.registry.address,
            escrow: deployment.contracts.escrow.address,
            ...(deployment.contracts.token === undefined ? {} : { token: deployment.contracts.token.address }),
          },
        }),
      ),
    });
  } catch (error) {
    await release();
    throw error;
  }
  indexer.start();
  prober?.start();
  const running = server;
  async function release(): Promise<void> {
    await indexer.stop();
    await prober?.stop();
    await server?.close();
    store.close();
    ownedProvider?.destroy();
    if (ownsContent) await content.close();
  }
  return { url: running.url, store, indexer, server: running, stop: release };
}

/**
 * The web page, behind a trustless gateway (`GET /ipfs/<cid>?format=raw`, one verified-by-CID block) over the hub's
 * content when that store serves blocks (the IPFS peer store): the files the hub holds are one more copy anyone can
 * fetch without trusting the hub.
 */
function withGateway(content: ContentStore | (ContentStore & BlockSource), web: StaticHandler): StaticHandler {
  if (!("block" in content)) return web;
  const gateway = trustlessGatewayHandler(content);
  return (req, res) => gateway(req, res) || web(req, res);
}

/** What {@link publishBundledModel} publishes of a model: its ONNX file and its card. */
export interface PublishableModel {
  onnx: Uint8Array;
  card: string;
}

/** Options of {@link publishBundledModel}. */
export interface PublishBundledModelOptions {
  /** The model owner's signer (connected to the chain). */
  signer: Signer;
  /** The registry address (e.g. `system.record.contracts.registry.address`). */
  registry: string;
  contentStore?: ContentStore;
  contentStoreDir?: string;
  /** Price per inference in token wei. Default 1 token (1e18). */
  price?: bigint;
  /** Default vanilla and tee bound to the development enclave's measurement. */
  modes?: ModeSpec[];
  /** A model already built (any bundled model, see `bundledModels()`); default: `buildPenguinClassifier()`. */
  model?: PublishableModel;
  /**
   * Also serve ZK mode: the circuit's files (`zkModelFiles`: manifest, proving key, powers of tau, ...), its
   * `Groth16Verifier` deployed through the registry's verifier factory and its key hash (`deployZkModel` gives all three).
   */
  zk?: { files: readonly ModelFile[]; verifier: string; vkHash: string };
  log?: (message: string) => void;
}

/**
 * Publishes the bundled penguin classifier through the hub's publish path: `model.onnx` and its card
 * (`README.md`) into the content store, read back and checked, then one `createModelAndPublish`.
 * @example
 * const { modelId } = await publishBundledModel({ signer: modelOwner, registry: system.record.contracts.registry.address, contentStoreDir: ".vin/ipfs" });
 */
export async function publishBundledModel<M extends PublishableModel = BundledModel>(
  options: PublishBundledModelOptions & { model?: M },
): Promise<PublishResult & { model: M }> {
  const model = options.model ?? (buildPenguinClassifier() as unknown as M);
  const ownsContent = options.contentStore === undefined;
  const store = options.contentStore ?? (await EmbeddedContentStore.open(requireDir(options.contentStoreDir)));
  try {
    const result = await publishModel({
      registry: ModelRegistry__factory.connect(options.registry, options.signer),
      store,
      files: [
        { path: "model.onnx", bytes: model.onnx },
        { path: "README.md", bytes: toUtf8Bytes(model.card) },
        ...(options.zk?.files ?? []),
      ],
      modes: [
        ...(options.modes ?? [{ mode: "vanilla" }, { mode: "tee", measurements: [DevEnclave.TD_MEASUREMENT] }]),
        ...(options.zk === undefined
          ? []
          : [{ mode: "zk" as const, verifier: options.zk.verifier, verifyingKeyHash: options.zk.vkHash }]),
      ],
      price: options.price ?? 10n ** 18n,
      log: options.log,
    });
    return { ...result, model };
  } finally {
    if (ownsContent) await store.close();
  }
}

function requireDir(dir: string | undefined): string {
  if (dir === undefined) throw new TypeError("give contentStore or contentStoreDir");
  return path.resolve(dir);
}

function requireUrl(url: string | undefined): string {
  if (url === undefined) throw new TypeError("give provider or rpcUrl");
  return url;
}

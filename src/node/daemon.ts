import type { Server } from "node:http";
import { Mode, MODE_NAMES } from "../core/modes";
import { resolveSetting } from "../core/config";
import { BaseError, firstLine, InputError } from "../core/errors";
import { LogFollower } from "../core/follower";
import { requirePrivacyPassEscrow } from "../core/contracts";
import { ISSUE_PATH } from "../privacypass";
import { startPrivateGateway } from "./gateway";
import { startPassService } from "./issuer";
import { startChatService } from "./chat-service";
import { keepSubscriptions } from "./subscription-keeper";
import { publishGateway } from "./operator-actions";
import { sleep, withRetry } from "../core/retry";
import { Computer } from "./compute";
import { MODE_BY_NAME, tokenAmount, type ConfigSources } from "./config";
import { openNodeContent } from "./content-store";
import { openOperator, type OperatorContext } from "./context";
import { loadDevEnclave } from "./enclave";
import {
  maintainEnclave,
  parseQuoteSource,
  registrationContext,
  type QuoteSource,
  type RegistrationContext,
} from "./enclave-registration";
import { InputFetcher } from "./inputs";
import { loadNodeKey, publishNodeKey } from "./node-key";
import type { Logger } from "../core/log";
import { NodeMetrics } from "./metrics";
import { ModelLoader } from "./models";
import { WorkerPool } from "./pool";
import { JobProcessor } from "./processor";
import { EarningsWithdrawer } from "./earnings-withdrawer";
import { ACTIVE_STATES } from "./store";
import { Wakeup } from "./wakeup";
import { startNodePeer } from "./replication";
import { SUBMIT_ALONE, ZkBatcher } from "./batcher";
import { ZkCircuitLoader, ZkSlotLoader } from "./zk";
import { ZkSlotBatcher } from "./zk-batch";
import { modeModule } from "../modes";

/** How often the daemon checks its enclave's registration (a renewal is due hours ahead at the shortest `maxEnclaveAge`). */
const ENCLAVE_CHECK_MS = 60_000;

export interface DaemonOptions {
  configFile: string;
  password: string;
  log: Logger;
  takeover?: boolean;
  /** Settings from flags and the environment, over the file's (see `loadConfig`). */
  sources?: ConfigSources;
}

/** A running operator node; `stop()` finishes in-flight steps, then closes everything. */
export interface RunningDaemon {
  address: string;
  metricsPort?: number;
  /** The URL of the enclave's Oblivious HTTP gateway, when it serves one (`gatewayPort`). */
  gatewayUrl?: string;
  /** The direct chat API's base URL (ending in `/v1`), when it serves one (`chat.port`). */
  chatUrl?: string;
  stopped: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the operator daemon: checks the key, stake and registration, then runs the chain follower, the job
 * scheduler (bounded worker pool), the earnings withdrawal, for TEE the enclave's registration (registered with a
 * quote if it is not, renewed before it expires; quotes from `VIN_TEE_QUOTES`: "development" by default or
 * "configfs-tsm") and the metrics endpoint until `stop()`.
 * @example const daemon = await startDaemon({ configFile: "vin.json", password, log }); process.once("SIGTERM", () => void daemon.stop());
 */
export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const quotes = resolveSetting(
    "teeQuotes",
    {
      env: { name: "VIN_TEE_QUOTES", value: options.sources?.env?.VIN_TEE_QUOTES },
      default: "development" as QuoteSource,
    },
    parseQuoteSource,
  );
  const ctx = await openOperator({
    configFile: options.configFile,
    password: options.password,
    purpose: "daemon",
    log: options.log,
    takeover: options.takeover,
    sources: options.sources,
  });
  // What `run` started before it failed (the IPFS peer), stopped before the context closes.
  const started: (() => Promise<void>)[] = [];
  try {
    return await run(ctx, options.log, quotes, started);
  } catch (error) {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
    ctx.close();
    throw error;
  }
}

async function run(
  ctx: OperatorContext,
  log: Logger,
  quotes: QuoteSource,
  started: (() => Promise<void>)[],
): Promise<RunningDaemon> {
  const { config, contracts, store, sender, provider } = ctx;
  const address = ctx.wallet.address;
  const modes = new Set(config.modes.map((m) => MODE_BY_NAME[m]));
  await checkRegistration(ctx, modes);
  const needs = new Set([...modes].flatMap((m) => modeModule(m).needs));
  const enclave = needs.has("enclave") ? loadDevEnclave(config.dataDir, { create: true }) : undefined;
  if (enclave !== undefined && quotes === "development")
    log.warn(
      { enclave: enclave.address },
      "TEE mode uses a DEVELOPMENT-ONLY enclave: its key is a plain file in the data directory and its quotes prove nothing",
    );
  if (enclave !== undefined && quotes === "configfs-tsm")
    log.info(
      { enclave: enclave.address },
      "TEE mode attests with TDX quotes from configfs-tsm: the enclave key file in the data directory must sit on storage only this TD reads",
    );
  // With p2pListen, the node is an IPFS peer: it fetches model files from other peers, pins and serves them.
  const peer = await startNodePeer(ctx, log);
  if (peer !== undefined) started.push(() => peer.close());
  const content = await openNodeContent({
    contentDir: config.contentDir,
    // The peer holds the IPFS directory when there is one.
    ipfsDir: peer === undefined ? config.ipfsDir : undefined,
    kuboUrl: config.kuboUrl,
    timeoutMs: config.contentTimeoutMs,
    ...(peer === undefined ? {} : { peer: peer.store }),
  });
  const models = new ModelLoader(contracts.registry, content.store);
  // The enclave's Oblivious HTTP gateway (private inference), listed in PrivacyRegistry once the enclave is registered.
  const serveGateway = enclave !== undefined && config.gatewayPort !== 0;
  // Privacy Pass: the issuer key registered, issuance served beside the gateway, spent tokens redeemed on-chain.
  const passes =
    serveGateway && config.passPrice !== undefined
      ? await startPassService({
          dataDir: config.dataDir,
          db: store.db.sqlite,
          escrow: requirePrivacyPassEscrow(contracts),
          sender,
          operator: address,
          chainId: BigInt(config.chainId),
          price: tokenAmount(config.passPrice)!,
          listen: false,
          log: log.child({ component: "passes" }),
          rpcTimeoutMs: config.rpcTimeoutMs,
        })
      : undefined;
  // Chat (TEE): text models, the chat API with receipts settled on ReceiptSettlement, credit tokens.
  const chat =
    config.chat !== undefined && enclave !== undefined
      ? await startChatService({
          ctx,
          chat: config.chat,
          enclave,
          content: content.store,
          log: log.child({ component: "chat" }),
        })
      : undefined;
  if (chat !== undefined) started.push(() => chat.close());
  if (chat !== undefined && !serveGateway && chat.direct === undefined)
    log.warn("chat is configured but served nowhere: set gatewayPort (users) or chat.port (development)");
  const gateway = serveGateway
    ? await startPrivateGateway({
        enclave,
        operator: address,
        contracts,
        chainId: BigInt(config.chainId),
        models,
        host: config.gatewayHost,
        port: config.gatewayPort,
        log: log.child({ component: "gateway" }),
        rpcTimeoutMs: config.rpcTimeoutMs,
        ...(passes === undefined ? {} : { passes: passes.redeemer }),
        routes: { ...chat?.routes, ...(passes === undefined ? {} : { [ISSUE_PATH]: passes.handler }) },
        ...(chat === undefined ? {} : { chat: chat.api }),
      })
    : undefined;
  const gatewayUrl = config.gatewayUrl ?? gateway?.url;
  const keepRegistration = enclave === undefined ? undefined : enclaveKeeper(registrationContext(ctx, { quotes }), log);
  const keepEnclave =
    keepRegistration === undefined
      ? undefined
      : async () => {
          if (!(await keepRegistration()) || gateway === undefined || gatewayUrl === undefined) return;
          const published = await publishGateway(ctx, enclave!.address, gatewayUrl);
          if (published !== undefined)
            log.info({ url: gatewayUrl, tx: published.tx }, "gateway listed in PrivacyRegistry");
        };
  await keepEnclave?.().catch((error: unknown) =>
    log.warn({ err: firstLine(error) }, "enclave registration or gateway listing failed; retrying every minute"),
  );
  // Sealed inputs open with the enclave's key when there is one (inside it), else with the node's own key.
  const nodeKey = loadNodeKey(config.dataDir, { enclave, create: true })!;
  await publishNodeKey(ctx, nodeKey, log).catch((error: unknown) =>
    log.warn({ err: firstLine(error) }, "node key not published: requesters cannot seal inputs to this node"),
  );
  const metrics = new NodeMetrics(store.jobs);
  sender.onMined = (_tx, receipt) => metrics.gasSpent.inc(Number(receipt.fee));
  const zk = needs.has("zk") ? new ZkCircuitLoader(contracts.registry, content.store, log) : undefined;
  const computer = new Computer(models, BigInt(config.chainId), config.contracts.escrow, address, enclave, zk);
  const inputs = new InputFetcher(content.store, {
    timeoutMs: config.contentTimeoutMs,
    maxBytes: config.maxInputBytes,
    sealed: { chainId: BigInt(config.chainId), escrow: config.contracts.escrow, node: address, key: nodeKey },
  });
  const iface = contracts.escrow.interface;
  // The scheduler polls as a fallback; the follower wakes it as soon as it has stored new jobs or rewound some,
  // and the batcher when it has submitted ZK jobs or handed some back.
  const work = new Wakeup();
  const proofBatch =
    zk !== undefined && config.zkBatchMax > 1
      ? new ZkBatcher(
          store,
          sender,
          iface,
          log,
          { escrow: config.contracts.escrow, maxBatch: config.zkBatchMax, windowMs: config.zkBatchWindowMs },
          { wake: () => work.notify() },
        )
      : SUBMIT_ALONE;
  // One proof for several jobs (zkBatch): jobs of a version without a usable N-slot key go to `proofBatch`.
  const submission =
    zk !== undefined && config.zkBatch !== undefined
      ? new ZkSlotBatcher(
          {
            store,
            sender,
            iface,
            provers: new ZkSlotLoader(contracts.registry, content.store, zk, config.zkBatch.slots, log),
            open: (row) => inputs.open(row.job, row.input),
            log,
            wake: () => work.notify(),
            fallback: proofBatch,
          },
          { escrow: config.contracts.escrow, ...config.zkBatch },
        )
      : proofBatch;
  const processor = new JobProcessor(store, sender, submission, contracts, computer, inputs, metrics, log, {
    address,
    escrow: config.contracts.escrow,
    modes,
    minFeePerNode: BigInt(config.minFeePerNode),
    maxCollateral: tokenAmount(config.maxCollateral)!,
    rpcTimeoutMs: config.rpcTimeoutMs,
  });
  const follower = new LogFollower(provider, store.cursor, log, {
    address: config.contracts.escrow,
    topics: ["JobRequested", "JobSettled", "JobRefunded", "NodeSlashed"].map(
      (name) => iface.getEvent(name as "JobSettled").topicHash,
    ),
    startBlock: config.contracts.startBlock,
    confirmations: config.confirmations,
    maxBlockRange: config.maxBlockRange,
    pollIntervalMs: config.pollIntervalMs,
    rpcTimeoutMs: config.rpcTimeoutMs,
    apply: (logs) => processor.apply(logs),
    rewind: (ancestor) => {
      processor.rewind(ancestor);
      work.notify();
    },
    onApplied: () => work.notify(),
    onError: () => metrics.rpcErrors.inc(),
  });
  const earnings = new EarningsWithdrawer(store.outbox, sender, contracts, log, {
    address,
    threshold: BigInt(config.claimThreshold),
    rpcTimeoutMs: config.rpcTimeoutMs,
  });
  const pool = new WorkerPool(config.workers);
  const abort = new AbortController();
  const signal = abort.signal;

  let server: Server | undefined;
  let metricsPort: number | undefined;
  if (config.metricsPort !== 0) ({ server, port: metricsPort } = await metrics.serve(config.metricsPort));

  const loops = [
    follower.run(signal),
    loop(
      signal,
      config.pollIntervalMs,
      async () => {
        for (const row of store.jobs.inStates(ACTIVE_STATES))
          pool.submit(row.jobId.toString(), () => processor.advance(row.jobId, signal));
      },
      log,
      "scheduler",
      work,
    ),
    loop(signal, config.pollIntervalMs, () => sender.sweep(), log, "outbox"),
    loop(signal, config.pollIntervalMs * 5, () => earnings.check(signal), log, "earnings withdrawal"),
    // Chat receipts: batched, committed, opened, finalized and withdrawn on ReceiptSettlement.
    ...(chat === undefined
      ? []
      : [loop(signal, config.pollIntervalMs, async () => void (await chat.settle()), log, "receipt settlement")]),
    // Subscriptions: start the due rounds this node may serve (anyone may; the starter earns the keeper reward).
    ...(contracts.subscriptionManager === undefined || !config.keepSubscriptions
      ? []
      : [
          keepSubscriptions({
            manager: contracts.subscriptionManager,
            provider,
            staking: contracts.staking,
            sender,
            address,
            modes,
            startBlock: config.contracts.startBlock,
            maxBlockRange: config.maxBlockRange,
            rpcTimeoutMs: config.rpcTimeoutMs,
            intervalMs: config.pollIntervalMs,
            log: log.child({ component: "subscriptions" }),
            signal,
          }),
        ]),
    // Checked once before the loops started: the next check is a period later.
    ...(keepEnclave === undefined
      ? []
      : [
          sleep(ENCLAVE_CHECK_MS, signal)
            .catch(() => undefined)
            .then(() => loop(signal, ENCLAVE_CHECK_MS, keepEnclave, log, "enclave registration")),
        ]),
  ];
  log.info(
    {
      address,
      modes: config.modes,
      metricsPort,
      gateway: gateway?.url,
      chat: chat?.direct?.url,
      ipfs: peer?.announced,
      maxCollateral: config.maxCollateral,
      fromBlock: follower.cursor + 1,
    },
    "operator node started",
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info("stopping: finishing in-flight steps");
      abort.abort();
      await Promise.allSettled(loops);
      await submission.stop();
      await pool.drain();
      await gateway?.close();
      await passes?.close();
      await chat?.close();
      await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
      await content
        .close()
        .catch((error: unknown) => log.warn({ err: String(error) }, "closing the content store failed"));
      await peer?.close().catch((error: unknown) => log.warn({ err: String(error) }, "stopping the IPFS peer failed"));
      ctx.close();
      log.info("stopped");
    })());
  const stopped = Promise.all(loops).then(() => stopping ?? Promise.resolve());
  return {
    address,
    metricsPort,
    ...(gateway === undefined ? {} : { gatewayUrl: gateway.url }),
    ...(chat?.direct === undefined ? {} : { chatUrl: chat.direct.url }),
    stopped,
    stop,
  };
}

/**
 * One check of the enclave's registration (see `maintainEnclave`): registered if it is not, renewed before it expires,
 * logged when it cannot be (once per reason).
 */
function enclaveKeeper(ctx: RegistrationContext, log: Logger): () => Promise<boolean> {
  let blocked: string | undefined;
  return async () => {
    const { action, registration, reason } = await maintainEnclave(ctx, log);
    if (action === "blocked") {
      if (reason !== blocked) log.error({ enclave: ctx.enclave.address }, `TEE jobs cannot be served: ${reason}`);
      blocked = reason;
      return false;
    }
    blocked = undefined;
    if (registration === undefined) return true;
    const { signer, measurement, expiresAt, tx, attempts, cachedCertificates } = registration;
    log.info(
      { enclave: signer, measurement, expiresAt: expiresAt.toString(), tx, attempts, cachedCertificates },
      action === "registered" ? "enclave registered with a quote" : "enclave registration renewed with a fresh quote",
    );
    return true;
  };
}

/** Refuses to start a node that could never be paid: not registered for its modes, or below the minimum stake. */
async function checkRegistration(ctx: OperatorContext, modes: ReadonlySet<number>): Promise<void> {
  const { staking } = ctx.contracts;
  const address = ctx.wallet.address;
  const [operator, params] = await Promise.all([
    withRetry("staking.operatorOf", () => staking.operatorOf(address)),
    withRetry("staking.parameters", () => staking.parameters()),
  ]);
  if (operator.staked < params.minimumStake) {
    throw new InputError(
      `operator ${address} has ${operator.staked} staked, below the minimum ${params.minimumStake}: run \`vin stake <amount>\``,
    );
  }
  for (const mode of modes) {
    if ((Number(operator.capabilities) & (1 << mode)) === 0) {
      throw new InputError(
        `operator ${address} is not registered for mode ${MODE_NAMES[mode as Mode]}: run \`vin register --modes ${[...modes].map((m) => MODE_NAMES[m as Mode]).join(",")}\``,
      );
    }
  }
}

async function loop(
  signal: AbortSignal,
  intervalMs: number,
  body: () => Promise<void>,
  log: Logger,
  name: string,
  wake?: Wakeup,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await body();
    } catch (error) {
      if (signal.aborted) break;
      log.warn(
        { err: error instanceof BaseError ? error.message : String((error as Error)?.message ?? error).split("\n")[0] },
        `${name}: step failed; retrying`,
      );
    }
    await (wake === undefined ? sleep(intervalMs, signal).catch(() => undefined) : wake.wait(intervalMs, signal));
  }
}

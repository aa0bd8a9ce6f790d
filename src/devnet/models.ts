/**
 * Models on a devnet: a model's version 1 registered (through the hub's publish path into an embedded IPFS store,
 * or with raw-block CIDs when there is none), optionally with its ZK circuit built and its verifier deployed, and
 * every file put in the operators' content directory so the nodes find it by CID. Classifiers and regressors are
 * published as `model.onnx`, text-generation models as `model.gguf` (served by TEE nodes' chat API), each with its
 * card as `README.md`.
 */
import path from "node:path";
import { toUtf8Bytes, type Signer } from "ethers";
import { BaseError } from "../core/errors";
import type { ModeName } from "../core/modes";
import { rawFileRef, versionInput } from "../core/registry";
import { publishModel, type ModeSpec, type ModelFile } from "../hub/publish";
import { textModelFiles } from "../models/moby-dick-llama";
import { modeModule } from "../modes";
import { EmbeddedContentStore } from "../storage/embedded";
import type { FsContentStore } from "../node/content-store";
import { computeCid } from "../storage";
import { DevEnclave } from "../tee/dev-enclave";
import { deployZkModel, type ZkDeployment } from "../zkml/deploy";
import { ModelRegistry__factory } from "../../typechain-types";
import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";

/** What a devnet publishes of a model: its ONNX file and card, and for ZK the input range its circuit covers. */
export interface DevnetModel {
  name: string;
  onnx: Uint8Array;
  card: string;
  /** ZK: inputs are clamped to [-inputRange, inputRange] (see `clampToRange`). */
  inputRange?: number;
}

/** What a devnet publishes of a text-generation model: its GGUF file and card (e.g. `mobyDickLlama()`). */
export interface DevnetTextModel {
  name: string;
  gguf: Uint8Array;
  card: string;
}

export interface PublishModelSpec<M extends DevnetModel = DevnetModel> {
  model: M;
  /**
   * The modes version 1 serves besides ZK. Default vanilla and TEE (bound to the development enclave's
   * measurement); `[]` with `zk` for a ZK-only version.
   */
  modes?: Exclude<ModeName, "zk" | "dual">[];
  /** Also serve ZK: the circuit built at this setup size (cached under .cache/zk) and its verifier deployed. */
  zk?: { minPower: number };
  /** The model's owner. Default the devnet's model owner. */
  owner?: Signer;
  /** Price per inference in token wei. Default 1 token. */
  price?: bigint;
  /** Shown when it is published, e.g. its held-out accuracy. */
  summary?: string;
}

/** A text model's version 1: TEE only (bound to the development enclave's measurement), served through chat. */
export interface PublishTextModelSpec<T extends DevnetTextModel = DevnetTextModel> {
  model: T;
  /** The model's owner. Default the devnet's model owner. */
  owner?: Signer;
  /** The registry's price per inference in token wei (chat is priced per token in ReceiptSettlement). Default 1 token. */
  price?: bigint;
  /** Shown when it is published, e.g. its held-out perplexity. */
  summary?: string;
}

export interface PublishedTextModel<T extends DevnetTextModel = DevnetTextModel> {
  model: T;
  modelId: bigint;
}

export interface PublishedModel<M extends DevnetModel = DevnetModel> {
  model: M;
  modelId: bigint;
  /** The circuit, its verifier and files, when the version serves ZK. */
  zk?: ZkDeployment;
}

export interface PublishContext {
  registry: ModelRegistry;
  /** The registry's verifier factory (the deployment's `verifierFactory`). */
  verifierFactory: string;
  /** Deploys the ZK verifier. */
  deployer: Signer;
  owner: Signer;
  /** The nodes' content directory. */
  content: FsContentStore;
  /** The embedded IPFS store to publish to through the hub; none: raw-block CIDs, the content directory only. */
  ipfsDir?: string;
  /** Also write every model file to the content directory (read by operators without IPFS). Default true. */
  modelFilesInContentDir?: boolean;
  log: (line: string) => void;
}

const TOKEN = 10n ** 18n;

/**
 * Publishes version 1 of a new model and stores its files where the devnet's nodes read them.
 * @example const { modelId } = await publishDevnetModel(context, { model: buildPenguinClassifier() });
 */
export async function publishDevnetModel<M extends DevnetModel>(
  context: PublishContext,
  spec: PublishModelSpec<M>,
): Promise<PublishedModel<M>> {
  const { model } = spec;
  const zk = spec.zk === undefined ? undefined : await buildCircuit(context, model, spec.zk.minPower);
  const modelId = await publishFiles(context, {
    name: model.name,
    files: [
      { path: "model.onnx", bytes: model.onnx },
      { path: "README.md", bytes: toUtf8Bytes(model.card) },
      ...(zk?.files ?? []),
    ],
    modes: spec.modes ?? ["vanilla", "tee"],
    zk,
    owner: spec.owner,
    price: spec.price,
    summary: spec.summary,
  });
  return { model, modelId, zk };
}

/**
 * Publishes version 1 of a new text-generation model (`model.gguf` and its card), TEE only, and stores its files
 * where the devnet's nodes read them.
 * @example const { modelId } = await publishDevnetTextModel(context, { model: mobyDickLlama() });
 */
export async function publishDevnetTextModel<T extends DevnetTextModel>(
  context: PublishContext,
  spec: PublishTextModelSpec<T>,
): Promise<PublishedTextModel<T>> {
  const modelId = await publishFiles(context, {
    name: spec.model.name,
    files: textModelFiles(spec.model),
    modes: ["tee"],
    owner: spec.owner,
    price: spec.price,
    summary: spec.summary,
  });
  return { model: spec.model, modelId };
}

interface FilesToPublish {
  name: string;
  files: ModelFile[];
  modes: Exclude<ModeName, "zk" | "dual">[];
  zk?: ZkDeployment;
  owner?: Signer;
  price?: bigint;
  summary?: string;
}

/** Stores the files in the content directory and registers them (through the hub into IPFS, or raw); the model id. */
async function publishFiles(context: PublishContext, spec: FilesToPublish): Promise<bigint> {
  const owner = spec.owner ?? context.owner;
  // Under the raw-block CID and the UnixFS CID `ipfs add` gives (a dag-pb CID for a file larger than one block).
  if (context.modelFilesInContentDir !== false)
    for (const { bytes } of spec.files) {
      await context.content.add(bytes);
      await context.content.put(await computeCid(bytes), bytes);
    }
  const price = spec.price ?? TOKEN;
  const modelId =
    context.ipfsDir === undefined
      ? await registerRaw(context.registry.connect(owner), price, spec.files, spec.modes, spec.zk)
      : await publishToIpfs(context, context.ipfsDir, owner, price, spec);
  context.log(
    `published ${spec.name}${spec.summary === undefined ? "" : ` (${spec.summary})`} to ${context.ipfsDir === undefined ? "the content directory" : "IPFS"} and the registry as model ${modelId}`,
  );
  return modelId;
}

/** The hub's publish path: the files into the embedded IPFS store, read back and checked, then the registration. */
async function publishToIpfs(
  context: PublishContext,
  ipfsDir: string,
  owner: Signer,
  price: bigint,
  spec: FilesToPublish,
): Promise<bigint> {
  const store = await EmbeddedContentStore.open(path.resolve(ipfsDir));
  try {
    const { zk } = spec;
    const published = await publishModel({
      registry: ModelRegistry__factory.connect(await context.registry.getAddress(), owner),
      store,
      files: spec.files,
      modes: [
        ...spec.modes.map(hubModeSpec),
        ...(zk === undefined ? [] : [{ mode: "zk" as const, verifier: zk.verifier, verifyingKeyHash: zk.vkHash }]),
      ],
      price,
      log: (m) => context.log(`  ${m}`),
    });
    return BigInt(published.modelId);
  } finally {
    await store.close();
  }
}

async function buildCircuit(context: PublishContext, model: DevnetModel, minPower: number): Promise<ZkDeployment> {
  if (model.inputRange === undefined)
    throw new BaseError(`model ${model.name} has no input range: a ZK circuit needs one`);
  context.log(
    `${model.name}: building its ZK circuit (compile, development setup; cached in .cache/zk after the first run) ...`,
  );
  const zk = await deployZkModel(context.deployer, {
    onnx: model.onnx,
    inputRange: model.inputRange,
    minPower,
    verifierFactory: context.verifierFactory,
    log: (m) => context.log(`  ${m}`),
  });
  context.log(`  ${zk.zk.nConstraints} constraints, verifier ${zk.verifier}, verifying-key hash ${zk.vkHash}`);
  return zk;
}

function hubModeSpec(mode: Exclude<ModeName, "zk" | "dual">): ModeSpec {
  return mode === "tee" ? { mode, measurements: [DevEnclave.TD_MEASUREMENT] } : { mode };
}

/** `createModelAndPublish` with raw-block CIDs; the model id from its `ModelCreated` event. */
async function registerRaw(
  registry: ModelRegistry,
  price: bigint,
  files: readonly ModelFile[],
  modes: Exclude<ModeName, "zk" | "dual">[],
  zk: ZkDeployment | undefined,
): Promise<bigint> {
  const bindings = [
    ...modes.map((mode) => modeModule(mode).binding(mode === "tee" ? { bindings: [DevEnclave.TD_MEASUREMENT] } : {})),
    ...(zk === undefined ? [] : [modeModule("zk").binding({ verifier: zk.verifier, bindings: [zk.vkHash] })]),
  ];
  const input = versionInput({
    files: files.map((f) => rawFileRef(f.path, f.bytes)),
    card: "README.md",
    modes: bindings,
  });
  const tx = await registry.createModelAndPublish(price, input);
  const receipt = await tx.wait();
  for (const log of receipt?.logs ?? []) {
    const event = registry.interface.parseLog(log);
    if (event?.name === "ModelCreated") return event.args.modelId as bigint;
  }
  throw new BaseError(`createModelAndPublish ${tx.hash} emitted no ModelCreated event`);
}

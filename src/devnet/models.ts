/**
 * Models on a devnet: a model's version 1 registered (through the hub's publish path into an embedded IPFS store,
 * or with raw-block CIDs when there is none), optionally with its ZK circuit built and its verifier deployed, and
 * every file put in the operators' content directory so the nodes find it by CID.
 */
import { toUtf8Bytes, type Signer } from "ethers";
import { BaseError } from "../core/errors";
import type { ModeName } from "../core/modes";
import { rawFileRef, versionInput } from "../core/registry";
import { publishBundledModel } from "../hub/local";
import type { ModeSpec } from "../hub/publish";
import { modeModule } from "../modes";
import type { FsContentStore } from "../node/content-store";
import { computeCid } from "../storage";
import { DevEnclave } from "../tee/dev-enclave";
import { deployZkModel, type ZkDeployment } from "../zkml/deploy";
import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";

/** What a devnet publishes of a model: its ONNX file and card, and for ZK the input range its circuit covers. */
export interface DevnetModel {
  name: string;
  onnx: Uint8Array;
  card: string;
  /** ZK: inputs are clamped to [-inputRange, inputRange] (see `clampToRange`). */
  inputRange?: number;
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
  const owner = spec.owner ?? context.owner;
  const modes = spec.modes ?? ["vanilla", "tee"];
  const files = [
    { path: "model.onnx", bytes: model.onnx },
    { path: "README.md", bytes: toUtf8Bytes(model.card) },
    ...(zk?.files ?? []),
  ];
  // Under the raw-block CID and the UnixFS CID `ipfs add` gives (a dag-pb CID for a file larger than one block).
  if (context.modelFilesInContentDir !== false)
    for (const { bytes } of files) {
      await context.content.add(bytes);
      await context.content.put(await computeCid(bytes), bytes);
    }
  const price = spec.price ?? TOKEN;
  const modelId =
    context.ipfsDir === undefined
      ? await registerRaw(context.registry.connect(owner), price, files, modes, zk)
      : BigInt(
          (
            await publishBundledModel({
              signer: owner,
              registry: await context.registry.getAddress(),
              contentStoreDir: context.ipfsDir,
              model,
              modes: modes.map(hubModeSpec),
              zk,
              price,
              log: (m) => context.log(`  ${m}`),
            })
          ).modelId,
        );
  context.log(
    `published ${model.name}${spec.summary === undefined ? "" : ` (${spec.summary})`} to ${context.ipfsDir === undefined ? "the content directory" : "IPFS"} and the registry as model ${modelId}`,
  );
  return { model, modelId, zk };
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
  files: { path: string; bytes: Uint8Array }[],
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

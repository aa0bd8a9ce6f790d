import { ZeroAddress, type Signer } from "ethers";
import type { VerificationKey } from "snarkjs";
import { Groth16VerifierFactory__factory } from "../../typechain-types";
import type { IModelRegistry, ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import { rawFileRef, versionInput } from "../core/registry";
import { Mode } from "../core/modes";
import { BaseError } from "../core/errors";
import { zkModelFiles, type ZkFile } from "./package";
import { buildZkModel, type BuildZkModelOptions, type ZkModel } from "./pipeline";
import { verificationKeyHash } from "./setup";
import { verifyingKeyArgs } from "./solidity";

/** A model made ZK-ready: its circuit built and set up, its verifier deployed, its files ready to publish. */
export interface ZkDeployment {
  zk: ZkModel;
  /** The `Groth16Verifier` holding the circuit's verifying key, deployed by the registry's verifier factory. */
  verifier: string;
  vkHash: string;
  /** `zk/zk.json`, `zk/model.wasm`, `zk/circuit_final.zkey`, `zk/verification_key.json`, `zk/powersoftau.ptau`. */
  files: ZkFile[];
}

/**
 * Deploys the `Groth16Verifier` of a verifying key through the `Groth16VerifierFactory` at `verifierFactory` (the
 * deployment record's `verifierFactory`, the only verifiers the registry accepts), or finds the one it already
 * deployed for that key, and returns its address as the factory records it (`verifierOf(vkHash)`).
 *
 * @throws BaseError when the factory records no verifier for the key after the transaction.
 * @example
 * const { verifier, vkHash } = await deployZkVerifier(deployer, record.contracts.verifierFactory.address, zk.setup.vk);
 */
export async function deployZkVerifier(
  signer: Signer,
  verifierFactory: string,
  vk: VerificationKey,
): Promise<{ verifier: string; vkHash: string }> {
  const factory = Groth16VerifierFactory__factory.connect(verifierFactory, signer);
  const vkHash = verificationKeyHash(vk);
  await (await factory.deploy(verifyingKeyArgs(vk))).wait();
  const verifier = await factory.verifierOf(vkHash);
  if (verifier === ZeroAddress)
    throw new BaseError(
      `the verifier factory ${verifierFactory} records no verifier for key hash ${vkHash} after deploying it`,
    );
  return { verifier, vkHash };
}

/**
 * What a ZK-mode publication of a built circuit needs: its verifier deployed through the factory, its files.
 *
 * @example
 * const deployment = await deployZkCircuit(deployer, zk, { verifierFactory: record.contracts.verifierFactory.address });
 */
export async function deployZkCircuit(
  deployer: Signer,
  zk: ZkModel,
  options: { verifierFactory: string },
): Promise<ZkDeployment> {
  const { verifier, vkHash } = await deployZkVerifier(deployer, options.verifierFactory, zk.setup.vk);
  return { zk, verifier, vkHash, files: await zkModelFiles(zk) };
}

/**
 * Builds a model's circuit (compile, development setup, cached under `.cache/zk`), deploys its `Groth16Verifier`
 * through the verifier factory and returns what a ZK-mode publication needs (the files, the verifier, the key hash
 * for `bindings[0]`).
 *
 * @example
 * const { files, verifier, vkHash } = await deployZkModel(deployer, { onnx: model.onnx, inputRange: model.inputRange, verifierFactory: record.contracts.verifierFactory.address });
 */
export async function deployZkModel(
  deployer: Signer,
  options: BuildZkModelOptions & { verifierFactory: string },
): Promise<ZkDeployment> {
  const zk = await buildZkModel({ ...options, optimization: options.optimization ?? 2 });
  return deployZkCircuit(deployer, zk, options);
}

/** Options of {@link registerZkModel}. */
export interface RegisterZkModelOptions {
  /** The registry, connected to the new model's owner. */
  registry: ModelRegistry;
  deployment: Pick<ZkDeployment, "verifier" | "vkHash" | "files">;
  onnx: Uint8Array;
  /** The model card (Markdown with YAML front matter), published as `README.md`. */
  card: Uint8Array;
  /** Price per inference, in token wei. */
  price: bigint;
  /** Modes the version serves besides ZK (vanilla, TEE), as registry bindings. */
  modes?: IModelRegistry.ModeBindingStruct[];
  /** Given every file of the version with its raw CID before the transaction (e.g. to fill a content directory). */
  store?: (cid: Uint8Array, bytes: Uint8Array) => void;
}

/**
 * Registers a new model whose version 1 serves ZK mode: `model.onnx`, the card and the ZK files under their raw
 * CIDs (single-block CIDv1, sha256), bound to the factory-deployed verifier and its key hash. Returns the model id
 * the registry assigned (from `ModelCreated`, never assumed).
 *
 * @example
 * const { modelId } = await registerZkModel({ registry: registry.connect(owner), deployment, onnx, card, price: 10n ** 18n });
 */
export async function registerZkModel(options: RegisterZkModelOptions): Promise<{ modelId: bigint; version: number }> {
  const { registry, deployment, card } = options;
  const files = [{ path: "model.onnx", bytes: options.onnx }, { path: "README.md", bytes: card }, ...deployment.files];
  const refs = files.map((f) => rawFileRef(f.path, f.bytes));
  for (const [i, f] of files.entries()) options.store?.(refs[i]!.cid, f.bytes);
  const input = versionInput({
    files: refs,
    card: "README.md",
    modes: [...(options.modes ?? []), { mode: Mode.Zk, verifier: deployment.verifier, bindings: [deployment.vkHash] }],
  });
  const tx = await registry.createModelAndPublish(options.price, input);
  const receipt = await tx.wait();
  const created = receipt?.logs.map((log) => registry.interface.parseLog(log)).find((e) => e?.name === "ModelCreated");
  if (created === undefined || created === null)
    throw new BaseError(`createModelAndPublish ${tx.hash} emitted no ModelCreated event`);
  return { modelId: created.args.modelId as bigint, version: 1 };
}

import type { Signer } from "ethers";
import { Groth16Verifier__factory } from "../../typechain-types";
import { zkModelFiles, type ZkFile } from "./package";
import { buildZkModel, type BuildZkModelOptions, type ZkModel } from "./pipeline";
import { verifyingKeyArgs } from "./solidity";

/** A model made ZK-ready: its circuit built and set up, its verifier deployed, its files ready to publish. */
export interface ZkDeployment {
  zk: ZkModel;
  /** The `Groth16Verifier` holding the circuit's verifying key. */
  verifier: string;
  vkHash: string;
  /** `zk/zk.json`, `zk/model.wasm`, `zk/circuit_final.zkey`, `zk/verification_key.json`. */
  files: ZkFile[];
}

/**
 * Builds a model's circuit (compile, development setup, cached under `.cache/zk`), deploys its `Groth16Verifier`
 * and returns what a ZK-mode publication needs (the files, the verifier, the key hash for `bindings[0]`).
 *
 * @example
 * const { files, verifier, vkHash } = await deployZkModel(deployer, { onnx: model.onnx, inputRange: model.inputRange });
 */
export async function deployZkModel(deployer: Signer, options: BuildZkModelOptions): Promise<ZkDeployment> {
  const optimization = options.optimization ?? 2;
  const zk = await buildZkModel({ ...options, optimization });
  const verifier = await new Groth16Verifier__factory(deployer).deploy(verifyingKeyArgs(zk.setup.vk));
  await verifier.waitForDeployment();
  return { zk, verifier: await verifier.getAddress(), vkHash: zk.setup.vkHash, files: await zkModelFiles(zk, { inputRange: options.inputRange, optimization }) };
}

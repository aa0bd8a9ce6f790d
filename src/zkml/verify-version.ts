import { getBytes, ZeroHash, type ContractRunner } from "ethers";
import { Groth16VerifierFactory__factory } from "../../typechain-types";
import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import { cidString } from "../core/cid";
import { fetchVerified, type ContentStore } from "../core/content";
import { InputError, IntegrityError, UnsupportedError, VerificationError } from "../core/errors";
import { Mode } from "../core/modes";
import { withRetry } from "../core/retry";
import { ZkmlToolError } from "./errors";
import { ZK_FILES } from "./package";
import { verifyZkSetup, type VerifiedZkSetup, type ZkSetupFiles } from "./verify-setup";

/** Where a version's files are read by CID: core's content store (the operator node's, an IPFS store, a directory). */
export type ContentSource = Pick<ContentStore, "cat">;

/** A model version's ZK verifier, as the chain vouches for it. */
export interface ZkVerifierBinding {
  /** The `Groth16Verifier` the version binds. */
  verifier: string;
  /** The key hash the version binds (`bindings[0]`), which the factory recorded for that verifier. */
  vkHash: string;
  /** The registry's `verifierFactory()`. */
  factory: string;
}

/** Parameters of {@link verifyZkVersion}. */
export interface VerifyZkVersionParams {
  registry: ModelRegistry;
  /** Where the version's files are fetched from (each checked against the SHA-256 the registry records). */
  content: ContentSource;
  modelId: bigint;
  version: bigint | number;
  log?: (line: string) => void;
}

export type VerifyZkVersionReturnType = ZkVerifierBinding & VerifiedZkSetup & { files: ZkSetupFiles };

/**
 * Checks on-chain that a version's ZK verifier was deployed by the registry's verifier factory with exactly the
 * bound key, reading only the registry and the factory (a verifier's own `verifyingKey()` is never trusted: any
 * contract can report any key).
 *
 * @throws VerificationError naming what did not match.
 * @example const { verifier, vkHash } = await checkZkVerifier(registry, 3n, 1);
 */
export async function checkZkVerifier(
  registry: ModelRegistry,
  modelId: bigint,
  version: bigint | number,
): Promise<ZkVerifierBinding> {
  const where = `model ${modelId}@${version}`;
  const [binding, factoryAddress] = await Promise.all([
    withRetry("registry.bindingOf", () => registry.bindingOf(modelId, version, Mode.Zk)),
    withRetry("registry.verifierFactory", () => registry.verifierFactory()),
  ]);
  const vkHash = binding.bindings[0];
  if (vkHash === undefined || binding.verifier === undefined) throw new VerificationError(`${where} has no ZK binding`);
  const factory = Groth16VerifierFactory__factory.connect(factoryAddress, registry.runner as ContractRunner);
  const deployedHash = await withRetry("verifierFactory.vkHashOf", () => factory.vkHashOf(binding.verifier));
  if (deployedHash === ZeroHash)
    throw new VerificationError(
      `${where}: verifier ${binding.verifier} was not deployed by the registry's verifier factory ${factoryAddress}`,
    );
  if (deployedHash !== vkHash)
    throw new VerificationError(
      `${where}: verifier ${binding.verifier} holds key hash ${deployedHash} (factory ${factoryAddress}), the version binds ${vkHash}`,
    );
  return { verifier: binding.verifier, vkHash, factory: factoryAddress };
}

/**
 * Reads a version's ONNX file, ZK manifest, proving key and powers of tau by their registered CIDs, each used only
 * if its SHA-256 is the one the registry records.
 *
 * @throws VerificationError when the version lists no such file or a file's digest differs; the content source's
 * own error when it does not have a file.
 */
export async function readZkSetupFiles(params: Omit<VerifyZkVersionParams, "log">): Promise<ZkSetupFiles> {
  const { registry, content, modelId, version } = params;
  const where = `model ${modelId}@${version}`;
  const files = await withRetry("registry.filesOf", () => registry.filesOf(modelId, version));
  const read = async (predicate: (path: string) => boolean, what: string): Promise<Uint8Array> => {
    const file = files.find((f) => predicate(f.path));
    if (file === undefined) throw new VerificationError(`${where} lists no ${what}: its ZK circuit cannot be checked`);
    try {
      return await fetchVerified(content, { path: file.path, cid: cidString(getBytes(file.cid)), sha256: file.sha256 });
    } catch (cause) {
      if (cause instanceof IntegrityError) throw new VerificationError(`${where}: ${cause.shortMessage}`, { cause });
      throw cause;
    }
  };
  const [onnx, manifest, zkey, ptau] = await Promise.all([
    read((p) => p.endsWith(".onnx"), "ONNX file"),
    read((p) => p === ZK_FILES.manifest, ZK_FILES.manifest),
    read((p) => p === ZK_FILES.zkey, ZK_FILES.zkey),
    read((p) => p === ZK_FILES.ptau, ZK_FILES.ptau),
  ]);
  return { onnx, manifest, zkey, ptau };
}

/**
 * Decides whether a model version's ZK circuit can be trusted, before proving with it (a node) or believing a
 * result proved with it (`verifyResult`, `vin verify`): the verifier is the factory's with the bound key
 * ({@link checkZkVerifier}); the circuit recompiled from the version's ONNX file has the R1CS and source hashes of
 * its manifest; `snarkjs zkey verify` accepts the proving key for that R1CS and the published powers of tau; and
 * the key's verifying key is the bound one (`verifyZkSetup`, cached per process).
 *
 * @throws VerificationError naming what did not match (with the ZKML error as cause); the content source's error
 * when a file is missing; ZkmlToolError when the compiler or snarkjs fails (nothing is known about the version).
 * @example const { model, wasm } = await verifyZkVersion({ registry, content, modelId: 3n, version: 1 });
 */
export async function verifyZkVersion(params: VerifyZkVersionParams): Promise<VerifyZkVersionReturnType> {
  const { modelId, version } = params;
  const binding = await checkZkVerifier(params.registry, modelId, version);
  const files = await readZkSetupFiles(params);
  try {
    return { ...binding, ...(await verifyZkSetup(files, { vkHash: binding.vkHash, log: params.log })), files };
  } catch (error) {
    // A malformed or mismatching file says the version is not what it claims; a failing tool says nothing about it.
    const refutes =
      (error instanceof InputError || error instanceof UnsupportedError || error instanceof VerificationError) &&
      !(error instanceof ZkmlToolError);
    if (refutes)
      throw new VerificationError(`model ${modelId}@${version}: ${error.message}`, {
        cause: error,
        context: error.context,
      });
    throw error;
  }
}

import { readFile } from "node:fs/promises";
import * as snarkjs from "snarkjs";
import { getBytes, ZeroAddress, type ContractRunner } from "ethers";
import { Groth16SlotVerifier__factory, ZkInferenceVerifier__factory } from "../../typechain-types";
import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import { cidString } from "../core/cid";
import { fetchVerified, type ContentStore } from "../core/content";
import { InputError, IntegrityError, NotFoundError, VerificationError } from "../core/errors";
import { withRetry } from "../core/retry";
import { checkSlots, type SlotCircuit } from "./batch-circuit";
import { decodeZkSlotProof, slotKeyHash, slotVerificationKeyFromWords } from "./batch-solidity";
import { claimSignal } from "./claim";
import { fromSolidityProof } from "./prover";
import type { ZkFile } from "./package";
import type { QuantizedModel } from "./quantize";
import { verifySlotSetup } from "./verify-setup";

/**
 * Where a version publishes its N-slot key: extra files of the version, beside `zk/circuit_final.zkey`. A version's
 * files are content-addressed and recorded on-chain with their SHA-256, so every node fetches the same bytes by CID
 * from any store (its own directory, IPFS, a gateway) with no per-operator configuration; and they are only trusted
 * once `verifySlotSetup` ties them to the key hash the version's owner bound with `setSlotVerifier`. The N-slot key
 * does not depend on the model id, so the owner builds it before publishing (`buildSlotCircuit`) and binds it right
 * after; a version published without it cannot gain it (versions are immutable): its jobs are proved one by one.
 */
export function slotFileNames(slots: number): { zkey: string; ptau: string } {
  checkSlots(slots);
  return { zkey: `zk/slots-${slots}.zkey`, ptau: `zk/slots-${slots}.ptau` };
}

/**
 * The files a version publishes for an N-slot circuit built by `buildSlotCircuit` (see {@link slotFileNames}).
 *
 * @example
 * const files = [...deployment.files, ...(await slotVersionFiles(await buildSlotCircuit({ model, slots: 4 })))];
 */
export async function slotVersionFiles(circuit: SlotCircuit): Promise<ZkFile[]> {
  const names = slotFileNames(circuit.slots);
  return [
    { path: names.zkey, bytes: await readFile(circuit.setup.zkeyPath) },
    { path: names.ptau, bytes: await readFile(circuit.ptau.path) },
  ];
}

/** Parameters of {@link verifySlotVersion}. */
export interface VerifySlotVersionParams {
  registry: ModelRegistry;
  /** The `ZkInferenceVerifier` the version's ZK jobs name (a job's `verifier`). */
  zkVerifier: string;
  content: Pick<ContentStore, "cat">;
  modelId: bigint;
  version: bigint;
  slots: number;
  /** The version's quantized model, already checked against its ONNX file (`verifyZkVersion`). */
  model: QuantizedModel;
  /** The version's circom simplification level (its manifest's `optimization`). */
  optimization: 1 | 2;
  log?: (line: string) => void;
}

/** A version's N-slot key, checked: what a node proves N jobs with. */
export interface VerifiedSlotVersion {
  /** The `Groth16SlotVerifier` the ZK verifier deployed for (version, slots). */
  slotVerifier: string;
  keyHash: string;
  zkey: Uint8Array;
  /** The witness calculator compiled here from the version's model. */
  wasm: Uint8Array;
  seconds: { compile: number; zkeyVerify: number };
}

/**
 * Decides whether a version's published N-slot key can be proved with: the ZK verifier holds a slot verifier for
 * (version, slots) (it deploys them itself, so the key that verifier reports is the one its owner bound), the
 * version lists the key's files ({@link slotFileNames}) and their bytes have the recorded SHA-256, and
 * `verifySlotSetup` accepts the key for the N-slot circuit rebuilt here with that verifier's key hash.
 *
 * @throws NotFoundError when no slot verifier is bound or the version lists no slot files (nothing to batch with);
 * VerificationError when a file or the key does not match; the content source's error when a file is missing.
 * @example
 * const { zkey, wasm } = await verifySlotVersion({ registry, zkVerifier: job.verifier, content, modelId, version, slots: 4, model, optimization: 2 });
 */
export async function verifySlotVersion(params: VerifySlotVersionParams): Promise<VerifiedSlotVersion> {
  const { registry, content, modelId, version, slots } = params;
  const where = `model ${modelId}@${version}`;
  const names = slotFileNames(slots);
  const runner = registry.runner as ContractRunner;
  const zkVerifier = ZkInferenceVerifier__factory.connect(params.zkVerifier, runner);
  const slotVerifier = await withRetry("zkVerifier.slotVerifierOf", () =>
    zkVerifier.slotVerifierOf(modelId, version, slots),
  );
  if (slotVerifier === ZeroAddress)
    throw new NotFoundError(`${where} has no ${slots}-slot verifier bound (ZkInferenceVerifier.setSlotVerifier)`);
  const [words, files] = await Promise.all([
    withRetry("slotVerifier.verifyingKey", () =>
      Groth16SlotVerifier__factory.connect(slotVerifier, runner).verifyingKey(),
    ),
    withRetry("registry.filesOf", () => registry.filesOf(modelId, version)),
  ]);
  const read = async (path: string): Promise<Uint8Array> => {
    const file = files.find((f) => f.path === path);
    if (file === undefined) throw new NotFoundError(`${where} publishes no ${path}: its ${slots}-slot key is unknown`);
    try {
      return await fetchVerified(content, { path, cid: cidString(getBytes(file.cid)), sha256: file.sha256 });
    } catch (cause) {
      if (cause instanceof IntegrityError) throw new VerificationError(`${where}: ${cause.shortMessage}`, { cause });
      throw cause;
    }
  };
  const [zkey, ptau] = await Promise.all([read(names.zkey), read(names.ptau)]);
  const keyHash = slotKeyHash(words);
  try {
    const { wasm, seconds } = await verifySlotSetup(
      { zkey, ptau },
      { model: params.model, optimization: params.optimization, slots, keyHash, log: params.log },
    );
    return { slotVerifier, keyHash, zkey, wasm, seconds };
  } catch (error) {
    if (error instanceof VerificationError)
      throw new VerificationError(`${where}: ${error.message}`, { cause: error, context: error.context });
    throw error;
  }
}

/** Parameters of {@link verifySlotProof}. */
export interface VerifySlotProofParams {
  runner: ContractRunner;
  /** The `ZkInferenceVerifier` the jobs name. */
  zkVerifier: string;
  modelId: bigint;
  version: bigint;
  /** Each job's `inputHash`, in the order of the `submitBatch` call. */
  inputHashes: readonly string[];
  /** The call's `proof` bytes (`encodeZkSlotProof`). */
  proof: string;
}

/**
 * Checks off-chain (snarkjs) the N-slot proof that settled a `submitBatch`, against the key of the slot verifier
 * `ZkInferenceVerifier` holds for (version, N): job i's claim is slot i's public signal, and every slot past the jobs
 * repeats slot 0's claim, as the contract supplies them. The caller releases snarkjs's workers (`releaseSnarkjs`).
 *
 * @throws InputError when the bytes are not a slot proof; NotFoundError when no slot verifier is bound for N.
 * @example const { valid, packedOutputs } = await verifySlotProof({ runner: provider, zkVerifier, modelId, version, inputHashes, proof });
 */
export async function verifySlotProof(
  params: VerifySlotProofParams,
): Promise<{ valid: boolean; slots: number; packedOutputs: bigint[]; slotVerifier: string; keyHash: string }> {
  const { slots, packedOutputs, proof } = decodeZkSlotProof(params.proof);
  const n = params.inputHashes.length;
  if (n === 0 || packedOutputs.length !== n || n > slots)
    throw new InputError(`a ${slots}-slot proof with ${packedOutputs.length} outputs cannot settle ${n} jobs`);
  const zkVerifier = ZkInferenceVerifier__factory.connect(params.zkVerifier, params.runner);
  const slotVerifier = await withRetry("zkVerifier.slotVerifierOf", () =>
    zkVerifier.slotVerifierOf(params.modelId, params.version, slots),
  );
  if (slotVerifier === ZeroAddress)
    throw new NotFoundError(`model ${params.modelId}@${params.version} has no ${slots}-slot verifier bound`);
  const words = await withRetry("slotVerifier.verifyingKey", () =>
    Groth16SlotVerifier__factory.connect(slotVerifier, params.runner).verifyingKey(),
  );
  const claims = params.inputHashes.map((h, i) => claimSignal(BigInt(h), packedOutputs[i]!));
  const signals = Array.from({ length: slots }, (_, i) => (claims[i] ?? claims[0]!).toString());
  const valid = await snarkjs.groth16.verify(slotVerificationKeyFromWords(words), signals, fromSolidityProof(proof));
  return { valid, slots, packedOutputs, slotVerifier, keyHash: slotKeyHash(words) };
}

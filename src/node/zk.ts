import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import { ModelError } from "./errors";
import type { ContentStore } from "../core/content";
import { IntegrityError, NotFoundError, VerificationError } from "../core/errors";
import { verifyZkVersion, type VerifyZkVersionReturnType } from "../zkml/verify-version";
import { CircuitProver } from "../zkml/prover";
import type { Logger } from "../core/log";
import { VersionCache } from "./models";
import type { ZkCircuit } from "../modes";

/** Refused versions remembered. */
const MAX_REFUSED = 64;

/**
 * Loads ZK circuits of model versions, once per version, and only circuits it has checked itself
 * (`verifyZkVersion`): the version's verifier was deployed by the registry's verifier factory with the bound key;
 * the files (`model.onnx`, `zk/zk.json`, `zk/circuit_final.zkey`, `zk/powersoftau.ptau`) come by their registered
 * CIDs with their SHA-256 checked; the circuit recompiled here from the ONNX file has the manifest's source and
 * R1CS hashes; `snarkjs zkey verify` accepts the proving key for it and the published powers of tau; and that key's
 * verifying key is the bound one. The node proves with the witness calculator it compiled, never a published one.
 * A version that fails is refused (its jobs skipped before any claim) with the error naming what did not match.
 */
export class ZkCircuitLoader {
  private readonly cache: VersionCache<ZkCircuit>;
  /** Versions refused for good (a version is immutable): not checked again for every job. */
  private readonly refused = new Map<string, ModelError>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly content: Pick<ContentStore, "cat">,
    private readonly log?: Logger,
    maxCached = 4,
  ) {
    this.cache = new VersionCache(maxCached);
  }

  load(modelId: bigint, version: bigint): Promise<ZkCircuit> {
    const refused = this.refused.get(`${modelId}@${version}`);
    if (refused !== undefined) return Promise.reject(refused);
    return this.cache.get(modelId, version, () => this.fetch(modelId, version));
  }

  private async fetch(modelId: bigint, version: bigint): Promise<ZkCircuit> {
    const where = `model ${modelId}@${version}`;
    let verified: VerifyZkVersionReturnType;
    try {
      verified = await verifyZkVersion({ registry: this.registry, content: this.content, modelId, version });
    } catch (error) {
      if (!(error instanceof VerificationError || error instanceof NotFoundError || error instanceof IntegrityError))
        throw error;
      const refusal = new ModelError(error.message.startsWith(where) ? error.message : `${where}: ${error.message}`, {
        cause: error,
      });
      // A file still missing may be published later, and a store's corrupted copy replaced; a version that does
      // not match its binding never changes.
      if (error instanceof VerificationError) {
        this.refused.set(`${modelId}@${version}`, refusal);
        if (this.refused.size > MAX_REFUSED) this.refused.delete(this.refused.keys().next().value!);
      }
      this.log?.warn({ model: where, err: error.message }, "refusing the version's ZK circuit");
      throw refusal;
    }
    const { compile, zkeyVerify } = verified.seconds;
    this.log?.info(
      {
        model: where,
        verifier: verified.verifier,
        vkHash: verified.vkHash,
        compileSeconds: compile,
        zkeyVerifySeconds: zkeyVerify,
      },
      "ZK circuit rebuilt and its setup verified",
    );
    return {
      manifest: verified.manifest,
      model: verified.model,
      prover: await CircuitProver.load({ wasm: verified.wasm, zkey: verified.files.zkey }),
    };
  }
}

import type { ModelRegistry } from "../../typechain-types/contracts/registry/ModelRegistry";
import { ModelError } from "./errors";
import type { ContentStore } from "../core/content";
import { IntegrityError, NotFoundError, VerificationError } from "../core/errors";
import { verifyZkVersion, type VerifyZkVersionReturnType } from "../zkml/verify-version";
import { CircuitProver } from "../zkml/prover";
import type { Logger } from "../core/log";
import { VersionCache } from "./models";
import type { ZkCircuit } from "../modes";
import type { Job } from "../core/job";
import { checkSlots } from "../zkml/batch-circuit";
import { SlotProver } from "../zkml/batch-prover";
import { verifySlotVersion, type VerifiedSlotVersion } from "../zkml/verify-slots";

/** Refused versions remembered. */
const MAX_REFUSED = 64;
/** How long a version without a slot verifier or slot files is not asked again (its owner may bind one later). */
const RETRY_MISSING_MS = 5 * 60_000;

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

/** A version's N-slot prover, as the slot batcher uses it. */
export interface SlotProverSource {
  /**
   * The N-slot prover of the job's version, checked against the slot verifier bound on-chain.
   * @throws ModelError when the version has no usable N-slot key (the reason names what is missing or wrong).
   */
  load(job: Pick<Job, "modelId" | "version" | "verifier">): Promise<SlotProver>;
}

/**
 * Loads the N-slot provers of model versions, once per version and only keys it has checked itself
 * (`verifySlotVersion`): the job's ZK verifier holds a slot verifier for (version, N), the version publishes the key's
 * files (`zk/slots-<N>.zkey`, `zk/slots-<N>.ptau`) with their SHA-256, and `zkey verify` accepts the key for the
 * N-slot circuit recompiled here from the version's (already checked) model with the bound key hash. A key that does
 * not match is refused for good and never proved with; a missing one is asked again after a while (it may be bound
 * later).
 */
export class ZkSlotLoader implements SlotProverSource {
  private readonly cache: VersionCache<SlotProver>;
  /** Versions refused, with when (a mismatch is final; a missing key or file is asked again after `RETRY_MISSING_MS`). */
  private readonly refused = new Map<string, { error: ModelError; at: number; final: boolean }>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly content: Pick<ContentStore, "cat">,
    private readonly circuits: Pick<ZkCircuitLoader, "load">,
    readonly slots: number,
    private readonly log?: Logger,
    maxCached = 4,
  ) {
    checkSlots(slots);
    this.cache = new VersionCache(maxCached);
  }

  load(job: Pick<Job, "modelId" | "version" | "verifier">): Promise<SlotProver> {
    const key = `${job.modelId}@${job.version}`;
    const refused = this.refused.get(key);
    if (refused !== undefined && (refused.final || Date.now() - refused.at < RETRY_MISSING_MS))
      return Promise.reject(refused.error);
    this.refused.delete(key);
    return this.cache.get(job.modelId, job.version, () => this.fetch(job));
  }

  private async fetch(job: Pick<Job, "modelId" | "version" | "verifier">): Promise<SlotProver> {
    const { modelId, version } = job;
    const where = `model ${modelId}@${version}`;
    const circuit = await this.circuits.load(modelId, version);
    let verified: VerifiedSlotVersion;
    try {
      verified = await verifySlotVersion({
        registry: this.registry,
        zkVerifier: job.verifier,
        content: this.content,
        modelId,
        version,
        slots: this.slots,
        model: circuit.model,
        optimization: circuit.manifest.optimization,
      });
    } catch (error) {
      if (!(error instanceof VerificationError || error instanceof NotFoundError)) throw error;
      const refusal = new ModelError(error.message.startsWith(where) ? error.message : `${where}: ${error.message}`, {
        cause: error,
      });
      this.refused.set(`${modelId}@${version}`, {
        error: refusal,
        at: Date.now(),
        // A file whose bytes do not match their hash is a store's bad copy, which can be replaced: asked again later.
        final: error instanceof VerificationError && !(error.cause instanceof IntegrityError),
      });
      if (this.refused.size > MAX_REFUSED) this.refused.delete(this.refused.keys().next().value!);
      this.log?.warn({ model: where, slots: this.slots, err: error.message }, "refusing the version's slot key");
      throw refusal;
    }
    this.log?.info(
      {
        model: where,
        slots: this.slots,
        slotVerifier: verified.slotVerifier,
        keyHash: verified.keyHash,
        compileSeconds: verified.seconds.compile,
        zkeyVerifySeconds: verified.seconds.zkeyVerify,
      },
      "slot circuit rebuilt and its key verified against the bound slot verifier",
    );
    return SlotProver.load({ wasm: verified.wasm, zkey: verified.zkey }, circuit.model, this.slots);
  }
}

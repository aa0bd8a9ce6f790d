/** Dual-mode (ZK + TEE) fixtures shared by the verifier's unit tests and the attack tests. */
import { toBeHex } from "ethers";
import {
  DEGENERATE_KEY,
  degenerateProof,
  factoryVerifier,
  keyHash,
  MEASUREMENT,
  requestJob,
  teeSign,
  versionInput,
  zkOutput,
  zkProofBytes,
  type Fixture,
} from "../../fixtures/system";
import { Mode, modeMask } from "../../../src/core/modes";
import { modeModule } from "../../../src/modes";
import type { Job } from "../../../src/core/job";

export const COMMITMENT = toBeHex(12345n, 32);
export const PACKED = 5n;
export const OUTPUT = zkOutput(PACKED);

/** Publishes version 2 of the fixture's model: vanilla, TEE (`measurements`), ZK (the degenerate key) and dual. */
export async function dualVersion(fx: Fixture, measurements: string[] = [MEASUREMENT]): Promise<number> {
  const verifier = await factoryVerifier(fx, DEGENERATE_KEY);
  const input = versionInput("dual-model", measurements);
  const modes = [
    ...(input.modes as never[]),
    modeModule(Mode.Zk).binding({ verifier, bindings: [keyHash(DEGENERATE_KEY)] }),
    modeModule(Mode.Dual).binding({}),
  ];
  await fx.system.registry.connect(fx.owner).publishVersion(1n, { ...input, modes });
  return Number(await fx.system.registry.versionCount(1n));
}

/** A dual job on `version`, claimed by node 0 (registered for every mode). */
export async function claimedDualJob(fx: Fixture, version = 2): Promise<Job> {
  const node = fx.nodes[0]!;
  await fx.system.staking.connect(node).register(modeMask([Mode.Vanilla, Mode.Tee, Mode.Zk, Mode.Dual]));
  const job = await requestJob(fx, { mode: Mode.Dual, version, input: "0x", inputCommitment: COMMITMENT });
  await fx.system.escrow.connect(node).claimSlot(job);
  return job;
}

/** A valid ZK half for `job`: the degenerate key's proof of `OUTPUT`. */
export async function zkHalf(job: Job): Promise<string> {
  return zkProofBytes(PACKED, await degenerateProof(BigInt(job.inputHash) * (1n << 48n) + PACKED));
}

/** The fixture enclave's signature of `job`'s result under the dual verifier's domain (or `options`). */
export async function teeHalf(fx: Fixture, job: Job, options: Parameters<typeof teeSign>[3] = {}): Promise<string> {
  return (await teeSign(fx, job, OUTPUT, { verifier: await fx.system.dualVerifier.getAddress(), ...options }))
    .signature;
}

/**
 * Dual mode (ZK + TEE), for high-value jobs: a result is backed by both a Groth16 proof (as in ZK mode) and an
 * enclave's signature over the same output (as in TEE mode), so neither a broken circuit or key nor a compromised
 * enclave settles a forged answer alone. A version serving it binds ZK and TEE too, and the dual verifier checks
 * those two bindings; a node needs its enclave and the version's circuit. The enclave signs TEE mode's
 * `InferenceResult` under the dual verifier's EIP-712 domain (the job's verifier), and the proof is
 * `abi.encode(bytes zkProof, bytes signature)`.
 */
import { AbiCoder, ZeroAddress } from "ethers";
import { DualInferenceVerifier__factory, TeeVerifier__factory } from "../../typechain-types";
import { InputError } from "../core/errors";
import type { Job } from "../core/job";
import { Mode } from "../core/modes";
import { withRetry } from "../core/retry";
import { ModeNotServedError } from "./errors";
import { infoOf, noVerifier } from "./shared";
import { sign, tee, verifyEnclaveAtSettlement } from "./tee";
import type { EnclaveSigner, ModeModule, ModeNode, ModeVerification, SettlementContext } from "./types";
import { zk } from "./zk";

export const dual: ModeModule = {
  ...infoOf(Mode.Dual),
  binding(spec) {
    noVerifier("dual", spec);
    if ((spec.bindings ?? []).length > 0)
      throw new InputError(
        `mode dual takes no bindings (it checks the version's zk and tee bindings), got ${spec.bindings!.length}`,
      );
    return { mode: Mode.Dual, verifier: ZeroAddress, bindings: [] };
  },
  redundancyRefusal: (redundancy) => zk.redundancyRefusal(redundancy),
  prepareInput: (request) => zk.prepareInput(request),
  needs: ["enclave", "zk"],
  async readiness(node, checks) {
    return (await tee.readiness(node, checks)) ?? (await zk.readiness(node, checks));
  },
  inputRefusal: (job, input, node) => zk.inputRefusal(job, input, node),
  async compute(job, input, node) {
    const enclave = enclaveOf(job, node);
    const proved = await zk.compute(job, input, node);
    const signature = await sign(job, proved.output, node, enclave);
    return { output: proved.output, proof: encodeDualProof(proved.proof, signature) };
  },
  batchable: false,
  settlingCalls: ["submit"],
  verifySettlement,
};

/** A dual submission's proof: `abi.encode(bytes zkProof, bytes signature)`. */
export function encodeDualProof(zkProof: string, signature: string): string {
  return AbiCoder.defaultAbiCoder().encode(["bytes", "bytes"], [zkProof, signature]);
}

/**
 * The two halves of a dual submission's proof.
 * @throws InputError when the bytes are not `abi.encode(bytes, bytes)`.
 */
export function decodeDualProof(proof: string): { zkProof: string; signature: string } {
  try {
    const [zkProof, signature] = AbiCoder.defaultAbiCoder().decode(["bytes", "bytes"], proof) as unknown as [
      string,
      string,
    ];
    return { zkProof, signature };
  } catch (cause) {
    throw new InputError("a dual proof is abi.encode(bytes zkProof, bytes signature)", { cause });
  }
}

function enclaveOf(job: Job, node: ModeNode): EnclaveSigner {
  if (node.enclave === undefined)
    throw new ModeNotServedError(`job ${job.id}: dual mode needs an enclave (serve "dual" with "tee" in the config)`);
  return node.enclave;
}

/** Both halves: ZK mode's checks on the proof half, then the enclave signature against the dual verifier's TeeVerifier. */
async function verifySettlement(s: SettlementContext): Promise<ModeVerification> {
  let halves: { zkProof: string; signature: string };
  try {
    halves = decodeDualProof(s.call.args.proof as string);
  } catch (error) {
    s.check("proof encoding", false, `the settling call's proof does not decode: ${String(error)}`);
    return {};
  }
  const zkHalf = {
    ...s,
    call: { ...s.call, name: "submit", args: { output: s.call.args.output as string, proof: halves.zkProof } },
  } as unknown as SettlementContext;
  const verified = await zk.verifySettlement!(zkHalf);
  return { ...verified, ...(await enclaveHalf(s, halves.signature)) };
}

/**
 * The signature recovers to a key that the dual verifier's TeeVerifier registered, as of the settlement block, to the
 * submitting node, unrevoked, unexpired, with an unrevoked measurement bound to TEE mode by the job's version: the
 * checks `DualInferenceVerifier` made, read at the settlement block.
 */
async function enclaveHalf(s: SettlementContext, signature: string): Promise<ModeVerification> {
  const at = { blockTag: s.blockNumber };
  const dualVerifier = DualInferenceVerifier__factory.connect(s.job.verifier, s.provider);
  const teeVerifier = TeeVerifier__factory.connect(
    await withRetry("dualVerifier.teeVerifier", () => dualVerifier.teeVerifier(at)),
    s.provider,
  );
  return verifyEnclaveAtSettlement(s, signature, teeVerifier, "the signature half");
}

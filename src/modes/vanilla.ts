/**
 * Vanilla mode: no proof. A result is backed by the node's stake and, with redundancy, by the agreement of
 * independent nodes (commit-reveal); the verifier only checks the escrow's bookkeeping.
 */
import { ZeroAddress } from "ethers";
import { InputError } from "../core/errors";
import { Mode } from "../core/modes";
import { classify, hashRefusal, infoOf, noVerifier, plainInput } from "./shared";
import type { ModeModule } from "./types";

export const vanilla: ModeModule = {
  ...infoOf(Mode.Vanilla),
  binding(spec) {
    noVerifier("vanilla", spec);
    if ((spec.bindings ?? []).length > 0)
      throw new InputError(`mode vanilla takes no bindings, got ${spec.bindings!.length}`);
    return { mode: Mode.Vanilla, verifier: ZeroAddress, bindings: [] };
  },
  redundancyRefusal: () => undefined,
  prepareInput: plainInput,
  needs: [],
  readiness: () => Promise.resolve(undefined),
  inputRefusal: (job, input) => Promise.resolve(hashRefusal(job, input)),
  async compute(job, input, node) {
    return { output: await classify(job, input, node), proof: "0x" };
  },
  batchable: false,
  settlingCalls: [],
};

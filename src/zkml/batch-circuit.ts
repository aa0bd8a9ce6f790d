import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as snarkjs from "snarkjs";
import { compileCircuit, generateCircuit, type CompiledCircuit } from "./circom";
import { ZkmlConstraintError, ZkmlToolError } from "./errors";
import { circuitKey } from "./pipeline";
import type { QuantizedModel } from "./quantize";
import {
  DEFAULT_ZK_CACHE,
  ensurePtau,
  ptauPowerFor,
  setupGroth16,
  type Groth16Artifact,
  type PtauArtifact,
} from "./setup";
import { slotKeyHash, slotVerifyingKeyArgs } from "./batch-solidity";

/** Most slots of one proof: the escrow's `MAX_BATCH` and `ZkInferenceVerifier.MAX_SLOTS`. */
export const MAX_SLOTS = 64;

/** The line of the single-job circuit that instantiates its main component. */
const MAIN = /^component main = Model\(\);$/m;

/**
 * Generates the circom source of an N-slot circuit of a quantized model: `slots` independent copies of the model's
 * single-job template (`generateCircuit`), each with its own private `in` and `inputSalt`, and the public outputs
 * `claim[0..slots)` in slot order, each exactly the single-job circuit's `claim` of its slot.
 *
 * Padding is sound without a selector: a proof for fewer jobs than slots fills each unused slot with a copy of
 * slot 0 (same input and salt, hence the same claim), and the verifier supplies `claim[0]` as the public signal
 * of every unused slot, so an unused slot can only repeat a claim that is already checked and settles nothing.
 *
 * @throws ZkmlConstraintError when `slots` is not an integer in [2, MAX_SLOTS].
 * @example
 * const source = generateBatchCircuit(model, 16);
 */
export function generateBatchCircuit(model: QuantizedModel, slots: number): string {
  checkSlots(slots);
  const single = generateCircuit(model);
  if (!MAIN.test(single)) throw new ZkmlToolError("the single-job circuit has no `component main = Model();` line");
  return [
    single.replace(MAIN, "").trimEnd(),
    "",
    `// ${slots} slots of Model: one public claim per slot, in slot order (src/zkml/batch-circuit.ts).`,
    "template Slots(N) {",
    `    signal input in[N][${model.inputSize}];`,
    "    signal input inputSalt[N];",
    "    signal output claim[N];",
    "    component slot[N];",
    "    for (var k = 0; k < N; k++) {",
    "        slot[k] = Model();",
    "        slot[k].in <== in[k];",
    "        slot[k].inputSalt <== inputSalt[k];",
    "        claim[k] <== slot[k].claim;",
    "    }",
    "}",
    "",
    `component main = Slots(${slots});`,
    "",
  ].join("\n");
}

/** Checks that `slots` is a supported slot count. */
export function checkSlots(slots: number): void {
  if (!Number.isInteger(slots) || slots < 2 || slots > MAX_SLOTS)
    throw new ZkmlConstraintError(`a slot circuit has 2 to ${MAX_SLOTS} slots, not ${slots}`);
}

/** Options for {@link buildSlotCircuit}. */
export interface BuildSlotCircuitOptions {
  model: QuantizedModel;
  slots: number;
  /** Cache root; default `.cache/zk`. */
  cacheDir?: string;
  /** Minimum ptau power (to share one ceremony between circuits); default: the smallest that fits. */
  minPower?: number;
  /** circom simplification level (see `CompileOptions.optimization`); default 2. */
  optimization?: 1 | 2;
  log?: (line: string) => void;
}

/** An N-slot circuit, compiled and set up. */
export interface SlotCircuit {
  model: QuantizedModel;
  slots: number;
  circuit: CompiledCircuit;
  nConstraints: number;
  ptau: PtauArtifact;
  setup: SlotSetup;
  compileSeconds: number;
}

/**
 * The Groth16 setup of an N-slot circuit: `vkHash` is `keccak256(abi.encode(uint256[] key))` over
 * `slotVerifyingKeyArgs(vk)`, what `setSlotVerifier` records.
 */
export type SlotSetup = Groth16Artifact;

/** The setup's file names inside the slot circuit's cache directory. */
const SLOT_SETUP_FILES = { manifest: "slot-setup.json", zkey: "slots_final.zkey", vk: "slots_verification_key.json" };

/** The hash `setSlotVerifier` records for an N-slot verification key. */
export function slotVerificationKeyHash(vk: snarkjs.VerificationKey): string {
  return slotKeyHash(slotVerifyingKeyArgs(vk));
}

/**
 * Compiles the N-slot circuit of a model and runs its (development) Groth16 setup, cached under
 * `<cacheDir>/slots/<key>` like `buildZkModel` caches the single-job circuit. The N-slot key is its own key: a
 * version publishes it beside the single-job key and its owner binds it with `ZkInferenceVerifier.setSlotVerifier`.
 *
 * @example
 * const batch = await buildSlotCircuit({ model: zk.model, slots: 4, minPower: 14 });
 */
export async function buildSlotCircuit(options: BuildSlotCircuitOptions): Promise<SlotCircuit> {
  const { model, slots, cacheDir = DEFAULT_ZK_CACHE, optimization = 2, log } = options;
  const source = generateBatchCircuit(model, slots);
  const key = await circuitKey(`${source}\0O${optimization}`);
  const dir = join(cacheDir, "slots", key.slice(2, 18));
  const started = Date.now();
  const circuit = await compileCached(source, dir, key, optimization);
  const compileSeconds = (Date.now() - started) / 1000;
  const info = await snarkjs.r1cs.info(circuit.r1csPath);
  if (info.nOutputs !== slots) throw new ZkmlToolError(`expected ${slots} public claims, got ${info.nOutputs}`);
  const power = Math.max(options.minPower ?? 0, ptauPowerFor(info.nConstraints, info.nPubInputs + info.nOutputs));
  const ptau = await ensurePtau({ power, cacheDir, log });
  const setup = await setupGroth16({
    r1csPath: circuit.r1csPath,
    ptau,
    outDir: dir,
    keyHash: slotVerificationKeyHash,
    files: SLOT_SETUP_FILES,
    log,
  });
  return { model, slots, circuit, nConstraints: info.nConstraints, ptau, setup, compileSeconds };
}

async function compileCached(source: string, dir: string, key: string, optimization: 1 | 2): Promise<CompiledCircuit> {
  const marker = join(dir, "compiled.json");
  const cached = await readFile(marker, "utf8").then(
    (s) => JSON.parse(s) as CompiledCircuit & { key?: string },
    () => undefined,
  );
  if (cached !== undefined && cached.key === key) return cached;
  const circuit = await compileCircuit(source, { outDir: dir, optimization });
  await mkdir(dir, { recursive: true });
  await writeFile(marker, JSON.stringify({ ...circuit, key }, null, 2));
  return circuit;
}

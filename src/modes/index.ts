/**
 * The mode registry: one module per verification mode, in on-chain order. A new mode is a module file and a line
 * in `BY_MODE` (and its number, name and label in `src/core/modes.ts`); the type of `BY_MODE` makes a mode of the
 * core list without a module a compile error.
 */
import { UnsupportedError } from "../core/errors";
import { isModeName, MODE_BY_NAME, MODES, type Mode, type ModeName } from "../core/modes";
import { dual } from "./dual";
import { tee } from "./tee";
import type { ModeModule } from "./types";
import { vanilla } from "./vanilla";
import { zk } from "./zk";

export * from "./types";
export { ModeNotServedError } from "./errors";
export { answerZkJob, type ZkAnswer } from "./zk";
export { decodeDualProof, encodeDualProof } from "./dual";
export { privateServingRefusal, readEnclave } from "./private";
export { classifyInput } from "./shared";

const BY_MODE: { readonly [M in Mode]: ModeModule } = { 0: vanilla, 1: tee, 2: zk, 3: dual };

/** Every mode's module, in on-chain order. */
export const MODE_MODULES: readonly ModeModule[] = MODES.map((info) => BY_MODE[info.mode]);

/**
 * The module of a mode, by number (a `Mode`, or a bigint or number from the chain) or by name.
 * @throws UnsupportedError naming the unknown mode and the known ones.
 * @example modeModule(job.mode).batchable; modeModule("tee").binding({ bindings: [measurement] })
 */
export function modeModule(mode: Mode | ModeName | bigint | number): ModeModule {
  const number = typeof mode === "string" ? (isModeName(mode) ? MODE_BY_NAME[mode] : undefined) : Number(mode);
  const module = MODE_MODULES.find((m) => m.mode === number);
  if (module === undefined)
    throw new UnsupportedError(
      `mode ${String(mode)} is not supported: modes are ${MODES.map((m) => `${m.mode} (${m.name})`).join(", ")}`,
    );
  return module;
}

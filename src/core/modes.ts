/**
 * The verification modes, as numbered on-chain (`ModesLib`): the one list every process reads. What a mode does
 * (its binding, its checks before a claim, how it is computed, submitted and verified) lives in one module per mode
 * above this layer; here are only its number, its name and how it is shown.
 */
import { InputError } from "./errors";

/** Verification modes, as numbered on-chain. */
export const Mode = { Vanilla: 0, Tee: 1, Zk: 2, Dual: 3 } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

/** A mode's name in configs, flags and URLs. */
export type ModeName = "vanilla" | "tee" | "zk" | "dual";

/** What every process knows about a mode. */
export interface ModeInfo {
  mode: Mode;
  name: ModeName;
  /** How the hub and the CLI show it. */
  label: string;
  /** One line on what backs a result in this mode. */
  trust: string;
}

/** Every mode, in on-chain order. Adding a mode adds a line here (and a module above this layer). */
export const MODES: readonly ModeInfo[] = [
  {
    mode: Mode.Vanilla,
    name: "vanilla",
    label: "Vanilla",
    trust: "staked nodes; with redundancy, agreement among independent nodes",
  },
  {
    mode: Mode.Tee,
    name: "tee",
    label: "TEE",
    trust: "a signature from an enclave key registered with its measurement",
  },
  {
    mode: Mode.Zk,
    name: "zk",
    label: "ZK",
    trust: "a Groth16 proof checked on-chain against the version's bound verifying key",
  },
  {
    mode: Mode.Dual,
    name: "dual",
    label: "ZK + TEE",
    trust: "both: a Groth16 proof against the version's key and a registered enclave's signature over the same output",
  },
];

/** Mode names, by mode. */
export const MODE_NAMES: Record<Mode, ModeName> = { 0: "vanilla", 1: "tee", 2: "zk", 3: "dual" };
/** Modes, by name. */
export const MODE_BY_NAME: Record<ModeName, Mode> = {
  vanilla: Mode.Vanilla,
  tee: Mode.Tee,
  zk: Mode.Zk,
  dual: Mode.Dual,
};

/** Whether `name` names a mode. */
export function isModeName(name: unknown): name is ModeName {
  return typeof name === "string" && Object.hasOwn(MODE_BY_NAME, name);
}

/** Whether `value` is a mode's number. */
export function isMode(value: unknown): value is Mode {
  return typeof value === "number" && MODES.some((m) => m.mode === value);
}

/**
 * The mode numbered `value` (a bigint or number from the chain).
 * @throws InputError when no mode has that number.
 */
export function toMode(value: bigint | number): Mode {
  const n = Number(value);
  if (!isMode(n))
    throw new InputError(
      `mode ${String(value)} does not exist: modes are ${MODES.map((m) => `${m.mode} (${m.name})`).join(", ")}`,
    );
  return n;
}

/**
 * Parses a comma-separated list of mode names (`"vanilla,tee"`).
 * @throws InputError naming the unknown name and the known ones.
 */
export function parseModes(list: string): Mode[] {
  const names = list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (names.length === 0)
    throw new InputError(`no mode given: use one or more of ${Object.keys(MODE_BY_NAME).join(", ")}`);
  return names.map((name) => {
    if (!isModeName(name))
      throw new InputError(`mode "${name}" is not supported: use ${Object.keys(MODE_BY_NAME).join(", ")}`);
    return MODE_BY_NAME[name];
  });
}

/** The bitmask of a set of modes (`1 << mode` each), as NodeStaking capabilities and ModelRegistry versions use. */
export function modeMask(modes: readonly Mode[]): number {
  return modes.reduce<number>((mask, mode) => mask | (1 << mode), 0);
}

/** The modes in a bitmask, in order; bits of no known mode are ignored. */
export function modesOf(mask: number | bigint): Mode[] {
  const m = Number(mask);
  return MODES.filter((info) => (m & (1 << info.mode)) !== 0).map((info) => info.mode);
}

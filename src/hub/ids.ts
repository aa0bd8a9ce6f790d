/**
 * Typed identifiers, so a model id cannot be passed where a version number or mode is expected.
 * They mirror `contracts/types/Ids.sol`.
 */

declare const modelIdBrand: unique symbol;
declare const modeBrand: unique symbol;

/** Identifier of a model in the ModelRegistry (1-based, sequential `uint64`). */
export type ModelId = number & { readonly [modelIdBrand]: true };

/** A verification mode (`0` vanilla, `1` tee, `2` zk); a version's modes form a `uint32` bitmask. */
export type Mode = number & { readonly [modeBrand]: true };

/** The built-in verification modes. */
export const Modes = {
  vanilla: 0 as Mode,
  tee: 1 as Mode,
  zk: 2 as Mode,
} as const;

/** Exclusive upper bound on mode values (`ModesLib.MAX_MODES`). */
export const MAX_MODES = 32;

/**
 * Wraps a number as a {@link ModelId}; `undefined` if it is not a positive safe integer.
 * @example toModelId(7) // 7 as ModelId
 */
export function toModelId(value: number): ModelId | undefined {
  return Number.isSafeInteger(value) && value > 0 ? (value as ModelId) : undefined;
}

/**
 * Wraps a number as a {@link Mode}; `undefined` if it is out of range.
 * @example toMode(2) // Modes.zk
 */
export function toMode(value: number): Mode | undefined {
  return Number.isInteger(value) && value >= 0 && value < MAX_MODES ? (value as Mode) : undefined;
}

/**
 * Lists the modes set in a `uint32` bitmask, lowest first.
 * @example modesOf(0b101) // [0, 2]
 */
export function modesOf(bitmask: number): Mode[] {
  const modes: Mode[] = [];
  for (let m = 0; m < MAX_MODES; m++) if ((bitmask >>> m) & 1) modes.push(m as Mode);
  return modes;
}

/**
 * Builds the `uint32` bitmask of a list of modes.
 * @example modeMask([Modes.vanilla, Modes.zk]) // 5
 */
export function modeMask(modes: readonly Mode[]): number {
  return modes.reduce((mask, m) => (mask | (1 << m)) >>> 0, 0);
}

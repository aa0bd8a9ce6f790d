/**
 * One precedence for every setting of every process: a command-line flag beats an environment variable, which beats
 * the config file, which beats the default. {@link resolveSetting} applies it and names the source of a bad value in
 * its error, so "VIN_MAX_COLLATERAL is not a number" points at the environment, not at the file.
 */
import { ConfigError } from "./errors";

/** Where a setting's value may come from, strongest first. */
export interface SettingSources<T> {
  /** The flag's value, if given (`--max-collateral`). */
  flag?: { name: string; value: unknown };
  /** The environment variable's value, if set (`VIN_MAX_COLLATERAL`). */
  env?: { name: string; value: string | undefined };
  /** The config file's value, if present (`maxCollateral` in vin.json). */
  file?: { name: string; path: string; value: unknown };
  default?: T;
}

/**
 * The value of one setting, by precedence flag > environment > file > default, passed through `parse` (which
 * throws on a bad value; its message is prefixed with where the value came from).
 * @throws ConfigError when the chosen value is invalid, or when no source has one and there is no default.
 * @example const max = resolveSetting("maxCollateral", { flag: { name: "--max-collateral", value: opts.maxCollateral }, env: { name: "VIN_MAX_COLLATERAL", value: process.env.VIN_MAX_COLLATERAL }, file: { name: "maxCollateral", path, value: raw.maxCollateral }, default: 50n }, parseTokens);
 */
export function resolveSetting<T>(setting: string, sources: SettingSources<T>, parse: (value: unknown) => T): T {
  const candidates: [string, unknown][] = [];
  if (sources.flag !== undefined && sources.flag.value !== undefined)
    candidates.push([`flag ${sources.flag.name}`, sources.flag.value]);
  if (sources.env !== undefined && sources.env.value !== undefined && sources.env.value !== "")
    candidates.push([`environment variable ${sources.env.name}`, sources.env.value]);
  if (sources.file !== undefined && sources.file.value !== undefined)
    candidates.push([`"${sources.file.name}" in ${sources.file.path}`, sources.file.value]);
  const chosen = candidates[0];
  if (chosen === undefined) {
    if (sources.default !== undefined) return sources.default;
    throw new ConfigError(`setting ${setting} is missing: set it in the config file, the environment or a flag`);
  }
  try {
    return parse(chosen[1]);
  } catch (cause) {
    throw new ConfigError(`${chosen[0]}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

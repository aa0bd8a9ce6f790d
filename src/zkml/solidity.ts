import { AbiCoder, keccak256 } from "ethers";
import type { VerificationKey } from "snarkjs";
import { InputError } from "../core/errors";

/** G1 point as two coordinates. */
export type G1 = [bigint, bigint];
/** G2 point in the EIP-197 order (imaginary part first in each coordinate). */
export type G2 = [[bigint, bigint], [bigint, bigint]];

/** A verifying key as G1/G2 points in the EIP-197 layout of the Solidity verifier. */
export interface SolidityVerifyingKey {
  alpha1: G1;
  beta2: G2;
  gamma2: G2;
  delta2: G2;
  ic: G1[];
}

function strings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string"))
    throw new InputError(`verification key: ${what} is not a list of numbers`);
  return v as string[];
}

function g1(v: unknown, what: string): G1 {
  const [x, y] = strings(v, what);
  return [BigInt(x), BigInt(y)];
}

function g2(v: unknown, what: string): G2 {
  if (!Array.isArray(v)) throw new InputError(`verification key: ${what} is not a G2 point`);
  const [x, y] = [strings(v[0], what), strings(v[1], what)];
  return [
    [BigInt(x[1]), BigInt(x[0])],
    [BigInt(y[1]), BigInt(y[0])],
  ];
}

/** Converts a snarkjs Groth16 verification key to G1/G2 points in the EIP-197 layout. */
export function verificationKeyToSolidity(vk: VerificationKey): SolidityVerifyingKey {
  const ic = vk["IC"];
  if (!Array.isArray(ic)) throw new InputError("verification key: IC missing");
  return {
    alpha1: g1(vk["vk_alpha_1"], "vk_alpha_1"),
    beta2: g2(vk["vk_beta_2"], "vk_beta_2"),
    gamma2: g2(vk["vk_gamma_2"], "vk_gamma_2"),
    delta2: g2(vk["vk_delta_2"], "vk_delta_2"),
    ic: ic.map((p, i) => g1(p, `IC[${i}]`)),
  };
}

/**
 * The constructor argument of `contracts/verifiers/zk/Groth16Verifier.sol`: alpha, beta, gamma, delta, IC0, IC1 as
 * 18 words. Model circuits have exactly one public signal.
 *
 * @throws InputError when the key is malformed or has another number of public signals.
 * @example
 * const verifier = await new Groth16Verifier__factory(signer).deploy(verifyingKeyArgs(zk.setup.verificationKey));
 */
export function verifyingKeyArgs(vk: VerificationKey): bigint[] {
  const k = verificationKeyToSolidity(vk);
  if (k.ic.length !== 2) throw new InputError(`the verifier takes one public signal; this key has ${k.ic.length - 1}`);
  const g2 = (p: G2): bigint[] => [p[0][0], p[0][1], p[1][0], p[1][1]];
  return [...k.alpha1, ...g2(k.beta2), ...g2(k.gamma2), ...g2(k.delta2), ...k.ic[0]!, ...k.ic[1]!];
}

/**
 * The verifying-key hash a model version registers as its ZK binding's `bindings[0]`:
 * `keccak256(abi.encode(uint256[18] key))` over the words of `verifyingKeyArgs`, so anyone can compare it with
 * `keccak256(abi.encode(Groth16Verifier.verifyingKey()))` of the bound verifier contract.
 */
export function verifyingKeyHash(words: readonly bigint[]): string {
  if (words.length !== 18) throw new InputError(`a verifying key has 18 words, got ${words.length}`);
  return keccak256(AbiCoder.defaultAbiCoder().encode(["uint256[18]"], [words]));
}

/** Rebuilds a snarkjs verification key (one public signal) from the 18 words a `Groth16Verifier` reports. */
export function verificationKeyFromWords(words: readonly bigint[]): VerificationKey {
  if (words.length !== 18) throw new InputError(`a verifying key has 18 words, got ${words.length}`);
  const w = words.map((v) => v.toString());
  const g1 = (i: number): string[] => [w[i]!, w[i + 1]!, "1"];
  // Solidity order is (x imaginary, x real, y imaginary, y real); snarkjs lists real parts first.
  const g2 = (i: number): string[][] => [
    [w[i + 1]!, w[i]!],
    [w[i + 3]!, w[i + 2]!],
    ["1", "0"],
  ];
  return {
    protocol: "groth16",
    curve: "bn128",
    nPublic: 1,
    vk_alpha_1: g1(0),
    vk_beta_2: g2(2),
    vk_gamma_2: g2(6),
    vk_delta_2: g2(10),
    IC: [g1(14), g1(16)],
  };
}

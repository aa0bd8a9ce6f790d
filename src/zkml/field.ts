/** The BN254 scalar field order: the field of circom signals and Groth16 public inputs. */
export const SNARK_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/** Maps a signed integer to its field element in `[0, p)`. */
export function toField(v: bigint): bigint {
  const r = v % SNARK_FIELD;
  return r < 0n ? r + SNARK_FIELD : r;
}

/** Maps a field element to the signed integer in `(-p/2, p/2]` it stands for. */
export function fromField(v: bigint): bigint {
  return v > SNARK_FIELD / 2n ? v - SNARK_FIELD : v;
}

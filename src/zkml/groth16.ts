import * as snarkjs from "snarkjs";
import { ZkmlToolError } from "./errors";
import { SNARK_FIELD } from "./field";

/** The parts of an ffjavascript scalar field (`curve.Fr`) the prover uses; elements are 32-byte Montgomery buffers. */
interface WasmFr {
  n8: number;
  s: number;
  shift: Uint8Array;
  w: Uint8Array[];
  e(v: number | bigint): Uint8Array;
  neg(a: Uint8Array): Uint8Array;
  mul(a: Uint8Array, b: Uint8Array): Uint8Array;
  random(): Uint8Array;
  fft(buff: Uint8Array): Promise<Uint8Array>;
  ifft(buff: Uint8Array): Promise<Uint8Array>;
  batchApplyKey(buff: Uint8Array, first: Uint8Array, inc: Uint8Array): Promise<Uint8Array>;
}

/** A point group of ffjavascript (`curve.G1`, `curve.G2`); points are opaque buffers. */
interface WasmGroup {
  F: { n8: number };
  fromRprLEM(buff: Uint8Array, offset: number): Uint8Array;
  multiExpAffine(bases: Uint8Array, scalars: Uint8Array): Promise<Uint8Array>;
  add(a: Uint8Array, b: Uint8Array): Uint8Array;
  timesFr(p: Uint8Array, s: Uint8Array): Uint8Array;
  toAffine(p: Uint8Array): Uint8Array;
  toObject(p: Uint8Array): bigint[] | bigint[][];
}

type Task = { cmd: string; [k: string]: unknown };

/** snarkjs's cached BN254 curve: the WebAssembly field and group code and its worker pool. */
interface WasmCurve {
  name: string;
  Fr: WasmFr;
  G1: WasmGroup;
  G2: WasmGroup;
  tm: { queueAction(task: Task[]): Promise<Uint8Array[]> };
}

/** snarkjs's BN254 curve: the cached one (with its worker pool), or a new one after `releaseSnarkjs`. */
async function bn128(): Promise<WasmCurve> {
  return (await snarkjs.curves.getCurveFromName("bn128")) as unknown as WasmCurve;
}

/** Where each section of a binary zkey/wtns file lies. */
function sections(file: Uint8Array, magic: string): Map<number, Uint8Array> {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (new TextDecoder().decode(file.subarray(0, 4)) !== magic) throw new ZkmlToolError(`not a ${magic} file`);
  const out = new Map<number, Uint8Array>();
  const n = view.getUint32(8, true);
  let o = 12;
  for (let i = 0; i < n; i++) {
    const id = view.getUint32(o, true);
    const size = Number(view.getBigUint64(o + 4, true));
    out.set(id, file.subarray(o + 12, o + 12 + size));
    o += 12 + size;
  }
  return out;
}

function section(map: Map<number, Uint8Array>, id: number): Uint8Array {
  const s = map.get(id);
  if (s === undefined) throw new ZkmlToolError(`the file has no section ${id}`);
  return s;
}

/** A little-endian unsigned integer of `n8` bytes (a multiple of 8). */
function readLE(buff: Uint8Array, offset: number, n8: number): bigint {
  const view = new DataView(buff.buffer, buff.byteOffset + offset, n8);
  let v = 0n;
  for (let i = n8 - 8; i >= 0; i -= 8) v = (v << 64n) | view.getBigUint64(i, true);
  return v;
}

/** Little-endian 32-byte field elements to bigints; bits and small values (most of a witness) take the fast path. */
function toBigInts(buff: Uint8Array, n: number): bigint[] {
  const w32 = new Uint32Array(buff.buffer, buff.byteOffset, n * 8);
  const view = new DataView(buff.buffer, buff.byteOffset, buff.byteLength);
  const out = new Array<bigint>(n);
  for (let i = 0; i < n; i++) {
    const b = i * 8;
    if ((w32[b + 1]! | w32[b + 2]! | w32[b + 3]! | w32[b + 4]! | w32[b + 5]! | w32[b + 6]! | w32[b + 7]!) === 0) {
      out[i] = BigInt(w32[b]!);
    } else {
      const o = i * 32;
      out[i] =
        view.getBigUint64(o, true) |
        (view.getBigUint64(o + 8, true) << 64n) |
        (view.getBigUint64(o + 16, true) << 128n) |
        (view.getBigUint64(o + 24, true) << 192n);
    }
  }
  return out;
}

const MASK64 = (1n << 64n) - 1n;

function writeLE32(view: DataView, offset: number, v: bigint): void {
  view.setBigUint64(offset, v & MASK64, true);
  view.setBigUint64(offset + 8, (v >> 64n) & MASK64, true);
  view.setBigUint64(offset + 16, (v >> 128n) & MASK64, true);
  view.setBigUint64(offset + 24, v >> 192n, true);
}

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [m, ((a % m) + m) % m, 0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

/** Per signal, the bytes its scalar needs in a multi-exponentiation: 0 (the value is zero), 1 (below 256) or 32. */
function scalarSizes(witness: Uint8Array, n: number): Uint8Array {
  const w32 = new Uint32Array(witness.buffer, witness.byteOffset, n * 8);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const b = i * 8;
    const high = w32[b + 1]! | w32[b + 2]! | w32[b + 3]! | w32[b + 4]! | w32[b + 5]! | w32[b + 6]! | w32[b + 7]!;
    out[i] = high !== 0 || w32[b]! > 255 ? 32 : w32[b]! === 0 ? 0 : 1;
  }
  return out;
}

/**
 * Σ scalars[from + i] · bases[i], as two multi-exponentiations: one over the signals below 256 (bits, signs,
 * selectors: most of a model circuit's witness) with one-byte scalars, one over the rest with full scalars.
 * ffjavascript's bucket method runs one window per 10 bits of scalar, so a one-byte scalar costs one window
 * instead of 26; zero scalars are left out.
 */
async function splitMultiExp(
  G: WasmGroup,
  bases: Uint8Array,
  witness: Uint8Array,
  sizes: Uint8Array,
  from: number,
): Promise<Uint8Array> {
  const n = sizes.length - from;
  const pb = bases.byteLength / n;
  let nSmall = 0;
  let nFull = 0;
  for (let i = from; i < sizes.length; i++) {
    if (sizes[i] === 1) nSmall++;
    else if (sizes[i] === 32) nFull++;
  }
  const smallBases = new Uint8Array(nSmall * pb);
  const smallScalars = new Uint8Array(nSmall);
  const fullBases = new Uint8Array(nFull * pb);
  const fullScalars = new Uint8Array(nFull * 32);
  let s = 0;
  let f = 0;
  for (let i = 0; i < n; i++) {
    const size = sizes[from + i]!;
    if (size === 1) {
      smallBases.set(bases.subarray(i * pb, (i + 1) * pb), s * pb);
      smallScalars[s++] = witness[(from + i) * 32]!;
    } else if (size === 32) {
      fullBases.set(bases.subarray(i * pb, (i + 1) * pb), f * pb);
      fullScalars.set(witness.subarray((from + i) * 32, (from + i + 1) * 32), f++ * 32);
    }
  }
  const [small, full] = await Promise.all([
    G.multiExpAffine(smallBases, smallScalars),
    G.multiExpAffine(fullBases, fullScalars),
  ]);
  return G.add(small, full);
}

/** The sparse A and B matrices of the QAP, with coefficients as small signed integers where they are small. */
interface Coefficients {
  matrix: Uint8Array;
  row: Uint32Array;
  signal: Uint32Array;
  value: bigint[];
}

/**
 * A Groth16 proving key held in memory, parsed once, that proves with snarkjs's curve (WebAssembly MSMs and FFTs
 * on its worker pool) what `snarkjs.groth16.prove` proves: the same algorithm and the same proof distribution.
 *
 * What it does differently, and why it is faster on the model circuits: snarkjs evaluates A·w and B·w with one
 * WebAssembly call and several buffer copies per matrix coefficient, re-reading the key on every proof. Here the
 * coefficients are decoded once from the key's Montgomery form (`c·R²`) to integers, most of them small (weights,
 * powers of two, ±1), and each row is summed in bigint arithmetic with one reduction per row; the key's sections
 * are kept as views, not copied per proof.
 *
 * @example
 * const key = await Groth16Key.load(zkeyBytes);
 * const { proof, publicSignals } = await key.prove(wtnsBytes);
 */
export class Groth16Key {
  private constructor(
    private readonly r: bigint,
    private readonly nVars: number,
    private readonly nPublic: number,
    private readonly domainSize: number,
    private readonly points: {
      alpha1: Uint8Array;
      beta1: Uint8Array;
      beta2: Uint8Array;
      delta1: Uint8Array;
      delta2: Uint8Array;
    },
    private readonly bases: Map<number, Uint8Array>,
    private readonly coefs: Coefficients,
  ) {}

  /**
   * Parses a snarkjs Groth16 `.zkey` (BN254).
   *
   * @throws ZkmlToolError when the bytes are not a Groth16 zkey over BN254.
   */
  static async load(zkey: Uint8Array): Promise<Groth16Key> {
    const map = sections(zkey, "zkey");
    if (new DataView(section(map, 1).buffer, section(map, 1).byteOffset).getUint32(0, true) !== 1)
      throw new ZkmlToolError("zkey file is not groth16");
    const h = section(map, 2);
    const hv = new DataView(h.buffer, h.byteOffset, h.byteLength);
    const n8q = hv.getUint32(0, true);
    const n8r = hv.getUint32(4 + n8q, true);
    const r = readLE(h, 8 + n8q, n8r);
    let o = 8 + n8q + n8r;
    const nVars = hv.getUint32(o, true);
    const nPublic = hv.getUint32(o + 4, true);
    const domainSize = hv.getUint32(o + 8, true);
    o += 12;
    if (r !== SNARK_FIELD || n8r !== 32) throw new ZkmlToolError("zkey curve is not BN254");
    const curve = await bn128();
    const g1 = (): Uint8Array => {
      const p = curve.G1.fromRprLEM(h, o);
      o += n8q * 2;
      return p;
    };
    const g2 = (): Uint8Array => {
      const p = curve.G2.fromRprLEM(h, o);
      o += n8q * 4;
      return p;
    };
    const alpha1 = g1();
    const beta1 = g1();
    const beta2 = g2();
    g2(); // gamma2: verification only
    const delta1 = g1();
    const delta2 = g2();
    return new Groth16Key(
      r,
      nVars,
      nPublic,
      domainSize,
      { alpha1, beta1, beta2, delta1, delta2 },
      // Own copies, not views: ffjavascript slices the bases per chunk, and a slice of a Node Buffer is a view that
      // would send the whole key to the worker threads.
      new Map([5, 6, 7, 8, 9].map((id) => [id, new Uint8Array(section(map, id))])),
      decodeCoefficients(section(map, 4), r, n8r),
    );
  }

  /**
   * Proves with a witness in snarkjs's `.wtns` format (as the circom witness calculator writes it).
   *
   * @throws ZkmlToolError when the witness does not belong to this key's circuit.
   */
  async prove(wtns: Uint8Array): Promise<{ proof: snarkjs.Groth16Proof; publicSignals: string[] }> {
    // The curve is looked up per proof, as snarkjs does: releaseSnarkjs may have ended the previous one.
    const curve = await bn128();
    const { Fr } = curve;
    const w = section(sections(wtns, "wtns"), 2);
    if (w.byteLength !== this.nVars * Fr.n8)
      throw new ZkmlToolError(`invalid witness length: circuit ${this.nVars}, witness ${w.byteLength / Fr.n8}`);
    const witness = Uint8Array.from(w); // an aligned copy, for the word views below
    const proof = this.blind(curve, await this.multiExps(curve, witness, await this.hScalars(curve, witness)));
    const publicSignals: string[] = [];
    for (let i = 1; i <= this.nPublic; i++) publicSignals.push(readLE(witness, i * Fr.n8, Fr.n8).toString());
    return { proof, publicSignals };
  }

  /** The scalars of the H multi-exponentiation: A·w, B·w and C on the odd coset, joined (as snarkjs computes them). */
  private async hScalars(curve: WasmCurve, witness: Uint8Array): Promise<Uint8Array> {
    const { Fr } = curve;
    const [a, b, c] = this.evaluateABC(toBigInts(witness, this.nVars));
    const power = Math.log2(this.domainSize);
    const inc = power === Fr.s ? Fr.shift : Fr.w[power + 1]!;
    // The three polynomials on the odd coset, started together so the worker pool stays busy.
    const odd = async (x: Uint8Array): Promise<Uint8Array> =>
      Fr.fft(await Fr.batchApplyKey(await Fr.ifft(x), Fr.e(1), inc));
    const [aOdd, bOdd, cOdd] = await Promise.all([odd(a), odd(b), odd(c)]);
    return this.joinABC(curve, aOdd, bOdd, cOdd);
  }

  /** The five multi-exponentiations (A, B in G1, B in G2, C over the private signals, H), started together. */
  private async multiExps(curve: WasmCurve, witness: Uint8Array, h: Uint8Array): Promise<Uint8Array[]> {
    const { G1, G2 } = curve;
    const base = (id: number) => section(this.bases, id);
    const sizes = scalarSizes(witness, this.nVars);
    return Promise.all([
      splitMultiExp(G1, base(5), witness, sizes, 0),
      splitMultiExp(G1, base(6), witness, sizes, 0),
      splitMultiExp(G2, base(7), witness, sizes, 0),
      splitMultiExp(G1, base(8), witness, sizes, this.nPublic + 1),
      G1.multiExpAffine(base(9), h),
    ]);
  }

  /** The proof from the multi-exponentiations, blinded by random r and s exactly as snarkjs's groth16Prove does. */
  private blind(curve: WasmCurve, [msmA, msmB1, msmB2, msmC, resH]: Uint8Array[]): snarkjs.Groth16Proof {
    const { Fr, G1, G2 } = curve;
    const { alpha1, beta1, beta2, delta1, delta2 } = this.points;
    const r = Fr.random();
    const s = Fr.random();
    const piA = G1.add(G1.add(msmA!, alpha1), G1.timesFr(delta1, r));
    const piB = G2.add(G2.add(msmB2!, beta2), G2.timesFr(delta2, s));
    const pib1 = G1.add(G1.add(msmB1!, beta1), G1.timesFr(delta1, s));
    let piC = G1.add(msmC!, resH!);
    piC = G1.add(piC, G1.timesFr(piA, s));
    piC = G1.add(piC, G1.timesFr(pib1, r));
    piC = G1.add(piC, G1.timesFr(delta1, Fr.neg(Fr.mul(r, s))));
    return {
      pi_a: (G1.toObject(G1.toAffine(piA)) as bigint[]).map(String),
      pi_b: (G2.toObject(G2.toAffine(piB)) as bigint[][]).map((c) => c.map(String)),
      pi_c: (G1.toObject(G1.toAffine(piC)) as bigint[]).map(String),
      protocol: "groth16",
      curve: curve.name,
    };
  }

  /** A·w, B·w and their pointwise product C over the domain, as Montgomery buffers (what snarkjs's FFTs take). */
  private evaluateABC(w: bigint[]): [Uint8Array, Uint8Array, Uint8Array] {
    const { r, domainSize } = this;
    const { matrix, row, signal, value } = this.coefs;
    const acc = [new Array<bigint>(domainSize).fill(0n), new Array<bigint>(domainSize).fill(0n)];
    for (let i = 0; i < value.length; i++) {
      const x = w[signal[i]!]!;
      if (x !== 0n) acc[matrix[i]!]![row[i]!] += value[i]! * x;
    }
    const R = (1n << 256n) % r;
    const out = [0, 1, 2].map(() => new Uint8Array(domainSize * 32));
    const views = out.map((o) => new DataView(o.buffer));
    for (let i = 0; i < domainSize; i++) {
      const av = acc[0]![i]!;
      const bv = acc[1]![i]!;
      if (av === 0n && bv === 0n) continue;
      const ar = ((av % r) + r) % r;
      const br = ((bv % r) + r) % r;
      writeLE32(views[0]!, i * 32, (ar * R) % r);
      writeLE32(views[1]!, i * 32, (br * R) % r);
      writeLE32(views[2]!, i * 32, (((ar * br) % r) * R) % r);
    }
    return out as [Uint8Array, Uint8Array, Uint8Array];
  }

  /** (A·B − C) on the odd coset, out of Montgomery form: the scalars of the H multi-exponentiation (as snarkjs). */
  private async joinABC(curve: WasmCurve, a: Uint8Array, b: Uint8Array, c: Uint8Array): Promise<Uint8Array> {
    const n = this.domainSize;
    const bytes = n * curve.Fr.n8;
    const [out] = await curve.tm.queueAction([
      { cmd: "ALLOCSET", var: 0, buff: a },
      { cmd: "ALLOCSET", var: 1, buff: b },
      { cmd: "ALLOCSET", var: 2, buff: c },
      { cmd: "ALLOC", var: 3, len: bytes },
      { cmd: "CALL", fnName: "qap_joinABC", params: [{ var: 0 }, { var: 1 }, { var: 2 }, { val: n }, { var: 3 }] },
      { cmd: "CALL", fnName: "frm_batchFromMontgomery", params: [{ var: 3 }, { val: n }, { var: 3 }] },
      { cmd: "GET", out: 0, var: 3, len: bytes },
    ]);
    return out!;
  }
}

/**
 * Decodes the key's coefficient section: entries (matrix, row, signal, c·R² mod r). Coefficients above r/2 are
 * kept as negative integers, so a row's sum of small coefficients times bits stays small until its one reduction.
 */
function decodeCoefficients(sec: Uint8Array, r: bigint, n8r: number): Coefficients {
  const view = new DataView(sec.buffer, sec.byteOffset, sec.byteLength);
  const n = view.getUint32(0, true);
  const size = 12 + n8r;
  const R2inv = modInverse(((1n << 256n) % r) ** 2n % r, r);
  const half = r >> 1n;
  const coefs: Coefficients = {
    matrix: new Uint8Array(n),
    row: new Uint32Array(n),
    signal: new Uint32Array(n),
    value: new Array<bigint>(n),
  };
  for (let i = 0; i < n; i++) {
    const o = 4 + i * size;
    coefs.matrix[i] = view.getUint32(o, true);
    coefs.row[i] = view.getUint32(o + 4, true);
    coefs.signal[i] = view.getUint32(o + 8, true);
    const v = (readLE(sec, o + 12, n8r) * R2inv) % r;
    coefs.value[i] = v > half ? v - r : v;
  }
  return coefs;
}

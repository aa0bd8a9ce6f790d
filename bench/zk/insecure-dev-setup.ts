/**
 * INSECURE Groth16 setup for benchmarks only: a proving key made without any powers-of-tau ceremony, from toxic
 * waste (τ, α, β, γ, δ) derived from a public seed. Whoever knows the seed can forge proofs for any statement, so a
 * key made here proves nothing. It exists so that `bench/zk.ts` can time snarkjs's prover on a circuit whose
 * ceremony would take hours on this machine (the keras2circom-style comparison circuit needs 2^17): proving time
 * depends on the key's shape, never on how its points were made. Never used by the node, the SDK or the tests of
 * anything but itself; keep it out of src/.
 *
 * It writes the zkey `snarkjs.zKey.newZKey` would write from a ceremony with that τ, α, β (γ and δ included, as a
 * phase-2 contribution would), evaluating the QAP at τ directly: the Lagrange basis of the 2^k domain at τ
 * (field arithmetic only), then one fixed-base multiplication of the generator per point on snarkjs's worker
 * threads. The H section holds what snarkjs's prover expects, the Lagrange points of the odd indices of the
 * 2^(k+1) domain divided by δ (its prover evaluates h·Z on the odd coset), not τ^i·Z(τ)/δ. The section holding
 * the contribution transcript's hash is zero, so `zkey verify` rejects the key (it has no ceremony to check).
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as snarkjs from "snarkjs";
import { InputError, UnsupportedError } from "../../src/core/errors";
import { sha256File, sha256Hex } from "../../src/core/hash";

/** Options for {@link insecureDevSetup}. */
export interface InsecureDevSetupOptions {
  r1csPath: string;
  /** Directory for `insecure-dev.zkey`, `insecure-dev.vk.json` and the manifest `insecure-dev.json`. */
  outDir: string;
  /** Public seed of the toxic waste (so: of every forged proof); default "insecure-dev-setup". */
  seed?: string;
  log?: (line: string) => void;
}

/** An insecure development key: its files, verification key and the time it took (0 when cached). */
export interface InsecureDevSetup {
  zkeyPath: string;
  vkPath: string;
  vk: snarkjs.VerificationKey;
  seed: string;
  domainSize: number;
  sha256: { r1cs: string; zkey: string };
  generationSeconds: number;
}

/** The parts of ffjavascript's WebAssembly BN254 curve used here; field elements and points are buffers. */
interface Group {
  F: { n8: number };
  oneAffine: Uint8Array;
}
interface Curve {
  q: bigint;
  r: bigint;
  Fr: { s: number; w: Uint8Array[]; toObject(a: Uint8Array): bigint };
  G1: Group;
  G2: Group;
  tm: { concurrency: number; queueAction(task: { cmd: string; [k: string]: unknown }[]): Promise<Uint8Array[]> };
}

/** An R1CS file's header and its raw constraint section. */
interface R1cs {
  prime: bigint;
  nVars: number;
  nPublic: number;
  nConstraints: number;
  constraints: Uint8Array;
}

/** The secret scalars of the setup (all nonzero). */
interface ToxicWaste {
  tau: bigint;
  alpha: bigint;
  beta: bigint;
  gamma: bigint;
  delta: bigint;
}

const FILES = { zkey: "insecure-dev.zkey", vk: "insecure-dev.vk.json", manifest: "insecure-dev.json" };
const N8 = 32;
/** Points per worker task: small enough to spread over the threads, large enough to amortise a task's cost. */
const CHUNK = 1 << 12;

/**
 * Writes (or reuses, when the manifest matches the r1cs and seed) an INSECURE Groth16 key for `r1csPath` that
 * `snarkjs.groth16.prove`/`fullProve` accept and whose proofs `snarkjs.groth16.verify` accepts with `vk`.
 *
 * @example
 * const dev = await insecureDevSetup({ r1csPath: circuit.r1csPath, outDir: circuit.dir });
 * const { proof, publicSignals } = await snarkjs.groth16.fullProve(input, circuit.wasmPath, dev.zkeyPath);
 */
export async function insecureDevSetup(options: InsecureDevSetupOptions): Promise<InsecureDevSetup> {
  const { r1csPath, outDir, seed = "insecure-dev-setup", log = () => undefined } = options;
  const manifestPath = join(outDir, FILES.manifest);
  const r1csHash = await sha256File(r1csPath);
  const cached = await readCached(manifestPath);
  if (cached !== undefined && cached.seed === seed && cached.sha256.r1cs === r1csHash) {
    if ((await sha256File(cached.zkeyPath).catch(() => "")) === cached.sha256.zkey)
      return { ...cached, generationSeconds: 0 };
  }
  const started = Date.now();
  const r1cs = parseR1cs(await readFile(r1csPath));
  const curve = (await snarkjs.curves.getCurveFromName("bn128")) as unknown as Curve;
  if (r1cs.prime !== curve.r) throw new UnsupportedError("insecure dev setup: the r1cs is not over BN254's field");
  const zkey = await buildZkey(curve, r1cs, toxicWaste(seed, curve.r), log);
  await mkdir(outDir, { recursive: true });
  const zkeyPath = join(outDir, FILES.zkey);
  await writeFile(zkeyPath, zkey.bytes);
  const vk = await snarkjs.zKey.exportVerificationKey(zkeyPath);
  const vkPath = join(outDir, FILES.vk);
  await writeFile(vkPath, JSON.stringify(vk, null, 2));
  const setup: InsecureDevSetup = {
    zkeyPath,
    vkPath,
    vk,
    seed,
    domainSize: zkey.domainSize,
    sha256: { r1cs: r1csHash, zkey: sha256Hex(zkey.bytes) },
    generationSeconds: (Date.now() - started) / 1000,
  };
  await writeFile(manifestPath, JSON.stringify(setup, null, 2));
  log(`insecure dev zkey: ${r1cs.nConstraints} constraints, domain ${zkey.domainSize}, ${setup.generationSeconds} s`);
  return setup;
}

async function readCached(path: string): Promise<InsecureDevSetup | undefined> {
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  return exists ? (JSON.parse(await readFile(path, "utf8")) as InsecureDevSetup) : undefined;
}

/** τ, α, β, γ, δ from the seed: SHA-256 of the seed and the name, reduced mod r (never 0). */
function toxicWaste(seed: string, r: bigint): ToxicWaste {
  const sample = (name: string): bigint => {
    for (let i = 0; ; i++) {
      const v = BigInt(sha256Hex(`insecure-dev-setup/${seed}/${name}/${i}`)) % r;
      if (v !== 0n) return v;
    }
  };
  return {
    tau: sample("tau"),
    alpha: sample("alpha"),
    beta: sample("beta"),
    gamma: sample("gamma"),
    delta: sample("delta"),
  };
}

function parseR1cs(file: Uint8Array): R1cs {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (new TextDecoder().decode(file.subarray(0, 4)) !== "r1cs") throw new InputError("not an r1cs file");
  const sections = new Map<number, Uint8Array>();
  let o = 12;
  for (let i = 0, n = view.getUint32(8, true); i < n; i++) {
    const size = Number(view.getBigUint64(o + 4, true));
    sections.set(view.getUint32(o, true), file.subarray(o + 12, o + 12 + size));
    o += 12 + size;
  }
  const header = sections.get(1);
  const constraints = sections.get(2);
  if (header === undefined || constraints === undefined)
    throw new InputError("r1cs file without header or constraints");
  const h = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const n8 = h.getUint32(0, true);
  if (n8 !== N8) throw new UnsupportedError(`r1cs field elements of ${n8} bytes`);
  const at = 4 + n8;
  return {
    prime: readLE(header, 4),
    nVars: h.getUint32(at, true),
    nPublic: h.getUint32(at + 4, true) + h.getUint32(at + 8, true),
    nConstraints: h.getUint32(at + 24, true),
    constraints,
  };
}

function readLE(buff: Uint8Array, offset: number): bigint {
  const v = new DataView(buff.buffer, buff.byteOffset + offset, N8);
  return (
    (v.getBigUint64(24, true) << 192n) |
    (v.getBigUint64(16, true) << 128n) |
    (v.getBigUint64(8, true) << 64n) |
    v.getBigUint64(0, true)
  );
}

function writeLE(buff: Uint8Array, offset: number, value: bigint): void {
  const v = new DataView(buff.buffer, buff.byteOffset + offset, N8);
  for (let i = 0; i < 4; i++) v.setBigUint64(i * 8, (value >> BigInt(64 * i)) & 0xffff_ffff_ffff_ffffn, true);
}

function u32(...values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => v.setUint32(4 * i, x, true));
  return out;
}

function field(r: bigint) {
  const mod = (a: bigint): bigint => ((a % r) + r) % r;
  const pow = (b: bigint, e: bigint): bigint => {
    let acc = 1n;
    for (b = mod(b); e > 0n; e >>= 1n, b = (b * b) % r) if (e & 1n) acc = (acc * b) % r;
    return acc;
  };
  const inv = (a: bigint): bigint => pow(a, r - 2n);
  /** Montgomery's batch inversion: one exponentiation for all of `xs` (none zero). */
  const batchInv = (xs: bigint[]): bigint[] => {
    const prefix = new Array<bigint>(xs.length);
    let acc = 1n;
    xs.forEach((x, i) => ((prefix[i] = acc), (acc = (acc * x) % r)));
    let invAcc = inv(acc);
    const out = new Array<bigint>(xs.length);
    for (let i = xs.length - 1; i >= 0; i--) {
      out[i] = (invAcc * prefix[i]!) % r;
      invAcc = (invAcc * xs[i]!) % r;
    }
    return out;
  };
  return { mod, pow, inv, batchInv };
}

/**
 * `L_i(τ) = (τ^N - 1)/N · x_i/(τ - x_i)` for the points `x_i = first·ω^i`, i < count, of the N-point domain that
 * contains them: the Lagrange basis snarkjs's prepared powers of tau hold (checked against ffjavascript's FFT).
 */
function lagrangeAt(r: bigint, tau: bigint, N: number, first: bigint, omega: bigint, count: number): bigint[] {
  const F = field(r);
  const points = new Array<bigint>(count);
  for (let i = 0, x = first; i < count; i++, x = (x * omega) % r) points[i] = x;
  const inverses = F.batchInv(points.map((x) => F.mod(tau - x)));
  const factor = ((F.pow(tau, BigInt(N)) - 1n + r) * F.inv(BigInt(N))) % r;
  return points.map((x, i) => (((factor * x) % r) * inverses[i]!) % r);
}

/** The QAP polynomials u, v, w of every variable at τ, and snarkjs's coefficient section (A and B terms). */
function evaluateQap(r1cs: R1cs, L: bigint[], r: bigint) {
  const { nVars, nPublic, nConstraints, constraints } = r1cs;
  const uvw = [0, 1, 2].map(() => new Array<bigint>(nVars).fill(0n)) as [bigint[], bigint[], bigint[]];
  const R2 = ((1n << 256n) % r) ** 2n % r;
  // Every term takes 4 + 32 bytes in the r1cs, so that bounds the number of entries (12 + 32 bytes each).
  const coefs = new Uint8Array(4 + (Math.floor(constraints.length / (4 + N8)) + nPublic + 1) * (12 + N8));
  const coefsView = new DataView(coefs.buffer);
  let nCoefs = 0;
  const term = (m: number, c: number, s: number, coef: bigint): void => {
    const at = 4 + nCoefs++ * (12 + N8);
    coefsView.setUint32(at, m, true);
    coefsView.setUint32(at + 4, c, true);
    coefsView.setUint32(at + 8, s, true);
    writeLE(coefs, at + 12, (coef * R2) % r);
  };
  const view = new DataView(constraints.buffer, constraints.byteOffset, constraints.byteLength);
  let o = 0;
  for (let c = 0; c < nConstraints; c++) {
    for (let m = 0; m < 3; m++) {
      const nTerms = view.getUint32(o, true);
      o += 4;
      for (let t = 0; t < nTerms; t++, o += 4 + N8) {
        const s = view.getUint32(o, true);
        const coef = readLE(constraints, o + 4);
        uvw[m]![s] = (uvw[m]![s]! + coef * L[c]!) % r;
        if (m < 2) term(m, c, s, coef);
      }
    }
  }
  // As snarkjs: each public variable (and the constant one) also appears alone in A at a constraint past the
  // last, so that their u polynomials are independent (the verifier's inputs cannot be shifted).
  for (let s = 0; s <= nPublic; s++) {
    uvw[0][s] = (uvw[0][s]! + L[nConstraints + s]!) % r;
    term(0, nConstraints + s, s, 1n);
  }
  coefsView.setUint32(0, nCoefs, true);
  return { u: uvw[0], v: uvw[1], w: uvw[2], coefs: coefs.subarray(0, 4 + nCoefs * (12 + N8)) };
}

/** `scalars[i]·g` for the generator g of `group`, as affine points in snarkjs's zkey format (LE Montgomery). */
async function generatorMultiples(curve: Curve, group: "G1" | "G2", scalars: bigint[]): Promise<Uint8Array> {
  const G = curve[group];
  const prefix = group === "G1" ? "g1m" : "g2m";
  const sOut = G.F.n8 * 2;
  const sMid = G.F.n8 * 3;
  const tasks: Promise<Uint8Array[]>[] = [];
  for (let start = 0; start < scalars.length; start += CHUNK) {
    const n = Math.min(CHUNK, scalars.length - start);
    const buff = new Uint8Array(n * N8);
    for (let i = 0; i < n; i++) writeLE(buff, i * N8, scalars[start + i]!);
    const task: { cmd: string; [k: string]: unknown }[] = [
      { cmd: "ALLOCSET", var: 0, buff: G.oneAffine.slice() },
      { cmd: "ALLOCSET", var: 1, buff },
      { cmd: "ALLOC", var: 2, len: n * sMid },
    ];
    for (let i = 0; i < n; i++) {
      task.push({
        cmd: "CALL",
        fnName: `${prefix}_timesScalarAffine`,
        params: [{ var: 0 }, { var: 1, offset: i * N8 }, { val: N8 }, { var: 2, offset: i * sMid }],
      });
    }
    task.push(
      { cmd: "CALL", fnName: `${prefix}_batchToAffine`, params: [{ var: 2 }, { val: n }, { var: 2 }] },
      { cmd: "GET", out: 0, var: 2, len: n * sOut },
    );
    tasks.push(curve.tm.queueAction(task));
  }
  const out = new Uint8Array(scalars.length * sOut);
  (await Promise.all(tasks)).forEach(([points], k) => out.set(points!, k * CHUNK * sOut));
  return out;
}

/** The zkey bytes (snarkjs's Groth16 zkey, version 1) for `r1cs` with the given toxic waste. */
async function buildZkey(
  curve: Curve,
  r1cs: R1cs,
  t: ToxicWaste,
  log: (line: string) => void,
): Promise<{ bytes: Uint8Array; domainSize: number }> {
  const r = curve.r;
  const F = field(r);
  const { nVars, nPublic, nConstraints } = r1cs;
  // The domain snarkjs picks (zkey_new.js): 2^(⌊log2(constraints + public)⌋ + 1), room for the public rows.
  const power = Math.floor(Math.log2(nConstraints + nPublic)) + 1;
  if (power + 1 > curve.Fr.s) throw new UnsupportedError(`insecure dev setup: domain 2^${power} too large`);
  const domainSize = 2 ** power;
  const omega = curve.Fr.toObject(curve.Fr.w[power]!);
  const omega2 = curve.Fr.toObject(curve.Fr.w[power + 1]!);
  log(`insecure dev zkey: QAP at τ over 2^${power} (${nConstraints} constraints, ${nVars} variables)`);
  const L = lagrangeAt(r, t.tau, domainSize, 1n, omega, domainSize);
  const { u, v, w, coefs } = evaluateQap(r1cs, L, r);
  const gammaInv = F.inv(t.gamma);
  const deltaInv = F.inv(t.delta);
  const lc = (s: number, by: bigint): bigint => (((t.beta * u[s]! + t.alpha * v[s]! + w[s]!) % r) * by) % r;
  const ic = Array.from({ length: nPublic + 1 }, (_, s) => lc(s, gammaInv));
  const c = Array.from({ length: nVars - nPublic - 1 }, (_, i) => lc(nPublic + 1 + i, deltaInv));
  // The odd points ω2·ω^i of the doubled domain, where snarkjs's prover evaluates h·Z.
  const h = lagrangeAt(r, t.tau, 2 * domainSize, omega2, omega, domainSize).map((x) => (x * deltaInv) % r);
  log(`insecure dev zkey: ${3 * nVars + domainSize} G1 and ${nVars + 3} G2 multiples of the generators`);
  const g1 = (xs: bigint[]) => generatorMultiples(curve, "G1", xs);
  const g2 = (xs: bigint[]) => generatorMultiples(curve, "G2", xs);
  const [vkG1, vkG2, sIc, sA, sB1, sB2, sC, sH] = await Promise.all([
    g1([t.alpha, t.beta, t.delta]),
    g2([t.beta, t.gamma, t.delta]),
    g1(ic),
    g1(u),
    g1(v),
    g2(v),
    g1(c),
    g1(h),
  ]);
  const n8q = N8;
  const q = new Uint8Array(n8q);
  writeLE(q, 0, curve.q);
  const rBytes = new Uint8Array(N8);
  writeLE(rBytes, 0, r);
  const sG1 = 64;
  const sG2 = 128;
  const grothHeader = [
    u32(n8q),
    q,
    u32(N8),
    rBytes,
    u32(nVars, nPublic, domainSize),
    vkG1.subarray(0, 2 * sG1), // α1, β1
    vkG2.subarray(0, 2 * sG2), // β2, γ2
    vkG1.subarray(2 * sG1), // δ1
    vkG2.subarray(2 * sG2), // δ2
  ];
  // The transcript hash and contribution count of a ceremony-made key: none here.
  const contributions = [new Uint8Array(64), u32(0)];
  const sections: [number, Uint8Array[]][] = [
    [1, [u32(1)]], // Groth16
    [2, grothHeader],
    [3, [sIc]],
    [4, [coefs]],
    [5, [sA]],
    [6, [sB1]],
    [7, [sB2]],
    [8, [sC]],
    [9, [sH]],
    [10, contributions],
  ];
  return { bytes: binFile("zkey", 1, sections), domainSize };
}

/** iden3's binary container: magic, version, section count, then (id u32, size u64, bytes) per section. */
function binFile(magic: string, version: number, sections: [number, Uint8Array[]][]): Uint8Array {
  const parts: Uint8Array[] = [new TextEncoder().encode(magic), u32(version, sections.length)];
  for (const [id, chunks] of sections) {
    const size = chunks.reduce((n, b) => n + b.length, 0);
    const head = new Uint8Array(12);
    const v = new DataView(head.buffer);
    v.setUint32(0, id, true);
    v.setBigUint64(4, BigInt(size), true);
    parts.push(head);
    for (const chunk of chunks) parts.push(chunk);
  }
  return Buffer.concat(parts);
}

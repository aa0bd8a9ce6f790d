import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import * as snarkjs from "snarkjs";
import { ZkmlToolError } from "./errors";
import { sha256File } from "../core/hash";
import { verifyingKeyArgs, verifyingKeyHash } from "./solidity";

/** Default root of generated ZK artefacts (git-ignored). */
export const DEFAULT_ZK_CACHE = ".cache/zk";

/** Options for {@link ensurePtau}. */
export interface EnsurePtauOptions {
  /** log2 of the maximum number of constraints the ceremony supports. */
  power: number;
  /** Cache root; defaults to {@link DEFAULT_ZK_CACHE}. */
  cacheDir?: string;
  /** Number of (random-entropy) contributions before the beacon; at least 2. */
  contributions?: number;
  /** Called with progress lines. */
  log?: (line: string) => void;
}

/** A prepared (phase-2 ready) powers-of-tau file. */
export interface PtauArtifact {
  power: number;
  path: string;
  sha256: string;
  contributions: number;
  beaconHash: string;
  /** Seconds spent generating it (0 when it came from the cache). */
  generationSeconds: number;
}

/** Groth16 per-circuit setup output. */
export interface Groth16Artifact {
  zkeyPath: string;
  vkPath: string;
  vk: snarkjs.VerificationKey;
  /** sha256 of the canonical JSON of the verification key: the `bindings[0]` of a ZK ModeBinding. */
  vkHash: string;
  sha256: { r1cs: string; ptau: string; zkey: string; vk: string };
  generationSeconds: number;
}

const silent: (line: string) => void = () => undefined;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readJsonIfExists<T>(path: string): Promise<T | undefined> {
  if (!(await exists(path))) return undefined;
  return JSON.parse(await readFile(path, "utf8")) as T;
}

async function runTool<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    throw new ZkmlToolError(`snarkjs failed: ${what}`, { cause });
  }
}

function entropy(): string {
  return randomBytes(32).toString("hex");
}

/**
 * Returns a prepared powers-of-tau file for `power`, generating it locally (never downloading) when the cache
 * has none: a new accumulator, `contributions` random contributions, a final beacon, then phase-2 preparation.
 * The result is cached under `<cacheDir>/ptau/` keyed by power, with a manifest holding its sha256.
 *
 * A locally generated ceremony is for development only: whoever ran it knows the toxic waste.
 *
 * @example
 * const ptau = await ensurePtau({ power: 12 });
 */
export async function ensurePtau(options: EnsurePtauOptions): Promise<PtauArtifact> {
  const { power, cacheDir = DEFAULT_ZK_CACHE, contributions = 2, log = silent } = options;
  const dir = join(cacheDir, "ptau");
  const finalPath = join(dir, `pot${power}_final.ptau`);
  const manifestPath = finalPath + ".json";
  const cached = await readJsonIfExists<PtauArtifact>(manifestPath);
  if (cached !== undefined && (await exists(finalPath)) && (await sha256File(finalPath)) === cached.sha256) {
    return { ...cached, path: finalPath, generationSeconds: 0 };
  }
  await mkdir(dir, { recursive: true });
  const started = Date.now();
  const tmp = (i: number | string): string => join(dir, `pot${power}_${i}.${process.pid}.tmp`);
  const curve = await runTool("getCurveFromName", () => snarkjs.curves.getCurveFromName("bn128"));
  try {
    log(`ptau 2^${power}: new accumulator`);
    await runTool("powersOfTau new", () => snarkjs.powersOfTau.newAccumulator(curve, power, tmp(0)));
    for (let i = 1; i <= Math.max(2, contributions); i++) {
      log(`ptau 2^${power}: contribution ${i}`);
      await runTool("powersOfTau contribute", () =>
        snarkjs.powersOfTau.contribute(tmp(i - 1), tmp(i), `dev-${i}`, entropy()),
      );
      await rm(tmp(i - 1));
    }
    const last = Math.max(2, contributions);
    const beaconHash = entropy();
    log(`ptau 2^${power}: beacon`);
    await runTool("powersOfTau beacon", () =>
      snarkjs.powersOfTau.beacon(tmp(last), tmp("beacon"), "dev-beacon", beaconHash, 10),
    );
    await rm(tmp(last));
    log(`ptau 2^${power}: prepare phase 2`);
    await runTool("powersOfTau preparePhase2", () => snarkjs.powersOfTau.preparePhase2(tmp("beacon"), tmp("final")));
    await rm(tmp("beacon"));
    await rename(tmp("final"), finalPath);
    const artifact: PtauArtifact = {
      power,
      path: finalPath,
      sha256: await sha256File(finalPath),
      contributions: last,
      beaconHash,
      generationSeconds: (Date.now() - started) / 1000,
    };
    await writeFile(manifestPath, JSON.stringify(artifact, null, 2));
    return artifact;
  } finally {
    await curve.terminate();
  }
}

/** Options for {@link setupGroth16}. */
export interface SetupGroth16Options {
  r1csPath: string;
  ptau: PtauArtifact;
  /** Directory for the zkey, verification key and Solidity verifier. */
  outDir: string;
  /** Number of random phase-2 contributions before the beacon; at least 2. */
  contributions?: number;
  /**
   * The key's hash recorded as `vkHash`; default {@link verificationKeyHash} (a single-signal key's `bindings[0]`).
   * An N-slot key passes its own (`slotKeyHash` of `slotVerifyingKeyArgs`).
   */
  keyHash?: (vk: snarkjs.VerificationKey) => string;
  /** File names inside `outDir`; default `setup.json`, `circuit_final.zkey`, `verification_key.json`. */
  files?: { manifest: string; zkey: string; vk: string };
  log?: (line: string) => void;
}

const SETUP_FILES = { manifest: "setup.json", zkey: "circuit_final.zkey", vk: "verification_key.json" };

/**
 * Runs the Groth16 circuit-specific setup (phase 2): a new zkey, `contributions` random contributions and a
 * beacon; then exports the verification key, its hash and the Solidity verifier. Reuses `outDir` when its
 * manifest was produced from the same r1cs and ptau (by sha256).
 *
 * @example
 * const art = await setupGroth16({ r1csPath, ptau, outDir: ".cache/zk/models/iris" });
 */
export async function setupGroth16(options: SetupGroth16Options): Promise<Groth16Artifact> {
  const { r1csPath, ptau, outDir, contributions = 2, log = silent } = options;
  const { keyHash = verificationKeyHash, files = SETUP_FILES } = options;
  const manifestPath = join(outDir, files.manifest);
  const r1csHash = await sha256File(r1csPath);
  const cached = await readJsonIfExists<Groth16Artifact>(manifestPath);
  if (
    cached !== undefined &&
    cached.sha256.r1cs === r1csHash &&
    cached.sha256.ptau === ptau.sha256 &&
    (await exists(cached.zkeyPath))
  ) {
    if ((await sha256File(cached.zkeyPath)) === cached.sha256.zkey)
      return { ...cached, vkHash: keyHash(cached.vk), generationSeconds: 0 };
  }
  await mkdir(outDir, { recursive: true });
  const started = Date.now();
  const tmp = (i: number | string): string => join(outDir, `circuit_${i}.${process.pid}.zkey.tmp`);
  log(`zkey: new from ${r1csPath}`);
  await runTool("zkey new", () => snarkjs.zKey.newZKey(r1csPath, ptau.path, tmp(0)));
  const last = Math.max(2, contributions);
  for (let i = 1; i <= last; i++) {
    log(`zkey: contribution ${i}`);
    await runTool("zkey contribute", () => snarkjs.zKey.contribute(tmp(i - 1), tmp(i), `dev-${i}`, entropy()));
    await rm(tmp(i - 1));
  }
  const zkeyPath = join(outDir, files.zkey);
  await runTool("zkey beacon", () => snarkjs.zKey.beacon(tmp(last), zkeyPath, "dev-beacon", entropy(), 10));
  await rm(tmp(last));
  const vk = await runTool("zkey export verificationkey", () => snarkjs.zKey.exportVerificationKey(zkeyPath));
  const vkPath = join(outDir, files.vk);
  await writeFile(vkPath, JSON.stringify(vk, null, 2));
  const artifact: Groth16Artifact = {
    zkeyPath,
    vkPath,
    vk,
    vkHash: keyHash(vk),
    sha256: {
      r1cs: r1csHash,
      ptau: ptau.sha256,
      zkey: await sha256File(zkeyPath),
      vk: await sha256File(vkPath),
    },
    generationSeconds: (Date.now() - started) / 1000,
  };
  await mkdir(dirname(manifestPath), { recursive: true });
  await writeFile(manifestPath, JSON.stringify(artifact, null, 2));
  return artifact;
}

/**
 * The verifying-key hash registered on-chain as a ZK ModeBinding's `bindings[0]`: `verifyingKeyHash` of the key's
 * 18 words, the same value `keccak256(abi.encode(verifyingKey()))` gives for the deployed `Groth16Verifier`.
 */
export function verificationKeyHash(vk: snarkjs.VerificationKey): string {
  return verifyingKeyHash(verifyingKeyArgs(vk));
}

/** Smallest power p (at least 8) with 2^p ≥ the Groth16 domain size needed for `nConstraints` and `nPublic`. */
export function ptauPowerFor(nConstraints: number, nPublic: number): number {
  const needed = nConstraints + nPublic + 1;
  let p = 8;
  while (2 ** p < needed) p++;
  return p;
}

import hre from "hardhat";
import { readFileSync } from "node:fs";
import path from "node:path";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { keccak256 } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { DcapVerifier__factory, type DcapVerifier } from "../../typechain-types";
import {
  createDevelopmentPlatform,
  DEVELOPMENT_QE_MRSIGNER,
  parseQuote,
  pckChain,
  readCertificate,
  TeeType,
  trimQuote,
  type DevelopmentPlatform,
} from "../../src/tee";

const DIR = path.join(__dirname, "..", "fixtures", "tee");

/** A fixture file's bytes exactly as stored (hex, with or without 0x). */
export function fixtureBytes(file: string): Uint8Array {
  return Buffer.from(readFileSync(path.join(DIR, file), "utf8").trim().replace(/^0x/, ""), "hex");
}

/** The real quotes, trimmed to their declared length (see sources.json). */
export const REAL = {
  tdx: trimQuote(fixtureBytes("tdx-v4-phala-tappd.hex")),
  tdxSamePlatform: trimQuote(fixtureBytes("tdx-v4-phala-sample.hex")),
  sgx: trimQuote(fixtureBytes("sgx-v3-automata-ata.hex")),
};

/** Intel's SGX Root CA (DER). */
export const INTEL_ROOT = Buffer.from(
  readFileSync(path.join(DIR, "intel-sgx-root-ca.pem"), "utf8").replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ""),
  "base64",
);

/** Intel's QE identities (sources.json, "collateral"). */
export const INTEL_QE = {
  [TeeType.Tdx]: {
    mrSigner: "0xdc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5",
    isvProdId: 2,
    minIsvSvn: 4,
  },
  [TeeType.Sgx]: {
    mrSigner: "0x8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff",
    isvProdId: 1,
    minIsvSvn: 8,
  },
};

export const DEV_QE = {
  [TeeType.Tdx]: { mrSigner: DEVELOPMENT_QE_MRSIGNER, isvProdId: 2, minIsvSvn: 0 },
  [TeeType.Sgx]: { mrSigner: DEVELOPMENT_QE_MRSIGNER, isvProdId: 1, minIsvSvn: 0 },
};

export const ZERO16 = `0x${"00".repeat(16)}`;
export const POLICY_TTL = 30n * 86_400n;

/** The DER chain of a quote, leaf first. */
export const chainOf = (quote: Uint8Array): Uint8Array[] => pckChain(parseQuote(quote));

export interface DcapFixture {
  verifier: DcapVerifier;
  admin: HardhatEthersSigner;
  stranger: HardhatEthersSigner;
  root: string;
}

/**
 * Deploys a DcapVerifier with root `rootDer`, caches the root, and sets the QE identities and a permissive TCB
 * policy (all-zero minimums, 30 days) for `fmspcs`.
 */
export async function deployDcap(rootDer: Uint8Array, qe: typeof INTEL_QE, fmspcs: string[]): Promise<DcapFixture> {
  const [admin, stranger] = await hre.ethers.getSigners();
  const root = keccak256(rootDer);
  const verifier = await new DcapVerifier__factory(admin!).deploy(admin!.address, root);
  await verifier.verifyCertificate(rootDer, root);
  await verifier.setQeIdentity(TeeType.Tdx, qe[TeeType.Tdx]);
  await verifier.setQeIdentity(TeeType.Sgx, qe[TeeType.Sgx]);
  const validUntil = BigInt(await time.latest()) + POLICY_TTL;
  for (const fmspc of fmspcs) {
    await verifier.setTcbPolicy(`0x${fmspc}`, {
      minSgxTcbSvns: ZERO16,
      minTdxTcbSvns: ZERO16,
      minPceSvn: 0,
      validUntil,
    });
  }
  return { verifier, admin: admin!, stranger: stranger!, root };
}

/** Submits a quote's CA and PCK certificates; returns their cache keys. */
export async function cacheChain(verifier: DcapVerifier, quote: Uint8Array): Promise<{ ca: string; pck: string }> {
  const [pck, ca] = chainOf(quote) as [Uint8Array, Uint8Array];
  await verifier.verifyCertificate(ca, await verifier.rootCertificate());
  await verifier.verifyCertificate(pck, keccak256(ca));
  return { ca: keccak256(ca), pck: keccak256(pck) };
}

/** A verifier rooted at Intel's root with both real platforms' FMSPCs allowed. */
export async function intelFixture(): Promise<DcapFixture> {
  const fmspcs = [REAL.tdx, REAL.sgx].map((q) => readCertificate(chainOf(q)[0]!).pck!.fmspc);
  return deployDcap(INTEL_ROOT, INTEL_QE, fmspcs);
}

/** One development platform for the whole run (key generation is the slow part). */
export const DEV: DevelopmentPlatform = createDevelopmentPlatform();

/** A verifier rooted at the development root. */
export async function devFixture(): Promise<DcapFixture> {
  return deployDcap(DEV.root.der, DEV_QE, [DEV.fmspc]);
}

/** A copy of `bytes` with the byte at `offset` changed. */
export function flip(bytes: Uint8Array, offset: number, mask = 0x01): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[offset] = out[offset]! ^ mask;
  return out;
}

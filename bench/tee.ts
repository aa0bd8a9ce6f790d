/**
 * DCAP quote verification benchmark (`npm run bench:tee`), on the in-process Hardhat network with the P-256
 * precompile (RIP-7212). With the real TDX v4 quotes of test/fixtures/tee (two quotes of one platform) and
 * Intel's root, it measures the gas of each transaction of a cold registration (the platform's CA and PCK
 * certificates verified and cached, then the quote verified and recorded with `DcapVerifier.registerQuote`), of
 * a warm one (another quote of the same platform: chain cached), and the off-chain verification time of
 * `src/tee` `verifyQuote`. Stage 2 adds `submitTee` (a TEE submit with settlement).
 *
 * Run: npm run bench:tee   Writes bench/results/tee.json.
 */
import hre from "hardhat";
import { keccak256 } from "ethers";
import { DcapVerifier__factory } from "../typechain-types";
import { parseQuote, pckChain, readCertificate, TeeType, verifyQuote } from "../src/tee";
import { INTEL_QE, INTEL_ROOT, REAL, ZERO16 } from "../test/tee/fixtures";
import { report, type Row } from "./lib/report";

const TX_CAP = 16_777_216;
const RUNS = 50;

async function gasOf(tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>): Promise<number> {
  return Number((await (await tx).wait())!.gasUsed);
}

async function main(): Promise<void> {
  const [admin] = await hre.ethers.getSigners();
  const [pck, ca] = pckChain(parseQuote(REAL.tdx)) as [Uint8Array, Uint8Array];
  const fmspc = readCertificate(pck).pck!.fmspc;
  const root = keccak256(INTEL_ROOT);
  const verifier = await new DcapVerifier__factory(admin!).deploy(admin!.address, root);
  const rootGas = await gasOf(verifier.verifyCertificate(INTEL_ROOT, root));
  await verifier.setQeIdentity(TeeType.Tdx, INTEL_QE[TeeType.Tdx]);
  const now = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
  await verifier.setTcbPolicy(`0x${fmspc}`, { minSgxTcbSvns: ZERO16, minTdxTcbSvns: ZERO16, minPceSvn: 0, validUntil: now + 30 * 86_400 });

  const cold = {
    ca: await gasOf(verifier.verifyCertificate(ca, root)),
    pck: await gasOf(verifier.verifyCertificate(pck, keccak256(ca))),
    register: await gasOf(verifier.registerQuote(REAL.tdx, keccak256(pck))),
  };
  const warm = await gasOf(verifier.registerQuote(REAL.tdxSamePlatform, keccak256(pck)));
  const coldTotal = cold.ca + cold.pck + cold.register;
  const maxTx = Math.max(rootGas, cold.ca, cold.pck, cold.register, warm);

  const options = { roots: [INTEL_ROOT], qeIdentities: INTEL_QE };
  verifyQuote(REAL.tdx, options); // warm-up
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    verifyQuote(i % 2 === 0 ? REAL.tdx : REAL.tdxSamePlatform, options);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(RUNS / 2)]!;

  const rows: Row[] = [
    { key: "registerCold", value: coldTotal, unit: "gas", target: 1_500_000, note: `fresh chain below the root, 3 transactions: CA ${cold.ca.toLocaleString("en-US")} + PCK ${cold.pck.toLocaleString("en-US")} + registerQuote ${cold.register.toLocaleString("en-US")}` },
    { key: "registerColdCa", value: cold.ca, unit: "gas", target: TX_CAP, note: "verifyCertificate of the PCK Platform CA (shared by Intel platforms: once per deployment)" },
    { key: "registerColdPck", value: cold.pck, unit: "gas", target: TX_CAP, note: "verifyCertificate of the platform's PCK certificate (once per platform)" },
    { key: "registerColdQuote", value: cold.register, unit: "gas", target: TX_CAP, note: "registerQuote right after caching the chain" },
    { key: "registerWarm", value: warm, unit: "gas", target: 300_000, note: "registerQuote of another quote of a platform whose chain is cached (4,936-byte TDX quote in calldata)" },
    { key: "rootCache", value: rootGas, unit: "gas", target: TX_CAP, note: "verifyCertificate of Intel's root (once per deployment)" },
    { key: "maxTransaction", value: maxTx, unit: "gas", target: TX_CAP, note: "largest single transaction above (per-transaction cap 16,777,216)" },
    { key: "quoteVerifyMs", value: median, unit: "ms", note: `off-chain src/tee verifyQuote of a real TDX quote, median of ${RUNS} (chain, QE report, binding, quote signature)` },
  ];
  report("tee", "DCAP quote verification (real Intel TDX v4 quotes, Hardhat network with the RIP-7212 P-256 precompile)", rows, {
    network: hre.network.name,
    quoteBytes: REAL.tdx.length,
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

/**
 * TEE benchmark (`npm run bench:tee`), on the in-process Hardhat network with the P-256 precompile (RIP-7212).
 *
 * Registration. An enclave registers with `TeeVerifier.registerEnclaveWithQuote`, whose quote must bind its keys, the
 * operator and a recent block: real quotes from public sources cannot, so the registration is measured with a
 * development TDX quote (same byte layout, same checks, same signatures: verification costs the same). A node sends
 * the quote without its PEM chain (`withoutPckChain`: nothing signs it and the contract does not read it), which is
 * what `registerWarm` measures; `registerWarmWithChain` sends the quote with the real quote's chain in that field, at
 * the real quote's length. Both are the deployment's first registration: the key, the measurement and the operator's
 * use of it are all new, the dearest case. A cold registration adds the verification of the platform's CA and PCK
 * certificates, measured on the real certificates of test/fixtures/tee under Intel's root (the development ones are
 * smaller, hence cheaper). The DCAP-only rows (`DcapVerifier.registerQuote` of the real quotes) are stage 1's.
 *
 * Submission. `submitTee`: a k = 1 TEE submit with settlement by a quote-registered enclave, steady state (the
 * accounts it credits already hold a balance), 9-byte output, as `bench:gas` measures it.
 *
 * Run: npm run bench:tee   Writes bench/results/tee.json.
 */
import hre from "hardhat";
import { hexlify, keccak256 } from "ethers";
import { DcapVerifier__factory } from "../typechain-types";
import { parseQuote, pckChain, readCertificate, TeeType, verifyQuote, withoutPckChain } from "../src/tee";
import { Mode } from "../src/core/modes";
import { INTEL_QE, INTEL_ROOT, REAL, ZERO16 } from "../test/tee/fixtures";
import { takeSnapshot } from "@nomicfoundation/hardhat-network-helpers";
import { attest, quoteSystemFixture, type Attestation, type QuoteFixture } from "../test/tee/system";
import { requestJob, teeProof } from "../test/fixtures/system";
import { report, type Row } from "./lib/report";

const TX_CAP = 16_777_216;
const RUNS = 50;
/** A compact classifier output, as bench:gas submits (abi.encodePacked(uint8, uint64)). */
const OUTPUT = hexlify(Uint8Array.from([2, 0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00]));

async function gasOf(tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>): Promise<number> {
  return Number((await (await tx).wait())!.gasUsed);
}

/** Stage 1: DcapVerifier alone, with the real quotes under Intel's root. */
async function dcapRows(): Promise<{ rootGas: number; ca: number; pck: number; register: number; warm: number }> {
  const [admin] = await hre.ethers.getSigners();
  const [pck, ca] = pckChain(parseQuote(REAL.tdx)) as [Uint8Array, Uint8Array];
  const fmspc = readCertificate(pck).pck!.fmspc;
  const root = keccak256(INTEL_ROOT);
  const verifier = await new DcapVerifier__factory(admin!).deploy(admin!.address, root);
  const rootGas = await gasOf(verifier.verifyCertificate(INTEL_ROOT, root));
  await verifier.setQeIdentity(TeeType.Tdx, INTEL_QE[TeeType.Tdx]);
  const now = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
  await verifier.setTcbPolicy(`0x${fmspc}`, {
    minSgxTcbSvns: ZERO16,
    minTdxTcbSvns: ZERO16,
    minPceSvn: 0,
    validUntil: now + 30 * 86_400,
  });
  return {
    rootGas,
    ca: await gasOf(verifier.verifyCertificate(ca, root)),
    pck: await gasOf(verifier.verifyCertificate(pck, keccak256(ca))),
    register: await gasOf(verifier.registerQuote(REAL.tdx, keccak256(pck))),
    warm: await gasOf(verifier.registerQuote(REAL.tdxSamePlatform, keccak256(pck))),
  };
}

/** Stage 2: TeeVerifier.registerEnclaveWithQuote and a TEE submit by the enclave it registered. */
async function teeRows(fx: QuoteFixture): Promise<{
  register: number;
  withChain: number;
  renew: number;
  quoteBytes: number;
  sentBytes: number;
  submitTeeCold: number;
  submitTee: number;
}> {
  const { escrow, teeVerifier } = fx.system;
  const node = fx.nodes[0]!;
  const pckChainPem = parseQuote(REAL.tdx).pckChainPem;
  const register1 = async (a: Attestation, strip: boolean) => {
    const [quote, ...rest] = a.args;
    return gasOf(teeVerifier.connect(node).registerEnclaveWithQuote(strip ? withoutPckChain(quote) : quote, ...rest));
  };
  // Each measured from the same state: the deployment's first registration.
  const snapshot = await takeSnapshot();
  const full = await attest(fx, node.address, { pckChainPem });
  if (full.quote.length !== REAL.tdx.length)
    throw new Error(`development quote of ${full.quote.length} bytes, the real one has ${REAL.tdx.length}`);
  const withChain = await register1(full, false);
  await snapshot.restore();
  const first = await attest(fx, node.address, { pckChainPem });
  const register = await register1(first, true);
  const renew = await register1(await attest(fx, node.address, { wallet: first.wallet }), true);

  const submit = async (): Promise<number> => {
    const job = await requestJob(fx, { modelId: fx.attestedModelId, mode: Mode.Tee });
    await escrow.connect(node).claimSlot(job);
    return gasOf(escrow.connect(node).submit(job, OUTPUT, await teeProof(fx, job, OUTPUT, { signer: first.wallet })));
  };
  const submitTeeCold = await submit();
  return {
    register,
    withChain,
    renew,
    quoteBytes: full.quote.length,
    sentBytes: withoutPckChain(first.quote).length,
    submitTeeCold,
    submitTee: await submit(),
  };
}

async function main(): Promise<void> {
  const dcap = await dcapRows();
  const tee = await teeRows(await quoteSystemFixture());
  const coldTotal = dcap.ca + dcap.pck + tee.register;
  const maxTx = Math.max(
    dcap.rootGas,
    dcap.ca,
    dcap.pck,
    dcap.register,
    dcap.warm,
    tee.register,
    tee.withChain,
    tee.renew,
  );

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

  const n = (v: number) => v.toLocaleString("en-US");
  const rows: Row[] = [
    {
      key: "registerCold",
      value: coldTotal,
      unit: "gas",
      target: 1_500_000,
      note: `new platform, 3 transactions: CA ${n(dcap.ca)} + PCK ${n(dcap.pck)} (real certificates) + registerEnclaveWithQuote ${n(tee.register)}`,
    },
    {
      key: "registerWarm",
      value: tee.register,
      unit: "gas",
      target: 300_000,
      note: `registerEnclaveWithQuote, chain cached, new key and measurement (TDX quote without its PEM chain: ${n(tee.sentBytes)} bytes)`,
    },
    {
      key: "registerWarmWithChain",
      value: tee.withChain,
      unit: "gas",
      note: `the same with the quote's PEM field holding a real chain (${n(tee.quoteBytes)} bytes, a real TDX quote's length)`,
    },
    {
      key: "registerRenew",
      value: tee.renew,
      unit: "gas",
      note: "registerEnclaveWithQuote of a key already registered, without the chain (re-attesting renews)",
    },
    {
      key: "submitTee",
      value: tee.submitTee,
      unit: "gas",
      target: 90_000,
      note: "k = 1 TEE submit with settlement by a quote-registered enclave (9-byte output, accounts already credited)",
    },
    {
      key: "submitTeeCold",
      value: tee.submitTeeCold,
      unit: "gas",
      note: "the same, first job of the deployment: node, owner and treasury credited from zero",
    },
    {
      key: "registerColdCa",
      value: dcap.ca,
      unit: "gas",
      target: TX_CAP,
      note: "verifyCertificate of Intel's PCK Platform CA (shared by Intel platforms: once per deployment)",
    },
    {
      key: "registerColdPck",
      value: dcap.pck,
      unit: "gas",
      target: TX_CAP,
      note: "verifyCertificate of a real PCK certificate (once per platform)",
    },
    {
      key: "dcapRegisterQuoteCold",
      value: dcap.register,
      unit: "gas",
      target: TX_CAP,
      note: "DcapVerifier.registerQuote of the real TDX quote right after caching its chain (stage 1)",
    },
    {
      key: "dcapRegisterQuoteWarm",
      value: dcap.warm,
      unit: "gas",
      target: 300_000,
      note: "DcapVerifier.registerQuote of another real quote of the same platform (stage 1's registerWarm)",
    },
    {
      key: "rootCache",
      value: dcap.rootGas,
      unit: "gas",
      target: TX_CAP,
      note: "verifyCertificate of Intel's root (once per deployment)",
    },
    {
      key: "maxTransaction",
      value: maxTx,
      unit: "gas",
      target: TX_CAP,
      note: "largest single transaction above (per-transaction cap 16,777,216)",
    },
    {
      key: "quoteVerifyMs",
      value: median,
      unit: "ms",
      note: `off-chain src/tee verifyQuote of a real TDX quote, median of ${RUNS} (chain, QE report, binding, quote signature)`,
    },
  ];
  report(
    "tee",
    "TEE attestation and submission (Intel TDX v4 quotes, Hardhat network with the RIP-7212 P-256 precompile)",
    rows,
    {
      network: hre.network.name,
      quoteBytes: REAL.tdx.length,
    },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

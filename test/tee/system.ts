import hre from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { keccak256, Wallet, type HDNodeWallet, type Signer } from "ethers";
import { MODEL_PRICE, systemFixture, versionInput, type Fixture } from "../fixtures/system";
import {
  createDevelopmentQuote,
  DevEnclave,
  developmentPlatform,
  enclaveReportData,
  TeeType,
  type DevelopmentPlatform,
  type EnclaveBinding,
} from "../../src/tee";

/** The deployed system (development DCAP root) with a second model whose version 1 binds the development TD. */
export interface QuoteFixture extends Fixture {
  /** Model 2: version 1 accepts TEE results from enclaves whose quotes report `DevEnclave.TD_MEASUREMENTS`. */
  attestedModelId: bigint;
  /** keccak256 of the development PCK certificate, cached by the fixture with its CA. */
  pckCertificate: string;
}

/** `systemFixture`, plus the attested model and the development chain cached below the deployment's root. */
export async function quoteSystemFixture(): Promise<QuoteFixture> {
  const fx = await systemFixture();
  const { registry, dcapVerifier } = fx.system;
  await registry
    .connect(fx.owner)
    .createModelAndPublish(MODEL_PRICE, versionInput("attested-model-weights", [DevEnclave.TD_MEASUREMENT]));
  const platform = developmentPlatform();
  await dcapVerifier.verifyCertificate(platform.ca.der, await dcapVerifier.rootCertificate());
  await dcapVerifier.verifyCertificate(platform.pck.der, keccak256(platform.ca.der));
  return { ...fx, attestedModelId: 2n, pckCertificate: keccak256(platform.pck.der) };
}

/** The quote fixture restored from its snapshot, one block later (see `loadSystem`). */
export async function loadQuoteSystem(): Promise<QuoteFixture> {
  const fx = await loadFixture(quoteSystemFixture);
  await mine();
  return fx;
}

/** An enclave key and the quote that binds it. */
export interface Attestation {
  /** The enclave's signing key (pass it as `signer` to `teeProof`). */
  wallet: HDNodeWallet;
  enclave: DevEnclave;
  binding: EnclaveBinding;
  quote: Uint8Array;
  /** The arguments of `registerEnclaveWithQuote`. */
  args: [Uint8Array, string, string, string, bigint];
}

export interface AttestOptions {
  /** The enclave's key (default: a new one). */
  wallet?: HDNodeWallet;
  /** Fields of the binding the quote commits to that differ from the honest ones (an attack). */
  binding?: Partial<EnclaveBinding>;
  /** The anchor block passed to the contract (default: the binding's). */
  anchorBlock?: bigint;
  /** MRTD ‖ RTMR0..3 (default: `DevEnclave.TD_MEASUREMENTS`). */
  measurements?: Uint8Array;
  platform?: DevelopmentPlatform;
  debug?: boolean;
  /** The PEM text of the quote's certification data, which nothing reads on-chain (default: the platform's). */
  pckChainPem?: string;
}

/**
 * A development TDX quote of an enclave for `operator`, anchored at the block before the latest, and the arguments that register
 * it. `options.binding` makes the quote bind something else than what the contract will check.
 */
export async function attest(fx: Fixture, operator: string, options: AttestOptions = {}): Promise<Attestation> {
  const wallet = options.wallet ?? Wallet.createRandom();
  const enclave = new DevEnclave(wallet.privateKey);
  // One block back: eth_call and eth_estimateGas at "latest" run in the latest block, which cannot anchor itself.
  const anchor = (await hre.ethers.provider.getBlock((await hre.ethers.provider.getBlockNumber()) - 1))!;
  const honest: EnclaveBinding = {
    signer: wallet.address,
    hpkePublicKey: enclave.hpkePublicKey,
    operator,
    chainId: (await hre.ethers.provider.getNetwork()).chainId,
    verifier: await fx.system.teeVerifier.getAddress(),
    anchorBlock: BigInt(anchor.number),
    anchorBlockHash: anchor.hash!,
  };
  const binding = { ...honest, ...options.binding };
  const platform = options.platform ?? developmentPlatform();
  const quote = createDevelopmentQuote(platform, {
    teeType: TeeType.Tdx,
    reportData: enclaveReportData(binding),
    measurements: options.measurements ?? DevEnclave.TD_MEASUREMENTS,
    debug: options.debug ?? false,
    ...(options.pckChainPem === undefined ? {} : { pckChainPem: options.pckChainPem }),
  });
  const args: Attestation["args"] = [
    quote,
    keccak256(platform.pck.der),
    honest.signer,
    honest.hpkePublicKey,
    options.anchorBlock ?? honest.anchorBlock,
  ];
  return { wallet, enclave, binding, quote, args };
}

/** Attests an enclave for `node` and registers it with its quote; returns the attestation. */
export async function registerWithQuote(fx: Fixture, node: Signer, options: AttestOptions = {}): Promise<Attestation> {
  const attestation = await attest(fx, await node.getAddress(), options);
  await (await fx.system.teeVerifier.connect(node).registerEnclaveWithQuote(...attestation.args)).wait();
  return attestation;
}

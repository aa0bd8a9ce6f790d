import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { getBytes, keccak256, toUtf8Bytes, Wallet, type TypedDataDomain } from "ethers";
import { PRIVATE_RESULT_TYPES, type PrivateResultMessage } from "../core/private";
import { RECEIPT_TYPES, type Receipt } from "../core/receipts";
import { openInput, type SealedOpening } from "../core/sealed";
import { signInferenceResult, type InferenceResultMessage } from "../core/tee";
import { enclaveReportData, type EnclaveBinding } from "./binding";
import { createDevelopmentQuote, developmentPlatform, type DevelopmentPlatform } from "./dev";
import { TeeType } from "./quote";

/** What {@link DevEnclave.attest} returns: a quote and the certificates a `DcapVerifier` needs to verify it. */
export interface DevelopmentAttestation {
  quote: Uint8Array;
  /** keccak256 of the PCK certificate's DER: the `pckCertificate` of `registerEnclaveWithQuote`. */
  pckCertificate: string;
  /** The chain below the root, to cache with `verifyCertificate` if it is not yet. */
  ca: Uint8Array;
  pck: Uint8Array;
}

/** MRTD ‖ RTMR0..3 of development quotes: labelled SHA-384 hashes, never a real TD's. */
function developmentTdMeasurements(): Uint8Array {
  const register = (name: string) =>
    createHash("sha384").update(`DEVELOPMENT-ONLY TD ${name}, no attestation`).digest();
  return Buffer.concat(["MRTD", "RTMR0", "RTMR1", "RTMR2", "RTMR3"].map(register));
}

/**
 * DEVELOPMENT ONLY. An "enclave" that keeps its signing and HPKE keys in this ordinary process. It lets the TEE mode
 * run end to end without TEE hardware, and proves nothing: anyone with access to the process (or its memory) can
 * sign any result, and its quotes ({@link DevEnclave.attest}) come from the development platform, whose keys are
 * public. Its measurements are fixed, public tags so that no production model version would ever accept it by
 * accident.
 */
export class DevEnclave {
  /** The measurement a model version must accept for this enclave when the (deprecated) attestor registers it. */
  static readonly MEASUREMENT = keccak256(toUtf8Bytes("DEVELOPMENT-ONLY enclave, no attestation, v1"));
  /** MRTD ‖ RTMR0..3 (240 bytes) its development TDX quotes report. */
  static readonly TD_MEASUREMENTS: Uint8Array = developmentTdMeasurements();
  /**
   * keccak256 of {@link DevEnclave.TD_MEASUREMENTS}: the measurement `registerEnclaveWithQuote` records for it, which a
   * model version must bind to accept it.
   */
  static readonly TD_MEASUREMENT = keccak256(DevEnclave.TD_MEASUREMENTS);

  private readonly key: Wallet;
  private readonly hpke: KeyObject;

  constructor(privateKey?: string) {
    this.key = privateKey === undefined ? (Wallet.createRandom() as unknown as Wallet) : new Wallet(privateKey);
    // X25519 private key (RFC 8410 PKCS#8) derived from the signing key: one secret to keep.
    const seed = createHash("sha256")
      .update("DEVELOPMENT-ONLY enclave HPKE key")
      .update(getBytes(this.key.privateKey))
      .digest();
    this.hpke = createPrivateKey({
      key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), seed]),
      format: "der",
      type: "pkcs8",
    });
  }

  /** The enclave's public signing address. */
  get address(): string {
    return this.key.address;
  }

  /** The enclave's X25519 HPKE public key (32 bytes, 0x hex). */
  get hpkePublicKey(): string {
    return `0x${Buffer.from(createPublicKey(this.hpke).export({ format: "jwk" }).x!, "base64url").toString("hex")}`;
  }

  /**
   * The raw X25519 private key (32 bytes) behind {@link DevEnclave.hpkePublicKey}, for the OHTTP gateway and the
   * sealed-input decryption that run in this same (enclave) process. It must never be written out or sent.
   */
  hpkePrivateKey(): Uint8Array {
    return new Uint8Array(Buffer.from(this.hpke.export({ format: "jwk" }).d!, "base64url"));
  }

  /** Signs the receipt of a private inference its gateway served (see `src/core/private.ts`). */
  signPrivateResult(domain: TypedDataDomain, message: PrivateResultMessage): Promise<string> {
    return this.key.signTypedData(domain, PRIVATE_RESULT_TYPES, message);
  }

  /**
   * Signs an inference receipt (core/receipts `InferenceReceipt`) of an answer its chat API served: what a
   * ReceiptSettlement batch carries and a client checks.
   */
  signReceipt(domain: TypedDataDomain, receipt: Receipt): Promise<string> {
    return this.key.signTypedData(domain, RECEIPT_TYPES, receipt);
  }

  /**
   * Opens a sealed job input addressed to the node this enclave serves, with the enclave's HPKE key: the key is used
   * here and never handed out (see `openInput` for what each failure throws).
   * @example const input = await enclave.openSealed({ envelope: job.input, node: operator, context });
   */
  openSealed(opening: SealedOpening): Promise<Uint8Array> {
    return openInput({ ...opening, privateKey: this.hpkePrivateKey() });
  }

  /** Signs a result; the signature is the `proof` of a TEE-mode submission. */
  sign(domain: TypedDataDomain, message: InferenceResultMessage): Promise<string> {
    return signInferenceResult(this.key, domain, message);
  }

  /**
   * A development TDX quote whose report data binds this enclave's keys to `context` (operator, chain, verifier,
   * anchor block): what `registerEnclaveWithQuote` takes. DEVELOPMENT ONLY: it proves nothing.
   *
   * @example
   * const { quote, pckCertificate } = enclave.attest({ operator, chainId, verifier, anchorBlock, anchorBlockHash });
   * await teeVerifier.registerEnclaveWithQuote(quote, pckCertificate, enclave.address, enclave.hpkePublicKey, anchorBlock);
   */
  attest(
    context: Omit<EnclaveBinding, "signer" | "hpkePublicKey">,
    platform: DevelopmentPlatform = developmentPlatform(),
  ): DevelopmentAttestation {
    const reportData = enclaveReportData({ ...context, signer: this.address, hpkePublicKey: this.hpkePublicKey });
    return {
      quote: createDevelopmentQuote(platform, {
        teeType: TeeType.Tdx,
        reportData,
        measurements: DevEnclave.TD_MEASUREMENTS,
      }),
      pckCertificate: keccak256(platform.pck.der),
      ca: platform.ca.der,
      pck: platform.pck.der,
    };
  }
}

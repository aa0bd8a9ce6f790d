import { keccak256, toUtf8Bytes, Wallet, type TypedDataDomain } from "ethers";
import { signInferenceResult, type InferenceResultMessage } from "../core/tee";

/**
 * DEVELOPMENT ONLY. An "enclave" that keeps its signing key in this ordinary process. It lets the TEE mode run
 * end to end before hardware attestation lands, and proves nothing: anyone with access to the process (or its
 * memory) can sign any result. Its measurement is a fixed, public tag so that no production model version
 * would ever accept it by accident.
 */
export class DevEnclave {
  /** The measurement a model version must accept for results of this development enclave. */
  static readonly MEASUREMENT = keccak256(toUtf8Bytes("DEVELOPMENT-ONLY enclave, no attestation, v1"));

  private readonly key: Wallet;

  constructor(privateKey?: string) {
    this.key = privateKey === undefined ? Wallet.createRandom() as unknown as Wallet : new Wallet(privateKey);
  }

  /** The enclave's public signing address, registered on-chain by the attestor. */
  get address(): string {
    return this.key.address;
  }

  /** Signs a result; the signature is the `proof` of a TEE-mode submission. */
  sign(domain: TypedDataDomain, message: InferenceResultMessage): Promise<string> {
    return signInferenceResult(this.key, domain, message);
  }
}

import { expect } from "chai";
import { hexlify, Wallet } from "ethers";
import { governor, loadSystem } from "../fixtures/system";
import { DEFAULT_SYMMETRIC, decodeKeyConfig, encodeKeyConfig, OhttpMalformedError } from "../../src/ohttp";
import { ENCLAVE_KEY_ID, enclaveKeyConfig, enclaveKeyConfigHash } from "../../src/ohttp/enclave-key";
import { DevEnclave } from "../../src/tee";
import { sha256Hex } from "../../src/core/hash";

describe("ohttp: an enclave's key configuration (issue #13)", () => {
  it("is what TeeVerifier.ohttpKeyConfig returns for a registered development enclave, and so is its hash", async () => {
    const fx = await loadSystem();
    const { teeVerifier } = fx.system;
    const { hpkePublicKey } = await teeVerifier.enclaveOf(fx.enclave.address);
    expect(hpkePublicKey).to.equal(new DevEnclave(fx.enclave.privateKey).hpkePublicKey);
    const encoded = encodeKeyConfig(enclaveKeyConfig(hpkePublicKey));
    expect(await teeVerifier.ohttpKeyConfig(fx.enclave.address)).to.equal(hexlify(encoded));
    expect(await teeVerifier.ohttpKeyConfigHash(fx.enclave.address)).to.equal(enclaveKeyConfigHash(hpkePublicKey));
    expect(enclaveKeyConfigHash(hpkePublicKey)).to.equal(sha256Hex(encoded));
  });

  it("is recorded by the registration's EnclaveAttested event", async () => {
    const fx = await loadSystem();
    const { teeVerifier } = fx.system;
    const [log] = await teeVerifier.queryFilter(teeVerifier.filters.EnclaveAttested(fx.enclave.address));
    const { hpkePublicKey } = await teeVerifier.enclaveOf(fx.enclave.address);
    expect(log!.args.keyConfigHash).to.equal(enclaveKeyConfigHash(hpkePublicKey));
  });

  it("is key identifier 1, X25519, the key, then HKDF-SHA256 with AES-128-GCM and with ChaCha20-Poly1305: 45 bytes", () => {
    const key = new DevEnclave(Wallet.createRandom().privateKey).hpkePublicKey;
    const encoded = encodeKeyConfig(enclaveKeyConfig(key));
    expect(hexlify(encoded)).to.equal(`0x010020${key.slice(2)}00080001000100010003`);
    expect(decodeKeyConfig(encoded)).to.deep.equal({
      keyId: ENCLAVE_KEY_ID,
      kemId: 0x20,
      publicKey: new Uint8Array(Buffer.from(key.slice(2), "hex")),
      symmetric: [...DEFAULT_SYMMETRIC],
    });
  });

  it("refuses a key that is not 32 bytes of hex with OhttpMalformedError", () => {
    for (const bad of [
      "",
      "0x",
      `0x${"ab".repeat(31)}`,
      `0x${"ab".repeat(33)}`,
      `${"ab".repeat(32)}`,
      `0x${"zz".repeat(32)}`,
    ])
      expect(() => enclaveKeyConfigHash(bad), bad).to.throw(OhttpMalformedError, /64 hex digits/);
  });

  it("TeeVerifier reverts with TeeVerifierUnknownEnclave for an unknown signer", async () => {
    const fx = await loadSystem();
    const { teeVerifier } = fx.system;
    const unknown = Wallet.createRandom().address;
    await expect(teeVerifier.ohttpKeyConfig(unknown))
      .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierUnknownEnclave")
      .withArgs(unknown);
    await expect(teeVerifier.ohttpKeyConfigHash(unknown))
      .to.be.revertedWithCustomError(teeVerifier, "TeeVerifierUnknownEnclave")
      .withArgs(unknown);
  });

  it("TeeVerifier still returns a revoked enclave's configuration (clients check enclaveOf)", async () => {
    const fx = await loadSystem();
    const { teeVerifier } = fx.system;
    const before = await teeVerifier.ohttpKeyConfig(fx.enclave.address);
    await teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address);
    expect((await teeVerifier.enclaveOf(fx.enclave.address)).revoked).to.equal(true);
    expect(await teeVerifier.ohttpKeyConfig(fx.enclave.address)).to.equal(before);
  });
});

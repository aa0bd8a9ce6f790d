import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { getBytes, keccak256, Wallet } from "ethers";
import {
  createDevelopmentQuote,
  DevEnclave,
  developmentPlatform,
  developmentRootDer,
  enclaveBindingHash,
  enclaveReportData,
  ENCLAVE_BINDING_TYPES,
  intelRootDer,
  measurementHash,
  parseQuote,
  pckChain,
  quoteFacts,
  TeeQuoteError,
  TeeType,
  verifyQuote,
  withoutPckChain,
} from "../../src/tee";
import { cacheChain, DEV_QE, INTEL_ROOT, intelFixture, REAL, type DcapFixture } from "./fixtures";
import { DcapVerifier__factory } from "../../typechain-types";

/** keccak256 of the stable development root: what a local deployment's DcapVerifier is rooted at. */
const DEVELOPMENT_ROOT = "0xff482827366164c5bb65d4f3c83537ae8208b1c3bd826707252436e76288175c";

const BINDING = {
  signer: Wallet.createRandom().address,
  hpkePublicKey: keccak256("0x01"),
  operator: Wallet.createRandom().address,
  chainId: 31337n,
  verifier: Wallet.createRandom().address,
  anchorBlock: 7n,
  anchorBlockHash: keccak256("0x02"),
};

describe("src/tee: development platform, enclave binding, quotes without their chain", () => {
  describe("developmentPlatform", () => {
    it("is the same chain in every process: the root's cache key is fixed", () => {
      expect(keccak256(developmentRootDer())).to.equal(DEVELOPMENT_ROOT);
      const platform = developmentPlatform();
      const [pck, ca, root] = pckChain(
        parseQuote(createDevelopmentQuote(platform, { teeType: TeeType.Tdx, reportData: new Uint8Array(64) })),
      );
      expect([pck, ca, root].map((c) => keccak256(c!))).to.deep.equal([
        keccak256(platform.pck.der),
        keccak256(platform.ca.der),
        DEVELOPMENT_ROOT,
      ]);
    });

    it("produces quotes that verify under the development root only", () => {
      const quote = createDevelopmentQuote(developmentPlatform(), {
        teeType: TeeType.Tdx,
        reportData: new Uint8Array(64).fill(3),
      });
      expect(verifyQuote(quote, { roots: [developmentRootDer()], qeIdentities: DEV_QE }).pckCertificate).to.equal(
        keccak256(developmentPlatform().pck.der),
      );
      expect(() => verifyQuote(quote, { roots: [intelRootDer()], qeIdentities: DEV_QE })).to.throw(
        TeeQuoteError,
        "DcapCertificateSignatureInvalid",
      );
    });

    it("keeps Intel's root as the test fixture has it", () => {
      expect(Buffer.from(intelRootDer()).equals(Buffer.from(INTEL_ROOT))).to.equal(true);
    });
  });

  describe("enclaveReportData", () => {
    it("is the EIP-712 struct hash of the binding followed by 32 zero bytes", () => {
      const data = enclaveReportData(BINDING);
      expect(data.length).to.equal(64);
      expect(keccak256(data.subarray(0, 32))).to.equal(keccak256(getBytes(enclaveBindingHash(BINDING))));
      expect(data.subarray(32).every((b) => b === 0)).to.equal(true);
      const encoded = hre.ethers.AbiCoder.defaultAbiCoder().encode(
        ["bytes32", "address", "bytes32", "address", "uint256", "address", "uint256", "bytes32"],
        [
          keccak256(
            Buffer.from(
              "EnclaveBinding(address signer,bytes32 hpkePublicKey,address operator,uint256 chainId,address verifier,uint256 anchorBlock,bytes32 anchorBlockHash)",
            ),
          ),
          BINDING.signer,
          BINDING.hpkePublicKey,
          BINDING.operator,
          BINDING.chainId,
          BINDING.verifier,
          BINDING.anchorBlock,
          BINDING.anchorBlockHash,
        ],
      );
      expect(enclaveBindingHash(BINDING)).to.equal(keccak256(encoded));
      expect(ENCLAVE_BINDING_TYPES.EnclaveBinding!.map((f) => f.name)).to.deep.equal([
        "signer",
        "hpkePublicKey",
        "operator",
        "chainId",
        "verifier",
        "anchorBlock",
        "anchorBlockHash",
      ]);
    });

    it("changes with every field", () => {
      const base = enclaveBindingHash(BINDING);
      const changed = [
        { signer: BINDING.operator },
        { hpkePublicKey: keccak256("0x03") },
        { operator: BINDING.signer },
        { chainId: 1n },
        { verifier: BINDING.signer },
        { anchorBlock: 8n },
        { anchorBlockHash: keccak256("0x04") },
      ];
      for (const change of changed) expect(enclaveBindingHash({ ...BINDING, ...change })).to.not.equal(base);
    });

    it("measurementHash is keccak256 of MRTD ‖ RTMR0..3 or MRENCLAVE ‖ MRSIGNER, and refuses other lengths", () => {
      expect(measurementHash(DevEnclave.TD_MEASUREMENTS)).to.equal(DevEnclave.TD_MEASUREMENT);
      expect(DevEnclave.TD_MEASUREMENTS.length).to.equal(240);
      expect(() => measurementHash(new Uint8Array(48))).to.throw(RangeError);
    });
  });

  describe("DevEnclave.attest", () => {
    it("quotes its development TD with report data binding its keys and the context", () => {
      const enclave = new DevEnclave();
      const context = {
        operator: BINDING.operator,
        chainId: 5n,
        verifier: BINDING.verifier,
        anchorBlock: 9n,
        anchorBlockHash: BINDING.anchorBlockHash,
      };
      const { quote, pckCertificate } = enclave.attest(context);
      const facts = verifyQuote(quote, { roots: [developmentRootDer()], qeIdentities: DEV_QE });
      expect(facts.measurementHash).to.equal(DevEnclave.TD_MEASUREMENT);
      expect(facts.pckCertificate).to.equal(pckCertificate);
      expect(
        Buffer.from(facts.reportData).equals(
          Buffer.from(enclaveReportData({ ...context, signer: enclave.address, hpkePublicKey: enclave.hpkePublicKey })),
        ),
      ).to.equal(true);
    });

    it("derives a stable 32-byte HPKE key from its signing key", () => {
      const key = Wallet.createRandom().privateKey;
      const [a, b] = [new DevEnclave(key), new DevEnclave(key)];
      expect(a.hpkePublicKey).to.equal(b.hpkePublicKey);
      expect(getBytes(a.hpkePublicKey).length).to.equal(32);
      expect(new DevEnclave().hpkePublicKey).to.not.equal(a.hpkePublicKey);
    });
  });

  describe("withoutPckChain", () => {
    it("drops the PEM chain and keeps every signed byte: the same facts off-chain", () => {
      for (const quote of [REAL.tdx, REAL.sgx]) {
        const stripped = withoutPckChain(quote);
        const [full, short] = [parseQuote(quote), parseQuote(stripped)];
        expect(short.pckChainPem).to.equal("");
        expect(stripped.length).to.equal(quote.length - full.pckChainPem.length);
        expect(quoteFacts(short)).to.deep.equal(quoteFacts(full));
        expect(Buffer.from(short.qeAuthData).equals(Buffer.from(full.qeAuthData))).to.equal(true);
        expect(() => pckChain(short)).to.throw(TeeQuoteError, "DcapPckChainMissing");
      }
    });

    it("verifies on-chain with the same result as the full quote", async () => {
      const fx: DcapFixture = await loadFixture(intelFixture);
      const tdx = await cacheChain(fx.verifier, REAL.tdx);
      const sgx = await cacheChain(fx.verifier, REAL.sgx);
      for (const [quote, pck] of [
        [REAL.tdx, tdx.pck],
        [REAL.sgx, sgx.pck],
      ] as const) {
        const [full, short] = [
          await fx.verifier.verifyQuote(quote, pck),
          await fx.verifier.verifyQuote(withoutPckChain(quote), pck),
        ];
        expect([...short]).to.deep.equal([...full]);
      }
    });

    it("is what a local deployment's root accepts: a DcapVerifier rooted at the development root caches it", async () => {
      const [admin] = await hre.ethers.getSigners();
      const verifier = await new DcapVerifier__factory(admin!).deploy(admin!.address, DEVELOPMENT_ROOT);
      await expect(verifier.verifyCertificate(developmentRootDer(), DEVELOPMENT_ROOT)).to.emit(
        verifier,
        "CertificateVerified",
      );
    });
  });
});

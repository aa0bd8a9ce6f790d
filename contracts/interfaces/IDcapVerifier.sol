// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IDcapVerifier
/// @notice Verifies Intel DCAP ECDSA quotes (version 3 for SGX, version 4 for SGX and TDX) on-chain, with the
/// P-256 precompile at address 0x100 (RIP-7212 / EIP-7951).
///
/// A quote is verified in two steps, which may be separate transactions:
/// 1. `verifyCertificate`, once per certificate (anyone may call it): the platform's PCK certificate chain is
///    checked link by link up to the root CA fixed at deployment (Intel's SGX Root CA on real networks, a local
///    test root in development) and each certificate is cached by the keccak256 of its DER encoding.
/// 2. `verifyQuote` (view) or `registerQuote` (records the result), naming the cached PCK certificate: the quote's
///    header and report body are parsed with bounds checks, the quote signature is checked with the attestation
///    key, the QE report signature with the PCK key, the QE report data must commit to the attestation key and
///    the QE authentication data, the QE identity and the platform's TCB must meet the governance policy, and
///    every certificate of the chain must still be unrevoked and within its validity period.
///
/// What is verified: every signature from the quote up to the root; the QE report data binding; certificate
/// validity periods against `block.timestamp`; that CAs are marked CA (basicConstraints) and PCK leaves carry
/// Intel's SGX extension (FMSPC, PCE id, TCB component SVNs, PCE SVN); that neither the enclave nor the QE runs
/// in debug mode; the QE's MRSIGNER, ISVPRODID and minimum ISVSVN; the platform TCB against a per-FMSPC minimum.
///
/// @dev Warning: what is NOT verified on-chain. Intel's signed TCB info and QE identity JSON (and their signing
/// certificate) are not parsed: governance transcribes accepted TCB minimums per FMSPC and the QE identity into
/// `setTcbPolicy` / `setQeIdentity`, and is trusted to do so faithfully. Intel's CRLs are not parsed: governance
/// revokes certificates one by one (`revokeCertificate`), so a certificate Intel revoked stays accepted until
/// governance acts. TCB levels are compared component by component against a minimum; Intel's TDX module
/// identity rules (TEE_TCB_SVN index shifts for TDX module 2.x) and TCB statuses such as
/// "SWHardeningNeeded"/"ConfigurationNeeded" are not modelled. The PEM chain embedded in a quote is not read
/// (it is not signed by anything): the caller names the cached PCK certificate instead, and the QE report
/// signature proves that certificate's key signed this quote's QE report.
/// @dev Warning: a verified quote proves that hardware with an Intel-certified key produced it for the measured
/// software and report data, as far as the hardware itself is sound; physical attacks on memory buses
/// (interposers) and extracted platform keys defeat it. Replay protection (a nonce or recent block hash in
/// the report data) is the caller's to check: the same quote verifies any number of times.
interface IDcapVerifier {
    /// @notice The trusted execution environment that produced a quote.
    enum TeeType {
        Sgx,
        Tdx
    }

    /// @notice A cached, verified certificate.
    /// @dev Packing: `notBefore` .. `pceSvn` share one slot; 7 slots in all, the minimum for 204 bytes.
    // solhint-disable-next-line gas-struct-packing
    struct Certificate {
        /// @notice The cache key (keccak256 of the DER) of the issuer; the root's own key for the root.
        bytes32 issuer;
        /// @notice keccak256 of the subject Name's DER encoding (its issuer name in children must match).
        bytes32 subjectNameHash;
        /// @notice `revocationId(issuer name hash, serial number)`.
        bytes32 revocationId;
        uint64 notBefore;
        uint64 notAfter;
        /// @notice 0 for the root, 1 for an intermediate CA, 2 for a PCK leaf.
        uint8 depth;
        bool isCa;
        /// @notice PCK leaves only: the platform's FMSPC, PCE id and PCE SVN from Intel's SGX extension.
        bytes6 fmspc;
        bytes2 pceId;
        uint16 pceSvn;
        /// @notice PCK leaves only: the 16 SGX TCB component SVNs, component 1 in the first byte.
        bytes16 sgxTcbSvns;
        /// @notice The P-256 public key (affine coordinates).
        bytes32 keyX;
        bytes32 keyY;
    }

    /// @notice The minimum TCB accepted for one FMSPC, and until when (governance must renew it, as Intel's
    /// TCB info has a next-update date).
    struct TcbPolicy {
        /// @notice Per-component minimum of the PCK certificate's SGX TCB component SVNs.
        bytes16 minSgxTcbSvns;
        /// @notice Per-component minimum of a TDX report's TEE_TCB_SVN (ignored for SGX quotes).
        bytes16 minTdxTcbSvns;
        uint16 minPceSvn;
        uint64 validUntil;
    }

    /// @notice The quoting enclave accepted for one TEE type (from Intel's signed QE identity).
    struct QeIdentity {
        bytes32 mrSigner;
        uint16 isvProdId;
        uint16 minIsvSvn;
    }

    /// @notice The facts a verified quote establishes.
    // A returned memory struct: packing does not matter.
    // solhint-disable-next-line gas-struct-packing
    struct VerifiedQuote {
        uint16 version;
        TeeType teeType;
        /// @notice TDX: MRTD ‖ RTMR0 ‖ RTMR1 ‖ RTMR2 ‖ RTMR3 (5 × 48 bytes); SGX: MRENCLAVE ‖ MRSIGNER (2 × 32).
        bytes measurements;
        /// @notice keccak256(measurements): the value a measurement policy lists.
        bytes32 measurementHash;
        /// @notice The 64 bytes the enclave or TD chose to bind (its keys, a nonce...).
        bytes reportData;
        /// @notice TDX: TD_ATTRIBUTES; SGX: the low 8 bytes (flags) of ATTRIBUTES. Debug is always clear.
        bytes8 attributes;
        /// @notice TDX: TEE_TCB_SVN; zero for SGX.
        bytes16 teeTcbSvn;
        /// @notice SGX: the enclave's ISVPRODID and ISVSVN; zero for TDX.
        uint16 isvProdId;
        uint16 isvSvn;
        uint16 qeSvn;
        bytes6 fmspc;
        bytes2 pceId;
        uint16 pceSvn;
        bytes16 sgxTcbSvns;
        /// @notice The cached PCK certificate whose key signed the QE report.
        bytes32 pckCertificate;
        /// @notice sha256 of the attestation key (x ‖ y) that signed the quote.
        bytes32 attestationKeyHash;
    }

    /// @notice Emitted when a certificate is verified and cached (the root at deployment too).
    event CertificateVerified(
        bytes32 indexed certificate, bytes32 indexed issuer, bytes32 indexed revocationId, uint8 depth, uint64 notAfter
    );
    /// @notice Emitted when governance revokes a certificate (whether or not it is cached).
    event CertificateRevoked(bytes32 indexed revocationId, bytes32 indexed issuerNameHash, bytes serialNumber);
    /// @notice Emitted when governance sets (or, with `validUntil` zero, removes) the TCB policy of an FMSPC.
    event TcbPolicySet(bytes6 indexed fmspc, TcbPolicy policy);
    /// @notice Emitted when governance sets the accepted quoting enclave of a TEE type.
    event QeIdentitySet(TeeType indexed teeType, QeIdentity identity);
    /// @notice Emitted by `registerQuote`.
    event QuoteRegistered(
        bytes32 indexed quoteHash,
        bytes32 indexed pckCertificate,
        bytes32 indexed measurementHash,
        TeeType teeType,
        bytes reportData
    );

    // Parsing (quote): a malformed quote reverts with one of these, never a panic.
    /// @notice The quote (or a length it declares) needs `needed` bytes but has `length`.
    error DcapQuoteTruncated(uint256 length, uint256 needed);
    /// @notice The quote has `length` bytes but its declared signature data ends at `declared`.
    error DcapQuoteLengthMismatch(uint256 length, uint256 declared);
    /// @notice Only versions 3 (SGX) and 4 (SGX, TDX) are supported.
    error DcapQuoteUnsupportedVersion(uint16 version);
    /// @notice Only ECDSA P-256 attestation keys (type 2) are supported.
    error DcapQuoteUnsupportedKeyType(uint16 keyType);
    /// @notice Only SGX (0) and TDX (0x81) are supported, and version 3 is SGX only.
    error DcapQuoteUnsupportedTeeType(uint16 version, uint32 teeType);
    /// @notice The QE vendor is not Intel.
    error DcapQuoteUnsupportedVendor(bytes16 vendorId);
    /// @notice The certification data is not of the expected type (6 around the QE report in v4, 5 = PEM chain).
    error DcapQuoteUnsupportedCertificationData(uint16 certificationType, uint16 expected);

    // Parsing (certificates).
    /// @notice The DER at `offset` is malformed (bad length, truncated, or not the expected `tag`).
    error DcapCertificateMalformed(uint256 offset, uint8 tag);
    /// @notice The certificate is not signed with ecdsa-with-SHA256 or its key is not an uncompressed P-256 point.
    error DcapCertificateUnsupportedAlgorithm();
    /// @notice A validity time is not a well-formed UTCTime or GeneralizedTime.
    error DcapCertificateMalformedTime(uint256 offset);
    /// @notice A leaf (non-CA) certificate lacks Intel's SGX extension or one of its required fields.
    error DcapPckExtensionMissing(bytes32 certificate);

    // Chain.
    /// @notice `certificate` is not cached (verify it with `verifyCertificate` first).
    error DcapCertificateUnknown(bytes32 certificate);
    /// @notice `certificate`'s signature does not verify with `issuer`'s key.
    error DcapCertificateSignatureInvalid(bytes32 certificate, bytes32 issuer);
    /// @notice `certificate` cannot be issued by `issuer`: names differ, the issuer is not a CA, or the path is
    /// not root → CA → PCK.
    error DcapCertificatePathInvalid(bytes32 certificate, bytes32 issuer);
    /// @notice `certificate` is not valid at `timestamp` (valid from `notBefore` to `notAfter`, inclusive).
    error DcapCertificateExpired(bytes32 certificate, uint64 notBefore, uint64 notAfter, uint256 timestamp);
    /// @notice `certificate` (or its issuer) was revoked by governance.
    error DcapCertificateRevoked(bytes32 certificate, bytes32 revocationId);
    /// @notice The named certificate is a CA, not a PCK leaf.
    error DcapCertificateNotPck(bytes32 certificate);

    // Quote checks.
    /// @notice The quote body's signature does not verify with the attestation key.
    error DcapQuoteSignatureInvalid();
    /// @notice The QE report's signature does not verify with the PCK key of `pckCertificate`.
    error DcapQeReportSignatureInvalid(bytes32 pckCertificate);
    /// @notice The QE report data is not sha256(attestation key ‖ QE authentication data) followed by zeros.
    error DcapQeReportDataMismatch(bytes32 expected, bytes32 actual);
    /// @notice The QE is not the one governance accepts for this TEE type (or its ISVSVN is below the minimum).
    error DcapQeIdentityNotAccepted(bytes32 mrSigner, uint16 isvProdId, uint16 isvSvn);
    /// @notice The enclave, TD or QE runs in debug mode.
    error DcapDebugMode();
    /// @notice No TCB policy for `fmspc`, or it lapsed at `validUntil`.
    error DcapTcbPolicyUnavailable(bytes6 fmspc, uint64 validUntil);
    /// @notice TCB component `component` (0-15 SGX components, 16 the PCE SVN, 17-32 TDX TEE_TCB_SVN bytes) is
    /// `svn`, below the policy's `minimum`.
    error DcapTcbNotAccepted(bytes6 fmspc, uint8 component, uint16 svn, uint16 minimum);

    // Governance.
    /// @notice A governed parameter is outside its bounds.
    error DcapParameterOutOfBounds(string name, uint256 value, uint256 min, uint256 max);

    /// @notice The cache key (keccak256 of the DER) of the root CA fixed at deployment. The root is cached like any
    /// certificate, by `verifyCertificate(der, rootCertificate())`, which checks it is a self-signed CA.
    function rootCertificate() external view returns (bytes32);

    /// @notice Verifies the DER certificate `der` against the cached certificate `issuer` and caches it under
    /// keccak256(der); returns that key. Anyone may call it; a cached certificate returns at once.
    /// @dev A CA must be issued by the root; a PCK leaf by an intermediate CA.
    function verifyCertificate(bytes calldata der, bytes32 issuer) external returns (bytes32 certificate);

    /// @notice Verifies `quote` with the cached PCK certificate `pckCertificate` and returns what it establishes;
    /// reverts with a named error otherwise.
    function verifyQuote(bytes calldata quote, bytes32 pckCertificate) external view returns (VerifiedQuote memory);

    /// @notice `verifyQuote`, then records the quote as verified now and emits `QuoteRegistered`.
    function registerQuote(bytes calldata quote, bytes32 pckCertificate) external returns (VerifiedQuote memory);

    /// @notice When `quoteHash` (keccak256 of the quote) was last registered (zero if never).
    function registeredAt(bytes32 quoteHash) external view returns (uint64);

    /// @notice Reverts with the reason (`DcapCertificateUnknown`, `…Revoked`, `…Expired`) `certificate` is not
    /// trusted now; returns normally if it is (see `isTrusted`).
    function requireTrusted(bytes32 certificate) external view;

    /// @notice Whether `certificate` is cached and it and every issuer up to the root are unrevoked and valid now.
    function isTrusted(bytes32 certificate) external view returns (bool);

    /// @notice A cached certificate (all zero if unknown).
    function certificateOf(bytes32 certificate) external view returns (Certificate memory);

    /// @notice The revocation id of the certificate with `serialNumber` (DER INTEGER content bytes) issued by
    /// the CA whose subject name hashes to `issuerNameHash`.
    function revocationId(bytes32 issuerNameHash, bytes calldata serialNumber) external pure returns (bytes32);

    /// @notice Whether `id` was revoked.
    function isRevoked(bytes32 id) external view returns (bool);

    /// @notice The TCB policy of `fmspc` (zero if none).
    function tcbPolicy(bytes6 fmspc) external view returns (TcbPolicy memory);

    /// @notice The accepted quoting enclave of `teeType` (zero if none).
    function qeIdentity(TeeType teeType) external view returns (QeIdentity memory);

    /// @notice Revokes the certificate with `serialNumber` issued by the CA named `issuerNameHash`, cached or
    /// not, for good. Governance only (`DEFAULT_ADMIN_ROLE`, meant to be the timelock).
    function revokeCertificate(bytes32 issuerNameHash, bytes calldata serialNumber) external;

    /// @notice Sets the TCB policy of `fmspc`; `validUntil` must be in (now, now + MAX_POLICY_TTL], or zero to
    /// remove it. Governance only.
    function setTcbPolicy(bytes6 fmspc, TcbPolicy calldata policy) external;

    /// @notice Sets the accepted quoting enclave of `teeType`; `mrSigner` must be non-zero. Governance only.
    function setQeIdentity(TeeType teeType, QeIdentity calldata identity) external;
}

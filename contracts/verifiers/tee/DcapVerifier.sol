// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IDcapVerifier} from "../../interfaces/IDcapVerifier.sol";
import {DcapQuoteLib} from "./DcapQuoteLib.sol";
import {P256Lib} from "./P256Lib.sol";
import {X509Lib} from "./X509Lib.sol";

/// @title DcapVerifier
/// @notice Verifies Intel DCAP quotes against a PCK certificate cache rooted at a CA fixed at deployment. See
/// `IDcapVerifier` for what is and is not verified.
/// @dev Governance (`DEFAULT_ADMIN_ROLE`) is meant to be a TimelockController: it revokes certificates and sets
/// the TCB and QE identity policy, within bounds. It cannot add roots or mark a certificate verified.
contract DcapVerifier is IDcapVerifier, AccessControl {
    /// @notice The longest a TCB policy may stay in force before governance must renew it.
    uint64 public constant MAX_POLICY_TTL = 366 days;

    uint8 private constant ROOT_DEPTH = 0;
    uint8 private constant CA_DEPTH = 1;
    uint8 private constant PCK_DEPTH = 2;

    /// @inheritdoc IDcapVerifier
    bytes32 public immutable rootCertificate;

    mapping(bytes32 certificate => Certificate) internal _certificates;
    mapping(bytes32 id => bool) internal _revoked;
    mapping(bytes6 fmspc => TcbPolicy) internal _tcbPolicies;
    mapping(TeeType => QeIdentity) internal _qeIdentities;
    mapping(bytes32 quoteHash => uint64) internal _registeredAt;

    /// @notice Deploys the verifier with governance `admin` and the root CA `root`.
    /// @param root keccak256 of the self-signed root CA certificate's DER. Only that certificate can be cached as a
    /// root: anyone submits it once with `verifyCertificate(der, root)`, which checks its self-signature.
    constructor(address admin, bytes32 root) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        rootCertificate = root;
    }

    /* CERTIFICATES */

    /// @inheritdoc IDcapVerifier
    function verifyCertificate(bytes calldata der, bytes32 issuer) external returns (bytes32 certificate) {
        certificate = keccak256(der);
        if (_certificates[certificate].notAfter != 0) return certificate;
        X509Lib.Parsed memory p = X509Lib.parse(der);
        if (certificate == rootCertificate && issuer == certificate) return _cacheRoot(der, p);
        uint8 depth = _checkIssuer(certificate, issuer, p);
        _checkUsable(certificate, p.revocationId, p.notBefore, p.notAfter);
        Certificate storage parent = _certificates[issuer];
        if (!P256Lib.verify(sha256(der[p.tbsStart:p.tbsEnd]), p.r, p.s, parent.keyX, parent.keyY)) {
            revert DcapCertificateSignatureInvalid(certificate, issuer);
        }
        if (!p.isCa && p.sgxFields != X509Lib.ALL_SGX_FIELDS) revert DcapPckExtensionMissing(certificate);

        _store(certificate, issuer, depth, p);
    }

    /// @dev The root must be a self-issued, self-signed CA.
    function _cacheRoot(bytes calldata der, X509Lib.Parsed memory p) internal returns (bytes32 root) {
        root = rootCertificate;
        if (!p.isCa || p.issuerNameHash != p.subjectNameHash) revert DcapCertificatePathInvalid(root, root);
        _checkUsable(root, p.revocationId, p.notBefore, p.notAfter);
        if (!P256Lib.verify(sha256(der[p.tbsStart:p.tbsEnd]), p.r, p.s, p.keyX, p.keyY)) {
            revert DcapCertificateSignatureInvalid(root, root);
        }
        _store(root, root, ROOT_DEPTH, p);
    }

    /// @dev The issuer must be a trusted CA whose subject is the certificate's issuer name, on the path
    /// root → CA → PCK; returns the certificate's depth.
    function _checkIssuer(bytes32 certificate, bytes32 issuer, X509Lib.Parsed memory p)
        internal
        view
        returns (uint8 depth)
    {
        _requireTrusted(issuer);
        Certificate storage parent = _certificates[issuer];
        depth = parent.depth + 1;
        if (
            !parent.isCa || parent.subjectNameHash != p.issuerNameHash
                || (p.isCa ? depth != CA_DEPTH : depth != PCK_DEPTH)
        ) revert DcapCertificatePathInvalid(certificate, issuer);
    }

    function _store(bytes32 certificate, bytes32 issuer, uint8 depth, X509Lib.Parsed memory p) internal {
        _certificates[certificate] = Certificate({
            issuer: issuer,
            subjectNameHash: p.subjectNameHash,
            revocationId: p.revocationId,
            notBefore: p.notBefore,
            notAfter: p.notAfter,
            depth: depth,
            isCa: p.isCa,
            fmspc: p.fmspc,
            pceId: p.pceId,
            pceSvn: p.pceSvn,
            sgxTcbSvns: p.sgxTcbSvns,
            keyX: p.keyX,
            keyY: p.keyY
        });

        emit CertificateVerified(certificate, issuer, p.revocationId, depth, p.notAfter);
    }

    /// @dev Reverts unless `certificate` and every issuer up to the root are cached, unrevoked and valid now.
    function _requireTrusted(bytes32 certificate) internal view {
        bytes32 current = certificate;
        for (uint256 i = 0; i <= PCK_DEPTH; ++i) {
            Certificate storage c = _certificates[current];
            uint64 notAfter = c.notAfter;
            if (notAfter == 0) revert DcapCertificateUnknown(current);
            _checkUsable(current, c.revocationId, c.notBefore, notAfter);
            if (c.depth == ROOT_DEPTH) return;
            current = c.issuer;
        }
    }

    function _checkUsable(bytes32 certificate, bytes32 id, uint64 notBefore, uint64 notAfter) internal view {
        if (_revoked[id]) revert DcapCertificateRevoked(certificate, id);
        if (block.timestamp < notBefore || block.timestamp > notAfter) {
            revert DcapCertificateExpired(certificate, notBefore, notAfter, block.timestamp);
        }
    }

    /* QUOTES */

    /// @inheritdoc IDcapVerifier
    function verifyQuote(bytes calldata quote, bytes32 pckCertificate) public view returns (VerifiedQuote memory v) {
        DcapQuoteLib.Quote memory q = DcapQuoteLib.parse(quote);
        _requireTrusted(pckCertificate);
        Certificate storage pck = _certificates[pckCertificate];
        if (pck.isCa) revert DcapCertificateNotPck(pckCertificate);

        _checkQeReport(quote, q, pck, pckCertificate);
        _checkQuoteSignature(quote, q);
        v = _facts(quote, q);
        v.pckCertificate = pckCertificate;
        v.fmspc = pck.fmspc;
        v.pceId = pck.pceId;
        v.pceSvn = pck.pceSvn;
        v.sgxTcbSvns = pck.sgxTcbSvns;
        _checkTcb(v);
    }

    /// @inheritdoc IDcapVerifier
    function registerQuote(bytes calldata quote, bytes32 pckCertificate) external returns (VerifiedQuote memory v) {
        v = verifyQuote(quote, pckCertificate);
        bytes32 quoteHash = keccak256(quote);
        _registeredAt[quoteHash] = uint64(block.timestamp);

        emit QuoteRegistered(quoteHash, pckCertificate, v.measurementHash, v.teeType, v.reportData);
    }

    /// @dev The QE report: signed by the PCK key, committing to the attestation key and QE auth data, from the
    /// accepted QE, not in debug mode.
    function _checkQeReport(
        bytes calldata quote,
        DcapQuoteLib.Quote memory q,
        Certificate storage pck,
        bytes32 pckCertificate
    ) internal view {
        bytes calldata report = quote[q.qeReport:q.qeReportSignature];
        (uint256 r, uint256 s) = _signature(quote, q.qeReportSignature);
        if (!P256Lib.verify(sha256(report), r, s, pck.keyX, pck.keyY)) {
            revert DcapQeReportSignatureInvalid(pckCertificate);
        }

        bytes32 expected = sha256(
            abi.encodePacked(
                quote[q.attestationKey:q.attestationKey + 64], quote[q.qeAuthData:q.qeAuthData + q.qeAuthDataLength]
            )
        );
        bytes32 actual = bytes32(report[320:352]);
        if (actual != expected || bytes32(report[352:384]) != 0) revert DcapQeReportDataMismatch(expected, actual);

        QeIdentity storage accepted = _qeIdentities[q.teeType];
        bytes32 mrSigner = bytes32(report[128:160]);
        uint16 isvProdId = DcapQuoteLib.u16(report, 256);
        uint16 isvSvn = DcapQuoteLib.u16(report, 258);
        if (
            accepted.mrSigner == 0 || mrSigner != accepted.mrSigner || isvProdId != accepted.isvProdId
                || isvSvn < accepted.minIsvSvn
        ) revert DcapQeIdentityNotAccepted(mrSigner, isvProdId, isvSvn);
        if (uint8(report[48]) & 0x02 != 0) revert DcapDebugMode();
    }

    function _checkQuoteSignature(bytes calldata quote, DcapQuoteLib.Quote memory q) internal view {
        (uint256 r, uint256 s) = _signature(quote, q.signature);
        bytes32 x = bytes32(quote[q.attestationKey:q.attestationKey + 32]);
        bytes32 y = bytes32(quote[q.attestationKey + 32:q.attestationKey + 64]);
        if (!P256Lib.verify(sha256(quote[0:q.bodyEnd]), r, s, x, y)) revert DcapQuoteSignatureInvalid();
    }

    function _signature(bytes calldata quote, uint256 offset) internal pure returns (uint256 r, uint256 s) {
        r = uint256(bytes32(quote[offset:offset + 32]));
        s = uint256(bytes32(quote[offset + 32:offset + 64]));
    }

    /// @dev The report body's facts. Offsets are the Intel layouts (header 48 bytes, then the body).
    function _facts(bytes calldata quote, DcapQuoteLib.Quote memory q) internal pure returns (VerifiedQuote memory v) {
        v.version = q.version;
        v.teeType = q.teeType;
        v.qeSvn = DcapQuoteLib.u16(quote, q.qeReport + 258);
        v.attestationKeyHash = sha256(quote[q.attestationKey:q.attestationKey + 64]);
        if (q.teeType == TeeType.Tdx) {
            v.teeTcbSvn = bytes16(quote[48:64]);
            v.attributes = bytes8(quote[168:176]);
            v.measurements = abi.encodePacked(quote[184:232], quote[376:568]); // MRTD, RTMR0-3
            v.reportData = quote[568:632];
            if (uint8(quote[168]) & 0x01 != 0) revert DcapDebugMode(); // TUD.DEBUG
        } else {
            v.attributes = bytes8(quote[96:104]);
            v.measurements = abi.encodePacked(quote[112:144], quote[176:208]); // MRENCLAVE, MRSIGNER
            v.isvProdId = DcapQuoteLib.u16(quote, 304);
            v.isvSvn = DcapQuoteLib.u16(quote, 306);
            v.reportData = quote[368:432];
            if (uint8(quote[96]) & 0x02 != 0) revert DcapDebugMode(); // ATTRIBUTES.DEBUG
        }
        v.measurementHash = keccak256(v.measurements);
    }

    /// @dev Every TCB component at or above the FMSPC's policy minimum, and the policy still in force.
    function _checkTcb(VerifiedQuote memory v) internal view {
        TcbPolicy memory policy = _tcbPolicies[v.fmspc];
        if (block.timestamp > policy.validUntil) revert DcapTcbPolicyUnavailable(v.fmspc, policy.validUntil);
        _checkSvns(v.fmspc, v.sgxTcbSvns, policy.minSgxTcbSvns, 0);
        if (v.pceSvn < policy.minPceSvn) revert DcapTcbNotAccepted(v.fmspc, 16, v.pceSvn, policy.minPceSvn);
        if (v.teeType == TeeType.Tdx) _checkSvns(v.fmspc, v.teeTcbSvn, policy.minTdxTcbSvns, 17);
    }

    function _checkSvns(bytes6 fmspc, bytes16 svns, bytes16 minimums, uint8 first) internal pure {
        for (uint8 i = 0; i < 16; ++i) {
            uint8 svn = uint8(svns[i]);
            uint8 minimum = uint8(minimums[i]);
            if (svn < minimum) revert DcapTcbNotAccepted(fmspc, first + i, svn, minimum);
        }
    }

    /* GOVERNANCE */

    /// @inheritdoc IDcapVerifier
    function revokeCertificate(bytes32 issuerNameHash, bytes calldata serialNumber)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        bytes32 id = revocationId(issuerNameHash, serialNumber);
        _revoked[id] = true;

        emit CertificateRevoked(id, issuerNameHash, serialNumber);
    }

    /// @inheritdoc IDcapVerifier
    function setTcbPolicy(bytes6 fmspc, TcbPolicy calldata policy) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 max = block.timestamp + MAX_POLICY_TTL;
        if (policy.validUntil != 0 && (policy.validUntil <= block.timestamp || policy.validUntil > max)) {
            revert DcapParameterOutOfBounds("validUntil", policy.validUntil, block.timestamp + 1, max);
        }
        _tcbPolicies[fmspc] = policy;

        emit TcbPolicySet(fmspc, policy);
    }

    /// @inheritdoc IDcapVerifier
    function setQeIdentity(TeeType teeType, QeIdentity calldata identity) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (identity.mrSigner == 0) revert DcapParameterOutOfBounds("mrSigner", 0, 1, type(uint256).max);
        _qeIdentities[teeType] = identity;

        emit QeIdentitySet(teeType, identity);
    }

    /* VIEWS */

    /// @inheritdoc IDcapVerifier
    function revocationId(bytes32 issuerNameHash, bytes calldata serialNumber) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(issuerNameHash, serialNumber));
    }

    /// @inheritdoc IDcapVerifier
    function isRevoked(bytes32 id) external view returns (bool) {
        return _revoked[id];
    }

    /// @inheritdoc IDcapVerifier
    function isTrusted(bytes32 certificate) external view returns (bool) {
        try this.requireTrusted(certificate) {
            return true;
        } catch {
            return false;
        }
    }

    /// @inheritdoc IDcapVerifier
    function requireTrusted(bytes32 certificate) external view {
        _requireTrusted(certificate);
    }

    /// @inheritdoc IDcapVerifier
    function certificateOf(bytes32 certificate) external view returns (Certificate memory) {
        return _certificates[certificate];
    }

    /// @inheritdoc IDcapVerifier
    function registeredAt(bytes32 quoteHash) external view returns (uint64) {
        return _registeredAt[quoteHash];
    }

    /// @inheritdoc IDcapVerifier
    function tcbPolicy(bytes6 fmspc) external view returns (TcbPolicy memory) {
        return _tcbPolicies[fmspc];
    }

    /// @inheritdoc IDcapVerifier
    function qeIdentity(TeeType teeType) external view returns (QeIdentity memory) {
        return _qeIdentities[teeType];
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDcapVerifier} from "../../interfaces/IDcapVerifier.sol";

/// @title DcapQuoteLib
/// @notice Bounds-checked framing of Intel DCAP ECDSA quotes, version 3 (SGX) and 4 (SGX, TDX). It checks every
/// length the quote declares against the bytes it has before any read, so a malformed quote reverts with a named
/// error (`DcapQuote…`) and never with a panic or an out-of-range read. It checks no signature.
/// @dev Layout (little-endian integers):
///   header (48): version u16, attestation key type u16, TEE type u32 (v4; reserved in v3), 4 reserved,
///                QE vendor id (16), user data (20)
///   body: TDX TD report (584) or SGX enclave report (384)
///   signature data length u32, then: ECDSA signature (64), attestation key (64),
///     v4 only: certification data type u16 (= 6) and size u32 around what follows,
///     QE report (384), QE report signature (64), QE auth data size u16 + data,
///     certification data type u16 (= 5, PEM PCK chain), size u32 + data.
library DcapQuoteLib {
    /// @notice Offsets of a quote's parts (all within the quote).
    // A memory struct: packing does not matter.
    // solhint-disable-next-line gas-struct-packing
    struct Quote {
        uint16 version;
        IDcapVerifier.TeeType teeType;
        /// @notice The end of the report body: the quote signature covers [0, bodyEnd).
        uint256 bodyEnd;
        uint256 signature;
        uint256 attestationKey;
        uint256 qeReport;
        uint256 qeReportSignature;
        uint256 qeAuthData;
        uint256 qeAuthDataLength;
    }

    uint256 internal constant HEADER_LENGTH = 48;
    uint256 internal constant TDX_BODY_LENGTH = 584;
    uint256 internal constant SGX_BODY_LENGTH = 384;
    uint256 internal constant QE_REPORT_LENGTH = 384;
    uint32 internal constant TEE_SGX = 0;
    uint32 internal constant TEE_TDX = 0x81;
    uint16 internal constant ECDSA_P256 = 2;
    uint16 internal constant QE_REPORT_CERTIFICATION = 6;
    uint16 internal constant PCK_CHAIN_CERTIFICATION = 5;
    bytes16 internal constant INTEL_QE_VENDOR = 0x939a7233f79c4ca9940a0db3957f0607;

    /// @notice Frames `quote`, which must end exactly where its signature data ends.
    function parse(bytes calldata quote) internal pure returns (Quote memory q) {
        _need(quote, HEADER_LENGTH);
        q.version = u16(quote, 0);
        (q.teeType, q.bodyEnd) = _parseHeader(quote, q.version);
        _need(quote, q.bodyEnd + 4);
        uint256 end = q.bodyEnd + 4 + u32(quote, q.bodyEnd);
        _need(quote, end);
        if (quote.length != end) revert IDcapVerifier.DcapQuoteLengthMismatch(quote.length, end);

        q.signature = q.bodyEnd + 4;
        q.attestationKey = q.signature + 64;
        uint256 offset = q.attestationKey + 64;
        if (q.version == 4) offset = _certificationData(quote, offset, end, QE_REPORT_CERTIFICATION);
        q.qeReport = offset;
        q.qeReportSignature = offset + QE_REPORT_LENGTH;
        q.qeAuthData = q.qeReportSignature + 64 + 2;
        _need(quote, q.qeAuthData);
        q.qeAuthDataLength = u16(quote, q.qeAuthData - 2);
        _certificationData(quote, q.qeAuthData + q.qeAuthDataLength, end, PCK_CHAIN_CERTIFICATION);
    }

    function _parseHeader(bytes calldata quote, uint16 version)
        private
        pure
        returns (IDcapVerifier.TeeType teeType, uint256 bodyEnd)
    {
        if (version != 3 && version != 4) revert IDcapVerifier.DcapQuoteUnsupportedVersion(version);
        uint16 keyType = u16(quote, 2);
        if (keyType != ECDSA_P256) revert IDcapVerifier.DcapQuoteUnsupportedKeyType(keyType);
        uint32 tee = u32(quote, 4);
        if (tee == TEE_TDX && version == 4) {
            teeType = IDcapVerifier.TeeType.Tdx;
            bodyEnd = HEADER_LENGTH + TDX_BODY_LENGTH;
        } else if (tee == TEE_SGX) {
            teeType = IDcapVerifier.TeeType.Sgx;
            bodyEnd = HEADER_LENGTH + SGX_BODY_LENGTH;
        } else {
            revert IDcapVerifier.DcapQuoteUnsupportedTeeType(version, tee);
        }
        bytes16 vendor = bytes16(quote[12:28]);
        if (vendor != INTEL_QE_VENDOR) revert IDcapVerifier.DcapQuoteUnsupportedVendor(vendor);
    }

    /// @dev A certification data header (type u16, size u32) at `offset` whose data must end exactly at `end`;
    /// returns where the data starts.
    function _certificationData(bytes calldata quote, uint256 offset, uint256 end, uint16 expected)
        private
        pure
        returns (uint256 data)
    {
        data = offset + 6;
        _need(quote, data);
        uint16 certificationType = u16(quote, offset);
        if (certificationType != expected) {
            revert IDcapVerifier.DcapQuoteUnsupportedCertificationData(certificationType, expected);
        }
        uint256 declaredEnd = data + u32(quote, offset + 2);
        if (declaredEnd != end) revert IDcapVerifier.DcapQuoteLengthMismatch(end, declaredEnd);
    }

    function _need(bytes calldata quote, uint256 needed) private pure {
        if (quote.length < needed) revert IDcapVerifier.DcapQuoteTruncated(quote.length, needed);
    }

    /// @notice The little-endian u16 at `offset` (the caller has checked the bounds).
    function u16(bytes calldata quote, uint256 offset) internal pure returns (uint16) {
        return uint16(uint8(quote[offset])) | (uint16(uint8(quote[offset + 1])) << 8);
    }

    /// @notice The little-endian u32 at `offset` (the caller has checked the bounds).
    function u32(bytes calldata quote, uint256 offset) internal pure returns (uint32) {
        return uint32(u16(quote, offset)) | (uint32(u16(quote, offset + 2)) << 16);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDcapVerifier} from "../../interfaces/IDcapVerifier.sol";
import {DerLib} from "./DerLib.sol";

/// @title X509Lib
/// @notice Parses the X.509 certificates of Intel's PCK chain (ECDSA P-256 with SHA-256): names, validity, key,
/// CA flag, signature, and for PCK leaves the FMSPC, PCE id and TCB SVNs of Intel's SGX extension
/// (OID 1.2.840.113741.1.13.1). Bounds-checked throughout (see DerLib); the signature is not checked here.
library X509Lib {
    using DerLib for bytes;

    /// @notice What a certificate says. `tbsStart`/`tbsEnd` delimit the signed TBSCertificate (header included).
    // A memory struct: packing does not matter.
    // solhint-disable-next-line gas-struct-packing
    struct Parsed {
        uint256 tbsStart;
        uint256 tbsEnd;
        bytes32 issuerNameHash;
        bytes32 subjectNameHash;
        bytes32 revocationId;
        uint64 notBefore;
        uint64 notAfter;
        bytes32 keyX;
        bytes32 keyY;
        bool isCa;
        uint256 r;
        uint256 s;
        /// @notice Bit i (0-15) set when SGX TCB component i+1 was found; bit 16 PCE SVN, 17 PCE id, 18 FMSPC.
        uint256 sgxFields;
        bytes6 fmspc;
        bytes2 pceId;
        uint16 pceSvn;
        bytes16 sgxTcbSvns;
    }

    /// @notice Every SGX extension field a PCK leaf must carry (`sgxFields`).
    uint256 internal constant ALL_SGX_FIELDS = (1 << 19) - 1;

    // DER OID contents, left-aligned.
    bytes32 private constant ECDSA_WITH_SHA256 = hex"2a8648ce3d040302";
    bytes32 private constant EC_PUBLIC_KEY = hex"2a8648ce3d0201";
    bytes32 private constant PRIME256V1 = hex"2a8648ce3d030107";
    bytes32 private constant BASIC_CONSTRAINTS = hex"551d13";
    bytes32 private constant SGX_EXTENSION = hex"2a864886f84d010d01";
    bytes32 private constant SGX_TCB = hex"2a864886f84d010d0102";

    /// @notice Parses `der`, which must be exactly one certificate.
    function parse(bytes calldata der) internal pure returns (Parsed memory p) {
        (uint256 certStart, uint256 certEnd) = der.expect(0, der.length, 0x30);
        if (certEnd != der.length) revert IDcapVerifier.DcapCertificateMalformed(0, 0x30);
        uint256 tbsContent;
        p.tbsStart = certStart;
        (tbsContent, p.tbsEnd) = der.expect(certStart, certEnd, 0x30);
        _parseTbs(der, p, tbsContent);
        uint256 next = _expectAlgorithm(der, p.tbsEnd, certEnd);
        _parseSignature(der, p, next, certEnd);
    }

    function _parseTbs(bytes calldata der, Parsed memory p, uint256 offset) private pure {
        uint256 limit = p.tbsEnd;
        (uint8 tag,, uint256 end) = der.at(offset, limit);
        if (tag == 0xa0) {
            // The explicit version [0] precedes the serial number.
            offset = end;
            (tag,, end) = der.at(offset, limit);
        }
        if (tag != 0x02) revert IDcapVerifier.DcapCertificateMalformed(offset, tag);
        uint256 serialStart = offset;
        uint256 serialEnd = end;
        offset = _expectAlgorithm(der, end, limit);
        (, uint256 issuerEnd) = der.expect(offset, limit, 0x30);
        p.issuerNameHash = keccak256(der[offset:issuerEnd]);
        (uint256 serialContent,) = der.expect(serialStart, serialEnd, 0x02);
        p.revocationId = keccak256(abi.encodePacked(p.issuerNameHash, der[serialContent:serialEnd]));
        offset = _parseValidity(der, p, issuerEnd, limit);
        (, uint256 subjectEnd) = der.expect(offset, limit, 0x30);
        p.subjectNameHash = keccak256(der[offset:subjectEnd]);
        offset = _parseKey(der, p, subjectEnd, limit);
        while (offset < limit) {
            (tag,, end) = der.at(offset, limit);
            if (tag == 0xa3) _parseExtensions(der, p, offset, end);
            offset = end;
        }
    }

    /// @dev An AlgorithmIdentifier SEQUENCE at `offset` naming ecdsa-with-SHA256; returns its end.
    function _expectAlgorithm(bytes calldata der, uint256 offset, uint256 limit) private pure returns (uint256 end) {
        uint256 start;
        (start, end) = der.expect(offset, limit, 0x30);
        (uint256 oidStart, uint256 oidEnd) = der.expect(start, end, 0x06);
        if (!der.equals(oidStart, oidEnd, ECDSA_WITH_SHA256, 8)) {
            revert IDcapVerifier.DcapCertificateUnsupportedAlgorithm();
        }
    }

    function _parseValidity(bytes calldata der, Parsed memory p, uint256 offset, uint256 limit)
        private
        pure
        returns (uint256 end)
    {
        uint256 start;
        (start, end) = der.expect(offset, limit, 0x30);
        uint256 next;
        (p.notBefore, next) = _timeAt(der, start, end);
        (p.notAfter,) = _timeAt(der, next, end);
    }

    function _parseKey(bytes calldata der, Parsed memory p, uint256 offset, uint256 limit)
        private
        pure
        returns (uint256 end)
    {
        uint256 start;
        (start, end) = der.expect(offset, limit, 0x30);
        uint256 algEnd = _expectP256(der, start, end);
        (uint256 bitsStart, uint256 bitsEnd) = der.expect(algEnd, end, 0x03);
        if (bitsEnd - bitsStart != 66 || uint8(der[bitsStart]) != 0 || uint8(der[bitsStart + 1]) != 4) {
            revert IDcapVerifier.DcapCertificateUnsupportedAlgorithm();
        }
        p.keyX = bytes32(der[bitsStart + 2:bitsStart + 34]);
        p.keyY = bytes32(der[bitsStart + 34:bitsEnd]);
    }

    /// @dev AlgorithmIdentifier { id-ecPublicKey, prime256v1 } at `offset`; returns its end.
    function _expectP256(bytes calldata der, uint256 offset, uint256 limit) private pure returns (uint256 end) {
        uint256 start;
        (start, end) = der.expect(offset, limit, 0x30);
        (uint256 oidStart, uint256 oidEnd) = der.expect(start, end, 0x06);
        if (!der.equals(oidStart, oidEnd, EC_PUBLIC_KEY, 7)) {
            revert IDcapVerifier.DcapCertificateUnsupportedAlgorithm();
        }
        (uint256 curveStart, uint256 curveEnd) = der.expect(oidEnd, end, 0x06);
        if (!der.equals(curveStart, curveEnd, PRIME256V1, 8)) {
            revert IDcapVerifier.DcapCertificateUnsupportedAlgorithm();
        }
    }

    function _parseExtensions(bytes calldata der, Parsed memory p, uint256 offset, uint256 limit) private pure {
        (, uint256 wrapperStart,) = der.at(offset, limit);
        (uint256 start, uint256 end) = der.expect(wrapperStart, limit, 0x30);
        for (offset = start; offset < end;) {
            offset = _parseExtension(der, p, offset, end);
        }
    }

    /// @dev Extension ::= SEQUENCE { OID, critical BOOLEAN OPTIONAL, OCTET STRING value }; returns its end.
    function _parseExtension(bytes calldata der, Parsed memory p, uint256 offset, uint256 limit)
        private
        pure
        returns (uint256 end)
    {
        uint256 start;
        (start, end) = der.expect(offset, limit, 0x30);
        (uint256 kind, uint256 valueAt) = _extensionKind(der, start, end);
        (uint256 valueStart, uint256 valueEnd) = der.expect(valueAt, end, 0x04);
        if (kind == 1) p.isCa = _isCa(der, valueStart, valueEnd);
        else if (kind == 2) _parseSgx(der, p, valueStart, valueEnd);
    }

    /// @dev 1 for basicConstraints, 2 for Intel's SGX extension, 0 otherwise; and where the value starts.
    function _extensionKind(bytes calldata der, uint256 offset, uint256 limit)
        private
        pure
        returns (uint256 kind, uint256 valueAt)
    {
        (uint256 oidStart, uint256 oidEnd) = der.expect(offset, limit, 0x06);
        if (der.equals(oidStart, oidEnd, BASIC_CONSTRAINTS, 3)) kind = 1;
        else if (der.equals(oidStart, oidEnd, SGX_EXTENSION, 9)) kind = 2;
        (uint8 tag,, uint256 next) = der.at(oidEnd, limit);
        valueAt = tag == 0x01 ? next : oidEnd; // skip the critical flag
    }

    function _isCa(bytes calldata der, uint256 offset, uint256 limit) private pure returns (bool) {
        (uint256 start, uint256 end) = der.expect(offset, limit, 0x30);
        if (start == end) return false;
        (uint8 tag, uint256 flagStart, uint256 flagEnd) = der.at(start, end);
        return tag == 0x01 && flagEnd - flagStart == 1 && uint8(der[flagStart]) != 0;
    }

    /// @dev SGX extension: SEQUENCE OF SEQUENCE { OID, value }; reads TCB (…1.2), PCE id (…1.3), FMSPC (…1.4).
    function _parseSgx(bytes calldata der, Parsed memory p, uint256 offset, uint256 limit) private pure {
        (uint256 start, uint256 end) = der.expect(offset, limit, 0x30);
        for (offset = start; offset < end;) {
            offset = _parseSgxItem(der, p, offset, end);
        }
    }

    function _parseSgxItem(bytes calldata der, Parsed memory p, uint256 offset, uint256 limit)
        private
        pure
        returns (uint256 end)
    {
        uint256 valueAt;
        uint256 field;
        (valueAt, end, field) = _item(der, offset, limit, SGX_EXTENSION, 10);
        if (field == 2) {
            _parseTcb(der, p, valueAt, end);
        } else if (field == 3) {
            p.pceId = bytes2(_octets(der, valueAt, end, 2));
            p.sgxFields |= 1 << 17;
        } else if (field == 4) {
            p.fmspc = bytes6(_octets(der, valueAt, end, 6));
            p.sgxFields |= 1 << 18;
        }
    }

    /// @dev SEQUENCE { OID, value } at `offset`: where the value starts, where the item ends, and the OID's last
    /// arc if the OID is `prefix` plus one arc below 128 (`length` bytes in all), zero otherwise.
    function _item(bytes calldata der, uint256 offset, uint256 limit, bytes32 prefix, uint256 length)
        private
        pure
        returns (uint256 valueAt, uint256 end, uint256 arc)
    {
        uint256 start;
        (start, end) = der.expect(offset, limit, 0x30);
        uint256 oidStart;
        (oidStart, valueAt) = der.expect(start, end, 0x06);
        if (valueAt - oidStart == length && bytes32(der[oidStart:valueAt - 1]) == prefix) {
            arc = uint8(der[valueAt - 1]);
        }
    }

    function _octets(bytes calldata der, uint256 offset, uint256 limit, uint256 length) private pure returns (bytes32) {
        (uint256 start, uint256 end) = der.expect(offset, limit, 0x04);
        if (end - start != length) revert IDcapVerifier.DcapCertificateMalformed(offset, 0x04);
        return bytes32(der[start:end]);
    }

    /// @dev TCB: SEQUENCE OF SEQUENCE { OID …1.2.k, value }: k = 1..16 component SVNs, 17 the PCE SVN.
    function _parseTcb(bytes calldata der, Parsed memory p, uint256 offset, uint256 limit) private pure {
        (uint256 start, uint256 end) = der.expect(offset, limit, 0x30);
        for (offset = start; offset < end;) {
            offset = _parseTcbItem(der, p, offset, end);
        }
    }

    function _parseTcbItem(bytes calldata der, Parsed memory p, uint256 offset, uint256 limit)
        private
        pure
        returns (uint256 end)
    {
        uint256 valueAt;
        uint256 k;
        (valueAt, end, k) = _item(der, offset, limit, SGX_TCB, 11);
        if (k >= 1 && k <= 17 && p.sgxFields & (1 << (k - 1)) != 0) {
            revert IDcapVerifier.DcapCertificateMalformed(offset, 0x30); // a component twice
        }
        if (k >= 1 && k <= 16) {
            uint256 svn = der.uintAt(valueAt, end);
            if (svn > 0xff) revert IDcapVerifier.DcapCertificateMalformed(valueAt, 0x02);
            p.sgxTcbSvns |= bytes16(bytes1(uint8(svn))) >> (8 * (k - 1));
            p.sgxFields |= 1 << (k - 1);
        } else if (k == 17) {
            uint256 svn = der.uintAt(valueAt, end);
            if (svn > 0xffff) revert IDcapVerifier.DcapCertificateMalformed(valueAt, 0x02);
            p.pceSvn = uint16(svn);
            p.sgxFields |= 1 << 16;
        }
    }

    /// @dev signatureValue: BIT STRING { 0 unused bits, SEQUENCE { INTEGER r, INTEGER s } }, ending the certificate.
    function _parseSignature(bytes calldata der, Parsed memory p, uint256 offset, uint256 limit) private pure {
        (uint256 start, uint256 end) = der.expect(offset, limit, 0x03);
        if (end != limit || start == end || uint8(der[start]) != 0) {
            revert IDcapVerifier.DcapCertificateMalformed(offset, 0x03);
        }
        (uint256 seqStart, uint256 seqEnd) = der.expect(start + 1, end, 0x30);
        uint256 next;
        (p.r, next) = der.scalarAt(seqStart, seqEnd);
        (p.s,) = der.scalarAt(next, seqEnd);
    }

    /// @dev A UTCTime (YYMMDDHHMMSSZ, years 1950-2049) or GeneralizedTime (YYYYMMDDHHMMSSZ) as a Unix time.
    function _timeAt(bytes calldata der, uint256 offset, uint256 limit)
        private
        pure
        returns (uint64 time, uint256 end)
    {
        uint8 tag;
        uint256 start;
        (tag, start, end) = der.at(offset, limit);
        uint256 year;
        if (tag == 0x17 && end - start == 13) {
            year = _digits(der, start, 2, offset);
            year += year < 50 ? 2000 : 1900;
            start += 2;
        } else if (tag == 0x18 && end - start == 15) {
            year = _digits(der, start, 4, offset);
            start += 4;
        } else {
            revert IDcapVerifier.DcapCertificateMalformedTime(offset);
        }
        if (uint8(der[end - 1]) != 0x5a) revert IDcapVerifier.DcapCertificateMalformedTime(offset); // 'Z'
        time = _unixTime(der, year, start, offset);
    }

    /// @dev MMDDHHMMSS at `start` in `year` as a Unix time.
    function _unixTime(bytes calldata der, uint256 year, uint256 start, uint256 offset) private pure returns (uint64) {
        uint256 month = _digits(der, start, 2, offset);
        uint256 day = _digits(der, start + 2, 2, offset);
        uint256 seconds_ = _digits(der, start + 4, 2, offset) * 3600 + _clock(der, start + 6, offset);
        if (year < 1970 || month == 0 || month > 12 || day == 0 || day > 31 || seconds_ >= 86_400) {
            revert IDcapVerifier.DcapCertificateMalformedTime(offset);
        }
        return uint64(_daysFromCivil(year, month, day) * 86_400 + seconds_);
    }

    /// @dev MMSS at `start` as seconds.
    function _clock(bytes calldata der, uint256 start, uint256 offset) private pure returns (uint256) {
        uint256 minute = _digits(der, start, 2, offset);
        uint256 second = _digits(der, start + 2, 2, offset);
        if (minute > 59 || second > 59) revert IDcapVerifier.DcapCertificateMalformedTime(offset);
        return minute * 60 + second;
    }

    function _digits(bytes calldata der, uint256 start, uint256 count, uint256 offset)
        private
        pure
        returns (uint256 value)
    {
        for (uint256 i = start; i < start + count; ++i) {
            uint8 c = uint8(der[i]);
            if (c < 0x30 || c > 0x39) revert IDcapVerifier.DcapCertificateMalformedTime(offset);
            value = value * 10 + (c - 0x30);
        }
    }

    /// @dev Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil), year ≥ 1900.
    function _daysFromCivil(uint256 year, uint256 month, uint256 day) private pure returns (uint256) {
        if (month <= 2) --year;
        uint256 era = year / 400;
        uint256 yearOfEra = year - era * 400;
        uint256 dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
        uint256 dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
        return era * 146_097 + dayOfEra - 719_468;
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDcapVerifier} from "../../interfaces/IDcapVerifier.sol";

/// @title DerLib
/// @notice A bounds-checked reader of DER (definite lengths, at most 65,535 bytes) over calldata: every element
/// is checked to lie inside its parent before anything reads it, and any violation reverts with
/// `DcapCertificateMalformed(offset, tag)`.
library DerLib {
    /// @notice The element at `offset`, which must end by `limit`: its tag and content range [start, end).
    function at(bytes calldata der, uint256 offset, uint256 limit)
        internal
        pure
        returns (uint8 tag, uint256 start, uint256 end)
    {
        if (limit > der.length || offset + 2 > limit) revert IDcapVerifier.DcapCertificateMalformed(offset, 0);
        tag = uint8(der[offset]);
        uint256 length = uint8(der[offset + 1]);
        start = offset + 2;
        if (length > 0x7f) {
            uint256 bytesOfLength = length & 0x7f;
            // Indefinite (0x80) and lengths over 2 bytes have no place in a certificate.
            if (bytesOfLength == 0 || bytesOfLength > 2 || start + bytesOfLength > limit) {
                revert IDcapVerifier.DcapCertificateMalformed(offset, tag);
            }
            length = uint8(der[start]);
            if (bytesOfLength == 2) length = (length << 8) | uint8(der[start + 1]);
            start += bytesOfLength;
        }
        end = start + length;
        if (end > limit) revert IDcapVerifier.DcapCertificateMalformed(offset, tag);
    }

    /// @notice `at`, requiring the element's tag to be `expected`.
    function expect(bytes calldata der, uint256 offset, uint256 limit, uint8 expected)
        internal
        pure
        returns (uint256 start, uint256 end)
    {
        uint8 tag;
        (tag, start, end) = at(der, offset, limit);
        if (tag != expected) revert IDcapVerifier.DcapCertificateMalformed(offset, tag);
    }

    /// @notice Whether the content [start, end) equals the first `length` bytes of `value` (length ≤ 32).
    function equals(bytes calldata der, uint256 start, uint256 end, bytes32 value, uint256 length)
        internal
        pure
        returns (bool)
    {
        return end - start == length && bytes32(der[start:end]) == value;
    }

    /// @notice A non-negative INTEGER's value; its content must be 1 to 3 bytes.
    function uintAt(bytes calldata der, uint256 offset, uint256 limit) internal pure returns (uint256 value) {
        (uint256 start, uint256 end) = expect(der, offset, limit, 0x02);
        if (end == start || end - start > 3 || uint8(der[start]) > 0x7f) {
            revert IDcapVerifier.DcapCertificateMalformed(offset, 0x02);
        }
        for (uint256 i = start; i < end; ++i) {
            value = (value << 8) | uint8(der[i]);
        }
    }

    /// @notice An ECDSA signature component: a positive INTEGER of at most 32 significant bytes.
    function scalarAt(bytes calldata der, uint256 offset, uint256 limit)
        internal
        pure
        returns (uint256 value, uint256 end)
    {
        uint256 start;
        (start, end) = expect(der, offset, limit, 0x02);
        uint256 length = end - start;
        if (length == 33 && uint8(der[start]) == 0) {
            ++start;
            --length;
        }
        if (length == 0 || length > 32) revert IDcapVerifier.DcapCertificateMalformed(offset, 0x02);
        value = uint256(bytes32(der[start:end])) >> (8 * (32 - length));
    }
}

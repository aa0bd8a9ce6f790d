// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDcapVerifier} from "../../../contracts/interfaces/IDcapVerifier.sol";
import {DcapQuoteLib} from "../../../contracts/verifiers/tee/DcapQuoteLib.sol";
import {X509Lib} from "../../../contracts/verifiers/tee/X509Lib.sol";

/// @notice Exposes the parsers with calldata arguments, as the verifier calls them.
contract DcapParserHarness {
    function parseQuote(bytes calldata quote) external pure returns (DcapQuoteLib.Quote memory) {
        return DcapQuoteLib.parse(quote);
    }

    function parseCertificate(bytes calldata der) external pure returns (X509Lib.Parsed memory) {
        return X509Lib.parse(der);
    }
}

/// @title DcapParserFuzzTest
/// @notice Fuzzes the quote and certificate parsers with random bytes, framed quotes with random lengths and
/// truncations, and random mutations and truncations of Intel's real root certificate: whatever the input, a
/// parser either returns or reverts with one of IDcapVerifier's named errors, never with a panic or with the
/// empty revert of an out-of-range calldata read.
/// @dev Standalone (forge runs any contract's `test*` functions): it shares nothing with the protocol suites.
contract DcapParserFuzzTest {
    bytes internal constant INTEL_ROOT =
        hex"3082028f30820234a003020102021422650cd65a9d3489f383b49552bf501b392706ac300a06082a8648ce3d0403023068311a301806035504030c11496e74656c2053475820526f6f74204341311a3018060355040a0c11496e74656c20436f72706f726174696f6e3114301206035504070c0b53616e746120436c617261310b300906035504080c024341310b3009060355040613025553301e170d3138303532313130343531305a170d3439313233313233353935395a3068311a301806035504030c11496e74656c2053475820526f6f74204341311a3018060355040a0c11496e74656c20436f72706f726174696f6e3114301206035504070c0b53616e746120436c617261310b300906035504080c024341310b30090603550406130255533059301306072a8648ce3d020106082a8648ce3d030107034200040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f567918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394a381bb3081b8301f0603551d2304183016801422650cd65a9d3489f383b49552bf501b392706ac30520603551d1f044b30493047a045a043864168747470733a2f2f6365727469666963617465732e7472757374656473657276696365732e696e74656c2e636f6d2f496e74656c534758526f6f7443412e646572301d0603551d0e0416041422650cd65a9d3489f383b49552bf501b392706ac300e0603551d0f0101ff04040302010630120603551d130101ff040830060101ff020101300a06082a8648ce3d0403020349003046022100e5bfe50911f92f428920dc368a302ee3d12ec5867ff622ec6497f78060c13c20022100e09d25ac7a0cb3e5e8e68fec5fa3bd416c47440bd950639d450edcbea4576aa2";

    DcapParserHarness internal harness;

    function setUp() public {
        harness = new DcapParserHarness();
    }

    function testFuzz_quoteParserRevertsOnlyWithNamedErrorsOnRandomBytes(bytes calldata data) public view {
        _checkQuote(data);
    }

    function testFuzz_quoteParserRevertsOnlyWithNamedErrorsOnFramedQuotes(
        bool tdx,
        uint8 version,
        uint32 signatureLength,
        uint16 authLength,
        uint16 certificationType,
        uint32 certificationSize,
        uint16 cut
    ) public view {
        // The QE report region is 448 bytes when `authLength` is even, a fuzzed size below 520 otherwise.
        uint256 qeLength = authLength % 2 == 0 ? 448 : (authLength >> 1) % 520;
        bytes memory quote = _framed(
            tdx,
            version % 6,
            signatureLength % 3000,
            authLength,
            certificationType % 8,
            certificationSize % 3000,
            qeLength
        );
        // Half the runs keep the whole quote, the others cut it anywhere.
        uint256 length = cut % 2 == 0 ? quote.length : (cut >> 1) % (quote.length + 1);
        assembly {
            mstore(quote, length)
        }
        _checkQuote(quote);
    }

    function testFuzz_certificateParserRevertsOnlyWithNamedErrorsOnMutations(
        uint256 at1,
        uint8 mask1,
        uint256 at2,
        uint8 mask2
    ) public view {
        bytes memory der = INTEL_ROOT;
        der[at1 % der.length] ^= bytes1(mask1);
        der[at2 % der.length] ^= bytes1(mask2);
        _checkCertificate(der);
    }

    function testFuzz_certificateParserRevertsOnlyWithNamedErrorsOnTruncations(uint256 cut) public view {
        bytes memory der = INTEL_ROOT;
        uint256 length = cut % der.length;
        assembly {
            mstore(der, length)
        }
        _checkCertificate(der);
    }

    function testFuzz_certificateParserRevertsOnlyWithNamedErrorsOnRandomBytes(bytes calldata data) public view {
        _checkCertificate(data);
    }

    function test_parsesTheRealRootCertificate() public view {
        X509Lib.Parsed memory p = harness.parseCertificate(INTEL_ROOT);
        _assertTrue(p.isCa, "the root is a CA");
        _assertTrue(p.issuerNameHash == p.subjectNameHash, "the root is self-issued");
        _assertEq(p.notAfter, 2_524_607_999, "notAfter 2049-12-31T23:59:59Z");
    }

    /// @dev A quote whose declared lengths are consistent when the fuzzer picks them so, and not otherwise.
    function _framed(
        bool tdx,
        uint8 version,
        uint32 signatureLength,
        uint16 authLength,
        uint16 certificationType,
        uint32 certificationSize,
        uint256 qeLength
    ) internal pure returns (bytes memory) {
        bytes memory header = abi.encodePacked(
            uint16(version) << 8,
            uint16(0x0200),
            tdx ? bytes4(0x81000000) : bytes4(0),
            bytes4(0),
            DcapQuoteLib.INTEL_QE_VENDOR,
            bytes20(0)
        );
        bytes memory body = new bytes(tdx ? 584 : 384);
        bytes memory certification = abi.encodePacked(
            new bytes(qeLength),
            _le16(authLength),
            new bytes(authLength % 64),
            _le16(certificationType),
            _le32(certificationSize)
        );
        if (version == 4) {
            certification = abi.encodePacked(_le16(6), _le32(uint32(certification.length)), certification);
        }
        bytes memory signatureData = abi.encodePacked(new bytes(128), certification);
        uint32 declared = signatureLength == 0 ? uint32(signatureData.length) : signatureLength;
        return abi.encodePacked(header, body, _le32(declared), signatureData);
    }

    function _checkQuote(bytes memory data) internal view {
        try harness.parseQuote(data) {}
        catch (bytes memory reason) {
            bytes4 selector = bytes4(reason);
            _assertTrue(reason.length >= 4, "a revert without a named error");
            _assertTrue(
                selector == IDcapVerifier.DcapQuoteTruncated.selector
                    || selector == IDcapVerifier.DcapQuoteLengthMismatch.selector
                    || selector == IDcapVerifier.DcapQuoteUnsupportedVersion.selector
                    || selector == IDcapVerifier.DcapQuoteUnsupportedKeyType.selector
                    || selector == IDcapVerifier.DcapQuoteUnsupportedTeeType.selector
                    || selector == IDcapVerifier.DcapQuoteUnsupportedVendor.selector
                    || selector == IDcapVerifier.DcapQuoteUnsupportedCertificationData.selector,
                "a quote parser revert that is not a named DcapQuote error"
            );
        }
    }

    function _checkCertificate(bytes memory data) internal view {
        try harness.parseCertificate(data) {}
        catch (bytes memory reason) {
            bytes4 selector = bytes4(reason);
            _assertTrue(reason.length >= 4, "a revert without a named error");
            _assertTrue(
                selector == IDcapVerifier.DcapCertificateMalformed.selector
                    || selector == IDcapVerifier.DcapCertificateUnsupportedAlgorithm.selector
                    || selector == IDcapVerifier.DcapCertificateMalformedTime.selector,
                "a certificate parser revert that is not a named DcapCertificate error"
            );
        }
    }

    function _assertTrue(bool ok, string memory what) internal pure {
        require(ok, what);
    }

    function _assertEq(uint256 a, uint256 b, string memory what) internal pure {
        require(a == b, what);
    }

    function _le16(uint16 v) internal pure returns (bytes2) {
        return bytes2((v >> 8) | (v << 8));
    }

    function _le32(uint32 v) internal pure returns (bytes4) {
        return bytes4(abi.encodePacked(_le16(uint16(v)), _le16(uint16(v >> 16))));
    }
}

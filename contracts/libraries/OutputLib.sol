// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title OutputLib
/// @notice Packs an inference output into one storage word. An output of at most 31 bytes is stored inline
/// (left-aligned, its length in the last byte, as Solidity stores short `bytes`); a longer one is represented by
/// its keccak256 hash with the last byte set to `HASHED`, and its bytes are stored separately.
/// @dev Equal outputs always pack to equal words, and distinct outputs to distinct words (inline packing is
/// injective; a hashed word keeps 248 bits of keccak256), so words can be compared to tally agreement.
/// Outputs are never empty, so a packed word is never zero.
library OutputLib {
    /// @notice Longest output stored inline.
    uint256 internal constant MAX_INLINE = 31;
    /// @notice Last byte of a hashed word (greater than any inline length).
    uint256 internal constant HASHED = 0xff;

    /// @notice The word for `output`, which must be 1 to any number of bytes long.
    function pack(bytes calldata output) internal pure returns (bytes32 word) {
        uint256 length = output.length;
        if (length > MAX_INLINE) return bytes32(uint256(keccak256(output)) | HASHED);
        uint256 data;
        // Assembly: one CALLDATALOAD instead of copying the output to memory.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            data := calldataload(output.offset)
        }
        // calldataload reads 32 bytes; keep only the output's own `length` leading bytes.
        data &= ~(type(uint256).max >> (length * 8));
        return bytes32(data | length);
    }

    /// @notice Whether `word` holds its output inline.
    function isInline(bytes32 word) internal pure returns (bool) {
        return uint256(word) & 0xff != HASHED;
    }

    /// @notice The output held inline in `word`.
    function unpack(bytes32 word) internal pure returns (bytes memory output) {
        uint256 length = uint256(word) & 0xff;
        output = new bytes(length);
        // Assembly: one MSTORE writes the whole word.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(add(output, 0x20), word)
        }
        // The word's last byte (the length) was written past `length`, inside the 32 bytes just allocated;
        // only `length` bytes are part of the output.
    }
}

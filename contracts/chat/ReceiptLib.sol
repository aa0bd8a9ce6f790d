// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IReceiptSettlement} from "./IReceiptSettlement.sol";

/// @title ReceiptLib
/// @notice The hashes of `IReceiptSettlement`: a receipt's EIP-712 digest under the TeeVerifier's domain, a batch's
/// leaves and its indexed Merkle tree. `src/core/receipts.ts` computes the same off-chain.
library ReceiptLib {
    // Compile-time constants: the long type strings cost no gas.
    // solhint-disable gas-small-strings
    /// @notice The EIP-712 type of a receipt.
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256(
        "InferenceReceipt(address settlement,address operator,address enclave,uint64 modelId,uint32 version,bytes32 requestHash,bytes32 responseHash,uint32 promptTokens,uint32 completionTokens,uint96 price,bytes32 paymentId,uint64 issuedAt)"
    );
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    // solhint-enable gas-small-strings
    /// @dev The TeeVerifier's EIP-712 name and version (`EIP712("InferenceTeeVerifier", "1")`).
    bytes32 internal constant TEE_NAME_HASH = keccak256("InferenceTeeVerifier");
    bytes32 internal constant TEE_VERSION_HASH = keccak256("1");
    /// @notice Tags a leaf's preimage (which is also longer than a node's).
    bytes32 internal constant LEAF_TAG = keccak256("InferenceReceiptLeaf");

    /// @notice The EIP-712 digest of `receipt` under the domain of the TeeVerifier `verifier` on this chain.
    function digest(IReceiptSettlement.Receipt calldata receipt, address verifier) internal view returns (bytes32) {
        bytes32 domain =
            keccak256(abi.encode(DOMAIN_TYPEHASH, TEE_NAME_HASH, TEE_VERSION_HASH, block.chainid, verifier));
        // Every member is a static type, so `abi.encode(receipt)` is EIP-712's `encodeData`: one word per member.
        bytes32 structHash = keccak256(abi.encodePacked(RECEIPT_TYPEHASH, abi.encode(receipt)));
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    /// @notice The leaf of a receipt with digest `receiptDigest`, its signature and its running sum.
    function leaf(bytes32 receiptDigest, bytes calldata signature, uint128 cumulative) internal pure returns (bytes32) {
        return keccak256(abi.encode(LEAF_TAG, receiptDigest, keccak256(signature), cumulative));
    }

    /// @notice Whether `proof` leads from `leafHash` at `index` to `root` in a tree of `count` leaves: `index <
    /// count` and exactly `ceil(log2(count))` siblings.
    function verify(bytes32 root, uint256 count, bytes32 leafHash, uint256 index, bytes32[] calldata proof)
        internal
        pure
        returns (bool)
    {
        if (index >= count || proof.length != depth(count)) return false;
        bytes32 node = leafHash;
        for (uint256 i; i < proof.length; ++i) {
            node = (index >> i) & 1 == 0 ? hashPair(node, proof[i]) : hashPair(proof[i], node);
        }
        return node == root;
    }

    /// @notice `ceil(log2(count))`: the number of levels above the leaves.
    function depth(uint256 count) internal pure returns (uint256 d) {
        while ((uint256(1) << d) < count) ++d;
    }

    /// @notice An inner node.
    function hashPair(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(left, right));
    }
}

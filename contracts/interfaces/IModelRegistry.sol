// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ModelId, Mode} from "../types/Ids.sol";

/// @title IModelRegistry
/// @notice Permissionless registry of models and their immutable versions.
/// @notice A model has an owner and a price per inference; the owner publishes versions, each recording the
/// content identifiers of its files, its model card, and the verification modes it supports together with what
/// binds each mode to this exact version. Nobody, the owner included, can delete or rewrite a published version:
/// the owner can only mark it deprecated, after which no new job can be requested for it.
/// @dev There is no admin: the registry has no privileged role at all.
/// @dev Warning: a ZK binding proves that the version's verifier holds the bound key, not that the key is the
/// circuit of the version's model file: clients check that off-chain by rebuilding the circuit from the ONNX file.
/// @dev Every event carries the full data it records, so an indexer never needs to read storage.
interface IModelRegistry {
    /* TYPES */

    /// @notice A file of a model version. `cid` is the binary IPFS CIDv1 of the file's content;
    /// `sha256` the SHA-256 digest of the raw bytes; `path` the file's path inside the model directory.
    struct FileRef {
        string path;
        bytes cid;
        bytes32 sha256;
    }

    /// @notice What binds a verification mode to a version.
    /// @dev For ZK: `verifier` is the circuit's `Groth16Verifier`, deployed through the registry's
    /// `verifierFactory`, and `bindings` is `[vkHash]`, the hash of the key that factory recorded for it: the
    /// registry refuses any other contract, so a version can never be bound to an always-true, switchable or
    /// borrowed verifier.
    /// For TEE: `verifier` is zero and `bindings` lists the accepted enclave measurements.
    /// For VANILLA: both are empty.
    /// For DUAL (ZK + TEE): both are empty, and the version must also bind ZK and TEE: a dual job is checked
    /// against those two bindings (the same verifying key and the same measurements).
    struct ModeBinding {
        Mode mode;
        address verifier;
        bytes32[] bindings;
    }

    /// @notice Everything published for a new version.
    /// @dev `cardHash` is the SHA-256 of the model card file (Markdown with YAML front matter) and `cardCid`
    /// its CIDv1; the card itself must also appear in `files` if clients should be able to pull it with the rest.
    struct VersionInput {
        bytes32 cardHash;
        bytes cardCid;
        FileRef[] files;
        ModeBinding[] modes;
    }

    /// @notice A model's owner and its price per inference, in the escrow's payment token.
    struct Model {
        address owner;
        uint96 price;
    }

    /// @notice The fixed-size part of a version.
    /// @param publishedAt Block timestamp of publication (never zero for an existing version).
    /// @param modes Bitmask of supported modes (`1 << mode`).
    /// @param deprecated Whether the owner has deprecated the version.
    struct VersionInfo {
        uint64 publishedAt;
        uint32 modes;
        bool deprecated;
        bytes32 cardHash;
    }

    /* EVENTS */

    /// @notice Emitted when `owner` creates model `modelId` with a price of `price` per inference.
    event ModelCreated(ModelId indexed modelId, address indexed owner, uint96 price);

    /// @notice Emitted when version `version` of `modelId` is published, with everything it records.
    event VersionPublished(
        ModelId indexed modelId,
        uint32 indexed version,
        address indexed publisher,
        bytes32 cardHash,
        bytes cardCid,
        FileRef[] files,
        ModeBinding[] modes
    );

    /// @notice Emitted when the owner deprecates a version.
    event VersionDeprecated(ModelId indexed modelId, uint32 indexed version);

    /// @notice Emitted when the owner changes the price per inference.
    event PriceUpdated(ModelId indexed modelId, uint96 oldPrice, uint96 newPrice);

    /// @notice Emitted when the owner proposes `newOwner`; ownership moves when `newOwner` accepts.
    event OwnershipTransferStarted(ModelId indexed modelId, address indexed owner, address indexed newOwner);

    /// @notice Emitted when ownership of a model moves.
    event OwnershipTransferred(ModelId indexed modelId, address indexed previousOwner, address indexed newOwner);

    /* ERRORS */

    /// @notice `modelId` does not exist.
    error ModelRegistryUnknownModel(ModelId modelId);
    /// @notice `version` of `modelId` does not exist.
    error ModelRegistryUnknownVersion(ModelId modelId, uint32 version);
    /// @notice `account` is not the owner (or the pending owner, for `acceptOwnership`) of `modelId`.
    error ModelRegistryUnauthorizedAccount(ModelId modelId, address account);
    /// @notice `newOwner` is not a valid owner (the zero address).
    error ModelRegistryInvalidOwner(address newOwner);
    /// @notice The version has been deprecated: no new job can use it.
    error ModelRegistryVersionDeprecated(ModelId modelId, uint32 version);
    /// @notice The version does not support `mode`.
    error ModelRegistryModeNotSupported(ModelId modelId, uint32 version, Mode mode);
    /// @notice The model card's hash or CID is missing.
    error ModelRegistryInvalidCard(bytes32 cardHash, uint256 cidLength);
    /// @notice A version must list between 1 and `max` files.
    error ModelRegistryInvalidFileCount(uint256 count, uint256 max);
    /// @notice File `index` has an empty or oversize path or CID, or a zero hash.
    error ModelRegistryInvalidFile(uint256 index);
    /// @notice A version must support between 1 and `max` modes.
    error ModelRegistryInvalidModeCount(uint256 count, uint256 max);
    /// @notice `mode` does not exist (`ModesLib.KNOWN`) or is listed twice.
    error ModelRegistryInvalidMode(Mode mode);
    /// @notice The binding of `mode` is malformed: wrong number of bindings, a zero binding, or a missing
    /// or unexpected verifier contract (for ZK: one the verifier factory did not deploy).
    error ModelRegistryInvalidBinding(Mode mode, address verifier, uint256 bindingCount);

    /// @notice The version supports DUAL mode (`modes`, a bitmask) without binding both ZK and TEE.
    error ModelRegistryIncompleteDualMode(uint32 modes);

    /// @notice The ZK binding names `verifier`, whose key hash in the verifier factory is `deployed` (zero: not
    /// a factory verifier), but binds `bound`.
    error ModelRegistryVerifierKeyMismatch(address verifier, bytes32 deployed, bytes32 bound);

    /* FUNCTIONS */

    /// @notice The factory whose verifiers ZK bindings may name.
    function verifierFactory() external view returns (address);

    /// @notice Creates a model owned by the caller.
    /// @param price The price per inference paid to the owner on every paid job.
    function createModel(uint96 price) external returns (ModelId modelId);

    /// @notice Publishes the next version of `modelId` (versions are numbered from 1). Only the owner.
    function publishVersion(ModelId modelId, VersionInput calldata input) external returns (uint32 version);

    /// @notice Creates a model owned by the caller and publishes its version 1 in one transaction.
    function createModelAndPublish(uint96 price, VersionInput calldata input) external returns (ModelId modelId);

    /// @notice Marks a version deprecated. Only the owner. Irreversible; open jobs on it still complete.
    function deprecateVersion(ModelId modelId, uint32 version) external;

    /// @notice Sets the price per inference. Only the owner. Jobs already requested keep the price they escrowed.
    function setPrice(ModelId modelId, uint96 newPrice) external;

    /// @notice Starts a two-step ownership transfer. Only the owner. `newOwner` zero cancels a pending one.
    function transferOwnership(ModelId modelId, address newOwner) external;

    /// @notice Completes a transfer started by `transferOwnership`. Only the pending owner.
    function acceptOwnership(ModelId modelId) external;

    /// @notice The model's owner and price. Reverts with `ModelRegistryUnknownModel` for an unknown model.
    function modelOf(ModelId modelId) external view returns (Model memory);

    /// @notice The pending owner of a model (zero if none).
    function pendingOwnerOf(ModelId modelId) external view returns (address);

    /// @notice The number of models created so far (model ids are 1..modelCount).
    function modelCount() external view returns (uint64);

    /// @notice The number of versions of `modelId` (versions are 1..versionCount).
    function versionCount(ModelId modelId) external view returns (uint32);

    /// @notice The fixed-size part of a version. Reverts with `ModelRegistryUnknownVersion` if it does not exist.
    function versionOf(ModelId modelId, uint32 version) external view returns (VersionInfo memory);

    /// @notice The CID of the version's model card.
    function cardCidOf(ModelId modelId, uint32 version) external view returns (bytes memory);

    /// @notice The files of a version.
    function filesOf(ModelId modelId, uint32 version) external view returns (FileRef[] memory);

    /// @notice What binds `mode` to a version. Reverts with `ModelRegistryModeNotSupported` if it is unsupported.
    function bindingOf(ModelId modelId, uint32 version, Mode mode) external view returns (ModeBinding memory);

    /// @notice Whether `binding` (an enclave measurement, a verifying-key hash) is bound to `mode` of the version.
    function isBound(ModelId modelId, uint32 version, Mode mode, bytes32 binding) external view returns (bool);

    /// @notice The owner and price a job on this version and mode must pay.
    /// @dev Reverts if the version is unknown, deprecated, or does not support `mode`.
    function quote(ModelId modelId, uint32 version, Mode mode) external view returns (address owner, uint96 price);
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {ModelId, Mode, ModesLib} from "../types/Ids.sol";
import {IGroth16VerifierFactory} from "../verifiers/zk/IGroth16VerifierFactory.sol";

/// @title ModelRegistry
/// @notice Permissionless, append-only registry of models and versions. See `IModelRegistry`.
contract ModelRegistry is IModelRegistry {
    using ModesLib for uint32;

    /// @notice Most files one version may list.
    uint256 public constant MAX_FILES = 64;
    /// @notice Longest file path, in bytes.
    uint256 public constant MAX_PATH_BYTES = 256;
    /// @notice Longest CID, in bytes (a binary CIDv1 with a sha2-256 multihash is 36 bytes).
    uint256 public constant MAX_CID_BYTES = 128;
    /// @notice Most modes one version may support.
    uint256 public constant MAX_VERSION_MODES = 8;
    /// @notice Most bindings (e.g. enclave measurements) per mode.
    uint256 public constant MAX_BINDINGS = 16;

    struct VersionRecord {
        VersionInfo info;
        bytes cardCid;
        FileRef[] files;
    }

    IGroth16VerifierFactory internal immutable _verifierFactory;

    uint64 internal _modelCount;
    mapping(ModelId => Model) internal _models;
    mapping(ModelId => address) internal _pendingOwners;
    mapping(ModelId => uint32) internal _versionCounts;
    mapping(ModelId => mapping(uint32 => VersionRecord)) internal _versions;
    mapping(ModelId => mapping(uint32 => mapping(Mode => ModeBinding))) internal _bindings;
    mapping(ModelId => mapping(uint32 => mapping(Mode => mapping(bytes32 => bool)))) internal _bound;

    constructor(IGroth16VerifierFactory verifierFactory_) {
        _verifierFactory = verifierFactory_;
    }

    modifier onlyModelOwner(ModelId modelId) {
        _checkModelOwner(modelId);
        _;
    }

    /* OWNER FUNCTIONS */

    /// @inheritdoc IModelRegistry
    function createModel(uint96 price) external returns (ModelId modelId) {
        return _createModel(price);
    }

    /// @inheritdoc IModelRegistry
    function publishVersion(ModelId modelId, VersionInput calldata input)
        external
        onlyModelOwner(modelId)
        returns (uint32 version)
    {
        return _publish(modelId, input);
    }

    /// @inheritdoc IModelRegistry
    function createModelAndPublish(uint96 price, VersionInput calldata input) external returns (ModelId modelId) {
        modelId = _createModel(price);
        _publish(modelId, input);
    }

    /// @inheritdoc IModelRegistry
    function deprecateVersion(ModelId modelId, uint32 version) external onlyModelOwner(modelId) {
        VersionInfo storage info = _existingVersion(modelId, version).info;
        if (info.deprecated) revert ModelRegistryVersionDeprecated(modelId, version);

        info.deprecated = true;

        emit VersionDeprecated(modelId, version);
    }

    /// @inheritdoc IModelRegistry
    function setPrice(ModelId modelId, uint96 newPrice) external onlyModelOwner(modelId) {
        uint96 oldPrice = _models[modelId].price;

        _models[modelId].price = newPrice;

        emit PriceUpdated(modelId, oldPrice, newPrice);
    }

    /// @inheritdoc IModelRegistry
    function transferOwnership(ModelId modelId, address newOwner) external onlyModelOwner(modelId) {
        _pendingOwners[modelId] = newOwner;

        emit OwnershipTransferStarted(modelId, msg.sender, newOwner);
    }

    /// @inheritdoc IModelRegistry
    function acceptOwnership(ModelId modelId) external {
        if (_pendingOwners[modelId] != msg.sender) revert ModelRegistryUnauthorizedAccount(modelId, msg.sender);
        address previousOwner = _models[modelId].owner;

        delete _pendingOwners[modelId];
        _models[modelId].owner = msg.sender;

        emit OwnershipTransferred(modelId, previousOwner, msg.sender);
    }

    /* VIEWS */

    /// @inheritdoc IModelRegistry
    function modelOf(ModelId modelId) external view returns (Model memory) {
        return _existingModel(modelId);
    }

    /// @inheritdoc IModelRegistry
    function verifierFactory() external view returns (address) {
        return address(_verifierFactory);
    }

    /// @inheritdoc IModelRegistry
    function pendingOwnerOf(ModelId modelId) external view returns (address) {
        return _pendingOwners[modelId];
    }

    /// @inheritdoc IModelRegistry
    function modelCount() external view returns (uint64) {
        return _modelCount;
    }

    /// @inheritdoc IModelRegistry
    function versionCount(ModelId modelId) external view returns (uint32) {
        return _versionCounts[modelId];
    }

    /// @inheritdoc IModelRegistry
    function versionOf(ModelId modelId, uint32 version) external view returns (VersionInfo memory) {
        return _existingVersion(modelId, version).info;
    }

    /// @inheritdoc IModelRegistry
    function cardCidOf(ModelId modelId, uint32 version) external view returns (bytes memory) {
        return _existingVersion(modelId, version).cardCid;
    }

    /// @inheritdoc IModelRegistry
    function filesOf(ModelId modelId, uint32 version) external view returns (FileRef[] memory) {
        return _existingVersion(modelId, version).files;
    }

    /// @inheritdoc IModelRegistry
    function bindingOf(ModelId modelId, uint32 version, Mode mode) external view returns (ModeBinding memory) {
        if (!_existingVersion(modelId, version).info.modes.has(mode)) {
            revert ModelRegistryModeNotSupported(modelId, version, mode);
        }
        return _bindings[modelId][version][mode];
    }

    /// @inheritdoc IModelRegistry
    function isBound(ModelId modelId, uint32 version, Mode mode, bytes32 binding) external view returns (bool) {
        return _bound[modelId][version][mode][binding];
    }

    /// @inheritdoc IModelRegistry
    function quote(ModelId modelId, uint32 version, Mode mode) external view returns (address owner, uint96 price) {
        Model memory model = _existingModel(modelId);
        VersionInfo storage info = _existingVersion(modelId, version).info;
        if (info.deprecated) revert ModelRegistryVersionDeprecated(modelId, version);
        if (!info.modes.has(mode)) revert ModelRegistryModeNotSupported(modelId, version, mode);
        return (model.owner, model.price);
    }

    /* INTERNAL */

    function _createModel(uint96 price) internal returns (ModelId modelId) {
        modelId = ModelId.wrap(++_modelCount);

        _models[modelId] = Model({owner: msg.sender, price: price});

        emit ModelCreated(modelId, msg.sender, price);
    }

    function _publish(ModelId modelId, VersionInput calldata input) internal returns (uint32 version) {
        _validateCard(input);
        _validateFiles(input.files);
        uint32 modes = _validateModes(input.modes);

        version = ++_versionCounts[modelId];
        VersionRecord storage record = _versions[modelId][version];
        record.info = VersionInfo({
            publishedAt: uint64(block.timestamp), modes: modes, deprecated: false, cardHash: input.cardHash
        });
        record.cardCid = input.cardCid;
        _storeFiles(record.files, input.files);
        _storeBindings(modelId, version, input.modes);

        emit VersionPublished(modelId, version, msg.sender, input.cardHash, input.cardCid, input.files, input.modes);
    }

    function _storeFiles(FileRef[] storage stored, FileRef[] calldata files) internal {
        for (uint256 i; i < files.length; ++i) {
            FileRef storage file = stored.push();
            file.path = files[i].path;
            file.cid = files[i].cid;
            file.sha256 = files[i].sha256;
        }
    }

    function _storeBindings(ModelId modelId, uint32 version, ModeBinding[] calldata modes) internal {
        for (uint256 i; i < modes.length; ++i) {
            ModeBinding calldata binding = modes[i];
            ModeBinding storage stored = _bindings[modelId][version][binding.mode];
            stored.mode = binding.mode;
            stored.verifier = binding.verifier;
            for (uint256 j; j < binding.bindings.length; ++j) {
                stored.bindings.push(binding.bindings[j]);
                _bound[modelId][version][binding.mode][binding.bindings[j]] = true;
            }
        }
    }

    function _validateCard(VersionInput calldata input) internal pure {
        uint256 cidLength = input.cardCid.length;
        if (input.cardHash == bytes32(0) || cidLength == 0 || cidLength > MAX_CID_BYTES) {
            revert ModelRegistryInvalidCard(input.cardHash, cidLength);
        }
    }

    function _validateFiles(FileRef[] calldata files) internal pure {
        if (files.length == 0 || files.length > MAX_FILES) {
            revert ModelRegistryInvalidFileCount(files.length, MAX_FILES);
        }
        for (uint256 i; i < files.length; ++i) {
            FileRef calldata file = files[i];
            uint256 pathLength = bytes(file.path).length;
            uint256 cidLength = file.cid.length;
            if (
                pathLength == 0 || pathLength > MAX_PATH_BYTES || cidLength == 0 || cidLength > MAX_CID_BYTES
                    || file.sha256 == bytes32(0)
            ) revert ModelRegistryInvalidFile(i);
        }
    }

    /// @dev Returns the bitmask of modes after checking each mode's binding has the shape its mode requires.
    function _validateModes(ModeBinding[] calldata modes) internal view returns (uint32 mask) {
        if (modes.length == 0 || modes.length > MAX_VERSION_MODES) {
            revert ModelRegistryInvalidModeCount(modes.length, MAX_VERSION_MODES);
        }
        for (uint256 i; i < modes.length; ++i) {
            Mode mode = modes[i].mode;
            if (!ModesLib.isKnown(mode) || mask.has(mode)) revert ModelRegistryInvalidMode(mode);
            _validateBinding(modes[i]);
            mask |= ModesLib.bit(mode);
        }
        // The dual verifier checks the version's own ZK and TEE bindings: without both, no dual job could settle.
        if (mask.has(ModesLib.DUAL) && !(mask.has(ModesLib.ZK) && mask.has(ModesLib.TEE))) {
            revert ModelRegistryIncompleteDualMode(mask);
        }
    }

    function _validateBinding(ModeBinding calldata binding) internal view {
        Mode mode = binding.mode;
        uint256 count = binding.bindings.length;
        bool verifierOk;
        bool countOk;
        if (mode == ModesLib.VANILLA || mode == ModesLib.DUAL) {
            (verifierOk, countOk) = (binding.verifier == address(0), count == 0);
        } else if (mode == ModesLib.TEE) {
            (verifierOk, countOk) = (binding.verifier == address(0), count > 0 && count <= MAX_BINDINGS);
        } else {
            (verifierOk, countOk) = (binding.verifier != address(0), count == 1);
        }
        if (!verifierOk || !countOk) revert ModelRegistryInvalidBinding(mode, binding.verifier, count);
        for (uint256 j; j < count; ++j) {
            if (binding.bindings[j] == bytes32(0)) revert ModelRegistryInvalidBinding(mode, binding.verifier, count);
        }
        if (mode == ModesLib.ZK) _checkZkVerifier(binding.verifier, binding.bindings[0]);
    }

    /// @dev The verifier must be the factory's `Groth16Verifier` of exactly the bound key.
    function _checkZkVerifier(address verifier, bytes32 bound) internal view {
        bytes32 deployed = _verifierFactory.vkHashOf(verifier);
        if (deployed != bound) revert ModelRegistryVerifierKeyMismatch(verifier, deployed, bound);
    }

    function _checkModelOwner(ModelId modelId) internal view {
        if (_existingModel(modelId).owner != msg.sender) revert ModelRegistryUnauthorizedAccount(modelId, msg.sender);
    }

    function _existingModel(ModelId modelId) internal view returns (Model memory model) {
        model = _models[modelId];
        if (model.owner == address(0)) revert ModelRegistryUnknownModel(modelId);
    }

    function _existingVersion(ModelId modelId, uint32 version) internal view returns (VersionRecord storage record) {
        record = _versions[modelId][version];
        if (record.info.publishedAt == 0) revert ModelRegistryUnknownVersion(modelId, version);
    }
}

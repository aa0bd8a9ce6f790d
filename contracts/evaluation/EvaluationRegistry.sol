// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {DatasetId, EvaluationId, IEvaluationRegistry} from "../interfaces/IEvaluationRegistry.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeStaking} from "../interfaces/INodeStaking.sol";
import {ITeeVerifier} from "../interfaces/ITeeVerifier.sol";
import {TokenLib} from "../libraries/TokenLib.sol";
import {Mode, ModelId, ModesLib} from "../types/Ids.sol";

/// @title EvaluationRegistry
/// @notice Datasets, evaluation requests and the results attested enclaves sign for them. See `IEvaluationRegistry`.
/// @dev No admin and no parameters: every bound is a constant.
contract EvaluationRegistry is IEvaluationRegistry, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @inheritdoc IEvaluationRegistry
    int64 public constant METRIC_SCALE = 1e6;
    /// @notice Shortest time from a request to its deadline.
    uint64 public constant MIN_DURATION = 1 minutes;
    /// @notice Longest time from a request to its deadline.
    uint64 public constant MAX_DURATION = 30 days;
    /// @notice Longest rows CID, in bytes (a CIDv1 with a SHA-256 multihash takes 36).
    uint256 public constant MAX_CID_LENGTH = 128;
    /// @notice Longest name, split or baseline description, in bytes.
    uint256 public constant MAX_TEXT_LENGTH = 256;
    // A compile-time constant: the long type string costs no gas.
    // solhint-disable gas-small-strings
    /// @notice The EIP-712 type an enclave signs.
    bytes32 public constant EVALUATION_RESULT_TYPEHASH = keccak256(
        "EvaluationResult(uint64 requestId,uint64 modelId,uint32 version,uint64 datasetId,bytes32 rowsSha256,uint8 metric,uint32 rowCount,int64 value,int64 baselineValue)"
    );
    // solhint-enable gas-small-strings

    /// @inheritdoc IEvaluationRegistry
    IERC20 public immutable token;
    /// @inheritdoc IEvaluationRegistry
    IModelRegistry public immutable registry;
    /// @inheritdoc IEvaluationRegistry
    ITeeVerifier public immutable teeVerifier;
    /// @inheritdoc IEvaluationRegistry
    INodeStaking public immutable staking;

    /// @dev A request in two slots: its terms, status and result time (a deadline within `MAX_DURATION` of a block
    /// time fits 40 bits until the year 36812), then its requester and fee.
    // 8 + 4 + 8 + 5 + 1 + 5 bytes, then 20 + 12: two slots already; the rule's heuristic misreads the id types.
    // solhint-disable-next-line gas-struct-packing
    struct RequestRecord {
        ModelId modelId;
        uint32 version;
        DatasetId datasetId;
        uint40 deadline;
        Status status;
        uint40 evaluatedAt;
        address requester;
        uint96 fee;
    }

    /// @dev A result in one slot (its time is in the request's first slot, written with its status).
    struct ResultRecord {
        address enclave;
        int64 value;
    }

    uint64 internal _datasetCount;
    uint64 internal _requestCount;
    mapping(DatasetId => Dataset) internal _datasets;
    mapping(EvaluationId => RequestRecord) internal _requests;
    mapping(EvaluationId => ResultRecord) internal _results;
    mapping(ModelId => mapping(uint32 version => mapping(DatasetId => EvaluationId))) internal _latest;
    mapping(address account => uint256) internal _credits;

    constructor(IERC20 token_, IModelRegistry registry_, ITeeVerifier teeVerifier_, INodeStaking staking_)
        EIP712("InferenceEvaluationRegistry", "1")
    {
        _requireCode("token", address(token_));
        _requireCode("registry", address(registry_));
        _requireCode("teeVerifier", address(teeVerifier_));
        _requireCode("staking", address(staking_));
        (token, registry, teeVerifier, staking) = (token_, registry_, teeVerifier_, staking_);
    }

    /* DATASETS */

    /// @inheritdoc IEvaluationRegistry
    function registerDataset(DatasetInput calldata input) external returns (DatasetId datasetId) {
        _checkDataset(input);
        datasetId = DatasetId.wrap(++_datasetCount);

        _datasets[datasetId] = Dataset({
            registrant: msg.sender,
            registeredAt: uint64(block.timestamp),
            rowsSha256: input.rowsSha256,
            rowCount: input.rowCount,
            metric: input.metric,
            baselineValue: input.baselineValue,
            rowsCid: input.rowsCid,
            name: input.name,
            split: input.split,
            baseline: input.baseline
        });

        emit DatasetRegistered(
            datasetId,
            msg.sender,
            input.rowsSha256,
            input.rowsCid,
            input.rowCount,
            input.metric,
            input.baselineValue,
            input.name,
            input.split,
            input.baseline
        );
    }

    function _checkDataset(DatasetInput calldata input) internal pure {
        uint256 cidLength = input.rowsCid.length;
        if (cidLength == 0 || cidLength > MAX_CID_LENGTH || input.rowsSha256 == 0 || input.rowCount == 0) {
            revert EvaluationRegistryInvalidRows(cidLength, input.rowsSha256, input.rowCount);
        }
        _checkText("name", bytes(input.name), 1);
        _checkText("split", bytes(input.split), 0);
        _checkText("baseline", bytes(input.baseline), 0);
        _checkValue(input.metric, input.baselineValue);
    }

    function _checkText(string memory field, bytes calldata text, uint256 min) internal pure {
        if (text.length < min || text.length > MAX_TEXT_LENGTH) {
            revert EvaluationRegistryInvalidText(field, text.length, MAX_TEXT_LENGTH);
        }
    }

    function _checkValue(Metric metric, int64 value) internal pure {
        if (value < 0 || (metric == Metric.Accuracy && value > METRIC_SCALE)) {
            revert EvaluationRegistryValueOutOfRange(metric, value);
        }
    }

    /* REQUESTS */

    /// @inheritdoc IEvaluationRegistry
    function requestEvaluation(ModelId modelId, uint32 version, DatasetId datasetId, uint96 fee, uint64 deadline)
        external
        nonReentrant
        returns (EvaluationId requestId)
    {
        _requireDataset(datasetId);
        if (!ModesLib.has(registry.versionOf(modelId, version).modes, ModesLib.TEE)) {
            revert EvaluationRegistryTeeNotSupported(modelId, version);
        }
        (uint64 earliest, uint64 latest) =
            (uint64(block.timestamp) + MIN_DURATION, uint64(block.timestamp) + MAX_DURATION);
        if (deadline < earliest || deadline > latest) {
            revert EvaluationRegistryInvalidDeadline(deadline, earliest, latest);
        }
        requestId = EvaluationId.wrap(++_requestCount);

        _requests[requestId] = RequestRecord({
            modelId: modelId,
            version: version,
            datasetId: datasetId,
            deadline: uint40(deadline),
            status: Status.Open,
            evaluatedAt: 0,
            requester: msg.sender,
            fee: fee
        });

        emit EvaluationRequested(requestId, modelId, datasetId, version, msg.sender, fee, deadline);

        if (fee != 0) {
            uint256 received = TokenLib.pull(token, msg.sender, fee);
            if (received != fee) revert EvaluationRegistryTransferMismatch(fee, received);
        }
    }

    /// @inheritdoc IEvaluationRegistry
    function submitEvaluation(
        EvaluationId requestId,
        int64 value,
        int64 baselineValue,
        uint32 rowCount,
        bytes calldata signature
    ) external {
        RequestRecord storage request = _openRequest(requestId);
        if (block.timestamp > request.deadline) revert EvaluationRegistryDeadlinePassed(requestId, request.deadline);
        EvaluationResult memory result = _checkedResult(requestId, request, value, baselineValue, rowCount);
        address enclave = _recover(_digest(result), signature);
        (address operator, bytes32 measurement) = _checkEnclave(enclave, result.modelId, result.version);

        _record(request, result, enclave, operator, measurement);
    }

    /// @dev The result the enclave must have signed, once its row count, baseline and value fit the dataset.
    function _checkedResult(
        EvaluationId requestId,
        RequestRecord storage request,
        int64 value,
        int64 baselineValue,
        uint32 rowCount
    ) internal view returns (EvaluationResult memory) {
        Dataset storage dataset = _datasets[request.datasetId];
        if (rowCount != dataset.rowCount) {
            revert EvaluationRegistryRowCountMismatch(requestId, dataset.rowCount, rowCount);
        }
        if (baselineValue != dataset.baselineValue) {
            revert EvaluationRegistryBaselineMismatch(requestId, dataset.baselineValue, baselineValue);
        }
        _checkValue(dataset.metric, value);
        return EvaluationResult({
            requestId: requestId,
            modelId: request.modelId,
            version: request.version,
            datasetId: request.datasetId,
            rowsSha256: dataset.rowsSha256,
            metric: dataset.metric,
            rowCount: rowCount,
            value: value,
            baselineValue: baselineValue
        });
    }

    /// @dev Marks the request evaluated, keeps its result as the latest of its triple, credits its fee to `operator`,
    /// and emits `EvaluationRecorded`.
    function _record(
        RequestRecord storage request,
        EvaluationResult memory r,
        address enclave,
        address operator,
        bytes32 measurement
    ) internal {
        uint96 fee = request.fee;

        (request.status, request.evaluatedAt) = (Status.Evaluated, uint40(block.timestamp));
        _results[r.requestId] = ResultRecord({enclave: enclave, value: r.value});
        _latest[r.modelId][r.version][r.datasetId] = r.requestId;
        _credits[operator] += fee;

        emit EvaluationRecorded(
            r.requestId,
            r.modelId,
            r.datasetId,
            r.version,
            r.value,
            r.baselineValue,
            r.rowCount,
            enclave,
            operator,
            measurement,
            fee
        );
    }

    function _checkEnclave(address enclave, ModelId modelId, uint32 version)
        internal
        view
        returns (address operator, bytes32 measurement)
    {
        ITeeVerifier.Enclave memory e = teeVerifier.enclaveOf(enclave);
        (operator, measurement) = (e.operator, e.measurement);
        if (operator == address(0)) revert EvaluationRegistryUnknownEnclave(enclave);
        if (e.revoked) revert EvaluationRegistryEnclaveRevoked(enclave);
        if (block.timestamp >= e.expiresAt) revert EvaluationRegistryEnclaveExpired(enclave, e.expiresAt);
        if (teeVerifier.measurementRevokedAt(measurement) != 0) {
            revert EvaluationRegistryMeasurementRevoked(enclave, measurement);
        }
        if (!registry.isBound(modelId, version, ModesLib.TEE, measurement)) {
            revert EvaluationRegistryMeasurementNotBound(modelId, version, measurement);
        }
        if (!staking.isEligible(operator, Mode.unwrap(ModesLib.TEE), 0)) {
            revert EvaluationRegistryOperatorIneligible(operator);
        }
    }

    function _recover(bytes32 digest, bytes calldata signature) internal pure returns (address signer) {
        ECDSA.RecoverError error;
        (signer, error,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (error != ECDSA.RecoverError.NoError) revert EvaluationRegistryInvalidSignature();
    }

    /// @inheritdoc IEvaluationRegistry
    function refund(EvaluationId requestId) external {
        RequestRecord storage request = _openRequest(requestId);
        if (block.timestamp <= request.deadline) revert EvaluationRegistryNotExpired(requestId, request.deadline);
        (address requester, uint96 fee) = (request.requester, request.fee);

        request.status = Status.Refunded;
        _credits[requester] += fee;

        emit EvaluationRefunded(requestId, requester, fee);
    }

    /// @dev The request, which must exist and be open.
    function _openRequest(EvaluationId requestId) internal view returns (RequestRecord storage request) {
        request = _requests[requestId];
        Status status = request.status;
        if (status == Status.None) revert EvaluationRegistryUnknownRequest(requestId);
        if (status != Status.Open) revert EvaluationRegistryRequestNotOpen(requestId, status);
    }

    /* CREDITS */

    /// @inheritdoc IEvaluationRegistry
    function withdraw(address recipient) external nonReentrant returns (uint256 amount) {
        if (recipient == address(0)) revert EvaluationRegistryInvalidRecipient(recipient);
        amount = _credits[msg.sender];
        if (amount == 0) revert EvaluationRegistryNothingToWithdraw(msg.sender);

        delete _credits[msg.sender];

        emit CreditsWithdrawn(msg.sender, recipient, amount);

        token.safeTransfer(recipient, amount);
    }

    /* VIEWS */

    /// @inheritdoc IEvaluationRegistry
    function datasetOf(DatasetId datasetId) external view returns (Dataset memory) {
        _requireDataset(datasetId);
        return _datasets[datasetId];
    }

    /// @inheritdoc IEvaluationRegistry
    function datasetCount() external view returns (uint64) {
        return _datasetCount;
    }

    /// @inheritdoc IEvaluationRegistry
    function requestOf(EvaluationId requestId) external view returns (Request memory) {
        RequestRecord memory r = _requests[requestId];
        if (r.status == Status.None) revert EvaluationRegistryUnknownRequest(requestId);
        return Request({
            modelId: r.modelId,
            version: r.version,
            datasetId: r.datasetId,
            deadline: r.deadline,
            status: r.status,
            requester: r.requester,
            fee: r.fee
        });
    }

    /// @inheritdoc IEvaluationRegistry
    function requestCount() external view returns (uint64) {
        return _requestCount;
    }

    /// @inheritdoc IEvaluationRegistry
    function resultOf(EvaluationId requestId) external view returns (Result memory) {
        return _result(requestId);
    }

    /// @inheritdoc IEvaluationRegistry
    function latestEvaluationOf(ModelId modelId, uint32 version, DatasetId datasetId)
        external
        view
        returns (EvaluationId)
    {
        return _latest[modelId][version][datasetId];
    }

    /// @inheritdoc IEvaluationRegistry
    function verifiedEvaluation(ModelId modelId, uint32 version, DatasetId datasetId)
        external
        view
        returns (VerifiedEvaluation memory v)
    {
        EvaluationId id = _latest[modelId][version][datasetId];
        if (EvaluationId.unwrap(id) == 0) return v;
        Result memory result = _result(id);
        Dataset storage dataset = _datasets[datasetId];
        ITeeVerifier.Enclave memory e = teeVerifier.enclaveOf(result.enclave);
        v = VerifiedEvaluation({
            id: id,
            valid: !e.revoked && teeVerifier.measurementRevokedAt(e.measurement) == 0,
            metric: dataset.metric,
            value: result.value,
            baselineValue: dataset.baselineValue,
            rowCount: dataset.rowCount,
            evaluatedAt: result.evaluatedAt,
            enclave: result.enclave,
            operator: e.operator,
            measurement: e.measurement
        });
    }

    /// @dev The result of a request as the interface describes it (all zero unless evaluated).
    function _result(EvaluationId requestId) internal view returns (Result memory) {
        ResultRecord memory r = _results[requestId];
        return Result({value: r.value, evaluatedAt: _requests[requestId].evaluatedAt, enclave: r.enclave});
    }

    /// @inheritdoc IEvaluationRegistry
    function isBetter(Metric metric, int64 value, int64 other) external pure returns (bool) {
        return metric == Metric.Accuracy ? value > other : value < other;
    }

    /// @inheritdoc IEvaluationRegistry
    function credits(address account) external view returns (uint256) {
        return _credits[account];
    }

    /// @inheritdoc IEvaluationRegistry
    function evaluationDigest(EvaluationResult calldata result) external view returns (bytes32) {
        return _digest(result);
    }

    function _digest(EvaluationResult memory r) internal view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    EVALUATION_RESULT_TYPEHASH,
                    r.requestId,
                    r.modelId,
                    r.version,
                    r.datasetId,
                    r.rowsSha256,
                    r.metric,
                    r.rowCount,
                    r.value,
                    r.baselineValue
                )
            )
        );
    }

    function _requireDataset(DatasetId datasetId) internal view {
        uint64 id = DatasetId.unwrap(datasetId);
        if (id == 0 || id > _datasetCount) revert EvaluationRegistryUnknownDataset(datasetId);
    }

    function _requireCode(string memory name, address account) internal view {
        if (account.code.length == 0) revert EvaluationRegistryInvalidContract(name, account);
    }
}

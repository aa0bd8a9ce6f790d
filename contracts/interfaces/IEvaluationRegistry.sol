// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IModelRegistry} from "./IModelRegistry.sol";
import {INodeStaking} from "./INodeStaking.sol";
import {ITeeVerifier} from "./ITeeVerifier.sol";
import {ModelId} from "../types/Ids.sol";

/// @dev Identifier of a dataset in the EvaluationRegistry (1-based, sequential).
type DatasetId is uint64;

/// @dev Identifier of an evaluation request in the EvaluationRegistry (1-based, sequential).
type EvaluationId is uint64;

/// @title IEvaluationRegistry
/// @notice Verified evaluations: how good a model version is on a published dataset, measured inside an attested
/// enclave and recorded against that exact version and dataset. A proof or an enclave signature on an inference says
/// that the computation ran; an evaluation says how often its answers were right.
/// - Datasets: anyone registers one, content-addressed: the CIDv1 and the SHA-256 of its rows file (the format is
///   `vin-evaluation-rows/1`, see `src/models/evaluation.ts`), its row count, the split it is (in words), the metric
///   it is scored by, and the value a trivial baseline scores on it, computed the same way from the baseline's
///   predictions the file carries. A dataset never changes.
/// - Requests: anyone asks for an evaluation of (model, version, dataset), paying `fee` into escrow until `deadline`.
///   The version must support TEE mode: its enclave measurements are what an evaluation is trusted by.
/// - Results: an enclave registered in `ITeeVerifier` (to an operator eligible for TEE in `INodeStaking`, unrevoked,
///   unexpired, with an unrevoked measurement the version binds to TEE mode) fetches the rows by CID, checks their
///   SHA-256, runs the version on every row, scores its predictions and the baseline's by the dataset's metric, and
///   signs both with the row count (EIP-712 `EvaluationResult`, bound to the request, this contract and this chain).
///   Anyone may submit the signature (the operator, a hot key of its, a relayer): the fee is credited to the
///   enclave's operator whoever sends it. The first valid submission records the result; the row count and the
///   baseline must be the dataset's, so a dataset that misstates its baseline never gets a result.
/// - Refunds: a request unserved by its deadline is refunded to its requester (anyone may trigger it).
/// - Payments are pulled: fees and refunds are credited and withdrawn with `withdraw`.
/// There is no admin: no one can change a dataset, a result or a credit.
///
/// Metric values are fixed-point with `METRIC_SCALE` (10^6) units per unit: accuracy in millionths (0 to 10^6),
/// errors in millionths of the target's unit (never negative). Accuracy is better higher; errors are better lower.
///
/// Who can profit from each rule, and whether they can cause it:
/// - An operator is paid for a result, but only one its enclave signed: forging one takes the enclave's key. It can
///   serve only versions that bind its enclave's measurement, so a version's owner decides which software may speak
///   for it, as for its TEE jobs.
/// - A front-runner of a submission gains nothing: the signature fixes the values, and the fee goes to the operator.
/// - A requester is refunded exactly its fee, and only after the deadline; no one else can take it.
/// - A dataset's registrant can lie in its name or split, not in its rows (content-addressed) or its baseline (checked
///   by every result).
///
/// @dev Warning: a result is as trustworthy as the enclave that signed it. `verifiedEvaluation` is valid only while
/// that enclave and its measurement are unrevoked in `ITeeVerifier`; a development deployment's enclaves prove nothing.
/// @dev Warning: a dataset is what its registrant published. Whether its rows were held out from the model's training
/// is not provable on-chain: public rows can be trained on. Consumers pin the datasets they trust by id, not by name.
/// @dev Warning: onnxruntime's float kernels may differ in the last bit between processors, so two honest enclaves can
/// disagree on a row whose prediction sits on a boundary; the latest result of a (model, version, dataset) is the one
/// `verifiedEvaluation` reports.
/// @dev ZK evaluations (a proof of the metric over the committed rows) are not implemented.
interface IEvaluationRegistry {
    /* TYPES */

    /// @notice How a dataset is scored. Accuracy: the share of rows whose predicted class (the argmax of the model's
    /// outputs) is the label. Mean absolute error: the mean of |prediction − target| over the rows. Root mean squared
    /// error: the square root of the mean of (prediction − target)².
    enum Metric {
        Accuracy,
        MeanAbsoluteError,
        RootMeanSquaredError
    }

    /// @notice Status of an evaluation request.
    enum Status {
        None,
        Open,
        Evaluated,
        Refunded
    }

    /// @notice What `registerDataset` records.
    /// @param rowsCid The binary CIDv1 of the rows file, where nodes fetch it.
    /// @param rowsSha256 The SHA-256 of the rows file's bytes, which nodes check before use.
    /// @param rowCount Rows in the file, from 1.
    /// @param metric How results are scored.
    /// @param baselineValue The metric of the file's baseline predictions over its rows (fixed point, `METRIC_SCALE`).
    /// @param name A short name, e.g. `seattle-weather held-out`.
    /// @param split Which rows these are, e.g. `last 20% of a seeded shuffle (seed 13) of seattle-weather.csv`.
    /// @param baseline What the trivial baseline is, e.g. `rain when precipitation > 0, else dry`.
    // A calldata struct: ABI encoding takes a word per field whatever the order.
    // solhint-disable-next-line gas-struct-packing
    struct DatasetInput {
        bytes rowsCid;
        bytes32 rowsSha256;
        uint32 rowCount;
        Metric metric;
        int64 baselineValue;
        string name;
        string split;
        string baseline;
    }

    /// @notice A registered dataset.
    // A returned memory struct: packing does not matter.
    // solhint-disable-next-line gas-struct-packing
    struct Dataset {
        address registrant;
        uint64 registeredAt;
        bytes32 rowsSha256;
        uint32 rowCount;
        Metric metric;
        int64 baselineValue;
        bytes rowsCid;
        string name;
        string split;
        string baseline;
    }

    /// @notice An evaluation request.
    /// @param deadline The last second a result is accepted; after it the fee can be refunded.
    // A returned memory struct: packing does not matter.
    // solhint-disable-next-line gas-struct-packing
    struct Request {
        ModelId modelId;
        uint32 version;
        DatasetId datasetId;
        uint64 deadline;
        Status status;
        address requester;
        uint96 fee;
    }

    /// @notice The result recorded for a request.
    /// @param value The version's metric on the dataset (fixed point, `METRIC_SCALE`).
    /// @param evaluatedAt When it was recorded.
    /// @param enclave The enclave key that signed it.
    struct Result {
        int64 value;
        uint64 evaluatedAt;
        address enclave;
    }

    /// @notice The latest result of a (model, version, dataset), with what it is trusted by, as of now.
    /// @param id The request it answered; zero if there is none (then everything else is zero).
    /// @param valid Whether the enclave that signed it and its measurement are still unrevoked in `ITeeVerifier`.
    /// @param operator The operator the enclave is registered to (who was paid).
    /// @param measurement The enclave's measurement.
    // A returned memory struct: packing does not matter.
    // solhint-disable-next-line gas-struct-packing
    struct VerifiedEvaluation {
        EvaluationId id;
        bool valid;
        Metric metric;
        int64 value;
        int64 baselineValue;
        uint32 rowCount;
        uint64 evaluatedAt;
        address enclave;
        address operator;
        bytes32 measurement;
    }

    /// @notice What an enclave signs (EIP-712, domain `InferenceEvaluationRegistry`, version `1`, this chain and this
    /// contract): its result for request `requestId`, the dataset's rows it hashed, the metric, the rows it scored, the
    /// version's value and the baseline's.
    // A hashed memory struct: packing does not matter.
    // solhint-disable-next-line gas-struct-packing
    struct EvaluationResult {
        EvaluationId requestId;
        ModelId modelId;
        uint32 version;
        DatasetId datasetId;
        bytes32 rowsSha256;
        Metric metric;
        uint32 rowCount;
        int64 value;
        int64 baselineValue;
    }

    /* EVENTS */

    /// @notice Emitted when `registrant` registers dataset `datasetId`, with everything it records.
    event DatasetRegistered(
        DatasetId indexed datasetId,
        address indexed registrant,
        bytes32 indexed rowsSha256,
        bytes rowsCid,
        uint32 rowCount,
        Metric metric,
        int64 baselineValue,
        string name,
        string split,
        string baseline
    );

    /// @notice Emitted when `requester` asks for an evaluation of `modelId`@`version` on `datasetId`, escrowing `fee`
    /// until `deadline`.
    event EvaluationRequested(
        EvaluationId indexed requestId,
        ModelId indexed modelId,
        DatasetId indexed datasetId,
        uint32 version,
        address requester,
        uint96 fee,
        uint64 deadline
    );

    /// @notice Emitted when a result is recorded: `value` of `modelId`@`version` on `datasetId` (whose baseline scores
    /// `baselineValue` over `rowCount` rows), signed by `enclave` of `operator` with `measurement`; `fee` is credited to
    /// `operator`.
    event EvaluationRecorded(
        EvaluationId indexed requestId,
        ModelId indexed modelId,
        DatasetId indexed datasetId,
        uint32 version,
        int64 value,
        int64 baselineValue,
        uint32 rowCount,
        address enclave,
        address operator,
        bytes32 measurement,
        uint96 fee
    );

    /// @notice Emitted when an unserved request is refunded: `fee` is credited to `requester`.
    event EvaluationRefunded(EvaluationId indexed requestId, address indexed requester, uint96 fee);

    /// @notice Emitted when `account` withdraws `amount` of its credits to `recipient`.
    event CreditsWithdrawn(address indexed account, address indexed recipient, uint256 amount);

    /* ERRORS */

    /// @notice The rows file's CID is empty or longer than `MAX_CID_LENGTH`, its hash is zero, or it has no rows.
    error EvaluationRegistryInvalidRows(uint256 cidLength, bytes32 rowsSha256, uint32 rowCount);
    /// @notice The text field `field` is `length` bytes long: it must be 1 to `max` (the name) or 0 to `max`.
    error EvaluationRegistryInvalidText(string field, uint256 length, uint256 max);
    /// @notice `value` is not a possible value of `metric` (accuracy: 0 to `METRIC_SCALE`; errors: at least 0).
    error EvaluationRegistryValueOutOfRange(Metric metric, int64 value);
    /// @notice `datasetId` does not exist.
    error EvaluationRegistryUnknownDataset(DatasetId datasetId);
    /// @notice `requestId` does not exist.
    error EvaluationRegistryUnknownRequest(EvaluationId requestId);
    /// @notice `modelId`@`version` does not support TEE mode: no enclave could ever evaluate it.
    error EvaluationRegistryTeeNotSupported(ModelId modelId, uint32 version);
    /// @notice The deadline must lie between `earliest` and `latest`.
    error EvaluationRegistryInvalidDeadline(uint64 deadline, uint64 earliest, uint64 latest);
    /// @notice The token moved `received` instead of `expected` (a fee-on-transfer or otherwise non-standard token).
    error EvaluationRegistryTransferMismatch(uint256 expected, uint256 received);
    /// @notice The request is `status`, not open.
    error EvaluationRegistryRequestNotOpen(EvaluationId requestId, Status status);
    /// @notice The request's deadline `deadline` has passed: it can only be refunded.
    error EvaluationRegistryDeadlinePassed(EvaluationId requestId, uint64 deadline);
    /// @notice The request can be refunded only after its deadline `deadline`.
    error EvaluationRegistryNotExpired(EvaluationId requestId, uint64 deadline);
    /// @notice The result scores `given` rows; the dataset has `expected`.
    error EvaluationRegistryRowCountMismatch(EvaluationId requestId, uint32 expected, uint32 given);
    /// @notice The result's baseline is `given`; the dataset declares `expected`.
    error EvaluationRegistryBaselineMismatch(EvaluationId requestId, int64 expected, int64 given);
    /// @notice The signature is not 65 bytes, or it does not recover to a key.
    error EvaluationRegistryInvalidSignature();
    /// @notice `enclave` is not registered in `ITeeVerifier`.
    error EvaluationRegistryUnknownEnclave(address enclave);
    /// @notice `enclave` has been revoked.
    error EvaluationRegistryEnclaveRevoked(address enclave);
    /// @notice `enclave`'s registration expired at `expiresAt`.
    error EvaluationRegistryEnclaveExpired(address enclave, uint64 expiresAt);
    /// @notice `enclave`'s measurement `measurement` has been revoked.
    error EvaluationRegistryMeasurementRevoked(address enclave, bytes32 measurement);
    /// @notice `modelId`@`version` does not bind `measurement` to TEE mode.
    error EvaluationRegistryMeasurementNotBound(ModelId modelId, uint32 version, bytes32 measurement);
    /// @notice `operator` (the enclave's) is not registered for TEE mode with the minimum stake.
    error EvaluationRegistryOperatorIneligible(address operator);
    /// @notice `account` has nothing to withdraw.
    error EvaluationRegistryNothingToWithdraw(address account);
    /// @notice Withdrawals need a non-zero recipient.
    error EvaluationRegistryInvalidRecipient(address recipient);
    /// @notice The constructor argument `name` is `account`, which has no code.
    error EvaluationRegistryInvalidContract(string name, address account);

    /* DATASETS */

    /// @notice Registers a dataset; anyone may. Nothing about it can change afterwards.
    function registerDataset(DatasetInput calldata input) external returns (DatasetId datasetId);

    /* REQUESTS */

    /// @notice Asks for an evaluation of `modelId`@`version` on `datasetId` and pulls `fee` (zero allowed) from the
    /// caller (`transferFrom`: approve first). `deadline` lies `MIN_DURATION` to `MAX_DURATION` from now.
    /// @dev Reverts with the registry's error for an unknown version. A deprecated version may be evaluated.
    /// @dev Warning: the token must be a plain ERC-20: a transfer that arrives short reverts.
    function requestEvaluation(ModelId modelId, uint32 version, DatasetId datasetId, uint96 fee, uint64 deadline)
        external
        returns (EvaluationId requestId);

    /// @notice Records an enclave's result for an open request before its deadline and credits the fee to the
    /// enclave's operator. `signature` is the enclave's over `EvaluationResult(requestId, the request's model, version
    /// and dataset, the dataset's rowsSha256 and metric, rowCount, value, baselineValue)`; `rowCount` and
    /// `baselineValue` must be the dataset's. The signer must be registered in `ITeeVerifier` to an operator eligible
    /// for TEE mode in `INodeStaking`, unrevoked, unexpired, with an unrevoked measurement the version binds to TEE.
    /// Anyone may call.
    function submitEvaluation(
        EvaluationId requestId,
        int64 value,
        int64 baselineValue,
        uint32 rowCount,
        bytes calldata signature
    ) external;

    /// @notice Credits the fee of an open request back to its requester once its deadline has passed. Anyone may call.
    function refund(EvaluationId requestId) external;

    /// @notice Sends all of the caller's credits (fees earned, refunds) to `recipient`.
    function withdraw(address recipient) external returns (uint256 amount);

    /* VIEWS */

    // solhint-disable-next-line func-name-mixedcase, use-natspec
    /// @notice Fixed-point units per unit of a metric value.
    function METRIC_SCALE() external view returns (int64);

    /// @notice The token fees are paid in.
    function token() external view returns (IERC20);

    /// @notice Whose versions are evaluated, and whose TEE bindings say which enclaves may evaluate them.
    function registry() external view returns (IModelRegistry);

    /// @notice Where evaluating enclaves are registered.
    function teeVerifier() external view returns (ITeeVerifier);

    /// @notice Where evaluating enclaves' operators must be eligible for TEE mode.
    function staking() external view returns (INodeStaking);

    /// @notice A dataset. Reverts with `EvaluationRegistryUnknownDataset` if it does not exist.
    function datasetOf(DatasetId datasetId) external view returns (Dataset memory);

    /// @notice Datasets registered so far (ids are 1..datasetCount).
    function datasetCount() external view returns (uint64);

    /// @notice A request. Reverts with `EvaluationRegistryUnknownRequest` if it does not exist.
    function requestOf(EvaluationId requestId) external view returns (Request memory);

    /// @notice Requests made so far (ids are 1..requestCount).
    function requestCount() external view returns (uint64);

    /// @notice The result recorded for a request (all zero unless it was evaluated).
    function resultOf(EvaluationId requestId) external view returns (Result memory);

    /// @notice The request whose result is the latest of `modelId`@`version` on `datasetId` (zero if none).
    function latestEvaluationOf(ModelId modelId, uint32 version, DatasetId datasetId)
        external
        view
        returns (EvaluationId);

    /// @notice The latest result of `modelId`@`version` on `datasetId`, and whether it is still valid: its enclave
    /// and measurement unrevoked in `ITeeVerifier` now. What a consumer contract reads before trusting a version.
    function verifiedEvaluation(ModelId modelId, uint32 version, DatasetId datasetId)
        external
        view
        returns (VerifiedEvaluation memory);

    /// @notice Whether `value` scores better than `other` under `metric` (higher accuracy, lower error).
    function isBetter(Metric metric, int64 value, int64 other) external pure returns (bool);

    /// @notice Credits `account` can withdraw.
    function credits(address account) external view returns (uint256);

    /// @notice The EIP-712 digest an enclave signs for `result`.
    function evaluationDigest(EvaluationResult calldata result) external view returns (bytes32);
}

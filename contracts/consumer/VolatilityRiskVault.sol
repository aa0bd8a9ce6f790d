// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {DatasetId, EvaluationId, IEvaluationRegistry} from "../interfaces/IEvaluationRegistry.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {JobId, Mode, ModelId, ModesLib} from "../types/Ids.sol";
import {InferenceConsumerBase} from "./InferenceConsumerBase.sol";
import {VolatilityLib} from "./VolatilityLib.sol";

/// @title VolatilityRiskVault
/// @notice A vault that sets its risk limit from a volatility forecaster (the bundled S&P 500 model): the exposure a
/// strategy may take is `capital * targetVolatility / forecast`, capped at `maxLeverageBps` of capital. It acts on a
/// forecast only when all of these hold, and otherwise records why it refused it:
/// - the job settled in ZK, TEE or dual mode (a verified computation, not one node's word);
/// - the pinned model version has a verified evaluation on the pinned dataset (`IEvaluationRegistry`), still valid
///   (its enclave and measurement unrevoked), no worse than `evaluationThreshold`, and better than the dataset's
///   trivial baseline when `requireBeatsBaseline`;
/// - the result arrived within `maxDelay` of its request (its inputs were current), and no later request's result
///   was accepted before it;
/// - the forecast lies within [`minVolatility`, `maxVolatility`] and, against the last accepted one, moved at most
///   `maxChangeBps`; a larger move trips the circuit breaker.
/// The risk limit (`riskLimit`) is zero while the breaker is tripped, when no forecast is younger than `maxAge`, or when
/// the version's evaluation is no longer acceptable: the vault then takes no risk rather than an unverified one.
/// @dev A verified output proves the model computed it, not that the model is any good: the evaluation gate is what
/// refuses a wrong model whose outputs verify. The model, version, dataset and thresholds are fixed at deployment.
contract VolatilityRiskVault is InferenceConsumerBase {
    using SafeERC20 for IERC20;

    /// @notice Why a forecast was not acted on.
    enum Refusal {
        None,
        NotSettled,
        WrongModel,
        ModeNotVerified,
        NoEvaluation,
        EvaluationRevoked,
        EvaluationBelowThreshold,
        NotBetterThanBaseline,
        Late,
        Superseded,
        MalformedOutput,
        OutOfRange,
        BreakerTripped
    }

    /// @notice What the vault trusts and how it sizes risk; fixed at deployment.
    /// @param evaluationThreshold The worst acceptable metric value (`IEvaluationRegistry.METRIC_SCALE`): an accuracy
    /// at least this, an error at most this.
    /// @param maxDelay Seconds from a request to its result, at most.
    /// @param maxAge Seconds an accepted forecast sets the risk limit for.
    /// @param maxChangeBps Largest move from the last accepted forecast, in basis points, before the breaker trips.
    /// @param zkScaleBits Fractional bits of the ZK circuit's output (ZK and dual jobs).
    /// @param minVolatility Lowest plausible forecast, in micro-percent per day (10^-6 % per day).
    /// @param maxVolatility Highest plausible forecast, in the same unit.
    /// @param targetVolatility The volatility the vault's exposure aims at, in the same unit.
    /// @param maxLeverageBps The exposure's cap, in basis points of capital.
    // Fixed at deployment and copied into immutables: packing does not matter.
    // solhint-disable-next-line gas-struct-packing
    struct Config {
        ModelId modelId;
        uint32 version;
        DatasetId datasetId;
        int64 evaluationThreshold;
        bool requireBeatsBaseline;
        uint32 maxDelay;
        uint32 maxAge;
        uint16 maxChangeBps;
        uint8 zkScaleBits;
        uint64 minVolatility;
        uint64 maxVolatility;
        uint64 targetVolatility;
        uint32 maxLeverageBps;
    }

    /// @notice A job the vault requested, as it asked for it.
    struct Pending {
        Mode mode;
        uint64 requestedAt;
    }

    /// @notice The forecast the risk limit is set from.
    struct Forecast {
        JobId jobId;
        uint64 volatility;
        uint64 requestedAt;
        uint64 acceptedAt;
    }

    /// @notice `caller` is not the owner.
    error VolatilityRiskVaultUnauthorizedCaller(address caller);
    /// @notice A request must name the pinned model version (`modelId`@`version`).
    error VolatilityRiskVaultWrongModel(ModelId modelId, uint32 version);
    /// @notice A request must use ZK, TEE or dual mode, not `mode`.
    error VolatilityRiskVaultModeNotVerified(Mode mode);
    /// @notice A configuration value is unusable (`name`).
    error VolatilityRiskVaultInvalidConfig(string name);

    /// @notice Emitted when a forecast is acted on: the risk limit is now `limit`.
    event ForecastAccepted(JobId indexed jobId, uint64 volatility, uint256 limit);
    /// @notice Emitted when a job's outcome is not acted on, and why (`volatility` is zero unless it was decoded).
    event ForecastRefused(JobId indexed jobId, Refusal reason, int256 volatility);
    /// @notice Emitted when the breaker trips (`jobId` zero when the owner tripped it).
    event BreakerTripped(JobId indexed jobId, uint64 previous, int256 next);
    /// @notice Emitted when the owner resets the breaker.
    event BreakerReset();
    /// @notice Emitted when the owner sets the capital the risk limit scales.
    event CapitalSet(uint256 capital);

    /// @notice The account that requests forecasts, sets capital and resets the breaker.
    address public immutable owner;
    /// @notice Where the pinned version's evaluation is read.
    IEvaluationRegistry public immutable evaluations;
    /// @notice The pinned model.
    ModelId public immutable modelId;
    /// @notice The pinned version of `modelId`.
    uint32 public immutable version;
    /// @notice The dataset whose verified evaluation the vault requires.
    DatasetId public immutable datasetId;
    /// @notice See `Config`.
    int64 public immutable evaluationThreshold;
    /// @notice Whether the evaluation must beat the dataset's trivial baseline.
    bool public immutable requireBeatsBaseline;
    /// @notice See `Config`.
    uint32 public immutable maxDelay;
    /// @notice See `Config`.
    uint32 public immutable maxAge;
    /// @notice See `Config`.
    uint16 public immutable maxChangeBps;
    /// @notice See `Config`.
    uint8 public immutable zkScaleBits;
    /// @notice See `Config`.
    uint64 public immutable minVolatility;
    /// @notice See `Config`.
    uint64 public immutable maxVolatility;
    /// @notice See `Config`.
    uint64 public immutable targetVolatility;
    /// @notice See `Config`.
    uint32 public immutable maxLeverageBps;

    /// @notice The capital the risk limit scales (token units).
    uint256 public capital;
    /// @notice Whether the breaker is tripped: no forecast is acted on and the risk limit is zero until `resetBreaker`.
    bool public tripped;
    Forecast internal _forecast;
    mapping(JobId => Pending) internal _requested;

    constructor(IJobEscrow escrow_, IEvaluationRegistry evaluations_, address owner_, Config memory config)
        InferenceConsumerBase(escrow_)
    {
        if (config.minVolatility == 0 || config.minVolatility > config.maxVolatility) {
            revert VolatilityRiskVaultInvalidConfig("volatility bounds");
        }
        if (config.maxChangeBps == 0) revert VolatilityRiskVaultInvalidConfig("maxChangeBps");
        if (config.maxAge == 0 || config.maxDelay == 0) revert VolatilityRiskVaultInvalidConfig("maxAge/maxDelay");
        (owner, evaluations) = (owner_, evaluations_);
        (modelId, version, datasetId) = (config.modelId, config.version, config.datasetId);
        (evaluationThreshold, requireBeatsBaseline) = (config.evaluationThreshold, config.requireBeatsBaseline);
        (maxDelay, maxAge, maxChangeBps, zkScaleBits) =
        (config.maxDelay, config.maxAge, config.maxChangeBps, config.zkScaleBits);
        (minVolatility, maxVolatility) = (config.minVolatility, config.maxVolatility);
        (targetVolatility, maxLeverageBps) = (config.targetVolatility, config.maxLeverageBps);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert VolatilityRiskVaultUnauthorizedCaller(msg.sender);
        _;
    }

    /* OWNER */

    /// @notice Requests a forecast of the pinned version in ZK, TEE or dual mode, paid from this contract's tokens.
    function request(IJobEscrow.RequestParams calldata params) external onlyOwner returns (JobId jobId) {
        if (ModelId.unwrap(params.modelId) != ModelId.unwrap(modelId) || params.version != version) {
            revert VolatilityRiskVaultWrongModel(params.modelId, params.version);
        }
        if (!_verifiedMode(params.mode)) revert VolatilityRiskVaultModeNotVerified(params.mode);
        jobId = _requestInference(params);
        _requested[jobId] = Pending({mode: params.mode, requestedAt: uint64(block.timestamp)});
    }

    /// @notice Sets the capital the risk limit scales.
    function setCapital(uint256 capital_) external onlyOwner {
        capital = capital_;
        emit CapitalSet(capital_);
    }

    /// @notice Trips the breaker by hand.
    function tripBreaker() external onlyOwner {
        tripped = true;
        emit BreakerTripped(JobId.wrap(0), _forecast.volatility, 0);
    }

    /// @notice Resets the breaker and forgets the last forecast: the next acceptable one is acted on whatever its move.
    function resetBreaker() external onlyOwner {
        tripped = false;
        delete _forecast;
        emit BreakerReset();
    }

    /// @notice Withdraws this contract's credits in the escrow (refunds, unpaid fees) to `recipient`.
    function claim(address recipient) external onlyOwner returns (uint256) {
        return _claimCredits(recipient);
    }

    /// @notice Sends `amount` of the payment tokens this contract holds to `recipient`.
    function withdrawTokens(address recipient, uint256 amount) external onlyOwner {
        IERC20(escrow.token()).safeTransfer(recipient, amount);
    }

    /* VIEWS */

    /// @notice The exposure a strategy may take now: zero while the breaker is tripped, without a forecast younger
    /// than `maxAge`, or when the version's evaluation is no longer acceptable.
    function riskLimit() public view returns (uint256) {
        Forecast memory f = _forecast;
        if (tripped || f.acceptedAt == 0 || block.timestamp > f.acceptedAt + maxAge) return 0;
        if (evaluationRefusal() != Refusal.None) return 0;
        return VolatilityLib.exposure(capital, targetVolatility, f.volatility, maxLeverageBps);
    }

    /// @notice The forecast the risk limit is set from (all zero if none).
    function forecast() external view returns (Forecast memory) {
        return _forecast;
    }

    /// @notice How the vault asked for `jobId` (zero if it did not).
    function requested(JobId jobId) external view returns (Pending memory) {
        return _requested[jobId];
    }

    /// @notice Why the pinned version's evaluation does not let the vault act now, or `None`.
    function evaluationRefusal() public view returns (Refusal) {
        IEvaluationRegistry.VerifiedEvaluation memory e = evaluations.verifiedEvaluation(modelId, version, datasetId);
        if (EvaluationId.unwrap(e.id) == 0) return Refusal.NoEvaluation;
        if (!e.valid) return Refusal.EvaluationRevoked;
        if (evaluations.isBetter(e.metric, evaluationThreshold, e.value)) {
            return Refusal.EvaluationBelowThreshold;
        }
        if (requireBeatsBaseline && !evaluations.isBetter(e.metric, e.value, e.baselineValue)) {
            return Refusal.NotBetterThanBaseline;
        }
        return Refusal.None;
    }

    /* CALLBACK */

    function _onInferenceResult(JobId jobId, bool settled, bytes32, bytes calldata output) internal override {
        Pending memory p = _requested[jobId];
        delete _requested[jobId];
        (Refusal reason, int256 value) = _judge(p, settled, output);
        if (reason == Refusal.None && _forecast.acceptedAt != 0) {
            if (VolatilityLib.changeBps(_forecast.volatility, uint256(value)) > maxChangeBps) {
                tripped = true;
                emit BreakerTripped(jobId, _forecast.volatility, value);
                reason = Refusal.BreakerTripped;
            }
        }
        if (reason != Refusal.None) {
            emit ForecastRefused(jobId, reason, value);
            return;
        }

        _forecast = Forecast({
            jobId: jobId,
            volatility: uint64(uint256(value)),
            requestedAt: p.requestedAt,
            acceptedAt: uint64(block.timestamp)
        });

        emit ForecastAccepted(jobId, uint64(uint256(value)), riskLimit());
    }

    /// @dev Why the outcome of a job asked for as `p` is refused, or `None`, and the forecast it carries.
    function _judge(Pending memory p, bool settled, bytes calldata output)
        internal
        view
        returns (Refusal reason, int256 value)
    {
        if (!settled) return (Refusal.NotSettled, 0);
        if (tripped) return (Refusal.BreakerTripped, 0);
        if (!_verifiedMode(p.mode)) return (Refusal.ModeNotVerified, 0);
        if (block.timestamp > p.requestedAt + maxDelay) return (Refusal.Late, 0);
        if (p.requestedAt < _forecast.requestedAt) return (Refusal.Superseded, 0);
        reason = evaluationRefusal();
        if (reason != Refusal.None) return (reason, 0);
        bool ok;
        (value, ok) = p.mode == ModesLib.TEE
            ? VolatilityLib.fromTeeOutput(output)
            : VolatilityLib.fromZkOutput(output, zkScaleBits);
        if (!ok) return (Refusal.MalformedOutput, 0);
        if (value < int256(uint256(minVolatility)) || value > int256(uint256(maxVolatility))) {
            return (Refusal.OutOfRange, value);
        }
    }

    /// @dev ZK, TEE and dual jobs are settled by a proof or an attested enclave's signature; vanilla ones are not.
    function _verifiedMode(Mode mode) internal pure returns (bool) {
        return mode == ModesLib.TEE || mode == ModesLib.ZK || mode == ModesLib.DUAL;
    }
}


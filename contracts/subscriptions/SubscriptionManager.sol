// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {ISubscriptionManager} from "../interfaces/ISubscriptionManager.sol";
import {TokenLib} from "../libraries/TokenLib.sol";
import {JobId, ModelId, Mode, ModesLib} from "../types/Ids.sol";
import {RoundInputEncoder} from "./RoundInputEncoder.sol";
import {RoundInputLib} from "./RoundInputLib.sol";
import {SubscriptionFeed} from "./SubscriptionFeed.sol";

/// @title SubscriptionManager
/// @notice Subscriptions of recurring verified inference: schedules, funds, round starts on the `JobEscrow` and each
/// subscription's feed. See `ISubscriptionManager`.
/// @dev The manager is the requester of every round's job and its callback; it holds no role anywhere and has none:
/// no one can move a subscription's funds but its subscriber, and no parameter can change after deployment.
contract SubscriptionManager is ISubscriptionManager, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Shortest period between rounds.
    uint32 public constant MIN_PERIOD = 10 seconds;
    /// @notice Longest period between rounds.
    uint32 public constant MAX_PERIOD = 365 days;
    /// @notice Most rounds one subscription schedules.
    uint32 public constant MAX_ROUNDS = 100_000;
    /// @notice The gas each round's callback runs with: decoding the output and writing the feed's round take
    /// under half of it.
    uint32 public constant CALLBACK_GAS_LIMIT = 120_000;
    /// @notice Most values an input source may return for one round.
    uint256 public constant MAX_INPUT_VALUES = 64;
    /// @notice Longest input source arguments, in bytes.
    uint256 public constant MAX_INPUT_ARGS_BYTES = 1_024;
    /// @notice Longest feed description, in bytes.
    uint256 public constant MAX_DESCRIPTION_BYTES = 128;
    /// @notice Longest posted input URI, in bytes.
    uint256 public constant MAX_URI_BYTES = 512;
    /// @notice The escrow's most nodes per job.
    uint8 public constant MAX_REDUNDANCY = 7;
    /// @notice Most bits of a ZK circuit's fixed-point scale.
    uint8 public constant MAX_ZK_SCALE_BITS = 32;

    IJobEscrow internal immutable _escrow;
    IERC20 internal immutable _token;
    /// @notice The implementation every subscription's feed clones.
    address public immutable feedImplementation;
    /// @notice Encodes chain inputs into jobs' inputs and commitments (`RoundInputLib`).
    RoundInputEncoder public immutable inputEncoder;

    uint256 internal _subscriptionCount;
    /// @dev Escrow credits attributed to subscriptions and not yet claimed from the escrow.
    uint256 internal _credited;
    mapping(uint256 subscriptionId => Subscription) internal _subscriptions;
    mapping(uint256 subscriptionId => bytes) internal _inputArgs;
    mapping(uint256 subscriptionId => mapping(uint32 round => PostedInput)) internal _posted;
    mapping(uint256 subscriptionId => mapping(uint32 round => Round)) internal _rounds;
    /// @dev The round of each job awaiting its outcome (a zero subscription id: none).
    mapping(JobId jobId => RoundRef) internal _jobs;
    mapping(address keeper => uint256) internal _keeperRewards;

    struct RoundRef {
        uint64 subscriptionId;
        uint32 round;
    }

    constructor(IJobEscrow escrow_) {
        _escrow = escrow_;
        _token = IERC20(escrow_.token());
        feedImplementation = address(new SubscriptionFeed());
        inputEncoder = new RoundInputEncoder();
        // The escrow pulls exactly each job's price from its requester, and only when the requester (this contract)
        // asks it to: one unlimited approval saves an approval per round.
        _token.forceApprove(address(escrow_), type(uint256).max);
    }

    /* SUBSCRIBER FUNCTIONS */

    /// @inheritdoc ISubscriptionManager
    function subscribe(SubscriptionParams calldata params)
        external
        nonReentrant
        returns (uint256 subscriptionId, address feed)
    {
        (uint64 startTime, uint32 rounds) = _schedule(params);
        _checkJobTerms(params);
        uint8 fractionBits = _checkInput(params);
        uint256 jobCost = _quote(params.modelId, params.version, params.mode, params.redundancy, params.feePerNode);
        if (jobCost > params.maxJobCost) revert SubscriptionManagerCostAboveMax(jobCost, params.maxJobCost);
        uint256 funded = uint256(rounds) * (jobCost + params.keeperReward);
        if (funded > type(uint128).max) revert SubscriptionManagerCostAboveMax(funded, type(uint128).max);

        subscriptionId = ++_subscriptionCount;
        feed = Clones.cloneWithImmutableArgs(
            feedImplementation,
            abi.encodePacked(address(this), uint64(subscriptionId), _decimals(params.answerKind), params.description)
        );
        _store(subscriptionId, params, startTime, rounds, fractionBits, feed, funded);

        emit SubscriptionCreated(subscriptionId, msg.sender, feed, params, rounds, startTime, funded);

        _pull(msg.sender, funded);
    }

    /// @inheritdoc ISubscriptionManager
    function topUp(uint256 subscriptionId, uint256 amount) external nonReentrant {
        Subscription storage s = _active(subscriptionId);
        if (amount == 0) revert SubscriptionManagerZeroAmount();

        s.balance += _toUint128(amount);

        emit SubscriptionToppedUp(subscriptionId, msg.sender, amount);

        _pull(msg.sender, amount);
    }

    /// @inheritdoc ISubscriptionManager
    function postInput(uint256 subscriptionId, uint32 round, bytes32 commitment, string calldata uri) external {
        Subscription storage s = _subscriberOf(subscriptionId);
        if (s.status != Status.Active) revert SubscriptionManagerNotActive(subscriptionId, s.status);
        bool valid = address(s.inputSource) == address(0) && round >= s.nextRound && round < s.rounds
            && commitment != bytes32(0) && bytes(uri).length != 0 && bytes(uri).length <= MAX_URI_BYTES;
        if (!valid) revert SubscriptionManagerInvalidPostedInput(subscriptionId, round);

        _posted[subscriptionId][round] = PostedInput({commitment: commitment, uri: uri});

        emit InputPosted(subscriptionId, round, commitment, uri);
    }

    /// @inheritdoc ISubscriptionManager
    function cancel(uint256 subscriptionId) external nonReentrant returns (uint256 refunded) {
        Subscription storage s = _subscriberOf(subscriptionId);
        if (s.status != Status.Active) revert SubscriptionManagerNotActive(subscriptionId, s.status);
        refunded = s.balance;

        s.status = Status.Cancelled;
        s.balance = 0;

        emit SubscriptionCancelled(subscriptionId, refunded);

        _pay(msg.sender, refunded);
    }

    /// @inheritdoc ISubscriptionManager
    function withdraw(uint256 subscriptionId, address recipient) external nonReentrant returns (uint256 amount) {
        if (recipient == address(0)) revert SubscriptionManagerInvalidRecipient(recipient);
        Subscription storage s = _subscriberOf(subscriptionId);
        if (s.status == Status.Active && block.timestamp < _endOf(s)) {
            revert SubscriptionManagerStillRunning(subscriptionId, _endOf(s));
        }
        amount = s.balance;
        if (amount == 0) revert SubscriptionManagerNothingToWithdraw(msg.sender);

        s.balance = 0;

        emit SubscriptionWithdrawn(subscriptionId, recipient, amount);

        _pay(recipient, amount);
    }

    /* ANYONE */

    /// @inheritdoc ISubscriptionManager
    function startRound(uint256 subscriptionId) external nonReentrant returns (uint32 round, JobId jobId) {
        Subscription storage s = _active(subscriptionId);
        round = _dueRound(subscriptionId, s);
        IJobEscrow.RequestParams memory params = _roundRequest(subscriptionId, s, round);
        uint256 jobCost = _quote(s.modelId, s.version, s.mode, s.redundancy, s.feePerNode);
        if (jobCost > s.maxJobCost) revert SubscriptionManagerCostAboveMax(jobCost, s.maxJobCost);
        uint96 reward = s.keeperReward;
        uint256 needed = jobCost + reward;
        if (s.balance < needed) revert SubscriptionManagerInsufficientBalance(subscriptionId, s.balance, needed);
        params.maxTotal = jobCost;

        s.nextRound = round + 1;
        // `needed <= balance`, a uint128.
        s.balance -= uint128(needed);
        if (reward != 0) _keeperRewards[msg.sender] += reward;
        if (address(s.inputSource) == address(0)) delete _posted[subscriptionId][round];

        _ensureLiquidity(jobCost);
        jobId = _escrow.request(params);
        _jobs[jobId] = RoundRef({subscriptionId: uint64(subscriptionId), round: round});
        _rounds[subscriptionId][round].jobId = jobId;

        emit RoundStarted(subscriptionId, round, jobId, msg.sender, jobCost, reward);
    }

    /// @inheritdoc ISubscriptionManager
    function claimKeeperRewards(address recipient) external nonReentrant returns (uint256 amount) {
        if (recipient == address(0)) revert SubscriptionManagerInvalidRecipient(recipient);
        amount = _keeperRewards[msg.sender];
        if (amount == 0) revert SubscriptionManagerNothingToWithdraw(msg.sender);

        _keeperRewards[msg.sender] = 0;

        emit KeeperRewardsClaimed(msg.sender, recipient, amount);

        _pay(recipient, amount);
    }

    /* ESCROW CALLBACK */

    /// @inheritdoc IInferenceConsumer
    /// @dev Runs inside the escrow's settlement, after every credit of the job: a refund, a slash share or the unpaid
    /// fees of dissenting nodes are what the escrow's `claimable` of this contract gained since the last callback.
    function onInferenceResult(JobId jobId, bool settled, bytes32 outputHash, bytes calldata output) external {
        if (msg.sender != address(_escrow)) revert SubscriptionManagerUnauthorizedCallback(msg.sender);
        RoundRef memory ref = _jobs[jobId];
        if (ref.subscriptionId == 0) revert SubscriptionManagerUnknownJob(jobId);
        uint256 id = ref.subscriptionId;
        Subscription storage s = _subscriptions[id];
        // A k = 1 job that settles credits its requester nothing: skip the read.
        uint256 credit = settled && s.redundancy == 1 ? 0 : _escrow.claimable(address(this)) - _credited;

        delete _jobs[jobId];
        if (credit != 0) {
            _credited += credit;
            s.balance += _toUint128(credit);
        }
        if (!settled) {
            emit RoundRefunded(id, ref.round, jobId, credit);
            return;
        }
        (bool ok, int256 answer) = _answerOf(s, output);
        if (!ok) {
            emit RoundOutputRejected(id, ref.round, jobId, outputHash, credit);
            return;
        }
        Round storage r = _rounds[id][ref.round];
        // Answers are at most 48-bit values (`RoundInputLib`): they fit an int128.
        r.answer = int128(answer);
        r.updatedAt = uint64(block.timestamp);
        if (ref.round >= s.latestRound) s.latestRound = ref.round + 1;

        emit RoundAnswered(id, ref.round, jobId, answer, credit);
    }

    /* VIEWS */

    /// @inheritdoc ISubscriptionManager
    function escrow() external view returns (IJobEscrow) {
        return _escrow;
    }

    /// @inheritdoc ISubscriptionManager
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc ISubscriptionManager
    function subscriptionCount() external view returns (uint256) {
        return _subscriptionCount;
    }

    /// @inheritdoc ISubscriptionManager
    function subscriptionOf(uint256 subscriptionId) external view returns (Subscription memory) {
        return _subscriptions[subscriptionId];
    }

    /// @inheritdoc ISubscriptionManager
    function inputArgsOf(uint256 subscriptionId) external view returns (bytes memory) {
        return _inputArgs[subscriptionId];
    }

    /// @inheritdoc ISubscriptionManager
    function postedInputOf(uint256 subscriptionId, uint32 round) external view returns (PostedInput memory) {
        return _posted[subscriptionId][round];
    }

    /// @inheritdoc ISubscriptionManager
    function roundOf(uint256 subscriptionId, uint32 round) external view returns (Round memory) {
        return _rounds[subscriptionId][round];
    }

    /// @inheritdoc ISubscriptionManager
    function currentRound(uint256 subscriptionId) external view returns (uint32 round, uint64 dueAt, bool startable) {
        Subscription storage s = _known(subscriptionId);
        if (block.timestamp < s.startTime) return (0, s.startTime, false);
        uint256 r = (block.timestamp - s.startTime) / s.period;
        if (r >= s.rounds) return (s.rounds, _endOf(s), false);
        round = uint32(r);
        dueAt = _dueAt(s, round);
        startable = s.status == Status.Active && round >= s.nextRound;
    }

    /// @inheritdoc ISubscriptionManager
    function roundCost(uint256 subscriptionId) external view returns (uint256 jobCost, uint256 total) {
        Subscription storage s = _known(subscriptionId);
        jobCost = _quote(s.modelId, s.version, s.mode, s.redundancy, s.feePerNode);
        total = jobCost + s.keeperReward;
    }

    /// @inheritdoc ISubscriptionManager
    function roundData(uint256 subscriptionId, uint80 roundId)
        public
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Subscription storage s = _subscriptions[subscriptionId];
        if (roundId == 0 || roundId > s.rounds) revert SubscriptionManagerNoData(subscriptionId, roundId);
        uint32 round = uint32(roundId - 1);
        Round memory r = _rounds[subscriptionId][round];
        if (r.updatedAt == 0) revert SubscriptionManagerNoData(subscriptionId, roundId);
        return (roundId, r.answer, _dueAt(s, round), r.updatedAt, roundId);
    }

    /// @inheritdoc ISubscriptionManager
    function latestRoundData(uint256 subscriptionId)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return roundData(subscriptionId, _subscriptions[subscriptionId].latestRound);
    }

    /// @inheritdoc ISubscriptionManager
    function credited() external view returns (uint256) {
        return _credited;
    }

    /// @inheritdoc ISubscriptionManager
    function keeperRewardsOf(address keeper) external view returns (uint256) {
        return _keeperRewards[keeper];
    }

    /* INTERNAL: SUBSCRIBE */

    /// @dev The start time and the number of rounds, from `rounds` or `endTime` (exactly one of them).
    function _schedule(SubscriptionParams calldata p) internal view returns (uint64 startTime, uint32 rounds) {
        if (p.period < MIN_PERIOD || p.period > MAX_PERIOD) {
            revert SubscriptionManagerInvalidPeriod(p.period, MIN_PERIOD, MAX_PERIOD);
        }
        startTime = p.startTime == 0 ? uint64(block.timestamp) : p.startTime;
        if (startTime < block.timestamp) {
            revert SubscriptionManagerInvalidStartTime(startTime, uint64(block.timestamp));
        }
        uint256 count = p.rounds;
        if (p.endTime != 0) {
            count = p.rounds == 0 && p.endTime > startTime ? (p.endTime - startTime + p.period - 1) / p.period : 0;
        }
        if (count == 0 || count > MAX_ROUNDS) {
            revert SubscriptionManagerInvalidSchedule(p.rounds, p.endTime, MAX_ROUNDS);
        }
        rounds = uint32(count);
    }

    /// @dev What the escrow would refuse for every round, refused once here.
    function _checkJobTerms(SubscriptionParams calldata p) internal view {
        if (_escrow.verifierOf(p.mode) == address(0)) revert SubscriptionManagerModeDisabled(p.mode);
        uint8 max = _isZk(p.mode) ? 1 : MAX_REDUNDANCY;
        if (p.redundancy % 2 == 0 || p.redundancy > max) {
            revert SubscriptionManagerInvalidRedundancy(p.redundancy, max);
        }
        IJobEscrow.Parameters memory e = _escrow.parameters();
        if (p.roundDuration < e.minDuration || p.roundDuration > e.maxDuration) {
            revert SubscriptionManagerInvalidRoundDuration(p.roundDuration, e.minDuration, e.maxDuration);
        }
        if (bytes(p.description).length > MAX_DESCRIPTION_BYTES) {
            revert SubscriptionManagerDescriptionTooLong(bytes(p.description).length, MAX_DESCRIPTION_BYTES);
        }
        if (_isZk(p.mode) && p.zkScaleBits > MAX_ZK_SCALE_BITS) {
            revert SubscriptionManagerInvalidZkParameters(p.zkScaleBits, p.zkInputBits, 0, 0);
        }
    }

    /// @dev Checks the input source and its arguments; returns the source's fraction bits (zero without a source).
    function _checkInput(SubscriptionParams calldata p) internal view returns (uint8 fractionBits) {
        address source = address(p.inputSource);
        if (source == address(0)) return 0;
        if (p.inputArgs.length > MAX_INPUT_ARGS_BYTES) {
            revert SubscriptionManagerInvalidInputSource(source, p.inputArgs.length, MAX_INPUT_ARGS_BYTES);
        }
        fractionBits = p.inputSource.fractionBits();
        if (fractionBits > RoundInputLib.MAX_FRACTION_BITS) {
            revert SubscriptionManagerInvalidInputSource(source, fractionBits, RoundInputLib.MAX_FRACTION_BITS);
        }
        uint256 count = p.inputSource.inputSize(p.inputArgs);
        if (count == 0 || count > MAX_INPUT_VALUES) {
            revert SubscriptionManagerInvalidInputSource(source, count, MAX_INPUT_VALUES);
        }
        if (!_isZk(p.mode)) return fractionBits;
        (bool fits, uint256 perWord) = RoundInputLib.fitsOneWord(count, p.zkInputBits);
        if (!fits || p.zkInputBits == 0) {
            revert SubscriptionManagerInvalidZkParameters(p.zkScaleBits, p.zkInputBits, count, perWord);
        }
    }

    function _store(
        uint256 id,
        SubscriptionParams calldata p,
        uint64 startTime,
        uint32 rounds,
        uint8 fractionBits,
        address feed,
        uint256 funded
    ) internal {
        _subscriptions[id] = Subscription({
            subscriber: msg.sender,
            version: p.version,
            mode: p.mode,
            redundancy: p.redundancy,
            answerKind: p.answerKind,
            status: Status.Active,
            zkScaleBits: p.zkScaleBits,
            zkInputBits: p.zkInputBits,
            fractionBits: fractionBits,
            modelId: p.modelId,
            startTime: startTime,
            period: p.period,
            rounds: rounds,
            roundDuration: p.roundDuration,
            nextRound: 0,
            feePerNode: p.feePerNode,
            collateral: p.collateral,
            latestRound: 0,
            keeperReward: p.keeperReward,
            balance: uint128(funded),
            inputSource: p.inputSource,
            maxJobCost: p.maxJobCost,
            feed: feed
        });
        if (p.inputArgs.length != 0) _inputArgs[id] = p.inputArgs;
    }

    /* INTERNAL: ROUNDS */

    /// @dev The round due now, refused when it is early, past the last round, or started already.
    function _dueRound(uint256 id, Subscription storage s) internal view returns (uint32) {
        if (block.timestamp < s.startTime) revert SubscriptionManagerRoundNotDue(id, s.startTime);
        uint256 round = (block.timestamp - s.startTime) / s.period;
        if (round >= s.rounds) revert SubscriptionManagerEnded(id, _endOf(s));
        if (round < s.nextRound) revert SubscriptionManagerRoundStarted(id, uint32(round));
        return uint32(round);
    }

    /// @dev The round's job request, its input read or taken from the subscriber's post; `maxTotal` is set later.
    function _roundRequest(uint256 id, Subscription storage s, uint32 round)
        internal
        view
        returns (IJobEscrow.RequestParams memory params)
    {
        params.modelId = s.modelId;
        params.version = s.version;
        params.mode = s.mode;
        params.redundancy = s.redundancy;
        params.deadline = uint64(block.timestamp) + s.roundDuration;
        params.feePerNode = s.feePerNode;
        params.collateral = s.collateral;
        params.callback = address(this);
        params.callbackGasLimit = CALLBACK_GAS_LIMIT;
        if (address(s.inputSource) == address(0)) {
            PostedInput storage posted = _posted[id][round];
            if (posted.commitment == bytes32(0)) revert SubscriptionManagerInputMissing(id, round);
            params.inputCommitment = posted.commitment;
            params.inputUri = posted.uri;
            return params;
        }
        int256[] memory values = s.inputSource.read(_inputArgs[id], _dueAt(s, round));
        if (values.length == 0 || values.length > MAX_INPUT_VALUES) {
            revert SubscriptionManagerInvalidInputSize(id, values.length, MAX_INPUT_VALUES);
        }
        (params.input, params.inputCommitment) =
            inputEncoder.encode(values, s.fractionBits, _isZk(s.mode), s.zkScaleBits, s.zkInputBits);
    }

    /// @dev The answer of a settled round's output, if it is one of the subscription's kind.
    function _answerOf(Subscription storage s, bytes calldata output) internal view returns (bool, int256) {
        bool label = s.answerKind == AnswerKind.Label;
        return _isZk(s.mode)
            ? RoundInputLib.answerOfZk(output, label, s.zkScaleBits)
            : RoundInputLib.answerOfPlain(output, label);
    }

    /* INTERNAL: MONEY */

    function _quote(ModelId modelId, uint32 version, Mode mode, uint8 redundancy, uint96 feePerNode)
        internal
        view
        returns (uint256 total)
    {
        (total,,) = _escrow.quote(modelId, version, mode, redundancy, feePerNode);
    }

    /// @dev Pulls `amount` and checks it all arrived (`TokenLib.pull`).
    function _pull(address from, uint256 amount) internal {
        uint256 received = TokenLib.pull(_token, from, amount);
        if (received != amount) revert SubscriptionManagerTransferMismatch(amount, received);
    }

    /// @dev Pays `amount` (possibly zero), withdrawing the escrow's credits first when the tokens held fall short.
    function _pay(address to, uint256 amount) internal {
        if (amount == 0) return;
        _ensureLiquidity(amount);
        _token.safeTransfer(to, amount);
    }

    /// @dev Refunds sit in the escrow as this contract's credits until tokens are needed: claims them then.
    function _ensureLiquidity(uint256 amount) internal {
        if (_token.balanceOf(address(this)) >= amount || _escrow.claimable(address(this)) == 0) return;
        uint256 claimed = _escrow.claim(address(this));
        // Every credit was attributed by a callback (`claimed == _credited`); were one ever missed, the surplus stays
        // in this contract, owned by no subscription.
        _credited = claimed >= _credited ? 0 : _credited - claimed;
    }

    /* INTERNAL: HELPERS */

    function _known(uint256 id) internal view returns (Subscription storage s) {
        s = _subscriptions[id];
        if (s.status == Status.None) revert SubscriptionManagerUnknownSubscription(id);
    }

    function _active(uint256 id) internal view returns (Subscription storage s) {
        s = _known(id);
        if (s.status != Status.Active) revert SubscriptionManagerNotActive(id, s.status);
    }

    function _subscriberOf(uint256 id) internal view returns (Subscription storage s) {
        s = _known(id);
        if (s.subscriber != msg.sender) revert SubscriptionManagerUnauthorizedCaller(id, msg.sender);
    }

    function _dueAt(Subscription storage s, uint32 round) internal view returns (uint64) {
        return s.startTime + uint64(round) * s.period;
    }

    /// @dev When the last round's window closes.
    function _endOf(Subscription storage s) internal view returns (uint64) {
        return s.startTime + uint64(s.rounds) * s.period;
    }

    function _isZk(Mode mode) internal pure returns (bool) {
        return mode == ModesLib.ZK || mode == ModesLib.DUAL;
    }

    function _decimals(AnswerKind kind) internal pure returns (uint8) {
        return kind == AnswerKind.Value ? RoundInputLib.VALUE_DECIMALS : 0;
    }

    function _toUint128(uint256 amount) internal pure returns (uint128) {
        if (amount > type(uint128).max) revert SubscriptionManagerCostAboveMax(amount, type(uint128).max);
        return uint128(amount);
    }
}

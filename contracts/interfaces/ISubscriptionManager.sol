// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IInferenceConsumer} from "./IInferenceConsumer.sol";
import {IInputSource} from "./IInputSource.sol";
import {IJobEscrow} from "./IJobEscrow.sol";
import {JobId, ModelId, Mode} from "../types/Ids.sol";

/// @title ISubscriptionManager
/// @notice Recurring verified inference. A subscriber funds, in one transaction, a schedule of rounds that run one model
/// version in one mode; each round becomes due at its time, anyone (in practice a node) starts it, and the manager,
/// as the requester, requests the round's job on the `JobEscrow` with the subscription's funds. Staked nodes claim and
/// serve it as any job; its verified output comes back by the escrow's callback and is published as the round's
/// answer of the subscription's feed, an `AggregatorV3Interface` (`SubscriptionFeed`).
/// 1. `subscribe`: model version, mode, redundancy, fee per node, collateral, schedule (`startTime`, `period`,
///    `rounds` or `endTime`), the time nodes get per round (`roundDuration`), a reward for whoever starts a round, and
///    the input: an `IInputSource` reading chain state with its arguments, or none (then the subscriber posts each
///    round's input commitment and URI with `postInput`). The manager pulls `rounds` times the current cost of a
///    round (the escrow's quote plus the keeper reward).
/// 2. `startRound`: round `r` is due at `startTime + r * period` and can be started until the next round is due; the
///    round is computed from the clock, so nobody starts a round early, and each round starts at most once. A round
///    not started in its window is missed: nothing is spent on it.
/// 3. The job is the escrow's: claims, verification, deadlines, refunds and slashes are exactly a job's. A refund, the
///    requester's share of a slash and the unpaid fees of dissenting nodes are credited by the escrow to the manager
///    and, by the job's callback, to the subscription's balance.
/// 4. `topUp` adds funds; `cancel` stops the schedule and pays out the balance (unspent rounds); rounds already
///    started keep running, and what they return can be taken with `withdraw`.
/// @dev Inputs from chain state are read as of the round's due time, not as of the block that starts it: a source
/// reads the state written strictly before the due time (`IInputSource`), so the starter cannot pick the input. The
/// values become the job's inline input, UTF-8 JSON (`[1.5,-0.25]`, each value written exactly in decimal), whose
/// `keccak256` the escrow commits to in vanilla and TEE modes; in ZK and dual modes the input is
/// `{"x":[...],"salt":"0x0"}` and the manager computes the circuit's commitment of those same values (quantized as
/// the circuit quantizes them, salt zero: the input is public anyway), so every mode binds the same input.
/// @dev Money: the manager holds the subscriptions' funds and is the requester of their jobs. Invariant: the tokens it
/// holds plus what the escrow credits it (`credited`) equal the sum of the subscriptions' balances plus the keeper
/// rewards not yet claimed. The subscriber can always take back its balance once the subscription is cancelled or
/// ended; nobody else can move it.
/// @dev Warning (subscribers): the subscriber chooses and trusts the input source, the feed it reads and the
/// description. A round whose input cannot be read (stale feed, too short a history), whose cost exceeds
/// `maxJobCost` or the balance, or whose job the escrow refuses (paused, a mode disabled, a model deprecated) cannot
/// start and is missed; it costs nothing but the keeper's failed transaction.
/// @dev Warning (readers of the feed): a round's answer is as good as its mode's verification (see `IJobEscrow`);
/// vanilla rounds with `k = 1` rest on one node's stake. Check `updatedAt` for staleness and the mode and the job
/// (`SubscriptionFeed.jobOf`) for how the answer was verified; a round without an answer (missed, refunded, or an
/// output of another format) has no data.
interface ISubscriptionManager is IInferenceConsumer {
    /* TYPES */

    /// @notice Where a subscription stands. A subscription whose last round's window has passed has ended; it stays
    /// `Active` in storage.
    enum Status {
        None,
        Active,
        Cancelled
    }

    /// @notice How a round's output becomes the feed's answer.
    /// @param Value A regressor's value, with 4 decimals (vanilla and TEE outputs carry it in units of 10^-4; a ZK
    /// output in the circuit's fixed point, converted and rounded half away from zero).
    /// @param Label A classifier's class index, with 0 decimals.
    enum AnswerKind {
        Value,
        Label
    }

    /// @notice What a subscriber asks for.
    /// @param feePerNode Paid to each node whose result is accepted, per round.
    /// @param collateral Each node's collateral per round (within the escrow's bounds when a round starts).
    /// @param keeperReward Paid, per round, to whoever starts it.
    /// @param maxJobCost The most one round's job may escrow (model price, node fees and protocol fee): a round whose
    /// quote exceeds it is not started (a price rise after subscribing).
    /// @param startTime When round 0 is due; zero means now.
    /// @param period Seconds between rounds, from `MIN_PERIOD` to `MAX_PERIOD`.
    /// @param rounds The number of rounds, 1 to `MAX_ROUNDS`; or zero, and then `endTime` fixes it.
    /// @param endTime When zero, `rounds` fixes the schedule; otherwise the rounds are those due before `endTime`.
    /// @param roundDuration Seconds nodes get to serve a round's job (its deadline after the start).
    /// @param answerKind How outputs become answers.
    /// @param zkScaleBits ZK and dual modes: the circuit's fixed-point scale (bits after the point), used to quantize
    /// the input (chain inputs) and to read a `Value` output.
    /// @param zkInputBits ZK and dual modes with chain inputs: the circuit's input width, each quantized input in
    /// `[-2^zkInputBits, 2^zkInputBits)`.
    /// @param inputSource The source of every round's input, or zero for inputs the subscriber posts per round.
    /// @param inputArgs The source's arguments (for example the feed and its maximum age), at most `MAX_INPUT_ARGS_BYTES`.
    /// @param description The feed's description, at most `MAX_DESCRIPTION_BYTES`.
    // Calldata struct: ABI encoding takes a word per field whatever the order.
    // solhint-disable-next-line gas-struct-packing
    struct SubscriptionParams {
        ModelId modelId;
        uint32 version;
        Mode mode;
        uint8 redundancy;
        uint96 feePerNode;
        uint96 collateral;
        uint96 keeperReward;
        uint96 maxJobCost;
        uint64 startTime;
        uint32 period;
        uint32 rounds;
        uint64 endTime;
        uint32 roundDuration;
        AnswerKind answerKind;
        uint8 zkScaleBits;
        uint8 zkInputBits;
        IInputSource inputSource;
        bytes inputArgs;
        string description;
    }

    /// @notice A subscription as stored (the source's arguments and the description are in `SubscriptionCreated`;
    /// `inputArgsOf` returns the arguments).
    /// @param fractionBits The input source's `fractionBits()` (zero without a source).
    /// @param nextRound The lowest round that may still start: rounds below it were started or missed.
    /// @param latestRound The 1-based id of the latest round answered (the feed's `latestRoundData`), zero if none.
    /// @param balance Funds not yet spent on rounds, refunds and slash shares included.
    // Field order packs the struct into six slots; the rule's heuristic does not see it.
    // solhint-disable-next-line gas-struct-packing
    struct Subscription {
        address subscriber;
        uint32 version;
        Mode mode;
        uint8 redundancy;
        AnswerKind answerKind;
        Status status;
        uint8 zkScaleBits;
        uint8 zkInputBits;
        uint8 fractionBits;
        ModelId modelId;
        uint64 startTime;
        uint32 period;
        uint32 rounds;
        uint32 roundDuration;
        uint32 nextRound;
        uint96 feePerNode;
        uint96 collateral;
        uint32 latestRound;
        uint96 keeperReward;
        uint128 balance;
        IInputSource inputSource;
        uint96 maxJobCost;
        address feed;
    }

    /// @notice One round's record: its job, and once answered its answer and when it was written.
    /// @param updatedAt When the answer was written (zero while the round has none).
    // One storage slot: 16 + 8 + 8 bytes.
    // solhint-disable-next-line gas-struct-packing
    struct Round {
        int128 answer;
        uint64 updatedAt;
        JobId jobId;
    }

    /// @notice An input the subscriber posted for a round of a subscription without a source.
    /// @param commitment The job's input commitment: `keccak256` of the content at `uri` (vanilla, TEE), or the
    /// circuit's commitment (ZK, dual).
    struct PostedInput {
        bytes32 commitment;
        string uri;
    }

    /* EVENTS */

    /// @notice Emitted when a subscription is created and funded with `funded`; `rounds` and `startTime` are the
    /// resolved schedule.
    event SubscriptionCreated(
        uint256 indexed subscriptionId,
        address indexed subscriber,
        address indexed feed,
        SubscriptionParams params,
        uint32 rounds,
        uint64 startTime,
        uint256 funded
    );

    /// @notice Emitted when `keeper` starts round `round` of a subscription as job `jobId`, which escrowed `jobCost`;
    /// the keeper is credited `keeperReward`.
    event RoundStarted(
        uint256 indexed subscriptionId,
        uint32 indexed round,
        JobId indexed jobId,
        address keeper,
        uint256 jobCost,
        uint96 keeperReward
    );

    /// @notice Emitted when round `round`'s job settles with an output that becomes `answer`; `credited` is what the
    /// escrow returned to the subscription with it (the unpaid fees of dissenting nodes, shares of slashes).
    event RoundAnswered(
        uint256 indexed subscriptionId, uint32 indexed round, JobId indexed jobId, int256 answer, uint256 credited
    );

    /// @notice Emitted when round `round`'s job settles with an output that is not an answer of the subscription's
    /// kind (a vanilla node may submit any bytes): the round has no answer.
    event RoundOutputRejected(
        uint256 indexed subscriptionId, uint32 indexed round, JobId indexed jobId, bytes32 outputHash, uint256 credited
    );

    /// @notice Emitted when round `round`'s job is refunded: `credited` (the job's price, with the requester's share
    /// of any slash) went back to the subscription's balance.
    event RoundRefunded(uint256 indexed subscriptionId, uint32 indexed round, JobId indexed jobId, uint256 credited);

    /// @notice Emitted when the subscriber posts the input of round `round`.
    event InputPosted(uint256 indexed subscriptionId, uint32 indexed round, bytes32 commitment, string uri);

    /// @notice Emitted when `from` adds `amount` to a subscription's balance.
    event SubscriptionToppedUp(uint256 indexed subscriptionId, address indexed from, uint256 amount);

    /// @notice Emitted when a subscription is cancelled and its balance, `refunded`, paid to the subscriber.
    event SubscriptionCancelled(uint256 indexed subscriptionId, uint256 refunded);

    /// @notice Emitted when the subscriber withdraws `amount` of a cancelled or ended subscription to `recipient`.
    event SubscriptionWithdrawn(uint256 indexed subscriptionId, address indexed recipient, uint256 amount);

    /// @notice Emitted when `keeper` withdraws `amount` of keeper rewards to `recipient`.
    event KeeperRewardsClaimed(address indexed keeper, address indexed recipient, uint256 amount);

    /* ERRORS */

    /// @notice No subscription has id `subscriptionId`.
    error SubscriptionManagerUnknownSubscription(uint256 subscriptionId);
    /// @notice Only the subscriber of `subscriptionId` may do this; `caller` is not.
    error SubscriptionManagerUnauthorizedCaller(uint256 subscriptionId, address caller);
    /// @notice The period must lie between `min` and `max` seconds.
    error SubscriptionManagerInvalidPeriod(uint32 period, uint32 min, uint32 max);
    /// @notice Give `rounds` (1 to `max`) or an `endTime` that leaves at least one round, not both.
    error SubscriptionManagerInvalidSchedule(uint32 rounds, uint64 endTime, uint32 max);
    /// @notice The start time must not lie before `now`.
    error SubscriptionManagerInvalidStartTime(uint64 startTime, uint64 now);
    /// @notice The round duration must lie between the escrow's `min` and `max` durations.
    error SubscriptionManagerInvalidRoundDuration(uint32 roundDuration, uint32 min, uint32 max);
    /// @notice No verifier is registered for `mode` in the escrow.
    error SubscriptionManagerModeDisabled(Mode mode);
    /// @notice Redundancy must be odd, from 1 to `max` (1 in ZK and dual modes).
    error SubscriptionManagerInvalidRedundancy(uint8 redundancy, uint8 max);
    /// @notice The amount must be positive.
    error SubscriptionManagerZeroAmount();
    /// @notice A round's job would cost `cost`, more than `maxJobCost`.
    error SubscriptionManagerCostAboveMax(uint256 cost, uint256 maxJobCost);
    /// @notice The input source's arguments are `length` bytes, or its values have `fractionBits`: at most `max`.
    error SubscriptionManagerInvalidInputSource(address source, uint256 length, uint256 max);
    /// @notice The description is `length` bytes, more than `max`.
    error SubscriptionManagerDescriptionTooLong(uint256 length, uint256 max);
    /// @notice ZK and dual inputs from chain state: `count` inputs of `zkInputBits` (scale `zkScaleBits`) do not fit
    /// the circuit's one-word commitment (`perWord` inputs of that width fit), or a width is out of bounds.
    error SubscriptionManagerInvalidZkParameters(uint8 zkScaleBits, uint8 zkInputBits, uint256 count, uint256 perWord);
    /// @notice Round 0 of `subscriptionId` is due at `dueAt`: no round can start before.
    error SubscriptionManagerRoundNotDue(uint256 subscriptionId, uint64 dueAt);
    /// @notice Round `round` of `subscriptionId` was started already.
    error SubscriptionManagerRoundStarted(uint256 subscriptionId, uint32 round);
    /// @notice The last round of `subscriptionId` could start until `endedAt`.
    error SubscriptionManagerEnded(uint256 subscriptionId, uint64 endedAt);
    /// @notice The subscription is `status`, not active.
    error SubscriptionManagerNotActive(uint256 subscriptionId, Status status);
    /// @notice The subscription holds `balance` and the round needs `needed`.
    error SubscriptionManagerInsufficientBalance(uint256 subscriptionId, uint256 balance, uint256 needed);
    /// @notice Round `round` of a subscription without a source has no posted input.
    error SubscriptionManagerInputMissing(uint256 subscriptionId, uint32 round);
    /// @notice The source returned `count` values: between 1 and `max` are accepted.
    error SubscriptionManagerInvalidInputSize(uint256 subscriptionId, uint256 count, uint256 max);
    /// @notice Input `index`, `value` (with `fractionBits`), is outside what the mode's encoding takes, within `bound`
    /// in absolute value (at the circuit's scale for ZK and dual).
    error SubscriptionManagerInputOutOfRange(uint256 index, int256 value, int256 bound);
    /// @notice Inputs can be posted only to subscriptions without a source, for rounds not yet started or missed
    /// (`round >= nextRound` and `round < rounds`), with a commitment and a URI of at most `MAX_URI_BYTES`.
    error SubscriptionManagerInvalidPostedInput(uint256 subscriptionId, uint32 round);
    /// @notice The subscription is active until `endsAt`: cancel it, or wait, before withdrawing.
    error SubscriptionManagerStillRunning(uint256 subscriptionId, uint64 endsAt);
    /// @notice `account` has nothing to withdraw.
    error SubscriptionManagerNothingToWithdraw(address account);
    /// @notice The recipient must not be the zero address.
    error SubscriptionManagerInvalidRecipient(address recipient);
    /// @notice `caller` is not the escrow.
    error SubscriptionManagerUnauthorizedCallback(address caller);
    /// @notice Job `jobId` is not a round of this manager awaiting its outcome.
    error SubscriptionManagerUnknownJob(JobId jobId);
    /// @notice The token moved `received` instead of `expected`.
    error SubscriptionManagerTransferMismatch(uint256 expected, uint256 received);
    /// @notice Round id `roundId` of `subscriptionId` has no answer.
    error SubscriptionManagerNoData(uint256 subscriptionId, uint80 roundId);

    /* SUBSCRIBER FUNCTIONS */

    /// @notice Creates a subscription, pulls `rounds * (jobCost + keeperReward)` from the caller (`transferFrom`; the
    /// job cost is the escrow's current quote, at most `maxJobCost`) and deploys its feed.
    /// @return subscriptionId The new subscription's id.
    /// @return feed Its `AggregatorV3Interface` feed.
    function subscribe(SubscriptionParams calldata params) external returns (uint256 subscriptionId, address feed);

    /// @notice Adds `amount` to a subscription's balance, pulled from the caller. Anyone may pay; only an active
    /// subscription takes funds.
    function topUp(uint256 subscriptionId, uint256 amount) external;

    /// @notice Posts the input of round `round` of a subscription without a source: the job's commitment and the URI
    /// nodes fetch the input from (`ipfs://<cid>`). Only the subscriber; replaces an input posted before for the round.
    function postInput(uint256 subscriptionId, uint32 round, bytes32 commitment, string calldata uri) external;

    /// @notice Stops the schedule and pays the balance (what the rounds not started would have cost) to the
    /// subscriber. Rounds already started run on; their refunds return to the balance, for `withdraw`.
    function cancel(uint256 subscriptionId) external returns (uint256 refunded);

    /// @notice Pays the balance of a cancelled or ended subscription to `recipient`. Only the subscriber.
    function withdraw(uint256 subscriptionId, address recipient) external returns (uint256 amount);

    /* ANYONE */

    /// @notice Starts the round due now: reads its input as of its due time, requests its job on the escrow with
    /// the subscription's funds and credits the caller the keeper reward.
    /// @return round The round started (0-based; its feed round id is `round + 1`).
    /// @return jobId The round's job.
    function startRound(uint256 subscriptionId) external returns (uint32 round, JobId jobId);

    /// @notice Withdraws the caller's keeper rewards to `recipient`.
    function claimKeeperRewards(address recipient) external returns (uint256 amount);

    /* VIEWS */

    /// @notice The escrow rounds are requested on.
    function escrow() external view returns (IJobEscrow);

    /// @notice The payment token.
    function token() external view returns (address);

    /// @notice The number of subscriptions so far (ids are 1..subscriptionCount).
    function subscriptionCount() external view returns (uint256);

    /// @notice A subscription (all zero if unknown).
    function subscriptionOf(uint256 subscriptionId) external view returns (Subscription memory);

    /// @notice The input source's arguments of a subscription.
    function inputArgsOf(uint256 subscriptionId) external view returns (bytes memory);

    /// @notice The input posted for a round (empty if none).
    function postedInputOf(uint256 subscriptionId, uint32 round) external view returns (PostedInput memory);

    /// @notice The record of round `round` (0-based; all zero if it never started).
    function roundOf(uint256 subscriptionId, uint32 round) external view returns (Round memory);

    /// @notice The round that can start now, when it is due, and whether it can start (due, not started, not ended,
    /// the subscription active).
    function currentRound(uint256 subscriptionId) external view returns (uint32 round, uint64 dueAt, bool startable);

    /// @notice What starting a round costs the subscription now: the job's quote plus the keeper reward.
    function roundCost(uint256 subscriptionId) external view returns (uint256 jobCost, uint256 total);

    /// @notice `AggregatorV3Interface.getRoundData` of a subscription's feed: feed round `roundId` is round
    /// `roundId - 1`, `startedAt` its due time (the time its input is as of), `updatedAt` when its answer was written.
    function roundData(uint256 subscriptionId, uint80 roundId)
        external
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice `AggregatorV3Interface.latestRoundData` of a subscription's feed: the latest round answered.
    function latestRoundData(uint256 subscriptionId)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice The escrow credits attributed to subscriptions and not yet withdrawn from the escrow.
    function credited() external view returns (uint256);

    /// @notice Keeper rewards `keeper` can withdraw.
    function keeperRewardsOf(address keeper) external view returns (uint256);
}

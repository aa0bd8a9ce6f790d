// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {JobId, ModelId, Mode} from "../types/Ids.sol";
import {IStakeLocker} from "./IStakeLocker.sol";

/// @title IJobEscrow
/// @notice The job lifecycle of the network: a requester escrows the full price of an inference, staked nodes
/// claim slots and lock collateral, submit results that are verified by the mode's verifier (or agreed by
/// commit-reveal among `k` nodes, `k` odd), and everyone is credited and pulls funds with `claim`. After the
/// deadline anyone can `expire` a job: the requester is refunded in full and nodes that did not deliver are slashed.
/// @dev Who is slashed, and who is paid from it. A node is slashed only for not delivering: a claimed slot with no
/// result (k = 1), no commitment, or no reveal while the reveal window was open. A node that revealed an output the
/// majority did not agree with is neither paid nor slashed: a wrong answer cannot be proven in vanilla mode, and a
/// requester controlling the majority could otherwise take an honest node's collateral. The requester's share of a
/// slash (`slashBeneficiaryBps`) compensates it for a job left undelivered; no one can cause a slash of a node that
/// delivers. A node excused by the job's verifier (`IInferenceVerifier.excuses`: for TEE, its enclave or its
/// measurement revoked by governance after the claim) is released without a slash. A job's collateral is bounded by
/// `maxCollateralRatio` times its node fee, so what a node risks stays proportional to what it earns.
/// @dev A job's terms (`Job`) are stored only as a hash; every later call passes the terms back as calldata and
/// the escrow checks them against the hash. The terms are emitted in full by `JobRequested`.
/// @dev Warning: the payment token must be a plain ERC-20 (the same one NodeStaking uses). Short deposits from
/// fee-on-transfer tokens revert; rebasing tokens are unsupported.
/// @dev Warning: a job's verifier, model owner, fees, reveal deadline and slash split are captured at request time.
/// Governance can change them for future jobs only; a model's new owner is paid for jobs requested after the
/// transfer. The one exception is NodeStaking's `maxSlashBps`, a protocol-wide safety cap on any single slash,
/// applied when the slash happens.
/// @dev Pausing stops `request` only: claims, submissions, expiries and withdrawals always work.
/// @dev Assigned jobs. A requester may name the node of a k = 1 job at request time (`requestFor`): the named node
/// settles it with a single `submit`, no `claimSlot`, and no one else can claim or submit it, so a copier cannot take
/// a vanilla output from the mempool. Naming asks nothing of the node: no collateral is locked and the node is never
/// slashed for an assigned job, so a requester cannot lock or slash the stake of a node that never agreed. The node
/// agrees by submitting, and must then hold the job's collateral as unlocked stake (it is locked and released in the
/// same transaction). An assigned job the node does not serve is refunded in full by `expire` after its deadline.
/// @dev Warning: a callback is delivered only to the requester itself (`callback` must be zero or `msg.sender`),
/// so a consumer contract receives outcomes of jobs it requested and paid for, never results pushed by others.
interface IJobEscrow is IStakeLocker {
    /* TYPES */

    /// @notice Status of a job.
    enum JobStatus {
        None,
        Open,
        Settled,
        Refunded
    }

    /// @notice Progress of one node slot of a job.
    enum SlotPhase {
        None,
        Claimed,
        Committed,
        Revealed
    }

    /// @notice What a requester asks for.
    /// @param deadline Absolute time by which results (for k > 1: commitments) must be in.
    /// @param feePerNode Paid to each node whose result is accepted.
    /// @param redundancy The number of nodes, odd, from 1 to `MAX_REDUNDANCY`.
    /// @param collateral Stake each node locks for the job, slashed if the node does not deliver; between
    /// `minCollateral` and `feePerNode * maxCollateralRatio`.
    /// @param maxTotal The most the requester agrees to escrow (model price + k * feePerNode + protocol fee);
    /// protects against a price change between signing and inclusion.
    /// @param callback Zero, or the requester itself (a contract implementing `IInferenceConsumer`) to notify.
    /// @param callbackGasLimit The exact gas the callback runs with.
    /// @param inputCommitment The input's commitment when the input is not inline (or is committed to in another
    /// form, e.g. a salted hash for ZK); if zero, the commitment is `keccak256(input)`.
    /// @param input The inline input (may be empty when `inputCommitment` is set).
    /// @param inputUri Where to fetch a large input (for example an `ipfs://` URI); may be empty.
    // Calldata structs: ABI encoding takes a word per field whatever the order, and the order is part of the ABI.
    // solhint-disable-next-line gas-struct-packing
    struct RequestParams {
        ModelId modelId;
        uint32 version;
        Mode mode;
        uint8 redundancy;
        uint64 deadline;
        uint96 feePerNode;
        uint96 collateral;
        uint256 maxTotal;
        address callback;
        uint32 callbackGasLimit;
        bytes32 inputCommitment;
        bytes input;
        string inputUri;
    }

    /// @notice The immutable terms of a job, fixed at request time. Only their hash is stored.
    /// @param revealDeadline For k > 1, the end of the reveal window; equal to `deadline` for k = 1.
    /// @param slashBeneficiaryBps The requester's share of any slash on this job (the rest goes to the protocol).
    // The field order defines the job hash, which off-chain code recomputes: packing would only break it.
    // solhint-disable-next-line gas-struct-packing
    struct Job {
        JobId id;
        address requester;
        ModelId modelId;
        uint32 version;
        Mode mode;
        uint8 redundancy;
        uint64 deadline;
        uint64 revealDeadline;
        bytes32 inputHash;
        address modelOwner;
        address verifier;
        uint96 modelFee;
        uint96 feePerNode;
        uint96 protocolFee;
        uint96 collateral;
        address callback;
        uint32 callbackGasLimit;
        uint16 slashBeneficiaryBps;
    }

    /// @notice The mutable state of a job.
    /// @param filled Slots claimed. @param committed Slots committed (k > 1). @param revealed Slots revealed.
    /// @param resultSlot The slot whose output was accepted (meaningful once settled).
    /// @param assignee The node named by `requestFor`, the only one that may submit; zero for a job open to claims.
    // 5 + 20 bytes: one storage slot, so naming a node costs no slot of its own.
    struct JobState {
        JobStatus status;
        uint8 filled;
        uint8 committed;
        uint8 revealed;
        uint8 resultSlot;
        address assignee;
    }

    /// @notice One node's slot in a job; its fields share one storage slot.
    /// @param claimedAt When the node claimed the slot (what the job's verifier weighs in `excuses`).
    // 20 + 1 + 8 bytes: one storage slot already; the rule's heuristic does not see it.
    // solhint-disable-next-line gas-struct-packing
    struct Slot {
        address node;
        SlotPhase phase;
        uint64 claimedAt;
    }

    /// @notice Governance parameters, each bounded in code (see the constants of the implementation). Changes apply
    /// to jobs requested afterwards: everything a job depends on is copied into its terms.
    /// @param minCollateral Least collateral a job may ask per node.
    /// @param protocolFeeBps Protocol fee, in basis points of the model price plus node fees; at most 10%.
    /// @param slashBeneficiaryBps Share of a slash credited to the harmed requester; the rest goes to the treasury.
    /// @param minDuration Shortest time from request to deadline, in seconds.
    /// @param maxDuration Longest time from request to deadline, in seconds.
    /// @param revealPeriod Length of the reveal window after the deadline for k > 1, in seconds.
    /// @param maxCallbackGas Largest gas limit a callback may ask for.
    /// @param maxCollateralRatio Largest collateral per node, as a multiple of the job's node fee.
    /// @param usageFeeFloor Least protocol fee a settled job must have paid for indexers to count it as verified
    /// usage of its model: model price and node fees can flow back to a requester who is also the model's owner
    /// and its node, the protocol fee cannot. Read by indexers only; the escrow settles every job alike.
    struct Parameters {
        uint96 minCollateral;
        uint16 protocolFeeBps;
        uint16 slashBeneficiaryBps;
        uint32 minDuration;
        uint32 maxDuration;
        uint32 revealPeriod;
        uint32 maxCallbackGas;
        uint16 maxCollateralRatio;
        uint96 usageFeeFloor;
    }

    /// @notice Why a job was refunded.
    enum RefundReason {
        Expired,
        NoMajority
    }

    /* EVENTS */

    /// @notice Emitted when a job is requested, with its full terms and its input (inline or by URI).
    event JobRequested(
        JobId indexed jobId, address indexed requester, ModelId indexed modelId, Job job, bytes input, string inputUri
    );

    /// @notice Emitted, after `JobRequested`, when a requester names `node` as the only node that may serve a job.
    event JobAssigned(JobId indexed jobId, address indexed node);

    /// @notice Emitted when `node` claims slot `slot` of a job and locks `collateral` of its stake.
    event SlotClaimed(JobId indexed jobId, address indexed node, uint8 slot, uint96 collateral);

    /// @notice Emitted when `node` commits to a result of a redundant job.
    event ResultCommitted(JobId indexed jobId, address indexed node, bytes32 commitment);

    /// @notice Emitted when `node` reveals its result of a redundant job.
    event ResultRevealed(JobId indexed jobId, address indexed node, bytes32 outputHash);

    /// @notice Emitted when a job settles with `output`, agreed by `agreeing` nodes (1 for k = 1). The model owner,
    /// the agreeing nodes and the protocol are credited by the job's terms; unpaid node fees, and the protocol
    /// fee charged on them, go back to the requester.
    event JobSettled(JobId indexed jobId, bytes32 indexed outputHash, uint8 agreeing, bytes output);

    /// @notice Emitted when a job is refunded: `amount` is credited to its requester.
    event JobRefunded(JobId indexed jobId, address indexed requester, uint256 amount, RefundReason reason);

    /// @notice Emitted when `node` is slashed `amount` for a fault on a job; `toRequester` of it is credited to the
    /// requester and the rest to the protocol.
    event NodeSlashed(JobId indexed jobId, address indexed node, uint256 amount, uint256 toRequester);

    /// @notice Emitted when `node` did not deliver but its job's verifier excuses it (see `IInferenceVerifier.excuses`):
    /// its collateral is released without a slash.
    event NodeExcused(JobId indexed jobId, address indexed node);

    /// @notice Emitted after a callback attempt; a failed callback never blocks settlement.
    event CallbackDelivered(JobId indexed jobId, address indexed consumer, bool success);

    /// @notice Emitted when `account` withdraws `amount` of its credits to `recipient`.
    event Claimed(address indexed account, address indexed recipient, uint256 amount);

    /// @notice Emitted when the protocol's accrued fees and slash remainders, `amount`, are sent to `treasury`.
    event ProtocolFeesClaimed(address indexed treasury, uint256 amount);

    /// @notice Emitted when governance sets the verifier of `mode` (zero disables the mode for new jobs).
    event VerifierSet(Mode indexed mode, address verifier);

    /// @notice Emitted when governance changes the parameters.
    event ParametersUpdated(Parameters parameters);

    /// @notice Emitted when governance changes the treasury.
    event TreasuryUpdated(address indexed previousTreasury, address indexed newTreasury);

    /// @notice Emitted when requests are paused or unpaused.
    event RequestsPaused(bool paused);

    /* ERRORS */

    /// @notice The caller offered `sent` but the job needs `needed`. `jobId` is the id the job would have had.
    error JobEscrowInsufficientFee(JobId jobId, uint256 sent, uint256 needed);
    /// @notice Redundancy must be odd and between 1 and `max`.
    error JobEscrowInvalidRedundancy(uint8 redundancy, uint8 max);
    /// @notice The deadline must lie between `earliest` and `latest`.
    error JobEscrowInvalidDeadline(uint64 deadline, uint64 earliest, uint64 latest);
    /// @notice No verifier is registered for `mode`.
    error JobEscrowModeDisabled(Mode mode);
    /// @notice The collateral per node must lie between `min` and `max` (the node fee times `maxCollateralRatio`).
    error JobEscrowInvalidCollateral(uint96 collateral, uint96 min, uint256 max);
    /// @notice A callback must be the requester itself: `callback` is neither zero nor `requester`.
    error JobEscrowInvalidCallback(address callback, address requester);
    /// @notice The request has neither an inline input nor an input commitment.
    error JobEscrowMissingInput();
    /// @notice The inline input is longer than `max` bytes.
    error JobEscrowInputTooLarge(uint256 size, uint256 max);
    /// @notice The callback gas limit exceeds `max`, or a callback was given without gas.
    error JobEscrowInvalidCallbackGas(uint32 gasLimit, uint32 max);
    /// @notice Requests are paused.
    error JobEscrowRequestsPaused();
    /// @notice The terms passed for `jobId` do not match the stored hash (or the job does not exist).
    error JobEscrowJobMismatch(JobId jobId, bytes32 stored, bytes32 given);
    /// @notice The job is not open.
    error JobEscrowJobNotOpen(JobId jobId, JobStatus status);
    /// @notice The job's deadline (`deadline`) has passed.
    error JobEscrowDeadlinePassed(JobId jobId, uint64 deadline);
    /// @notice The job cannot be expired before `expiresAt`.
    error JobEscrowNotExpired(JobId jobId, uint64 expiresAt);
    /// @notice All `redundancy` slots of the job are taken.
    error JobEscrowSlotsFilled(JobId jobId, uint8 redundancy);
    /// @notice The job is assigned to `assignee` (`requestFor`): its slot cannot be claimed.
    error JobEscrowJobAssigned(JobId jobId, address assignee);
    /// @notice A job cannot be assigned to `node` (the zero address).
    error JobEscrowInvalidAssignee(address node);
    /// @notice `node` already holds a slot of the job.
    error JobEscrowAlreadyAssigned(JobId jobId, address node);
    /// @notice `node` is not registered for the job's mode or lacks the minimum stake.
    error JobEscrowNodeIneligible(JobId jobId, address node);
    /// @notice `node` has `available` unlocked stake but the job's collateral is `needed`.
    error JobEscrowInsufficientStake(address node, uint256 available, uint256 needed);
    /// @notice `caller` holds no slot of the job.
    error JobEscrowNotAssigned(JobId jobId, address caller);
    /// @notice `node`'s slot is in `phase`, which does not allow this call.
    error JobEscrowWrongPhase(JobId jobId, address node, SlotPhase phase);
    /// @notice This call needs a job with a different redundancy (`submit` and `requestFor` are for k = 1,
    /// commit-reveal for k > 1).
    error JobEscrowWrongRedundancy(JobId jobId, uint8 redundancy);
    /// @notice Reveals open once all `redundancy` slots have committed; `committed` have.
    error JobEscrowRevealNotOpen(JobId jobId, uint8 committed, uint8 redundancy);
    /// @notice The revealed output and salt do not match `node`'s commitment.
    error JobEscrowCommitmentMismatch(JobId jobId, address node);
    /// @notice The output must be between 1 and `max` bytes long.
    error JobEscrowInvalidOutputLength(uint256 length, uint256 max);
    /// @notice The transaction left `available` gas for callbacks that need `needed` (for a batch, all of them
    /// together; `jobId` is then the batch's first job): resend with more gas.
    error JobEscrowInsufficientGasForCallback(JobId jobId, uint256 available, uint256 needed);
    /// @notice `account` has nothing to claim.
    error JobEscrowNothingToClaim(address account);
    /// @notice The recipient must not be the zero address.
    error JobEscrowInvalidRecipient(address recipient);
    /// @notice A parameter is outside its bounds.
    error JobEscrowParameterOutOfBounds(string name, uint256 value, uint256 min, uint256 max);
    /// @notice `verifier` is not a contract implementing `mode`.
    error JobEscrowInvalidVerifier(Mode mode, address verifier);
    /// @notice The token moved `received` instead of `expected`.
    error JobEscrowTransferMismatch(uint256 expected, uint256 received);
    /// @notice A batch has `jobs` jobs and `outputs` outputs: they must match, and hold 1 to `max` entries.
    error JobEscrowInvalidBatch(uint256 jobs, uint256 outputs, uint256 max);
    /// @notice Job `jobId` of a batch names verifier `verifier`, another than the batch's `expected`.
    error JobEscrowBatchVerifierMismatch(JobId jobId, address verifier, address expected);

    /* REQUESTER FUNCTIONS */

    /// @notice Requests an inference and escrows its full price from the caller (`transferFrom`).
    /// @return jobId The new job's id; its terms are in the `JobRequested` event.
    function request(RequestParams calldata params) external returns (JobId jobId);

    /// @notice `request` with an ERC-2612 permit of `params.maxTotal`, in one transaction.
    function requestWithPermit(RequestParams calldata params, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s)
        external
        returns (JobId jobId);

    /// @notice `request` for a k = 1 job that only `node` may serve: `node` settles it with `submit`, without
    /// `claimSlot`. Nothing is asked of `node` until it submits; if it does not by the deadline, `expire` refunds
    /// the requester in full and slashes no one.
    /// @dev Reverts with `JobEscrowWrongRedundancy` unless `params.redundancy` is 1, and with
    /// `JobEscrowInvalidAssignee` for the zero address. The node's eligibility is checked when it submits.
    /// @dev Warning: the job waits for `node` alone until its deadline, even if `node` is offline or unstaked; choose
    /// a deadline you can afford to wait for.
    function requestFor(RequestParams calldata params, address node) external returns (JobId jobId);

    /* NODE FUNCTIONS */

    /// @notice Claims the next free slot of an open job and locks `job.collateral` of the caller's stake. Reverts
    /// with `JobEscrowJobAssigned` for a job assigned by `requestFor`.
    /// @dev One slot per node: a single operator can never fill every slot of a redundant job.
    /// @dev Warning: a claimed slot that does not deliver by the deadline is slashed whatever the reason, including
    /// an input the node cannot process or fetch. Nodes should fetch the input and compute before claiming.
    function claimSlot(Job calldata job) external returns (uint8 slot);

    /// @notice Submits the result of a k = 1 job. The job's verifier checks `proof`; on success the job settles at
    /// once and the consumer callback, if any, runs last with exactly its gas limit. The caller must hold the job's
    /// slot (`claimSlot`) or, for a job assigned by `requestFor`, be its assignee, registered for the job's mode
    /// with `job.collateral` of unlocked stake.
    function submit(Job calldata job, bytes calldata output, bytes calldata proof) external;

    /// @notice Submits the results of several k = 1 jobs assigned to the caller with one proof object, checked once
    /// by their common verifier's `IBatchInferenceVerifier.verifyBatch` (ZK: one batched Groth16 check). All or
    /// nothing: one invalid job reverts the batch. Each job then settles as with `submit`; callbacks run after every
    /// job has settled, in order, and the transaction must carry the gas of all of them before the first runs, so
    /// a consumer that burns its whole limit cannot make the batch revert.
    /// @dev Every job must name the same verifier (so the same mode); a job listed twice reverts as not open.
    function submitBatch(Job[] calldata jobs, bytes[] calldata outputs, bytes calldata proof) external;

    /// @notice Commits to a result of a k > 1 job: `commitment = keccak256(abi.encode(jobId, node, keccak256(output), salt))`.
    function commit(Job calldata job, bytes32 commitment) external;

    /// @notice Reveals a committed result of a k > 1 job, once every slot has committed. For modes other than
    /// vanilla, `proof` is checked by the job's verifier. The last reveal settles the job: by the output more than
    /// half of all k slots revealed, or, without one, by a full refund.
    function reveal(Job calldata job, bytes calldata output, bytes32 salt, bytes calldata proof) external;

    /* ANYONE */

    /// @notice Resolves a job after its deadline (for k > 1 with every slot committed: after its reveal deadline).
    /// For k > 1, if more than half of all k slots revealed the same output, the job settles with it; otherwise the
    /// requester is refunded in full. Nodes that did not deliver are slashed unless their verifier excuses them;
    /// nodes that revealed another output than the majority are released unpaid and unslashed.
    function expire(Job calldata job) external;

    /// @notice Withdraws all of the caller's credits (fees, refunds, slash shares) to `recipient`.
    function claim(address recipient) external returns (uint256 amount);

    /// @notice Sends the protocol's accrued fees and slash remainders to the current treasury. Anyone may call.
    function claimProtocolFees() external returns (uint256 amount);

    /* GOVERNANCE */

    /// @notice Sets the verifier of `mode` for future jobs; zero disables the mode. Only governance.
    function setVerifier(Mode mode, address verifier) external;

    /// @notice Sets the parameters, each within its bounds. Only governance.
    function setParameters(Parameters calldata parameters) external;

    /// @notice Sets the treasury that `claimProtocolFees` pays. Only governance.
    function setTreasury(address treasury) external;

    /// @notice Pauses or unpauses new requests. Only the pauser role.
    function setPaused(bool paused) external;

    /* VIEWS */

    /// @notice The hash under which a job's terms are stored.
    function hashJob(Job calldata job) external pure returns (bytes32);

    /// @notice The stored hash of a job's terms (zero if the job does not exist). Once a job has settled, the
    /// word holds its output instead (`OutputLib`): use `resultOf`.
    function commitmentOf(JobId jobId) external view returns (bytes32);

    /// @notice The mutable state of a job.
    function stateOf(JobId jobId) external view returns (JobState memory);

    /// @notice Slot `slot` of a job, and its digest (the commitment, then the revealed output hash).
    function slotOf(JobId jobId, uint8 slot) external view returns (Slot memory, bytes32 digest);

    /// @notice The accepted output of a settled job and its hash (empty if the job has not settled).
    function resultOf(JobId jobId) external view returns (bytes32 outputHash, bytes memory output);

    /// @notice What a job with these terms would escrow in total, and how it splits.
    function quote(ModelId modelId, uint32 version, Mode mode, uint8 redundancy, uint96 feePerNode)
        external
        view
        returns (uint256 total, uint96 modelFee, uint96 protocolFee);

    /// @notice Credits `account` can withdraw with `claim`.
    function claimable(address account) external view returns (uint256);

    /// @notice Protocol fees and slash remainders accrued and not yet sent to the treasury.
    function protocolFees() external view returns (uint256);

    /// @notice The number of jobs requested so far (job ids are 1..jobCount).
    function jobCount() external view returns (uint64);

    /// @notice The verifier of `mode` for new jobs (zero if disabled).
    function verifierOf(Mode mode) external view returns (address);

    /// @notice The current parameters.
    function parameters() external view returns (Parameters memory);

    /// @notice The treasury.
    function treasury() external view returns (address);

    /// @notice Whether new requests are paused.
    function paused() external view returns (bool);

    /// @notice The payment token.
    function token() external view returns (address);
}

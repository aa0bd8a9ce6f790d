// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {IStakeLocker} from "../interfaces/IStakeLocker.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeStaking} from "../interfaces/INodeStaking.sol";
import {IInferenceVerifier} from "../interfaces/IInferenceVerifier.sol";
import {IBatchInferenceVerifier} from "../interfaces/IBatchInferenceVerifier.sol";
import {FeesLib} from "../libraries/FeesLib.sol";
import {TokenLib} from "../libraries/TokenLib.sol";
import {SettlementLib} from "../libraries/SettlementLib.sol";
import {JobId, ModelId, Mode} from "../types/Ids.sol";

/// @title JobEscrow
/// @notice Escrow, assignment, verification routing, settlement and refunds of inference jobs. See `IJobEscrow`.
/// @dev Governance (`DEFAULT_ADMIN_ROLE`) is meant to be a TimelockController; `PAUSER_ROLE` a guardian that can
/// only stop new requests.
contract JobEscrow is IJobEscrow, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SettlementLib for SettlementLib.Book;

    /// @notice The role that can pause and unpause new requests.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @notice Most nodes one job may ask for.
    uint8 public constant MAX_REDUNDANCY = 7;
    /// @notice Longest inline input, in bytes (larger inputs go by commitment and URI).
    uint256 public constant MAX_INPUT_BYTES = 16_384;
    /// @notice Most jobs one `submitBatch` settles.
    uint256 public constant MAX_BATCH = 64;
    /// @notice Longest output stored on-chain, in bytes.
    uint256 public constant MAX_OUTPUT_BYTES = 1_024;
    /// @notice Highest protocol fee: 10% of the model price plus node fees.
    uint16 public constant MAX_PROTOCOL_FEE_BPS = SettlementLib.MAX_PROTOCOL_FEE_BPS;
    /// @notice Bounds of `minDuration`.
    uint32 public constant MIN_DURATION_FLOOR = SettlementLib.MIN_DURATION_FLOOR;
    /// @notice Upper bound of `minDuration`.
    uint32 public constant MIN_DURATION_CEILING = SettlementLib.MIN_DURATION_CEILING;
    /// @notice Upper bound of `maxDuration`.
    uint32 public constant MAX_DURATION_CEILING = SettlementLib.MAX_DURATION_CEILING;
    /// @notice Lower bound of `revealPeriod`.
    uint32 public constant MIN_REVEAL_PERIOD = SettlementLib.MIN_REVEAL_PERIOD;
    /// @notice Upper bound of `revealPeriod`.
    uint32 public constant MAX_REVEAL_PERIOD = SettlementLib.MAX_REVEAL_PERIOD;
    /// @notice Upper bound of `maxCallbackGas`.
    uint32 public constant MAX_CALLBACK_GAS_CEILING = SettlementLib.MAX_CALLBACK_GAS_CEILING;
    /// @notice Upper bound of `minCollateral` and of `usageFeeFloor` (a billion tokens of 18 decimals).
    uint96 public constant MAX_AMOUNT_PARAMETER = SettlementLib.MAX_AMOUNT_PARAMETER;
    /// @notice Upper bound of `maxCollateralRatio`.
    uint16 public constant MAX_COLLATERAL_RATIO = SettlementLib.MAX_COLLATERAL_RATIO;
    /// @dev The account protocol fees and slash remainders accrue to; `claimProtocolFees` pays it to the current
    /// treasury. A constant key saves reading the treasury per job.
    address internal constant PROTOCOL = SettlementLib.PROTOCOL;

    IERC20 internal immutable _token;
    /// @notice The model registry jobs are priced and checked against.
    IModelRegistry public immutable registry;
    /// @notice The staking contract that holds operators' stake.
    INodeStaking public immutable staking;

    Parameters internal _parameters;
    address internal _treasury;
    bool internal _paused;
    uint64 internal _jobCount;
    /// @dev The verifier of each mode, and whether it wants `checkRequest` calls (one slot: no extra read).
    mapping(Mode => SettlementLib.VerifierEntry) internal _verifiers;

    /// @dev Jobs, slots, outputs and accounts (see `SettlementLib.Book`).
    SettlementLib.Book internal _book;

    constructor(
        IModelRegistry registry_,
        INodeStaking staking_,
        address treasury_,
        address admin,
        Parameters memory parameters_
    ) {
        _token = IERC20(staking_.token());
        registry = registry_;
        staking = staking_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setTreasury(treasury_);
        _setParameters(parameters_);
    }

    /* REQUESTER FUNCTIONS */

    /// @inheritdoc IJobEscrow
    function request(RequestParams calldata params) external nonReentrant returns (JobId) {
        return _request(params, address(0));
    }

    /// @inheritdoc IJobEscrow
    function requestWithPermit(RequestParams calldata params, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        returns (JobId)
    {
        TokenLib.tryPermit(_token, msg.sender, params.maxTotal, permitDeadline, v, r, s);
        return _request(params, address(0));
    }

    /// @inheritdoc IJobEscrow
    function requestFor(RequestParams calldata params, address node) external nonReentrant returns (JobId) {
        if (node == address(0)) revert JobEscrowInvalidAssignee(node);
        return _request(params, node);
    }

    /* NODE FUNCTIONS */

    /// @inheritdoc IJobEscrow
    function claimSlot(Job calldata job) external nonReentrant returns (uint8 slot) {
        JobState storage state = _openJob(job);
        if (state.assignee != address(0)) revert JobEscrowJobAssigned(job.id, state.assignee);
        if (block.timestamp >= job.deadline) revert JobEscrowDeadlinePassed(job.id, job.deadline);
        slot = state.filled;
        if (slot >= job.redundancy) revert JobEscrowSlotsFilled(job.id, job.redundancy);
        for (uint256 i; i < slot; ++i) {
            if (_book.slots[job.id][i].node == msg.sender) revert JobEscrowAlreadyAssigned(job.id, msg.sender);
        }
        _checkEligible(job, msg.sender);

        state.filled = slot + 1;
        _book.slots[job.id][slot] =
            Slot({node: msg.sender, phase: SlotPhase.Claimed, claimedAt: uint64(block.timestamp)});
        _book.accounts[msg.sender].locked += job.collateral;

        emit SlotClaimed(job.id, msg.sender, slot, job.collateral);
    }

    /// @inheritdoc IJobEscrow
    function submit(Job calldata job, bytes calldata output, bytes calldata proof) external nonReentrant {
        (JobState storage state, bool assigned) = _submittable(job);
        bytes32 outputHash = _outputHash(output);
        _checkProof(job, outputHash, proof);

        _settleSubmission(job, state, assigned, output, outputHash);

        _deliver(job, outputHash, output);
    }

    /// @inheritdoc IJobEscrow
    function submitBatch(Job[] calldata jobs, bytes[] calldata outputs, bytes calldata proof) external nonReentrant {
        uint256 n = jobs.length;
        if (n == 0 || n != outputs.length || n > MAX_BATCH) revert JobEscrowInvalidBatch(n, outputs.length, MAX_BATCH);
        address verifier = jobs[0].verifier;
        IInferenceVerifier.InferenceClaim[] memory claims = new IInferenceVerifier.InferenceClaim[](n);
        for (uint256 i; i < n; ++i) {
            Job calldata job = jobs[i];
            if (job.verifier != verifier) revert JobEscrowBatchVerifierMismatch(job.id, job.verifier, verifier);
            claims[i] = _claim(job, _outputHash(outputs[i]));
        }
        IBatchInferenceVerifier(verifier).verifyBatch(claims, proof);

        // A job listed twice fails `_submittable` the second time: settling replaced its terms hash.
        for (uint256 i; i < n; ++i) {
            (JobState storage state, bool assigned) = _submittable(jobs[i]);
            _settleSubmission(jobs[i], state, assigned, outputs[i], claims[i].outputHash);
        }

        SettlementLib.checkBatchCallbackGas(jobs);
        for (uint256 i; i < n; ++i) {
            _deliver(jobs[i], claims[i].outputHash, outputs[i]);
        }
    }

    /// @inheritdoc IJobEscrow
    function commit(Job calldata job, bytes32 commitment) external nonReentrant {
        JobState storage state = _openJob(job);
        if (job.redundancy == 1) revert JobEscrowWrongRedundancy(job.id, job.redundancy);
        if (block.timestamp >= job.deadline) revert JobEscrowDeadlinePassed(job.id, job.deadline);
        uint256 slot = _slotOf(job.id, state.filled, msg.sender);
        Slot storage s = _book.slots[job.id][slot];
        if (s.phase != SlotPhase.Claimed) revert JobEscrowWrongPhase(job.id, msg.sender, s.phase);

        s.phase = SlotPhase.Committed;
        _book.digests[job.id][slot] = commitment;
        ++state.committed;

        emit ResultCommitted(job.id, msg.sender, commitment);
    }

    /// @inheritdoc IJobEscrow
    function reveal(Job calldata job, bytes calldata output, bytes32 salt, bytes calldata proof) external nonReentrant {
        JobState storage state = _openJob(job);
        uint256 slot = _revealingSlot(job, state);
        bytes32 outputHash = _outputHash(output);
        if (keccak256(abi.encode(job.id, msg.sender, outputHash, salt)) != _book.digests[job.id][slot]) {
            revert JobEscrowCommitmentMismatch(job.id, msg.sender);
        }
        _checkProof(job, outputHash, proof);

        _book.slots[job.id][slot].phase = SlotPhase.Revealed;
        _book.digests[job.id][slot] = _book.packOutput(job.id, slot, output);
        uint8 revealed = ++state.revealed;

        emit ResultRevealed(job.id, msg.sender, outputHash);

        if (revealed == job.redundancy) _book.resolveByMajority(job, staking);
    }

    /* ANYONE */

    /// @inheritdoc IJobEscrow
    function expire(Job calldata job) external nonReentrant {
        JobState storage state = _openJob(job);
        bool revealing = job.redundancy > 1 && state.committed == job.redundancy;
        uint64 expiresAt = revealing ? job.revealDeadline : job.deadline;
        if (block.timestamp < expiresAt) revert JobEscrowNotExpired(job.id, expiresAt);

        if (revealing) _book.resolveByMajority(job, staking);
        else _book.refund(job, RefundReason.Expired, SlotPhase.Committed, staking);
    }

    /// @inheritdoc IJobEscrow
    function claim(address recipient) external nonReentrant returns (uint256 amount) {
        if (recipient == address(0)) revert JobEscrowInvalidRecipient(recipient);
        SettlementLib.Account storage account = _book.accounts[msg.sender];
        amount = account.claimable;
        if (amount == 0) revert JobEscrowNothingToClaim(msg.sender);

        account.claimable = 0;

        emit Claimed(msg.sender, recipient, amount);

        _token.safeTransfer(recipient, amount);
    }

    /// @inheritdoc IJobEscrow
    function claimProtocolFees() external nonReentrant returns (uint256 amount) {
        SettlementLib.Account storage account = _book.accounts[PROTOCOL];
        amount = account.claimable;
        address treasury_ = _treasury;

        account.claimable = 0;

        emit ProtocolFeesClaimed(treasury_, amount);

        if (amount != 0) _token.safeTransfer(treasury_, amount);
    }

    /* GOVERNANCE */

    /// @inheritdoc IJobEscrow
    function setVerifier(Mode mode, address verifier) external onlyRole(DEFAULT_ADMIN_ROLE) {
        SettlementLib.setVerifier(_verifiers, mode, verifier);
    }

    /// @inheritdoc IJobEscrow
    function setParameters(Parameters calldata parameters_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParameters(parameters_);
    }

    /// @inheritdoc IJobEscrow
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTreasury(treasury_);
    }

    /// @inheritdoc IJobEscrow
    function setPaused(bool paused_) external onlyRole(PAUSER_ROLE) {
        _paused = paused_;

        emit RequestsPaused(paused_);
    }

    /* VIEWS */

    /// @inheritdoc IJobEscrow
    function hashJob(Job calldata job) public pure returns (bytes32) {
        return keccak256(abi.encode(job));
    }

    /// @inheritdoc IJobEscrow
    function commitmentOf(JobId jobId) external view returns (bytes32) {
        return _book.commitments[jobId];
    }

    /// @inheritdoc IJobEscrow
    function stateOf(JobId jobId) external view returns (JobState memory state) {
        state = _book.states[jobId];
        if (state.status == JobStatus.None && _book.commitments[jobId] != bytes32(0)) state.status = JobStatus.Open;
    }

    /// @inheritdoc IJobEscrow
    function slotOf(JobId jobId, uint8 slot) external view returns (Slot memory, bytes32 digest) {
        return (_book.slots[jobId][slot], _book.digests[jobId][slot]);
    }

    /// @inheritdoc IJobEscrow
    function resultOf(JobId jobId) external view returns (bytes32, bytes memory) {
        return _book.resultOf(jobId);
    }

    /// @inheritdoc IJobEscrow
    function quote(ModelId modelId, uint32 version, Mode mode, uint8 redundancy, uint96 feePerNode)
        external
        view
        returns (uint256 total, uint96 modelFee, uint96 protocolFee)
    {
        (, modelFee) = registry.quote(modelId, version, mode);
        protocolFee = _protocolFee(modelFee, feePerNode, redundancy);
        total = FeesLib.total(modelFee, feePerNode, redundancy, protocolFee);
    }

    /// @inheritdoc IJobEscrow
    function claimable(address account) external view returns (uint256) {
        return account == PROTOCOL ? 0 : _book.accounts[account].claimable;
    }

    /// @inheritdoc IJobEscrow
    function protocolFees() external view returns (uint256) {
        return _book.accounts[PROTOCOL].claimable;
    }

    /// @inheritdoc IStakeLocker
    function lockedStake(address operator) external view returns (uint256) {
        return _book.accounts[operator].locked;
    }

    /// @inheritdoc IJobEscrow
    function jobCount() external view returns (uint64) {
        return _jobCount;
    }

    /// @inheritdoc IJobEscrow
    function verifierOf(Mode mode) external view returns (address) {
        return _verifiers[mode].verifier;
    }

    /// @inheritdoc IJobEscrow
    function parameters() external view returns (Parameters memory) {
        return _parameters;
    }

    /// @inheritdoc IJobEscrow
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @inheritdoc IJobEscrow
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @inheritdoc IJobEscrow
    function token() external view returns (address) {
        return address(_token);
    }

    /* INTERNAL: REQUEST */

    /// @dev A request; `assignee` is zero, or the only node that may serve the k = 1 job (`requestFor`).
    function _request(RequestParams calldata params, address assignee) internal returns (JobId jobId) {
        if (_paused) revert JobEscrowRequestsPaused();
        jobId = JobId.wrap(_jobCount + 1);
        if (assignee != address(0) && params.redundancy != 1) {
            revert JobEscrowWrongRedundancy(jobId, params.redundancy);
        }
        Job memory job = _buildJob(jobId, params);
        uint256 total = FeesLib.total(job.modelFee, job.feePerNode, job.redundancy, job.protocolFee);
        if (params.maxTotal < total) revert JobEscrowInsufficientFee(jobId, params.maxTotal, total);

        _jobCount = JobId.unwrap(jobId);
        _book.commitments[jobId] = keccak256(abi.encode(job));
        if (assignee != address(0)) _book.states[jobId].assignee = assignee;

        emit JobRequested(jobId, msg.sender, params.modelId, job, params.input, params.inputUri);
        if (assignee != address(0)) emit JobAssigned(jobId, assignee);

        _pull(msg.sender, total);
    }

    /// @dev Checks the request against the parameters and the registry and fixes the job's terms.
    function _buildJob(JobId jobId, RequestParams calldata params) internal view returns (Job memory job) {
        Parameters memory p = _parameters;
        // An even k lets one slot veto a job by splitting the vote: only odd redundancies are accepted.
        if (params.redundancy % 2 == 0 || params.redundancy > MAX_REDUNDANCY) {
            revert JobEscrowInvalidRedundancy(params.redundancy, MAX_REDUNDANCY);
        }
        _checkDeadline(params.deadline, p);
        SettlementLib.VerifierEntry memory entry = _verifiers[params.mode];
        address verifier = entry.verifier;
        if (verifier == address(0)) revert JobEscrowModeDisabled(params.mode);
        _checkCollateral(params, p);
        _checkCallback(params, p);
        (address modelOwner, uint96 modelFee) = registry.quote(params.modelId, params.version, params.mode);
        bytes32 inputHash = _inputHash(params);
        if (entry.checksRequests) {
            IInferenceVerifier(verifier).checkRequest(params.modelId, params.version, params.redundancy, inputHash);
        }

        job.id = jobId;
        job.requester = msg.sender;
        job.modelId = params.modelId;
        job.version = params.version;
        job.mode = params.mode;
        job.redundancy = params.redundancy;
        job.deadline = params.deadline;
        job.revealDeadline = params.redundancy == 1 ? params.deadline : params.deadline + p.revealPeriod;
        job.inputHash = inputHash;
        job.modelOwner = modelOwner;
        job.verifier = verifier;
        job.modelFee = modelFee;
        job.feePerNode = params.feePerNode;
        job.protocolFee = uint96(_protocolFee(modelFee, params.feePerNode, params.redundancy));
        job.collateral = params.collateral;
        job.callback = params.callback;
        job.callbackGasLimit = params.callbackGasLimit;
        job.slashBeneficiaryBps = p.slashBeneficiaryBps;
    }

    function _checkCollateral(RequestParams calldata params, Parameters memory p) internal pure {
        uint256 max = uint256(params.feePerNode) * p.maxCollateralRatio;
        if (params.collateral < p.minCollateral || params.collateral > max) {
            revert JobEscrowInvalidCollateral(params.collateral, p.minCollateral, max);
        }
    }

    function _checkCallback(RequestParams calldata params, Parameters memory p) internal view {
        if (params.callback == address(0)) {
            if (params.callbackGasLimit != 0) revert JobEscrowInvalidCallbackGas(params.callbackGasLimit, 0);
            return;
        }
        if (params.callback != msg.sender) revert JobEscrowInvalidCallback(params.callback, msg.sender);
        if (params.callbackGasLimit == 0 || params.callbackGasLimit > p.maxCallbackGas) {
            revert JobEscrowInvalidCallbackGas(params.callbackGasLimit, p.maxCallbackGas);
        }
    }

    function _checkDeadline(uint64 deadline, Parameters memory p) internal view {
        uint64 earliest = uint64(block.timestamp) + p.minDuration;
        uint64 latest = uint64(block.timestamp) + p.maxDuration;
        if (deadline < earliest || deadline > latest) revert JobEscrowInvalidDeadline(deadline, earliest, latest);
    }

    function _inputHash(RequestParams calldata params) internal pure returns (bytes32) {
        if (params.input.length > MAX_INPUT_BYTES) revert JobEscrowInputTooLarge(params.input.length, MAX_INPUT_BYTES);
        if (params.inputCommitment != bytes32(0)) return params.inputCommitment;
        if (params.input.length == 0) revert JobEscrowMissingInput();
        return keccak256(params.input);
    }

    /// @dev The protocol fee never exceeds 10% of at most 8 * 2^96, so it fits in 96 bits.
    function _protocolFee(uint96 modelFee, uint96 feePerNode, uint8 redundancy) internal view returns (uint96) {
        uint256 base = uint256(modelFee) + FeesLib.nodeFees(feePerNode, redundancy);
        return uint96(FeesLib.protocolFee(base, _parameters.protocolFeeBps));
    }

    /* INTERNAL: JOB CHECKS */

    /// @dev Checks that `job` is open and matches its stored hash; returns its state. The status comes first: once
    /// a job is closed its commitment word holds the output.
    function _openJob(Job calldata job) internal view returns (JobState storage state) {
        state = _book.states[job.id];
        if (state.status != JobStatus.None) revert JobEscrowJobNotOpen(job.id, state.status);
        bytes32 stored = _book.commitments[job.id];
        bytes32 given = hashJob(job);
        if (given != stored) revert JobEscrowJobMismatch(job.id, stored, given);
    }

    /// @dev One staking call on the happy path; the diagnosis of a refusal costs two more.
    function _checkEligible(Job calldata job, address node) internal view {
        if (staking.isEligible(node, Mode.unwrap(job.mode), job.collateral)) return;
        if (!staking.isEligible(node, Mode.unwrap(job.mode), 0)) revert JobEscrowNodeIneligible(job.id, node);
        revert JobEscrowInsufficientStake(node, staking.availableStake(node), job.collateral);
    }

    /// @dev The caller's slot of a redundant job in its reveal window, checked to hold a commitment.
    function _revealingSlot(Job calldata job, JobState storage state) internal view returns (uint256 slot) {
        if (job.redundancy == 1) revert JobEscrowWrongRedundancy(job.id, job.redundancy);
        if (state.committed < job.redundancy) revert JobEscrowRevealNotOpen(job.id, state.committed, job.redundancy);
        if (block.timestamp >= job.revealDeadline) revert JobEscrowDeadlinePassed(job.id, job.revealDeadline);
        slot = _slotOf(job.id, state.filled, msg.sender);
        SlotPhase phase = _book.slots[job.id][slot].phase;
        if (phase != SlotPhase.Committed) revert JobEscrowWrongPhase(job.id, msg.sender, phase);
    }

    function _slotOf(JobId jobId, uint8 filled, address node) internal view returns (uint256) {
        for (uint256 i; i < filled; ++i) {
            if (_book.slots[jobId][i].node == node) return i;
        }
        revert JobEscrowNotAssigned(jobId, node);
    }

    function _outputHash(bytes calldata output) internal pure returns (bytes32) {
        if (output.length == 0 || output.length > MAX_OUTPUT_BYTES) {
            revert JobEscrowInvalidOutputLength(output.length, MAX_OUTPUT_BYTES);
        }
        return keccak256(output);
    }

    /// @dev Asks the job's verifier (captured at request time) to check the result.
    function _checkProof(Job calldata job, bytes32 outputHash, bytes calldata proof) internal view {
        IInferenceVerifier(job.verifier).verify(_claim(job, outputHash), proof);
    }

    function _claim(Job calldata job, bytes32 outputHash)
        internal
        view
        returns (IInferenceVerifier.InferenceClaim memory)
    {
        return IInferenceVerifier.InferenceClaim({
            jobId: job.id,
            modelId: job.modelId,
            version: job.version,
            inputHash: job.inputHash,
            outputHash: outputHash,
            node: msg.sender
        });
    }

    /// @dev The open k = 1 job `job`, before its deadline, whose slot the caller claimed or which was assigned to
    /// the caller. An assignee locked nothing, so its eligibility is checked now, against the job's collateral.
    function _submittable(Job calldata job) internal view returns (JobState storage state, bool assigned) {
        state = _openJob(job);
        if (job.redundancy != 1) revert JobEscrowWrongRedundancy(job.id, job.redundancy);
        if (block.timestamp >= job.deadline) revert JobEscrowDeadlinePassed(job.id, job.deadline);
        address assignee = state.assignee;
        if (assignee == address(0)) {
            if (_book.slots[job.id][0].node != msg.sender) revert JobEscrowNotAssigned(job.id, msg.sender);
            return (state, false);
        }
        if (assignee != msg.sender) revert JobEscrowNotAssigned(job.id, msg.sender);
        _checkEligible(job, msg.sender);
        return (state, true);
    }

    /// @dev Settles a verified k = 1 submission: stores the output, pays everyone, announces it. An assignee's
    /// collateral was never locked: it is paid its fee only.
    function _settleSubmission(
        Job calldata job,
        JobState storage state,
        bool assigned,
        bytes calldata output,
        bytes32 outputHash
    ) internal {
        state.status = JobStatus.Settled;
        _book.commitments[job.id] = _book.packOutput(job.id, 0, output);
        if (assigned) _book.credit(msg.sender, job.feePerNode);
        else _book.payNode(msg.sender, job);
        _book.credit(job.modelOwner, job.modelFee);
        _book.credit(PROTOCOL, job.protocolFee);

        emit JobSettled(job.id, outputHash, 1, output);
    }

    /* INTERNAL: MONEY */

    /// @dev Pulls `amount` and checks it all arrived (`TokenLib.pull`).
    function _pull(address from, uint256 amount) internal {
        uint256 received = TokenLib.pull(_token, from, amount);
        if (received != amount) revert JobEscrowTransferMismatch(amount, received);
    }

    /// @dev Delivers a settled job's output. `SettlementLib.deliver` is internal, so the callback is made from this
    /// frame: no library hop withholds 1/64 of the gas that `checkBatchCallbackGas` counted.
    function _deliver(Job calldata job, bytes32 outputHash, bytes calldata output) internal {
        if (job.callback != address(0)) SettlementLib.deliver(job, true, outputHash, output);
    }

    /* INTERNAL: GOVERNANCE */

    function _setTreasury(address treasury_) internal {
        if (treasury_ == address(0)) revert JobEscrowInvalidRecipient(treasury_);
        address previous = _treasury;

        _treasury = treasury_;

        emit TreasuryUpdated(previous, treasury_);
    }

    function _setParameters(Parameters memory p) internal {
        SettlementLib.checkParameters(p);

        _parameters = p;

        emit ParametersUpdated(p);
    }
}

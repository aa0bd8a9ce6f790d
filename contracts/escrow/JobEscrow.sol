// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {IStakeLocker} from "../interfaces/IStakeLocker.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeStaking} from "../interfaces/INodeStaking.sol";
import {IInferenceVerifier} from "../interfaces/IInferenceVerifier.sol";
import {IBatchInferenceVerifier} from "../interfaces/IBatchInferenceVerifier.sol";
import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {FeesLib} from "../libraries/FeesLib.sol";
import {OutputLib} from "../libraries/OutputLib.sol";
import {JobId, ModelId, Mode} from "../types/Ids.sol";

/// @title JobEscrow
/// @notice Escrow, assignment, verification routing, settlement and refunds of inference jobs. See `IJobEscrow`.
/// @dev Governance (`DEFAULT_ADMIN_ROLE`) is meant to be a TimelockController; `PAUSER_ROLE` a guardian that can
/// only stop new requests.
contract JobEscrow is IJobEscrow, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

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
    uint16 public constant MAX_PROTOCOL_FEE_BPS = 1_000;
    /// @notice Bounds of `minDuration`.
    uint32 public constant MIN_DURATION_FLOOR = 10 seconds;
    /// @notice Upper bound of `minDuration`.
    uint32 public constant MIN_DURATION_CEILING = 1 days;
    /// @notice Upper bound of `maxDuration`.
    uint32 public constant MAX_DURATION_CEILING = 90 days;
    /// @notice Lower bound of `revealPeriod`.
    uint32 public constant MIN_REVEAL_PERIOD = 10 seconds;
    /// @notice Upper bound of `revealPeriod`.
    uint32 public constant MAX_REVEAL_PERIOD = 7 days;
    /// @notice Upper bound of `maxCallbackGas`.
    uint32 public constant MAX_CALLBACK_GAS_CEILING = 5_000_000;
    /// @dev Gas kept back around a callback: the cost of reaching the CALL and of finishing after it.
    uint256 internal constant CALLBACK_GAS_RESERVE = 10_000;
    /// @dev The account protocol fees and slash remainders accrue to; no one can call from the zero address, and
    /// `claimProtocolFees` pays it to the current treasury. A constant key saves reading the treasury per job.
    address internal constant PROTOCOL = address(0);

    /// @dev What the escrow owes an account, and how much of an operator's stake it holds locked. One slot,
    /// so settling a node's slot (pay the fee, release the collateral) is a single write.
    struct Account {
        uint128 claimable;
        uint128 locked;
    }

    IERC20 internal immutable _token;
    /// @notice The model registry jobs are priced and checked against.
    IModelRegistry public immutable registry;
    /// @notice The staking contract that holds operators' stake.
    INodeStaking public immutable staking;

    Parameters internal _parameters;
    address internal _treasury;
    bool internal _paused;
    uint64 internal _jobCount;
    mapping(Mode => address) internal _verifiers;
    /// @dev The hash of a job's terms while it is open; its packed output (`OutputLib`) once settled.
    mapping(JobId => bytes32) internal _commitments;
    /// @dev A stored status of `None` on an existing job means open.
    mapping(JobId => JobState) internal _states;
    mapping(JobId => mapping(uint256 => Slot)) internal _slots;
    /// @dev Per slot of a redundant job: the node's commitment, then its packed output once revealed.
    mapping(JobId => mapping(uint256 => bytes32)) internal _digests;
    /// @dev Outputs too long to pack inline, by job and slot.
    mapping(JobId => mapping(uint256 => bytes)) internal _outputs;
    mapping(address => Account) internal _accounts;

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
        return _request(params);
    }

    /// @inheritdoc IJobEscrow
    function requestWithPermit(RequestParams calldata params, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        returns (JobId)
    {
        // A permit front-run by someone else leaves the allowance in place: `transferFrom` decides. Hence the
        // deliberately empty handlers.
        // solhint-disable-next-line no-empty-blocks
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), params.maxTotal, permitDeadline, v, r, s) {}
        // solhint-disable-next-line no-empty-blocks
        catch {}
        return _request(params);
    }

    /* NODE FUNCTIONS */

    /// @inheritdoc IJobEscrow
    function claimSlot(Job calldata job) external nonReentrant returns (uint8 slot) {
        JobState storage state = _openJob(job);
        if (block.timestamp >= job.deadline) revert JobEscrowDeadlinePassed(job.id, job.deadline);
        slot = state.filled;
        if (slot >= job.redundancy) revert JobEscrowSlotsFilled(job.id, job.redundancy);
        for (uint256 i; i < slot; ++i) {
            if (_slots[job.id][i].node == msg.sender) revert JobEscrowAlreadyAssigned(job.id, msg.sender);
        }
        _checkEligible(job, msg.sender);

        state.filled = slot + 1;
        _slots[job.id][slot] = Slot({node: msg.sender, phase: SlotPhase.Claimed});
        _accounts[msg.sender].locked += job.collateral;

        emit SlotClaimed(job.id, msg.sender, slot, job.collateral);
    }

    /// @inheritdoc IJobEscrow
    function submit(Job calldata job, bytes calldata output, bytes calldata proof) external nonReentrant {
        JobState storage state = _submittable(job);
        bytes32 outputHash = _outputHash(output);
        _checkProof(job, outputHash, proof);

        _settleSubmission(job, state, output, outputHash);

        _deliver(job, true, outputHash, output);
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
            _settleSubmission(jobs[i], _submittable(jobs[i]), outputs[i], claims[i].outputHash);
        }

        for (uint256 i; i < n; ++i) {
            _deliver(jobs[i], true, claims[i].outputHash, outputs[i]);
        }
    }

    /// @inheritdoc IJobEscrow
    function commit(Job calldata job, bytes32 commitment) external nonReentrant {
        JobState storage state = _openJob(job);
        if (job.redundancy == 1) revert JobEscrowWrongRedundancy(job.id, job.redundancy);
        if (block.timestamp >= job.deadline) revert JobEscrowDeadlinePassed(job.id, job.deadline);
        uint256 slot = _slotOf(job.id, state.filled, msg.sender);
        Slot storage s = _slots[job.id][slot];
        if (s.phase != SlotPhase.Claimed) revert JobEscrowWrongPhase(job.id, msg.sender, s.phase);

        s.phase = SlotPhase.Committed;
        _digests[job.id][slot] = commitment;
        ++state.committed;

        emit ResultCommitted(job.id, msg.sender, commitment);
    }

    /// @inheritdoc IJobEscrow
    function reveal(Job calldata job, bytes calldata output, bytes32 salt, bytes calldata proof) external nonReentrant {
        JobState storage state = _openJob(job);
        uint256 slot = _revealingSlot(job, state);
        bytes32 outputHash = _outputHash(output);
        if (keccak256(abi.encode(job.id, msg.sender, outputHash, salt)) != _digests[job.id][slot]) {
            revert JobEscrowCommitmentMismatch(job.id, msg.sender);
        }
        _checkProof(job, outputHash, proof);

        _slots[job.id][slot].phase = SlotPhase.Revealed;
        _digests[job.id][slot] = _packOutput(job.id, slot, output);
        uint8 revealed = ++state.revealed;

        emit ResultRevealed(job.id, msg.sender, outputHash);

        if (revealed == job.redundancy) _resolveByMajority(job, state);
    }

    /* ANYONE */

    /// @inheritdoc IJobEscrow
    function expire(Job calldata job) external nonReentrant {
        JobState storage state = _openJob(job);
        bool revealing = job.redundancy > 1 && state.committed == job.redundancy;
        uint64 expiresAt = revealing ? job.revealDeadline : job.deadline;
        if (block.timestamp < expiresAt) revert JobEscrowNotExpired(job.id, expiresAt);

        if (revealing) _resolveByMajority(job, state);
        else _refund(job, state, RefundReason.Expired, SlotPhase.Committed);
    }

    /// @inheritdoc IJobEscrow
    function claim(address recipient) external nonReentrant returns (uint256 amount) {
        if (recipient == address(0)) revert JobEscrowInvalidRecipient(recipient);
        Account storage account = _accounts[msg.sender];
        amount = account.claimable;
        if (amount == 0) revert JobEscrowNothingToClaim(msg.sender);

        account.claimable = 0;

        emit Claimed(msg.sender, recipient, amount);

        _token.safeTransfer(recipient, amount);
    }

    /// @inheritdoc IJobEscrow
    function claimProtocolFees() external nonReentrant returns (uint256 amount) {
        Account storage account = _accounts[PROTOCOL];
        amount = account.claimable;
        address treasury_ = _treasury;

        account.claimable = 0;

        emit ProtocolFeesClaimed(treasury_, amount);

        if (amount != 0) _token.safeTransfer(treasury_, amount);
    }

    /* GOVERNANCE */

    /// @inheritdoc IJobEscrow
    function setVerifier(Mode mode, address verifier) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (verifier != address(0) && (verifier.code.length == 0 || IInferenceVerifier(verifier).mode() != mode)) {
            revert JobEscrowInvalidVerifier(mode, verifier);
        }

        _verifiers[mode] = verifier;

        emit VerifierSet(mode, verifier);
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
        return _commitments[jobId];
    }

    /// @inheritdoc IJobEscrow
    function stateOf(JobId jobId) external view returns (JobState memory state) {
        state = _states[jobId];
        if (state.status == JobStatus.None && _commitments[jobId] != bytes32(0)) state.status = JobStatus.Open;
    }

    /// @inheritdoc IJobEscrow
    function slotOf(JobId jobId, uint8 slot) external view returns (Slot memory, bytes32 digest) {
        return (_slots[jobId][slot], _digests[jobId][slot]);
    }

    /// @inheritdoc IJobEscrow
    function resultOf(JobId jobId) external view returns (bytes32 outputHash, bytes memory output) {
        JobState memory state = _states[jobId];
        if (state.status != JobStatus.Settled) return (bytes32(0), "");
        output = _loadOutput(jobId, state.resultSlot, _commitments[jobId]);
        outputHash = keccak256(output);
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
        return account == PROTOCOL ? 0 : _accounts[account].claimable;
    }

    /// @inheritdoc IJobEscrow
    function protocolFees() external view returns (uint256) {
        return _accounts[PROTOCOL].claimable;
    }

    /// @inheritdoc IStakeLocker
    function lockedStake(address operator) external view returns (uint256) {
        return _accounts[operator].locked;
    }

    /// @inheritdoc IJobEscrow
    function jobCount() external view returns (uint64) {
        return _jobCount;
    }

    /// @inheritdoc IJobEscrow
    function verifierOf(Mode mode) external view returns (address) {
        return _verifiers[mode];
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

    function _request(RequestParams calldata params) internal returns (JobId jobId) {
        if (_paused) revert JobEscrowRequestsPaused();
        jobId = JobId.wrap(_jobCount + 1);
        Job memory job = _buildJob(jobId, params);
        uint256 total = FeesLib.total(job.modelFee, job.feePerNode, job.redundancy, job.protocolFee);
        if (params.maxTotal < total) revert JobEscrowInsufficientFee(jobId, params.maxTotal, total);

        _jobCount = JobId.unwrap(jobId);
        _commitments[jobId] = keccak256(abi.encode(job));

        emit JobRequested(jobId, msg.sender, params.modelId, job, params.input, params.inputUri);

        _pull(msg.sender, total);
    }

    /// @dev Checks the request against the parameters and the registry and fixes the job's terms.
    function _buildJob(JobId jobId, RequestParams calldata params) internal view returns (Job memory job) {
        Parameters memory p = _parameters;
        if (params.redundancy == 0 || params.redundancy > MAX_REDUNDANCY) {
            revert JobEscrowInvalidRedundancy(params.redundancy, MAX_REDUNDANCY);
        }
        _checkDeadline(params.deadline, p);
        address verifier = _verifiers[params.mode];
        if (verifier == address(0)) revert JobEscrowModeDisabled(params.mode);
        if (params.collateral < p.minCollateral) revert JobEscrowInvalidCollateral(params.collateral, p.minCollateral);
        if (params.callback == address(0) ? params.callbackGasLimit != 0 : (params.callbackGasLimit == 0 || params.callbackGasLimit > p.maxCallbackGas)) {
            revert JobEscrowInvalidCallbackGas(params.callbackGasLimit, p.maxCallbackGas);
        }
        (address modelOwner, uint96 modelFee) = registry.quote(params.modelId, params.version, params.mode);

        job.id = jobId;
        job.requester = msg.sender;
        job.modelId = params.modelId;
        job.version = params.version;
        job.mode = params.mode;
        job.redundancy = params.redundancy;
        job.deadline = params.deadline;
        job.revealDeadline = params.redundancy == 1 ? params.deadline : params.deadline + p.revealPeriod;
        job.inputHash = _inputHash(params);
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
        state = _states[job.id];
        if (state.status != JobStatus.None) revert JobEscrowJobNotOpen(job.id, state.status);
        bytes32 stored = _commitments[job.id];
        bytes32 given = keccak256(abi.encode(job));
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
        SlotPhase phase = _slots[job.id][slot].phase;
        if (phase != SlotPhase.Committed) revert JobEscrowWrongPhase(job.id, msg.sender, phase);
    }

    function _slotOf(JobId jobId, uint8 filled, address node) internal view returns (uint256) {
        for (uint256 i; i < filled; ++i) {
            if (_slots[jobId][i].node == node) return i;
        }
        revert JobEscrowNotAssigned(jobId, node);
    }

    function _outputHash(bytes calldata output) internal pure returns (bytes32) {
        if (output.length == 0 || output.length > MAX_OUTPUT_BYTES) {
            revert JobEscrowInvalidOutputLength(output.length, MAX_OUTPUT_BYTES);
        }
        return keccak256(output);
    }

    /// @dev The packed word of `output`; an output too long to pack is stored in full under its slot.
    function _packOutput(JobId jobId, uint256 slot, bytes calldata output) internal returns (bytes32 word) {
        word = OutputLib.pack(output);
        if (!OutputLib.isInline(word)) _outputs[jobId][slot] = output;
    }

    function _loadOutput(JobId jobId, uint256 slot, bytes32 word) internal view returns (bytes memory) {
        return OutputLib.isInline(word) ? OutputLib.unpack(word) : _outputs[jobId][slot];
    }

    /// @dev Asks the job's verifier (captured at request time) to check the result.
    function _checkProof(Job calldata job, bytes32 outputHash, bytes calldata proof) internal view {
        IInferenceVerifier(job.verifier).verify(_claim(job, outputHash), proof);
    }

    function _claim(Job calldata job, bytes32 outputHash) internal view returns (IInferenceVerifier.InferenceClaim memory) {
        return IInferenceVerifier.InferenceClaim({
            jobId: job.id,
            modelId: job.modelId,
            version: job.version,
            inputHash: job.inputHash,
            outputHash: outputHash,
            node: msg.sender
        });
    }

    /// @dev The open k = 1 job `job`, before its deadline and assigned to the caller.
    function _submittable(Job calldata job) internal view returns (JobState storage state) {
        state = _openJob(job);
        if (job.redundancy != 1) revert JobEscrowWrongRedundancy(job.id, job.redundancy);
        if (block.timestamp >= job.deadline) revert JobEscrowDeadlinePassed(job.id, job.deadline);
        if (_slots[job.id][0].node != msg.sender) revert JobEscrowNotAssigned(job.id, msg.sender);
    }

    /// @dev Settles a verified k = 1 submission: stores the output, pays everyone, announces it.
    function _settleSubmission(Job calldata job, JobState storage state, bytes calldata output, bytes32 outputHash) internal {
        state.status = JobStatus.Settled;
        _commitments[job.id] = _packOutput(job.id, 0, output);
        _payNode(msg.sender, job);
        _payModelAndProtocol(job);

        emit JobSettled(job.id, outputHash, 1, output);
    }

    /* INTERNAL: RESOLUTION */

    /// @dev Settles a redundant job by strict majority of its `redundancy` slots, or refunds it if there is none.
    function _resolveByMajority(Job calldata job, JobState storage state) internal {
        (uint256 winner, uint8 agreeing) = _majority(job);
        if (uint256(agreeing) * 2 <= job.redundancy) {
            _refund(job, state, RefundReason.NoMajority, SlotPhase.Revealed);
            return;
        }
        bytes32 word = _digests[job.id][winner];
        address[] memory faulty = new address[](job.redundancy);
        uint256 faults;

        state.status = JobStatus.Settled;
        state.resultSlot = uint8(winner);
        _commitments[job.id] = word;
        for (uint256 i; i < state.filled; ++i) {
            Slot memory s = _slots[job.id][i];
            if (s.phase == SlotPhase.Revealed && _digests[job.id][i] == word) {
                _payNode(s.node, job);
            } else {
                _accounts[s.node].locked -= job.collateral;
                faulty[faults] = s.node;
                ++faults;
            }
        }
        _payModelAndProtocol(job);
        _credit(job.requester, FeesLib.nodeFees(job.feePerNode, job.redundancy - agreeing));
        bytes memory output = _loadOutput(job.id, winner, word);
        bytes32 outputHash = keccak256(output);

        emit JobSettled(job.id, outputHash, agreeing, output);

        _slashAll(job, faulty, faults);
        _deliver(job, true, outputHash, output);
    }

    /// @dev The revealed output held by the most slots (the first such slot) and how many slots hold it.
    /// Packed words are never zero, so zero marks a slot without a revealed output.
    function _majority(Job calldata job) internal view returns (uint256 winner, uint8 agreeing) {
        uint256 k = job.redundancy;
        bytes32[] memory revealed = new bytes32[](k);
        for (uint256 i; i < k; ++i) {
            if (_slots[job.id][i].phase == SlotPhase.Revealed) revealed[i] = _digests[job.id][i];
        }
        for (uint256 i; i < k; ++i) {
            if (revealed[i] == bytes32(0)) continue;
            uint8 count;
            for (uint256 j; j < k; ++j) {
                if (revealed[j] == revealed[i]) ++count;
            }
            if (count > agreeing) (winner, agreeing) = (i, count);
        }
    }

    /// @dev Refunds the requester in full and releases every slot; slots that never reached `delivered` are slashed.
    function _refund(Job calldata job, JobState storage state, RefundReason reason, SlotPhase delivered) internal {
        uint256 amount = FeesLib.total(job.modelFee, job.feePerNode, job.redundancy, job.protocolFee);
        address[] memory faulty = new address[](job.redundancy);
        uint256 faults;

        state.status = JobStatus.Refunded;
        for (uint256 i; i < state.filled; ++i) {
            Slot memory s = _slots[job.id][i];
            _accounts[s.node].locked -= job.collateral;
            if (uint8(s.phase) < uint8(delivered)) {
                faulty[faults] = s.node;
                ++faults;
            }
        }
        _credit(job.requester, amount);

        emit JobRefunded(job.id, job.requester, amount, reason);

        _slashAll(job, faulty, faults);
        _deliver(job, false, bytes32(0), "");
    }

    /// @dev Slashes the (already released) collateral of each faulty node. The slashed tokens arrive from the
    /// staking contract, a trusted protocol contract, so crediting them after the call is safe (and guarded anyway).
    function _slashAll(Job calldata job, address[] memory faulty, uint256 faults) internal {
        for (uint256 i; i < faults; ++i) {
            address node = faulty[i];
            uint256 slashed = staking.slash(node, job.collateral);
            (uint256 toRequester, uint256 toProtocol) = FeesLib.split(slashed, job.slashBeneficiaryBps);
            _credit(job.requester, toRequester);
            _credit(PROTOCOL, toProtocol);

            emit NodeSlashed(job.id, node, slashed, toRequester);
        }
    }

    /* INTERNAL: MONEY */

    /// @dev Pays a node its fee and releases its collateral in one write.
    function _payNode(address node, Job calldata job) internal {
        Account storage account = _accounts[node];
        account.claimable += job.feePerNode;
        account.locked -= job.collateral;
    }

    function _payModelAndProtocol(Job calldata job) internal {
        _credit(job.modelOwner, job.modelFee);
        _credit(PROTOCOL, job.protocolFee);
    }

    function _credit(address account, uint256 amount) internal {
        if (amount != 0) _accounts[account].claimable += uint128(amount);
    }

    /// @dev Pulls `amount` and checks it all arrived, so a fee-on-transfer token cannot open a hole in the books.
    function _pull(address from, uint256 amount) internal {
        uint256 before = _token.balanceOf(address(this));
        _token.safeTransferFrom(from, address(this), amount);
        uint256 received = _token.balanceOf(address(this)) - before;
        if (received != amount) revert JobEscrowTransferMismatch(amount, received);
    }

    /* INTERNAL: CALLBACK */

    /// @dev Delivers the outcome to the job's consumer, last, with exactly its gas limit and without copying
    /// return data (no return-data bomb). A failure is recorded and otherwise ignored.
    function _deliver(Job calldata job, bool settled, bytes32 outputHash, bytes memory output) internal {
        address consumer = job.callback;
        if (consumer == address(0)) return;
        uint256 gasLimit = job.callbackGasLimit;
        // EIP-150 forwards at most 63/64 of the gas left: make sure the whole limit reaches the consumer, so the
        // caller cannot make the callback fail by sending too little gas.
        uint256 available = gasleft();
        uint256 needed = gasLimit + gasLimit / 63 + CALLBACK_GAS_RESERVE;
        if (available < needed) revert JobEscrowInsufficientGasForCallback(job.id, available, needed);
        bytes memory data = abi.encodeCall(IInferenceConsumer.onInferenceResult, (job.id, settled, outputHash, output));
        bool success;
        if (consumer.code.length > 0) {
            // Assembly, because a Solidity call would copy all return data into memory (a return-data bomb).
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                success := call(gasLimit, consumer, 0, add(data, 0x20), mload(data), 0, 0)
            }
        }

        emit CallbackDelivered(job.id, consumer, success);
    }

    /* INTERNAL: GOVERNANCE */

    function _setTreasury(address treasury_) internal {
        if (treasury_ == address(0)) revert JobEscrowInvalidRecipient(treasury_);
        address previous = _treasury;

        _treasury = treasury_;

        emit TreasuryUpdated(previous, treasury_);
    }

    function _setParameters(Parameters memory p) internal {
        _checkBounds("protocolFeeBps", p.protocolFeeBps, 0, MAX_PROTOCOL_FEE_BPS);
        _checkBounds("slashBeneficiaryBps", p.slashBeneficiaryBps, 0, FeesLib.BPS);
        _checkBounds("minDuration", p.minDuration, MIN_DURATION_FLOOR, MIN_DURATION_CEILING);
        _checkBounds("maxDuration", p.maxDuration, p.minDuration, MAX_DURATION_CEILING);
        _checkBounds("revealPeriod", p.revealPeriod, MIN_REVEAL_PERIOD, MAX_REVEAL_PERIOD);
        _checkBounds("maxCallbackGas", p.maxCallbackGas, 0, MAX_CALLBACK_GAS_CEILING);

        _parameters = p;

        emit ParametersUpdated(p);
    }

    function _checkBounds(string memory name, uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert JobEscrowParameterOutOfBounds(name, value, min, max);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {IInferenceVerifier} from "../interfaces/IInferenceVerifier.sol";
import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {INodeStaking} from "../interfaces/INodeStaking.sol";
import {FeesLib} from "./FeesLib.sol";
import {OutputLib} from "./OutputLib.sol";
import {JobId, Mode} from "../types/Ids.sol";

/// @title SettlementLib
/// @notice The escrow's book of jobs and accounts, the resolution of jobs that do not settle by a single verified
/// submission (the majority tally of redundant jobs, refunds, slashes and callback delivery) and the bounds of the
/// escrow's governance parameters. A linked
/// library, so the escrow stays well under the contract size limit; it runs in the escrow's context (its storage,
/// its address as the caller of consumers and of the staking contract, its events).
/// @dev Entry points follow the escrow's order: state first, then events, then external calls (slashes, then the
/// callback last).
library SettlementLib {
    /// @dev The account protocol fees and slash remainders accrue to: no one can call from the zero address.
    address internal constant PROTOCOL = address(0);
    /// @dev Gas kept back around a callback: the cost of reaching the CALL and of finishing after it.
    uint256 internal constant CALLBACK_GAS_RESERVE = 10_000;

    // The bounds of the escrow's governance parameters (`JobEscrow` exposes each as a public constant).
    /// Highest protocol fee: 10% of the model price plus node fees.
    uint16 internal constant MAX_PROTOCOL_FEE_BPS = 1_000;
    /// Bounds of `minDuration`.
    uint32 internal constant MIN_DURATION_FLOOR = 10 seconds;
    /// Upper bound of `minDuration`.
    uint32 internal constant MIN_DURATION_CEILING = 1 days;
    /// Upper bound of `maxDuration`.
    uint32 internal constant MAX_DURATION_CEILING = 90 days;
    /// Lower bound of `revealPeriod`.
    uint32 internal constant MIN_REVEAL_PERIOD = 10 seconds;
    /// Upper bound of `revealPeriod`.
    uint32 internal constant MAX_REVEAL_PERIOD = 7 days;
    /// Upper bound of `maxCallbackGas`.
    uint32 internal constant MAX_CALLBACK_GAS_CEILING = 5_000_000;
    /// Upper bound of `minCollateral` and of `usageFeeFloor` (a billion tokens of 18 decimals).
    uint96 internal constant MAX_AMOUNT_PARAMETER = 1e27;
    /// Upper bound of `maxCollateralRatio`.
    uint16 internal constant MAX_COLLATERAL_RATIO = 1_000;

    /// @dev What the escrow owes an account, and how much of an operator's stake it holds locked. One slot,
    /// so settling a node's slot (pay the fee, release the collateral) is a single write.
    struct Account {
        uint128 claimable;
        uint128 locked;
    }

    /// @dev A mode's verifier, and whether it wants `checkRequest` calls (one slot: no extra read per request).
    struct VerifierEntry {
        address verifier;
        bool checksRequests;
    }

    /// @dev Everything the escrow records per job and per account.
    struct Book {
        /// The hash of a job's terms while it is open; its packed output (`OutputLib`) once settled.
        mapping(JobId => bytes32) commitments;
        /// A stored status of `None` on an existing job means open.
        mapping(JobId => IJobEscrow.JobState) states;
        mapping(JobId => mapping(uint256 => IJobEscrow.Slot)) slots;
        /// Per slot of a redundant job: the node's commitment, then its packed output once revealed.
        mapping(JobId => mapping(uint256 => bytes32)) digests;
        /// Outputs too long to pack inline, by job and slot.
        mapping(JobId => mapping(uint256 => bytes)) outputs;
        mapping(address => Account) accounts;
    }

    /* GOVERNANCE */

    /// @notice Reverts with `JobEscrowParameterOutOfBounds` naming the first parameter outside its bounds.
    function checkParameters(IJobEscrow.Parameters calldata p) external pure {
        _checkBounds("protocolFeeBps", p.protocolFeeBps, 0, MAX_PROTOCOL_FEE_BPS);
        _checkBounds("slashBeneficiaryBps", p.slashBeneficiaryBps, 0, FeesLib.BPS);
        _checkBounds("minDuration", p.minDuration, MIN_DURATION_FLOOR, MIN_DURATION_CEILING);
        _checkBounds("maxDuration", p.maxDuration, p.minDuration, MAX_DURATION_CEILING);
        _checkBounds("revealPeriod", p.revealPeriod, MIN_REVEAL_PERIOD, MAX_REVEAL_PERIOD);
        _checkBounds("maxCallbackGas", p.maxCallbackGas, 0, MAX_CALLBACK_GAS_CEILING);
        _checkBounds("minCollateral", p.minCollateral, 0, MAX_AMOUNT_PARAMETER);
        _checkBounds("maxCollateralRatio", p.maxCollateralRatio, 1, MAX_COLLATERAL_RATIO);
        _checkBounds("usageFeeFloor", p.usageFeeFloor, 0, MAX_AMOUNT_PARAMETER);
    }

    /// @notice Sets the verifier of `mode` (zero disables it), checked to be a contract implementing `mode`.
    function setVerifier(mapping(Mode => VerifierEntry) storage verifiers, Mode mode, address verifier) external {
        if (verifier != address(0) && (verifier.code.length == 0 || IInferenceVerifier(verifier).mode() != mode)) {
            revert IJobEscrow.JobEscrowInvalidVerifier(mode, verifier);
        }

        verifiers[mode] = VerifierEntry({
            verifier: verifier, checksRequests: verifier != address(0) && IInferenceVerifier(verifier).checksRequests()
        });

        emit IJobEscrow.VerifierSet(mode, verifier);
    }

    /* RESOLUTION */

    /// @notice Settles a redundant job by the output more than half of its `redundancy` slots revealed, or refunds
    /// it if there is none. Agreeing nodes are paid; dissenting revealers are released unpaid and unslashed; slots
    /// that never revealed are faulty. Unpaid node fees and the protocol fee on them go back to the requester.
    function resolveByMajority(Book storage book, IJobEscrow.Job calldata job, INodeStaking staking) external {
        (uint256 winner, uint8 agreeing) = _majority(book, job);
        if (uint256(agreeing) * 2 <= job.redundancy) {
            refund(book, job, IJobEscrow.RefundReason.NoMajority, IJobEscrow.SlotPhase.Revealed, staking);
            return;
        }
        IJobEscrow.JobState storage state = book.states[job.id];
        bytes32 word = book.digests[job.id][winner];
        uint256[] memory faulty = new uint256[](job.redundancy);
        uint256 faults;

        state.status = IJobEscrow.JobStatus.Settled;
        state.resultSlot = uint8(winner);
        book.commitments[job.id] = word;
        for (uint256 i; i < state.filled; ++i) {
            IJobEscrow.Slot memory s = book.slots[job.id][i];
            if (s.phase == IJobEscrow.SlotPhase.Revealed && book.digests[job.id][i] == word) {
                payNode(book, s.node, job);
                continue;
            }
            book.accounts[s.node].locked -= job.collateral;
            if (s.phase != IJobEscrow.SlotPhase.Revealed) {
                faulty[faults] = i;
                ++faults;
            }
        }
        _creditFees(book, job, agreeing);
        bytes memory output = loadOutput(book, job.id, winner, word);
        bytes32 outputHash = keccak256(output);

        emit IJobEscrow.JobSettled(job.id, outputHash, agreeing, output);

        _slashAll(book, job, faulty, faults, staking);
        deliver(job, true, outputHash, output);
    }

    /// @notice Refunds the requester in full and releases every slot; slots that never reached `delivered` are
    /// slashed unless the job's verifier excuses them.
    function refund(
        Book storage book,
        IJobEscrow.Job calldata job,
        IJobEscrow.RefundReason reason,
        IJobEscrow.SlotPhase delivered,
        INodeStaking staking
    ) public {
        IJobEscrow.JobState storage state = book.states[job.id];
        uint256 amount = FeesLib.total(job.modelFee, job.feePerNode, job.redundancy, job.protocolFee);
        uint256[] memory faulty = new uint256[](job.redundancy);
        uint256 faults;

        state.status = IJobEscrow.JobStatus.Refunded;
        for (uint256 i; i < state.filled; ++i) {
            IJobEscrow.Slot memory s = book.slots[job.id][i];
            book.accounts[s.node].locked -= job.collateral;
            if (uint8(s.phase) < uint8(delivered)) {
                faulty[faults] = i;
                ++faults;
            }
        }
        credit(book, job.requester, amount);

        emit IJobEscrow.JobRefunded(job.id, job.requester, amount, reason);

        _slashAll(book, job, faulty, faults, staking);
        deliver(job, false, bytes32(0), "");
    }

    /* CALLBACKS */

    /// @notice Delivers the outcome to the job's consumer, last, with exactly its gas limit and without copying
    /// return data (no return-data bomb). A failure is recorded and otherwise ignored.
    function deliver(IJobEscrow.Job calldata job, bool settled, bytes32 outputHash, bytes memory output) internal {
        address consumer = job.callback;
        if (consumer == address(0)) return;
        uint256 gasLimit = job.callbackGasLimit;
        // EIP-150 forwards at most 63/64 of the gas left: make sure the whole limit reaches the consumer, so the
        // caller cannot make the callback fail by sending too little gas.
        uint256 available = gasleft();
        uint256 needed = callbackGas(job);
        if (available < needed) revert IJobEscrow.JobEscrowInsufficientGasForCallback(job.id, available, needed);
        bytes memory data = abi.encodeCall(IInferenceConsumer.onInferenceResult, (job.id, settled, outputHash, output));
        bool success;
        if (consumer.code.length > 0) {
            // Assembly, because a Solidity call would copy all return data into memory (a return-data bomb).
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                success := call(gasLimit, consumer, 0, add(data, 0x20), mload(data), 0, 0)
            }
        }

        emit IJobEscrow.CallbackDelivered(job.id, consumer, success);
    }

    /// @notice Reverts unless the gas left covers every callback of a batch: they run one after another, each using
    /// at most what `callbackGas` reserves, so with all of it available before the first, none can starve a later
    /// one, however the first behaves.
    function checkBatchCallbackGas(IJobEscrow.Job[] calldata jobs) internal view {
        uint256 needed;
        for (uint256 i; i < jobs.length; ++i) {
            needed += callbackGas(jobs[i]);
        }
        uint256 available = gasleft();
        if (available < needed) revert IJobEscrow.JobEscrowInsufficientGasForCallback(jobs[0].id, available, needed);
    }

    /// @notice Gas a job's callback needs when it starts: its limit, what EIP-150 withholds, and the reserve.
    function callbackGas(IJobEscrow.Job calldata job) internal pure returns (uint256) {
        if (job.callback == address(0)) return 0;
        uint256 gasLimit = job.callbackGasLimit;
        return gasLimit + gasLimit / 63 + CALLBACK_GAS_RESERVE;
    }

    /* MONEY */

    /// @notice Pays a node its fee and releases its collateral in one write.
    function payNode(Book storage book, address node, IJobEscrow.Job calldata job) internal {
        Account storage account = book.accounts[node];
        account.claimable += job.feePerNode;
        account.locked -= job.collateral;
    }

    function credit(Book storage book, address account, uint256 amount) internal {
        if (amount != 0) book.accounts[account].claimable += uint128(amount);
    }

    /* OUTPUTS */

    /// @notice The accepted output of a settled job and its hash (empty if the job has not settled).
    function resultOf(Book storage book, JobId jobId) external view returns (bytes32 outputHash, bytes memory output) {
        IJobEscrow.JobState memory state = book.states[jobId];
        if (state.status != IJobEscrow.JobStatus.Settled) return (bytes32(0), "");
        output = loadOutput(book, jobId, state.resultSlot, book.commitments[jobId]);
        outputHash = keccak256(output);
    }

    /// @notice The packed word of `output`; an output too long to pack is stored in full under its slot.
    function packOutput(Book storage book, JobId jobId, uint256 slot, bytes calldata output)
        internal
        returns (bytes32 word)
    {
        word = OutputLib.pack(output);
        if (!OutputLib.isInline(word)) book.outputs[jobId][slot] = output;
    }

    function loadOutput(Book storage book, JobId jobId, uint256 slot, bytes32 word)
        internal
        view
        returns (bytes memory)
    {
        return OutputLib.isInline(word) ? OutputLib.unpack(word) : book.outputs[jobId][slot];
    }

    /* PRIVATE */

    function _checkBounds(string memory name, uint256 value, uint256 min, uint256 max) private pure {
        if (value < min || value > max) revert IJobEscrow.JobEscrowParameterOutOfBounds(name, value, min, max);
    }

    /// @dev Credits the model owner, the protocol's share for `agreeing` paid nodes, and the requester's refund of
    /// the unpaid node fees with the protocol fee on them.
    function _creditFees(Book storage book, IJobEscrow.Job calldata job, uint8 agreeing) private {
        uint256 protocolPaid =
            FeesLib.protocolShare(job.protocolFee, job.modelFee, job.feePerNode, agreeing, job.redundancy);
        uint256 unpaid = FeesLib.nodeFees(job.feePerNode, job.redundancy - agreeing);
        credit(book, job.modelOwner, job.modelFee);
        credit(book, PROTOCOL, protocolPaid);
        credit(book, job.requester, unpaid + job.protocolFee - protocolPaid);
    }

    /// @dev The revealed output held by the most slots (the first such slot) and how many slots hold it.
    /// Packed words are never zero, so zero marks a slot without a revealed output.
    function _majority(Book storage book, IJobEscrow.Job calldata job)
        private
        view
        returns (uint256 winner, uint8 agreeing)
    {
        uint256 k = job.redundancy;
        bytes32[] memory revealed = new bytes32[](k);
        for (uint256 i; i < k; ++i) {
            if (book.slots[job.id][i].phase == IJobEscrow.SlotPhase.Revealed) revealed[i] = book.digests[job.id][i];
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

    /// @dev Slashes the (already released) collateral of the node of each faulty slot, unless the job's verifier
    /// excuses it. The verifier and the staking contract are trusted protocol contracts, so crediting the slashed
    /// tokens after the call is safe (and the escrow's entry points are guarded anyway).
    function _slashAll(
        Book storage book,
        IJobEscrow.Job calldata job,
        uint256[] memory faulty,
        uint256 faults,
        INodeStaking staking
    ) private {
        for (uint256 i; i < faults; ++i) {
            IJobEscrow.Slot memory s = book.slots[job.id][faulty[i]];
            // The deadline the node missed: to commit or submit, or, once committed, to reveal.
            uint64 missed = s.phase == IJobEscrow.SlotPhase.Committed ? job.revealDeadline : job.deadline;
            if (IInferenceVerifier(job.verifier).excuses(s.node, job.modelId, job.version, s.claimedAt, missed)) {
                emit IJobEscrow.NodeExcused(job.id, s.node);
                continue;
            }
            uint256 slashed = staking.slash(s.node, job.collateral);
            (uint256 toRequester, uint256 toProtocol) = FeesLib.split(slashed, job.slashBeneficiaryBps);
            credit(book, job.requester, toRequester);
            credit(book, PROTOCOL, toProtocol);

            emit IJobEscrow.NodeSlashed(job.id, s.node, slashed, toRequester);
        }
    }
}

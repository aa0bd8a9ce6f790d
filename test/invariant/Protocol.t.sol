// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {HandlerSetup} from "./utils/HandlerSetup.sol";
import {ProtocolHandler} from "./handlers/ProtocolHandler.sol";
import {GovernanceHandler} from "./handlers/GovernanceHandler.sol";
import {EnclaveHandler} from "./handlers/EnclaveHandler.sol";

/// @title ProtocolInvariantTest
/// @notice Stateful invariants of the escrow and staking together, driven by requesters (people, consumer contracts
/// requesting their own jobs, a Sybil requester with its own colluding nodes), honest, lazy, lying, colluding and
/// copying nodes (vanilla k = 1, 3 and 5, TEE k = 1, ZK k = 1 with real proofs), model owners, keepers, TEE
/// operators registering enclave keys (and trying to take each other's), governance through the timelock (revoking
/// enclave keys too) and a guardian.
contract ProtocolInvariantTest is HandlerSetup {
    function setUp() public {
        _deployWithHandlers();

        // Repeated selectors weigh more: jobs must be requested, claimed and delivered within one run's depth.
        ProtocolHandler h;
        bytes4[34] memory weighted = [
            h.request.selector,
            h.request.selector,
            h.request.selector,
            h.requestFor.selector,
            h.requestFor.selector,
            h.stealAssigned.selector,
            h.claimSlot.selector,
            h.claimSlot.selector,
            h.claimSlot.selector,
            h.claimSlot.selector,
            h.submit.selector,
            h.submit.selector,
            h.submitBatch.selector,
            h.replaySignature.selector,
            h.commit.selector,
            h.commit.selector,
            h.commit.selector,
            h.reveal.selector,
            h.reveal.selector,
            h.reveal.selector,
            h.expire.selector,
            h.expire.selector,
            h.expire.selector,
            h.touchClosedJob.selector,
            h.unstake.selector,
            h.restake.selector,
            h.withdraw.selector,
            h.claim.selector,
            h.warp.selector,
            h.warp.selector,
            h.sybilRequest.selector,
            h.requestRefused.selector,
            h.disruptClaimant.selector,
            h.disruptClaimant.selector
        ];
        bytes4[] memory actions = new bytes4[](weighted.length);
        for (uint256 i; i < weighted.length; ++i) {
            actions[i] = weighted[i];
        }
        _target(address(handler), actions);
        bytes4[] memory more = new bytes4[](5);
        (more[0], more[1], more[2]) = (h.register.selector, h.setPrice.selector, h.stake.selector);
        (more[3], more[4]) = (h.claimProtocolFees.selector, h.claim.selector);
        _target(address(handler), more);

        bytes4[] memory enclaveActions = new bytes4[](2);
        (enclaveActions[0], enclaveActions[1]) = (EnclaveHandler.attest.selector, EnclaveHandler.revoke.selector);
        _target(address(enclaves), enclaveActions);

        bytes4[] memory gov = new bytes4[](6);
        gov[0] = GovernanceHandler.setEscrowParameters.selector;
        gov[1] = GovernanceHandler.setStakingParameters.selector;
        gov[2] = GovernanceHandler.setTreasury.selector;
        gov[3] = GovernanceHandler.setOutOfBounds.selector;
        gov[4] = GovernanceHandler.bypassTimelock.selector;
        gov[5] = GovernanceHandler.setPaused.selector;
        _target(address(governance), gov);
    }

    /// @notice The escrow holds, to the wei, what open jobs escrowed plus every credit (the protocol's included).
    function invariant_escrowConservation() public view {
        uint256 open;
        ProtocolHandler.Summary[] memory jobs = handler.summaries();
        for (uint256 i; i < jobs.length; ++i) {
            if (escrow.stateOf(jobs[i].id).status == IJobEscrow.JobStatus.Open) open += jobs[i].total;
        }
        uint256 credits = escrow.protocolFees();
        address[] memory all = handler.everyone();
        for (uint256 i; i < all.length; ++i) {
            credits += escrow.claimable(all[i]);
        }
        _assertEq(token.balanceOf(address(escrow)), open + credits, "escrow balance != open jobs + credits");
    }

    /// @notice The staking contract holds exactly `totalStaked`, which is the sum of active and thawing stake.
    function invariant_stakingConservation() public view {
        uint256 sum;
        address[] memory nodes = handler.nodeList();
        for (uint256 i; i < nodes.length; ++i) {
            INodeStaking.Operator memory op = staking.operatorOf(nodes[i]);
            sum += uint256(op.staked) + op.thawing;
        }
        _assertEq(staking.totalStaked(), sum, "totalStaked != sum of staked + thawing");
        _assertEq(token.balanceOf(address(staking)), sum, "staking balance != sum of staked + thawing");
    }

    /// @notice Locked stake is backed by active stake, and is exactly the collateral of the open jobs' slots.
    function invariant_lockedStakeBackedAndExact() public view {
        address[] memory nodes = handler.nodeList();
        uint256[] memory expected = new uint256[](nodes.length);
        ProtocolHandler.Summary[] memory jobs = handler.summaries();
        for (uint256 i; i < jobs.length; ++i) {
            IJobEscrow.JobState memory state = escrow.stateOf(jobs[i].id);
            if (state.status != IJobEscrow.JobStatus.Open) continue;
            for (uint8 s; s < state.filled; ++s) {
                (IJobEscrow.Slot memory slot,) = escrow.slotOf(jobs[i].id, s);
                for (uint256 k; k < nodes.length; ++k) {
                    if (nodes[k] == slot.node) expected[k] += jobs[i].collateral;
                }
            }
        }
        for (uint256 k; k < nodes.length; ++k) {
            address node = nodes[k];
            uint256 locked = escrow.lockedStake(node);
            _assertEq(locked, expected[k], "locked != collateral of open slots");
            _assertLe(locked, staking.operatorOf(node).staked, "locked > staked");
            _assertEq(staking.lockedStake(node), locked, "staking and escrow disagree on locked stake");
        }
        _assertEq(handler.lockedStakeWithdrawn(), 0, "locked or thawing stake was moved");
    }

    /// @notice Thawing stake never exceeds what was unstaked and not yet restaked, withdrawn or slashed.
    function invariant_thawingWithinUnstaked() public view {
        (address[] memory nodes, uint256[] memory unstaked, uint256[] memory out) = handler.thawLedger();
        for (uint256 k; k < nodes.length; ++k) {
            _assertEq(
                staking.operatorOf(nodes[k]).thawing,
                unstaked[k] - out[k],
                "thawing != unstaked - restaked - withdrawn - slashed"
            );
        }
    }

    /// @notice Every job is resolved at most once, and exactly once when closed; a closed job never reopens; a job
    /// with a callback notifies its requester exactly once.
    function invariant_resolvedExactlyOnce() public view {
        ProtocolHandler.Summary[] memory jobs = handler.summaries();
        for (uint256 i; i < jobs.length; ++i) {
            bool open = escrow.stateOf(jobs[i].id).status == IJobEscrow.JobStatus.Open;
            _assertEq(jobs[i].resolutions, open ? 0 : 1, "resolutions of a job");
        }
        _assertEq(handler.closedJobReopened(), 0, "a closed job accepted a call");
        _assertEq(handler.callbackMismatch(), 0, "a callback went to the wrong place, twice, or not at all");
    }

    /// @notice A job pays out (fees, refunds) exactly what it escrowed once closed, and never more; every account
    /// is credited exactly what the model says.
    function invariant_payoutWithinEscrow() public view {
        ProtocolHandler.Summary[] memory jobs = handler.summaries();
        for (uint256 i; i < jobs.length; ++i) {
            bool open = escrow.stateOf(jobs[i].id).status == IJobEscrow.JobStatus.Open;
            _assertLe(jobs[i].paidOut, jobs[i].total, "paid out more than escrowed");
            if (!open) _assertEq(jobs[i].paidOut, jobs[i].total, "closed job paid out != escrowed");
        }
        _assertEq(handler.paymentMismatch(), 0, "a transfer, claim or credit moved the wrong amount");
    }

    /// @notice A TEE signature is accepted once at most; a copied commitment can never be revealed; a ZK proof
    /// carries over to no other commitment.
    function invariant_noReplay() public view {
        _assertEq(handler.replayAccepted(), 0, "a signature or proof was accepted twice, for the wrong node or job");
        _assertEq(handler.copiedCommitmentRevealed(), 0, "a copied commitment was revealed");
    }

    /// @notice No slash exceeds the collateral, the cap or the slashable stake, and thawing stake pays its share.
    function invariant_slashWithinBounds() public view {
        _assertEq(handler.slashBeyondCap(), 0, "a slash broke its bounds");
    }

    /// @notice A job assigned by `requestFor` is served by its assignee alone: no one claims it, no other node (nor
    /// an assignee that cannot back it) submits it, and assigning it locks none of the assignee's stake. (That an
    /// assignee is never slashed is `invariant_deliveringNodeNeverSlashed`'s model: it holds no slot.)
    function invariant_assignedJobsServedOnlyByAssignee() public view {
        _assertEq(handler.assignedJobTaken(), 0, "an assigned job was claimed or submitted by another node");
        _assertEq(handler.assignmentLocked(), 0, "an assignment locked the assignee's stake");
    }

    /// @notice Pausing stops requests only; the timelock cannot be skipped and bounds hold even through it; only
    /// governance revokes enclaves, a revoked key never comes back and a key never moves to another operator.
    function invariant_accessAndPause() public view {
        _assertEq(handler.pausedRequestAccepted(), 0, "a request went through while paused");
        _assertEq(governance.bypassAccepted(), 0, "a governed call skipped the timelock");
        _assertEq(governance.outOfBoundsAccepted(), 0, "an out-of-bounds parameter was accepted");
        _assertEq(enclaves.forbiddenAccepted(), 0, "an enclave call that must fail went through");
        _assertLe(escrow.parameters().protocolFeeBps, escrow.MAX_PROTOCOL_FEE_BPS(), "protocol fee above cap");
    }

    /// @notice Every expected revert came with exactly the expected error and arguments.
    function invariant_exactErrors() public view {
        _assertEq(handler.wrongError(), 0, "handler saw an unexpected error");
        _assertEq(governance.wrongError(), 0, "governance saw an unexpected error");
        _assertEq(enclaves.wrongError(), 0, "enclave handler saw an unexpected error");
    }

    /// @notice A node that delivered (k = 1: submitted; k > 1: revealed, even against the majority) is never
    /// slashed on that job; each resolution pays, releases, slashes and excuses exactly the slots the rules name.
    function invariant_deliveringNodeNeverSlashed() public view {
        _assertEq(handler.deliveredSlashed(), 0, "a node that delivered was slashed");
        _assertEq(handler.fateMismatch(), 0, string.concat("escrow and model disagree: ", handler.lastMismatch()));
    }

    /// @notice A requester is never credited from a slash of a node that delivered: per job, its credits are at
    /// most its escrowed total plus its share of the slashes of nodes that did not deliver (checked as each job
    /// resolves, when its credits are final).
    function invariant_requesterCreditedOnlyFromFaults() public view {
        _assertEq(handler.requesterPaidFromDelivered(), 0, "a requester was paid from a delivering node's slash");
        _assertEq(handler.requesterOverCredited(), 0, "requester credited beyond escrow and faults");
    }

    /// @notice A node whose enclave governance revoked between its claim and the deadline it missed is excused,
    /// never slashed.
    function invariant_excusedNodeNeverSlashed() public view {
        _assertEq(handler.excusedSlashed(), 0, "an excused node was slashed");
    }

    /// @notice Each settled job accrued to the protocol exactly protocolShare(agreeing) of its protocol fee (all of
    /// it when every node is paid), each refunded job none, slash remainders aside (checked as each job resolves).
    function invariant_protocolFeeIsShareOfAgreeing() public view {
        _assertEq(handler.protocolFeeMismatch(), 0, "protocol fee accrued != protocolShare(agreeing)");
    }

    /// @notice No job with an even redundancy, or above 7, or collateral outside [minCollateral, feePerNode *
    /// maxCollateralRatio] at its request, ever exists: every such request was refused (checked as each job is
    /// created; its terms never change).
    function invariant_onlyOddRedundancyAndBoundedCollateral() public view {
        _assertEq(escrow.jobCount(), handler.jobCount(), "a job exists that the handlers did not see");
        _assertEq(handler.invalidRequestAccepted(), 0, "a request breaking a rule was accepted");
        _assertEq(handler.jobsBreakingRules(), 0, "a job with even redundancy or collateral out of bounds exists");
    }

    /// @notice After each run, with `-vv`: what the run reached (forge prints calls to its console address).
    function afterInvariant() public view {
        _log("jobs", handler.jobCount());
        _log("settled k=1", handler.settled());
        _log("settled ZK", handler.zkSettled());
        _log("settled by majority", handler.settledByMajority());
        _log("dissenters released", handler.dissentersReleased());
        _log("refunded", handler.refunded());
        _log("slashes", handler.slashes());
        _log("excused", handler.excusedNodes());
        _log("enclave registrations", enclaves.registrations());
        _log("enclave disruptions", enclaves.disruptions());
        _log("enclave takeovers refused", enclaves.takeoversRefused());
        _log("assigned jobs", handler.assignedJobs());
        _log("sybil jobs", handler.sybilJobs());
        _log("requests refused", handler.requestsRefused());
        _log("exits while paused", handler.exitsWhilePaused());
        _log("governance executed", governance.executed());
    }
}

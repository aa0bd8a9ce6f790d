// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";
import {ExampleConsumer} from "../../contracts/consumer/ExampleConsumer.sol";
import {HandlerSetup} from "./utils/HandlerSetup.sol";
import {ProtocolHandler} from "./handlers/ProtocolHandler.sol";
import {GovernanceHandler} from "./handlers/GovernanceHandler.sol";

/// @title HandlerReachTest
/// @notice Drives the handlers through fixed sequences and checks that they reach settlement, majority, dissent,
/// refunds, slashes, excuses, ZK proofs, refused requests and callbacks: an invariant suite whose handlers silently
/// return early proves nothing.
contract HandlerReachTest is HandlerSetup {
    function setUp() public {
        _deployWithHandlers();
    }

    /// @notice kind 0 (vanilla k = 1) by an honest node settles; node 2 (lazy) is slashed at expiry.
    function test_vanillaK1SettlesAndLazyNodeIsSlashed() public {
        handler.request(0, 0, 1e18, 1e18, 3600, 4); // job 1, no callback
        handler.claimSlot(0, 1, 0); // node 1: honest
        handler.submit(0, 0);
        _assertEq(handler.settled(), 1, "settled");
        handler.request(0, 0, 1e18, 1e18, 3600, 4); // job 2
        handler.claimSlot(0, 2, 0); // node 2: lazy
        handler.submit(0, 0);
        handler.warp(3 hours);
        handler.expire(0, 0, false);
        _assertEq(handler.refunded(), 1, "refunded");
        _assertEq(handler.slashes(), 1, "slashes");
        handler.touchClosedJob(0, 0);
        handler.touchClosedJob(1, 1);
        _assertEq(handler.closedJobReopened() + handler.wrongError(), 0, "closed jobs");
    }

    /// @notice Assigned jobs (`requestFor`): other nodes can neither claim nor submit them, the honest assignee
    /// settles vanilla and TEE without a claim, and a lazy assignee's job is refunded at expiry with no one slashed.
    function test_assignedJobsSettleWithoutClaimAndLazyAssigneeIsNotSlashed() public {
        handler.requestFor(0, 0, 1e18, 1e18, 3600, 1); // job 1: vanilla, node 1 (honest)
        handler.stealAssigned(0, 1, true); // node 2 tries to claim it
        handler.stealAssigned(0, 3, false); // node 3 submits the right answer
        handler.submit(0, 0);
        handler.requestFor(0, 2, 1e18, 1e18, 3600, 0); // job 2: TEE, node 0 (enclave key 0)
        handler.submit(0, 0);
        _assertEq(handler.settled(), 2, "settled");
        handler.requestFor(0, 0, 1e18, 1e18, 3600, 2); // job 3: vanilla, node 2 (lazy)
        handler.submit(0, 0);
        handler.warp(3 hours);
        handler.expire(0, 0, false);
        _assertEq(handler.refunded(), 1, "refunded");
        _assertEq(handler.slashes(), 0, "slashes");
        _assertEq(handler.assignedJobs(), 3, "assigned jobs");
        uint256 wrong = handler.assignedJobTaken() + handler.assignmentLocked() + handler.wrongError();
        _assertEq(wrong + handler.paymentMismatch() + handler.fateMismatch(), 0, "assigned jobs broke a rule");
    }

    /// @notice Three vanilla k = 1 jobs of one node settle with one submitBatch; listing a job twice reverts all.
    function test_vanillaBatchSettles() public {
        for (uint256 i; i < 3; ++i) {
            handler.request(0, 0, 1e18, 1e18, 3600, 4);
            handler.claimSlot(0, 1, 0); // node 1: honest
        }
        handler.submitBatch(0, 2, true);
        _assertEq(handler.settled() + handler.closedJobReopened() + handler.wrongError(), 0, "duplicate batch");
        handler.submitBatch(0, 2, false);
        _assertEq(handler.batchesSettled(), 1, "batches");
        _assertEq(handler.settled(), 3, "settled");
        _assertEq(handler.paymentMismatch(), 0, "payments");
    }

    /// @notice kind 2 (TEE k = 1): a TEE operator settles; a replayed signature fails with the exact error.
    function test_teeSettlesAndReplayFails() public {
        handler.request(0, 2, 1e18, 1e18, 3600, 4);
        handler.claimSlot(0, 0, 0); // even seed: TEE operator node 0, holding enclave key 0
        handler.submit(0, 0);
        _assertEq(handler.settled(), 1, "settled");
        handler.request(0, 2, 1e18, 1e18, 3600, 4);
        handler.claimSlot(0, 0, 0);
        handler.replaySignature(0, 0);
        _assertEq(handler.replayAccepted() + handler.wrongError(), 0, "replay");
        handler.submit(0, 0);
        _assertEq(handler.settled(), 2, "settled twice");
    }

    /// @notice kind 1 (vanilla k = 3): honest, honest, copier. The copier's reveal fails with
    /// JobEscrowCommitmentMismatch, the honest majority settles at the reveal deadline and the copier is slashed.
    function test_k3MajoritySettlesAndCopierIsSlashed() public {
        handler.request(0, 1, 1e18, 1e18, 3600, 4);
        handler.claimSlot(0, 0, 1); // nodes 0 and 1: honest
        handler.claimSlot(0, 6, 0); // node 6: copier
        for (uint256 i; i < 3; ++i) {
            handler.commit(0, i, i, false);
        }
        _assertEq(escrow.stateOf(handler.jobAt(0).id).committed, 3, "committed");
        handler.reveal(0, 0, true);
        _assertEq(handler.copiedCommitmentRevealed() + handler.wrongError(), 0, "copier");
        handler.warp(3 hours);
        handler.expire(0, 0, false);
        _assertEq(handler.settledByMajority(), 1, "settled by majority");
        _assertEq(handler.slashes(), 1, "copier slashed");
    }

    /// @notice While paused, requests fail with JobEscrowRequestsPaused and every exit still works.
    function test_pausedSystemLetsEveryoneOut() public {
        handler.request(0, 0, 1e18, 1e18, 3600, 4);
        handler.claimSlot(0, 2, 0); // lazy
        handler.unstake(3, 10e18, false);
        governance.setPaused(0);
        _assertTrue(escrow.paused(), "paused");
        handler.request(1, 0, 1e18, 1e18, 3600, 4);
        _assertEq(handler.jobCount(), 1, "no job while paused");
        handler.warp(3 hours);
        handler.expire(0, 0, false);
        // Past the 7-day thaw.
        for (uint256 i; i < 60; ++i) {
            handler.warp(3 hours);
        }
        handler.withdraw(3);
        handler.claim(0); // requester 0: refund and slash share
        _assertEq(handler.exitsWhilePaused(), 3, "exits while paused");
        _assertEq(handler.pausedRequestAccepted() + handler.wrongError(), 0, "paused request");
    }

    /// @notice Governance goes through the timelock; skipping it or breaking a bound (each of protocolFeeBps,
    /// maxCollateralRatio, minCollateral, usageFeeFloor) fails with the exact error.
    function test_governanceThroughTimelockOnly() public {
        governance.setEscrowParameters(100, 5000, 60, 600, 0);
        governance.setStakingParameters(100e18, 1 days, 5000);
        for (uint256 which; which < 4; ++which) {
            governance.setOutOfBounds(which, 1001);
        }
        governance.setOutOfBounds(1, 1002); // a collateral ratio of zero
        governance.bypassTimelock(0, 0);
        governance.bypassTimelock(1, 1);
        governance.bypassTimelock(2, 2);
        _assertEq(governance.executed(), 2, "executed");
        _assertEq(escrow.parameters().protocolFeeBps, 100, "fee set");
        _assertEq(governance.bypassAccepted() + governance.outOfBoundsAccepted() + governance.wrongError(), 0, "access");
    }

    /// @notice kind 1 (vanilla k = 3): honest, honest, liar. The liar's reveal loses the vote: it is released unpaid
    /// and not slashed; the requester gets its fee back with the protocol fee on it.
    function test_k3DissenterIsReleasedUnpaidAndUnslashed() public {
        handler.request(0, 1, 1e18, 1e18, 3600, 4);
        handler.claimSlot(0, 0, 1); // nodes 0 and 1: honest
        handler.claimSlot(0, 3, 0); // node 3: liar
        handler.commit(0, 0, 0, true);
        handler.reveal(0, 0, true);
        _assertEq(handler.settledByMajority(), 1, "settled by majority");
        _assertEq(handler.dissentersReleased(), 1, "liar released");
        _assertEq(
            handler.slashes() + escrow.claimable(handler.nodes(3)) + escrow.lockedStake(handler.nodes(3)),
            0,
            "liar unpaid, unslashed"
        );
        uint64 id = 1;
        _assertEq(handler.protocolAccrued(id), handler.protocolDue(id), "protocol share");
        _assertTrue(handler.protocolDue(id) < handler.jobAt(0).protocolFee, "protocol fee on the unpaid fee refunded");
        _assertEq(handler.fateMismatch() + handler.paymentMismatch() + handler.wrongError(), 0, "model");
    }

    /// @notice The Sybil requester's two colluding nodes outvote an honest node with a wrong answer: the honest
    /// node is released, never slashed, and the requester gets nothing from its collateral.
    function test_sybilMajorityCannotSlashHonestNode() public {
        handler.sybilRequest(0, 1e18, 3600, 0); // colluders 4 and 5, honest node 0
        handler.commit(0, 0, 0, true);
        handler.reveal(0, 0, true);
        _assertEq(handler.sybilJobs(), 1, "sybil job");
        _assertEq(handler.settledByMajority(), 1, "colluders' answer settled");
        _assertEq(handler.dissentersReleased(), 1, "honest node released");
        _assertEq(handler.slashes() + handler.deliveredSlashed() + handler.requesterPaidFromDelivered(), 0, "no slash");
        _assertLe(handler.requesterCredited(1), handler.requesterCap(1), "requester credits");
        _assertEq(handler.fateMismatch() + handler.paymentMismatch() + handler.wrongError(), 0, "model");
    }

    /// @notice kind 2 (TEE k = 1): governance revokes the operator's key after its claim; the node cannot deliver
    /// (its signature is refused with TeeVerifierEnclaveRevoked) and is excused at expiry, not slashed.
    function test_teeNodeRevokedAfterClaimIsExcused() public {
        handler.request(0, 2, 1e18, 1e18, 3600, 4);
        handler.claimSlot(0, 0, 0); // even seed: TEE operator node 0
        handler.disruptClaimant(0); // revoke its key
        _assertEq(enclaves.disruptions(), 1, "disrupted");
        handler.submit(0, 0);
        _assertEq(handler.settled() + handler.wrongError(), 0, "refused with the exact error");
        handler.warp(3 hours);
        handler.expire(0, 0, false);
        _assertEq(handler.refunded(), 1, "refunded");
        _assertEq(handler.excusedNodes(), 1, "excused");
        _assertEq(handler.slashes() + handler.excusedSlashed() + handler.fateMismatch(), 0, "not slashed");
    }

    /// @notice kind 2 (TEE k = 1): a revocation excuses only the claims made before it: a node that claims after its
    /// key was revoked, with no live key, has no excuse and is slashed.
    function test_teeNodeRevokedIsExcusedOnlyForEarlierClaims() public {
        handler.request(0, 2, 1e18, 1e18, 3600, 4);
        handler.claimSlot(0, 0, 0); // node 0
        handler.disruptClaimant(0); // its only key is revoked
        handler.submit(0, 0);
        handler.warp(1);
        handler.request(0, 2, 1e18, 1e18, 3600, 4);
        handler.claimSlot(1, 0, 0); // node 0 again, now without a key
        handler.submit(1, 0);
        handler.warp(3 hours);
        handler.expire(0, 0, false);
        handler.expire(1, 0, false);
        _assertEq(handler.refunded(), 2, "refunded");
        _assertEq(handler.excusedNodes(), 1, "excused once");
        _assertEq(handler.slashes(), 1, "slashed for the later claim");
        _assertEq(handler.excusedSlashed() + handler.fateMismatch() + handler.wrongError(), 0, "model");
    }

    /// @notice Enclave keys: an operator renews its own key; it cannot take another operator's (refused with
    /// TeeVerifierOperatorMismatch, so no disruption); an outsider cannot revoke (AccessControlUnauthorizedAccount);
    /// governance revokes a registered key once (again: TeeVerifierEnclaveRevoked; an unknown key:
    /// TeeVerifierUnknownEnclave), and the revoked key cannot be registered again.
    function test_enclaveKeysNeverMoveAndOnlyGovernanceRevokes() public {
        enclaves.attest(0, 0); // node 0 renews key 0
        enclaves.attest(0, 1); // node 1 tries to take key 0
        _assertEq(enclaves.registrations(), 3, "renewed, not taken");
        _assertEq(enclaves.takeoversRefused(), 1, "takeover refused");
        (bool live, uint256 key) = enclaves.liveKeyOf(handler.nodes(0));
        _assertTrue(live && key == enclaves.keyAt(0), "key 0 still node 0's");
        enclaves.revoke(1, 0); // an outsider (caller seed 0 mod 4) on key 0 (key seed not 0 mod 4: a registered key)
        enclaves.revoke(5 << 2, 1); // governance on key 5 (key seed 0 mod 4: any key), never registered
        _assertEq(enclaves.disruptions(), 0, "outsider and unknown key refused");
        enclaves.revoke(1, 1); // governance on key 0
        enclaves.revoke(1, 1); // again
        _assertEq(enclaves.disruptions(), 1, "revoked once");
        enclaves.attest(0, 0); // the revoked key comes back to no one
        enclaves.attest(0, 1);
        _assertEq(enclaves.registrations(), 3, "revoked key not registered");
        _assertEq(enclaves.forbiddenAccepted() + enclaves.wrongError(), 0, "exact errors");
    }

    /// @notice kind 3 (ZK k = 1): a proof settles its own job (alone and in a batch of one model); replayed for
    /// another commitment it fails with ZkInferenceVerifierInvalidProof.
    function test_zkSettlesAndProofIsBoundToItsCommitment() public {
        handler.request(0, 3, 1e18, 1e18, 3600, 4);
        handler.claimSlot(0, 0, 0); // node 0: honest
        handler.submit(0, 0);
        _assertEq(handler.zkSettled(), 1, "settled");
        handler.request(0, 3, 1e18, 1e18, 3601, 4); // another input
        handler.claimSlot(0, 6, 0); // node 6: copier
        handler.submit(0, 0);
        _assertEq(handler.zkSettled() + handler.replayAccepted() + handler.wrongError(), 1, "replay refused");
        for (uint256 i; i < 2; ++i) {
            handler.request(0, 3, 1e18, 1e18, 3602 + i, 4);
            handler.claimSlot(2 + i, 1, 0); // node 1: honest
        }
        handler.submitBatch(2, 2, false);
        _assertEq(handler.batchesSettled(), 1, "batch");
        _assertEq(handler.zkSettled(), 3, "settled in a batch");
        _assertEq(handler.fateMismatch() + handler.paymentMismatch() + handler.protocolFeeMismatch(), 0, "model");
    }

    /// @notice Each rule of a request fails with its own error: even redundancy, redundancy above 7, collateral
    /// above the ratio or below the minimum, a callback other than the requester, a redundant ZK job, a ZK
    /// commitment of 2^200 or more. No job is created.
    function test_requestsBreakingARuleAreRefused() public {
        for (uint256 which; which < 7; ++which) {
            handler.requestRefused(which, 12_345 + which);
        }
        _assertEq(handler.requestsRefused(), 7, "refused");
        _assertEq(
            handler.invalidRequestAccepted() + handler.wrongError() + escrow.jobCount(), 0, "exact errors, no job"
        );
    }

    /// @notice A consumer contract requests its own job; the result is delivered to it once and stored.
    function test_consumerIsCalledBackForItsOwnJob() public {
        handler.request(0, 0, 1e18, 1e18, 3600, 200_000 << 8); // consumer 0 (ExampleConsumer), 200,000 gas
        handler.claimSlot(0, 1, 0);
        handler.submit(0, 0);
        IJobEscrow.Job memory job = handler.jobAt(0);
        _assertTrue(job.requester == handler.consumers(0) && job.callback == job.requester, "consumer requested");
        _assertTrue(ExampleConsumer(job.callback).outcomeOf(job.id).delivered, "outcome stored");
        _assertEq(handler.settled(), 1, "settled");
        _assertEq(handler.callbackMismatch() + handler.wrongError(), 0, "one callback");
    }

    /// @notice kind 2 (TEE k = 1): a node that let its deadline pass is not excused by a revocation that comes
    /// after the deadline and before anyone expires the job: it had already failed, and is slashed.
    function test_teeDisruptionAfterTheDeadlineExcusesNothing() public {
        handler.request(0, 2, 1e18, 1e18, 3600, 4);
        handler.claimSlot(0, 0, 0); // node 0, with a live key, never submits
        handler.warp(3 hours);
        handler.disruptClaimant(0); // its key is revoked after the deadline
        _assertEq(enclaves.disruptions(), 1, "disrupted");
        handler.expire(0, 0, false);
        _assertEq(handler.excusedNodes(), 0, "not excused");
        _assertEq(handler.slashes(), 1, "slashed");
        _assertEq(handler.fateMismatch() + handler.wrongError(), 0, "model");
    }
}

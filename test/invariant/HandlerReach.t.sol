// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {HandlerSetup} from "./utils/HandlerSetup.sol";
import {ProtocolHandler} from "./handlers/ProtocolHandler.sol";
import {GovernanceHandler} from "./handlers/GovernanceHandler.sol";

/// @title HandlerReachTest
/// @notice Drives the handlers through fixed sequences and checks that they reach settlement, majority,
/// refunds and slashes: an invariant suite whose handlers silently return early proves nothing.
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

    /// @notice kind 2 (TEE k = 1): the enclave operator settles; a replayed signature fails with the exact error.
    function test_teeSettlesAndReplayFails() public {
        handler.request(0, 2, 1e18, 1e18, 3600, 4);
        handler.claimSlot(0, 0, 0); // even seed: the enclave operator
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
        for (uint256 i; i < 3; ++i) handler.commit(0, i, i, false);
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
        for (uint256 i; i < 60; ++i) handler.warp(3 hours); // past the 7-day thaw
        handler.withdraw(3);
        handler.claim(0); // requester 0: refund and slash share
        _assertEq(handler.exitsWhilePaused(), 3, "exits while paused");
        _assertEq(handler.pausedRequestAccepted() + handler.wrongError(), 0, "paused request");
    }

    /// @notice Governance goes through the timelock; skipping it or breaking a bound fails with the exact error.
    function test_governanceThroughTimelockOnly() public {
        governance.setEscrowParameters(100, 5000, 60, 600, 0);
        governance.setStakingParameters(100e18, 1 days, 5000);
        governance.setFeeAboveCap(1001);
        governance.bypassTimelock(0, 0);
        governance.bypassTimelock(1, 1);
        governance.bypassTimelock(2, 2);
        _assertEq(governance.executed(), 2, "executed");
        _assertEq(escrow.parameters().protocolFeeBps, 100, "fee set");
        _assertEq(governance.bypassAccepted() + governance.outOfBoundsAccepted() + governance.wrongError(), 0, "access");
    }

}

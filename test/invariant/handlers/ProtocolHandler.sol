// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {IInferenceVerifier} from "../../../contracts/interfaces/IInferenceVerifier.sol";
import {ITeeVerifier} from "../../../contracts/interfaces/ITeeVerifier.sol";
import {JobEscrow} from "../../../contracts/escrow/JobEscrow.sol";
import {NodeStaking} from "../../../contracts/staking/NodeStaking.sol";
import {ModelRegistry} from "../../../contracts/registry/ModelRegistry.sol";
import {TeeVerifier} from "../../../contracts/verifiers/TeeVerifier.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {ExampleConsumer} from "../../../contracts/consumer/ExampleConsumer.sol";
import {GasBurnerConsumer} from "../../../contracts/test/GasBurnerConsumer.sol";
import {RevertingConsumer} from "../../../contracts/test/RevertingConsumer.sol";
import {JobId, ModelId, Mode, ModesLib} from "../../../contracts/types/Ids.sol";
import {Vm} from "../utils/Vm.sol";
import {clamp} from "../utils/Test.sol";

/// @title ProtocolHandler
/// @notice Drives the escrow and staking as their users do: requesters, nodes of several behaviours, model owners
/// and keepers. Every input is bounded so that no call reverts unexpectedly; calls that must revert are made in
/// `try` and their exact error is checked. Ghost variables record what the invariants compare with the contracts.
contract ProtocolHandler {
    /// @notice How a node behaves. Honest nodes compute the agreed answer; lazy nodes claim and never deliver;
    /// liars deliver noise; colluders deliver one shared wrong answer; copiers reuse another node's commitment
    /// seen in the mempool.
    enum Behaviour {
        Honest,
        Lazy,
        Liar,
        Colluder,
        Copier
    }

    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant TOKEN = 1e18;
    uint256 internal constant BPS = 10_000;

    TestToken public immutable token;
    JobEscrow public immutable escrow;
    NodeStaking public immutable staking;
    ModelRegistry public immutable registry;
    TeeVerifier public immutable tee;
    uint256 internal immutable _enclaveKey;
    address public immutable enclaveOperator;

    address[] public requesters;
    address[] public nodes;
    address[] public owners;
    address[] public consumers;
    ModelId[] public models;
    mapping(address => Behaviour) public behaviourOf;

    /* GHOSTS */

    /// @notice Every job requested, in id order (the terms as emitted by `JobRequested`).
    IJobEscrow.Job[] internal _jobs;
    /// @notice `JobSettled` + `JobRefunded` events seen per job id.
    mapping(uint64 => uint256) public resolutions;
    /// @notice What the escrow credited for a job (fees, refunds), not counting slashed stake that came in.
    mapping(uint64 => uint256) public paidOut;
    /// @notice What a node committed to, per job: its output and salt.
    mapping(uint64 => mapping(address => bytes)) internal _committedOutput;
    mapping(uint64 => mapping(address => bytes32)) internal _committedSalt;
    /// @notice TEE signatures accepted, how many times each, and the outputs they signed.
    mapping(bytes32 => uint256) public acceptances;
    bytes[] internal _acceptedProofs;
    bytes[] internal _acceptedOutputs;
    /// @notice Per operator: stake moved to thawing, moved back, and withdrawn.
    mapping(address => uint256) public unstaked;
    mapping(address => uint256) public restaked;
    mapping(address => uint256) public withdrawn;
    mapping(address => uint256) public slashedFromThawing;

    /// @notice Things that must never happen, counted rather than reverted so the fuzzer reports them as broken
    /// invariants with their call sequence.
    uint256 public replayAccepted;
    uint256 public closedJobReopened;
    uint256 public slashBeyondCap;
    uint256 public pausedRequestAccepted;
    uint256 public copiedCommitmentRevealed;
    uint256 public lockedStakeWithdrawn;
    uint256 public wrongError;
    bytes public lastWrongError;
    uint256 public paymentMismatch;

    /// @notice Exits that succeeded while requests were paused (claims, refunds, withdrawals).
    uint256 public exitsWhilePaused;
    /// @notice What the run reached: settlements (by k = 3 majority among them), refunds, slashes.
    uint256 public settled;
    uint256 public batchesSettled;
    uint256 public settledByMajority;
    uint256 public refunded;
    uint256 public slashes;

    /// @dev Stake of every node before the call being observed, for the slash checks.
    mapping(address => INodeStaking.Operator) internal _before;
    uint256 internal _maxSlashBpsBefore;

    constructor(
        TestToken token_,
        JobEscrow escrow_,
        NodeStaking staking_,
        ModelRegistry registry_,
        TeeVerifier tee_,
        uint256 enclaveKey
    ) {
        (token, escrow, staking, registry, tee, _enclaveKey) = (token_, escrow_, staking_, registry_, tee_, enclaveKey);
        for (uint256 i; i < 3; ++i) requesters.push(_actor("requester", i));
        Behaviour[7] memory roles = [
            Behaviour.Honest,
            Behaviour.Honest,
            Behaviour.Lazy,
            Behaviour.Liar,
            Behaviour.Colluder,
            Behaviour.Colluder,
            Behaviour.Copier
        ];
        for (uint256 i; i < roles.length; ++i) {
            address node = _actor("node", i);
            nodes.push(node);
            behaviourOf[node] = roles[i];
        }
        enclaveOperator = nodes[0];
        for (uint256 i; i < 2; ++i) owners.push(_actor("owner", i));
        consumers.push(address(new ExampleConsumer(address(escrow_))));
        consumers.push(address(new GasBurnerConsumer()));
        consumers.push(address(new RevertingConsumer()));
    }

    function _actor(string memory role, uint256 i) internal returns (address a) {
        a = address(uint160(uint256(keccak256(abi.encode(role, i)))));
        vm.label(a, string.concat(role, "-", string(abi.encodePacked(bytes1(uint8(48 + i))))));
    }

    /// @notice Funds and approves every actor, stakes and registers the nodes, creates one model per owner.
    /// Run once by the test's `setUp` (it is not a fuzz target).
    function bootstrap(IModelRegistry.VersionInput memory input) external {
        address[] memory all = _everyone();
        for (uint256 i; i < all.length; ++i) {
            token.mint(all[i], 1e9 * TOKEN);
            vm.startPrank(all[i]);
            token.approve(address(escrow), type(uint256).max);
            token.approve(address(staking), type(uint256).max);
            vm.stopPrank();
        }
        for (uint256 i; i < nodes.length; ++i) {
            vm.startPrank(nodes[i]);
            staking.stake(1_000 * TOKEN);
            staking.register(ModesLib.bit(ModesLib.VANILLA) | ModesLib.bit(ModesLib.TEE));
            vm.stopPrank();
        }
        for (uint256 i; i < owners.length; ++i) {
            vm.prank(owners[i]);
            models.push(registry.createModelAndPublish(uint96((i + 1) * TOKEN), input));
        }
    }

    /* REQUESTERS */

    /// @notice A requester asks for a vanilla k = 1, vanilla k = 3, or TEE k = 1 job, optionally with a callback.
    function request(uint256 requesterSeed, uint256 kindSeed, uint256 feeSeed, uint256 collateralSeed, uint256 durationSeed, uint256 callbackSeed)
        external
    {
        address requester = requesters[requesterSeed % requesters.length];
        IJobEscrow.RequestParams memory p = _requestParams(kindSeed, feeSeed, collateralSeed, durationSeed, callbackSeed);
        if (escrow.paused()) {
            vm.prank(requester);
            try escrow.request(p) {
                ++pausedRequestAccepted;
            } catch (bytes memory err) {
                _expectError(err, abi.encodeWithSelector(IJobEscrow.JobEscrowRequestsPaused.selector));
            }
            return;
        }
        uint256 balance = token.balanceOf(requester);
        vm.recordLogs();
        vm.prank(requester);
        JobId id = escrow.request(p);
        IJobEscrow.Job memory job = _requestedJob(vm.getRecordedLogs());
        if (JobId.unwrap(job.id) != JobId.unwrap(id) || JobId.unwrap(id) != _jobs.length + 1) ++wrongError;
        if (balance - token.balanceOf(requester) != _total(job)) ++paymentMismatch;
        _jobs.push(job);
    }

    function _requestParams(uint256 kindSeed, uint256 feeSeed, uint256 collateralSeed, uint256 durationSeed, uint256 callbackSeed)
        internal
        view
        returns (IJobEscrow.RequestParams memory p)
    {
        IJobEscrow.Parameters memory params = escrow.parameters();
        uint256 kind = kindSeed % 3;
        p.modelId = models[(kindSeed >> 8) % models.length];
        p.version = 1;
        p.mode = kind == 2 ? ModesLib.TEE : ModesLib.VANILLA;
        p.redundancy = kind == 1 ? 3 : 1;
        uint256 duration = clamp(durationSeed, params.minDuration, _min(params.maxDuration, uint256(params.minDuration) + 6 hours));
        p.deadline = uint64(block.timestamp + duration);
        p.feePerNode = uint96(clamp(feeSeed, 0, 10 * TOKEN));
        p.collateral = uint96(clamp(collateralSeed, params.minCollateral, 50 * TOKEN));
        (p.maxTotal,,) = escrow.quote(p.modelId, p.version, p.mode, p.redundancy, p.feePerNode);
        uint256 c = callbackSeed % 5;
        if (c < consumers.length && params.maxCallbackGas > 0) {
            p.callback = consumers[c];
            p.callbackGasLimit = uint32(clamp(callbackSeed >> 8, 1, _min(params.maxCallbackGas, 300_000)));
        }
        p.input = abi.encodePacked("input-", durationSeed % 1000);
    }

    /* NODES */

    /// @notice Nodes claim the next slots of an open job, one to three of them in a row (TEE jobs mostly go to
    /// the enclave operator).
    function claimSlot(uint256 jobSeed, uint256 nodeSeed, uint256 count) external {
        (bool found, IJobEscrow.Job memory job) = _findJob(jobSeed, Need.Claimable);
        if (!found) return;
        count = 1 + count % 3;
        for (uint256 i; i < count; ++i) {
            uint256 seed = nodeSeed % nodes.length + i;
            _claimOne(job, job.mode == ModesLib.TEE && seed % 2 == 0 ? enclaveOperator : nodes[seed % nodes.length]);
        }
    }

    function _claimOne(IJobEscrow.Job memory job, address node) internal {
        IJobEscrow.JobState memory state = escrow.stateOf(job.id);
        if (state.filled >= job.redundancy || _holdsSlot(job, state.filled, node)) return;
        if (!staking.isEligible(node, Mode.unwrap(job.mode), job.collateral)) {
            // Stake already locked elsewhere (or below the minimum) cannot back another job.
            bytes memory expected = staking.isEligible(node, Mode.unwrap(job.mode), 0)
                ? abi.encodeWithSelector(IJobEscrow.JobEscrowInsufficientStake.selector, node, staking.availableStake(node), job.collateral)
                : abi.encodeWithSelector(IJobEscrow.JobEscrowNodeIneligible.selector, job.id, node);
            vm.prank(node);
            try escrow.claimSlot(job) {
                ++lockedStakeWithdrawn;
            } catch (bytes memory err) {
                _expectError(err, expected);
            }
            return;
        }
        vm.prank(node);
        uint8 slot = escrow.claimSlot(job);
        if (slot != state.filled) ++wrongError;
    }

    /// @notice The node of a k = 1 job delivers according to its behaviour (lazy nodes never do).
    function submit(uint256 jobSeed, uint256 noiseSeed) external {
        (bool found, IJobEscrow.Job memory job) = _findJob(jobSeed, Need.Submittable);
        if (!found || job.redundancy != 1 || block.timestamp >= job.deadline) return;
        if (escrow.stateOf(job.id).filled == 0) return;
        (IJobEscrow.Slot memory slot,) = escrow.slotOf(job.id, 0);
        address node = slot.node;
        Behaviour b = behaviourOf[node];
        if (b == Behaviour.Lazy) return;
        bytes memory output = b == Behaviour.Honest ? _answer(job) : _noise(job, node, noiseSeed);
        bytes memory proof;
        if (job.mode == ModesLib.TEE) {
            proof = _sign(job, node, output);
            if (node != enclaveOperator) {
                // The enclave key belongs to another operator: its signature must not carry this node's result.
                vm.prank(node);
                try escrow.submit(job, output, proof) {
                    ++replayAccepted;
                } catch (bytes memory err) {
                    _expectError(
                        err,
                        abi.encodeWithSelector(ITeeVerifier.TeeVerifierOperatorMismatch.selector, vm.addr(_enclaveKey), enclaveOperator, node)
                    );
                }
                return;
            }
        }
        _observe(job, node, abi.encodeCall(escrow.submit, (job, output, proof)));
        if (job.mode == ModesLib.TEE) {
            if (++acceptances[keccak256(proof)] > 1) ++replayAccepted;
            _acceptedProofs.push(proof);
            _acceptedOutputs.push(output);
        }
    }

    /// @notice A node settles up to three of its k = 1 vanilla jobs with one `submitBatch`; each job is paid
    /// exactly its terms and resolves once (a job listed twice must revert the whole batch).
    function submitBatch(uint256 jobSeed, uint256 countSeed, bool duplicate) external {
        (bool found, IJobEscrow.Job memory first) = _findJob(jobSeed, Need.Submittable);
        if (!found || first.mode != ModesLib.VANILLA) return;
        (IJobEscrow.Slot memory slot,) = escrow.slotOf(first.id, 0);
        address node = slot.node;
        if (behaviourOf[node] == Behaviour.Lazy) return;
        IJobEscrow.Job[] memory picked = new IJobEscrow.Job[](1 + countSeed % 3);
        uint256 n;
        for (uint256 j; j < _jobs.length && n < picked.length; ++j) {
            IJobEscrow.Job memory job = _jobs[(jobSeed % _jobs.length + j) % _jobs.length];
            IJobEscrow.JobState memory state = escrow.stateOf(job.id);
            if (state.status != IJobEscrow.JobStatus.Open || job.mode != ModesLib.VANILLA || !_fits(job, state, Need.Submittable)) continue;
            (slot,) = escrow.slotOf(job.id, 0);
            if (slot.node == node) picked[n++] = job;
        }
        IJobEscrow.Job[] memory jobs = new IJobEscrow.Job[](duplicate ? n + 1 : n);
        bytes[] memory outputs = new bytes[](jobs.length);
        for (uint256 i; i < jobs.length; ++i) {
            jobs[i] = picked[i < n ? i : 0];
            outputs[i] = _answer(jobs[i]);
        }
        if (duplicate) {
            vm.prank(node);
            try escrow.submitBatch(jobs, outputs, "") {
                ++closedJobReopened;
            } catch (bytes memory err) {
                _expectError(err, abi.encodeWithSelector(IJobEscrow.JobEscrowJobNotOpen.selector, jobs[0].id, IJobEscrow.JobStatus.Settled));
            }
            return;
        }
        uint256 creditsBefore = _credits();
        vm.prank(node);
        escrow.submitBatch(jobs, outputs, "");
        uint256 expected;
        for (uint256 i; i < n; ++i) {
            uint256 due = uint256(jobs[i].feePerNode) + jobs[i].modelFee + jobs[i].protocolFee;
            paidOut[JobId.unwrap(jobs[i].id)] += due;
            ++resolutions[JobId.unwrap(jobs[i].id)];
            ++settled;
            expected += due;
        }
        if (_credits() - creditsBefore != expected) ++paymentMismatch;
        batchesSettled += 1;
    }

    /// @notice The enclave operator replays a signature already accepted for another job: it must fail.
    function replaySignature(uint256 jobSeed, uint256 proofSeed) external {
        if (_acceptedProofs.length == 0) return;
        (bool found, IJobEscrow.Job memory job) = _findJob(jobSeed, Need.Submittable);
        if (!found || job.redundancy != 1 || job.mode != ModesLib.TEE || block.timestamp >= job.deadline) return;
        if (escrow.stateOf(job.id).filled == 0) return;
        (IJobEscrow.Slot memory slot,) = escrow.slotOf(job.id, 0);
        if (slot.node != enclaveOperator) return;
        uint256 i = proofSeed % _acceptedProofs.length;
        vm.prank(enclaveOperator);
        try escrow.submit(job, _acceptedOutputs[i], _acceptedProofs[i]) {
            ++replayAccepted;
        } catch (bytes memory err) {
            // The digest differs, so the signature recovers to some unregistered key.
            if (bytes4(err) != ITeeVerifier.TeeVerifierUnknownEnclave.selector) _wrong(err);
        }
    }

    /// @notice Nodes of a k = 3 job commit according to their behaviour, one or all of them; a copier reuses a
    /// commitment it saw in the mempool.
    function commit(uint256 jobSeed, uint256 slotSeed, uint256 noiseSeed, bool all) external {
        (bool found, IJobEscrow.Job memory job) = _findJob(jobSeed, Need.Committable);
        if (!found) return;
        uint8 filled = escrow.stateOf(job.id).filled;
        for (uint256 i; i < (all ? filled : 1); ++i) {
            (bool any, address node) = _slotIn(job, filled, slotSeed % filled + i, IJobEscrow.SlotPhase.Claimed);
            if (any) _commitOne(job, filled, node, noiseSeed);
        }
    }

    function _commitOne(IJobEscrow.Job memory job, uint8 filled, address node, uint256 noiseSeed) internal {
        Behaviour b = behaviourOf[node];
        if (b == Behaviour.Lazy) return;
        bytes32 commitment;
        if (b == Behaviour.Copier) {
            (bool copied, bytes32 seen) = _seenCommitment(job, filled, noiseSeed);
            if (!copied) return;
            commitment = seen;
        } else {
            bytes memory output = b == Behaviour.Liar ? _noise(job, node, noiseSeed) : b == Behaviour.Colluder ? _collusion(job) : _answer(job);
            bytes32 salt = keccak256(abi.encode("salt", job.id, node, noiseSeed));
            _committedOutput[JobId.unwrap(job.id)][node] = output;
            _committedSalt[JobId.unwrap(job.id)][node] = salt;
            commitment = keccak256(abi.encode(job.id, node, keccak256(output), salt));
        }
        vm.prank(node);
        escrow.commit(job, commitment);
    }

    /// @notice Nodes of a k = 3 job reveal what they committed, one or all of them; a copier tries to reveal the
    /// copied answer.
    function reveal(uint256 jobSeed, uint256 slotSeed, bool all) external {
        (bool found, IJobEscrow.Job memory job) = _findJob(jobSeed, Need.Revealable);
        if (!found) return;
        uint8 filled = escrow.stateOf(job.id).filled;
        for (uint256 i; i < (all ? filled : 1); ++i) {
            if (escrow.stateOf(job.id).status != IJobEscrow.JobStatus.Open) return; // the last reveal settled it
            (bool any, address node) = _slotIn(job, filled, slotSeed % filled + i, IJobEscrow.SlotPhase.Committed);
            if (!any) return;
            uint64 id = JobId.unwrap(job.id);
            if (behaviourOf[node] == Behaviour.Copier) _copierReveal(job, filled, node, slotSeed);
            else _observe(job, node, abi.encodeCall(escrow.reveal, (job, _committedOutput[id][node], _committedSalt[id][node], "")));
        }
    }

    /// @notice Anyone resolves a job; before its time, the call must revert with `JobEscrowNotExpired`.
    function expire(uint256 jobSeed, uint256 callerSeed, bool early) external {
        (bool found, IJobEscrow.Job memory job) = _findJob(jobSeed, early ? Need.Any : Need.Expirable);
        if (!found) return;
        IJobEscrow.JobState memory state = escrow.stateOf(job.id);
        bool revealing = job.redundancy > 1 && state.committed == job.redundancy;
        uint64 expiresAt = revealing ? job.revealDeadline : job.deadline;
        address keeper = _everyone()[callerSeed % _everyone().length];
        if (block.timestamp < expiresAt) {
            vm.prank(keeper);
            try escrow.expire(job) {
                ++closedJobReopened;
            } catch (bytes memory err) {
                _expectError(err, abi.encodeWithSelector(IJobEscrow.JobEscrowNotExpired.selector, job.id, expiresAt));
            }
            return;
        }
        bool paused = escrow.paused();
        _observe(job, keeper, abi.encodeCall(escrow.expire, (job)));
        if (paused) ++exitsWhilePaused;
    }

    /// @notice Anyone tries to act on a closed job again: every such call must revert with `JobEscrowJobNotOpen`.
    function touchClosedJob(uint256 jobSeed, uint256 actionSeed) external {
        if (_jobs.length == 0) return;
        IJobEscrow.Job memory job = _jobs[jobSeed % _jobs.length];
        IJobEscrow.JobStatus status = escrow.stateOf(job.id).status;
        if (status == IJobEscrow.JobStatus.Open) return;
        (IJobEscrow.Slot memory slot,) = escrow.slotOf(job.id, 0);
        address node = slot.node == address(0) ? nodes[0] : slot.node;
        bytes memory output = _answer(job);
        uint256 action = actionSeed % 4;
        bytes memory data = action == 0
            ? abi.encodeCall(escrow.expire, (job))
            : action == 1
                ? abi.encodeCall(escrow.submit, (job, output, job.mode == ModesLib.TEE ? _sign(job, node, output) : bytes("")))
                : action == 2 ? abi.encodeCall(escrow.claimSlot, (job)) : abi.encodeCall(escrow.reveal, (job, output, bytes32(0), ""));
        vm.prank(node);
        (bool ok, bytes memory err) = address(escrow).call(data);
        if (ok) ++closedJobReopened;
        else _expectError(err, abi.encodeWithSelector(IJobEscrow.JobEscrowJobNotOpen.selector, job.id, status));
    }

    /* STAKE */

    function stake(uint256 nodeSeed, uint256 amount) external {
        address node = nodes[nodeSeed % nodes.length];
        amount = clamp(amount, 1, 500 * TOKEN);
        vm.prank(node);
        staking.stake(amount);
    }

    /// @notice A node unstakes part of its unlocked stake; asking one wei more than is unlocked must fail.
    function unstake(uint256 nodeSeed, uint256 amount, bool greedy) external {
        address node = nodes[nodeSeed % nodes.length];
        uint256 available = staking.availableStake(node);
        if (greedy || available == 0) {
            vm.prank(node);
            try staking.unstake(available + 1) {
                ++lockedStakeWithdrawn;
            } catch (bytes memory err) {
                _expectError(err, abi.encodeWithSelector(INodeStaking.NodeStakingInsufficientStake.selector, node, available, available + 1));
            }
            return;
        }
        amount = clamp(amount, 1, available);
        vm.prank(node);
        staking.unstake(amount);
        unstaked[node] += amount;
    }

    function restake(uint256 nodeSeed, uint256 amount) external {
        address node = nodes[nodeSeed % nodes.length];
        uint256 thawing = staking.operatorOf(node).thawing;
        if (thawing == 0) return;
        amount = clamp(amount, 1, thawing);
        vm.prank(node);
        staking.restake(amount);
        restaked[node] += amount;
    }

    /// @notice A node withdraws thawed stake; before the thaw ends the call must revert with `StillThawing`.
    function withdraw(uint256 nodeSeed) external {
        address node = nodes[nodeSeed % nodes.length];
        INodeStaking.Operator memory op = staking.operatorOf(node);
        if (op.thawing == 0) return;
        if (block.timestamp < op.thawEnd) {
            vm.prank(node);
            try staking.withdraw(node) {
                ++lockedStakeWithdrawn;
            } catch (bytes memory err) {
                _expectError(err, abi.encodeWithSelector(INodeStaking.NodeStakingStillThawing.selector, node, op.thawEnd));
            }
            return;
        }
        uint256 balance = token.balanceOf(node);
        bool paused = escrow.paused();
        vm.prank(node);
        uint256 amount = staking.withdraw(node);
        if (amount != op.thawing || token.balanceOf(node) - balance != amount) ++paymentMismatch;
        withdrawn[node] += amount;
        if (paused) ++exitsWhilePaused;
    }

    /// @notice A node (re-)registers when it holds the minimum stake.
    function register(uint256 nodeSeed) external {
        address node = nodes[nodeSeed % nodes.length];
        if (staking.operatorOf(node).staked < staking.parameters().minimumStake) return;
        vm.prank(node);
        staking.register(ModesLib.bit(ModesLib.VANILLA) | ModesLib.bit(ModesLib.TEE));
    }

    /* EVERYONE */

    /// @notice An actor withdraws its credits; with none, the call must revert with `JobEscrowNothingToClaim`.
    function claim(uint256 actorSeed) external {
        address actor = _everyone()[actorSeed % _everyone().length];
        uint256 owed = escrow.claimable(actor);
        if (owed == 0) {
            vm.prank(actor);
            try escrow.claim(actor) {
                ++paymentMismatch;
            } catch (bytes memory err) {
                _expectError(err, abi.encodeWithSelector(IJobEscrow.JobEscrowNothingToClaim.selector, actor));
            }
            return;
        }
        uint256 balance = token.balanceOf(actor);
        bool paused = escrow.paused();
        vm.prank(actor);
        uint256 amount = escrow.claim(actor);
        if (amount != owed || token.balanceOf(actor) - balance != owed || escrow.claimable(actor) != 0) ++paymentMismatch;
        // A second claim in the same state finds nothing.
        vm.prank(actor);
        try escrow.claim(actor) {
            ++paymentMismatch;
        } catch (bytes memory err) {
            _expectError(err, abi.encodeWithSelector(IJobEscrow.JobEscrowNothingToClaim.selector, actor));
        }
        if (paused) ++exitsWhilePaused;
    }

    function claimProtocolFees(uint256 callerSeed) external {
        address treasury = escrow.treasury();
        uint256 owed = escrow.protocolFees();
        uint256 balance = token.balanceOf(treasury);
        vm.prank(_everyone()[callerSeed % _everyone().length]);
        uint256 amount = escrow.claimProtocolFees();
        if (amount != owed || token.balanceOf(treasury) - balance != owed || escrow.protocolFees() != 0) ++paymentMismatch;
    }

    /// @notice A model owner changes its price; open jobs keep the price they escrowed.
    function setPrice(uint256 ownerSeed, uint256 price) external {
        uint256 i = ownerSeed % owners.length;
        vm.prank(owners[i]);
        registry.setPrice(models[i], uint96(clamp(price, 0, 20 * TOKEN)));
    }

    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + clamp(secondsSeed, 1, 3 hours));
    }

    /* VIEWS FOR THE INVARIANTS */

    function jobCount() external view returns (uint256) {
        return _jobs.length;
    }

    function jobAt(uint256 i) external view returns (IJobEscrow.Job memory) {
        return _jobs[i];
    }

    function everyone() external view returns (address[] memory) {
        return _everyone();
    }

    function nodeCount() external view returns (uint256) {
        return nodes.length;
    }

    function total(IJobEscrow.Job memory job) external pure returns (uint256) {
        return _total(job);
    }

    /* INTERNAL: OBSERVATION */

    /// @dev Makes a call that may resolve `job` and checks what it did from its events: at most one resolution,
    /// every slash within its cap and pro-rata, and the job's payout equal to what it escrowed.
    function _observe(IJobEscrow.Job memory job, address caller, bytes memory data) internal {
        uint256 creditsBefore = _credits();
        _snapshotStakes();
        vm.recordLogs();
        vm.prank(caller);
        (bool ok, bytes memory err) = address(escrow).call(data);
        if (!ok) {
            // Bounded inputs make this unreachable; bubble the error up so the run fails with it.
            assembly ("memory-safe") {
                revert(add(err, 0x20), mload(err))
            }
        }
        uint256 slashedIn = _checkLogs(job, vm.getRecordedLogs());
        uint256 credited = _credits() - creditsBefore - slashedIn;
        paidOut[JobId.unwrap(job.id)] += credited;
    }

    function _checkLogs(IJobEscrow.Job memory job, Vm.Log[] memory logs) internal returns (uint256 slashedIn) {
        for (uint256 i; i < logs.length; ++i) {
            Vm.Log memory log = logs[i];
            bytes32 topic = log.topics[0];
            if (log.emitter == address(escrow)) {
                if (topic == IJobEscrow.JobSettled.selector || topic == IJobEscrow.JobRefunded.selector) {
                    ++resolutions[uint64(uint256(log.topics[1]))];
                    if (topic == IJobEscrow.JobRefunded.selector) ++refunded;
                    else if (job.redundancy > 1) ++settledByMajority;
                    else ++settled;
                } else if (topic == IJobEscrow.NodeSlashed.selector) {
                    (uint256 amount,) = abi.decode(log.data, (uint256, uint256));
                    slashedIn += amount;
                    ++slashes;
                }
            } else if (log.emitter == address(staking) && topic == INodeStaking.Slashed.selector) {
                (uint256 amount, uint256 fromThawing) = abi.decode(log.data, (uint256, uint256));
                _checkSlash(address(uint160(uint256(log.topics[1]))), amount, fromThawing, job.collateral);
            }
        }
    }

    /// @dev A slash takes at most the collateral, at most `maxSlashBps` of the slashable stake (rounded up) and
    /// never more than there is; thawing stake pays at least its pro-rata share.
    function _checkSlash(address node, uint256 amount, uint256 fromThawing, uint256 collateral) internal {
        INodeStaking.Operator memory op = _before[node];
        uint256 slashable = uint256(op.staked) + op.thawing;
        uint256 cap = (slashable * _maxSlashBpsBefore + BPS - 1) / BPS;
        if (amount > collateral || amount > cap || amount > slashable || fromThawing > op.thawing) ++slashBeyondCap;
        if (slashable != 0 && fromThawing * slashable < amount * op.thawing) ++slashBeyondCap;
        slashedFromThawing[node] += fromThawing;
    }

    function _snapshotStakes() internal {
        for (uint256 i; i < nodes.length; ++i) _before[nodes[i]] = staking.operatorOf(nodes[i]);
        _maxSlashBpsBefore = staking.parameters().maxSlashBps;
    }

    /// @dev Everything the escrow owes: every actor's credits and the protocol's.
    function _credits() internal view returns (uint256 sum) {
        address[] memory all = _everyone();
        for (uint256 i; i < all.length; ++i) sum += escrow.claimable(all[i]);
        sum += escrow.protocolFees();
    }

    /* INTERNAL: HELPERS */

    function _copierReveal(IJobEscrow.Job memory job, uint8 filled, address copier, uint256 seed) internal {
        // Reveal the answer and salt of the node whose commitment was copied: the commitment names its node.
        address victim = _slotNode(job, uint8((seed >> 8) % filled));
        uint64 id = JobId.unwrap(job.id);
        if (_committedOutput[id][victim].length == 0) return;
        vm.prank(copier);
        try escrow.reveal(job, _committedOutput[id][victim], _committedSalt[id][victim], "") {
            ++copiedCommitmentRevealed;
        } catch (bytes memory err) {
            _expectError(err, abi.encodeWithSelector(IJobEscrow.JobEscrowCommitmentMismatch.selector, job.id, copier));
        }
    }

    function _seenCommitment(IJobEscrow.Job memory job, uint8 filled, uint256 seed) internal view returns (bool, bytes32) {
        for (uint256 j; j < filled; ++j) {
            (IJobEscrow.Slot memory s, bytes32 digest) = escrow.slotOf(job.id, uint8((seed % filled + j) % filled));
            if (s.phase == IJobEscrow.SlotPhase.Committed) return (true, digest);
        }
        return (false, bytes32(0));
    }

    /// @dev The node of a slot in `phase`, searching forward from the slot `seed` picks.
    function _slotIn(IJobEscrow.Job memory job, uint8 filled, uint256 seed, IJobEscrow.SlotPhase phase)
        internal
        view
        returns (bool, address)
    {
        for (uint256 j; j < filled; ++j) {
            (IJobEscrow.Slot memory s,) = escrow.slotOf(job.id, uint8((seed % filled + j) % filled));
            if (s.phase == phase) return (true, s.node);
        }
        return (false, address(0));
    }

    function _slotNode(IJobEscrow.Job memory job, uint8 index) internal view returns (address) {
        (IJobEscrow.Slot memory s,) = escrow.slotOf(job.id, index);
        return s.node;
    }

    function _holdsSlot(IJobEscrow.Job memory job, uint8 filled, address node) internal view returns (bool) {
        for (uint8 i; i < filled; ++i) {
            if (_slotNode(job, i) == node) return true;
        }
        return false;
    }

    /// @notice What an action needs of the job it acts on.
    enum Need {
        Any,
        Claimable,
        Submittable,
        Committable,
        Revealable,
        Expirable
    }

    /// @dev An open job fit for an action, searching forward from the one `seed` picks, so that actions find
    /// work instead of returning early.
    function _findJob(uint256 seed, Need need) internal view returns (bool, IJobEscrow.Job memory job) {
        uint256 n = _jobs.length;
        for (uint256 j; j < n; ++j) {
            job = _jobs[(seed % n + j) % n];
            IJobEscrow.JobState memory state = escrow.stateOf(job.id);
            if (state.status == IJobEscrow.JobStatus.Open && _fits(job, state, need)) return (true, job);
        }
        return (false, job);
    }

    function _fits(IJobEscrow.Job memory job, IJobEscrow.JobState memory state, Need need) internal view returns (bool) {
        bool live = block.timestamp < job.deadline;
        if (need == Need.Claimable) return live && state.filled < job.redundancy;
        if (need == Need.Submittable) return live && job.redundancy == 1 && state.filled == 1;
        if (need == Need.Committable) return live && job.redundancy > 1 && state.committed < state.filled;
        if (need == Need.Revealable) {
            return job.redundancy > 1 && state.committed == job.redundancy && state.revealed < job.redundancy
                && block.timestamp < job.revealDeadline;
        }
        if (need == Need.Expirable) {
            bool revealing = job.redundancy > 1 && state.committed == job.redundancy;
            return block.timestamp >= (revealing ? job.revealDeadline : job.deadline);
        }
        return true;
    }

    function _requestedJob(Vm.Log[] memory logs) internal view returns (IJobEscrow.Job memory job) {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(escrow) && logs[i].topics[0] == IJobEscrow.JobRequested.selector) {
                (job,,) = abi.decode(logs[i].data, (IJobEscrow.Job, bytes, string));
                return job;
            }
        }
        revert("no JobRequested");
    }

    /// @dev The agreed answer of a job: a function of its input, 1 to 64 bytes long (both storage layouts).
    function _answer(IJobEscrow.Job memory job) internal pure returns (bytes memory) {
        bytes32 h = keccak256(abi.encode("answer", job.inputHash));
        uint256 len = 1 + uint256(h) % 64;
        bytes memory out = abi.encodePacked(h, keccak256(abi.encode(h)));
        assembly ("memory-safe") {
            mstore(out, len)
        }
        return out;
    }

    function _noise(IJobEscrow.Job memory job, address node, uint256 seed) internal pure returns (bytes memory) {
        return abi.encodePacked("noise", job.id, node, uint8(seed));
    }

    function _collusion(IJobEscrow.Job memory job) internal pure returns (bytes memory) {
        return abi.encodePacked("collusion", job.id);
    }

    function _sign(IJobEscrow.Job memory job, address node, bytes memory output) internal view returns (bytes memory) {
        IInferenceVerifier.InferenceClaim memory c = IInferenceVerifier.InferenceClaim({
            jobId: job.id,
            modelId: job.modelId,
            version: job.version,
            inputHash: job.inputHash,
            outputHash: keccak256(output),
            node: node
        });
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_enclaveKey, tee.resultDigest(c, address(escrow)));
        return abi.encodePacked(r, s, v);
    }

    function _everyone() internal view returns (address[] memory all) {
        all = new address[](requesters.length + nodes.length + owners.length);
        uint256 k;
        for (uint256 i; i < requesters.length; ++i) all[k++] = requesters[i];
        for (uint256 i; i < nodes.length; ++i) all[k++] = nodes[i];
        for (uint256 i; i < owners.length; ++i) all[k++] = owners[i];
    }

    function _total(IJobEscrow.Job memory job) internal pure returns (uint256) {
        return uint256(job.modelFee) + uint256(job.feePerNode) * job.redundancy + job.protocolFee;
    }

    function _expectError(bytes memory err, bytes memory expected) internal {
        if (keccak256(err) != keccak256(expected)) _wrong(err);
    }

    function _wrong(bytes memory err) internal {
        ++wrongError;
        lastWrongError = err;
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }
}

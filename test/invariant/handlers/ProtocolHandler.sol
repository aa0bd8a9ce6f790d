// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {IInferenceVerifier} from "../../../contracts/interfaces/IInferenceVerifier.sol";
import {ITeeVerifier} from "../../../contracts/interfaces/ITeeVerifier.sol";
import {IZkInferenceVerifier} from "../../../contracts/verifiers/zk/IZkInferenceVerifier.sol";
import {IGroth16Verifier} from "../../../contracts/verifiers/zk/IGroth16Verifier.sol";
import {JobEscrow} from "../../../contracts/escrow/JobEscrow.sol";
import {NodeStaking} from "../../../contracts/staking/NodeStaking.sol";
import {ModelRegistry} from "../../../contracts/registry/ModelRegistry.sol";
import {TeeVerifier} from "../../../contracts/verifiers/TeeVerifier.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {ExampleConsumer} from "../../../contracts/consumer/ExampleConsumer.sol";
import {GasBurnerConsumer} from "../../../contracts/test/GasBurnerConsumer.sol";
import {RevertingConsumer} from "../../../contracts/test/RevertingConsumer.sol";
import {SelfRequester} from "../../../contracts/test/SelfRequester.sol";
import {JobId, ModelId, Mode, ModesLib} from "../../../contracts/types/Ids.sol";
import {EnclaveHandler} from "./EnclaveHandler.sol";
import {ProtocolModel} from "./ProtocolModel.sol";
import {TrapdoorGroth16Lib} from "../utils/TrapdoorGroth16Lib.sol";
import {Vm} from "../utils/Vm.sol";
import {actor, clamp} from "../utils/Test.sol";

/// @title ProtocolHandler
/// @notice Drives the escrow and staking as their users do: requesters (people, consumer contracts that request
/// their own jobs, and a Sybil requester that brings its own colluding nodes), nodes of several behaviours, model
/// owners and keepers. Every input is bounded so that no call reverts unexpectedly; calls that must revert are
/// made in `try` and their exact error is checked. What the calls do is checked against `ProtocolModel`.
contract ProtocolHandler is ProtocolModel {
    /// @notice How a node behaves. Honest nodes compute the agreed answer; lazy nodes claim and never deliver;
    /// liars deliver noise; colluders deliver one shared wrong answer; copiers reuse another node's commitment
    /// seen in the mempool (or another job's proof).
    enum Behaviour {
        Honest,
        Lazy,
        Liar,
        Colluder,
        Copier
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

    /// @notice A ZK result the escrow accepted: the commitment it proved, its output and its proof.
    struct ZkResult {
        bytes32 inputHash;
        bytes output;
        bytes proof;
    }

    uint256 internal constant TOKEN = 1e18;
    uint256 internal constant MAX_FEE = 10 * TOKEN;
    uint256 internal constant MAX_COLLATERAL = 50 * TOKEN;
    uint256 internal constant ZK_INPUT_BITS = 200;
    uint32 internal constant ALL_MODES = 7; // vanilla, TEE and ZK

    ModelRegistry public immutable registry;
    TeeVerifier public immutable tee;
    /// @notice The requester that controls the colluding nodes 4 and 5.
    address public immutable sybil;

    ModelId[] public models;
    mapping(address => Behaviour) public behaviourOf;
    /// @notice The accounts that are people (everyone but the consumer contracts): keepers and claimers.
    address[] internal _people;

    /// @notice What a node committed to, per job: its output and salt.
    mapping(uint64 => mapping(address => bytes)) internal _committedOutput;
    mapping(uint64 => mapping(address => bytes32)) internal _committedSalt;
    /// @notice TEE signatures accepted, how many times each, and the outputs they signed; ZK results accepted.
    mapping(bytes32 => uint256) public acceptances;
    bytes[] internal _acceptedProofs;
    bytes[] internal _acceptedOutputs;
    ZkResult[] internal _zkResults;
    /// @notice Per operator: stake moved to thawing, moved back, and withdrawn.
    mapping(address => uint256) public unstaked;
    mapping(address => uint256) public restaked;
    mapping(address => uint256) public withdrawn;

    /// @notice Things that must never happen.
    uint256 public replayAccepted;
    uint256 public closedJobReopened;
    uint256 public pausedRequestAccepted;
    uint256 public invalidRequestAccepted;
    uint256 public copiedCommitmentRevealed;
    uint256 public lockedStakeWithdrawn;
    /// @notice An assigned job claimed, or submitted by another node than its assignee or by an ineligible one.
    uint256 public assignedJobTaken;
    /// @notice An assignment (`requestFor`) that locked some of the assignee's stake.
    uint256 public assignmentLocked;

    /// @notice What the run reached.
    uint256 public exitsWhilePaused;
    uint256 public batchesSettled;
    uint256 public zkSettled;
    uint256 public sybilJobs;
    uint256 public requestsRefused;
    uint256 public assignedJobs;

    constructor(
        TestToken token_,
        JobEscrow escrow_,
        NodeStaking staking_,
        ModelRegistry registry_,
        TeeVerifier tee_,
        EnclaveHandler enclaves_
    ) ProtocolModel(token_, escrow_, staking_, enclaves_) {
        (registry, tee) = (registry_, tee_);
        for (uint256 i; i < 3; ++i) {
            requesters.push(_actor("requester", i));
        }
        sybil = _actor("sybil", 0);
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
        for (uint256 i; i < 2; ++i) {
            owners.push(_actor("owner", i));
        }
        consumers.push(address(new ExampleConsumer(escrow_, address(this))));
        consumers.push(address(new GasBurnerConsumer(escrow_)));
        consumers.push(address(new RevertingConsumer(escrow_)));
        for (uint256 i; i < requesters.length; ++i) {
            _people.push(requesters[i]);
        }
        _people.push(sybil);
        for (uint256 i; i < nodes.length; ++i) {
            _people.push(nodes[i]);
        }
        for (uint256 i; i < owners.length; ++i) {
            _people.push(owners[i]);
        }
        _accounts = _people;
        for (uint256 i; i < consumers.length; ++i) {
            _accounts.push(consumers[i]);
        }
    }

    function _actor(string memory role, uint256 i) internal returns (address a) {
        a = actor(role, i);
        vm.label(a, string.concat(role, "-", string(abi.encodePacked(bytes1(uint8(48 + i))))));
    }

    /// @notice Funds and approves every account, stakes and registers the nodes for every mode, creates one model
    /// per owner. Run once by the test's `setUp` (it is not a fuzz target).
    function bootstrap(IModelRegistry.VersionInput memory input) external {
        for (uint256 i; i < _accounts.length; ++i) {
            token.mint(_accounts[i], 1e9 * TOKEN);
            vm.startPrank(_accounts[i]);
            token.approve(address(escrow), type(uint256).max);
            token.approve(address(staking), type(uint256).max);
            vm.stopPrank();
        }
        for (uint256 i; i < nodes.length; ++i) {
            vm.startPrank(nodes[i]);
            staking.stake(1_000 * TOKEN);
            staking.register(ALL_MODES);
            vm.stopPrank();
        }
        for (uint256 i; i < owners.length; ++i) {
            vm.prank(owners[i]);
            models.push(registry.createModelAndPublish(uint96((i + 1) * TOKEN), input));
        }
    }

    /* REQUESTERS */

    /// @notice A requester asks for a vanilla k = 1, vanilla k = 3 or 5, TEE k = 1 or ZK k = 1 job (kinds 0 to 3;
    /// kind 4 is TEE again); a consumer contract requests its own job with itself as the callback.
    function request(
        uint256 requesterSeed,
        uint256 kindSeed,
        uint256 feeSeed,
        uint256 collateralSeed,
        uint256 durationSeed,
        uint256 callbackSeed
    ) external {
        IJobEscrow.RequestParams memory p = _requestParams(kindSeed, feeSeed, collateralSeed, durationSeed);
        address requester = requesters[requesterSeed % requesters.length];
        uint256 c = callbackSeed % 5;
        uint32 maxGas = escrow.parameters().maxCallbackGas;
        if (c < consumers.length && maxGas > 0) {
            requester = consumers[c];
            p.callback = requester;
            p.callbackGasLimit = uint32(clamp(callbackSeed >> 8, 1, _min(maxGas, 300_000)));
        }
        _request(requester, p);
    }

    /// @notice The Sybil requester asks for a vanilla k = 3 job at the highest collateral allowed and has its two
    /// colluding nodes claim first; an honest node takes the third slot. If they all reveal, the colluders'
    /// wrong answer wins and the honest node must be released: neither paid nor slashed.
    function sybilRequest(uint256 modelSeed, uint256 feeSeed, uint256 durationSeed, uint256 honestSeed) external {
        IJobEscrow.RequestParams memory p = _requestParams(modelSeed << 8, feeSeed, 0, durationSeed);
        (p.mode, p.redundancy, p.inputCommitment) = (ModesLib.VANILLA, 3, bytes32(0));
        p.collateral = uint96(_min(uint256(p.feePerNode) * escrow.parameters().maxCollateralRatio, MAX_COLLATERAL));
        (p.maxTotal,,) = escrow.quote(p.modelId, p.version, p.mode, p.redundancy, p.feePerNode);
        (bool ok, IJobEscrow.Job memory job) = _request(sybil, p);
        if (!ok) return;
        ++sybilJobs;
        _claimOne(job, nodes[4]);
        _claimOne(job, nodes[5]);
        _claimOne(job, nodes[honestSeed % 2]);
    }

    /// @notice A requester asks for a k = 1 job (vanilla, TEE or ZK) that only one node may serve (`requestFor`; TEE
    /// jobs mostly go to the TEE operators, nodes 0 and 1). The assignee's locked stake must not change.
    function requestFor(
        uint256 requesterSeed,
        uint256 kindSeed,
        uint256 feeSeed,
        uint256 collateralSeed,
        uint256 durationSeed,
        uint256 nodeSeed
    ) external {
        IJobEscrow.RequestParams memory p = _requestParams(kindSeed, feeSeed, collateralSeed, durationSeed);
        if (p.redundancy != 1) {
            p.redundancy = 1;
            (p.maxTotal,,) = escrow.quote(p.modelId, p.version, p.mode, 1, p.feePerNode);
        }
        address node =
            p.mode == ModesLib.TEE && nodeSeed % 2 == 0 ? nodes[(nodeSeed / 2) % 2] : nodes[nodeSeed % nodes.length];
        _sendFor(requesters[requesterSeed % requesters.length], p, node);
    }

    /// @dev Sends `requestFor` (while paused it must fail with `JobEscrowRequestsPaused`); a job that is created is
    /// recorded with its assignee, checked to be the next id, to have cost exactly its total, to be announced by
    /// `JobAssigned` and to have locked nothing.
    function _sendFor(address requester, IJobEscrow.RequestParams memory p, address node) internal {
        bool paused = escrow.paused();
        (uint256 balance, uint256 locked) = (token.balanceOf(requester), escrow.lockedStake(node));
        vm.recordLogs();
        vm.prank(requester);
        (bool ok, bytes memory ret) = address(escrow).call(abi.encodeCall(escrow.requestFor, (p, node)));
        if (paused) {
            if (ok) ++pausedRequestAccepted;
            else _expectError(ret, abi.encodeWithSelector(IJobEscrow.JobEscrowRequestsPaused.selector));
            return;
        }
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        Vm.Log[] memory logs = vm.getRecordedLogs();
        IJobEscrow.Job memory job = _requestedJob(logs);
        uint64 id = JobId.unwrap(job.id);
        if (abi.decode(ret, (uint64)) != id || id != _jobs.length + 1 || job.requester != requester) ++wrongError;
        if (!_announced(logs, id, node) || escrow.stateOf(job.id).assignee != node) ++wrongError;
        if (balance - token.balanceOf(requester) != _total(job)) ++paymentMismatch;
        if (escrow.lockedStake(node) != locked) ++assignmentLocked;
        _recordJob(job);
        _assignee[id] = node;
        ++assignedJobs;
    }

    /// @notice Another node tries to take an open assigned job: claiming its slot must fail with
    /// `JobEscrowJobAssigned`, submitting the right answer (as if copied from the mempool) with `JobEscrowNotAssigned`.
    function stealAssigned(uint256 jobSeed, uint256 nodeSeed, bool claimIt) external {
        uint256 n = _jobs.length;
        for (uint256 j; j < n; ++j) {
            IJobEscrow.Job memory job = _jobs[(jobSeed % n + j) % n];
            address assignee = _assignee[JobId.unwrap(job.id)];
            if (assignee == address(0) || resolutions[JobId.unwrap(job.id)] != 0) continue;
            if (block.timestamp >= job.deadline) continue;
            address thief = nodes[nodeSeed % nodes.length];
            if (thief == assignee) thief = nodes[(nodeSeed % nodes.length + 1) % nodes.length];
            bytes memory expected = claimIt
                ? abi.encodeWithSelector(IJobEscrow.JobEscrowJobAssigned.selector, job.id, assignee)
                : abi.encodeWithSelector(IJobEscrow.JobEscrowNotAssigned.selector, job.id, thief);
            bytes memory data = claimIt
                ? abi.encodeCall(escrow.claimSlot, (job))
                : abi.encodeCall(escrow.submit, (job, _answer(job), bytes("")));
            vm.prank(thief);
            (bool ok, bytes memory err) = address(escrow).call(data);
            if (ok) ++assignedJobTaken;
            else _expectError(err, expected);
            return;
        }
    }

    /// @notice A request that breaks one rule must fail with that rule's error: an even or too large redundancy,
    /// collateral outside [minCollateral, feePerNode * maxCollateralRatio], a callback other than the requester,
    /// a redundant ZK job, a ZK commitment of 2^200 or more.
    function requestRefused(uint256 which, uint256 seed) external {
        address requester = requesters[seed % requesters.length];
        IJobEscrow.Parameters memory params = escrow.parameters();
        IJobEscrow.RequestParams memory p = _requestParams(seed % 2, seed >> 8, seed >> 16, seed >> 24);
        uint256 max = uint256(p.feePerNode) * params.maxCollateralRatio;
        uint256 rule = which % 7;
        if (rule == 3 && params.minCollateral == 0) rule = 2; // nothing is below a zero minimum
        bytes memory expected;
        if (rule == 0 || rule == 1) {
            p.redundancy = uint8(rule == 0 ? 2 * ((seed >> 32) % 5) : 9 + 2 * ((seed >> 32) % 123));
            expected = abi.encodeWithSelector(IJobEscrow.JobEscrowInvalidRedundancy.selector, p.redundancy, 7);
        } else if (rule == 2 || rule == 3) {
            p.collateral = uint96(rule == 2 ? max + 1 + (seed >> 40) % TOKEN : params.minCollateral - 1);
            expected = abi.encodeWithSelector(
                IJobEscrow.JobEscrowInvalidCollateral.selector, p.collateral, params.minCollateral, max
            );
        } else if (rule == 4) {
            (p.callback, p.callbackGasLimit) = (consumers[(seed >> 32) % consumers.length], 100_000);
            expected = abi.encodeWithSelector(IJobEscrow.JobEscrowInvalidCallback.selector, p.callback, requester);
        } else if (rule == 5) {
            (p.mode, p.redundancy) = (ModesLib.ZK, uint8(3 + 2 * ((seed >> 32) % 3)));
            p.inputCommitment = _zkCommitment(p.input);
            expected = abi.encodeWithSelector(
                IZkInferenceVerifier.ZkInferenceVerifierRedundancyUnsupported.selector, p.redundancy
            );
        } else {
            (p.mode, p.redundancy) = (ModesLib.ZK, 1);
            p.inputCommitment =
                bytes32(uint256(keccak256(abi.encode("wide", seed))) | (1 << (ZK_INPUT_BITS + (seed >> 32) % 56)));
            expected = abi.encodeWithSelector(
                IZkInferenceVerifier.ZkInferenceVerifierCommitmentOutOfRange.selector, p.inputCommitment, ZK_INPUT_BITS
            );
        }
        (p.maxTotal,,) = escrow.quote(p.modelId, p.version, p.mode, p.redundancy, p.feePerNode);
        if (escrow.paused()) expected = abi.encodeWithSelector(IJobEscrow.JobEscrowRequestsPaused.selector);
        (bool ok, bytes memory err) = _send(requester, p);
        if (ok) ++invalidRequestAccepted;
        else _expectError(err, expected);
        if (!ok) ++requestsRefused;
    }

    function _requestParams(uint256 kindSeed, uint256 feeSeed, uint256 collateralSeed, uint256 durationSeed)
        internal
        view
        returns (IJobEscrow.RequestParams memory p)
    {
        IJobEscrow.Parameters memory params = escrow.parameters();
        // TEE twice as often as the others (kind 4 is TEE too), so that mid-job revocations meet claimed jobs.
        uint256 kind = kindSeed % 5 == 4 ? 2 : kindSeed % 5;
        p.modelId = models[(kindSeed >> 8) % models.length];
        p.version = 1;
        p.mode = kind == 2 ? ModesLib.TEE : kind == 3 ? ModesLib.ZK : ModesLib.VANILLA;
        p.redundancy = kind != 1 ? 1 : (kindSeed >> 16) % 4 == 3 ? 5 : 3;
        // Half the jobs are short (at most 20 minutes), so that deadlines pass within a run and expiries happen.
        uint256 longest = uint256(params.minDuration) + ((durationSeed >> 128) % 2 == 0 ? 20 minutes : 6 hours);
        uint256 duration = clamp(durationSeed, params.minDuration, _min(params.maxDuration, longest));
        p.deadline = uint64(block.timestamp + duration);
        // The least fee whose collateral ratio reaches minCollateral, so that some collateral is always allowed.
        uint256 ratio = params.maxCollateralRatio;
        uint256 minFee = (uint256(params.minCollateral) + ratio - 1) / ratio;
        p.feePerNode = uint96(clamp(feeSeed, minFee, minFee > MAX_FEE ? minFee : MAX_FEE));
        p.collateral =
            uint96(clamp(collateralSeed, params.minCollateral, _min(uint256(p.feePerNode) * ratio, MAX_COLLATERAL)));
        p.input = abi.encodePacked("input-", durationSeed % 1000);
        if (kind == 3) p.inputCommitment = _zkCommitment(p.input);
        (p.maxTotal,,) = escrow.quote(p.modelId, p.version, p.mode, p.redundancy, p.feePerNode);
    }

    /// @dev Requests `p` as `requester`; while paused the request must fail with `JobEscrowRequestsPaused`.
    function _request(address requester, IJobEscrow.RequestParams memory p)
        internal
        returns (bool ok, IJobEscrow.Job memory job)
    {
        bytes memory err;
        if (escrow.paused()) {
            (ok, err) = _send(requester, p);
            if (ok) ++pausedRequestAccepted;
            else _expectError(err, abi.encodeWithSelector(IJobEscrow.JobEscrowRequestsPaused.selector));
            return (false, job);
        }
        (ok, err) = _send(requester, p);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(err, 0x20), mload(err))
            }
        }
        job = _jobs[_jobs.length - 1];
    }

    /// @dev Sends a request (a consumer requests through its own `request`, paying from its tokens); a job that is
    /// created is recorded, checked to be the next id and to have cost exactly its total.
    function _send(address requester, IJobEscrow.RequestParams memory p) internal returns (bool ok, bytes memory ret) {
        uint256 balance = token.balanceOf(requester);
        vm.recordLogs();
        if (_indexOf(consumers, requester) != type(uint256).max) {
            (ok, ret) = requester.call(abi.encodeCall(SelfRequester.request, (p)));
        } else {
            vm.prank(requester);
            (ok, ret) = address(escrow).call(abi.encodeCall(escrow.request, (p)));
        }
        if (!ok) return (ok, ret);
        IJobEscrow.Job memory job = _requestedJob(vm.getRecordedLogs());
        uint64 id = JobId.unwrap(job.id);
        if (abi.decode(ret, (uint64)) != id || id != _jobs.length + 1 || job.requester != requester) ++wrongError;
        if (balance - token.balanceOf(requester) != _total(job)) ++paymentMismatch;
        _recordJob(job);
    }

    /* NODES */

    /// @notice Nodes claim the next slots of an open job, one to three of them in a row (TEE jobs mostly go to
    /// the TEE operators, nodes 0 and 1).
    function claimSlot(uint256 jobSeed, uint256 nodeSeed, uint256 count) external {
        (bool found, IJobEscrow.Job memory job) = _findJob(jobSeed, Need.Claimable);
        if (!found) return;
        count = 1 + count % 3;
        for (uint256 i; i < count; ++i) {
            uint256 seed = nodeSeed % nodes.length + i;
            _claimOne(
                job, job.mode == ModesLib.TEE && seed % 2 == 0 ? nodes[(seed / 2) % 2] : nodes[seed % nodes.length]
            );
        }
    }

    function _claimOne(IJobEscrow.Job memory job, address node) internal {
        IJobEscrow.JobState memory state = escrow.stateOf(job.id);
        if (state.filled >= job.redundancy || _holdsSlot(job, node)) return;
        if (!staking.isEligible(node, Mode.unwrap(job.mode), job.collateral)) {
            // Stake already locked elsewhere (or below the minimum) cannot back another job.
            bytes memory expected = staking.isEligible(node, Mode.unwrap(job.mode), 0)
                ? abi.encodeWithSelector(
                    IJobEscrow.JobEscrowInsufficientStake.selector, node, staking.availableStake(node), job.collateral
                )
                : abi.encodeWithSelector(IJobEscrow.JobEscrowNodeIneligible.selector, job.id, node);
            vm.prank(node);
            try escrow.claimSlot(job) {
                ++lockedStakeWithdrawn;
                _recordClaim(job, node);
            } catch (bytes memory err) {
                _expectError(err, expected);
            }
            return;
        }
        vm.prank(node);
        uint8 slot = escrow.claimSlot(job);
        if (slot != state.filled) ++wrongError;
        _recordClaim(job, node);
    }

    /// @notice The node of a k = 1 job delivers according to its behaviour (lazy nodes never do): vanilla as is,
    /// TEE signed by its live enclave key (without one, the verifier must refuse with the exact reason), ZK with
    /// a proof of its output for the job's commitment (a copier replays another job's proof, which must fail).
    function submit(uint256 jobSeed, uint256 noiseSeed) external {
        (bool found, IJobEscrow.Job memory job) = _findJob(jobSeed, Need.Submittable);
        if (!found) return;
        address node = _server(job);
        if (behaviourOf[node] == Behaviour.Lazy) return;
        if (_ineligibleAssignee(job, node)) return _submitIneligible(job, node);
        if (job.mode == ModesLib.TEE) return _submitTee(job, node, noiseSeed);
        if (job.mode == ModesLib.ZK) return _submitZk(job, node, noiseSeed);
        bytes memory output = _output(job, node, noiseSeed);
        _observe(job, node, abi.encodeCall(escrow.submit, (job, output, "")), Act.Submit, keccak256(output));
    }

    /// @dev An assignee without the job's collateral unlocked (or below the minimum stake) is refused, whatever its
    /// result: it agrees to the job only by submitting, and must then be able to back it.
    function _submitIneligible(IJobEscrow.Job memory job, address node) internal {
        bytes memory expected = staking.isEligible(node, Mode.unwrap(job.mode), 0)
            ? abi.encodeWithSelector(
                IJobEscrow.JobEscrowInsufficientStake.selector, node, staking.availableStake(node), job.collateral
            )
            : abi.encodeWithSelector(IJobEscrow.JobEscrowNodeIneligible.selector, job.id, node);
        vm.prank(node);
        try escrow.submit(job, _answer(job), "") {
            ++assignedJobTaken;
        } catch (bytes memory err) {
            _expectError(err, expected);
        }
    }

    function _submitTee(IJobEscrow.Job memory job, address node, uint256 seed) internal {
        bytes memory output = _output(job, node, seed);
        (bool live, uint256 key) = enclaves.liveKeyOf(node);
        if (!live) key = enclaves.keyAt(seed);
        bytes memory proof = _sign(job, node, output, key);
        bytes memory refusal = enclaves.refusal(key, node);
        if (refusal.length != 0) {
            vm.prank(node);
            try escrow.submit(job, output, proof) {
                ++replayAccepted;
            } catch (bytes memory err) {
                _expectError(err, refusal);
            }
            return;
        }
        _observe(job, node, abi.encodeCall(escrow.submit, (job, output, proof)), Act.Submit, keccak256(output));
        if (++acceptances[keccak256(proof)] > 1) ++replayAccepted;
        _acceptedProofs.push(proof);
        _acceptedOutputs.push(output);
    }

    function _submitZk(IJobEscrow.Job memory job, address node, uint256 seed) internal {
        if (behaviourOf[node] == Behaviour.Copier) return _replayZk(job, node, seed);
        (bytes memory output, bytes memory proof) = _zkResult(job, node, seed);
        _observe(job, node, abi.encodeCall(escrow.submit, (job, output, proof)), Act.Submit, keccak256(output));
        _zkResults.push(ZkResult({inputHash: job.inputHash, output: output, proof: proof}));
        ++zkSettled;
    }

    /// @dev A proof of another commitment carries over to no other job: the signal binds all 200 bits.
    function _replayZk(IJobEscrow.Job memory job, address node, uint256 seed) internal {
        for (uint256 j; j < _zkResults.length; ++j) {
            ZkResult memory r = _zkResults[(seed + j) % _zkResults.length];
            if (r.inputHash == job.inputHash) continue;
            vm.prank(node);
            try escrow.submit(job, r.output, r.proof) {
                ++replayAccepted;
            } catch (bytes memory err) {
                _expectError(
                    err, abi.encodeWithSelector(IZkInferenceVerifier.ZkInferenceVerifierInvalidProof.selector, job.id)
                );
            }
            return;
        }
    }

    /// @notice A node settles up to three of its k = 1 vanilla or ZK jobs (ZK: of one model) with one
    /// `submitBatch`; each job is paid exactly its terms and resolves once (a job listed twice must revert the
    /// whole batch).
    function submitBatch(uint256 jobSeed, uint256 countSeed, bool duplicate) external {
        (bool found, IJobEscrow.Job memory first) = _findJob(jobSeed, Need.Submittable);
        if (!found || first.mode == ModesLib.TEE) return;
        address node = _server(first);
        if (_ineligibleAssignee(first, node)) return;
        Behaviour b = behaviourOf[node];
        if (b == Behaviour.Lazy || (b == Behaviour.Copier && first.mode == ModesLib.ZK)) return;
        IJobEscrow.Job[] memory picked = new IJobEscrow.Job[](1 + countSeed % 3);
        uint256 n;
        for (uint256 j; j < _jobs.length && n < picked.length; ++j) {
            uint256 at = (jobSeed % _jobs.length + j) % _jobs.length;
            if (resolutions[JobId.unwrap(_jobs[at].id)] != 0) continue;
            IJobEscrow.Job memory job = _jobs[at];
            if (job.verifier != first.verifier || ModelId.unwrap(job.modelId) != ModelId.unwrap(first.modelId)) {
                continue;
            }
            IJobEscrow.JobState memory state = escrow.stateOf(job.id);
            if (state.status != IJobEscrow.JobStatus.Open || !_fits(job, state, Need.Submittable)) continue;
            if (_server(job) == node && !_ineligibleAssignee(job, node)) picked[n++] = job;
        }
        IJobEscrow.Job[] memory jobs = new IJobEscrow.Job[](duplicate ? n + 1 : n);
        for (uint256 i; i < jobs.length; ++i) {
            jobs[i] = picked[i < n ? i : 0];
        }
        (bytes[] memory outputs, bytes memory proof) = _batchResults(jobs, node, countSeed);
        if (duplicate) {
            vm.prank(node);
            try escrow.submitBatch(jobs, outputs, proof) {
                ++closedJobReopened;
            } catch (bytes memory err) {
                _expectError(
                    err,
                    abi.encodeWithSelector(
                        IJobEscrow.JobEscrowJobNotOpen.selector, jobs[0].id, IJobEscrow.JobStatus.Settled
                    )
                );
            }
            return;
        }
        _observeBatch(jobs, outputs, proof, node);
        if (first.mode == ModesLib.ZK) zkSettled += n;
    }

    function _batchResults(IJobEscrow.Job[] memory jobs, address node, uint256 seed)
        internal
        view
        returns (bytes[] memory outputs, bytes memory proof)
    {
        outputs = new bytes[](jobs.length);
        if (jobs[0].mode != ModesLib.ZK) {
            for (uint256 i; i < jobs.length; ++i) {
                outputs[i] = _output(jobs[i], node, seed);
            }
            return (outputs, "");
        }
        uint256[] memory packed = new uint256[](jobs.length);
        IGroth16Verifier.Proof[] memory proofs = new IGroth16Verifier.Proof[](jobs.length);
        for (uint256 i; i < jobs.length; ++i) {
            packed[i] = _zkPacked(jobs[i], node, seed);
            outputs[i] = abi.encodePacked(uint48(packed[i]));
            proofs[i] = TrapdoorGroth16Lib.prove(_zkSignal(jobs[i].inputHash, packed[i]));
        }
        proof = abi.encode(packed, proofs);
    }

    /// @dev A batch settles each job as one submission would: the node earns every fee, each model owner its
    /// price, the protocol every protocol fee, no one else anything; each callback is delivered once.
    function _observeBatch(IJobEscrow.Job[] memory jobs, bytes[] memory outputs, bytes memory proof, address node)
        internal
    {
        uint256[] memory before = _claimables();
        vm.recordLogs();
        vm.prank(node);
        escrow.submitBatch(jobs, outputs, proof);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256[] memory expected = new uint256[](before.length);
        for (uint256 i; i < jobs.length; ++i) {
            IJobEscrow.Job memory job = jobs[i];
            uint64 id = JobId.unwrap(job.id);
            _recordDelivery(job, node, keccak256(outputs[i]));
            Events memory ev = _read(job, logs, true);
            if (ev.resolved != 1 || !ev.settled || ev.agreeing != 1 || ev.slashes + ev.excuses != 0) {
                _mismatch("batch settlement");
            }
            _checkCallback(job, true, ev);
            expected[_indexOf(_accounts, node)] += job.feePerNode;
            expected[_indexOf(_accounts, job.modelOwner)] += job.modelFee;
            expected[before.length - 1] += job.protocolFee;
            paidOut[id] += uint256(job.feePerNode) + job.modelFee + job.protocolFee;
            (protocolAccrued[id], protocolDue[id], requesterCap[id]) =
            (job.protocolFee, _protocolShare(job, 1), _total(job));
            ++settled;
        }
        uint256[] memory afterwards = _claimables();
        for (uint256 i; i < before.length; ++i) {
            if (afterwards[i] - before[i] != expected[i]) {
                ++paymentMismatch;
                if (i == before.length - 1) ++protocolFeeMismatch;
            }
        }
        ++batchesSettled;
    }

    /// @notice The node of a TEE job replays a signature already accepted for another job: it must fail, as the
    /// signed digest names the job, so the signature recovers to some unregistered key.
    function replaySignature(uint256 jobSeed, uint256 proofSeed) external {
        if (_acceptedProofs.length == 0) return;
        (bool found, IJobEscrow.Job memory job) = _findJob(jobSeed, Need.Submittable);
        if (!found || job.mode != ModesLib.TEE) return;
        address node = _server(job);
        if (_ineligibleAssignee(job, node)) return;
        uint256 i = proofSeed % _acceptedProofs.length;
        IInferenceVerifier.InferenceClaim memory c = _claim(job, node, _acceptedOutputs[i]);
        (address signer, ECDSA.RecoverError error,) =
            ECDSA.tryRecover(tee.resultDigest(c, address(escrow)), _acceptedProofs[i]);
        bytes memory expected = error == ECDSA.RecoverError.NoError
            ? abi.encodeWithSelector(ITeeVerifier.TeeVerifierUnknownEnclave.selector, signer)
            : abi.encodeWithSelector(ITeeVerifier.TeeVerifierInvalidSignature.selector);
        vm.prank(node);
        try escrow.submit(job, _acceptedOutputs[i], _acceptedProofs[i]) {
            ++replayAccepted;
        } catch (bytes memory err) {
            _expectError(err, expected);
        }
    }

    /// @notice Governance revokes the enclave key of the node holding an open TEE job, in mid-job: unless it
    /// delivers with another key, the node must be excused at expiry, not slashed.
    function disruptClaimant(uint256 jobSeed) external {
        uint256 n = _jobs.length;
        for (uint256 j; j < n; ++j) {
            uint256 at = (jobSeed % n + j) % n;
            if (resolutions[JobId.unwrap(_jobs[at].id)] != 0 || _jobs[at].mode != ModesLib.TEE) continue;
            IJobEscrow.Job memory job = _jobs[at];
            if (escrow.stateOf(job.id).status != IJobEscrow.JobStatus.Open) continue;
            address[] memory claimers = _claimers[JobId.unwrap(job.id)];
            if (claimers.length == 0) continue;
            (bool live,) = enclaves.liveKeyOf(claimers[0]);
            if (live) return enclaves.disrupt(claimers[0]);
        }
    }

    /// @notice Nodes of a k > 1 job commit according to their behaviour, one or all of them; a copier reuses a
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
            bytes memory output = _output(job, node, noiseSeed);
            bytes32 salt = keccak256(abi.encode("salt", job.id, node, noiseSeed));
            _committedOutput[JobId.unwrap(job.id)][node] = output;
            _committedSalt[JobId.unwrap(job.id)][node] = salt;
            commitment = keccak256(abi.encode(job.id, node, keccak256(output), salt));
        }
        vm.prank(node);
        escrow.commit(job, commitment);
        _recordCommit(job, node);
    }

    /// @notice Nodes of a k > 1 job reveal what they committed, one or all of them; a copier tries to reveal the
    /// copied answer and must fail.
    function reveal(uint256 jobSeed, uint256 slotSeed, bool all) external {
        (bool found, IJobEscrow.Job memory job) = _findJob(jobSeed, Need.Revealable);
        if (!found) return;
        uint8 filled = escrow.stateOf(job.id).filled;
        uint64 id = JobId.unwrap(job.id);
        for (uint256 i; i < (all ? filled : 1); ++i) {
            if (escrow.stateOf(job.id).status != IJobEscrow.JobStatus.Open) return; // the last reveal settled it
            (bool any, address node) = _slotIn(job, filled, slotSeed % filled + i, IJobEscrow.SlotPhase.Committed);
            if (!any) return;
            if (behaviourOf[node] == Behaviour.Copier) {
                _copierReveal(job, filled, node, slotSeed);
                continue;
            }
            bytes memory output = _committedOutput[id][node];
            bytes memory data = abi.encodeCall(escrow.reveal, (job, output, _committedSalt[id][node], ""));
            _observe(job, node, data, Act.Reveal, keccak256(output));
        }
    }

    /// @notice Anyone resolves a job; before its time, the call must revert with `JobEscrowNotExpired`.
    function expire(uint256 jobSeed, uint256 callerSeed, bool early) external {
        (bool found, IJobEscrow.Job memory job) = _findJob(jobSeed, early ? Need.Any : Need.Expirable);
        if (!found) return;
        IJobEscrow.JobState memory state = escrow.stateOf(job.id);
        bool revealing = job.redundancy > 1 && state.committed == job.redundancy;
        uint64 expiresAt = revealing ? job.revealDeadline : job.deadline;
        address keeper = _people[callerSeed % _people.length];
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
        _observe(job, keeper, abi.encodeCall(escrow.expire, (job)), Act.Expire, bytes32(0));
        if (paused) ++exitsWhilePaused;
    }

    /// @notice Anyone tries to act on a closed job again: every such call must revert with `JobEscrowJobNotOpen`.
    function touchClosedJob(uint256 jobSeed, uint256 actionSeed) external {
        if (_jobs.length == 0) return;
        IJobEscrow.Job memory job = _jobs[jobSeed % _jobs.length];
        IJobEscrow.JobStatus status = escrow.stateOf(job.id).status;
        if (status == IJobEscrow.JobStatus.Open) return;
        address[] memory claimers = _claimers[JobId.unwrap(job.id)];
        address node = claimers.length == 0 ? nodes[0] : claimers[0];
        bytes memory output = _answer(job);
        bytes memory proof =
            job.mode == ModesLib.TEE ? _sign(job, node, output, enclaves.keyAt(actionSeed >> 8)) : bytes("");
        uint256 action = actionSeed % 4;
        bytes memory data = action == 0
            ? abi.encodeCall(escrow.expire, (job))
            : action == 1
                ? abi.encodeCall(escrow.submit, (job, output, proof))
                : action == 2
                    ? abi.encodeCall(escrow.claimSlot, (job))
                    : abi.encodeCall(escrow.reveal, (job, output, bytes32(0), ""));
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
                _expectError(
                    err,
                    abi.encodeWithSelector(
                        INodeStaking.NodeStakingInsufficientStake.selector, node, available, available + 1
                    )
                );
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
                _expectError(
                    err, abi.encodeWithSelector(INodeStaking.NodeStakingStillThawing.selector, node, op.thawEnd)
                );
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

    /// @notice A node (re-)registers for every mode when it holds the minimum stake.
    function register(uint256 nodeSeed) external {
        address node = nodes[nodeSeed % nodes.length];
        if (staking.operatorOf(node).staked < staking.parameters().minimumStake) return;
        vm.prank(node);
        staking.register(ALL_MODES);
    }

    /* EVERYONE */

    /// @notice A person withdraws its credits; with none, the call must revert with `JobEscrowNothingToClaim`.
    /// Consumer contracts are not pranked into claiming: they have no way to call `claim` (see the report on
    /// InferenceConsumerBase), so what they are credited stays owed, and counted by the conservation invariant.
    function claim(uint256 accountSeed) external {
        address account = _people[accountSeed % _people.length];
        uint256 owed = escrow.claimable(account);
        if (owed == 0) {
            vm.prank(account);
            try escrow.claim(account) {
                ++paymentMismatch;
            } catch (bytes memory err) {
                _expectError(err, abi.encodeWithSelector(IJobEscrow.JobEscrowNothingToClaim.selector, account));
            }
            return;
        }
        uint256 balance = token.balanceOf(account);
        bool paused = escrow.paused();
        vm.prank(account);
        uint256 amount = escrow.claim(account);
        if (amount != owed || token.balanceOf(account) - balance != owed || escrow.claimable(account) != 0) {
            ++paymentMismatch;
        }
        // A second claim in the same state finds nothing.
        vm.prank(account);
        try escrow.claim(account) {
            ++paymentMismatch;
        } catch (bytes memory err) {
            _expectError(err, abi.encodeWithSelector(IJobEscrow.JobEscrowNothingToClaim.selector, account));
        }
        if (paused) ++exitsWhilePaused;
    }

    function claimProtocolFees(uint256 callerSeed) external {
        address treasury = escrow.treasury();
        uint256 owed = escrow.protocolFees();
        uint256 balance = token.balanceOf(treasury);
        vm.prank(_people[callerSeed % _people.length]);
        uint256 amount = escrow.claimProtocolFees();
        if (amount != owed || token.balanceOf(treasury) - balance != owed || escrow.protocolFees() != 0) {
            ++paymentMismatch;
        }
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
        return _accounts;
    }

    function nodeCount() external view returns (uint256) {
        return nodes.length;
    }

    function nodeList() external view returns (address[] memory) {
        return nodes;
    }

    /// @notice What the invariants read of each job, in one call rather than a few per job.
    struct Summary {
        JobId id;
        uint256 total;
        uint256 collateral;
        uint256 paidOut;
        uint256 resolutions;
    }

    function summaries() external view returns (Summary[] memory out) {
        out = new Summary[](_jobs.length);
        for (uint256 i; i < out.length; ++i) {
            IJobEscrow.Job storage job = _jobs[i];
            uint64 id = JobId.unwrap(job.id);
            uint256 total_ = uint256(job.modelFee) + uint256(job.feePerNode) * job.redundancy + job.protocolFee;
            out[i] = Summary({
                id: job.id,
                total: total_,
                collateral: job.collateral,
                paidOut: paidOut[id],
                resolutions: resolutions[id]
            });
        }
    }

    /// @notice Per node: stake it moved to thawing, and stake that left thawing (restaked, withdrawn, slashed).
    function thawLedger()
        external
        view
        returns (address[] memory nodes_, uint256[] memory moved, uint256[] memory left)
    {
        (nodes_, moved, left) = (nodes, new uint256[](nodes.length), new uint256[](nodes.length));
        for (uint256 k; k < nodes.length; ++k) {
            address node = nodes[k];
            (moved[k], left[k]) = (unstaked[node], restaked[node] + withdrawn[node] + slashedFromThawing[node]);
        }
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

    function _seenCommitment(IJobEscrow.Job memory job, uint8 filled, uint256 seed)
        internal
        view
        returns (bool, bytes32)
    {
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

    /// @dev The node that serves a submittable k = 1 job: its assignee, or the node that claimed its slot.
    function _server(IJobEscrow.Job memory job) internal view returns (address) {
        uint64 id = JobId.unwrap(job.id);
        return _assignee[id] != address(0) ? _assignee[id] : _claimers[id][0];
    }

    /// @dev Whether `job` is assigned and `node` could not back it now (the escrow checks it at submission).
    function _ineligibleAssignee(IJobEscrow.Job memory job, address node) internal view returns (bool) {
        return _assignee[JobId.unwrap(job.id)] != address(0)
            && !staking.isEligible(node, Mode.unwrap(job.mode), job.collateral);
    }

    /// @dev Whether `logs` hold `JobAssigned(id, node)` from the escrow.
    function _announced(Vm.Log[] memory logs, uint64 id, address node) internal view returns (bool) {
        for (uint256 i; i < logs.length; ++i) {
            Vm.Log memory log = logs[i];
            if (log.emitter != address(escrow) || log.topics[0] != IJobEscrow.JobAssigned.selector) continue;
            return uint64(uint256(log.topics[1])) == id && address(uint160(uint256(log.topics[2]))) == node;
        }
        return false;
    }

    function _holdsSlot(IJobEscrow.Job memory job, address node) internal view returns (bool) {
        return _indexOf(_claimers[JobId.unwrap(job.id)], node) != type(uint256).max;
    }

    /// @dev An open job fit for an action, searching forward from the one `seed` picks, so that actions find
    /// work instead of returning early.
    function _findJob(uint256 seed, Need need) internal view returns (bool, IJobEscrow.Job memory job) {
        uint256 n = _jobs.length;
        for (uint256 j; j < n; ++j) {
            uint256 i = (seed % n + j) % n;
            // A job seen resolving is closed (or invariant_resolvedExactlyOnce fails): skip it without a call.
            if (resolutions[JobId.unwrap(_jobs[i].id)] != 0) continue;
            job = _jobs[i];
            IJobEscrow.JobState memory state = escrow.stateOf(job.id);
            if (state.status == IJobEscrow.JobStatus.Open && _fits(job, state, need)) return (true, job);
        }
        return (false, job);
    }

    function _fits(IJobEscrow.Job memory job, IJobEscrow.JobState memory state, Need need)
        internal
        view
        returns (bool)
    {
        bool live = block.timestamp < job.deadline;
        if (need == Need.Claimable) return live && state.filled < job.redundancy && state.assignee == address(0);
        if (need == Need.Submittable) {
            return live && job.redundancy == 1 && (state.filled == 1 || state.assignee != address(0));
        }
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

    /// @dev What `node` answers for `job`: honest nodes (and copiers, for k = 1) the agreed answer, liars noise,
    /// colluders their shared wrong answer.
    function _output(IJobEscrow.Job memory job, address node, uint256 seed) internal view returns (bytes memory) {
        Behaviour b = behaviourOf[node];
        if (b == Behaviour.Liar) return abi.encodePacked("noise", job.id, node, uint8(seed));
        if (b == Behaviour.Colluder) return abi.encodePacked("collusion", job.id);
        return _answer(job);
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

    function _claim(IJobEscrow.Job memory job, address node, bytes memory output)
        internal
        pure
        returns (IInferenceVerifier.InferenceClaim memory)
    {
        return IInferenceVerifier.InferenceClaim({
            jobId: job.id,
            modelId: job.modelId,
            version: job.version,
            inputHash: job.inputHash,
            outputHash: keccak256(output),
            node: node
        });
    }

    function _sign(IJobEscrow.Job memory job, address node, bytes memory output, uint256 key)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, tee.resultDigest(_claim(job, node, output), address(escrow)));
        return abi.encodePacked(r, s, v);
    }

    /// @dev A ZK job's commitment: 200 bits, as the circuit's commitment reduced to the bits the signal binds.
    function _zkCommitment(bytes memory input) internal pure returns (bytes32) {
        return bytes32(uint256(keccak256(input)) >> (256 - ZK_INPUT_BITS));
    }

    /// @dev The 48-bit output `node` proves for `job`, per its behaviour.
    function _zkPacked(IJobEscrow.Job memory job, address node, uint256 seed) internal view returns (uint256) {
        return uint48(uint256(keccak256(_output(job, node, seed))));
    }

    function _zkSignal(bytes32 inputHash, uint256 packed) internal pure returns (uint256) {
        return (uint256(inputHash) << 48) | packed;
    }

    function _zkResult(IJobEscrow.Job memory job, address node, uint256 seed)
        internal
        view
        returns (bytes memory output, bytes memory proof)
    {
        uint256 packed = _zkPacked(job, node, seed);
        output = abi.encodePacked(uint48(packed));
        proof = abi.encode(packed, TrapdoorGroth16Lib.prove(_zkSignal(job.inputHash, packed)));
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {JobEscrow} from "../../../contracts/escrow/JobEscrow.sol";
import {NodeStaking} from "../../../contracts/staking/NodeStaking.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {ExampleConsumer} from "../../../contracts/consumer/ExampleConsumer.sol";
import {JobId, ModesLib} from "../../../contracts/types/Ids.sol";
import {EnclaveHandler} from "./EnclaveHandler.sol";
import {Vm} from "../utils/Vm.sol";

/// @title ProtocolModel
/// @notice The handlers' model of the world, kept apart from the contracts: what each node did in each job (as
/// the escrow accepted it), who must be paid, released, slashed or excused when a job resolves, and what every
/// account must be credited, to the wei. `_observe` makes a call, reads its events and compares them and every
/// balance change with the model; the invariants read the ghosts and counters this leaves.
/// @dev The rules modelled (IJobEscrow): a node that delivered (k = 1: submitted; k > 1: revealed) is never
/// slashed; a revealer outvoted by the majority is released unpaid; a slot that did not deliver is slashed unless
/// its TEE operator was disrupted by governance between the claim and the deadline it missed (then excused); a
/// job that expires before every slot committed slashes only the slots without a commitment; a job assigned by
/// `requestFor` locks nothing and slashes no one: its assignee is paid if it submits, else the requester is refunded
/// in full. The requester gets back the unpaid node fees
/// and the protocol fee on them; the protocol keeps protocolFee * (modelFee + agreeing * fee) / (modelFee + k * fee).
abstract contract ProtocolModel {
    /// @notice What a node did in a job, as far as the escrow accepted it.
    enum Did {
        Nothing,
        Claimed,
        Committed,
        Delivered
    }

    /// @notice What must happen to a slot when its job resolves.
    enum Fate {
        Paid,
        Released,
        Slashed,
        Excused
    }

    /// @notice The call being observed.
    enum Act {
        Submit,
        Reveal,
        Expire
    }

    /// @notice What the events of one observed call said.
    struct Events {
        uint256 resolved;
        bool settled;
        uint8 agreeing;
        uint256 refund;
        uint8 reason;
        uint256 slashes;
        address[] slashed;
        uint256[] amounts;
        uint256[] toRequester;
        uint256 excuses;
        address[] excused;
        uint256 callbacks;
        address consumer;
        bool callbackSucceeded;
    }

    /// @notice What the model says a resolution does.
    struct Expected {
        bool settles;
        uint8 agreeing;
        bool majority;
        Fate[] fates;
    }

    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant BPS = 10_000;
    uint256 internal constant MAX_REDUNDANCY = 7;

    TestToken public immutable token;
    JobEscrow public immutable escrow;
    NodeStaking public immutable staking;
    EnclaveHandler public immutable enclaves;

    address[] public requesters;
    address[] public nodes;
    address[] public owners;
    address[] public consumers;
    /// @notice Every account the escrow may credit (requesters, consumers, nodes, owners), in a fixed order.
    address[] internal _accounts;

    /* GHOSTS */

    /// @notice Every job requested, in id order (the terms as emitted by `JobRequested`).
    IJobEscrow.Job[] internal _jobs;
    /// @notice Who claimed each job's slots, in slot order, when, and what they did.
    mapping(uint64 => address[]) internal _claimers;
    mapping(uint64 => mapping(address => uint64)) internal _claimedAt;
    mapping(uint64 => mapping(address => Did)) internal _did;
    mapping(uint64 => mapping(address => bytes32)) internal _deliveredHash;
    mapping(uint64 => uint8) internal _commits;
    /// @notice The node a job was assigned to by `requestFor` (zero for jobs open to claims): it holds no slot, so
    /// it is never slashed or released; it is paid when it delivers.
    mapping(uint64 => address) internal _assignee;
    mapping(uint64 => uint8) internal _reveals;

    /// @notice `JobSettled` + `JobRefunded` events seen per job id.
    mapping(uint64 => uint256) public resolutions;
    /// @notice What the escrow credited for a job (fees, refunds), not counting slashed stake that came in.
    mapping(uint64 => uint256) public paidOut;
    /// @notice Per job: what its requester was credited, and the most it may be (escrowed total plus its share
    /// of slashes of nodes that did not deliver).
    mapping(uint64 => uint256) public requesterCredited;
    mapping(uint64 => uint256) public requesterCap;
    /// @notice Per job: protocol fee accrued (slash remainders aside), and the model's share for its agreeing nodes.
    mapping(uint64 => uint256) public protocolAccrued;
    mapping(uint64 => uint256) public protocolDue;
    /// @notice Per operator: stake slashed from thawing.
    mapping(address => uint256) public slashedFromThawing;

    /// @notice Things that must never happen, counted rather than reverted so the fuzzer reports them as broken
    /// invariants with their call sequence.
    uint256 public slashBeyondCap;
    uint256 public paymentMismatch;
    uint256 public deliveredSlashed;
    uint256 public requesterPaidFromDelivered;
    uint256 public requesterOverCredited;
    uint256 public excusedSlashed;
    uint256 public fateMismatch;
    uint256 public protocolFeeMismatch;
    uint256 public callbackMismatch;
    uint256 public jobsBreakingRules;
    uint256 public wrongError;
    bytes public lastWrongError;
    /// @notice Why the last model mismatch was counted (for the failure report).
    string public lastMismatch;

    /// @notice What the run reached.
    uint256 public settled;
    uint256 public settledByMajority;
    uint256 public refunded;
    uint256 public slashes;
    uint256 public excusedNodes;
    uint256 public dissentersReleased;

    /// @dev Stake of every node before the call being observed, for the slash checks.
    mapping(address => INodeStaking.Operator) internal _before;
    uint256 internal _maxSlashBpsBefore;

    constructor(TestToken token_, JobEscrow escrow_, NodeStaking staking_, EnclaveHandler enclaves_) {
        (token, escrow, staking, enclaves) = (token_, escrow_, staking_, enclaves_);
    }

    /* GHOST UPDATES */

    /// @dev Records a job the escrow created, and counts it if its terms break a request rule (they never change).
    function _recordJob(IJobEscrow.Job memory job) internal {
        IJobEscrow.Parameters memory p = escrow.parameters();
        _jobs.push(job);
        bool oddK = job.redundancy % 2 == 1 && job.redundancy <= MAX_REDUNDANCY;
        uint256 maxCollateral = uint256(job.feePerNode) * p.maxCollateralRatio;
        if (!oddK || job.collateral > maxCollateral || job.collateral < p.minCollateral) ++jobsBreakingRules;
    }

    function _recordClaim(IJobEscrow.Job memory job, address node) internal {
        uint64 id = JobId.unwrap(job.id);
        _claimers[id].push(node);
        _claimedAt[id][node] = uint64(block.timestamp);
        _did[id][node] = Did.Claimed;
    }

    function _recordCommit(IJobEscrow.Job memory job, address node) internal {
        uint64 id = JobId.unwrap(job.id);
        _did[id][node] = Did.Committed;
        ++_commits[id];
    }

    function _recordDelivery(IJobEscrow.Job memory job, address node, bytes32 outputHash) internal {
        uint64 id = JobId.unwrap(job.id);
        _did[id][node] = Did.Delivered;
        _deliveredHash[id][node] = outputHash;
        if (job.redundancy > 1) ++_reveals[id];
    }

    /* OBSERVATION */

    /// @dev Makes `caller`'s call `data` on `job` (a submission or reveal of `outputHash`, or an expiry), which must
    /// succeed, and checks what it did against the model: whether it resolved the job, how, every slash and excuse,
    /// every account's credit to the wei, and the callback.
    function _observe(IJobEscrow.Job memory job, address caller, bytes memory data, Act act, bytes32 outputHash)
        internal
    {
        uint256[] memory before = _claimables();
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
        if (act != Act.Expire) _recordDelivery(job, caller, outputHash);
        Events memory ev = _read(job, vm.getRecordedLogs(), false);
        uint256[] memory delta = _claimables();
        uint256 credited;
        for (uint256 i; i < delta.length; ++i) {
            delta[i] -= before[i]; // credits only grow within one call
            credited += delta[i];
        }
        uint64 id = JobId.unwrap(job.id);
        uint256 slashedIn;
        for (uint256 i; i < ev.slashes; ++i) {
            slashedIn += ev.amounts[i];
        }
        paidOut[id] += credited - slashedIn;

        bool resolves = act != Act.Reveal || _reveals[id] == job.redundancy;
        if (ev.resolved != (resolves ? 1 : 0)) return _mismatch("resolution events");
        if (resolves) _checkResolution(job, act, ev, delta);
        else if (credited != 0 || ev.slashes + ev.excuses + ev.callbacks != 0) _mismatch("activity without resolution");
    }

    function _checkResolution(IJobEscrow.Job memory job, Act act, Events memory ev, uint256[] memory delta) internal {
        Expected memory e = _expect(job, act);
        if (ev.settled != e.settles) return _mismatch("settled or refunded");
        if (e.settles && ev.agreeing != e.agreeing) return _mismatch("agreeing");
        if (!e.settles) {
            uint8 reason = uint8(e.majority ? IJobEscrow.RefundReason.NoMajority : IJobEscrow.RefundReason.Expired);
            if (ev.refund != _total(job) || ev.reason != reason) return _mismatch("refund");
        }
        _checkFates(job, e, ev);
        _checkCredits(job, e, ev, delta);
        _checkCallback(job, e.settles, ev);
        if (!e.settles) ++refunded;
        else if (job.redundancy > 1) ++settledByMajority;
        else ++settled;
    }

    /// @dev The model: who is paid, released, slashed or excused, and whether (with how many agreeing) it settles.
    function _expect(IJobEscrow.Job memory job, Act act) internal view returns (Expected memory e) {
        uint64 id = JobId.unwrap(job.id);
        address[] memory claimers = _claimers[id];
        e.fates = new Fate[](claimers.length);
        e.majority = act == Act.Reveal || (act == Act.Expire && job.redundancy > 1 && _commits[id] == job.redundancy);
        if (act == Act.Submit) {
            (e.settles, e.agreeing) = (true, 1);
            return e; // fates[0] = Paid
        }
        bytes32 winner;
        if (e.majority) {
            uint8 count;
            (winner, count) = _tally(id, claimers);
            if (uint256(count) * 2 > job.redundancy) (e.settles, e.agreeing) = (true, count);
        }
        for (uint256 i; i < claimers.length; ++i) {
            Did did = _did[id][claimers[i]];
            if (did == Did.Delivered) {
                e.fates[i] = e.settles && _deliveredHash[id][claimers[i]] == winner ? Fate.Paid : Fate.Released;
            } else if (!e.majority && did == Did.Committed) {
                e.fates[i] = Fate.Released;
            } else {
                e.fates[i] = _faultOf(job, claimers[i]);
            }
        }
    }

    /// @dev A slot that did not deliver: excused if its TEE operator was disrupted between the claim and the deadline
    /// it missed (to submit or commit; to reveal, once committed).
    function _faultOf(IJobEscrow.Job memory job, address node) internal view returns (Fate) {
        if (job.mode != ModesLib.TEE) return Fate.Slashed;
        uint64 id = JobId.unwrap(job.id);
        uint64 missed = _did[id][node] == Did.Committed ? job.revealDeadline : job.deadline;
        return enclaves.excused(node, _claimedAt[id][node], missed) ? Fate.Excused : Fate.Slashed;
    }

    /// @dev The output delivered by the most slots (the first such) and how many delivered it.
    function _tally(uint64 id, address[] memory claimers) internal view returns (bytes32 winner, uint8 best) {
        for (uint256 i; i < claimers.length; ++i) {
            if (_did[id][claimers[i]] != Did.Delivered) continue;
            bytes32 h = _deliveredHash[id][claimers[i]];
            uint8 count;
            for (uint256 j; j < claimers.length; ++j) {
                if (_did[id][claimers[j]] == Did.Delivered && _deliveredHash[id][claimers[j]] == h) ++count;
            }
            if (count > best) (winner, best) = (h, count);
        }
    }

    /// @dev Every slash and excuse hit exactly the slot the model names, and no one who delivered was slashed.
    function _checkFates(IJobEscrow.Job memory job, Expected memory e, Events memory ev) internal {
        uint64 id = JobId.unwrap(job.id);
        address[] memory claimers = _claimers[id];
        bool[] memory hit = new bool[](claimers.length);
        for (uint256 s; s < ev.slashes; ++s) {
            address node = ev.slashed[s];
            if (_did[id][node] == Did.Delivered) {
                ++deliveredSlashed;
                if (ev.toRequester[s] != 0) ++requesterPaidFromDelivered;
            }
            uint256 i = _indexOf(claimers, node);
            if (i == type(uint256).max || hit[i]) return _mismatch("slash of a node without a slot");
            if (e.fates[i] == Fate.Excused) ++excusedSlashed;
            if (e.fates[i] != Fate.Slashed) return _mismatch("slash of a node the model spares");
            if (ev.toRequester[s] != ev.amounts[s] * job.slashBeneficiaryBps / BPS) ++paymentMismatch;
            hit[i] = true;
            ++slashes;
        }
        for (uint256 x; x < ev.excuses; ++x) {
            uint256 i = _indexOf(claimers, ev.excused[x]);
            if (i == type(uint256).max || hit[i] || e.fates[i] != Fate.Excused) {
                return _mismatch("excuse the model does not give");
            }
            hit[i] = true;
            ++excusedNodes;
        }
        for (uint256 i; i < claimers.length; ++i) {
            bool punished = e.fates[i] == Fate.Slashed || e.fates[i] == Fate.Excused;
            if (punished != hit[i]) return _mismatch("fault neither slashed nor excused");
            if (e.fates[i] == Fate.Released && _did[id][claimers[i]] == Did.Delivered) ++dissentersReleased;
        }
    }

    /// @dev Every account was credited exactly what the model says; records the requester's and protocol's share.
    function _checkCredits(IJobEscrow.Job memory job, Expected memory e, Events memory ev, uint256[] memory delta)
        internal
    {
        uint64 id = JobId.unwrap(job.id);
        uint256[] memory expected = new uint256[](delta.length);
        uint256 protocol = delta.length - 1;
        uint256 requester = _indexOf(_accounts, job.requester);
        uint256 due = e.settles ? _protocolShare(job, e.agreeing) : 0;
        uint256 cap = _total(job);
        if (e.settles) {
            expected[requester] = uint256(job.feePerNode) * (job.redundancy - e.agreeing) + job.protocolFee - due;
            expected[_indexOf(_accounts, job.modelOwner)] += job.modelFee;
            expected[protocol] = due;
        } else {
            expected[requester] = _total(job);
        }
        uint256 remainders;
        for (uint256 s; s < ev.slashes; ++s) {
            expected[requester] += ev.toRequester[s];
            remainders += ev.amounts[s] - ev.toRequester[s];
            if (_did[id][ev.slashed[s]] != Did.Delivered) cap += ev.toRequester[s];
        }
        expected[protocol] += remainders;
        address[] memory claimers = _claimers[id];
        for (uint256 i; i < claimers.length; ++i) {
            if (e.fates[i] == Fate.Paid) expected[_indexOf(_accounts, claimers[i])] += job.feePerNode;
        }
        if (e.settles && _assignee[id] != address(0)) expected[_indexOf(_accounts, _assignee[id])] += job.feePerNode;
        for (uint256 i; i < delta.length; ++i) {
            if (delta[i] == expected[i]) continue;
            ++paymentMismatch;
            lastMismatch = "credits";
        }
        uint256 accrued = delta[protocol] > remainders ? delta[protocol] - remainders : 0;
        (requesterCredited[id], requesterCap[id]) = (delta[requester], cap);
        (protocolAccrued[id], protocolDue[id]) = (accrued, due);
        // Checked here rather than per job in the invariants: a job's ghosts are written once, when it resolves.
        if (delta[requester] > cap) ++requesterOverCredited;
        if (delta[protocol] != due + remainders) ++protocolFeeMismatch;
    }

    /// @dev A job with a callback notifies its requester exactly once; ExampleConsumer stored what it was told.
    function _checkCallback(IJobEscrow.Job memory job, bool settles, Events memory ev) internal {
        if (job.callback == address(0)) {
            if (ev.callbacks != 0) ++callbackMismatch;
            return;
        }
        if (ev.callbacks != 1 || ev.consumer != job.callback || job.callback != job.requester) {
            return _callbackMismatch();
        }
        if (job.callback != consumers[0]) {
            if (ev.callbackSucceeded) ++callbackMismatch; // the burner and the reverter never succeed
            return;
        }
        // A callback that ran out of its gas limit is rolled back: the job stays pending and nothing is stored.
        ExampleConsumer consumer = ExampleConsumer(job.callback);
        if (consumer.isPending(job.id) == ev.callbackSucceeded) return _callbackMismatch();
        ExampleConsumer.Outcome memory outcome = consumer.outcomeOf(job.id);
        if (outcome.delivered != ev.callbackSucceeded || (outcome.delivered && outcome.settled != settles)) {
            _callbackMismatch();
        }
    }

    function _callbackMismatch() internal {
        ++callbackMismatch;
    }

    /// @dev The protocol's share of a job's protocol fee when `agreeing` of its nodes are paid (IJobEscrow).
    function _protocolShare(IJobEscrow.Job memory job, uint8 agreeing) internal pure returns (uint256) {
        if (agreeing == job.redundancy) return job.protocolFee;
        uint256 base = uint256(job.modelFee) + uint256(job.feePerNode) * job.redundancy;
        if (base == 0) return 0;
        return uint256(job.protocolFee) * (uint256(job.modelFee) + uint256(job.feePerNode) * agreeing) / base;
    }

    /// @dev The events of `job` among `logs` (those of other jobs are an error, unless the call was a batch).
    function _read(IJobEscrow.Job memory job, Vm.Log[] memory logs, bool batch) internal returns (Events memory ev) {
        (ev.slashed, ev.amounts, ev.toRequester) =
        (new address[](logs.length), new uint256[](logs.length), new uint256[](logs.length));
        ev.excused = new address[](logs.length);
        for (uint256 i; i < logs.length; ++i) {
            Vm.Log memory log = logs[i];
            bytes32 topic = log.topics[0];
            if (log.emitter == address(staking) && topic == INodeStaking.Slashed.selector) {
                (uint256 amount, uint256 fromThawing) = abi.decode(log.data, (uint256, uint256));
                _checkSlash(address(uint160(uint256(log.topics[1]))), amount, fromThawing, job.collateral);
            }
            if (log.emitter != address(escrow) || log.topics.length < 2) continue;
            if (uint64(uint256(log.topics[1])) != JobId.unwrap(job.id)) {
                if (!batch) _mismatch("event of another job");
                continue;
            }
            if (topic == IJobEscrow.JobSettled.selector) {
                ++ev.resolved;
                ev.settled = true;
                (ev.agreeing,) = abi.decode(log.data, (uint8, bytes));
            } else if (topic == IJobEscrow.JobRefunded.selector) {
                ++ev.resolved;
                (ev.refund, ev.reason) = abi.decode(log.data, (uint256, uint8));
            } else if (topic == IJobEscrow.NodeSlashed.selector) {
                ev.slashed[ev.slashes] = address(uint160(uint256(log.topics[2])));
                (ev.amounts[ev.slashes], ev.toRequester[ev.slashes]) = abi.decode(log.data, (uint256, uint256));
                ++ev.slashes;
            } else if (topic == IJobEscrow.NodeExcused.selector) {
                ev.excused[ev.excuses++] = address(uint160(uint256(log.topics[2])));
            } else if (topic == IJobEscrow.CallbackDelivered.selector) {
                ++ev.callbacks;
                ev.consumer = address(uint160(uint256(log.topics[2])));
                ev.callbackSucceeded = abi.decode(log.data, (bool));
            }
        }
        resolutions[JobId.unwrap(job.id)] += ev.resolved;
    }

    /// @dev A slash takes exactly the collateral, capped at `maxSlashBps` of the slashable stake (rounded up);
    /// thawing stake pays at least its pro-rata share.
    function _checkSlash(address node, uint256 amount, uint256 fromThawing, uint256 collateral) internal {
        INodeStaking.Operator memory op = _before[node];
        uint256 slashable = uint256(op.staked) + op.thawing;
        uint256 cap = (slashable * _maxSlashBpsBefore + BPS - 1) / BPS;
        if (amount != _min(collateral, cap) || amount > slashable || fromThawing > op.thawing) ++slashBeyondCap;
        if (slashable != 0 && fromThawing * slashable < amount * op.thawing) ++slashBeyondCap;
        slashedFromThawing[node] += fromThawing;
    }

    function _snapshotStakes() internal {
        for (uint256 i; i < nodes.length; ++i) {
            _before[nodes[i]] = staking.operatorOf(nodes[i]);
        }
        _maxSlashBpsBefore = staking.parameters().maxSlashBps;
    }

    /// @dev Every account's credits, the protocol's last.
    function _claimables() internal view returns (uint256[] memory c) {
        uint256 n = _accounts.length;
        c = new uint256[](n + 1);
        for (uint256 i; i < n; ++i) {
            c[i] = escrow.claimable(_accounts[i]);
        }
        c[n] = escrow.protocolFees();
    }

    /// @dev Everything the escrow owes.
    function _credits() internal view returns (uint256 sum) {
        uint256[] memory c = _claimables();
        for (uint256 i; i < c.length; ++i) {
            sum += c[i];
        }
    }

    function _mismatch(string memory why) internal {
        ++fateMismatch;
        lastMismatch = why;
    }

    function _indexOf(address[] memory list, address a) internal pure returns (uint256) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == a) return i;
        }
        return type(uint256).max;
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

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {EvaluationRegistry} from "../../../contracts/evaluation/EvaluationRegistry.sol";
import {DatasetId, EvaluationId, IEvaluationRegistry} from "../../../contracts/interfaces/IEvaluationRegistry.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {ModelRegistry} from "../../../contracts/registry/ModelRegistry.sol";
import {NodeStaking} from "../../../contracts/staking/NodeStaking.sol";
import {ModelId, ModesLib} from "../../../contracts/types/Ids.sol";
import {IGroth16VerifierFactory} from "../../../contracts/verifiers/zk/IGroth16VerifierFactory.sol";
import {TeeVerifierHarness} from "../utils/TeeVerifierHarness.sol";
import {Test, actor, clamp} from "../utils/Test.sol";

/// @title EvaluationRegistryHandler
/// @notice Drives an EvaluationRegistry's money path: three requesters ask for evaluations of one TEE model on two
/// datasets (fees up to 1,000 tokens, deadlines sometimes out of bounds), three enclave keys of two staked TEE
/// operators sign results (submitted by a relayer), governance revokes keys, requests are refunded after their
/// deadline, everyone withdraws, time passes. A model beside it predicts every outcome, down to the exact revert data,
/// and books every token in and out.
contract EvaluationRegistryHandler is Test {
    uint256 internal constant REQUESTERS = 3;
    uint256 internal constant OPERATORS = 2;
    uint256 internal constant KEYS = 3;
    uint256 internal constant MAX_FEE = 1_000e18;
    uint64 internal constant ENCLAVE_AGE = 20 days;
    bytes32 internal constant MEASUREMENT = keccak256("evaluation enclave");

    struct RequestModel {
        address requester;
        uint96 fee;
        uint64 deadline;
        DatasetId datasetId;
        IEvaluationRegistry.Status status;
    }

    struct KeyModel {
        address operator;
        uint64 expiresAt;
        bool revoked;
    }

    TestToken public immutable token;
    TeeVerifierHarness public immutable tee;
    EvaluationRegistry public immutable evaluations;
    ModelId public immutable modelId;

    mapping(uint64 id => RequestModel) internal _requests;
    uint64 public requestCount;
    mapping(address account => uint256) public modelCredits;
    mapping(address signer => KeyModel) internal _keys;

    /// @notice Tokens the registry took in fees, and paid out in withdrawals; fees of open requests.
    uint256 public deposited;
    uint256 public withdrawn;
    uint256 public openFees;
    uint256 public requested;
    uint256 public evaluated;
    uint256 public refunded;
    uint256 public withdrawals;
    uint256 public wrongError;
    bytes public lastWrongError;

    constructor() {
        token = new TestToken();
        ModelRegistry registry = new ModelRegistry(IGroth16VerifierFactory(address(0)));
        tee = new TeeVerifierHarness(registry, address(this));
        NodeStaking staking = new NodeStaking(
            token,
            address(this),
            INodeStaking.Parameters({minimumStake: 100e18, thawingPeriod: 7 days, maxSlashBps: 10_000})
        );
        evaluations = new EvaluationRegistry(token, registry, tee, staking);
        modelId = registry.createModelAndPublish(0, _teeVersion());
        for (uint256 i; i < OPERATORS; ++i) {
            address operator = operatorAt(i);
            token.mint(operator, 100e18);
            vm.startPrank(operator);
            token.approve(address(staking), 100e18);
            staking.stake(100e18);
            staking.register(uint32(1) << 1);
            vm.stopPrank();
        }
        for (uint256 i; i < KEYS; ++i) {
            address signer = vm.addr(keyAt(i));
            address operator = operatorAt(i % OPERATORS);
            vm.prank(operator);
            uint64 expiresAt = tee.registerVerified(signer, keccak256(abi.encode(signer)), MEASUREMENT, ENCLAVE_AGE);
            _keys[signer] = KeyModel({operator: operator, expiresAt: expiresAt, revoked: false});
        }
        evaluations.registerDataset(_dataset(IEvaluationRegistry.Metric.Accuracy, 500_000, 100));
        evaluations.registerDataset(_dataset(IEvaluationRegistry.Metric.MeanAbsoluteError, 2_000_000, 50));
    }

    /* REQUESTS */

    /// @notice A requester asks for an evaluation on one of the datasets, with a deadline from no time to 31 days.
    function request(uint256 requesterSeed, uint256 datasetSeed, uint256 feeSeed, uint256 durationSeed) external {
        address requester = requesterAt(requesterSeed);
        DatasetId datasetId = DatasetId.wrap(uint64(datasetSeed % 2 + 1));
        uint96 fee = uint96(clamp(feeSeed, 0, MAX_FEE));
        uint64 deadline = uint64(block.timestamp + clamp(durationSeed, 0, 31 days));
        (uint64 earliest, uint64 latest) = (uint64(block.timestamp) + 1 minutes, uint64(block.timestamp) + 30 days);
        bytes memory expected;
        if (deadline < earliest || deadline > latest) {
            expected = abi.encodeWithSelector(
                IEvaluationRegistry.EvaluationRegistryInvalidDeadline.selector, deadline, earliest, latest
            );
        }
        token.mint(requester, fee);
        vm.startPrank(requester);
        token.approve(address(evaluations), fee);
        try evaluations.requestEvaluation(modelId, 1, datasetId, fee, deadline) returns (EvaluationId id) {
            vm.stopPrank();
            if (expected.length != 0) return _wrong("took a request that should have been refused");
            if (EvaluationId.unwrap(id) != ++requestCount) _wrong("request numbered out of order");
            _requests[requestCount] = RequestModel({
                requester: requester,
                fee: fee,
                deadline: deadline,
                datasetId: datasetId,
                status: IEvaluationRegistry.Status.Open
            });
            (deposited, openFees) = (deposited + fee, openFees + fee);
            ++requested;
        } catch (bytes memory err) {
            vm.stopPrank();
            _expect(err, expected);
        }
    }

    /// @notice A relayer submits a result one of the enclave keys signed for one of the requests.
    function submit(uint256 requestSeed, uint256 keySeed, uint256 valueSeed) external {
        if (requestCount == 0) return;
        uint64 id = uint64(clamp(requestSeed, 1, requestCount));
        uint256 key = keyAt(keySeed);
        RequestModel storage m = _requests[id];
        IEvaluationRegistry.Dataset memory dataset = evaluations.datasetOf(m.datasetId);
        int64 value =
            int64(uint64(clamp(valueSeed, 0, dataset.metric == IEvaluationRegistry.Metric.Accuracy ? 1e6 : 1e12)));
        bytes memory signature = _sign(key, id, dataset, value);
        bytes memory expected = _submitError(id, m, vm.addr(key));
        vm.prank(actor("evaluation relayer", 0));
        try evaluations.submitEvaluation(
            EvaluationId.wrap(id), value, dataset.baselineValue, dataset.rowCount, signature
        ) {
            if (expected.length != 0) return _wrong("recorded a result that should have been refused");
            m.status = IEvaluationRegistry.Status.Evaluated;
            modelCredits[_keys[vm.addr(key)].operator] += m.fee;
            openFees -= m.fee;
            ++evaluated;
            IEvaluationRegistry.Result memory r = evaluations.resultOf(EvaluationId.wrap(id));
            if (r.value != value || r.enclave != vm.addr(key)) _wrong("result recorded differently");
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    function _submitError(uint64 id, RequestModel storage m, address signer) internal view returns (bytes memory) {
        KeyModel memory k = _keys[signer];
        if (m.status != IEvaluationRegistry.Status.Open) {
            return abi.encodeWithSelector(
                IEvaluationRegistry.EvaluationRegistryRequestNotOpen.selector, EvaluationId.wrap(id), m.status
            );
        }
        if (block.timestamp > m.deadline) {
            return abi.encodeWithSelector(
                IEvaluationRegistry.EvaluationRegistryDeadlinePassed.selector, EvaluationId.wrap(id), m.deadline
            );
        }
        if (k.revoked) {
            return abi.encodeWithSelector(IEvaluationRegistry.EvaluationRegistryEnclaveRevoked.selector, signer);
        }
        if (block.timestamp >= k.expiresAt) {
            return
                abi.encodeWithSelector(
                    IEvaluationRegistry.EvaluationRegistryEnclaveExpired.selector, signer, k.expiresAt
                );
        }
        return "";
    }

    /// @notice Anyone asks for the refund of one of the requests.
    function refund(uint256 requestSeed) external {
        if (requestCount == 0) return;
        uint64 id = uint64(clamp(requestSeed, 1, requestCount));
        RequestModel storage m = _requests[id];
        bytes memory expected;
        if (m.status != IEvaluationRegistry.Status.Open) {
            expected = abi.encodeWithSelector(
                IEvaluationRegistry.EvaluationRegistryRequestNotOpen.selector, EvaluationId.wrap(id), m.status
            );
        } else if (block.timestamp <= m.deadline) {
            expected = abi.encodeWithSelector(
                IEvaluationRegistry.EvaluationRegistryNotExpired.selector, EvaluationId.wrap(id), m.deadline
            );
        }
        try evaluations.refund(EvaluationId.wrap(id)) {
            if (expected.length != 0) return _wrong("refunded a request that should have been refused");
            m.status = IEvaluationRegistry.Status.Refunded;
            modelCredits[m.requester] += m.fee;
            openFees -= m.fee;
            ++refunded;
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /// @notice A requester or an operator withdraws its credits.
    function withdraw(uint256 accountSeed) external {
        address account = accountAt(accountSeed);
        address recipient = actor("evaluation recipient", accountSeed % 2);
        uint256 credit = modelCredits[account];
        bytes memory expected;
        if (credit == 0) {
            expected = abi.encodeWithSelector(IEvaluationRegistry.EvaluationRegistryNothingToWithdraw.selector, account);
        }
        uint256 before = token.balanceOf(recipient);
        vm.prank(account);
        try evaluations.withdraw(recipient) returns (uint256 amount) {
            if (expected.length != 0) return _wrong("paid credits that should have been refused");
            if (amount != credit || token.balanceOf(recipient) - before != credit) _wrong("paid another amount");
            modelCredits[account] = 0;
            withdrawn += amount;
            ++withdrawals;
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /* GOVERNANCE AND TIME */

    /// @notice Governance revokes one of the enclave keys, one call in eight (so that keys live long enough to
    /// sign).
    function revokeEnclave(uint256 keySeed) external {
        if (keySeed % 8 != 0) return;
        address signer = vm.addr(keyAt(keySeed / 8));
        KeyModel storage k = _keys[signer];
        try tee.revokeEnclave(signer) {
            if (k.revoked) return _wrong("revoked a revoked key");
            k.revoked = true;
        } catch {
            if (!k.revoked) _wrong("revocation refused");
        }
    }

    /// @notice Time passes: a second to three days.
    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + clamp(secondsSeed, 1, 3 days));
    }

    /* ACTORS */

    function requesterAt(uint256 seed) public pure returns (address) {
        return actor("evaluation requester", seed % REQUESTERS);
    }

    function operatorAt(uint256 seed) public pure returns (address) {
        return actor("evaluation operator", seed % OPERATORS);
    }

    /// @notice The requesters, then the operators.
    function accountAt(uint256 seed) public pure returns (address) {
        uint256 i = seed % (REQUESTERS + OPERATORS);
        return i < REQUESTERS ? requesterAt(i) : operatorAt(i - REQUESTERS);
    }

    function accountCount() external pure returns (uint256) {
        return REQUESTERS + OPERATORS;
    }

    function keyAt(uint256 seed) public pure returns (uint256) {
        return 0xA11CE + seed % KEYS;
    }

    function requestModel(uint64 id) external view returns (RequestModel memory) {
        return _requests[id];
    }

    /* INTERNAL */

    function _sign(uint256 key, uint64 id, IEvaluationRegistry.Dataset memory dataset, int64 value)
        internal
        view
        returns (bytes memory)
    {
        bytes32 digest = evaluations.evaluationDigest(
            IEvaluationRegistry.EvaluationResult({
                requestId: EvaluationId.wrap(id),
                modelId: modelId,
                version: 1,
                datasetId: _requests[id].datasetId,
                rowsSha256: dataset.rowsSha256,
                metric: dataset.metric,
                rowCount: dataset.rowCount,
                value: value,
                baselineValue: dataset.baselineValue
            })
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _teeVersion() internal pure returns (IModelRegistry.VersionInput memory input) {
        input.cardHash = sha256("evaluated model");
        input.cardCid = abi.encodePacked(hex"01551220", input.cardHash);
        input.files = new IModelRegistry.FileRef[](1);
        input.files[0] = IModelRegistry.FileRef({path: "model.onnx", cid: input.cardCid, sha256: input.cardHash});
        input.modes = new IModelRegistry.ModeBinding[](1);
        bytes32[] memory measurements = new bytes32[](1);
        measurements[0] = MEASUREMENT;
        input.modes[0] = IModelRegistry.ModeBinding({mode: ModesLib.TEE, verifier: address(0), bindings: measurements});
    }

    function _dataset(IEvaluationRegistry.Metric metric, int64 baseline, uint32 rows)
        internal
        pure
        returns (IEvaluationRegistry.DatasetInput memory)
    {
        return IEvaluationRegistry.DatasetInput({
            rowsCid: abi.encodePacked(hex"01551220", sha256(abi.encode(metric))),
            rowsSha256: sha256(abi.encode(metric)),
            rowCount: rows,
            metric: metric,
            baselineValue: baseline,
            name: "invariant dataset",
            split: "all rows",
            baseline: "a constant"
        });
    }

    function _expect(bytes memory err, bytes memory expected) internal {
        if (expected.length == 0 || keccak256(err) != keccak256(expected)) _wrong(string(err));
    }

    function _wrong(string memory what) internal {
        ++wrongError;
        lastWrongError = bytes(what);
    }
}

/// @title EvaluationRegistryInvariantTest
/// @notice The fee money path: the registry holds exactly the fees of open requests plus everyone's credits, which is
/// what came in minus what went out; each account's credits and each request's status are what the model says; and
/// every call ended as the model said, with the exact error.
contract EvaluationRegistryInvariantTest is Test {
    EvaluationRegistryHandler internal handler;

    function setUp() public {
        vm.warp(1_000_000);
        handler = new EvaluationRegistryHandler();
        bytes4[] memory selectors = new bytes4[](6);
        selectors[0] = EvaluationRegistryHandler.request.selector;
        selectors[1] = EvaluationRegistryHandler.submit.selector;
        selectors[2] = EvaluationRegistryHandler.refund.selector;
        selectors[3] = EvaluationRegistryHandler.withdraw.selector;
        selectors[4] = EvaluationRegistryHandler.revokeEnclave.selector;
        selectors[5] = EvaluationRegistryHandler.warp.selector;
        _target(address(handler), selectors);
    }

    function invariant_balanceIsOpenFeesPlusCredits() public view {
        EvaluationRegistry evaluations = handler.evaluations();
        uint256 balance = IERC20(address(handler.token())).balanceOf(address(evaluations));
        _assertEq(balance, handler.deposited() - handler.withdrawn(), "balance != fees in - credits out");
        uint256 credits;
        for (uint256 i; i < handler.accountCount(); ++i) {
            address account = handler.accountAt(i);
            _assertEq(evaluations.credits(account), handler.modelCredits(account), "credits differ from the model");
            credits += evaluations.credits(account);
        }
        _assertEq(balance, handler.openFees() + credits, "balance != open fees + credits");
    }

    function invariant_requestsMatchTheModel() public view {
        EvaluationRegistry evaluations = handler.evaluations();
        uint64 count = handler.requestCount();
        _assertEq(evaluations.requestCount(), count, "requestCount");
        for (uint64 id = 1; id <= count; ++id) {
            EvaluationRegistryHandler.RequestModel memory m = handler.requestModel(id);
            IEvaluationRegistry.Request memory r = evaluations.requestOf(EvaluationId.wrap(id));
            _assertEq(uint256(r.status), uint256(m.status), "status");
            _assertEq(r.fee, m.fee, "fee");
            _assertTrue(r.requester == m.requester, "requester");
        }
    }

    function invariant_exactErrors() public view {
        _assertEq(handler.wrongError(), 0, string(handler.lastWrongError()));
    }
}

/// @title EvaluationRegistryReachTest
/// @notice The handler reaches every success path the invariants depend on (a request, a result, a refund, a
/// withdrawal) and the refusals beside them, so that the suite cannot pass by refusing everything.
contract EvaluationRegistryReachTest is Test {
    function test_handlerReachesResultRefundAndWithdrawal() public {
        vm.warp(1_000_000);
        EvaluationRegistryHandler handler = new EvaluationRegistryHandler();
        handler.request(0, 0, 5e18, 1 hours);
        handler.request(1, 1, 7e18, 1 hours);
        handler.request(2, 0, 1e18, 10); // deadline too soon
        handler.submit(1, 0, 912_345);
        handler.submit(1, 1, 900_000); // already evaluated
        handler.refund(2); // not expired
        handler.revokeEnclave(16); // key 2
        handler.submit(2, 2, 1_500_000); // revoked key
        handler.warp(2 hours);
        handler.submit(2, 0, 1_500_000); // deadline passed
        handler.refund(2);
        handler.refund(2); // refunded already
        handler.withdraw(3); // operator 0: the fee of request 1
        handler.withdraw(1); // requester 1: the refund of request 2
        handler.withdraw(1); // nothing left
        _assertEq(handler.requested(), 2, "requests");
        _assertEq(handler.evaluated(), 1, "results");
        _assertEq(handler.refunded(), 1, "refunds");
        _assertEq(handler.withdrawals(), 2, "withdrawals");
        _assertEq(handler.wrongError(), 0, string(handler.lastWrongError()));
        _assertEq(handler.deposited() - handler.withdrawn(), 0, "nothing left");
    }
}

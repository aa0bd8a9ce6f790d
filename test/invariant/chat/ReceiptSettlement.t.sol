// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IReceiptSettlement} from "../../../contracts/chat/IReceiptSettlement.sol";
import {ReceiptSettlement} from "../../../contracts/chat/ReceiptSettlement.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {ITeeVerifier} from "../../../contracts/interfaces/ITeeVerifier.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {Mode, ModelId} from "../../../contracts/types/Ids.sol";
import {Test, actor, clamp} from "../utils/Test.sol";

/// @dev The one cheatcode this suite needs beyond `Vm`: a challenge is revealed in a later block than its commitment.
interface VmRoll {
    function roll(uint256 blockNumber) external;
}

/// @notice A TeeVerifier stand-in: each operator's enclave key, registered, live, with one measurement.
contract StubTeeVerifier {
    bytes32 public constant MEASUREMENT = keccak256("measurement");
    mapping(address signer => address operator) public operatorOf;

    function register(address signer, address operator) external {
        operatorOf[signer] = operator;
    }

    function enclaveOf(address signer) external view returns (ITeeVerifier.Enclave memory) {
        return ITeeVerifier.Enclave({
            operator: operatorOf[signer],
            expiresAt: type(uint64).max,
            revoked: false,
            measurement: MEASUREMENT,
            hpkePublicKey: bytes32(0)
        });
    }

    function measurementRevokedAt(bytes32) external pure returns (uint64) {
        return 0;
    }
}

/// @notice A registry stand-in whose model 1, version 1 binds the stub's measurement.
contract StubRegistry {
    function isBound(ModelId modelId, uint32 version, Mode, bytes32 binding) external pure returns (bool) {
        return ModelId.unwrap(modelId) == 1 && version == 1 && binding == keccak256("measurement");
    }
}

/// @title ReceiptsHandler
/// @notice Drives a ReceiptSettlement as three buyers (depositing into pools), two operators (bonding, unbonding,
/// committing one-receipt batches that are honest or forged, signed by a key that is not their enclave, and batches
/// of unknown leaves with any count and total their pool covers) and three watchers (challenging, withdrawing),
/// while time passes. It predicts each call's outcome: an accepted call it refuses, or a refusal it did not
/// expect, is counted in `wrongError`; an honest batch cancelled is counted in `honestCancelled`.
contract ReceiptsHandler is Test {
    uint256 internal constant OPERATORS = 2;
    uint256 internal constant BUYERS = 3;
    uint256 internal constant WATCHERS = 3;
    uint128 internal constant BATCH_BOND = 10e18;
    uint96 internal constant PER_TOKEN = 1e12;
    uint96 internal constant OPENING_FEE = 1e18;
    uint64 internal constant WINDOW = 6 hours;
    VmRoll internal constant ROLL = VmRoll(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev The model's copy of a batch: whether it can be challenged and what its one leaf is.
    struct Made {
        address operator;
        bool honest;
        bool knownLeaf;
        uint96 total;
        uint64 committedAt;
        IReceiptSettlement.BatchStatus status;
        IReceiptSettlement.Receipt receipt;
        bytes signature;
        address requester;
        bool requestClosed;
    }

    TestToken public immutable token;
    ReceiptSettlement public immutable settlement;
    StubTeeVerifier public immutable tee;
    address public immutable treasury = actor("receipts treasury", 0);

    /// @notice Operators, buyers, watchers, then the treasury: every account that can hold tokens or a balance.
    address[] public accounts;
    Made[] internal _batches;
    mapping(address operator => uint256) public modelCredit;
    mapping(address operator => uint256) public modelBond;
    mapping(address account => uint256) public owed;
    uint256 public minted;
    uint256 internal _nonce;

    uint256 public wrongError;
    bytes public lastWrongError;
    uint256 public honestCancelled;
    uint256 public committed;
    uint256 public finalized;
    uint256 public cancelled;
    uint256 public withdrawn;
    uint256 public opened;
    uint256 public unopenedSlashes;

    constructor() {
        token = new TestToken();
        tee = new StubTeeVerifier();
        settlement = new ReceiptSettlement(
            IERC20(address(token)),
            ITeeVerifier(address(tee)),
            IModelRegistry(address(new StubRegistry())),
            treasury,
            IReceiptSettlement.Parameters({
                challengeWindow: WINDOW,
                maxReceiptAge: 1 days,
                batchBond: BATCH_BOND,
                challengerShareBps: 5_000,
                openingFee: OPENING_FEE
            })
        );
        for (uint256 i; i < OPERATORS; ++i) {
            address operator = _operator(i);
            accounts.push(operator);
            tee.register(vm.addr(_enclaveKey(i)), operator);
            vm.startPrank(operator);
            token.approve(address(settlement), type(uint256).max);
            settlement.setPrice(ModelId.wrap(1), PER_TOKEN);
            vm.stopPrank();
        }
        for (uint256 i; i < BUYERS; ++i) {
            accounts.push(_buyer(i));
            vm.prank(_buyer(i));
            token.approve(address(settlement), type(uint256).max);
        }
        for (uint256 i; i < WATCHERS; ++i) {
            accounts.push(_watcher(i));
            vm.prank(_watcher(i));
            token.approve(address(settlement), type(uint256).max);
        }
        accounts.push(treasury);
        vm.warp(block.timestamp + 1 hours);
    }

    /* ACTIONS */

    /// @notice A buyer adds up to 1,000 tokens to an operator's pool.
    function deposit(uint256 buyerSeed, uint256 operatorSeed, uint256 amountSeed) external {
        address buyer = _buyer(buyerSeed % BUYERS);
        address operator = _operator(operatorSeed % OPERATORS);
        uint256 amount = clamp(amountSeed, 1, 1_000e18);
        _mint(buyer, amount);
        vm.prank(buyer);
        settlement.deposit(operator, amount);
        modelCredit[operator] += amount;
    }

    /// @notice An operator adds one to four batch bonds to its bond.
    function depositBond(uint256 operatorSeed, uint256 nSeed) external {
        address operator = _operator(operatorSeed % OPERATORS);
        uint256 amount = BATCH_BOND * clamp(nSeed, 1, 4);
        _mint(operator, amount);
        vm.prank(operator);
        settlement.depositBond(amount);
        modelBond[operator] += amount;
    }

    /// @notice An operator withdraws part of its bond: refused beyond what pending batches leave free.
    function withdrawBond(uint256 operatorSeed, uint256 amountSeed) external {
        address operator = _operator(operatorSeed % OPERATORS);
        uint256 free = modelBond[operator] - BATCH_BOND * _pendingOf(operator);
        uint256 amount = clamp(amountSeed, 1, free + BATCH_BOND);
        vm.prank(operator);
        try settlement.withdrawBond(amount, operator) {
            if (amount > free) _wrong("bond withdrawal accepted");
            modelBond[operator] -= amount;
        } catch (bytes memory err) {
            if (amount <= free) _wrong(string(err));
        }
    }

    /// @notice An operator commits a batch of one receipt of 1 to 1,000 tokens, signed by its enclave or (one time in
    /// three) by a key of its own: forged.
    function commitOne(uint256 operatorSeed, uint256 tokensSeed, uint256 forgedSeed) external {
        uint256 index = operatorSeed % OPERATORS;
        address operator = _operator(index);
        bool honest = forgedSeed % 3 != 0;
        uint32 tokens = uint32(clamp(tokensSeed, 1, 1_000));
        IReceiptSettlement.Receipt memory receipt = _receipt(index, tokens);
        bytes memory signature = _sign(honest ? _enclaveKey(index) : _enclaveKey(index) + 100, receipt);
        bytes32 root = settlement.leafHash(
            IReceiptSettlement.LeafProof({
                receipt: receipt, signature: signature, cumulative: receipt.price, index: 0, proof: new bytes32[](0)
            })
        );
        _commit(operator, root, 1, receipt.price, honest, true, receipt, signature);
    }

    /// @notice An operator commits a root nobody can open (its data withheld), of any count and a total its pool
    /// covers: unchallengeable, and paid.
    function commitOpaque(uint256 operatorSeed, uint256 countSeed, uint256 totalSeed) external {
        address operator = _operator(operatorSeed % OPERATORS);
        uint16 count = uint16(clamp(countSeed, 1, 4096));
        uint96 total = uint96(clamp(totalSeed, 0, modelCredit[operator]));
        IReceiptSettlement.Receipt memory none;
        _commit(operator, keccak256(abi.encode("opaque", ++_nonce)), count, total, true, false, none, "");
    }

    /// @notice Anyone finalizes a batch: refused while its window is open or once it is closed.
    function finalize(uint256 batchSeed) external {
        if (_batches.length == 0) return;
        uint256 id = 1 + batchSeed % _batches.length;
        Made storage b = _batches[id - 1];
        bool allowed = b.status == IReceiptSettlement.BatchStatus.Pending && block.timestamp >= b.committedAt + WINDOW
            && (b.requester == address(0) || b.requestClosed);
        try settlement.finalize(id) {
            if (!allowed) _wrong("finalize accepted");
            b.status = IReceiptSettlement.BatchStatus.Finalized;
            owed[b.operator] += b.total;
            ++finalized;
        } catch (bytes memory err) {
            if (allowed) _wrong(string(err));
        }
    }

    /// @notice A watcher commits and (a block later) reveals a challenge of a one-receipt batch's leaf: it succeeds
    /// only for a forged receipt of a pending batch in its window.
    function challenge(uint256 batchSeed, uint256 watcherSeed) external {
        if (_batches.length == 0) return;
        uint256 id = 1 + batchSeed % _batches.length;
        Made storage b = _batches[id - 1];
        if (!b.knownLeaf) return;
        address watcher = _watcher(watcherSeed % WATCHERS);
        IReceiptSettlement.LeafProof memory leaf = _leaf(b);
        bytes32 commitment = settlement.challengeCommitment(watcher, id, settlement.leafHash(leaf), 0, 0);
        vm.prank(watcher);
        settlement.commitChallenge(commitment);
        ROLL.roll(block.number + 1);
        bool open = b.status == IReceiptSettlement.BatchStatus.Pending && block.timestamp < b.committedAt + WINDOW;
        vm.prank(watcher);
        try settlement.challengeReceipt(id, leaf) {
            if (b.honest) ++honestCancelled;
            if (!open || b.honest) _wrong("challenge accepted");
            b.status = IReceiptSettlement.BatchStatus.Cancelled;
            modelCredit[b.operator] += b.total;
            modelBond[b.operator] -= BATCH_BOND;
            owed[watcher] += BATCH_BOND / 2;
            owed[treasury] += BATCH_BOND - BATCH_BOND / 2;
            ++cancelled;
        } catch (bytes memory err) {
            if (open && !b.honest) _wrong(string(err));
        }
    }

    /// @notice A watcher asks for a batch's first leaf to be opened: allowed once, in the first half of the window.
    function requestOpening(uint256 batchSeed, uint256 watcherSeed) external {
        if (_batches.length == 0) return;
        uint256 id = 1 + batchSeed % _batches.length;
        Made storage b = _batches[id - 1];
        address watcher = _watcher(watcherSeed % WATCHERS);
        bool allowed = b.status == IReceiptSettlement.BatchStatus.Pending
            && block.timestamp < b.committedAt + WINDOW / 2 && b.requester == address(0);
        _mint(watcher, OPENING_FEE);
        vm.prank(watcher);
        try settlement.requestOpening(id, 0) {
            if (!allowed) _wrong("opening request accepted");
            b.requester = watcher;
        } catch (bytes memory err) {
            if (allowed) _wrong(string(err));
        }
    }

    /// @notice The operator opens its batch's requested first leaf (when it knows it), before the deadline.
    function openLeaf(uint256 batchSeed) external {
        if (_batches.length == 0) return;
        uint256 id = 1 + batchSeed % _batches.length;
        Made storage b = _batches[id - 1];
        if (!b.knownLeaf) return;
        bool allowed = b.requester != address(0) && !b.requestClosed && block.timestamp < _deadline(b);
        vm.prank(b.operator);
        try settlement.openLeaf(id, _leaf(b)) {
            if (!allowed) _wrong("opening accepted");
            b.requestClosed = true;
            owed[b.operator] += OPENING_FEE;
            ++opened;
        } catch (bytes memory err) {
            if (allowed) _wrong(string(err));
        }
    }

    /// @notice Anyone calls a requested leaf unopened: refunds and, on a pending batch, cancels it.
    function slashUnopened(uint256 batchSeed) external {
        if (_batches.length == 0) return;
        uint256 id = 1 + batchSeed % _batches.length;
        Made storage b = _batches[id - 1];
        bool allowed = b.requester != address(0) && !b.requestClosed && block.timestamp >= _deadline(b);
        try settlement.slashUnopened(id, 0) {
            if (!allowed) _wrong("unopened accepted");
            b.requestClosed = true;
            owed[b.requester] += OPENING_FEE;
            if (b.status == IReceiptSettlement.BatchStatus.Pending) {
                b.status = IReceiptSettlement.BatchStatus.Cancelled;
                modelCredit[b.operator] += b.total;
                modelBond[b.operator] -= BATCH_BOND;
                owed[b.requester] += BATCH_BOND / 2;
                owed[treasury] += BATCH_BOND - BATCH_BOND / 2;
                ++cancelled;
            }
            ++unopenedSlashes;
        } catch (bytes memory err) {
            if (allowed) _wrong(string(err));
        }
    }

    /// @notice An account withdraws its balance to itself.
    function withdraw(uint256 accountSeed) external {
        address account = accounts[accountSeed % accounts.length];
        uint256 amount = owed[account];
        vm.prank(account);
        try settlement.withdraw(account) returns (uint256 paid) {
            if (paid != amount || amount == 0) _wrong("withdrawal accepted");
            owed[account] = 0;
            ++withdrawn;
        } catch (bytes memory err) {
            if (amount != 0) _wrong(string(err));
        }
    }

    function warp(uint256 seed) external {
        vm.warp(block.timestamp + clamp(seed, 1, 8 hours));
    }

    /* MODEL */

    function accountCount() external view returns (uint256) {
        return accounts.length;
    }

    function operatorAt(uint256 i) external pure returns (address) {
        return _operator(i);
    }

    function operators() external pure returns (uint256) {
        return OPERATORS;
    }

    /// @notice What pending batches hold and how many each operator has.
    function pendingTotal() external view returns (uint256 total) {
        for (uint256 i; i < _batches.length; ++i) {
            if (_batches[i].status == IReceiptSettlement.BatchStatus.Pending) total += _batches[i].total;
        }
    }

    /// @notice The fees of opening requests neither answered nor refunded.
    function outstandingFees() external view returns (uint256 total) {
        for (uint256 i; i < _batches.length; ++i) {
            if (_batches[i].requester != address(0) && !_batches[i].requestClosed) total += OPENING_FEE;
        }
    }

    function pendingOf(address operator) external view returns (uint256) {
        return _pendingOf(operator);
    }

    function batchBond() external pure returns (uint256) {
        return BATCH_BOND;
    }

    /* HELPERS */

    /// @dev Commits if the model lets it (pool, free bond), else expects the refusal.
    function _commit(
        address operator,
        bytes32 root,
        uint16 count,
        uint96 total,
        bool honest,
        bool knownLeaf,
        IReceiptSettlement.Receipt memory receipt,
        bytes memory signature
    ) internal {
        uint256 index = operator == _operator(0) ? 0 : 1;
        bool allowed =
            total <= modelCredit[operator] && modelBond[operator] - BATCH_BOND * _pendingOf(operator) >= BATCH_BOND;
        vm.prank(operator);
        try settlement.commitBatch(root, count, total, vm.addr(_enclaveKey(index)), bytes32(0)) returns (uint256 id) {
            if (!allowed || id != _batches.length + 1) _wrong("commit accepted");
            modelCredit[operator] -= total;
            _batches.push(
                Made({
                    operator: operator,
                    honest: honest,
                    knownLeaf: knownLeaf,
                    total: total,
                    committedAt: uint64(block.timestamp),
                    status: IReceiptSettlement.BatchStatus.Pending,
                    receipt: receipt,
                    signature: signature,
                    requester: address(0),
                    requestClosed: false
                })
            );
            ++committed;
        } catch (bytes memory err) {
            if (allowed) _wrong(string(err));
        }
    }

    function _leaf(Made storage b) internal view returns (IReceiptSettlement.LeafProof memory) {
        return IReceiptSettlement.LeafProof({
            receipt: b.receipt, signature: b.signature, cumulative: b.receipt.price, index: 0, proof: new bytes32[](0)
        });
    }

    function _deadline(Made storage b) internal view returns (uint256) {
        return b.committedAt + WINDOW * 3 / 4;
    }

    function _receipt(uint256 index, uint32 tokens) internal returns (IReceiptSettlement.Receipt memory) {
        return IReceiptSettlement.Receipt({
            settlement: address(settlement),
            operator: _operator(index),
            enclave: vm.addr(_enclaveKey(index)),
            modelId: ModelId.wrap(1),
            version: 1,
            requestHash: keccak256("request"),
            responseHash: keccak256("response"),
            promptTokens: tokens,
            completionTokens: 0,
            price: uint96(PER_TOKEN) * tokens,
            paymentId: keccak256(abi.encode("payment", ++_nonce)),
            issuedAt: uint64(block.timestamp)
        });
    }

    function _sign(uint256 key, IReceiptSettlement.Receipt memory receipt) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, settlement.receiptDigest(receipt));
        return abi.encodePacked(r, s, v);
    }

    function _pendingOf(address operator) internal view returns (uint256 n) {
        for (uint256 i; i < _batches.length; ++i) {
            Made storage b = _batches[i];
            if (b.operator == operator && b.status == IReceiptSettlement.BatchStatus.Pending) ++n;
        }
    }

    function _mint(address to, uint256 amount) internal {
        token.mint(to, amount);
        minted += amount;
    }

    function _enclaveKey(uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode("enclave key", i))) >> 8;
    }

    function _operator(uint256 i) internal pure returns (address) {
        return actor("receipts operator", i);
    }

    function _buyer(uint256 i) internal pure returns (address) {
        return actor("receipts buyer", i);
    }

    function _watcher(uint256 i) internal pure returns (address) {
        return actor("receipts watcher", i);
    }

    function _wrong(string memory what) internal {
        ++wrongError;
        lastWrongError = bytes(what);
    }
}

/// @title ReceiptSettlementInvariantTest
/// @notice Funds are conserved to the wei: the contract holds exactly every pool, every pending batch's total, every
/// bond, every outstanding opening fee and every balance; pending batches lock one bond each; no token is created or lost; no honest batch is ever
/// cancelled; every outcome is the model's.
contract ReceiptSettlementInvariantTest is Test {
    ReceiptsHandler internal handler;
    ReceiptSettlement internal settlement;

    function setUp() public {
        vm.warp(1_000_000);
        handler = new ReceiptsHandler();
        settlement = handler.settlement();
        ReceiptsHandler h;
        bytes4[15] memory weighted = [
            h.requestOpening.selector,
            h.openLeaf.selector,
            h.slashUnopened.selector,
            h.deposit.selector,
            h.depositBond.selector,
            h.withdrawBond.selector,
            h.commitOne.selector,
            h.commitOne.selector,
            h.commitOne.selector,
            h.commitOpaque.selector,
            h.finalize.selector,
            h.challenge.selector,
            h.challenge.selector,
            h.withdraw.selector,
            h.warp.selector
        ];
        bytes4[] memory actions = new bytes4[](weighted.length);
        for (uint256 i; i < weighted.length; ++i) {
            actions[i] = weighted[i];
        }
        _target(address(handler), actions);
    }

    function invariant_holdsExactlyPoolsPendingBondsAndBalances() public view {
        uint256 owes = handler.pendingTotal() + handler.outstandingFees();
        for (uint256 i; i < handler.operators(); ++i) {
            address operator = handler.operatorAt(i);
            (uint256 bond,) = settlement.bondOf(operator);
            owes += settlement.creditOf(operator) + bond;
        }
        for (uint256 i; i < handler.accountCount(); ++i) {
            owes += settlement.balanceOf(handler.accounts(i));
        }
        _assertEq(handler.token().balanceOf(address(settlement)), owes, "settlement balance != what it holds for");
    }

    function invariant_pendingBatchesLockOneBondEach() public view {
        for (uint256 i; i < handler.operators(); ++i) {
            address operator = handler.operatorAt(i);
            (uint256 bond, uint256 locked) = settlement.bondOf(operator);
            _assertEq(locked, handler.batchBond() * handler.pendingOf(operator), "locked bond");
            _assertLe(locked, bond, "locked > bond");
            _assertEq(bond, handler.modelBond(operator), "bond");
            _assertEq(settlement.creditOf(operator), handler.modelCredit(operator), "credit");
        }
        for (uint256 i; i < handler.accountCount(); ++i) {
            address account = handler.accounts(i);
            _assertEq(settlement.balanceOf(account), handler.owed(account), "balance");
        }
    }

    function invariant_tokensConserved() public view {
        uint256 held = handler.token().balanceOf(address(settlement));
        for (uint256 i; i < handler.accountCount(); ++i) {
            held += handler.token().balanceOf(handler.accounts(i));
        }
        _assertEq(held, handler.minted(), "tokens created or lost");
    }

    function invariant_noHonestBatchCancelledAndEveryOutcomeTheModels() public view {
        _assertEq(handler.honestCancelled(), 0, "honest batch cancelled");
        _assertEq(handler.wrongError(), 0, string(handler.lastWrongError()));
    }

    function afterInvariant() public view {
        _log("committed", handler.committed());
        _log("finalized", handler.finalized());
        _log("cancelled", handler.cancelled());
        _log("withdrawn", handler.withdrawn());
        _log("opened", handler.opened());
        _log("unopenedSlashes", handler.unopenedSlashes());
    }
}

/// @title ReceiptsHandlerReachTest
/// @notice Drives the handler through a fixed sequence and checks that it reaches commits, a cancellation of a
/// forged batch, an honest batch surviving its challenge and its finalization: a suite whose handler silently
/// returns early proves nothing.
contract ReceiptsHandlerReachTest is Test {
    ReceiptsHandler internal handler;

    function setUp() public {
        vm.warp(1_000_000);
        handler = new ReceiptsHandler();
    }

    function test_forgedBatchCancelledHonestBatchFinalized() public {
        handler.deposit(0, 0, 500e18);
        handler.depositBond(0, 2);
        handler.commitOne(0, 100, 0); // batch 1: forged
        handler.commitOne(0, 100, 1); // batch 2: honest
        handler.challenge(0, 0); // batch 1
        handler.challenge(1, 1); // batch 2: refused
        _assertEq(handler.committed(), 2, "committed");
        _assertEq(handler.cancelled(), 1, "cancelled");
        handler.warp(7 hours);
        handler.finalize(1); // batch 2
        _assertEq(handler.finalized(), 1, "finalized");
        handler.withdraw(0); // operator 0
        handler.withdraw(5); // watcher 0
        _assertEq(handler.withdrawn(), 2, "withdrawn");
        _assertEq(handler.honestCancelled() + handler.wrongError(), 0, "a rule broken");
    }

    function test_openedLeafLetsTheBatchFinalizeAnUnopenedOneCancels() public {
        handler.deposit(0, 0, 500e18);
        handler.depositBond(0, 2);
        handler.commitOne(0, 100, 1); // batch 1: honest
        handler.commitOpaque(0, 9, 1e18); // batch 2: nobody can open it
        handler.requestOpening(0, 0);
        handler.requestOpening(1, 1);
        handler.openLeaf(0);
        _assertEq(handler.opened(), 1, "opened");
        handler.warp(7 hours);
        handler.slashUnopened(1);
        _assertEq(handler.unopenedSlashes(), 1, "unopened slashes");
        _assertEq(handler.cancelled(), 1, "cancelled");
        handler.finalize(0);
        _assertEq(handler.finalized(), 1, "finalized");
        _assertEq(handler.honestCancelled() + handler.wrongError(), 0, "a rule broken");
    }
}

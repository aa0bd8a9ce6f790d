// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {IPrivacyPassEscrow} from "../../../contracts/interfaces/IPrivacyPassEscrow.sol";
import {NodeStaking} from "../../../contracts/staking/NodeStaking.sol";
import {PrivacyPassEscrow} from "../../../contracts/privacy/PrivacyPassEscrow.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {Test, actor, clamp} from "../utils/Test.sol";

/// @title PassesHandler
/// @notice Drives a PrivacyPassEscrow as its governance, as two registered operators and an unregistered one
/// (registering six possible keys, retiring them, acknowledging purchases and redeeming nonces from a small space, so
/// that keys collide and nonces repeat), and as three buyers (buying, refunding, withdrawing), while time passes. A
/// model of every key, purchase, nonce and balance predicts each call's outcome: an accepted call the model refuses,
/// or a refusal with another error than the model's, is counted in `wrongError`.
contract PassesHandler is Test {
    uint256 internal constant OPERATORS = 3; // 0 and 1 registered in NodeStaking, 2 not
    uint256 internal constant BUYERS = 3;
    uint256 internal constant KEY_SEEDS = 6;
    uint256 internal constant NONCES = 48;
    uint256 internal constant MAX_COUNT = 64;
    uint256 internal constant MAX_PRICE = 1e18;
    uint256 internal constant STAKE = 100e18;

    /// @dev The model's copy of an issuer key.
    struct Key {
        address operator;
        uint96 price;
        bool retired;
        uint64 sold;
        uint64 acknowledged;
        uint64 redeemed;
    }

    /// @dev The model's copy of a purchase.
    struct Bought {
        address buyer;
        bytes32 keyId;
        uint32 count;
        uint64 issueBy;
        IPrivacyPassEscrow.PurchaseStatus status;
    }

    TestToken public immutable token;
    NodeStaking public immutable staking;
    PrivacyPassEscrow public immutable passes;

    uint32 public issueWindow = 1 days;
    /// @notice Every key registered, in order.
    bytes32[] public keyIds;
    mapping(bytes32 keyId => Key) internal _keys;
    /// @dev Purchase `id` at index `id - 1`.
    Bought[] internal _purchases;
    mapping(bytes32 keyId => mapping(bytes32 nonce => bool)) public modelSpent;
    /// @notice What the model says each account can withdraw.
    mapping(address account => uint256) public owed;
    /// @notice Operators then buyers: every account that can hold a balance or tokens.
    address[] public accounts;
    /// @notice Tokens minted to buyers (operators' stake is minted apart and sits in NodeStaking).
    uint256 public minted;

    uint256 public wrongError;
    bytes public lastWrongError;
    uint256 public registered;
    uint256 public bought;
    uint256 public acknowledged;
    uint256 public refunded;
    uint256 public redeemed;
    uint256 public withdrawn;
    uint256 public refusals;

    constructor() {
        token = new TestToken();
        staking = new NodeStaking(
            token,
            address(this),
            INodeStaking.Parameters({minimumStake: uint128(STAKE), thawingPeriod: 7 days, maxSlashBps: 10_000})
        );
        passes = new PrivacyPassEscrow(
            IERC20(address(token)), staking, address(this), IPrivacyPassEscrow.Parameters({issueWindow: issueWindow})
        );
        for (uint256 i; i < OPERATORS; ++i) {
            address operator = _operator(i);
            accounts.push(operator);
            if (i == OPERATORS - 1) continue;
            token.mint(operator, STAKE);
            vm.startPrank(operator);
            token.approve(address(staking), STAKE);
            staking.stake(STAKE);
            staking.register(1);
            vm.stopPrank();
        }
        for (uint256 i; i < BUYERS; ++i) {
            address buyer = _buyer(i);
            accounts.push(buyer);
            vm.prank(buyer);
            token.approve(address(passes), type(uint256).max);
        }
    }

    /* ACTIONS */

    /// @notice An operator (or the unregistered one) registers one of six keys at a price: refused for an
    /// unregistered account and for a key registered before.
    function registerIssuer(uint256 operatorSeed, uint256 keySeed, uint256 priceSeed) external {
        address operator = _operator(operatorSeed % OPERATORS);
        bytes memory publicKey = _publicKey(keySeed % KEY_SEEDS);
        bytes32 keyId = sha256(publicKey);
        uint96 price = uint96(clamp(priceSeed, 1, MAX_PRICE));
        Key storage key = _keys[keyId];
        bytes memory expected;
        if (operatorSeed % OPERATORS == OPERATORS - 1) {
            expected = _err(IPrivacyPassEscrow.PrivacyPassEscrowUnregisteredOperator.selector, operator);
        } else if (key.operator != address(0)) {
            expected =
                abi.encodeWithSelector(IPrivacyPassEscrow.PrivacyPassEscrowIssuerExists.selector, keyId, key.operator);
        }
        vm.prank(operator);
        try passes.registerIssuer(publicKey, price) returns (bytes32 id) {
            if (expected.length != 0 || id != keyId) _wrong("registration accepted");
            (key.operator, key.price) = (operator, price);
            keyIds.push(keyId);
            ++registered;
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /// @notice A key's operator (or, one time in four, another operator) retires it, or a key never registered.
    function retireIssuer(uint256 keySeed, uint256 callerSeed) external {
        bytes32 keyId = _keyAt(keySeed);
        Key storage key = _keys[keyId];
        address caller = callerSeed % 4 == 0 ? _operator(callerSeed / 4 % OPERATORS) : key.operator;
        bytes memory expected = _authorization(keyId, caller);
        if (expected.length == 0 && key.retired) {
            expected = abi.encodeWithSelector(IPrivacyPassEscrow.PrivacyPassEscrowIssuerRetired.selector, keyId);
        }
        vm.prank(caller);
        try passes.retireIssuer(keyId) {
            if (expected.length != 0) _wrong("retirement accepted");
            key.retired = true;
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /// @notice A buyer buys 1 to 64 tokens of a key (funded first); one time in seven with a maxCost one short.
    function buy(uint256 buyerSeed, uint256 keySeed, uint256 countSeed) external {
        address buyer = _buyer(buyerSeed % BUYERS);
        bytes32 keyId = _keyAt(keySeed);
        Key storage key = _keys[keyId];
        uint32 count = uint32(clamp(countSeed, 1, MAX_COUNT));
        uint256 cost = uint256(key.price) * count;
        uint256 maxCost = countSeed % 7 == 0 && cost > 0 ? cost - 1 : cost;
        token.mint(buyer, cost);
        minted += cost;
        bytes memory expected;
        if (key.operator == address(0)) {
            expected = abi.encodeWithSelector(IPrivacyPassEscrow.PrivacyPassEscrowUnknownIssuer.selector, keyId);
        } else if (key.retired) {
            expected = abi.encodeWithSelector(IPrivacyPassEscrow.PrivacyPassEscrowIssuerRetired.selector, keyId);
        } else if (maxCost < cost) {
            expected = abi.encodeWithSelector(IPrivacyPassEscrow.PrivacyPassEscrowCostAboveMax.selector, cost, maxCost);
        }
        uint64 issueBy = uint64(block.timestamp) + issueWindow;
        vm.prank(buyer);
        try passes.buy(keyId, count, maxCost) returns (uint256 id) {
            if (expected.length != 0 || id != _purchases.length + 1) _wrong("purchase accepted");
            _purchases.push(
                Bought({
                    buyer: buyer,
                    keyId: keyId,
                    count: count,
                    issueBy: issueBy,
                    status: IPrivacyPassEscrow.PurchaseStatus.Pending
                })
            );
            key.sold += count;
            ++bought;
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /// @notice The operator of a purchase's key (or, one time in four, another operator) acknowledges it: three times
    /// in four the first purchase still pending from the one the seed picks, else that one whatever it is, an unknown
    /// id included; one time in four with the next one or two ids after it, one time in five with itself again.
    function acknowledge(uint256 idSeed, uint256 callerSeed, uint256 nSeed) external {
        uint256 n = nSeed % 4 == 0 ? 2 + nSeed / 4 % 2 : 1;
        uint256[] memory ids = new uint256[](n);
        uint256 first = 1 + idSeed % (_purchases.length + 1);
        if (idSeed % 4 != 0) first = _pendingFrom(first);
        for (uint256 i; i < n; ++i) {
            ids[i] = nSeed % 5 == 0 ? first : first + i;
        }
        address caller = callerSeed % 4 == 0 || first > _purchases.length
            ? _operator(callerSeed / 4 % OPERATORS)
            : _keys[_purchases[first - 1].keyId].operator;
        bytes memory expected = _acknowledgement(ids, caller);
        vm.prank(caller);
        try passes.acknowledge(ids) {
            if (expected.length != 0) _wrong("acknowledgement accepted");
            for (uint256 i; i < n; ++i) {
                Bought storage b = _purchases[ids[i] - 1];
                b.status = IPrivacyPassEscrow.PurchaseStatus.Acknowledged;
                _keys[b.keyId].acknowledged += b.count;
                ++acknowledged;
            }
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /// @notice A purchase's buyer (or, one time in four, another buyer) asks for its refund.
    function refund(uint256 idSeed, uint256 callerSeed) external {
        uint256 id = 1 + idSeed % (_purchases.length + 1);
        bool known = id <= _purchases.length;
        address caller = callerSeed % 4 == 0 || !known ? _buyer(callerSeed / 4 % BUYERS) : _purchases[id - 1].buyer;
        bytes memory expected = _pendingRefusal(id);
        if (expected.length == 0) {
            Bought storage b = _purchases[id - 1];
            if (caller != b.buyer) {
                expected =
                    abi.encodeWithSelector(IPrivacyPassEscrow.PrivacyPassEscrowNotBuyer.selector, id, caller, b.buyer);
            } else if (block.timestamp < b.issueBy) {
                expected =
                    abi.encodeWithSelector(IPrivacyPassEscrow.PrivacyPassEscrowIssueWindowOpen.selector, id, b.issueBy);
            }
        }
        vm.prank(caller);
        try passes.refund(id) {
            if (expected.length != 0) _wrong("refund accepted");
            Bought storage b = _purchases[id - 1];
            b.status = IPrivacyPassEscrow.PurchaseStatus.Refunded;
            owed[caller] += uint256(_keys[b.keyId].price) * b.count;
            ++refunded;
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /// @notice A key's operator (or, one time in four, another operator) redeems 1 to 8 nonces of a space of 48:
    /// consecutive ones, or (one time in five) the same one repeated.
    function redeem(uint256 keySeed, uint256 callerSeed, uint256 nSeed, uint256 nonceSeed) external {
        bytes32 keyId = _keyAt(keySeed);
        Key storage key = _keys[keyId];
        address caller = callerSeed % 4 == 0 ? _operator(callerSeed / 4 % OPERATORS) : key.operator;
        // Three times in four within what is left to redeem (when anything is), so that redemptions succeed.
        uint256 left = _left(key);
        uint256 n = nSeed % 4 != 0 && left > 0 ? clamp(nSeed, 1, left < 8 ? left : 8) : clamp(nSeed, 1, 8);
        bytes32[] memory nonces = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            nonces[i] = _nonce(nonceSeed % 5 == 0 ? nonceSeed : nonceSeed % NONCES + i);
        }
        bytes memory expected = _redemption(keyId, caller, nonces);
        vm.prank(caller);
        try passes.redeem(keyId, nonces) {
            if (expected.length != 0) _wrong("redemption accepted");
            for (uint256 i; i < n; ++i) {
                modelSpent[keyId][nonces[i]] = true;
            }
            key.redeemed += uint64(n);
            owed[caller] += uint256(key.price) * n;
            redeemed += n;
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /// @notice An account withdraws its balance to itself: three times in four the first with a balance from the one
    /// the seed picks, else that one whatever it holds.
    function withdraw(uint256 accountSeed) external {
        address account = accounts[accountSeed % accounts.length];
        for (uint256 i; i < accounts.length && accountSeed % 4 != 0 && owed[account] == 0; ++i) {
            account = accounts[(accountSeed % accounts.length + i) % accounts.length];
        }
        uint256 amount = owed[account];
        vm.prank(account);
        try passes.withdraw(account) returns (uint256 paid) {
            if (amount == 0 || paid != amount) _wrong("withdrawal accepted");
            owed[account] = 0;
            ++withdrawn;
        } catch (bytes memory err) {
            _expect(
                err,
                amount == 0 ? _err(IPrivacyPassEscrow.PrivacyPassEscrowNothingToWithdraw.selector, account) : bytes("")
            );
        }
    }

    /// @notice Governance sets the issue window (one time in six out of bounds).
    function setIssueWindow(uint256 seed) external {
        bool outOfBounds = seed % 6 == 0;
        uint32 window = outOfBounds ? 7 days + 1 : uint32(clamp(seed, 1 hours, 7 days));
        try passes.setParameters(IPrivacyPassEscrow.Parameters({issueWindow: window})) {
            if (outOfBounds) _wrong("parameters accepted");
            issueWindow = window;
        } catch (bytes memory err) {
            _expect(
                err,
                outOfBounds
                    ? abi.encodeWithSelector(
                        IPrivacyPassEscrow.PrivacyPassEscrowParameterOutOfBounds.selector,
                        "issueWindow",
                        uint256(window),
                        uint256(1 hours),
                        uint256(7 days)
                    )
                    : bytes("")
            );
        }
    }

    function warp(uint256 seed) external {
        vm.warp(block.timestamp + clamp(seed, 1, 2 days));
    }

    /// @notice Time passes to a purchase's `issueBy` exactly (when ahead): the boundary between acknowledging and
    /// refunding, which random warps seldom end on.
    function warpToIssueBy(uint256 idSeed) external {
        if (_purchases.length == 0) return;
        uint64 issueBy = _purchases[idSeed % _purchases.length].issueBy;
        if (issueBy > block.timestamp) vm.warp(issueBy);
    }

    /* MODEL */

    function keyCount() external view returns (uint256) {
        return keyIds.length;
    }

    function accountCount() external view returns (uint256) {
        return accounts.length;
    }

    function purchaseCount() external view returns (uint256) {
        return _purchases.length;
    }

    function modelKey(bytes32 keyId) external view returns (Key memory) {
        return _keys[keyId];
    }

    function modelPurchase(uint256 id) external view returns (Bought memory) {
        return _purchases[id - 1];
    }

    function nonceAt(uint256 i) external pure returns (bytes32) {
        return _nonce(i);
    }

    /// @dev The refusal of `acknowledge(ids)` by `caller` the contract must give, checked in its order: per purchase,
    /// unknown, not pending (an id listed earlier is acknowledged by then), another operator's key, window closed.
    function _acknowledgement(uint256[] memory ids, address caller) internal view returns (bytes memory) {
        for (uint256 i; i < ids.length; ++i) {
            uint256 id = ids[i];
            bool repeated = i > 0 && ids[i - 1] == id;
            bytes memory refusal = repeated
                ? abi.encodeWithSelector(
                    IPrivacyPassEscrow.PrivacyPassEscrowPurchaseNotPending.selector,
                    id,
                    IPrivacyPassEscrow.PurchaseStatus.Acknowledged
                )
                : _pendingRefusal(id);
            if (refusal.length != 0) return refusal;
            Bought storage b = _purchases[id - 1];
            refusal = _authorization(b.keyId, caller);
            if (refusal.length != 0) return refusal;
            if (block.timestamp >= b.issueBy) {
                return
                    abi.encodeWithSelector(
                        IPrivacyPassEscrow.PrivacyPassEscrowIssueWindowClosed.selector, id, b.issueBy
                    );
            }
        }
        return "";
    }

    /// @dev The refusal of `redeem(keyId, nonces)` by `caller`: unknown key, another operator, too few acknowledged
    /// tokens left, then the first nonce spent before or earlier in the list.
    function _redemption(bytes32 keyId, address caller, bytes32[] memory nonces) internal view returns (bytes memory) {
        bytes memory refusal = _authorization(keyId, caller);
        if (refusal.length != 0) return refusal;
        Key storage key = _keys[keyId];
        uint256 available = _left(key);
        if (nonces.length > available) {
            return abi.encodeWithSelector(
                IPrivacyPassEscrow.PrivacyPassEscrowInsufficientAcknowledged.selector, keyId, available, nonces.length
            );
        }
        for (uint256 i; i < nonces.length; ++i) {
            bool repeated;
            for (uint256 j; j < i; ++j) {
                repeated = repeated || nonces[j] == nonces[i];
            }
            if (repeated || modelSpent[keyId][nonces[i]]) {
                return abi.encodeWithSelector(IPrivacyPassEscrow.PrivacyPassEscrowNonceSpent.selector, keyId, nonces[i]);
            }
        }
        return "";
    }

    function _authorization(bytes32 keyId, address caller) internal view returns (bytes memory) {
        address operator = _keys[keyId].operator;
        if (operator == address(0)) {
            return abi.encodeWithSelector(IPrivacyPassEscrow.PrivacyPassEscrowUnknownIssuer.selector, keyId);
        }
        if (operator != caller) {
            return abi.encodeWithSelector(
                IPrivacyPassEscrow.PrivacyPassEscrowUnauthorizedOperator.selector, keyId, caller, operator
            );
        }
        return "";
    }

    function _pendingRefusal(uint256 id) internal view returns (bytes memory) {
        if (id == 0 || id > _purchases.length) {
            return abi.encodeWithSelector(IPrivacyPassEscrow.PrivacyPassEscrowUnknownPurchase.selector, id);
        }
        IPrivacyPassEscrow.PurchaseStatus status = _purchases[id - 1].status;
        if (status != IPrivacyPassEscrow.PurchaseStatus.Pending) {
            return abi.encodeWithSelector(IPrivacyPassEscrow.PrivacyPassEscrowPurchaseNotPending.selector, id, status);
        }
        return "";
    }

    /* HELPERS */

    /// @dev Acknowledged tokens of `key` not yet redeemed (zero rather than a panic, should the contract let a key
    /// redeem more: the invariants then say so).
    function _left(Key storage key) internal view returns (uint256) {
        return key.acknowledged > key.redeemed ? key.acknowledged - key.redeemed : 0;
    }

    /// @dev The first purchase from `id` on that is still pending (cycling), or `id` if none is.
    function _pendingFrom(uint256 id) internal view returns (uint256) {
        uint256 length = _purchases.length;
        for (uint256 i; i < length; ++i) {
            uint256 candidate = 1 + (id - 1 + i) % length;
            if (_purchases[candidate - 1].status == IPrivacyPassEscrow.PurchaseStatus.Pending) return candidate;
        }
        return id;
    }

    /// @dev A registered key, or (one time in eight, or while there is none) one never registered.
    function _keyAt(uint256 seed) internal view returns (bytes32) {
        if (keyIds.length == 0 || seed % 8 == 7) return sha256(_publicKey(KEY_SEEDS));
        return keyIds[seed % keyIds.length];
    }

    /// @dev Key `i`: 128 + 37 i bytes (`i = KEY_SEEDS` is never registered).
    function _publicKey(uint256 i) internal pure returns (bytes memory) {
        bytes32 seed = keccak256(abi.encode("issuer key", i));
        return abi.encodePacked(seed, keccak256(abi.encode(seed)), seed, seed, new bytes(37 * i));
    }

    function _nonce(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("nonce", i % NONCES));
    }

    function _operator(uint256 i) internal pure returns (address) {
        return actor("passes operator", i);
    }

    function _buyer(uint256 i) internal pure returns (address) {
        return actor("passes buyer", i);
    }

    function _err(bytes4 selector, address account) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector, account);
    }

    function _expect(bytes memory err, bytes memory expected) internal {
        ++refusals;
        if (expected.length == 0 || keccak256(err) != keccak256(expected)) _wrong(string(err));
    }

    function _wrong(string memory what) internal {
        ++wrongError;
        lastWrongError = bytes(what);
    }
}

/// @title PrivacyPassesInvariantTest
/// @notice The escrow holds exactly what it owes: every balance, the value of every pending purchase, and the value
/// of every key's acknowledged tokens not yet redeemed (`price * (acknowledged - redeemed)`); per key
/// `redeemed <= acknowledged <= sold`, and both counts add up from the purchases; keys, purchases, spent nonces and
/// balances are what the model says; no token is created or lost; every refusal is the model's.
contract PrivacyPassesInvariantTest is Test {
    PassesHandler internal handler;
    PrivacyPassEscrow internal passes;

    function setUp() public {
        vm.warp(1_000_000);
        handler = new PassesHandler();
        passes = handler.passes();
        PassesHandler h;
        bytes4[16] memory weighted = [
            h.registerIssuer.selector,
            h.registerIssuer.selector,
            h.retireIssuer.selector,
            h.buy.selector,
            h.buy.selector,
            h.buy.selector,
            h.acknowledge.selector,
            h.acknowledge.selector,
            h.acknowledge.selector,
            h.refund.selector,
            h.redeem.selector,
            h.redeem.selector,
            h.redeem.selector,
            h.withdraw.selector,
            h.warp.selector,
            h.warpToIssueBy.selector
        ];
        bytes4[] memory actions = new bytes4[](weighted.length + 1);
        for (uint256 i; i < weighted.length; ++i) {
            actions[i] = weighted[i];
        }
        actions[weighted.length] = h.setIssueWindow.selector;
        _target(address(handler), actions);
    }

    function invariant_holdsExactlyWhatItOwes() public view {
        uint256 owes;
        for (uint256 i; i < handler.accountCount(); ++i) {
            owes += passes.balanceOf(handler.accounts(i));
        }
        for (uint256 id = 1; id <= passes.purchaseCount(); ++id) {
            IPrivacyPassEscrow.Purchase memory p = passes.purchase(id);
            if (p.status == IPrivacyPassEscrow.PurchaseStatus.Pending) {
                owes += uint256(passes.issuer(p.keyId).price) * p.count;
            }
        }
        for (uint256 k; k < handler.keyCount(); ++k) {
            IPrivacyPassEscrow.Issuer memory issuer = passes.issuer(handler.keyIds(k));
            owes += uint256(issuer.price) * (issuer.acknowledged - issuer.redeemed);
        }
        _assertEq(handler.token().balanceOf(address(passes)), owes, "escrow balance != what it owes");
    }

    function invariant_countsOrderedAndAddUp() public view {
        uint256 n = passes.purchaseCount();
        for (uint256 k; k < handler.keyCount(); ++k) {
            bytes32 keyId = handler.keyIds(k);
            IPrivacyPassEscrow.Issuer memory issuer = passes.issuer(keyId);
            _assertLe(issuer.redeemed, issuer.acknowledged, "redeemed > acknowledged");
            _assertLe(issuer.acknowledged, issuer.sold, "acknowledged > sold");
            uint256 sold;
            uint256 acknowledged;
            for (uint256 id = 1; id <= n; ++id) {
                IPrivacyPassEscrow.Purchase memory p = passes.purchase(id);
                if (p.keyId != keyId) continue;
                sold += p.count;
                if (p.status == IPrivacyPassEscrow.PurchaseStatus.Acknowledged) acknowledged += p.count;
            }
            _assertEq(issuer.sold, sold, "sold != tokens of its purchases");
            _assertEq(issuer.acknowledged, acknowledged, "acknowledged != tokens of its acknowledged purchases");
        }
    }

    function invariant_matchesTheModel() public view {
        _assertEq(passes.purchaseCount(), handler.purchaseCount(), "purchase count");
        for (uint256 k; k < handler.keyCount(); ++k) {
            bytes32 keyId = handler.keyIds(k);
            IPrivacyPassEscrow.Issuer memory issuer = passes.issuer(keyId);
            PassesHandler.Key memory key = handler.modelKey(keyId);
            _assertTrue(issuer.operator == key.operator && issuer.price == key.price, "issuer operator or price");
            _assertTrue(issuer.retired == key.retired, "issuer retired");
            _assertEq(issuer.sold, key.sold, "sold");
            _assertEq(issuer.acknowledged, key.acknowledged, "acknowledged");
            _assertEq(issuer.redeemed, key.redeemed, "redeemed");
            for (uint256 i; i < 48; ++i) {
                bytes32 nonce = handler.nonceAt(i);
                _assertTrue(passes.isSpent(keyId, nonce) == handler.modelSpent(keyId, nonce), "spent nonce");
            }
        }
        for (uint256 id = 1; id <= handler.purchaseCount(); ++id) {
            IPrivacyPassEscrow.Purchase memory p = passes.purchase(id);
            PassesHandler.Bought memory b = handler.modelPurchase(id);
            _assertTrue(p.buyer == b.buyer && p.keyId == b.keyId && p.status == b.status, "purchase");
            _assertEq(p.count, b.count, "purchase count");
            _assertEq(p.issueBy, b.issueBy, "purchase issueBy");
        }
        for (uint256 i; i < handler.accountCount(); ++i) {
            address account = handler.accounts(i);
            _assertEq(passes.balanceOf(account), handler.owed(account), "balance");
        }
        _assertEq(passes.parameters().issueWindow, handler.issueWindow(), "issue window");
    }

    /// @notice What was minted to buyers is with the accounts or the escrow: withdrawals pay accounts only.
    function invariant_tokensConserved() public view {
        uint256 held = handler.token().balanceOf(address(passes));
        for (uint256 i; i < handler.accountCount(); ++i) {
            held += handler.token().balanceOf(handler.accounts(i));
        }
        _assertEq(held, handler.minted(), "tokens created or lost");
    }

    function invariant_exactErrors() public view {
        _assertEq(handler.wrongError(), 0, string(handler.lastWrongError()));
    }
}

/// @title PassesHandlerReachTest
/// @notice Fixed sequences through the handler that reach every outcome the invariants weigh: registrations (and a
/// duplicate and an unregistered operator refused), purchases, acknowledgements, refunds at issueBy, redemptions
/// (and a double spend, an overdraw and an intruder refused), withdrawals: an invariant suite whose handler silently
/// refuses everything proves nothing.
contract PassesHandlerReachTest is Test {
    PassesHandler internal handler;

    function setUp() public {
        vm.warp(1_000_000);
        handler = new PassesHandler();
    }

    function test_buyAcknowledgeRedeemWithdraw() public {
        handler.registerIssuer(0, 0, 1e15); // operator 0, key 0
        handler.registerIssuer(1, 0, 1e15); // key 0 again: IssuerExists
        handler.registerIssuer(2, 1, 1e15); // unregistered operator
        _assertEq(handler.registered(), 1, "registered");
        handler.buy(0, 0, 10); // buyer 0, 10 tokens of key 0: purchase 1
        handler.buy(1, 0, 5); // purchase 2
        _assertEq(handler.bought(), 2, "bought");
        handler.acknowledge(0, 1, 8); // purchases 1 and 2 by their operator
        _assertEq(handler.acknowledged(), 2, "acknowledged");
        handler.redeem(0, 1, 8, 1); // nonces 1..8
        handler.redeem(0, 1, 8, 1); // nonces 1..8 again: NonceSpent
        handler.redeem(0, 1, 8, 9); // nonces 9..16: only 7 left, InsufficientAcknowledged
        handler.redeem(0, 4, 1, 21); // caller seed 4: operator 1, not the key's
        handler.redeem(0, 1, 2, 25); // nonce seed 25: the same nonce twice, NonceSpent
        _assertEq(handler.redeemed(), 8, "redeemed");
        handler.redeem(0, 1, 7, 9); // the 7 left
        _assertEq(handler.redeemed(), 15, "redeemed all");
        handler.withdraw(0); // operator 0
        _assertEq(handler.withdrawn(), 1, "withdrawn");
        _assertEq(handler.wrongError(), 0, string(handler.lastWrongError()));
        _assertEq(handler.refusals(), 6, "refusals");
    }

    function test_refundAtIssueByNotBefore() public {
        handler.registerIssuer(1, 2, 3e15);
        handler.buy(2, 0, 3); // purchase 1
        handler.refund(0, 1); // before issueBy: IssueWindowOpen
        handler.warpToIssueBy(0);
        handler.acknowledge(0, 1, 1); // at issueBy: IssueWindowClosed
        handler.refund(0, 4); // another buyer: NotBuyer
        handler.refund(0, 1);
        handler.refund(0, 1); // twice: PurchaseNotPending
        _assertEq(handler.refunded(), 1, "refunded");
        _assertEq(handler.acknowledged(), 0, "acknowledged");
        handler.withdraw(5); // buyer 2
        handler.withdraw(5); // nothing left
        _assertEq(handler.withdrawn(), 1, "withdrawn");
        handler.retireIssuer(0, 1);
        handler.buy(0, 0, 1); // retired: IssuerRetired
        _assertEq(handler.bought(), 1, "bought");
        handler.setIssueWindow(6); // out of bounds
        handler.setIssueWindow(7201);
        _assertEq(handler.issueWindow(), 7201, "window");
        _assertEq(handler.wrongError(), 0, string(handler.lastWrongError()));
    }
}

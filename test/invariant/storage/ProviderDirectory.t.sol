// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {IProviderDirectory} from "../../../contracts/interfaces/IProviderDirectory.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {NodeStaking} from "../../../contracts/staking/NodeStaking.sol";
import {ProviderDirectory} from "../../../contracts/storage/ProviderDirectory.sol";
import {Test, actor, clamp} from "../utils/Test.sol";

/// @title ProviderDirectoryHandler
/// @notice Drives a ProviderDirectory as five operators that stake, register, unstake and restake in NodeStaking
/// and announce (well or badly formed lists), withdraw and prune one another, while governance (this handler) moves
/// the minimum stake. A model beside it predicts every outcome, down to the exact revert data.
contract ProviderDirectoryHandler is Test {
    uint256 internal constant OPERATORS = 5;
    uint256 internal constant CHOICES = 6;
    uint32 internal constant VANILLA = 1;

    TestToken public immutable token;
    NodeStaking public immutable staking;
    ProviderDirectory public immutable directory;

    /// @notice keccak256 of `abi.encode(string[])` of each operator's announcement in the model; zero if none.
    mapping(address operator => bytes32) public modelHash;

    uint256 public wrongError;
    bytes public lastWrongError;
    uint256 public announced;
    uint256 public withdrawn;
    uint256 public pruned;

    constructor() {
        token = new TestToken();
        staking = new NodeStaking(
            token,
            address(this),
            INodeStaking.Parameters({minimumStake: 100e18, thawingPeriod: 7 days, maxSlashBps: 10_000})
        );
        directory = new ProviderDirectory(staking);
    }

    /* STAKING */

    /// @notice An operator stakes 1 to 300 tokens and registers if that reaches the minimum.
    function stake(uint256 operatorSeed, uint256 amountSeed) external {
        address operator = operatorAt(operatorSeed);
        uint256 amount = clamp(amountSeed, 1e18, 300e18);
        token.mint(operator, amount);
        vm.startPrank(operator);
        token.approve(address(staking), amount);
        staking.stake(amount);
        if (staking.operatorOf(operator).staked >= staking.parameters().minimumStake) staking.register(VANILLA);
        vm.stopPrank();
    }

    /// @notice An operator unstakes part or all of its active stake.
    function unstake(uint256 operatorSeed, uint256 amountSeed) external {
        address operator = operatorAt(operatorSeed);
        uint256 available = staking.availableStake(operator);
        if (available == 0) return;
        vm.prank(operator);
        staking.unstake(clamp(amountSeed, 1, available));
    }

    /// @notice An operator moves part or all of its thawing stake back to active.
    function restake(uint256 operatorSeed, uint256 amountSeed) external {
        address operator = operatorAt(operatorSeed);
        uint256 thawing = staking.operatorOf(operator).thawing;
        if (thawing == 0) return;
        vm.prank(operator);
        staking.restake(clamp(amountSeed, 1, thawing));
    }

    /// @notice Governance sets the minimum stake between 0 and 400 tokens.
    function setMinimumStake(uint256 minimumSeed) external {
        INodeStaking.Parameters memory p = staking.parameters();
        p.minimumStake = uint128(clamp(minimumSeed, 0, 400e18));
        staking.setParameters(p);
    }

    /* DIRECTORY */

    /// @notice An operator announces 0 to 5 addresses, the `i`-th chosen by byte `i` of `choiceSeed` among six (one
    /// too long, one without its `/`).
    function announce(uint256 operatorSeed, uint256 countSeed, uint256 choiceSeed) external {
        address operator = operatorAt(operatorSeed);
        string[] memory list = new string[](clamp(countSeed, 0, 5));
        for (uint256 i; i < list.length; ++i) {
            list[i] = _address(choiceSeed >> (8 * i));
        }
        bytes memory expected = _announceError(operator, list);
        vm.prank(operator);
        try directory.announce(list) {
            if (expected.length != 0) return _wrong("announced a list that should have been refused");
            modelHash[operator] = keccak256(abi.encode(list));
            ++announced;
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /// @notice An operator withdraws its announcement.
    function withdraw(uint256 operatorSeed) external {
        address operator = operatorAt(operatorSeed);
        bytes memory expected;
        if (modelHash[operator] == 0) {
            expected = abi.encodeWithSelector(IProviderDirectory.ProviderDirectoryNotAnnounced.selector, operator);
        }
        vm.prank(operator);
        try directory.withdraw() {
            if (expected.length != 0) return _wrong("withdrew an announcement that did not exist");
            delete modelHash[operator];
            ++withdrawn;
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /// @notice One operator (or a stranger) prunes another.
    function prune(uint256 operatorSeed, uint256 prunerSeed) external {
        address operator = operatorAt(operatorSeed);
        address pruner = prunerSeed % 2 == 0 ? actor("pruner", 0) : operatorAt(prunerSeed / 2);
        bytes memory expected;
        if (_staked(operator)) {
            expected = abi.encodeWithSelector(IProviderDirectory.ProviderDirectoryStillStaked.selector, operator);
        } else if (modelHash[operator] == 0) {
            expected = abi.encodeWithSelector(IProviderDirectory.ProviderDirectoryNotAnnounced.selector, operator);
        }
        vm.prank(pruner);
        try directory.prune(operator) {
            if (expected.length != 0) return _wrong("pruned an announcement that should have stayed");
            delete modelHash[operator];
            ++pruned;
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /* VIEWS */

    function operatorAt(uint256 seed) public pure returns (address) {
        return actor("provider operator", seed % OPERATORS);
    }

    function operatorCount() external pure returns (uint256) {
        return OPERATORS;
    }

    /* MODEL */

    function _announceError(address operator, string[] memory list) internal view returns (bytes memory) {
        if (list.length == 0 || list.length > 4) {
            return
                abi.encodeWithSelector(IProviderDirectory.ProviderDirectoryInvalidAddressCount.selector, list.length, 4);
        }
        for (uint256 i; i < list.length; ++i) {
            bytes memory b = bytes(list[i]);
            if (b.length == 0 || b.length > 256 || b[0] != "/") {
                return abi.encodeWithSelector(IProviderDirectory.ProviderDirectoryInvalidAddress.selector, i, b);
            }
        }
        INodeStaking.Operator memory o = staking.operatorOf(operator);
        uint256 minimum = staking.parameters().minimumStake;
        if (o.capabilities == 0) {
            return abi.encodeWithSelector(IProviderDirectory.ProviderDirectoryNotOperator.selector, operator);
        }
        if (o.staked < minimum) {
            return abi.encodeWithSelector(
                IProviderDirectory.ProviderDirectoryBelowMinimumStake.selector, operator, o.staked, minimum
            );
        }
        return "";
    }

    function _staked(address operator) internal view returns (bool) {
        INodeStaking.Operator memory o = staking.operatorOf(operator);
        return o.capabilities != 0 && o.staked >= staking.parameters().minimumStake;
    }

    function _address(uint256 seed) internal pure returns (string memory) {
        uint256 i = seed % CHOICES;
        if (i == 0) return "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
        if (i == 1) return "/ip6/::1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
        if (i == 2) return "/dns4/provider.example/tcp/4001/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
        if (i == 3) return "/";
        if (i == 4) return string.concat("/", _repeat("a", 256));
        return "ip4/127.0.0.1/tcp/4001";
    }

    function _repeat(bytes1 c, uint256 n) internal pure returns (string memory) {
        bytes memory out = new bytes(n);
        for (uint256 i; i < n; ++i) {
            out[i] = c;
        }
        return string(out);
    }

    function _expect(bytes memory err, bytes memory expected) internal {
        if (expected.length == 0 || keccak256(err) != keccak256(expected)) _wrong(string(err));
    }

    function _wrong(string memory what) internal {
        ++wrongError;
        lastWrongError = bytes(what);
    }
}

/// @title ProviderDirectoryInvariantTest
/// @notice `providers()` is exactly the set of accounts with a non-empty announcement, each once, and every
/// announcement is the model's (the last list announced, gone once withdrawn or pruned); every call ended as the
/// model said, with the exact error.
contract ProviderDirectoryInvariantTest is Test {
    ProviderDirectoryHandler internal handler;

    function setUp() public {
        handler = new ProviderDirectoryHandler();
        bytes4[] memory selectors = new bytes4[](7);
        selectors[0] = ProviderDirectoryHandler.stake.selector;
        selectors[1] = ProviderDirectoryHandler.unstake.selector;
        selectors[2] = ProviderDirectoryHandler.restake.selector;
        selectors[3] = ProviderDirectoryHandler.setMinimumStake.selector;
        selectors[4] = ProviderDirectoryHandler.announce.selector;
        selectors[5] = ProviderDirectoryHandler.withdraw.selector;
        selectors[6] = ProviderDirectoryHandler.prune.selector;
        _target(address(handler), selectors);
    }

    function invariant_providersAreTheAccountsWithAnAnnouncement() public view {
        ProviderDirectory directory = handler.directory();
        address[] memory list = directory.providers();
        uint256 expected;
        for (uint256 i; i < handler.operatorCount(); ++i) {
            address operator = handler.operatorAt(i);
            bytes32 model = handler.modelHash(operator);
            string[] memory addresses = directory.addressesOf(operator);
            _assertTrue(_count(list, operator) == (model == 0 ? 0 : 1), "providers() differs from the model");
            _assertTrue((addresses.length != 0) == (model != 0), "listed without an announcement, or the reverse");
            if (model != 0) {
                _assertTrue(keccak256(abi.encode(addresses)) == model, "addresses differ from the last announced");
                ++expected;
            }
        }
        _assertEq(list.length, expected, "providers() length");
    }

    function invariant_exactErrors() public view {
        _assertEq(handler.wrongError(), 0, string(handler.lastWrongError()));
    }

    function _count(address[] memory list, address account) internal pure returns (uint256 n) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == account) ++n;
        }
    }
}

/// @title ProviderDirectoryReachTest
/// @notice The handler reaches every path the invariants depend on (announcing, replacing, withdrawing, pruning, and
/// each refusal), so that the suite cannot pass by refusing everything.
contract ProviderDirectoryReachTest is Test {
    function test_handlerReachesEveryPath() public {
        ProviderDirectoryHandler handler = new ProviderDirectoryHandler();
        handler.announce(0, 1, 0); // not registered
        handler.stake(0, 300e18);
        handler.stake(1, 300e18);
        handler.announce(0, 0, 0); // no address
        handler.announce(0, 5, 0); // five addresses
        for (uint256 seed; seed < 8; ++seed) {
            handler.announce(0, 3, seed); // some lists hold a malformed address
        }
        handler.announce(1, 2, 1);
        handler.prune(1, 0); // still staked
        handler.withdraw(2); // never announced
        handler.unstake(1, 250e18);
        handler.announce(1, 1, 0); // below the minimum
        handler.prune(1, 0);
        handler.prune(1, 0); // nothing left
        handler.withdraw(0);
        handler.setMinimumStake(400e18);
        handler.prune(0, 1); // withdrawn already
        _assertTrue(handler.announced() >= 2, "announcements");
        _assertEq(handler.withdrawn(), 1, "withdrawals");
        _assertEq(handler.pruned(), 1, "prunes");
        _assertEq(handler.wrongError(), 0, string(handler.lastWrongError()));
    }
}

/// @title ProviderDirectoryBoundsTest
/// @notice The list is bounded: `MAX_PROVIDERS` staked operators fill it, the next is refused with
/// `ProviderDirectoryFull`, a listed operator still replaces its announcement, a withdrawal frees a place; and the
/// printable-ASCII check, 32 bytes at a time, agrees with a byte-by-byte one on any input.
contract ProviderDirectoryBoundsTest is Test {
    TestToken internal token;
    NodeStaking internal staking;
    ProviderDirectory internal directory;

    function setUp() public {
        token = new TestToken();
        staking = new NodeStaking(
            token, address(this), INodeStaking.Parameters({minimumStake: 1, thawingPeriod: 7 days, maxSlashBps: 10_000})
        );
        directory = new ProviderDirectory(staking);
    }

    function test_listIsBounded() public {
        uint256 max = directory.MAX_PROVIDERS();
        string[] memory list = new string[](1);
        list[0] = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
        for (uint256 i; i <= max; ++i) {
            address operator = _operator(i);
            vm.prank(operator);
            if (i < max) {
                directory.announce(list);
            } else {
                try directory.announce(list) {
                    revert("the list took one more operator than MAX_PROVIDERS");
                } catch (bytes memory err) {
                    _assertTrue(
                        keccak256(err)
                            == keccak256(
                                abi.encodeWithSelector(IProviderDirectory.ProviderDirectoryFull.selector, max)
                            ),
                        "not ProviderDirectoryFull(MAX_PROVIDERS)"
                    );
                }
            }
        }
        uint256 gasBefore = gasleft();
        _assertEq(directory.providers().length, max, "providers() length");
        _log("providers() gas with the list full", gasBefore - gasleft());
        vm.prank(_operator(0));
        directory.announce(list);
        vm.prank(_operator(0));
        directory.withdraw();
        vm.prank(_operator(max));
        directory.announce(list);
        _assertEq(directory.providers().length, max, "a withdrawal frees one place");
    }

    function testFuzz_printableAsciiAgreesWithAByteLoop(bytes memory tail) public {
        if (tail.length > 255) {
            assembly ("memory-safe") {
                mstore(tail, 255)
            }
        }
        bytes memory text = bytes.concat("/", tail);
        bool printable = true;
        for (uint256 i; i < text.length; ++i) {
            if (uint8(text[i]) < 0x21 || uint8(text[i]) > 0x7e) printable = false;
        }
        address operator = _operator(0);
        string[] memory list = new string[](1);
        list[0] = string(text);
        vm.prank(operator);
        try directory.announce(list) {
            _assertTrue(printable, "accepted a byte outside 0x21..0x7e");
        } catch (bytes memory err) {
            _assertTrue(!printable, "refused printable ASCII");
            _assertTrue(
                keccak256(err)
                    == keccak256(
                        abi.encodeWithSelector(IProviderDirectory.ProviderDirectoryInvalidAddress.selector, 0, text)
                    ),
                "not ProviderDirectoryInvalidAddress(0, text)"
            );
        }
    }

    function testFuzz_printableWordsAreAccepted(uint256 seed, uint8 length) public {
        bytes memory text = new bytes(clamp(length, 1, 256));
        text[0] = "/";
        for (uint256 i = 1; i < text.length; ++i) {
            text[i] = bytes1(uint8(0x21 + uint256(keccak256(abi.encode(seed, i))) % 94));
        }
        string[] memory list = new string[](1);
        list[0] = string(text);
        vm.prank(_operator(0));
        directory.announce(list);
        _assertTrue(keccak256(bytes(directory.addressesOf(_operator(0))[0])) == keccak256(text), "stored");
    }

    /// @dev The `i`-th operator, staked (the minimum is 1 base unit) and registered on first use.
    function _operator(uint256 i) internal returns (address operator) {
        operator = actor("bounded provider", i);
        if (staking.operatorOf(operator).capabilities != 0) return operator;
        token.mint(operator, 1);
        vm.startPrank(operator);
        token.approve(address(staking), 1);
        staking.stake(1);
        staking.register(1);
        vm.stopPrank();
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {IPrivacyRegistry} from "../../../contracts/interfaces/IPrivacyRegistry.sol";
import {ITeeVerifier} from "../../../contracts/interfaces/ITeeVerifier.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {PrivacyRegistry} from "../../../contracts/privacy/PrivacyRegistry.sol";
import {ModelRegistry} from "../../../contracts/registry/ModelRegistry.sol";
import {NodeStaking} from "../../../contracts/staking/NodeStaking.sol";
import {IGroth16VerifierFactory} from "../../../contracts/verifiers/zk/IGroth16VerifierFactory.sol";
import {TeeVerifierHarness} from "../utils/TeeVerifierHarness.sol";
import {Test, actor, clamp} from "../utils/Test.sol";

/// @title PrivacyRegistryHandler
/// @notice Drives a PrivacyRegistry as six relays (each paying its bond from a faucet), three TEE operators with four
/// enclave keys (registered through the TEE verifier's harness, revoked by governance), and governance (this handler,
/// which changes the bond and the unbonding period); time passes. A model beside it predicts every outcome, down to
/// the exact revert data, and books every token in and out.
contract PrivacyRegistryHandler is Test {
    uint256 internal constant RELAYS = 6;
    uint256 internal constant OPERATORS = 3;
    uint256 internal constant KEYS = 4;
    uint256 internal constant RECIPIENTS = 3;

    struct RelayModel {
        uint96 bond;
        uint64 withdrawableAt;
        bool listed;
    }

    struct KeyModel {
        address operator;
        uint64 expiresAt;
        bool revoked;
    }

    TestToken public immutable token;
    TeeVerifierHarness public immutable tee;
    PrivacyRegistry public immutable privacy;
    bytes32 internal constant MEASUREMENT = keccak256("privacy registry enclave");

    mapping(address relay => RelayModel) internal _relays;
    mapping(address signer => KeyModel) internal _keys;
    mapping(address operator => address enclave) public modelGateway;

    /// @notice Tokens the registry took in bonds, and paid out in withdrawals.
    uint256 public deposited;
    uint256 public withdrawn;
    uint256 public wrongError;
    bytes public lastWrongError;
    uint256 public listed;
    uint256 public withdrawals;
    uint256 public gatewaysSet;

    constructor() {
        token = new TestToken();
        ModelRegistry registry = new ModelRegistry(IGroth16VerifierFactory(address(0)));
        tee = new TeeVerifierHarness(registry, address(this));
        NodeStaking staking = new NodeStaking(
            token,
            address(this),
            INodeStaking.Parameters({minimumStake: 100e18, thawingPeriod: 7 days, maxSlashBps: 10_000})
        );
        privacy = new PrivacyRegistry(
            token,
            staking,
            tee,
            address(this),
            IPrivacyRegistry.Parameters({relayBond: 100e18, unbondingPeriod: 7 days})
        );
    }

    /* RELAYS */

    /// @notice A relay lists itself (paying the bond of the moment) at one of four URLs, one of them malformed.
    function listRelay(uint256 relaySeed, uint256 urlSeed) external {
        address relay = relayAt(relaySeed);
        string memory url = _url(urlSeed);
        uint96 bond = privacy.parameters().relayBond;
        RelayModel storage m = _relays[relay];
        bytes memory expected;
        if (!_validUrl(urlSeed)) {
            expected = abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryInvalidUrl.selector, bytes(url));
        } else if (m.bond != 0) {
            expected = abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryRelayExists.selector, relay);
        }
        token.mint(relay, bond);
        vm.startPrank(relay);
        token.approve(address(privacy), bond);
        try privacy.listRelay(url) {
            vm.stopPrank();
            if (expected.length != 0) return _wrong("listed a relay that should have been refused");
            (m.bond, m.withdrawableAt, m.listed) = (bond, 0, true);
            deposited += bond;
            ++listed;
        } catch (bytes memory err) {
            vm.stopPrank();
            _expect(err, expected);
        }
    }

    /// @notice A relay moves to another URL.
    function updateRelayUrl(uint256 relaySeed, uint256 urlSeed) external {
        address relay = relayAt(relaySeed);
        string memory url = _url(urlSeed);
        bytes memory expected;
        if (!_validUrl(urlSeed)) {
            expected = abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryInvalidUrl.selector, bytes(url));
        } else if (!_relays[relay].listed) {
            expected = abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryRelayNotListed.selector, relay);
        }
        vm.prank(relay);
        try privacy.updateRelayUrl(url) {
            if (expected.length != 0) return _wrong("updated a relay that should have been refused");
            if (keccak256(bytes(privacy.relay(relay).url)) != keccak256(bytes(url))) _wrong("URL not updated");
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /// @notice A relay leaves the list and starts unbonding.
    function unlistRelay(uint256 relaySeed) external {
        address relay = relayAt(relaySeed);
        RelayModel storage m = _relays[relay];
        bytes memory expected;
        if (!m.listed) {
            expected = abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryRelayNotListed.selector, relay);
        }
        uint64 withdrawableAt = uint64(block.timestamp) + privacy.parameters().unbondingPeriod;
        vm.prank(relay);
        try privacy.unlistRelay() {
            if (expected.length != 0) return _wrong("unlisted a relay that should have been refused");
            (m.listed, m.withdrawableAt) = (false, withdrawableAt);
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /// @notice A relay withdraws its bond to a recipient (sometimes the zero address).
    function withdrawRelayBond(uint256 relaySeed, uint256 recipientSeed) external {
        address relay = relayAt(relaySeed);
        address recipient = recipientSeed % (RECIPIENTS + 1) == 0
            ? address(0)
            : actor("privacy recipient", recipientSeed % (RECIPIENTS + 1));
        RelayModel memory m = _relays[relay];
        bytes memory expected;
        if (recipient == address(0)) {
            expected = abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryInvalidRecipient.selector, recipient);
        } else if (m.bond == 0) {
            expected = abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryNothingToWithdraw.selector, relay);
        } else if (m.listed) {
            expected = abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryRelayStillListed.selector, relay);
        } else if (block.timestamp < m.withdrawableAt) {
            expected = abi.encodeWithSelector(
                IPrivacyRegistry.PrivacyRegistryRelayStillUnbonding.selector, relay, m.withdrawableAt
            );
        }
        uint256 before = recipient == address(0) ? 0 : token.balanceOf(recipient);
        vm.prank(relay);
        try privacy.withdrawRelayBond(recipient) returns (uint256 amount) {
            if (expected.length != 0) return _wrong("paid a bond that should have been refused");
            if (amount != m.bond || token.balanceOf(recipient) - before != m.bond) _wrong("paid another amount");
            delete _relays[relay];
            withdrawn += amount;
            ++withdrawals;
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /* GATEWAYS */

    /// @notice An operator registers (or renews) an enclave key in the TEE verifier, for one hour to 30 days.
    function registerEnclave(uint256 keySeed, uint256 operatorSeed, uint256 ageSeed) external {
        address signer = keyAt(keySeed);
        address operator = operatorAt(operatorSeed);
        uint64 age = uint64(clamp(ageSeed, tee.MIN_ENCLAVE_AGE(), tee.MAX_ENCLAVE_AGE()));
        KeyModel storage k = _keys[signer];
        vm.prank(operator);
        try tee.registerVerified(signer, keccak256(abi.encode("hpke", signer)), MEASUREMENT, age) returns (
            uint64 expiresAt
        ) {
            if (k.revoked || (k.operator != address(0) && k.operator != operator)) {
                return _wrong("registered a key that should have been refused");
            }
            (k.operator, k.expiresAt) = (operator, expiresAt);
        } catch {
            if (!k.revoked && (k.operator == address(0) || k.operator == operator)) _wrong("registration refused");
        }
    }

    /// @notice Governance revokes an enclave key.
    function revokeEnclave(uint256 keySeed) external {
        address signer = keyAt(keySeed);
        KeyModel storage k = _keys[signer];
        try tee.revokeEnclave(signer) {
            if (k.operator == address(0) || k.revoked) return _wrong("revoked an unknown or revoked key");
            k.revoked = true;
        } catch {
            if (k.operator != address(0) && !k.revoked) _wrong("revocation refused");
        }
    }

    /// @notice An operator sets its gateway on an enclave key (its own or not, live or not).
    function setGateway(uint256 operatorSeed, uint256 keySeed, uint256 urlSeed) external {
        address operator = operatorAt(operatorSeed);
        address signer = keyAt(keySeed);
        string memory url = _url(urlSeed);
        KeyModel memory k = _keys[signer];
        bytes memory expected;
        if (!_validUrl(urlSeed)) {
            expected = abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryInvalidUrl.selector, bytes(url));
        } else if (k.operator == address(0)) {
            expected = abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryUnknownEnclave.selector, signer);
        } else if (k.operator != operator) {
            expected = abi.encodeWithSelector(
                IPrivacyRegistry.PrivacyRegistryEnclaveNotOwned.selector, signer, k.operator, operator
            );
        } else if (k.revoked) {
            expected = abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryEnclaveRevoked.selector, signer);
        } else if (block.timestamp >= k.expiresAt) {
            expected =
                abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryEnclaveExpired.selector, signer, k.expiresAt);
        }
        vm.prank(operator);
        try privacy.setGateway(signer, url) {
            if (expected.length != 0) return _wrong("set a gateway that should have been refused");
            modelGateway[operator] = signer;
            ++gatewaysSet;
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /// @notice An operator removes its gateway.
    function removeGateway(uint256 operatorSeed) external {
        address operator = operatorAt(operatorSeed);
        bytes memory expected;
        if (modelGateway[operator] == address(0)) {
            expected = abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryNoGateway.selector, operator);
        }
        vm.prank(operator);
        try privacy.removeGateway() {
            if (expected.length != 0) return _wrong("removed a gateway that did not exist");
            delete modelGateway[operator];
        } catch (bytes memory err) {
            _expect(err, expected);
        }
    }

    /* GOVERNANCE AND TIME */

    /// @notice Governance sets a bond and an unbonding period within their bounds.
    function setParameters(uint256 bondSeed, uint256 periodSeed) external {
        IPrivacyRegistry.Parameters memory p = IPrivacyRegistry.Parameters({
            relayBond: uint96(clamp(bondSeed, 1, 1_000e18)),
            unbondingPeriod: uint32(clamp(periodSeed, privacy.MIN_UNBONDING_PERIOD(), privacy.MAX_UNBONDING_PERIOD()))
        });
        try privacy.setParameters(p) {}
        catch {
            _wrong("parameters within bounds refused");
        }
    }

    /// @notice Up to 40 days pass (beyond the longest unbonding period and enclave age).
    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + clamp(secondsSeed, 0, 40 days));
    }

    /* VIEWS FOR THE SUITE */

    function relayAt(uint256 seed) public pure returns (address) {
        return actor("privacy relay", seed % RELAYS);
    }

    function operatorAt(uint256 seed) public pure returns (address) {
        return actor("privacy operator", seed % OPERATORS);
    }

    function keyAt(uint256 seed) public pure returns (address) {
        return actor("privacy enclave", seed % KEYS);
    }

    function relayModel(address relay) external view returns (RelayModel memory) {
        return _relays[relay];
    }

    function relayCount() external pure returns (uint256) {
        return RELAYS;
    }

    function operatorCount() external pure returns (uint256) {
        return OPERATORS;
    }

    /* INTERNAL */

    function _url(uint256 seed) internal pure returns (string memory) {
        uint256 i = seed % 4;
        if (i == 0) return "https://relay.example/ohttp";
        if (i == 1) return "http://127.0.0.1:8080";
        if (i == 2) return "https://r";
        return "https://bad url";
    }

    function _validUrl(uint256 seed) internal pure returns (bool) {
        return seed % 4 != 3;
    }

    function _expect(bytes memory err, bytes memory expected) internal {
        if (expected.length == 0 || keccak256(err) != keccak256(expected)) _wrong(string(err));
    }

    function _wrong(string memory what) internal {
        ++wrongError;
        lastWrongError = bytes(what);
    }
}

/// @title PrivacyRegistryInvariantTest
/// @notice The money path: the registry holds exactly the bonds not yet withdrawn (what came in minus what went
/// out, and the sum of every relay's recorded bond); its lists are exactly the listed relays and the operators with
/// a gateway; and every call ended as the model said, with the exact error.
contract PrivacyRegistryInvariantTest is Test {
    PrivacyRegistryHandler internal handler;

    function setUp() public {
        vm.warp(1_000_000);
        handler = new PrivacyRegistryHandler();
        bytes4[] memory selectors = new bytes4[](10);
        selectors[0] = PrivacyRegistryHandler.listRelay.selector;
        selectors[1] = PrivacyRegistryHandler.updateRelayUrl.selector;
        selectors[2] = PrivacyRegistryHandler.unlistRelay.selector;
        selectors[3] = PrivacyRegistryHandler.withdrawRelayBond.selector;
        selectors[4] = PrivacyRegistryHandler.registerEnclave.selector;
        selectors[5] = PrivacyRegistryHandler.revokeEnclave.selector;
        selectors[6] = PrivacyRegistryHandler.setGateway.selector;
        selectors[7] = PrivacyRegistryHandler.removeGateway.selector;
        selectors[8] = PrivacyRegistryHandler.setParameters.selector;
        selectors[9] = PrivacyRegistryHandler.warp.selector;
        _target(address(handler), selectors);
    }

    function invariant_balanceIsTheBondsNotWithdrawn() public view {
        PrivacyRegistry privacy = handler.privacy();
        uint256 balance = IERC20(address(handler.token())).balanceOf(address(privacy));
        _assertEq(balance, handler.deposited() - handler.withdrawn(), "balance != bonds in - bonds out");
        uint256 recorded;
        for (uint256 i; i < handler.relayCount(); ++i) {
            recorded += privacy.relay(handler.relayAt(i)).bond;
        }
        _assertEq(balance, recorded, "balance != sum of recorded bonds");
    }

    function invariant_relaysMatchTheModel() public view {
        PrivacyRegistry privacy = handler.privacy();
        address[] memory list = privacy.relays();
        uint256 expectedListed;
        for (uint256 i; i < handler.relayCount(); ++i) {
            address relay = handler.relayAt(i);
            PrivacyRegistryHandler.RelayModel memory m = handler.relayModel(relay);
            IPrivacyRegistry.Relay memory r = privacy.relay(relay);
            _assertEq(r.bond, m.bond, "bond");
            _assertEq(r.withdrawableAt, m.withdrawableAt, "withdrawableAt");
            _assertTrue(_contains(list, relay) == m.listed, "listed relays differ from the model");
            if (m.listed) ++expectedListed;
        }
        _assertEq(list.length, expectedListed, "relays() length");
    }

    function invariant_gatewaysMatchTheModel() public view {
        PrivacyRegistry privacy = handler.privacy();
        address[] memory list = privacy.gatewayOperators();
        uint256 expected;
        for (uint256 i; i < handler.operatorCount(); ++i) {
            address operator = handler.operatorAt(i);
            address enclave = handler.modelGateway(operator);
            _assertTrue(privacy.gateway(operator).enclave == enclave, "gateway enclave differs from the model");
            _assertTrue(_contains(list, operator) == (enclave != address(0)), "gateway operators differ");
            if (enclave != address(0)) ++expected;
        }
        _assertEq(list.length, expected, "gatewayOperators() length");
    }

    function invariant_exactErrors() public view {
        _assertEq(handler.wrongError(), 0, string(handler.lastWrongError()));
    }

    function _contains(address[] memory list, address account) internal pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == account) return true;
        }
        return false;
    }
}

/// @title PrivacyRegistryReachTest
/// @notice The handler reaches every success path the invariants depend on (a listing, a withdrawal, a gateway), so
/// that the suite cannot pass by refusing everything.
contract PrivacyRegistryReachTest is Test {
    function test_handlerReachesListingWithdrawalAndGateway() public {
        vm.warp(1_000_000);
        PrivacyRegistryHandler handler = new PrivacyRegistryHandler();
        handler.listRelay(0, 0);
        handler.listRelay(1, 1);
        handler.listRelay(0, 2); // a second listing: RelayExists
        handler.withdrawRelayBond(0, 1); // still listed
        handler.unlistRelay(0);
        handler.withdrawRelayBond(0, 1); // still unbonding
        handler.warp(7 days);
        handler.withdrawRelayBond(0, 1);
        handler.withdrawRelayBond(0, 1); // nothing left
        handler.registerEnclave(0, 0, 1 days);
        handler.setGateway(1, 0, 0); // another operator's enclave
        handler.setGateway(0, 0, 3); // a bad URL
        handler.setGateway(0, 0, 0);
        handler.revokeEnclave(0);
        handler.setGateway(0, 0, 1); // revoked
        handler.removeGateway(0);
        handler.removeGateway(0); // none left
        _assertEq(handler.listed(), 2, "listings");
        _assertEq(handler.withdrawals(), 1, "withdrawals");
        _assertEq(handler.gatewaysSet(), 1, "gateways set");
        _assertEq(handler.wrongError(), 0, string(handler.lastWrongError()));
        _assertEq(handler.deposited() - handler.withdrawn(), 100e18, "one bond left");
    }
}

/// @title PrivacyRegistryBoundsTest
/// @notice The gateway list is bounded: `MAX_GATEWAYS` operators with live enclaves fill it, the next is refused with
/// `PrivacyRegistryListFull`, an operator already listed can still replace its gateway, and removing one frees a slot.
/// (Filling it through quotes in Hardhat would take 256 DCAP verifications; the harness registers without them.)
contract PrivacyRegistryBoundsTest is Test {
    function test_gatewayListIsBounded() public {
        vm.warp(1_000_000);
        PrivacyRegistryHandler handler = new PrivacyRegistryHandler();
        PrivacyRegistry privacy = handler.privacy();
        TeeVerifierHarness tee = handler.tee();
        uint256 max = privacy.MAX_GATEWAYS();
        for (uint256 i; i <= max; ++i) {
            address operator = actor("gateway operator", i);
            address signer = actor("gateway enclave", i);
            vm.prank(operator);
            tee.registerVerified(signer, keccak256(abi.encode(signer)), keccak256("m"), 1 days);
            vm.prank(operator);
            if (i < max) {
                privacy.setGateway(signer, "https://gateway.example");
            } else {
                try privacy.setGateway(signer, "https://gateway.example") {
                    revert("the list took one more gateway than MAX_GATEWAYS");
                } catch (bytes memory err) {
                    _assertTrue(
                        keccak256(err)
                            == keccak256(
                                abi.encodeWithSelector(IPrivacyRegistry.PrivacyRegistryListFull.selector, max)
                            ),
                        "not PrivacyRegistryListFull(MAX_GATEWAYS)"
                    );
                }
            }
        }
        _assertEq(privacy.gatewayOperators().length, max, "gateway operators");
        vm.prank(actor("gateway operator", 0));
        privacy.setGateway(actor("gateway enclave", 0), "https://replaced.example");
        vm.prank(actor("gateway operator", 1));
        privacy.removeGateway();
        vm.prank(actor("gateway operator", max));
        privacy.setGateway(actor("gateway enclave", max), "https://gateway.example");
        _assertEq(privacy.gatewayOperators().length, max, "gateway operators after a removal and an addition");
    }
}

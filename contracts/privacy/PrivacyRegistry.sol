// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {INodeStaking} from "../interfaces/INodeStaking.sol";
import {IPrivacyRegistry} from "../interfaces/IPrivacyRegistry.sol";
import {ITeeVerifier} from "../interfaces/ITeeVerifier.sol";
import {TokenLib} from "../libraries/TokenLib.sol";

/// @title PrivacyRegistry
/// @notice Relays, gateways and node keys of the private path. See `IPrivacyRegistry`.
/// @dev Governance (`DEFAULT_ADMIN_ROLE`) is meant to be a TimelockController: it only sets the parameters.
contract PrivacyRegistry is IPrivacyRegistry, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Most relays listed at once.
    uint256 public constant MAX_RELAYS = 256;
    /// @notice Most gateways at once.
    uint256 public constant MAX_GATEWAYS = 256;
    /// @notice Longest URL, in bytes.
    uint256 public constant MAX_URL_LENGTH = 256;
    /// @notice Upper bound of `relayBond` (10^27 base units: 10^9 tokens of 18 decimals).
    uint96 public constant MAX_RELAY_BOND = 1e27;
    /// @notice Lower bound of `unbondingPeriod`.
    uint32 public constant MIN_UNBONDING_PERIOD = 1 days;
    /// @notice Upper bound of `unbondingPeriod`.
    uint32 public constant MAX_UNBONDING_PERIOD = 30 days;

    /// @inheritdoc IPrivacyRegistry
    IERC20 public immutable token;
    /// @inheritdoc IPrivacyRegistry
    INodeStaking public immutable staking;
    /// @inheritdoc IPrivacyRegistry
    ITeeVerifier public immutable teeVerifier;

    Parameters internal _parameters;
    mapping(address relay => Relay) internal _relays;
    address[] internal _listedRelays;
    /// @dev One plus the relay's index in `_listedRelays`; zero when not listed.
    mapping(address relay => uint256) internal _relayPositions;
    mapping(address operator => Gateway) internal _gateways;
    address[] internal _gatewayOperators;
    /// @dev One plus the operator's index in `_gatewayOperators`; zero without a gateway.
    mapping(address operator => uint256) internal _gatewayPositions;
    mapping(address node => bytes32) internal _nodeKeys;

    constructor(
        IERC20 token_,
        INodeStaking staking_,
        ITeeVerifier teeVerifier_,
        address admin,
        Parameters memory parameters_
    ) {
        _requireCode("token", address(token_));
        _requireCode("staking", address(staking_));
        _requireCode("teeVerifier", address(teeVerifier_));
        (token, staking, teeVerifier) = (token_, staking_, teeVerifier_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setParameters(parameters_);
    }

    /* RELAYS */

    /// @inheritdoc IPrivacyRegistry
    function listRelay(string calldata url) external nonReentrant {
        _checkUrl(url);
        Relay storage record = _relays[msg.sender];
        if (record.bond != 0) revert PrivacyRegistryRelayExists(msg.sender);
        if (_listedRelays.length >= MAX_RELAYS) revert PrivacyRegistryListFull(MAX_RELAYS);
        uint96 bond = _parameters.relayBond;

        (record.url, record.bond) = (url, bond);
        _listedRelays.push(msg.sender);
        _relayPositions[msg.sender] = _listedRelays.length;

        emit RelayListed(msg.sender, url, bond);

        uint256 received = TokenLib.pull(token, msg.sender, bond);
        if (received != bond) revert PrivacyRegistryTransferMismatch(bond, received);
    }

    /// @inheritdoc IPrivacyRegistry
    function updateRelayUrl(string calldata url) external {
        _checkUrl(url);
        if (_relayPositions[msg.sender] == 0) revert PrivacyRegistryRelayNotListed(msg.sender);

        _relays[msg.sender].url = url;

        emit RelayUrlUpdated(msg.sender, url);
    }

    /// @inheritdoc IPrivacyRegistry
    function unlistRelay() external {
        if (_relayPositions[msg.sender] == 0) revert PrivacyRegistryRelayNotListed(msg.sender);
        uint64 withdrawableAt = uint64(block.timestamp) + _parameters.unbondingPeriod;

        _relays[msg.sender].withdrawableAt = withdrawableAt;
        _remove(_listedRelays, _relayPositions, msg.sender);

        emit RelayUnlisted(msg.sender, withdrawableAt);
    }

    /// @inheritdoc IPrivacyRegistry
    function withdrawRelayBond(address recipient) external nonReentrant returns (uint256 amount) {
        if (recipient == address(0)) revert PrivacyRegistryInvalidRecipient(recipient);
        Relay storage record = _relays[msg.sender];
        amount = record.bond;
        if (amount == 0) revert PrivacyRegistryNothingToWithdraw(msg.sender);
        uint64 withdrawableAt = record.withdrawableAt;
        if (withdrawableAt == 0) revert PrivacyRegistryRelayStillListed(msg.sender);
        if (block.timestamp < withdrawableAt) revert PrivacyRegistryRelayStillUnbonding(msg.sender, withdrawableAt);

        delete _relays[msg.sender];

        emit RelayBondWithdrawn(msg.sender, recipient, amount);

        token.safeTransfer(recipient, amount);
    }

    /* GATEWAYS */

    /// @inheritdoc IPrivacyRegistry
    function setGateway(address enclave, string calldata url) external {
        _checkUrl(url);
        _checkEnclave(enclave);
        bytes32 keyConfigHash = teeVerifier.ohttpKeyConfigHash(enclave);
        if (_gatewayPositions[msg.sender] == 0) {
            if (_gatewayOperators.length >= MAX_GATEWAYS) revert PrivacyRegistryListFull(MAX_GATEWAYS);
            _gatewayOperators.push(msg.sender);
            _gatewayPositions[msg.sender] = _gatewayOperators.length;
        }

        _gateways[msg.sender] = Gateway({enclave: enclave, url: url});

        emit GatewaySet(msg.sender, enclave, url, keyConfigHash);
    }

    /// @inheritdoc IPrivacyRegistry
    function removeGateway() external {
        if (_gatewayPositions[msg.sender] == 0) revert PrivacyRegistryNoGateway(msg.sender);

        delete _gateways[msg.sender];
        _remove(_gatewayOperators, _gatewayPositions, msg.sender);

        emit GatewayRemoved(msg.sender);
    }

    /// @dev Reverts unless `enclave` is registered to the caller, unrevoked, unexpired, with an unrevoked measurement.
    function _checkEnclave(address enclave) internal view {
        ITeeVerifier.Enclave memory e = teeVerifier.enclaveOf(enclave);
        if (e.operator == address(0)) revert PrivacyRegistryUnknownEnclave(enclave);
        if (e.operator != msg.sender) revert PrivacyRegistryEnclaveNotOwned(enclave, e.operator, msg.sender);
        if (e.revoked) revert PrivacyRegistryEnclaveRevoked(enclave);
        if (block.timestamp >= e.expiresAt) revert PrivacyRegistryEnclaveExpired(enclave, e.expiresAt);
        if (teeVerifier.measurementRevokedAt(e.measurement) != 0) {
            revert PrivacyRegistryMeasurementRevoked(enclave, e.measurement);
        }
    }

    /* NODE KEYS */

    /// @inheritdoc IPrivacyRegistry
    function setNodeKey(bytes32 key) external {
        if (key == 0) revert PrivacyRegistryInvalidNodeKey();
        if (staking.operatorOf(msg.sender).capabilities == 0) revert PrivacyRegistryNotOperator(msg.sender);

        _nodeKeys[msg.sender] = key;

        emit NodeKeySet(msg.sender, key);
    }

    /* GOVERNANCE */

    /// @inheritdoc IPrivacyRegistry
    function setParameters(Parameters calldata parameters_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParameters(parameters_);
    }

    function _setParameters(Parameters memory p) internal {
        if (p.relayBond == 0 || p.relayBond > MAX_RELAY_BOND) {
            revert PrivacyRegistryParameterOutOfBounds("relayBond", p.relayBond, 1, MAX_RELAY_BOND);
        }
        if (p.unbondingPeriod < MIN_UNBONDING_PERIOD || p.unbondingPeriod > MAX_UNBONDING_PERIOD) {
            revert PrivacyRegistryParameterOutOfBounds(
                "unbondingPeriod", p.unbondingPeriod, MIN_UNBONDING_PERIOD, MAX_UNBONDING_PERIOD
            );
        }

        _parameters = p;

        emit ParametersUpdated(p);
    }

    /* VIEWS */

    /// @inheritdoc IPrivacyRegistry
    function parameters() external view returns (Parameters memory) {
        return _parameters;
    }

    /// @inheritdoc IPrivacyRegistry
    function relay(address account) external view returns (Relay memory) {
        return _relays[account];
    }

    /// @inheritdoc IPrivacyRegistry
    function relays() external view returns (address[] memory) {
        return _listedRelays;
    }

    /// @inheritdoc IPrivacyRegistry
    function gateway(address operator) external view returns (Gateway memory) {
        return _gateways[operator];
    }

    /// @inheritdoc IPrivacyRegistry
    function gatewayOperators() external view returns (address[] memory) {
        return _gatewayOperators;
    }

    /// @inheritdoc IPrivacyRegistry
    function nodeKey(address node) external view returns (bytes32) {
        return _nodeKeys[node];
    }

    /* INTERNAL */

    /// @dev Removes `account` (present) from `list` by moving the last entry into its place.
    function _remove(address[] storage list, mapping(address => uint256) storage positions, address account) internal {
        uint256 index = positions[account] - 1;
        address last = list[list.length - 1];
        list[index] = last;
        positions[last] = index + 1;
        list.pop();
        delete positions[account];
    }

    /// @dev Printable ASCII only: clients decode URLs as UTF-8 strings (invalid UTF-8 would break the ABI decoding of
    /// `relays` and events for every client), and a URL has no spaces or controls (RFC 3986).
    function _checkUrl(string calldata url) internal pure {
        bytes calldata b = bytes(url);
        if (b.length == 0 || b.length > MAX_URL_LENGTH || !_hasHttpScheme(b)) revert PrivacyRegistryInvalidUrl(b);
        for (uint256 i; i < b.length; ++i) {
            if (b[i] < 0x21 || b[i] > 0x7e) revert PrivacyRegistryInvalidUrl(b);
        }
    }

    function _hasHttpScheme(bytes calldata b) internal pure returns (bool) {
        return (b.length > 7 && bytes7(b[:7]) == "http://") || (b.length > 8 && bytes8(b[:8]) == "https://");
    }

    function _requireCode(string memory name, address account) internal view {
        if (account.code.length == 0) revert PrivacyRegistryInvalidContract(name, account);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {INodeStaking} from "../interfaces/INodeStaking.sol";
import {IStakeLocker} from "../interfaces/IStakeLocker.sol";
import {ModesLib, Mode} from "../types/Ids.sol";
import {TokenLib} from "../libraries/TokenLib.sol";

/// @title NodeStaking
/// @notice Operator stake, thawing and slashing. See `INodeStaking`.
/// @dev Governance (`DEFAULT_ADMIN_ROLE`) is meant to be a TimelockController.
contract NodeStaking is INodeStaking, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using ModesLib for uint32;

    /// @notice Most stake lockers that can be registered.
    uint256 public constant MAX_LOCKERS = 4;
    /// @notice Lower bound of `thawingPeriod`.
    uint64 public constant MIN_THAWING_PERIOD = 1 hours;
    /// @notice Upper bound of `thawingPeriod`.
    uint64 public constant MAX_THAWING_PERIOD = 365 days;
    /// @notice Lower bound of `maxSlashBps`.
    uint16 public constant MIN_MAX_SLASH_BPS = 1_000;
    /// @notice Upper bound of `maxSlashBps`.
    uint16 public constant MAX_MAX_SLASH_BPS = 10_000;
    /// @notice Upper bound of `minimumStake` (10^30 base units: 10^12 tokens of 18 decimals).
    uint128 public constant MAX_MINIMUM_STAKE = 1e30;

    IERC20 internal immutable _token;

    Parameters internal _parameters;
    mapping(address => Operator) internal _operators;
    address[] internal _lockers;
    mapping(address => bool) internal _isLocker;
    uint256 internal _totalStaked;

    constructor(IERC20 token_, address admin, Parameters memory parameters_) {
        _token = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setParameters(parameters_);
    }

    modifier onlyLocker() {
        if (!_isLocker[msg.sender]) revert NodeStakingUnauthorizedLocker(msg.sender);
        _;
    }

    /* OPERATOR FUNCTIONS */

    /// @inheritdoc INodeStaking
    function stake(uint256 amount) external nonReentrant {
        _stake(amount);
    }

    /// @inheritdoc INodeStaking
    function stakeWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external nonReentrant {
        TokenLib.tryPermit(_token, msg.sender, amount, deadline, v, r, s);
        _stake(amount);
    }

    /// @inheritdoc INodeStaking
    function register(uint32 capabilities) external {
        if (capabilities == 0 || !ModesLib.allKnown(capabilities)) revert NodeStakingInvalidCapabilities(capabilities);
        Operator storage operator = _operators[msg.sender];
        uint256 minimum = _parameters.minimumStake;
        if (operator.staked < minimum) revert NodeStakingBelowMinimumStake(msg.sender, operator.staked, minimum);

        operator.capabilities = capabilities;

        emit CapabilitiesUpdated(msg.sender, capabilities);
    }

    /// @inheritdoc INodeStaking
    function unstake(uint256 amount) external nonReentrant {
        if (amount == 0) revert NodeStakingZeroAmount();
        uint256 available = _availableStake(msg.sender);
        if (amount > available) revert NodeStakingInsufficientStake(msg.sender, available, amount);
        Operator storage operator = _operators[msg.sender];
        uint64 thawEnd = uint64(block.timestamp) + _parameters.thawingPeriod;

        operator.staked -= uint128(amount);
        operator.thawing += uint128(amount);
        operator.thawEnd = thawEnd;

        emit Unstaked(msg.sender, amount, thawEnd);
    }

    /// @inheritdoc INodeStaking
    function restake(uint256 amount) external {
        if (amount == 0) revert NodeStakingZeroAmount();
        Operator storage operator = _operators[msg.sender];
        if (amount > operator.thawing) revert NodeStakingInsufficientStake(msg.sender, operator.thawing, amount);

        operator.thawing -= uint128(amount);
        operator.staked += uint128(amount);
        if (operator.thawing == 0) operator.thawEnd = 0;

        emit Restaked(msg.sender, amount);
    }

    /// @inheritdoc INodeStaking
    function withdraw(address recipient) external nonReentrant returns (uint256 amount) {
        if (recipient == address(0)) revert NodeStakingInvalidRecipient(recipient);
        Operator storage operator = _operators[msg.sender];
        amount = operator.thawing;
        if (amount == 0) revert NodeStakingNothingThawing(msg.sender);
        if (block.timestamp < operator.thawEnd) revert NodeStakingStillThawing(msg.sender, operator.thawEnd);

        operator.thawing = 0;
        operator.thawEnd = 0;
        _totalStaked -= amount;

        emit Withdrawn(msg.sender, recipient, amount);

        _token.safeTransfer(recipient, amount);
    }

    /* PROTOCOL FUNCTIONS */

    /// @inheritdoc INodeStaking
    function slash(address operatorAddress, uint256 amount) external onlyLocker nonReentrant returns (uint256 slashed) {
        Operator storage operator = _operators[operatorAddress];
        uint256 thawing = operator.thawing;
        uint256 slashable = operator.staked + thawing;
        uint256 cap = Math.mulDiv(slashable, _parameters.maxSlashBps, 10_000, Math.Rounding.Ceil);
        slashed = Math.min(amount, cap);
        if (slashed == 0) return 0;
        // Thawing stake pays its pro-rata share, rounded up, so unstaking never reduces what a fault costs.
        uint256 fromThawing = Math.mulDiv(slashed, thawing, slashable, Math.Rounding.Ceil);

        operator.thawing = uint128(thawing - fromThawing);
        operator.staked -= uint128(slashed - fromThawing);
        if (operator.thawing == 0) operator.thawEnd = 0;
        _totalStaked -= slashed;

        emit Slashed(operatorAddress, msg.sender, slashed, fromThawing);

        _token.safeTransfer(msg.sender, slashed);
    }

    /* GOVERNANCE FUNCTIONS */

    /// @inheritdoc INodeStaking
    function addStakeLocker(address locker) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_isLocker[locker] || locker.code.length == 0 || _lockers.length >= MAX_LOCKERS) {
            revert NodeStakingInvalidLocker(locker);
        }

        _isLocker[locker] = true;
        _lockers.push(locker);

        emit StakeLockerAdded(locker);
    }

    /// @inheritdoc INodeStaking
    function setParameters(Parameters calldata parameters_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParameters(parameters_);
    }

    /* VIEWS */

    /// @inheritdoc INodeStaking
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc INodeStaking
    function operatorOf(address operator) external view returns (Operator memory) {
        return _operators[operator];
    }

    /// @inheritdoc INodeStaking
    function availableStake(address operator) external view returns (uint256) {
        return _availableStake(operator);
    }

    /// @inheritdoc INodeStaking
    function lockedStake(address operator) public view returns (uint256 locked) {
        for (uint256 i; i < _lockers.length; ++i) {
            locked += IStakeLocker(_lockers[i]).lockedStake(operator);
        }
    }

    /// @inheritdoc INodeStaking
    function isEligible(address operatorAddress, uint8 mode, uint256 collateral) external view returns (bool) {
        Operator storage operator = _operators[operatorAddress];
        return operator.capabilities.has(Mode.wrap(mode)) && operator.staked >= _parameters.minimumStake
            && _availableStake(operatorAddress) >= collateral;
    }

    /// @inheritdoc INodeStaking
    function parameters() external view returns (Parameters memory) {
        return _parameters;
    }

    /// @inheritdoc INodeStaking
    function stakeLockers() external view returns (address[] memory) {
        return _lockers;
    }

    /// @inheritdoc INodeStaking
    function totalStaked() external view returns (uint256) {
        return _totalStaked;
    }

    /* INTERNAL */

    function _stake(uint256 amount) internal {
        if (amount == 0) revert NodeStakingZeroAmount();

        _operators[msg.sender].staked += amount.toUint128();
        _totalStaked += amount;

        emit Staked(msg.sender, amount);

        _pull(msg.sender, amount);
    }

    /// @dev Pulls `amount` and checks it all arrived (`TokenLib.pull`).
    function _pull(address from, uint256 amount) internal {
        uint256 received = TokenLib.pull(_token, from, amount);
        if (received != amount) revert NodeStakingTransferMismatch(amount, received);
    }

    function _availableStake(address operator) internal view returns (uint256) {
        uint256 staked = _operators[operator].staked;
        uint256 locked = lockedStake(operator);
        return staked > locked ? staked - locked : 0;
    }

    function _setParameters(Parameters memory p) internal {
        if (p.minimumStake > MAX_MINIMUM_STAKE) {
            revert NodeStakingParameterOutOfBounds("minimumStake", p.minimumStake, 0, MAX_MINIMUM_STAKE);
        }
        if (p.thawingPeriod < MIN_THAWING_PERIOD || p.thawingPeriod > MAX_THAWING_PERIOD) {
            revert NodeStakingParameterOutOfBounds(
                "thawingPeriod", p.thawingPeriod, MIN_THAWING_PERIOD, MAX_THAWING_PERIOD
            );
        }
        if (p.maxSlashBps < MIN_MAX_SLASH_BPS || p.maxSlashBps > MAX_MAX_SLASH_BPS) {
            revert NodeStakingParameterOutOfBounds("maxSlashBps", p.maxSlashBps, MIN_MAX_SLASH_BPS, MAX_MAX_SLASH_BPS);
        }

        _parameters = p;

        emit ParametersUpdated(p);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {JobEscrow} from "../../../contracts/escrow/JobEscrow.sol";
import {NodeStaking} from "../../../contracts/staking/NodeStaking.sol";
import {Vm} from "../utils/Vm.sol";
import {clamp} from "../utils/Test.sol";

/// @title GovernanceHandler
/// @notice Governance through the real TimelockController (schedule, wait out the delay, execute), a guardian
/// that pauses and unpauses requests, and outsiders that try to skip the timelock or break a bound.
/// @dev This contract is the timelock's proposer and the escrow's pauser.
contract GovernanceHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant TOKEN = 1e18;

    TimelockController public immutable timelock;
    JobEscrow public immutable escrow;
    NodeStaking public immutable staking;

    uint256 internal _nonce;
    /// @notice Governance calls that went through, and bypass or out-of-bounds attempts that did not fail as they must.
    uint256 public executed;
    uint256 public bypassAccepted;
    uint256 public outOfBoundsAccepted;
    uint256 public wrongError;
    bytes public lastWrongError;
    uint256 public pauses;

    constructor(TimelockController timelock_, JobEscrow escrow_, NodeStaking staking_) {
        (timelock, escrow, staking) = (timelock_, escrow_, staking_);
    }

    /// @notice Governance changes the escrow's parameters, each within its bounds.
    function setEscrowParameters(
        uint256 feeBps,
        uint256 beneficiaryBps,
        uint256 minDuration,
        uint256 revealPeriod,
        uint256 seed
    ) external {
        IJobEscrow.Parameters memory p = IJobEscrow.Parameters({
            minCollateral: uint96(clamp(seed, 0, 10 * TOKEN)),
            protocolFeeBps: uint16(clamp(feeBps, 0, escrow.MAX_PROTOCOL_FEE_BPS())),
            slashBeneficiaryBps: uint16(clamp(beneficiaryBps, 0, 10_000)),
            minDuration: uint32(clamp(minDuration, escrow.MIN_DURATION_FLOOR(), 600)),
            maxDuration: 0,
            revealPeriod: uint32(clamp(revealPeriod, escrow.MIN_REVEAL_PERIOD(), 1 days)),
            maxCallbackGas: uint32(clamp(seed >> 96, 100_000, 1_000_000)),
            maxCollateralRatio: uint16(clamp(seed >> 160, 1, escrow.MAX_COLLATERAL_RATIO())),
            usageFeeFloor: uint96(clamp(seed >> 176, 0, escrow.MAX_AMOUNT_PARAMETER()))
        });
        p.maxDuration = uint32(clamp(seed >> 128, p.minDuration, 30 days));
        _govern(address(escrow), abi.encodeCall(escrow.setParameters, (p)));
    }

    /// @notice Governance changes the staking parameters, each within its bounds.
    function setStakingParameters(uint256 minimumStake, uint256 thawingPeriod, uint256 maxSlashBps) external {
        INodeStaking.Parameters memory p = INodeStaking.Parameters({
            minimumStake: uint128(clamp(minimumStake, 0, 1_200 * TOKEN)),
            thawingPeriod: uint64(clamp(thawingPeriod, staking.MIN_THAWING_PERIOD(), 2 days)),
            maxSlashBps: uint16(clamp(maxSlashBps, staking.MIN_MAX_SLASH_BPS(), staking.MAX_MAX_SLASH_BPS()))
        });
        _govern(address(staking), abi.encodeCall(staking.setParameters, (p)));
    }

    /// @notice Governance moves the treasury; protocol fees already accrued go to the new one.
    function setTreasury(uint256 seed) external {
        address treasury = address(uint160(uint256(keccak256(abi.encode("treasury", seed % 3)))));
        _govern(address(escrow), abi.encodeCall(escrow.setTreasury, (treasury)));
    }

    /// @notice A parameter out of its bounds, even through the timelock, must fail with its bound: a protocol fee
    /// above its cap, a collateral ratio of zero or above its cap, a minimum collateral or usage fee floor above a
    /// billion tokens.
    function setOutOfBounds(uint256 which, uint256 value) external {
        IJobEscrow.Parameters memory p = escrow.parameters();
        (string memory name, uint256 v, uint256 min, uint256 max) = _outOfBounds(p, which % 4, value);
        bytes memory data = abi.encodeCall(escrow.setParameters, (p));
        bytes32 salt = _schedule(address(escrow), data);
        try timelock.execute(address(escrow), 0, data, bytes32(0), salt) {
            ++outOfBoundsAccepted;
        } catch (bytes memory err) {
            _expect(err, abi.encodeWithSelector(IJobEscrow.JobEscrowParameterOutOfBounds.selector, name, v, min, max));
        }
    }

    function _outOfBounds(IJobEscrow.Parameters memory p, uint256 which, uint256 value)
        internal
        view
        returns (string memory name, uint256 v, uint256 min, uint256 max)
    {
        uint256 amountMax = escrow.MAX_AMOUNT_PARAMETER();
        if (which == 0) {
            (name, min, max) = ("protocolFeeBps", 0, escrow.MAX_PROTOCOL_FEE_BPS());
            p.protocolFeeBps = uint16(v = clamp(value, max + 1, type(uint16).max));
        } else if (which == 1) {
            (name, min, max) = ("maxCollateralRatio", 1, escrow.MAX_COLLATERAL_RATIO());
            p.maxCollateralRatio = uint16(v = value % 2 == 0 ? 0 : clamp(value, max + 1, type(uint16).max));
        } else if (which == 2) {
            (name, min, max) = ("minCollateral", 0, amountMax);
            p.minCollateral = uint96(v = clamp(value, amountMax + 1, type(uint96).max));
        } else {
            (name, min, max) = ("usageFeeFloor", 0, amountMax);
            p.usageFeeFloor = uint96(v = clamp(value, amountMax + 1, type(uint96).max));
        }
    }

    /// @notice Anyone (this proposer included) calling a governed function directly, skipping the timelock.
    function bypassTimelock(uint256 callerSeed, uint256 which) external {
        address caller = callerSeed % 2 == 0 ? address(this) : address(uint160(callerSeed));
        bytes memory data = which % 3 == 0
            ? abi.encodeCall(escrow.setParameters, (escrow.parameters()))
            : which % 3 == 1
                ? abi.encodeCall(escrow.setTreasury, (caller))
                : abi.encodeCall(staking.setParameters, (staking.parameters()));
        address target = which % 3 == 2 ? address(staking) : address(escrow);
        if (caller == address(timelock)) return;
        vm.prank(caller);
        (bool ok, bytes memory err) = target.call(data);
        if (ok) {
            ++bypassAccepted;
        } else {
            _expect(
                err,
                abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, bytes32(0))
            );
        }
    }

    /// @notice The guardian pauses (one time in four) or unpauses new requests.
    function setPaused(uint256 seed) external {
        bool paused = seed % 4 == 0;
        escrow.setPaused(paused);
        if (paused) ++pauses;
    }

    function _govern(address target, bytes memory data) internal {
        bytes32 salt = _schedule(target, data);
        timelock.execute(target, 0, data, bytes32(0), salt);
        ++executed;
    }

    /// @dev Schedules with the minimum delay and waits it out; executing one second early must fail.
    function _schedule(address target, bytes memory data) internal returns (bytes32 salt) {
        salt = bytes32(++_nonce);
        uint256 delay = timelock.getMinDelay();
        timelock.schedule(target, 0, data, bytes32(0), salt, delay);
        bytes32 id = timelock.hashOperation(target, 0, data, bytes32(0), salt);
        vm.warp(block.timestamp + delay - 1);
        try timelock.execute(target, 0, data, bytes32(0), salt) {
            ++bypassAccepted;
        } catch (bytes memory err) {
            _expect(
                err,
                abi.encodeWithSelector(
                    TimelockController.TimelockUnexpectedOperationState.selector,
                    id,
                    bytes32(1 << uint8(TimelockController.OperationState.Ready))
                )
            );
        }
        vm.warp(block.timestamp + 1);
    }

    function _expect(bytes memory err, bytes memory expected) internal {
        if (keccak256(err) != keccak256(expected)) {
            ++wrongError;
            lastWrongError = err;
        }
    }
}

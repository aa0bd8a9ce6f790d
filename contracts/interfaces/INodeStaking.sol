// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title INodeStaking
/// @notice Operators stake an ERC-20 to serve inference jobs. Stake can be locked as collateral by protocol
/// contracts (stake lockers, such as the JobEscrow), slashed by them for faults, and unstaked through a thawing
/// period during which it stays slashable.
/// @dev Slashing is pro-rata across active and thawing stake (as in The Graph Horizon): unstaking never lets an
/// operator escape a slash. Slashes round up; the share taken from thawing stake rounds up too.
/// @dev Warning: stake lockers are trusted protocol contracts, added by governance. A locker must unlock at least
/// as much collateral as it slashes in the same call, which keeps `locked <= staked` for every operator.
/// @dev Warning: the staking token must be a plain ERC-20. Deposits that arrive short (fee-on-transfer) revert;
/// rebasing tokens are unsupported because balances would drift from the books.
interface INodeStaking {
    /* TYPES */

    /// @notice An operator's position.
    /// @param staked Active stake, including stake locked by lockers.
    /// @param thawing Stake unstaked and waiting for `thawEnd`; still slashable.
    /// @param thawEnd When `thawing` can be withdrawn.
    /// @param capabilities Bitmask of the modes (`1 << mode`) the operator serves; zero if unregistered. An operator
    /// serving DUAL (3) also needs TEE (1) to register its enclave with `TeeVerifier`.
    struct Operator {
        uint128 staked;
        uint128 thawing;
        uint64 thawEnd;
        uint32 capabilities;
    }

    /// @notice Governance parameters, each bounded in code.
    /// @param minimumStake Active stake an operator needs to take work.
    /// @param thawingPeriod Seconds between unstaking and withdrawal.
    /// @param maxSlashBps Most that one slash may take, in basis points of the operator's slashable stake: a
    /// protocol-wide safety cap against a faulty locker, applied when the slash happens (also to open jobs).
    struct Parameters {
        uint128 minimumStake;
        uint64 thawingPeriod;
        uint16 maxSlashBps;
    }

    /* EVENTS */

    /// @notice Emitted when `operator` adds `amount` to its active stake.
    event Staked(address indexed operator, uint256 amount);

    /// @notice Emitted when `operator` moves `amount` from active to thawing stake; all thawing stake is
    /// withdrawable at `thawEnd`.
    event Unstaked(address indexed operator, uint256 amount, uint64 thawEnd);

    /// @notice Emitted when `operator` moves `amount` of thawing stake back to active stake.
    event Restaked(address indexed operator, uint256 amount);

    /// @notice Emitted when `operator` withdraws `amount` of thawed stake to `recipient`.
    event Withdrawn(address indexed operator, address indexed recipient, uint256 amount);

    /// @notice Emitted when `operator` registers or changes the modes it serves.
    event CapabilitiesUpdated(address indexed operator, uint32 capabilities);

    /// @notice Emitted when `slasher` slashes `amount` from `operator` (`fromThawing` of it from thawing stake).
    /// The slashed tokens are sent to `slasher`, which distributes them.
    event Slashed(address indexed operator, address indexed slasher, uint256 amount, uint256 fromThawing);

    /// @notice Emitted when governance adds a stake locker.
    event StakeLockerAdded(address indexed locker);

    /// @notice Emitted when governance changes the parameters.
    event ParametersUpdated(Parameters parameters);

    /* ERRORS */

    /// @notice The amount must be positive.
    error NodeStakingZeroAmount();
    /// @notice `operator` wants to use `needed` but only `available` is free (active stake minus locked stake,
    /// or thawing stake for `restake`).
    error NodeStakingInsufficientStake(address operator, uint256 available, uint256 needed);
    /// @notice `operator`'s thawing stake is withdrawable only at `thawEnd`.
    error NodeStakingStillThawing(address operator, uint64 thawEnd);
    /// @notice `operator` has no thawing stake.
    error NodeStakingNothingThawing(address operator);
    /// @notice Registration needs a non-zero capability set within the known modes.
    error NodeStakingInvalidCapabilities(uint32 capabilities);
    /// @notice Registration needs at least `minimum` active stake.
    error NodeStakingBelowMinimumStake(address operator, uint256 staked, uint256 minimum);
    /// @notice Only a registered stake locker may call this.
    error NodeStakingUnauthorizedLocker(address caller);
    /// @notice `locker` is already registered, is not a contract, or the locker list is full.
    error NodeStakingInvalidLocker(address locker);
    /// @notice A parameter is outside its bounds.
    error NodeStakingParameterOutOfBounds(string name, uint256 value, uint256 min, uint256 max);
    /// @notice The token moved `received` instead of `expected` (a fee-on-transfer or otherwise non-standard token).
    error NodeStakingTransferMismatch(uint256 expected, uint256 received);
    /// @notice Withdrawals need a non-zero recipient.
    error NodeStakingInvalidRecipient(address recipient);

    /* OPERATOR FUNCTIONS */

    /// @notice Adds `amount` of the staking token to the caller's active stake (pulled with `transferFrom`).
    function stake(uint256 amount) external;

    /// @notice `stake` with an ERC-2612 permit for `amount`, in one transaction.
    function stakeWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Registers the caller (or updates its modes) with `capabilities`, a bitmask of modes served.
    /// @dev Needs at least the minimum stake. Capabilities can be updated at any time.
    function register(uint32 capabilities) external;

    /// @notice Moves `amount` of unlocked active stake to thawing, and restarts the thawing clock for all
    /// thawing stake. It stays slashable until withdrawn.
    function unstake(uint256 amount) external;

    /// @notice Moves `amount` of thawing stake back to active stake.
    function restake(uint256 amount) external;

    /// @notice Withdraws all thawed stake to `recipient` once the thawing period has passed.
    function withdraw(address recipient) external returns (uint256 amount);

    /* PROTOCOL FUNCTIONS */

    /// @notice Slashes up to `amount` from `operator`, pro-rata across active and thawing stake, and sends
    /// the slashed tokens to the caller. Only a stake locker.
    /// @dev Never reverts for lack of stake: the slash is capped at `maxSlashBps` of the slashable stake
    /// (rounded up) and at the slashable stake itself, so a fault can always be resolved.
    /// @return slashed The amount actually slashed and transferred to the caller.
    function slash(address operator, uint256 amount) external returns (uint256 slashed);

    /* GOVERNANCE FUNCTIONS */

    /// @notice Registers a stake locker. Only governance. At most `MAX_LOCKERS`; lockers cannot be removed,
    /// since stake they hold locked must stay locked.
    function addStakeLocker(address locker) external;

    /// @notice Sets the parameters, each within its bounds. Only governance.
    function setParameters(Parameters calldata parameters) external;

    /* VIEWS */

    /// @notice The staking token.
    function token() external view returns (address);

    /// @notice An operator's position.
    function operatorOf(address operator) external view returns (Operator memory);

    /// @notice Active stake not locked by any locker.
    function availableStake(address operator) external view returns (uint256);

    /// @notice Stake locked by all lockers together.
    function lockedStake(address operator) external view returns (uint256);

    /// @notice Whether `operator` is registered for `mode`, holds the minimum stake and has `collateral` free.
    function isEligible(address operator, uint8 mode, uint256 collateral) external view returns (bool);

    /// @notice The current parameters.
    function parameters() external view returns (Parameters memory);

    /// @notice The registered stake lockers.
    function stakeLockers() external view returns (address[] memory);

    /// @notice Total tokens held for operators: the sum of all active and thawing stake.
    function totalStaked() external view returns (uint256);
}

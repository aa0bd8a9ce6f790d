// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {INodeStaking} from "./INodeStaking.sol";

/// @title IProviderDirectory
/// @notice Where staked operators announce the libp2p multiaddrs at which they serve model files over IPFS (bitswap),
/// so that hubs, nodes and `vin pull` find providers on the chain, without a central index. An operator staked in
/// `INodeStaking` announces 1 to `MAX_ADDRESSES` text multiaddrs (`/ip4/203.0.113.7/tcp/4001/p2p/12D3KooW...`), each
/// replacing its previous announcement, and withdraws them when it stops serving. Anyone may prune the announcement
/// of an operator that is no longer staked.
/// @dev An operator is staked here when it is registered in `INodeStaking` (non-zero capabilities) and its active
/// stake is at least the current `minimumStake` (`isStakedOperator`): the stake an operator needs to take any work.
/// Announcing needs it; pruning needs its absence.
/// @dev No money moves. Pruning pays nobody: its caller only spends gas to keep the list short, and can prune only
/// operators that could not announce again as they are. The list is bounded (`MAX_PROVIDERS`) and every entry holds
/// a minimum stake, so filling it costs `MAX_PROVIDERS` minimum stakes for as long as it stays full; entries of
/// operators that leave are pruned to free their place.
/// @dev Warning: an announcement is a claim of availability only. It proves neither that the operator serves any
/// content nor that the addresses are its own, reachable or well formed: the contract checks the text's shape only
/// (a leading `/`, printable ASCII, bounded lengths), not the multiaddr's protocols or its peer id. Readers parse
/// every address, ignore the malformed ones, and check every block they fetch against its CID; an operator that
/// unstakes after announcing stays listed until pruned, so readers check `isStakedOperator` (or `INodeStaking`)
/// themselves at read time.
interface IProviderDirectory {
    /* EVENTS */

    /// @notice Emitted when `operator` announces `multiaddrs`, replacing any previous announcement.
    event ProvidersAnnounced(address indexed operator, string[] multiaddrs);

    /// @notice Emitted when `operator` withdraws its announcement.
    event ProvidersWithdrawn(address indexed operator);

    /// @notice Emitted when `pruner` removes the announcement of `operator`, which is no longer staked.
    event ProvidersPruned(address indexed operator, address indexed pruner);

    /* ERRORS */

    /// @notice `account` is not an operator registered in `INodeStaking` (its capabilities are zero).
    error ProviderDirectoryNotOperator(address account);
    /// @notice `operator`'s active stake `staked` is below the minimum stake `minimum`.
    error ProviderDirectoryBelowMinimumStake(address operator, uint256 staked, uint256 minimum);
    /// @notice An announcement holds 1 to `max` addresses, not `count`.
    error ProviderDirectoryInvalidAddressCount(uint256 count, uint256 max);
    /// @notice The address at `index`, `multiaddr`, is not 1 to `MAX_ADDRESS_BYTES` bytes of printable ASCII (0x21
    /// to 0x7e) starting with `/`.
    error ProviderDirectoryInvalidAddress(uint256 index, bytes multiaddr);
    /// @notice `operator` has no announcement.
    error ProviderDirectoryNotAnnounced(address operator);
    /// @notice `operator` is still staked: only it may withdraw its announcement.
    error ProviderDirectoryStillStaked(address operator);
    /// @notice The directory already lists `max` operators.
    error ProviderDirectoryFull(uint256 max);
    /// @notice The constructor argument `name` is `account`, which has no code.
    error ProviderDirectoryInvalidContract(string name, address account);

    /* OPERATORS */

    /// @notice Announces the caller's `multiaddrs` (1 to `MAX_ADDRESSES`, each 1 to `MAX_ADDRESS_BYTES` bytes of
    /// printable ASCII starting with `/`), replacing its previous announcement. The caller must be staked
    /// (`isStakedOperator`); a first announcement needs a free place in the list (`MAX_PROVIDERS`).
    /// @dev Each address should be a text multiaddr ending in `/p2p/<peer id>` with a transport readers dial
    /// (`/ip4`, `/ip6` or `/dns*`, then `/tcp/<port>`); the contract cannot parse it, readers ignore what they cannot.
    function announce(string[] calldata multiaddrs) external;

    /// @notice Removes the caller's announcement.
    function withdraw() external;

    /// @notice Removes the announcement of `operator`, which must no longer be staked (`isStakedOperator` false).
    /// Anyone may call it; it pays nothing.
    function prune(address operator) external;

    /* VIEWS */

    /// @notice Whose operators may announce.
    function staking() external view returns (INodeStaking);

    /// @notice `operator`'s announced multiaddrs, in the order announced (empty if none).
    function addressesOf(address operator) external view returns (string[] memory);

    /// @notice The operators with an announcement, in no particular order (removal moves the last one into the freed
    /// place). Includes operators no longer staked that nobody has pruned yet.
    function providers() external view returns (address[] memory);

    /// @notice Whether `operator` is registered in `INodeStaking` with at least the minimum stake active: the rule
    /// `announce` requires and `prune` requires the absence of.
    function isStakedOperator(address operator) external view returns (bool);
}

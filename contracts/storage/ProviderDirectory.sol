// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

import {INodeStaking} from "../interfaces/INodeStaking.sol";
import {IProviderDirectory} from "../interfaces/IProviderDirectory.sol";

/// @title ProviderDirectory
/// @notice Staked operators' libp2p multiaddrs for the content they serve. See `IProviderDirectory`.
/// @dev No admin and no parameters: the bounds are constants and eligibility is `INodeStaking`'s.
contract ProviderDirectory is IProviderDirectory {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @notice Most addresses in one announcement.
    uint256 public constant MAX_ADDRESSES = 4;
    /// @notice Longest address, in bytes.
    uint256 public constant MAX_ADDRESS_BYTES = 256;
    /// @notice Most operators listed at once.
    uint256 public constant MAX_PROVIDERS = 1024;

    /// @inheritdoc IProviderDirectory
    INodeStaking public immutable staking;

    EnumerableSet.AddressSet internal _providers;
    mapping(address operator => string[]) internal _addresses;

    constructor(INodeStaking staking_) {
        if (address(staking_).code.length == 0) revert ProviderDirectoryInvalidContract("staking", address(staking_));
        staking = staking_;
    }

    /* OPERATORS */

    /// @inheritdoc IProviderDirectory
    function announce(string[] calldata multiaddrs) external {
        _checkAddresses(multiaddrs);
        _checkStaked(msg.sender);
        bool first = !_providers.contains(msg.sender);
        if (first && _providers.length() >= MAX_PROVIDERS) revert ProviderDirectoryFull(MAX_PROVIDERS);

        if (first) _providers.add(msg.sender);
        _store(_addresses[msg.sender], multiaddrs);

        emit ProvidersAnnounced(msg.sender, multiaddrs);
    }

    /// @inheritdoc IProviderDirectory
    function withdraw() external {
        _remove(msg.sender);

        emit ProvidersWithdrawn(msg.sender);
    }

    /// @inheritdoc IProviderDirectory
    function prune(address operator) external {
        if (isStakedOperator(operator)) revert ProviderDirectoryStillStaked(operator);
        _remove(operator);

        emit ProvidersPruned(operator, msg.sender);
    }

    /* VIEWS */

    /// @inheritdoc IProviderDirectory
    function addressesOf(address operator) external view returns (string[] memory) {
        return _addresses[operator];
    }

    /// @inheritdoc IProviderDirectory
    function providers() external view returns (address[] memory) {
        return _providers.values();
    }

    /// @inheritdoc IProviderDirectory
    function isStakedOperator(address operator) public view returns (bool) {
        INodeStaking.Operator memory o = staking.operatorOf(operator);
        return o.capabilities != 0 && o.staked >= staking.parameters().minimumStake;
    }

    /* INTERNAL */

    /// @dev Reverts with the reason `operator` is not staked, if it is not.
    function _checkStaked(address operator) internal view {
        INodeStaking.Operator memory o = staking.operatorOf(operator);
        if (o.capabilities == 0) revert ProviderDirectoryNotOperator(operator);
        uint256 minimum = staking.parameters().minimumStake;
        if (o.staked < minimum) revert ProviderDirectoryBelowMinimumStake(operator, o.staked, minimum);
    }

    /// @dev Deletes `operator`'s announcement and its place in the list; reverts if it has none.
    function _remove(address operator) internal {
        if (!_providers.remove(operator)) revert ProviderDirectoryNotAnnounced(operator);
        delete _addresses[operator];
    }

    /// @dev Overwrites `stored` with `multiaddrs` in place (the legacy code generator cannot copy a calldata
    /// `string[]` to storage), popping what is left of a longer previous announcement so its slots are cleared.
    function _store(string[] storage stored, string[] calldata multiaddrs) internal {
        uint256 previous = stored.length;
        for (uint256 i; i < multiaddrs.length; ++i) {
            if (i < previous) stored[i] = multiaddrs[i];
            else stored.push(multiaddrs[i]);
        }
        for (uint256 i = multiaddrs.length; i < previous; ++i) {
            stored.pop();
        }
    }

    /// @dev Printable ASCII only: readers decode the addresses as UTF-8 strings (invalid UTF-8 would break the ABI
    /// decoding of `addressesOf` and of the event), and a text multiaddr has no spaces or controls.
    function _checkAddresses(string[] calldata multiaddrs) internal pure {
        uint256 count = multiaddrs.length;
        if (count == 0 || count > MAX_ADDRESSES) revert ProviderDirectoryInvalidAddressCount(count, MAX_ADDRESSES);
        for (uint256 i; i < count; ++i) {
            bytes calldata b = bytes(multiaddrs[i]);
            if (b.length == 0 || b.length > MAX_ADDRESS_BYTES || b[0] != "/" || !_isPrintableAscii(b)) {
                revert ProviderDirectoryInvalidAddress(i, b);
            }
        }
    }

    /// @dev Whether every byte of `b` lies in 0x21..0x7e, tested 32 bytes at a time (a byte at a time cost ~300 gas
    /// per byte): in a word none of whose bytes has its high bit set, adding 0x5f to every byte sets a byte's high bit
    /// iff it is at least 0x21, and adding 0x01 iff it is 0x7f. Bytes past the end of `b` in its last word are
    /// replaced by "A" (0x41), which passes.
    function _isPrintableAscii(bytes calldata b) internal pure returns (bool) {
        uint256 high = 0x8080808080808080808080808080808080808080808080808080808080808080;
        for (uint256 i; i < b.length; i += 32) {
            uint256 word;
            // Assembly: one CALLDATALOAD reads 32 bytes of the address (past its end, whatever follows: masked below).
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                word := calldataload(add(b.offset, i))
            }
            uint256 left = b.length - i;
            if (left < 32) {
                uint256 tail = type(uint256).max >> (8 * left);
                word = (word & ~tail) | (0x4141414141414141414141414141414141414141414141414141414141414141 & tail);
            }
            if (word & high != 0) return false;
            // No byte exceeds 0x7f here, so no sum below exceeds 0xde in any byte: nothing carries into the next
            // byte, and nothing overflows.
            unchecked {
                if ((word + 0x5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f) & high != high) {
                    return false;
                }
                if ((word + 0x0101010101010101010101010101010101010101010101010101010101010101) & high != 0) {
                    return false;
                }
            }
        }
        return true;
    }
}

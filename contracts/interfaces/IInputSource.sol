// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IInputSource
/// @notice An on-chain source of a subscription round's model input: it reads chain state (for example the recent
/// answers of a price feed) and returns the model's input as fixed-point numbers, `values[i] / 2^fractionBits()`.
/// The subscription manager calls `read` when a round starts, with the round's due time as `asOf`, and turns the
/// values into the job's input and its commitment; the input is then public (in `JobRequested`) and anyone can
/// recompute it from the chain.
/// @dev A source must be deterministic in `asOf`: once `block.timestamp >= asOf`, every call returns the same values
/// (a source reading a feed takes the last answer written strictly before `asOf`), so whoever starts a round, and
/// whenever within its window, cannot choose the input.
/// @dev Warning: a source is chosen by the subscriber and trusted by the subscriber only. The manager calls it with
/// `staticcall` (it cannot change state), bounds what it returns, and a source that reverts only stops the rounds of
/// the subscriptions that named it.
interface IInputSource {
    /// @notice The feed named by `args` has no answer written before `asOf` within the rounds it can walk back.
    error InputSourceNoRoundBefore(address feed, uint64 asOf);
    /// @notice The feed's answer before `asOf` was written at `updatedAt`, more than `maxAge` seconds before.
    error InputSourceStale(address feed, uint256 updatedAt, uint64 asOf, uint32 maxAge);
    /// @notice The feed has fewer than `needed` consecutive rounds ending at `roundId`.
    error InputSourceHistoryTooShort(address feed, uint80 roundId, uint256 needed);
    /// @notice The feed's round `roundId` holds `answer`, which this source cannot use (a price must be positive).
    error InputSourceInvalidAnswer(address feed, uint80 roundId, int256 answer);
    /// @notice `args` do not decode or name values outside the source's bounds.
    error InputSourceInvalidArgs(bytes args);

    /// @notice The model input as of `asOf`, as fixed-point values with `fractionBits()` bits after the point.
    function read(bytes calldata args, uint64 asOf) external view returns (int256[] memory values);

    /// @notice How many values `read` returns for `args`; reverts with `InputSourceInvalidArgs` for malformed `args`.
    /// The manager checks a subscription's arguments with it when the subscription is created.
    function inputSize(bytes calldata args) external view returns (uint256);

    /// @notice The number of bits after the binary point of every value `read` returns.
    function fractionBits() external view returns (uint8);
}

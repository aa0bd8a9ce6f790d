// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @dev Identifier of a model in the ModelRegistry (1-based, sequential).
type ModelId is uint64;

/// @dev Identifier of a job in a JobEscrow (1-based, sequential, unique per escrow).
type JobId is uint64;

/// @dev A verification mode. Modes are small integers so that a set of them fits a `uint32` bitmask.
type Mode is uint8;

using {eqMode as ==, neqMode as !=} for Mode global;

function eqMode(Mode a, Mode b) pure returns (bool) {
    return Mode.unwrap(a) == Mode.unwrap(b);
}

function neqMode(Mode a, Mode b) pure returns (bool) {
    return Mode.unwrap(a) != Mode.unwrap(b);
}

/// @title ModesLib
/// @notice The protocol's built-in modes and helpers for `uint32` mode bitmasks.
library ModesLib {
    /// @dev No proof: trust comes from stake and, with redundancy, from agreement between nodes.
    Mode internal constant VANILLA = Mode.wrap(0);
    /// @dev An EIP-712 signature from an attested enclave key.
    Mode internal constant TEE = Mode.wrap(1);
    /// @dev A zero-knowledge proof of the inference.
    Mode internal constant ZK = Mode.wrap(2);
    /// @dev Both a zero-knowledge proof and an attested enclave's signature, for the same job and output.
    Mode internal constant DUAL = Mode.wrap(3);
    /// @dev Exclusive upper bound on mode values.
    uint8 internal constant MAX_MODES = 32;
    /// @dev The modes that exist: a version or an operator naming another mode names something no verifier
    /// implements. A new mode is added here (and given a verifier) in a new deployment.
    uint32 internal constant KNOWN = (uint32(1) << 0) | (uint32(1) << 1) | (uint32(1) << 2) | (uint32(1) << 3);

    function bit(Mode mode) internal pure returns (uint32) {
        return uint32(1) << Mode.unwrap(mode);
    }

    function has(uint32 modes, Mode mode) internal pure returns (bool) {
        return modes & bit(mode) != 0;
    }

    /// @dev Whether every mode in the mask exists.
    function allKnown(uint32 modes) internal pure returns (bool) {
        return modes & ~KNOWN == 0;
    }

    /// @dev Whether `mode` exists.
    function isKnown(Mode mode) internal pure returns (bool) {
        return Mode.unwrap(mode) < MAX_MODES && has(KNOWN, mode);
    }
}

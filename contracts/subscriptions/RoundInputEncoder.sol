// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {RoundInputLib} from "./RoundInputLib.sol";

/// @title RoundInputEncoder
/// @notice `RoundInputLib`'s input encodings behind one external call, so that the Poseidon constants and the JSON
/// writer live outside the `SubscriptionManager`'s bytecode. Stateless: the manager deploys its own copy.
contract RoundInputEncoder {
    /// @notice The inline input and the commitment of a round's job from its input values: for ZK and dual modes
    /// (`zk`) the `{"x":[...],"salt":"0x0"}` input and the circuit's commitment at `scaleBits` and `inputBits`; for
    /// the other modes the JSON array and a zero commitment (the escrow then commits to its `keccak256`).
    function encode(int256[] calldata values, uint8 fractionBits, bool zk, uint8 scaleBits, uint8 inputBits)
        external
        pure
        returns (bytes memory input, bytes32 commitment)
    {
        if (!zk) return (RoundInputLib.json(values, fractionBits), bytes32(0));
        input = RoundInputLib.zkJson(values, fractionBits);
        commitment = RoundInputLib.zkCommitment(values, fractionBits, scaleBits, inputBits);
    }
}

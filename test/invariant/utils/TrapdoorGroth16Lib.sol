// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IGroth16Verifier} from "../../../contracts/verifiers/zk/IGroth16Verifier.sol";

/// @title TrapdoorGroth16Lib
/// @notice A Groth16 verifying key whose discrete logarithms we know, so the invariant handlers can prove any public
/// signal without a circuit: with beta = gamma = delta = B = the G2 generator, alpha = a G1, IC0 = i0 G1,
/// IC1 = i1 G1 and C = G1, the proof A = (a + i0 + s i1 + 1) G1 satisfies e(-A, B) e(alpha, beta) e(L, gamma)
/// e(C, delta) = 1 for the signal s, and only for s. It lets the fuzzer settle ZK jobs through the real
/// `Groth16Verifier` and `ZkInferenceVerifier`, which still check that a proof is bound to its own job's
/// commitment and output.
library TrapdoorGroth16Lib {
    /// @dev BN254 scalar field order.
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant ALPHA = 5;
    uint256 internal constant IC0 = 7;
    uint256 internal constant IC1 = 11;
    /// @dev The G2 generator in EIP-197 order (imaginary part first).
    uint256 internal constant G2_X1 = 11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 internal constant G2_X0 = 10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 internal constant G2_Y1 = 4082367875863433681332203403145435568316851327593401208105741076214120093531;
    uint256 internal constant G2_Y0 = 8495653923123431417604973247489272438418190587263600148770280649306958101930;

    /// @notice The verifying key, in `Groth16Verifier`'s constructor order.
    function key() internal view returns (uint256[18] memory k) {
        (k[0], k[1]) = _g1(ALPHA);
        for (uint256 i = 2; i < 14; i += 4) {
            (k[i], k[i + 1], k[i + 2], k[i + 3]) = (G2_X1, G2_X0, G2_Y1, G2_Y0);
        }
        (k[14], k[15]) = _g1(IC0);
        (k[16], k[17]) = _g1(IC1);
    }

    /// @notice A proof of `signal` (which must be below R) for `key()`.
    function prove(uint256 signal) internal view returns (IGroth16Verifier.Proof memory p) {
        uint256 a = addmod(addmod(ALPHA, IC0, R), addmod(mulmod(signal, IC1, R), 1, R), R);
        (p.a[0], p.a[1]) = _g1(a);
        p.b = [[G2_X1, G2_X0], [G2_Y1, G2_Y0]];
        (p.c[0], p.c[1]) = (1, 2);
    }

    /// @dev `scalar` times the G1 generator (1, 2), by the EIP-196 precompile.
    function _g1(uint256 scalar) private view returns (uint256 x, uint256 y) {
        (bool ok, bytes memory out) = address(7).staticcall(abi.encode(uint256(1), uint256(2), scalar));
        require(ok && out.length == 64, "ecMul");
        (x, y) = abi.decode(out, (uint256, uint256));
    }
}

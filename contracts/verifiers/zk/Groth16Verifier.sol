// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IGroth16Verifier} from "./IGroth16Verifier.sol";

/// @title Groth16Verifier
/// @notice Verifies Groth16 (BN254) proofs of one circuit with one public signal, singly or batched. The verifying
/// key is fixed at deployment in immutables (no storage reads), so one audited contract serves every model circuit
/// instead of generated code per circuit. See `IGroth16Verifier`.
/// @dev Checks e(-A, B) e(alpha, beta) e(L, gamma) e(C, delta) = 1 with L = IC0 + s IC1 (EIP-197 precompile; G2
/// coordinates imaginary part first). A batch checks
///   prod_i e(-r_i A_i, B_i) * e((sum r_i) alpha, beta) * e((sum r_i) IC0 + (sum r_i s_i) IC1, gamma) * e(sum r_i C_i, delta) = 1
/// with r_0 = 1 and 128-bit r_i (i > 0) from keccak256 of the whole batch: n + 3 pairings and 2n + 1 scalar
/// multiplications, since with one public signal the L terms collapse to two multiplications for the batch.
contract Groth16Verifier is IGroth16Verifier {
    /// @dev BN254 base field order (G1 coordinates).
    uint256 internal constant Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @dev BN254 scalar field order (public signals).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    uint256 internal immutable _alphaX;
    uint256 internal immutable _alphaY;
    uint256 internal immutable _beta0;
    uint256 internal immutable _beta1;
    uint256 internal immutable _beta2;
    uint256 internal immutable _beta3;
    uint256 internal immutable _gamma0;
    uint256 internal immutable _gamma1;
    uint256 internal immutable _gamma2;
    uint256 internal immutable _gamma3;
    uint256 internal immutable _delta0;
    uint256 internal immutable _delta1;
    uint256 internal immutable _delta2;
    uint256 internal immutable _delta3;
    uint256 internal immutable _ic0X;
    uint256 internal immutable _ic0Y;
    uint256 internal immutable _ic1X;
    uint256 internal immutable _ic1Y;

    /// @notice Fixes the verifying key of the one circuit this contract verifies.
    /// @param vk alpha (G1), beta, gamma, delta (G2, EIP-197 order), IC0, IC1 (G1): `verifyingKeyArgs` in
    /// `src/zkml/solidity.ts` builds it from a snarkjs verification key.
    constructor(uint256[18] memory vk) {
        (_alphaX, _alphaY) = (vk[0], vk[1]);
        (_beta0, _beta1, _beta2, _beta3) = (vk[2], vk[3], vk[4], vk[5]);
        (_gamma0, _gamma1, _gamma2, _gamma3) = (vk[6], vk[7], vk[8], vk[9]);
        (_delta0, _delta1, _delta2, _delta3) = (vk[10], vk[11], vk[12], vk[13]);
        (_ic0X, _ic0Y, _ic1X, _ic1Y) = (vk[14], vk[15], vk[16], vk[17]);
    }

    /// @inheritdoc IGroth16Verifier
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[1] calldata pubSignals
    ) external view returns (bool ok) {
        // The pairing input is built in place past the free memory pointer: (-A, B) at 0x000, (alpha, beta) at
        // 0x0c0, (L, gamma) at 0x180, (C, delta) at 0x240. L = IC0 + s IC1 is computed in the (L, gamma) slot first.
        (uint256 ic0x, uint256 ic0y, uint256 ic1x, uint256 ic1y) = (_ic0X, _ic0Y, _ic1X, _ic1Y);
        uint256 m;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            m := mload(0x40)
            let s := calldataload(pubSignals)
            let ax := calldataload(pA)
            let ay := calldataload(add(pA, 0x20))
            ok := and(lt(s, R), and(lt(ax, Q), lt(ay, Q)))
            let l := add(m, 0x180)
            mstore(l, ic1x)
            mstore(add(l, 0x20), ic1y)
            mstore(add(l, 0x40), s)
            ok := and(ok, staticcall(gas(), 7, l, 0x60, l, 0x40))
            mstore(add(l, 0x40), ic0x)
            mstore(add(l, 0x60), ic0y)
            ok := and(ok, staticcall(gas(), 6, l, 0x80, l, 0x40))
            mstore(m, ax)
            mstore(add(m, 0x20), mod(sub(Q, ay), Q))
            calldatacopy(add(m, 0x40), pB, 0x80)
            calldatacopy(add(m, 0x240), pC, 0x40)
        }
        _putKey(m);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            ok := and(ok, staticcall(gas(), 8, m, 0x300, 0x00, 0x20))
            ok := and(ok, eq(mload(0x00), 1))
        }
    }

    /// @inheritdoc IGroth16Verifier
    function verifyBatch(Proof[] calldata proofs, uint256[] calldata pubSignals) external view returns (bool) {
        uint256 n = proofs.length;
        if (n == 0 || n != pubSignals.length) revert Groth16VerifierLengthMismatch(n, pubSignals.length);
        bytes32 seed = keccak256(abi.encode(proofs, pubSignals));
        uint256[] memory p = new uint256[](6 * (n + 3));
        // acc = [sum r_i, sum r_i s_i, (sum r_i C_i).x, (sum r_i C_i).y]
        uint256[4] memory acc;
        for (uint256 i; i < n; ++i) {
            if (pubSignals[i] >= R) return false;
            // r_0 = 1 spares two multiplications; a false proof j still needs r_j to hit one value in 2^128.
            uint256 r = i == 0 ? 1 : (uint256(keccak256(abi.encode(seed, i))) >> 128) | 1;
            if (!_putProof(p, 6 * i, proofs[i], r, acc)) return false;
            acc[0] = addmod(acc[0], r, R);
            acc[1] = addmod(acc[1], mulmod(r, pubSignals[i], R), R);
        }
        return _finishBatch(p, 6 * n, acc);
    }

    /// @inheritdoc IGroth16Verifier
    function verifyingKey() external view returns (uint256[18] memory) {
        return [
            _alphaX,
            _alphaY,
            _beta0,
            _beta1,
            _beta2,
            _beta3,
            _gamma0,
            _gamma1,
            _gamma2,
            _gamma3,
            _delta0,
            _delta1,
            _delta2,
            _delta3,
            _ic0X,
            _ic0Y,
            _ic1X,
            _ic1Y
        ];
    }

    /// @dev Writes alpha, beta, gamma and delta into the pairing input at `m` (layout of `verifyProof`).
    function _putKey(uint256 m) internal view {
        _put6(m + 0x0c0, _alphaX, _alphaY, _beta0, _beta1, _beta2, _beta3);
        _put4(m + 0x1c0, _gamma0, _gamma1, _gamma2, _gamma3);
        _put4(m + 0x280, _delta0, _delta1, _delta2, _delta3);
    }

    function _put6(uint256 at, uint256 x, uint256 y, uint256 g0, uint256 g1, uint256 g2, uint256 g3) internal pure {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(at, x)
            mstore(add(at, 0x20), y)
            mstore(add(at, 0x40), g0)
            mstore(add(at, 0x60), g1)
            mstore(add(at, 0x80), g2)
            mstore(add(at, 0xa0), g3)
        }
    }

    function _put4(uint256 at, uint256 g0, uint256 g1, uint256 g2, uint256 g3) internal pure {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(at, g0)
            mstore(add(at, 0x20), g1)
            mstore(add(at, 0x40), g2)
            mstore(add(at, 0x60), g3)
        }
    }

    /// @dev Writes the pair (-r A, B) of `proof` at word `o` and adds r C to the accumulator.
    function _putProof(uint256[] memory p, uint256 o, Proof calldata proof, uint256 r, uint256[4] memory acc)
        internal
        view
        returns (bool ok)
    {
        (uint256 ax, uint256 ay) = (proof.a[0], proof.a[1]);
        if (ax >= Q || ay >= Q) return false;
        (uint256 cx, uint256 cy) = (proof.c[0], proof.c[1]);
        if (r != 1) {
            (ok, ax, ay) = _ecMul(ax, ay, r);
            if (!ok) return false;
            (ok, cx, cy) = _ecMul(cx, cy, r);
            if (!ok) return false;
        }
        (ok, acc[2], acc[3]) = _ecAdd(acc[2], acc[3], cx, cy);
        _put(p, o, ax, _negate(ay), proof.b[0][0], proof.b[0][1], proof.b[1][0], proof.b[1][1]);
    }

    /// @dev Appends the alpha, L and C pairs (at word `o`) and runs the pairing check.
    function _finishBatch(uint256[] memory p, uint256 o, uint256[4] memory acc) internal view returns (bool) {
        (bool ok, uint256 x, uint256 y) = _ecMul(_alphaX, _alphaY, acc[0]);
        if (!ok) return false;
        _put(p, o, x, y, _beta0, _beta1, _beta2, _beta3);
        (bool ok0, uint256 x0, uint256 y0) = _ecMul(_ic0X, _ic0Y, acc[0]);
        (bool ok1, uint256 x1, uint256 y1) = _ecMul(_ic1X, _ic1Y, acc[1]);
        (ok, x, y) = _ecAdd(x0, y0, x1, y1);
        if (!(ok && ok0 && ok1)) return false;
        _put(p, o + 6, x, y, _gamma0, _gamma1, _gamma2, _gamma3);
        _put(p, o + 12, acc[2], acc[3], _delta0, _delta1, _delta2, _delta3);
        return _pairing(p);
    }

    /// @dev Writes a pair (G1 x, y; G2 in EIP-197 order) at word `o` of `p`.
    function _put(uint256[] memory p, uint256 o, uint256 x, uint256 y, uint256 g0, uint256 g1, uint256 g2, uint256 g3)
        internal
        pure
    {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let m := add(add(p, 0x20), shl(5, o))
            mstore(m, x)
            mstore(add(m, 0x20), y)
            mstore(add(m, 0x40), g0)
            mstore(add(m, 0x60), g1)
            mstore(add(m, 0x80), g2)
            mstore(add(m, 0xa0), g3)
        }
    }

    function _negate(uint256 y) internal pure returns (uint256) {
        return y == 0 ? 0 : Q - y;
    }

    function _ecMul(uint256 x, uint256 y, uint256 s) internal view returns (bool ok, uint256 rx, uint256 ry) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, x)
            mstore(add(m, 0x20), y)
            mstore(add(m, 0x40), s)
            ok := staticcall(gas(), 7, m, 0x60, m, 0x40)
            rx := mload(m)
            ry := mload(add(m, 0x20))
        }
    }

    function _ecAdd(uint256 x1, uint256 y1, uint256 x2, uint256 y2)
        internal
        view
        returns (bool ok, uint256 rx, uint256 ry)
    {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, x1)
            mstore(add(m, 0x20), y1)
            mstore(add(m, 0x40), x2)
            mstore(add(m, 0x60), y2)
            ok := staticcall(gas(), 6, m, 0x80, m, 0x40)
            rx := mload(m)
            ry := mload(add(m, 0x20))
        }
    }

    function _pairing(uint256[] memory p) internal view returns (bool success) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            success := staticcall(gas(), 8, add(p, 0x20), shl(5, mload(p)), 0x00, 0x20)
            success := and(success, eq(mload(0x00), 1))
        }
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IGroth16Verifier} from "./IGroth16Verifier.sol";
import {IGroth16SlotVerifier} from "./IGroth16SlotVerifier.sol";

/// @title Groth16SlotVerifier
/// @notice Verifies Groth16 (BN254) proofs of one N-slot circuit. See `IGroth16SlotVerifier`.
/// @dev alpha, beta, gamma and delta sit in immutables; the 2(N + 1) words of IC, too many for immutables, sit in
/// the code of a data contract written once by the constructor (read with one EXTCODECOPY, no storage reads).
/// Checks e(-A, B) e(alpha, beta) e(L, gamma) e(C, delta) = 1 with L = IC0 + sum_i s_i IC_(i+1).
contract Groth16SlotVerifier is IGroth16SlotVerifier {
    /// @dev BN254 base field order (G1 coordinates).
    uint256 internal constant Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @dev BN254 scalar field order (public signals).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @dev Words of alpha, beta, gamma and delta at the head of a key.
    uint256 internal constant HEAD = 14;
    /// @dev Most slots: the escrow's `MAX_BATCH`.
    uint256 internal constant MAX_SLOTS = 64;

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
    /// @dev The data contract whose code is a STOP byte followed by IC0..ICN.
    address internal immutable _ic;

    /// @inheritdoc IGroth16SlotVerifier
    uint256 public immutable slots;

    /// @param key alpha, beta, gamma, delta, IC0..ICN: `slotVerifyingKeyArgs` in `src/zkml/batch-solidity.ts`.
    constructor(uint256[] memory key) {
        uint256 length = key.length;
        if (length < HEAD + 6 || length % 2 != 0 || length > HEAD + 2 * (MAX_SLOTS + 1)) {
            revert Groth16SlotVerifierInvalidKey(length);
        }
        (_alphaX, _alphaY) = (key[0], key[1]);
        (_beta0, _beta1, _beta2, _beta3) = (key[2], key[3], key[4], key[5]);
        (_gamma0, _gamma1, _gamma2, _gamma3) = (key[6], key[7], key[8], key[9]);
        (_delta0, _delta1, _delta2, _delta3) = (key[10], key[11], key[12], key[13]);
        slots = (length - HEAD) / 2 - 1;
        _ic = _writeData(key);
    }

    /// @inheritdoc IGroth16SlotVerifier
    function verifyProof(IGroth16Verifier.Proof calldata proof, uint256[] calldata signals)
        external
        view
        returns (bool)
    {
        uint256 n = signals.length;
        if (n == 0 || n > slots) revert Groth16SlotVerifierSignalCount(n, slots);
        (bool ok, uint256 lx, uint256 ly) = _linearCombination(signals);
        if (!ok) return false;
        uint256[] memory p = new uint256[](24);
        if (!_putProof(p, proof)) return false;
        _put(p, 6, _alphaX, _alphaY, _beta0, _beta1, _beta2, _beta3);
        _put(p, 12, lx, ly, _gamma0, _gamma1, _gamma2, _gamma3);
        _put(p, 18, 0, 0, _delta0, _delta1, _delta2, _delta3);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            calldatacopy(add(p, 0x260), add(proof, 0xc0), 0x40)
        }
        return _pairing(p);
    }

    /// @inheritdoc IGroth16SlotVerifier
    function verifyingKey() external view returns (uint256[] memory key) {
        uint256[] memory ic = _readIc();
        key = new uint256[](HEAD + ic.length);
        uint256[HEAD] memory head = [
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
            _delta3
        ];
        for (uint256 i; i < HEAD; ++i) {
            key[i] = head[i];
        }
        for (uint256 i; i < ic.length; ++i) {
            key[HEAD + i] = ic[i];
        }
    }

    /// @dev L = IC0 + sum_(i<n) s_i IC_(i+1) + s_0 sum_(i>=n) IC_(i+1): padded slots repeat signal 0, so their IC
    /// points are added first and multiplied once.
    function _linearCombination(uint256[] calldata signals) internal view returns (bool ok, uint256 x, uint256 y) {
        uint256[] memory ic = _readIc();
        uint256 n = signals.length;
        (x, y) = (ic[0], ic[1]);
        ok = true;
        for (uint256 i; i < n; ++i) {
            uint256 s = signals[i];
            if (s >= R) return (false, 0, 0);
            (ok, x, y) = _mulAdd(x, y, ic[2 * i + 2], ic[2 * i + 3], s);
            if (!ok) return (false, 0, 0);
        }
        uint256 total = ic.length / 2;
        if (n + 1 == total) return (true, x, y);
        (uint256 px, uint256 py) = (ic[2 * n + 2], ic[2 * n + 3]);
        for (uint256 i = n + 2; i < total; ++i) {
            (ok, px, py) = _ecAdd(px, py, ic[2 * i], ic[2 * i + 1]);
            if (!ok) return (false, 0, 0);
        }
        return _mulAdd(x, y, px, py, signals[0]);
    }

    /// @dev (x, y) + s (px, py).
    function _mulAdd(uint256 x, uint256 y, uint256 px, uint256 py, uint256 s)
        internal
        view
        returns (bool ok, uint256 rx, uint256 ry)
    {
        (ok, px, py) = _ecMul(px, py, s);
        if (!ok) return (false, 0, 0);
        return _ecAdd(x, y, px, py);
    }

    /// @dev Deploys a contract whose code is 0x00 followed by the key's IC words (the STOP byte makes it uncallable).
    function _writeData(uint256[] memory key) internal returns (address data) {
        uint256 words = key.length - HEAD;
        bytes memory code = new bytes(1 + 32 * words);
        for (uint256 i; i < words; ++i) {
            uint256 word = key[HEAD + i];
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                mstore(add(add(code, 0x21), shl(5, i)), word)
            }
        }
        // PUSH2 len, DUP1, PUSH1 0x0a, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN: returns the bytes after
        // this 10-byte prefix as the new contract's code.
        bytes memory init = abi.encodePacked(hex"61", uint16(code.length), hex"80600a3d393df3", code);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            data := create(0, add(init, 0x20), mload(init))
        }
        if (data == address(0)) revert Groth16SlotVerifierInvalidKey(key.length);
    }

    function _readIc() internal view returns (uint256[] memory ic) {
        address data = _ic;
        uint256 words = (data.code.length - 1) / 32;
        ic = new uint256[](words);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            extcodecopy(data, add(ic, 0x20), 1, shl(5, words))
        }
    }

    /// @dev Writes (-A, B) at word 0 of `p`; false if A's coordinates are not below Q.
    function _putProof(uint256[] memory p, IGroth16Verifier.Proof calldata proof) internal pure returns (bool) {
        (uint256 ax, uint256 ay) = (proof.a[0], proof.a[1]);
        if (ax >= Q || ay >= Q) return false;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(add(p, 0x20), ax)
            calldatacopy(add(p, 0x60), add(proof, 0x40), 0x80)
        }
        p[1] = _negate(ay);
        return true;
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

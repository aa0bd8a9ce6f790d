// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Groth16BatchVerifier
/// @notice Verifies n Groth16 proofs of one circuit (one verifying key) with n + 3 pairings instead of 4n.
/// @dev Each proof i must satisfy e(A_i, B_i) = e(alpha, beta) e(L_i, gamma) e(C_i, delta), with
/// L_i = IC_0 + sum_j x_ij IC_j. With random scalars r_i the batch checks
///   prod_i e(-r_i A_i, B_i) * e((sum r_i) alpha, beta) * e(sum r_i L_i, gamma) * e(sum r_i C_i, delta) = 1,
/// which a batch holding a false proof passes with probability at most about 2^-128 per r. The r_i are
/// 128-bit values derived from keccak256 of every proof and every public input (Fiat-Shamir), so a prover
/// cannot choose its proofs after seeing them. `sum r_i L_i` is computed as (sum r_i) IC_0 + sum_j (sum_i r_i
/// x_ij) IC_j: n + npub + 2 scalar multiplications for the L, alpha and the proof terms besides the 2n for A and C.
/// G2 points use the EIP-197 encoding (imaginary part first), as in snarkjs's Solidity calldata.
contract Groth16BatchVerifier {
    /// @notice A Groth16 proof (snarkjs Solidity calldata layout).
    struct Proof {
        uint256[2] a;
        uint256[2][2] b;
        uint256[2] c;
    }

    /// @notice BN254 base field order (G1 coordinates).
    uint256 internal constant Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @notice BN254 scalar field order (public inputs and scalars).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice A public input is not below the scalar field order.
    error Groth16BatchVerifierInputNotInField(uint256 proofIndex, uint256 inputIndex);
    /// @notice `inputs[proofIndex]` has `length` values instead of the key's public input count.
    error Groth16BatchVerifierWrongInputCount(uint256 proofIndex, uint256 length, uint256 expected);
    /// @notice The number of proofs and of input vectors differ, or the batch is empty.
    error Groth16BatchVerifierLengthMismatch(uint256 proofs, uint256 inputs);
    /// @notice An elliptic-curve precompile failed (a point is not on the curve).
    error Groth16BatchVerifierPrecompileFailed(address precompile);

    uint256[2] internal _alpha1;
    uint256[2][2] internal _beta2;
    uint256[2][2] internal _gamma2;
    uint256[2][2] internal _delta2;
    uint256[2][] internal _ic;

    /// @notice Fixes the verifying key of the one circuit this contract verifies.
    /// @param ic IC_0..IC_npub of the verifying key (G1). G2 points in EIP-197 order.
    constructor(uint256[2] memory alpha1, uint256[2][2] memory beta2, uint256[2][2] memory gamma2, uint256[2][2] memory delta2, uint256[2][] memory ic) {
        _alpha1 = alpha1;
        _beta2 = beta2;
        _gamma2 = gamma2;
        _delta2 = delta2;
        for (uint256 i; i < ic.length; ++i) _ic.push(ic[i]);
    }

    /// @notice Number of public inputs per proof.
    function publicInputCount() external view returns (uint256) {
        return _ic.length - 1;
    }

    /// @notice Returns whether every proof verifies with its public inputs. Reverts on malformed input.
    function verifyBatch(Proof[] calldata proofs, uint256[][] calldata inputs) external view returns (bool) {
        uint256 n = proofs.length;
        if (n == 0 || n != inputs.length) revert Groth16BatchVerifierLengthMismatch(n, inputs.length);
        _checkInputs(inputs);
        uint256[] memory r = _scalars(proofs, inputs);
        uint256[] memory pairs = new uint256[](6 * (n + 3));
        uint256[2] memory sumC;
        uint256 sumR;
        for (uint256 i; i < n; ++i) {
            uint256[2] memory ra = _mul(proofs[i].a, r[i]);
            _putPair(pairs, i, [ra[0], ra[0] == 0 && ra[1] == 0 ? 0 : Q - ra[1]], proofs[i].b);
            sumC = _add(sumC, _mul(proofs[i].c, r[i]));
            sumR = addmod(sumR, r[i], R);
        }
        _putPair(pairs, n, _mul(_alpha1, sumR), _beta2);
        _putPair(pairs, n + 1, _combinedL(inputs, r, sumR), _gamma2);
        _putPair(pairs, n + 2, sumC, _delta2);
        return _pairing(pairs);
    }

    function _checkInputs(uint256[][] calldata inputs) internal view {
        uint256 expected = _ic.length - 1;
        for (uint256 i; i < inputs.length; ++i) {
            if (inputs[i].length != expected) revert Groth16BatchVerifierWrongInputCount(i, inputs[i].length, expected);
            for (uint256 j; j < expected; ++j) {
                if (inputs[i][j] >= R) revert Groth16BatchVerifierInputNotInField(i, j);
            }
        }
    }

    /// @dev r_0 = 1 is not used: every r_i is a 128-bit hash of the whole batch, never zero.
    function _scalars(Proof[] calldata proofs, uint256[][] calldata inputs) internal pure returns (uint256[] memory r) {
        bytes32 seed = keccak256(abi.encode(proofs, inputs));
        r = new uint256[](proofs.length);
        for (uint256 i; i < proofs.length; ++i) {
            r[i] = (uint256(keccak256(abi.encode(seed, i))) >> 128) | 1;
        }
    }

    /// @dev sum_i r_i L_i = (sum_i r_i) IC_0 + sum_j (sum_i r_i x_ij) IC_j.
    function _combinedL(uint256[][] calldata inputs, uint256[] memory r, uint256 sumR) internal view returns (uint256[2] memory acc) {
        acc = _mul(_ic[0], sumR);
        for (uint256 j = 1; j < _ic.length; ++j) {
            uint256 s;
            for (uint256 i; i < inputs.length; ++i) s = addmod(s, mulmod(r[i], inputs[i][j - 1], R), R);
            acc = _add(acc, _mul(_ic[j], s));
        }
    }

    function _putPair(uint256[] memory pairs, uint256 k, uint256[2] memory g1, uint256[2][2] memory g2) internal pure {
        uint256 o = 6 * k;
        pairs[o] = g1[0];
        pairs[o + 1] = g1[1];
        pairs[o + 2] = g2[0][0];
        pairs[o + 3] = g2[0][1];
        pairs[o + 4] = g2[1][0];
        pairs[o + 5] = g2[1][1];
    }

    function _add(uint256[2] memory p, uint256[2] memory q) internal view returns (uint256[2] memory out) {
        (bool ok, bytes memory ret) = address(6).staticcall(abi.encode(p[0], p[1], q[0], q[1]));
        if (!ok || ret.length != 64) revert Groth16BatchVerifierPrecompileFailed(address(6));
        out = abi.decode(ret, (uint256[2]));
    }

    function _mul(uint256[2] memory p, uint256 s) internal view returns (uint256[2] memory out) {
        (bool ok, bytes memory ret) = address(7).staticcall(abi.encode(p[0], p[1], s));
        if (!ok || ret.length != 64) revert Groth16BatchVerifierPrecompileFailed(address(7));
        out = abi.decode(ret, (uint256[2]));
    }

    function _pairing(uint256[] memory pairs) internal view returns (bool) {
        (bool ok, bytes memory ret) = address(8).staticcall(abi.encodePacked(pairs));
        if (!ok || ret.length != 32) revert Groth16BatchVerifierPrecompileFailed(address(8));
        return abi.decode(ret, (uint256)) == 1;
    }
}

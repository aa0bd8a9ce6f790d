// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {TeeVerifier} from "../../../contracts/verifiers/TeeVerifier.sol";

/// @title TeeVerifierHarness
/// @notice Test only (never deployed): the TeeVerifier with one more entry point, `registerVerified`, that records an
/// enclave as `registerEnclaveWithQuote` does once a quote is verified, without the quote. Fuzzing cannot afford to
/// produce and verify a DCAP quote per registration; what `excuses` and `verify` judge is the state a registration
/// leaves, and this reaches the same states.
contract TeeVerifierHarness is TeeVerifier {
    constructor(IModelRegistry registry_, address admin) TeeVerifier(registry_, admin) {}

    /// @notice Registers (or renews) the caller's enclave key `signer` with `measurement` for `age` seconds, with the
    /// checks of `registerEnclaveWithQuote` that do not concern the quote: nonzero keys, a key never revoked, never
    /// another operator's, and an unrevoked measurement (in `_register`). `age` stands for the `maxEnclaveAge` of
    /// the moment, so it has that parameter's bounds: governance may set any of them between two registrations.
    /// @dev Not checked: the quote, its report data and anchor block, and the caller's eligibility in staking (the
    /// handlers' operators are staked nodes; eligibility has its own unit tests).
    function registerVerified(address signer, bytes32 hpkePublicKey, bytes32 measurement, uint64 age)
        external
        returns (uint64 expiresAt)
    {
        if (age < MIN_ENCLAVE_AGE || age > MAX_ENCLAVE_AGE) {
            revert TeeVerifierParameterOutOfBounds("maxEnclaveAge", age, MIN_ENCLAVE_AGE, MAX_ENCLAVE_AGE);
        }
        if (signer == address(0) || hpkePublicKey == 0) revert TeeVerifierInvalidKeys(signer, hpkePublicKey);
        EnclaveRecord storage enclave = _enclaves[signer];
        if (enclave.revoked) revert TeeVerifierEnclaveRevoked(signer);
        address operator = enclave.operator;
        if (operator != address(0) && operator != msg.sender) {
            revert TeeVerifierOperatorMismatch(signer, operator, msg.sender);
        }
        expiresAt = uint64(block.timestamp) + age;

        _register(signer, msg.sender, measurement, expiresAt);
        _hpkeKeys[signer] = hpkePublicKey;
    }
}

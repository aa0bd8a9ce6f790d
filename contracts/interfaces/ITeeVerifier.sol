// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IDcapVerifier} from "./IDcapVerifier.sol";
import {IInferenceVerifier} from "./IInferenceVerifier.sol";
import {INodeStaking} from "./INodeStaking.sol";
import {ModelId} from "../types/Ids.sol";

/// @title ITeeVerifier
/// @notice Verifies inference results signed (EIP-712) by an enclave key. A staked operator registers each of its
/// enclave keys itself, with a DCAP quote from the enclave (`registerEnclaveWithQuote`): the quote, verified on-chain
/// by `IDcapVerifier`, proves that hardware with an Intel-certified key runs software with a given measurement, and
/// its report data binds the enclave's signing key, its HPKE key, the operator, this verifier on this chain and a
/// recent block. No one approves keys. A registration lasts `maxEnclaveAge` (a governance parameter) and re-attesting
/// renews it. A result is accepted when its signer is a live enclave of the submitting node whose measurement is
/// unrevoked and bound by the job's model version (`IModelRegistry.isBound` in the version's TEE binding).
///
/// Measurements. The measurement a registration records, and a version's TEE binding lists, is
/// `IDcapVerifier.VerifiedQuote.measurementHash`: for TDX keccak256(MRTD ‖ RTMR0 ‖ RTMR1 ‖ RTMR2 ‖ RTMR3) (5 × 48 =
/// 240 bytes, in quote order), for SGX keccak256(MRENCLAVE ‖ MRSIGNER) (2 × 32 = 64 bytes). The lengths differ, so a
/// TDX and an SGX measurement can never be equal. RTMR2 and RTMR3 are extended at run time (by the guest's kernel and
/// application): a version lists the hash of the exact final values its enclaves report.
///
/// @dev The signed struct names the escrow (`msg.sender` of `verify`), the job, the model version, the input and
/// output hashes and the node; with the EIP-712 domain (chain id, this contract) a signature cannot be replayed
/// across jobs, escrows, verifiers or chains.
/// @dev Governance (the timelock) revokes an enclave key (`revokeEnclave`) or a measurement (`revokeMeasurement`),
/// for good and effective at once, so from the next block at the latest: no result signed by the key, or by any
/// enclave with the measurement, is accepted after it. A revocation can make a node's claimed job impossible to
/// deliver; that is not the node's doing, so when it falls between the node's claim and its deadline it excuses the
/// node (`excuses`): the job is refunded at expiry and the node's collateral released without a slash. A
/// revocation after the deadline excuses nothing: the node had already failed. Governance can therefore stop jobs
/// but cannot take anyone's stake.
/// @dev An expiry excuses nothing: it is fixed when the enclave registers (`maxEnclaveAge` later; a change of
/// `maxEnclaveAge` applies to later registrations only), so a node knows at its claim whether its enclave outlives
/// the job, and must re-attest before claiming if not.
/// @dev Warning: a registration is judged once, when it is made. Revoking a certificate or raising a TCB minimum in
/// `IDcapVerifier` later does not end registrations made before: governance revokes the enclaves or measurements
/// concerned, or they lapse within `maxEnclaveAge`. What a verified quote does and does not prove is in
/// `IDcapVerifier`; a development deployment's root is a local test CA whose quotes prove nothing.
/// @dev There is no privileged registration: the attestor role that once registered keys without a quote has been
/// removed. Governance only revokes (and sets the parameters).
interface ITeeVerifier is IInferenceVerifier {
    /// @notice A registered enclave key.
    /// @param hpkePublicKey The enclave's X25519 public key for HPKE (RFC 9180, DHKEM(X25519, HKDF-SHA256)), to which
    /// private inputs are encrypted.
    struct Enclave {
        address operator;
        uint64 expiresAt;
        bool revoked;
        bytes32 measurement;
        bytes32 hpkePublicKey;
    }

    /// @notice Governance parameters, each bounded in code.
    /// @param dcapVerifier Verifies the quotes of `registerEnclaveWithQuote`.
    /// @param maxEnclaveAge Seconds a registration lasts, from `MIN_ENCLAVE_AGE` to `MAX_ENCLAVE_AGE`.
    /// @param staking Whose operators, registered for TEE mode with the minimum stake, may register enclaves.
    struct Parameters {
        IDcapVerifier dcapVerifier;
        uint64 maxEnclaveAge;
        INodeStaking staking;
    }

    /// @notice What an enclave's quote commits to. Its 64-byte report data must be
    /// `abi.encodePacked(keccak256(abi.encode(ENCLAVE_BINDING_TYPEHASH, signer, hpkePublicKey, operator, chainId,
    /// verifier, anchorBlock, anchorBlockHash)), bytes32(0))`, the typehash being
    /// `keccak256("EnclaveBinding(address signer,bytes32 hpkePublicKey,address operator,uint256 chainId,address verifier,uint256 anchorBlock,bytes32 anchorBlockHash)")`
    /// (each field one ABI word, as EIP-712 hashes a struct of these types).
    /// @param signer The enclave's secp256k1 signing address (results cost one `ecrecover`).
    /// @param hpkePublicKey The enclave's X25519 HPKE public key.
    /// @param operator The operator registering it: the caller of `registerEnclaveWithQuote`.
    /// @param chainId `block.chainid`.
    /// @param verifier This contract.
    /// @param anchorBlock A block among the `QUOTE_WINDOW` before the registration's.
    /// @param anchorBlockHash `blockhash(anchorBlock)`: the quote was made after that block, so it is fresh.
    // A hashed memory struct: packing does not matter.
    // solhint-disable-next-line gas-struct-packing
    struct EnclaveBinding {
        address signer;
        bytes32 hpkePublicKey;
        address operator;
        uint256 chainId;
        address verifier;
        uint256 anchorBlock;
        bytes32 anchorBlockHash;
    }

    /// @notice Emitted when an enclave key is registered (or renewed).
    event EnclaveRegistered(
        address indexed signer, address indexed operator, bytes32 indexed measurement, uint64 expiresAt
    );

    /// @notice Emitted, after `EnclaveRegistered`, when the registration was made with a quote: the certificate that
    /// signed it, the TEE type, the HPKE key it binds, its anchor block, and the SHA-256 hash of the enclave's OHTTP
    /// key configuration (`ohttpKeyConfigHash`), which clients compare with the configuration a gateway serves.
    event EnclaveAttested(
        address indexed signer,
        address indexed operator,
        bytes32 indexed pckCertificate,
        IDcapVerifier.TeeType teeType,
        bytes32 hpkePublicKey,
        uint256 anchorBlock,
        bytes32 keyConfigHash
    );

    /// @notice Emitted when an enclave key is revoked.
    event EnclaveRevoked(address indexed signer);

    /// @notice Emitted when a measurement is revoked: no enclave with it serves any job from now on.
    event MeasurementRevoked(bytes32 indexed measurement);

    /// @notice Emitted when an enclave of `operator` is revoked: jobs it claimed up to `at` and could not deliver are
    /// excused from slashing.
    event OperatorDisrupted(address indexed operator, uint64 at);

    /// @notice Emitted when governance sets the parameters.
    event ParametersUpdated(Parameters parameters);

    /// @notice The proof is not a 65-byte signature, or it does not recover to a key.
    error TeeVerifierInvalidSignature();
    /// @notice `signer` is not a registered enclave key.
    error TeeVerifierUnknownEnclave(address signer);
    /// @notice `signer`'s registration expired at `expiresAt`.
    error TeeVerifierEnclaveExpired(address signer, uint64 expiresAt);
    /// @notice `signer` has been revoked.
    error TeeVerifierEnclaveRevoked(address signer);
    /// @notice `signer` is registered to `operator`, not to `node` (the submitting node, or the operator registering
    /// it with a quote: a quote cannot move a key from one operator to another).
    error TeeVerifierOperatorMismatch(address signer, address operator, address node);
    /// @notice The model version does not accept enclaves with `measurement`.
    error TeeVerifierMeasurementNotAccepted(ModelId modelId, uint32 version, bytes32 measurement);
    /// @notice `measurement` has been revoked.
    error TeeVerifierMeasurementRevoked(bytes32 measurement);
    /// @notice A quote registration names a zero signing address or a zero HPKE key.
    error TeeVerifierInvalidKeys(address signer, bytes32 hpkePublicKey);
    /// @notice `anchorBlock` is not among the `QUOTE_WINDOW` blocks before `currentBlock`: the quote may be old.
    error TeeVerifierStaleQuote(uint256 anchorBlock, uint256 currentBlock);
    /// @notice The quote's report data is not `expected` followed by 32 zero bytes (see `EnclaveBinding`): it binds
    /// another key, operator, chain, verifier or block.
    error TeeVerifierReportDataMismatch(bytes32 expected, bytes reportData);
    /// @notice `operator` is not registered for TEE mode with the minimum stake.
    error TeeVerifierOperatorIneligible(address operator);
    /// @notice Quote registration is not configured yet (governance has not set the parameters).
    error TeeVerifierAttestationUnavailable();
    /// @notice A governed parameter is outside its bounds.
    error TeeVerifierParameterOutOfBounds(string name, uint256 value, uint256 min, uint256 max);
    /// @notice The contract parameter `name` is set to `account`, which has no code.
    error TeeVerifierInvalidContract(string name, address account);

    /// @notice Registers (or renews) the caller's enclave key `signer` with a DCAP quote from the enclave, until
    /// `maxEnclaveAge` from now. The caller must be registered for TEE mode in `staking` with the minimum stake. The
    /// quote is verified by the DCAP verifier with the cached PCK certificate `pckCertificate` (see
    /// `IDcapVerifier.verifyCertificate`), and its report data must bind `EnclaveBinding(signer, hpkePublicKey,
    /// msg.sender, block.chainid, this, anchorBlock, blockhash(anchorBlock))`. The registration records the quote's
    /// measurement (`IDcapVerifier.VerifiedQuote.measurementHash`), which must not be revoked.
    /// @dev Reverts with the DCAP verifier's errors for a quote it refuses. A key registered to another operator
    /// cannot be taken (`TeeVerifierOperatorMismatch`), and a revoked key never comes back. Anchor a quote a block or
    /// more back: `eth_call` and `eth_estimateGas` at `latest` run in the latest block, which cannot anchor itself.
    /// @dev Warning: the quote proves what the enclave's software chose to bind. Whether that software keeps the
    /// signing and HPKE keys inside the enclave is what its measurement stands for: a model version binds only
    /// measurements of software audited to do so.
    /// @return measurement The measurement recorded.
    function registerEnclaveWithQuote(
        bytes calldata quote,
        bytes32 pckCertificate,
        address signer,
        bytes32 hpkePublicKey,
        uint256 anchorBlock
    ) external returns (bytes32 measurement);

    /// @notice Revokes `signer` for good (once: revoking it again reverts with `TeeVerifierEnclaveRevoked`). Only
    /// governance.
    /// @dev Warning: a disruption is recorded per operator, not per key, and a revocation in the same second as a
    /// claim counts as after it: an operator with a second live key is excused on its jobs in flight all the same.
    /// Either way the job is refunded in full; what the operator escapes is a slash, never a payment.
    function revokeEnclave(address signer) external;

    /// @notice Revokes `measurement` for good (once: again reverts with `TeeVerifierMeasurementRevoked`): no enclave
    /// with it is accepted or registered from now on. Only governance.
    /// @dev A node is excused on a job claimed at or before the revocation, with a deadline at or after it, when the
    /// job's version binds the measurement and the node had an enclave registered with it, unexpired at the
    /// revocation (whether or not that enclave was the one it meant to use).
    function revokeMeasurement(bytes32 measurement) external;

    /// @notice Sets the parameters, each within its bounds. Only governance.
    function setParameters(Parameters calldata parameters) external;

    /// @notice When an enclave of `operator` was last revoked (zero if never); every
    /// such time is kept, so an excuse is judged by whether one fell within the job's window. Measurement
    /// revocations are not per operator and are kept per measurement (`measurementRevokedAt`).
    function disruptedAt(address operator) external view returns (uint64);

    /// @notice When `measurement` was revoked (zero if it is not).
    function measurementRevokedAt(bytes32 measurement) external view returns (uint64);

    /// @notice A registered enclave (all zero if unknown).
    function enclaveOf(address signer) external view returns (Enclave memory);

    /// @notice The current parameters.
    function parameters() external view returns (Parameters memory);

    /// @notice The 64-byte report data a quote must carry to register `signer` and `hpkePublicKey` for `operator`
    /// with anchor block `anchorBlock` on this verifier now (see `EnclaveBinding`); reverts with
    /// `TeeVerifierStaleQuote` outside the window.
    function enclaveReportData(address signer, bytes32 hpkePublicKey, address operator, uint256 anchorBlock)
        external
        view
        returns (bytes memory);

    /// @notice The OHTTP key configuration (RFC 9458 §3.1) of `signer`'s enclave, whose gateway decapsulates with the
    /// enclave's HPKE key: key identifier 1, KEM 0x0020 (DHKEM(X25519, HKDF-SHA256)), `hpkePublicKey`, then the
    /// symmetric algorithms HKDF-SHA256 (0x0001) with AES-128-GCM (0x0001) and with ChaCha20-Poly1305 (0x0003):
    /// `0x01 0020 <32-byte key> 0008 0001 0001 0001 0003`, 45 bytes. Reverts with `TeeVerifierUnknownEnclave` for an
    /// unknown signer.
    /// @dev Warning: a revoked or expired enclave still has its configuration: check `enclaveOf` before using it.
    function ohttpKeyConfig(address signer) external view returns (bytes memory);

    /// @notice The SHA-256 hash of `ohttpKeyConfig(signer)`, as `EnclaveAttested` records it.
    function ohttpKeyConfigHash(address signer) external view returns (bytes32);

    /// @notice The EIP-712 digest an enclave signs for `claim` submitted through `escrow`.
    function resultDigest(InferenceClaim calldata claim, address escrow) external view returns (bytes32);
}

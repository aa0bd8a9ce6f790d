// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {INodeStaking} from "./INodeStaking.sol";
import {ITeeVerifier} from "./ITeeVerifier.sol";

/// @title IPrivacyRegistry
/// @notice The on-chain directory of the private path (Oblivious HTTP, RFC 9458): where clients find relays, the
/// gateways of TEE operators, and the keys to which on-chain job inputs are encrypted. Clients read all three from
/// here, never from a relay or a gateway.
/// - Relays: anyone (not only operators) lists one relay per address with a URL and a bond in the network token
///   (`relayBond`), and gets the bond back `unbondingPeriod` after unlisting.
/// - Gateways: a TEE operator names the OHTTP gateway of one of its enclaves registered in `ITeeVerifier`; the
///   gateway's key configuration is the enclave's (`ITeeVerifier.ohttpKeyConfig`), whose hash `GatewaySet` records.
/// - Node keys: an operator registered in `INodeStaking` publishes an X25519 key to which requesters encrypt job
///   inputs (vanilla and ZK nodes; a TEE node may publish its enclave's HPKE key).
/// @dev The bond is never slashed: nothing on-chain can prove a relay misbehaved (logged, retried, colluded), and a
/// slashing rule would reward whoever could claim it. It only makes listing many relays costly: filling the
/// `MAX_RELAYS` slots locks `MAX_RELAYS * relayBond` for `unbondingPeriod` at least. No one but the relay can move
/// its bond or its listing; governance changes the bond and the period for later listings and unlistings only.
/// @dev Warning: a listing says nothing about who runs a relay. A client never uses a relay listed by a gateway's own
/// operator, but one party can list relays under many addresses: independence is not provable on-chain.
/// @dev Warning: a gateway entry is checked once, when it is set: its enclave may since have expired or been
/// revoked (or its measurement revoked) in `ITeeVerifier`. Clients check the enclave's status
/// (`ITeeVerifier.enclaveOf`, `measurementRevokedAt`) and its key configuration at use time.
/// @dev Warning: a node key stays after its operator unregisters or unstakes: requesters check the node in
/// `INodeStaking` before encrypting to it. Nothing on-chain proves the node holds the key's private half.
interface IPrivacyRegistry {
    /* TYPES */

    /// @notice Governance parameters, each bounded in code.
    /// @param relayBond What `listRelay` pulls, from 1 to `MAX_RELAY_BOND` base units of the token.
    /// @param unbondingPeriod Seconds from `unlistRelay` to `withdrawRelayBond`, from `MIN_UNBONDING_PERIOD` to
    /// `MAX_UNBONDING_PERIOD`.
    struct Parameters {
        uint96 relayBond;
        uint32 unbondingPeriod;
    }

    /// @notice A relay's record (all zero if none).
    /// @param url Where clients send encapsulated requests.
    /// @param bond What the relay paid to list, and gets back.
    /// @param withdrawableAt Zero while listed; once unlisted, when the bond can be withdrawn.
    struct Relay {
        string url;
        uint96 bond;
        uint64 withdrawableAt;
    }

    /// @notice An operator's OHTTP gateway (all zero if none).
    /// @param enclave The signing address of the enclave (in `ITeeVerifier`) whose HPKE key the gateway uses.
    /// @param url Where relays forward encapsulated requests.
    struct Gateway {
        address enclave;
        string url;
    }

    /* EVENTS */

    /// @notice Emitted when `relay` lists itself at `url`, having paid `bond`.
    event RelayListed(address indexed relay, string url, uint256 bond);

    /// @notice Emitted when `relay` moves to `url`.
    event RelayUrlUpdated(address indexed relay, string url);

    /// @notice Emitted when `relay` leaves the list; its bond can be withdrawn at `withdrawableAt`.
    event RelayUnlisted(address indexed relay, uint64 withdrawableAt);

    /// @notice Emitted when `relay` withdraws its `amount` of bond to `recipient`.
    event RelayBondWithdrawn(address indexed relay, address indexed recipient, uint256 amount);

    /// @notice Emitted when `operator` sets its gateway at `url`, using the HPKE key of `enclave`, whose key
    /// configuration (`ITeeVerifier.ohttpKeyConfig`) hashes (SHA-256) to `keyConfigHash`.
    event GatewaySet(address indexed operator, address indexed enclave, string url, bytes32 keyConfigHash);

    /// @notice Emitted when `operator` removes its gateway.
    event GatewayRemoved(address indexed operator);

    /// @notice Emitted when `node` publishes its X25519 key `key`.
    event NodeKeySet(address indexed node, bytes32 key);

    /// @notice Emitted when governance sets the parameters.
    event ParametersUpdated(Parameters parameters);

    /* ERRORS */

    /// @notice `url` is not 1 to `MAX_URL_LENGTH` bytes of printable ASCII (0x21 to 0x7e) starting with `http://`
    /// or `https://`.
    error PrivacyRegistryInvalidUrl(bytes url);
    /// @notice `relay` already has a relay listed or a bond unbonding (withdraw it first).
    error PrivacyRegistryRelayExists(address relay);
    /// @notice `relay` has no listed relay.
    error PrivacyRegistryRelayNotListed(address relay);
    /// @notice `relay` is still listed: unlist it first.
    error PrivacyRegistryRelayStillListed(address relay);
    /// @notice `relay`'s bond can be withdrawn only at `withdrawableAt`.
    error PrivacyRegistryRelayStillUnbonding(address relay, uint64 withdrawableAt);
    /// @notice `relay` has no bond.
    error PrivacyRegistryNothingToWithdraw(address relay);
    /// @notice The list already holds `max` entries.
    error PrivacyRegistryListFull(uint256 max);
    /// @notice The token moved `received` instead of `expected` (a fee-on-transfer or otherwise non-standard token).
    error PrivacyRegistryTransferMismatch(uint256 expected, uint256 received);
    /// @notice Withdrawals need a non-zero recipient.
    error PrivacyRegistryInvalidRecipient(address recipient);
    /// @notice `enclave` is not registered in `ITeeVerifier`.
    error PrivacyRegistryUnknownEnclave(address enclave);
    /// @notice `enclave` is registered to `operator`, not to `caller`.
    error PrivacyRegistryEnclaveNotOwned(address enclave, address operator, address caller);
    /// @notice `enclave` has been revoked.
    error PrivacyRegistryEnclaveRevoked(address enclave);
    /// @notice `enclave`'s registration expired at `expiresAt`.
    error PrivacyRegistryEnclaveExpired(address enclave, uint64 expiresAt);
    /// @notice `enclave`'s measurement `measurement` has been revoked.
    error PrivacyRegistryMeasurementRevoked(address enclave, bytes32 measurement);
    /// @notice `operator` has no gateway.
    error PrivacyRegistryNoGateway(address operator);
    /// @notice `account` is not an operator registered in `INodeStaking` (its capabilities are zero).
    error PrivacyRegistryNotOperator(address account);
    /// @notice A node key must not be zero.
    error PrivacyRegistryInvalidNodeKey();
    /// @notice A governed parameter is outside its bounds.
    error PrivacyRegistryParameterOutOfBounds(string name, uint256 value, uint256 min, uint256 max);
    /// @notice The constructor argument `name` is `account`, which has no code.
    error PrivacyRegistryInvalidContract(string name, address account);

    /* RELAYS */

    /// @notice Lists the caller's relay at `url` and pulls the current `relayBond` from it (`transferFrom`: approve
    /// first). One relay per address, at most `MAX_RELAYS` listed at once.
    /// @dev Warning: the token must be a plain ERC-20: a transfer that arrives short reverts.
    function listRelay(string calldata url) external;

    /// @notice Moves the caller's listed relay to `url`.
    function updateRelayUrl(string calldata url) external;

    /// @notice Takes the caller's relay off the list; its bond can be withdrawn `unbondingPeriod` from now.
    /// @dev The period makes every listing, even one held for a block, cost the bond for that long: a borrowed
    /// (flash-loaned) bond cannot list a relay.
    function unlistRelay() external;

    /// @notice Sends the caller's unbonded bond to `recipient` and deletes its record (it may list again).
    /// @return amount The bond sent.
    function withdrawRelayBond(address recipient) external returns (uint256 amount);

    /* GATEWAYS */

    /// @notice Sets (or replaces) the caller's gateway: `url`, serving with the HPKE key of `enclave`, which must be
    /// registered in `ITeeVerifier` to the caller, unrevoked, unexpired and with an unrevoked measurement.
    function setGateway(address enclave, string calldata url) external;

    /// @notice Removes the caller's gateway.
    function removeGateway() external;

    /* NODE KEYS */

    /// @notice Publishes the caller's X25519 public key `key` (RFC 7748, 32 bytes) for inputs encrypted to it
    /// (HPKE, DHKEM(X25519, HKDF-SHA256)). The caller must be registered in `INodeStaking`; replacing is allowed.
    function setNodeKey(bytes32 key) external;

    /* GOVERNANCE */

    /// @notice Sets the parameters, each within its bounds. Only governance. Listings already made keep their bond;
    /// relays already unlisted keep their `withdrawableAt`.
    function setParameters(Parameters calldata parameters) external;

    /* VIEWS */

    /// @notice The network token bonds are paid in.
    function token() external view returns (IERC20);

    /// @notice Whose registered operators may publish node keys.
    function staking() external view returns (INodeStaking);

    /// @notice Where gateways' enclaves are registered.
    function teeVerifier() external view returns (ITeeVerifier);

    /// @notice The current parameters.
    function parameters() external view returns (Parameters memory);

    /// @notice `account`'s relay record.
    function relay(address account) external view returns (Relay memory);

    /// @notice The listed relays, in no particular order (unlisting moves the last one into the freed place).
    function relays() external view returns (address[] memory);

    /// @notice `operator`'s gateway.
    function gateway(address operator) external view returns (Gateway memory);

    /// @notice The operators with a gateway, in no particular order.
    function gatewayOperators() external view returns (address[] memory);

    /// @notice `node`'s X25519 key (zero if none).
    function nodeKey(address node) external view returns (bytes32);
}

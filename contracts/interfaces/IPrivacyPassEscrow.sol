// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {INodeStaking} from "./INodeStaking.sol";

/// @title IPrivacyPassEscrow
/// @notice Payment for the private path that does not link a request to its payer: buyers prepay, on-chain and in
/// batches, for Privacy Pass tokens (RFC 9578, token type 0x0002: publicly verifiable, blind RSA) of an operator's
/// issuer key, and spend them one per request inside the encrypted request; the operator is paid here for the tokens
/// it redeems.
/// 1. An operator registered in `INodeStaking` registers an issuer key (its public key, at a fixed price per token).
///    Its id is SHA-256 of the key's encoding, Privacy Pass's `token_key_id`.
/// 2. A buyer `buy`s `count` tokens of a key and pays `price * count`. Off-chain it sends `count` blinded token
///    requests to the issuer, authenticated by a signature of its address, and the issuer signs them.
/// 3. Before the purchase's `issueBy`, the operator `acknowledge`s it: it commits that it issues (or has issued) the
///    tokens, which become redeemable value. A purchase never acknowledged is refunded to its buyer after `issueBy`.
/// 4. The gateway accepts each token once; the operator `redeem`s the nonces of spent tokens and is paid `price` for
///    each, up to the tokens it acknowledged.
/// @dev What the contract enforces: an issuer is paid at most the value of the purchases it acknowledged, and once
/// per distinct nonce; a purchase it never acknowledged goes back to its buyer. No one else can move a buyer's or an
/// operator's funds; governance only sets the issue window of later purchases.
/// @dev Warning: tokens are prepaid, and the contract cannot tell the nonce of a token a buyer spent from one the
/// operator made up (the operator can sign tokens for itself). A buyer trusts the issuer with the value of the tokens
/// it acknowledged, as with a gift card: an issuer that acknowledges and never issues, refuses tokens, or redeems
/// nonces of its own keeps that value. What a buyer risks is capped by what it buys: buy small batches from issuers
/// you would trust with them.
/// @dev Warning (issuers): acknowledge a purchase before returning its signed tokens. Tokens issued for a purchase
/// that is not acknowledged by `issueBy` are unpaid: the buyer is refunded and still holds them.
/// @dev Warning (privacy): a purchase links the buyer's address to a number of tokens of one key, in public. The
/// blind signature keeps which requests those tokens paid for unlinkable, but only within the key's anonymity set:
/// the other tokens of the same key outstanding at the same time. A key with few buyers gives little privacy, and an
/// operator could register a key per buyer to tag it (every key, its `sold` count and its purchases are public):
/// clients buy only from keys many others buy from, well before they spend, and not in a pattern their spending
/// repeats.
/// @dev Warning: registering a key does not prove possession of its private half, and keys are first come, first
/// served. Clients take an issuer's key from the operator they mean to pay and check `issuer(keyId).operator`; an
/// issuer only signs and accepts tokens of keys recorded here under its own address.
/// @dev Warning: the payment token must be a plain ERC-20 (the deployment uses NodeStaking's). Short deposits from
/// fee-on-transfer tokens revert; rebasing tokens are unsupported.
interface IPrivacyPassEscrow {
    /* TYPES */

    /// @notice Governance parameters, each bounded in code.
    /// @param issueWindow Seconds from a purchase to its `issueBy`, from `MIN_ISSUE_WINDOW` to `MAX_ISSUE_WINDOW`.
    /// Applies to purchases made afterwards.
    struct Parameters {
        uint32 issueWindow;
    }

    /// @notice An issuer key (all zero if unknown). Counts are in tokens.
    /// @param operator Who registered the key: the only account that acknowledges its purchases and redeems its
    /// tokens, and the one paid for them.
    /// @param price What one token costs, fixed for the key's life (a new price is a new key).
    /// @param retired Whether the key takes no more purchases (acknowledged tokens stay redeemable).
    /// @param sold Tokens ever bought, refunded purchases included.
    /// @param acknowledged Tokens of acknowledged purchases.
    /// @param redeemed Tokens redeemed: `redeemed <= acknowledged <= sold`.
    struct Issuer {
        address operator;
        uint96 price;
        bool retired;
        uint64 sold;
        uint64 acknowledged;
        uint64 redeemed;
    }

    /// @notice Where a purchase stands.
    enum PurchaseStatus {
        None,
        Pending,
        Acknowledged,
        Refunded
    }

    /// @notice A purchase (all zero if unknown). Its cost is `count` times its key's price.
    /// @param issueBy Until when (exclusive) the operator can acknowledge it; from then on, if still pending, its
    /// buyer can take a refund. A `uint48`, as OpenZeppelin's clocks, so that a purchase fits two storage slots.
    struct Purchase {
        address buyer;
        uint32 count;
        uint48 issueBy;
        PurchaseStatus status;
        bytes32 keyId;
    }

    /* EVENTS */

    /// @notice Emitted when `operator` registers the issuer key `publicKey` (its encoding as Privacy Pass publishes
    /// it: for type 0x0002, an RSASSA-PSS SubjectPublicKeyInfo), whose SHA-256 is `keyId`, at `price` per token.
    event IssuerRegistered(bytes32 indexed keyId, address indexed operator, uint96 price, bytes publicKey);

    /// @notice Emitted when `operator` retires its key `keyId`: no more purchases; its acknowledged tokens stay
    /// redeemable.
    event IssuerRetired(bytes32 indexed keyId, address indexed operator);

    /// @notice Emitted when `buyer` buys `count` tokens of `keyId` for `cost`, to be acknowledged before `issueBy`.
    event TokensBought(
        uint256 indexed purchaseId,
        address indexed buyer,
        bytes32 indexed keyId,
        uint32 count,
        uint256 cost,
        uint64 issueBy
    );

    /// @notice Emitted when the operator of `keyId` acknowledges purchase `purchaseId`: its tokens are issued and
    /// redeemable.
    event PurchaseAcknowledged(uint256 indexed purchaseId, bytes32 indexed keyId);

    /// @notice Emitted when `buyer` is refunded `amount` (credited to its balance) for purchase `purchaseId`, never
    /// acknowledged.
    event PurchaseRefunded(uint256 indexed purchaseId, address indexed buyer, uint256 amount);

    /// @notice Emitted when `operator` redeems `count` tokens of `keyId` and is credited `amount`.
    event TokensRedeemed(bytes32 indexed keyId, address indexed operator, uint256 count, uint256 amount);

    /// @notice Emitted when `account` withdraws `amount` of its balance to `recipient`.
    event Withdrawn(address indexed account, address indexed recipient, uint256 amount);

    /// @notice Emitted when governance changes the parameters.
    event ParametersUpdated(Parameters parameters);

    /* ERRORS */

    /// @notice `account` is not an operator registered in NodeStaking.
    error PrivacyPassEscrowUnregisteredOperator(address account);
    /// @notice A public key must be `min` to `max` bytes long.
    error PrivacyPassEscrowInvalidPublicKeyLength(uint256 length, uint256 min, uint256 max);
    /// @notice A token's price must be positive.
    error PrivacyPassEscrowZeroPrice();
    /// @notice The key `keyId` is already registered (by `operator`).
    error PrivacyPassEscrowIssuerExists(bytes32 keyId, address operator);
    /// @notice No key `keyId` is registered.
    error PrivacyPassEscrowUnknownIssuer(bytes32 keyId);
    /// @notice The key `keyId` is retired.
    error PrivacyPassEscrowIssuerRetired(bytes32 keyId);
    /// @notice `caller` is not `operator`, the operator of key `keyId`.
    error PrivacyPassEscrowUnauthorizedOperator(bytes32 keyId, address caller, address operator);
    /// @notice A batch (of tokens bought, purchases acknowledged or nonces redeemed) must not be empty.
    error PrivacyPassEscrowEmptyBatch();
    /// @notice A batch has `size` entries, more than `max`.
    error PrivacyPassEscrowBatchTooLarge(uint256 size, uint256 max);
    /// @notice The purchase costs `cost`, more than the `maxCost` the buyer agreed to.
    error PrivacyPassEscrowCostAboveMax(uint256 cost, uint256 maxCost);
    /// @notice No purchase `purchaseId` exists.
    error PrivacyPassEscrowUnknownPurchase(uint256 purchaseId);
    /// @notice Purchase `purchaseId` is `status`, not pending.
    error PrivacyPassEscrowPurchaseNotPending(uint256 purchaseId, PurchaseStatus status);
    /// @notice Purchase `purchaseId` can no longer be acknowledged: its `issueBy` has come.
    error PrivacyPassEscrowIssueWindowClosed(uint256 purchaseId, uint64 issueBy);
    /// @notice Purchase `purchaseId` cannot be refunded before its `issueBy`.
    error PrivacyPassEscrowIssueWindowOpen(uint256 purchaseId, uint64 issueBy);
    /// @notice `caller` is not `buyer`, the buyer of purchase `purchaseId`.
    error PrivacyPassEscrowNotBuyer(uint256 purchaseId, address caller, address buyer);
    /// @notice The token of nonce `nonce` of key `keyId` was already redeemed (in an earlier call, or earlier in this
    /// one).
    error PrivacyPassEscrowNonceSpent(bytes32 keyId, bytes32 nonce);
    /// @notice Key `keyId` has `available` acknowledged tokens not yet redeemed, fewer than the `needed` redeemed.
    error PrivacyPassEscrowInsufficientAcknowledged(bytes32 keyId, uint256 available, uint256 needed);
    /// @notice `account` has nothing to withdraw.
    error PrivacyPassEscrowNothingToWithdraw(address account);
    /// @notice The recipient must not be the zero address.
    error PrivacyPassEscrowInvalidRecipient(address recipient);
    /// @notice A parameter is outside its bounds.
    error PrivacyPassEscrowParameterOutOfBounds(string name, uint256 value, uint256 min, uint256 max);
    /// @notice The token moved `received` instead of `expected`.
    error PrivacyPassEscrowTransferMismatch(uint256 expected, uint256 received);

    /* ISSUER FUNCTIONS */

    /// @notice Registers the issuer key `publicKey` of the caller, an operator registered in NodeStaking, at `price`
    /// per token.
    /// @dev Only the key's length is checked (`MIN_PUBLIC_KEY_BYTES` to `MAX_PUBLIC_KEY_BYTES`): not its encoding,
    /// nor that the caller holds its private half (see the warning above). A key is registered once, ever.
    /// @return keyId `sha256(publicKey)`, Privacy Pass's `token_key_id`.
    function registerIssuer(bytes calldata publicKey, uint96 price) external returns (bytes32 keyId);

    /// @notice Retires the caller's key `keyId`: it takes no more purchases. Pending purchases can still be
    /// acknowledged (or refunded), and acknowledged tokens redeemed. Final.
    function retireIssuer(bytes32 keyId) external;

    /// @notice Acknowledges the pending purchases `purchaseIds` of keys of the caller, each before its `issueBy`: the
    /// caller commits that it issues their tokens, which become redeemable value. All or nothing; at most
    /// `MAX_BATCH` purchases.
    function acknowledge(uint256[] calldata purchaseIds) external;

    /// @notice Redeems the tokens of key `keyId`, of the caller, whose nonces (each the 32-byte nonce of a spent
    /// Privacy Pass token) are `nonces`, and credits the caller the key's price for each. Each nonce is paid once;
    /// at most as many tokens as were acknowledged and not yet redeemed; 1 to `MAX_BATCH` nonces per call.
    function redeem(bytes32 keyId, bytes32[] calldata nonces) external;

    /* BUYER FUNCTIONS */

    /// @notice Buys `count` tokens (1 to `MAX_BATCH`) of the key `keyId`, not retired, for `count` times its price,
    /// pulled from the caller (`transferFrom`) if at most `maxCost`. The operator must acknowledge the purchase
    /// before `issueBy`, now plus `issueWindow`, or the caller can take a refund.
    /// @return purchaseId The new purchase's id (ids are 1..`purchaseCount()`).
    function buy(bytes32 keyId, uint32 count, uint256 maxCost) external returns (uint256 purchaseId);

    /// @notice Credits the caller, the buyer of purchase `purchaseId`, with its cost, once `issueBy` has come with
    /// the purchase still pending (never acknowledged). Withdraw it with `withdraw`.
    function refund(uint256 purchaseId) external;

    /* ANYONE */

    /// @notice Withdraws all of the caller's balance (an operator's earnings, a buyer's refunds) to `recipient`.
    function withdraw(address recipient) external returns (uint256 amount);

    /* GOVERNANCE */

    /// @notice Sets the parameters, each within its bounds. Only governance.
    function setParameters(Parameters calldata parameters) external;

    /* VIEWS */

    /// @notice The issuer key `keyId` (all zero if unknown).
    function issuer(bytes32 keyId) external view returns (Issuer memory);

    /// @notice Purchase `purchaseId` (all zero if unknown).
    function purchase(uint256 purchaseId) external view returns (Purchase memory);

    /// @notice The number of purchases so far (purchase ids are 1..purchaseCount).
    function purchaseCount() external view returns (uint256);

    /// @notice Whether the token of `nonce` of key `keyId` has been redeemed.
    function isSpent(bytes32 keyId, bytes32 nonce) external view returns (bool);

    /// @notice What `account` can withdraw.
    function balanceOf(address account) external view returns (uint256);

    /// @notice The current parameters.
    function parameters() external view returns (Parameters memory);

    /// @notice The payment token.
    function token() external view returns (IERC20);

    /// @notice The staking contract whose registered operators may register issuer keys.
    function staking() external view returns (INodeStaking);
}

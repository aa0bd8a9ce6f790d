// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {INodeStaking} from "../interfaces/INodeStaking.sol";
import {IPrivacyPassEscrow} from "../interfaces/IPrivacyPassEscrow.sol";
import {TokenLib} from "../libraries/TokenLib.sol";

/// @title PrivacyPassEscrow
/// @notice Prepaid Privacy Pass tokens: issuer keys, purchases, acknowledgements, refunds and redemptions. See
/// `IPrivacyPassEscrow`.
/// @dev Governance (`DEFAULT_ADMIN_ROLE`) is meant to be a TimelockController; it sets only the issue window.
contract PrivacyPassEscrow is IPrivacyPassEscrow, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Most tokens one purchase buys, purchases one `acknowledge` takes, and nonces one `redeem` takes.
    uint256 public constant MAX_BATCH = 1_024;
    /// @notice Shortest accepted public key, in bytes. An RSA-2048 SubjectPublicKeyInfo takes 294 (rsaEncryption) or,
    /// with RSASSA-PSS parameters for SHA-384 as type 0x0002 publishes it, about 340.
    uint256 public constant MIN_PUBLIC_KEY_BYTES = 128;
    /// @notice Longest accepted public key, in bytes.
    uint256 public constant MAX_PUBLIC_KEY_BYTES = 1_024;
    /// @notice Lower bound of `issueWindow`.
    uint32 public constant MIN_ISSUE_WINDOW = 1 hours;
    /// @notice Upper bound of `issueWindow`.
    uint32 public constant MAX_ISSUE_WINDOW = 7 days;

    IERC20 internal immutable _token;
    INodeStaking internal immutable _staking;

    Parameters internal _parameters;
    uint256 internal _purchaseCount;
    mapping(bytes32 keyId => Issuer) internal _issuers;
    mapping(uint256 purchaseId => Purchase) internal _purchases;
    mapping(bytes32 keyId => mapping(bytes32 nonce => bool)) internal _spent;
    mapping(address account => uint256) internal _balances;

    constructor(IERC20 token_, INodeStaking staking_, address admin, Parameters memory parameters_) {
        _token = token_;
        _staking = staking_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setParameters(parameters_);
    }

    /* ISSUER FUNCTIONS */

    /// @inheritdoc IPrivacyPassEscrow
    function registerIssuer(bytes calldata publicKey, uint96 price) external returns (bytes32 keyId) {
        if (_staking.operatorOf(msg.sender).capabilities == 0) {
            revert PrivacyPassEscrowUnregisteredOperator(msg.sender);
        }
        if (publicKey.length < MIN_PUBLIC_KEY_BYTES || publicKey.length > MAX_PUBLIC_KEY_BYTES) {
            revert PrivacyPassEscrowInvalidPublicKeyLength(publicKey.length, MIN_PUBLIC_KEY_BYTES, MAX_PUBLIC_KEY_BYTES);
        }
        if (price == 0) revert PrivacyPassEscrowZeroPrice();
        keyId = sha256(publicKey);
        Issuer storage issuer_ = _issuers[keyId];
        if (issuer_.operator != address(0)) revert PrivacyPassEscrowIssuerExists(keyId, issuer_.operator);

        issuer_.operator = msg.sender;
        issuer_.price = price;

        emit IssuerRegistered(keyId, msg.sender, price, publicKey);
    }

    /// @inheritdoc IPrivacyPassEscrow
    function retireIssuer(bytes32 keyId) external {
        Issuer storage issuer_ = _issuerOf(keyId, msg.sender);
        if (issuer_.retired) revert PrivacyPassEscrowIssuerRetired(keyId);

        issuer_.retired = true;

        emit IssuerRetired(keyId, msg.sender);
    }

    /// @inheritdoc IPrivacyPassEscrow
    function acknowledge(uint256[] calldata purchaseIds) external nonReentrant {
        _checkBatch(purchaseIds.length);
        for (uint256 i; i < purchaseIds.length; ++i) {
            _acknowledge(purchaseIds[i]);
        }
    }

    /// @inheritdoc IPrivacyPassEscrow
    function redeem(bytes32 keyId, bytes32[] calldata nonces) external nonReentrant {
        uint256 n = nonces.length;
        _checkBatch(n);
        Issuer storage issuer_ = _issuerOf(keyId, msg.sender);
        uint256 available = issuer_.acknowledged - issuer_.redeemed;
        if (n > available) revert PrivacyPassEscrowInsufficientAcknowledged(keyId, available, n);
        mapping(bytes32 => bool) storage spent = _spent[keyId];
        for (uint256 i; i < n; ++i) {
            bytes32 nonce = nonces[i];
            // Marking as we go also refuses a nonce listed twice in `nonces`.
            if (spent[nonce]) revert PrivacyPassEscrowNonceSpent(keyId, nonce);
            spent[nonce] = true;
        }
        uint256 amount = uint256(issuer_.price) * n;

        // `n <= available`, so `redeemed` stays at most `acknowledged`, a uint64.
        issuer_.redeemed += uint64(n);
        _balances[msg.sender] += amount;

        emit TokensRedeemed(keyId, msg.sender, n, amount);
    }

    /* BUYER FUNCTIONS */

    /// @inheritdoc IPrivacyPassEscrow
    function buy(bytes32 keyId, uint32 count, uint256 maxCost) external nonReentrant returns (uint256 purchaseId) {
        _checkBatch(count);
        Issuer storage issuer_ = _issuers[keyId];
        if (issuer_.operator == address(0)) revert PrivacyPassEscrowUnknownIssuer(keyId);
        if (issuer_.retired) revert PrivacyPassEscrowIssuerRetired(keyId);
        uint256 cost = uint256(issuer_.price) * count;
        if (cost > maxCost) revert PrivacyPassEscrowCostAboveMax(cost, maxCost);
        uint48 issueBy = uint48(block.timestamp) + _parameters.issueWindow;

        purchaseId = ++_purchaseCount;
        issuer_.sold += count;
        _purchases[purchaseId] =
            Purchase({buyer: msg.sender, count: count, issueBy: issueBy, status: PurchaseStatus.Pending, keyId: keyId});

        emit TokensBought(purchaseId, msg.sender, keyId, count, cost, issueBy);

        _pull(msg.sender, cost);
    }

    /// @inheritdoc IPrivacyPassEscrow
    function refund(uint256 purchaseId) external nonReentrant {
        Purchase storage p = _pendingPurchase(purchaseId);
        if (p.buyer != msg.sender) revert PrivacyPassEscrowNotBuyer(purchaseId, msg.sender, p.buyer);
        if (block.timestamp < p.issueBy) revert PrivacyPassEscrowIssueWindowOpen(purchaseId, p.issueBy);
        uint256 amount = uint256(_issuers[p.keyId].price) * p.count;

        p.status = PurchaseStatus.Refunded;
        _balances[msg.sender] += amount;

        emit PurchaseRefunded(purchaseId, msg.sender, amount);
    }

    /* ANYONE */

    /// @inheritdoc IPrivacyPassEscrow
    function withdraw(address recipient) external nonReentrant returns (uint256 amount) {
        if (recipient == address(0)) revert PrivacyPassEscrowInvalidRecipient(recipient);
        amount = _balances[msg.sender];
        if (amount == 0) revert PrivacyPassEscrowNothingToWithdraw(msg.sender);

        _balances[msg.sender] = 0;

        emit Withdrawn(msg.sender, recipient, amount);

        _token.safeTransfer(recipient, amount);
    }

    /* GOVERNANCE */

    /// @inheritdoc IPrivacyPassEscrow
    function setParameters(Parameters calldata parameters_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParameters(parameters_);
    }

    /* VIEWS */

    /// @inheritdoc IPrivacyPassEscrow
    function issuer(bytes32 keyId) external view returns (Issuer memory) {
        return _issuers[keyId];
    }

    /// @inheritdoc IPrivacyPassEscrow
    function purchase(uint256 purchaseId) external view returns (Purchase memory) {
        return _purchases[purchaseId];
    }

    /// @inheritdoc IPrivacyPassEscrow
    function purchaseCount() external view returns (uint256) {
        return _purchaseCount;
    }

    /// @inheritdoc IPrivacyPassEscrow
    function isSpent(bytes32 keyId, bytes32 nonce) external view returns (bool) {
        return _spent[keyId][nonce];
    }

    /// @inheritdoc IPrivacyPassEscrow
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @inheritdoc IPrivacyPassEscrow
    function parameters() external view returns (Parameters memory) {
        return _parameters;
    }

    /// @inheritdoc IPrivacyPassEscrow
    function token() external view returns (IERC20) {
        return _token;
    }

    /// @inheritdoc IPrivacyPassEscrow
    function staking() external view returns (INodeStaking) {
        return _staking;
    }

    /* INTERNAL */

    /// @dev Acknowledges one purchase of a key of the caller, pending and before its `issueBy`.
    function _acknowledge(uint256 purchaseId) internal {
        Purchase storage p = _pendingPurchase(purchaseId);
        bytes32 keyId = p.keyId;
        Issuer storage issuer_ = _issuerOf(keyId, msg.sender);
        if (block.timestamp >= p.issueBy) revert PrivacyPassEscrowIssueWindowClosed(purchaseId, p.issueBy);

        p.status = PurchaseStatus.Acknowledged;
        // At most `sold`, a uint64 that `buy` checked.
        issuer_.acknowledged += p.count;

        emit PurchaseAcknowledged(purchaseId, keyId);
    }

    /// @dev The key `keyId`, checked to be `caller`'s.
    function _issuerOf(bytes32 keyId, address caller) internal view returns (Issuer storage issuer_) {
        issuer_ = _issuers[keyId];
        address operator = issuer_.operator;
        if (operator == address(0)) revert PrivacyPassEscrowUnknownIssuer(keyId);
        if (operator != caller) revert PrivacyPassEscrowUnauthorizedOperator(keyId, caller, operator);
    }

    /// @dev Purchase `purchaseId`, checked to exist and be pending.
    function _pendingPurchase(uint256 purchaseId) internal view returns (Purchase storage p) {
        p = _purchases[purchaseId];
        PurchaseStatus status = p.status;
        if (status == PurchaseStatus.None) revert PrivacyPassEscrowUnknownPurchase(purchaseId);
        if (status != PurchaseStatus.Pending) revert PrivacyPassEscrowPurchaseNotPending(purchaseId, status);
    }

    function _checkBatch(uint256 size) internal pure {
        if (size == 0) revert PrivacyPassEscrowEmptyBatch();
        if (size > MAX_BATCH) revert PrivacyPassEscrowBatchTooLarge(size, MAX_BATCH);
    }

    /// @dev Pulls `amount` and checks it all arrived (`TokenLib.pull`).
    function _pull(address from, uint256 amount) internal {
        uint256 received = TokenLib.pull(_token, from, amount);
        if (received != amount) revert PrivacyPassEscrowTransferMismatch(amount, received);
    }

    function _setParameters(Parameters memory p) internal {
        if (p.issueWindow < MIN_ISSUE_WINDOW || p.issueWindow > MAX_ISSUE_WINDOW) {
            revert PrivacyPassEscrowParameterOutOfBounds(
                "issueWindow", p.issueWindow, MIN_ISSUE_WINDOW, MAX_ISSUE_WINDOW
            );
        }

        _parameters = p;

        emit ParametersUpdated(p);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {ITeeVerifier} from "../interfaces/ITeeVerifier.sol";
import {TokenLib} from "../libraries/TokenLib.sol";
import {ModelId, ModesLib} from "../types/Ids.sol";
import {IReceiptSettlement} from "./IReceiptSettlement.sol";
import {ReceiptLib} from "./ReceiptLib.sol";

/// @title ReceiptSettlement
/// @notice Batches of enclave-signed inference receipts, paid from operators' prepaid credit pools after a challenge
/// window. See `IReceiptSettlement`.
/// @dev No admin: the parameters are fixed at deployment.
contract ReceiptSettlement is IReceiptSettlement, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Most receipts in one batch.
    uint256 public constant MAX_BATCH = 4096;
    /// @notice Seconds between setting a price and its taking effect.
    uint48 public constant PRICE_NOTICE = 1 hours;
    uint64 internal constant MIN_PERIOD = 1 hours;
    uint64 internal constant MAX_PERIOD = 7 days;
    uint16 internal constant MAX_CHALLENGER_SHARE_BPS = 5_000;
    uint256 internal constant BPS = 10_000;

    IERC20 internal immutable _token;
    ITeeVerifier internal immutable _teeVerifier;
    IModelRegistry internal immutable _registry;
    address internal immutable _treasury;
    uint64 internal immutable _challengeWindow;
    uint64 internal immutable _maxReceiptAge;
    uint128 internal immutable _batchBond;
    uint16 internal immutable _challengerShareBps;
    uint96 internal immutable _openingFee;

    /// @dev The bond an operator deposited (less what challenges took), and how much pending batches lock.
    struct Bond {
        uint128 amount;
        uint128 locked;
    }

    uint256 internal _batchCount;
    mapping(uint256 batchId => Batch) internal _batches;
    mapping(address operator => uint256) internal _credit;
    mapping(address operator => Bond) internal _bonds;
    mapping(address account => uint256) internal _balances;
    mapping(address operator => mapping(ModelId => Price)) internal _prices;
    mapping(bytes32 commitment => uint256 blockNumber) internal _commitments;
    mapping(uint256 batchId => mapping(uint256 index => Opening)) internal _openings;

    constructor(
        IERC20 token_,
        ITeeVerifier teeVerifier_,
        IModelRegistry registry_,
        address treasury_,
        Parameters memory p
    ) {
        if (address(token_).code.length == 0) {
            revert ReceiptSettlementInvalidAddress("token", address(token_));
        }
        if (address(teeVerifier_).code.length == 0) {
            revert ReceiptSettlementInvalidAddress("teeVerifier", address(teeVerifier_));
        }
        if (address(registry_).code.length == 0) {
            revert ReceiptSettlementInvalidAddress("registry", address(registry_));
        }
        if (treasury_ == address(0)) revert ReceiptSettlementInvalidAddress("treasury", treasury_);
        _checkBounds("challengeWindow", p.challengeWindow, MIN_PERIOD, MAX_PERIOD);
        _checkBounds("maxReceiptAge", p.maxReceiptAge, MIN_PERIOD, MAX_PERIOD);
        _checkBounds("batchBond", p.batchBond, 1, type(uint128).max);
        _checkBounds("challengerShareBps", p.challengerShareBps, 0, MAX_CHALLENGER_SHARE_BPS);
        _checkBounds("openingFee", p.openingFee, 0, p.batchBond);
        (_token, _teeVerifier, _registry, _treasury) = (token_, teeVerifier_, registry_, treasury_);
        (_challengeWindow, _maxReceiptAge) = (p.challengeWindow, p.maxReceiptAge);
        (_batchBond, _challengerShareBps, _openingFee) = (p.batchBond, p.challengerShareBps, p.openingFee);
    }

    /* BUYERS */

    /// @inheritdoc IReceiptSettlement
    function deposit(address operator, uint256 amount) external nonReentrant {
        if (amount == 0) revert ReceiptSettlementZeroAmount();
        _credit[operator] += amount;
        emit CreditDeposited(operator, msg.sender, amount);
        _pull(msg.sender, amount);
    }

    /* OPERATORS */

    /// @inheritdoc IReceiptSettlement
    function depositBond(uint256 amount) external nonReentrant {
        if (amount == 0) revert ReceiptSettlementZeroAmount();
        _bonds[msg.sender].amount += uint128(amount);
        emit BondDeposited(msg.sender, amount);
        _pull(msg.sender, amount);
    }

    /// @inheritdoc IReceiptSettlement
    function withdrawBond(uint256 amount, address recipient) external nonReentrant {
        if (amount == 0) revert ReceiptSettlementZeroAmount();
        if (recipient == address(0)) revert ReceiptSettlementInvalidRecipient(recipient);
        Bond storage bond = _bonds[msg.sender];
        uint256 free = bond.amount - bond.locked;
        if (amount > free) revert ReceiptSettlementInsufficientBond(msg.sender, free, amount);
        // amount <= free <= bond.amount < 2**128.
        bond.amount -= uint128(amount);
        emit BondWithdrawn(msg.sender, recipient, amount);
        _token.safeTransfer(recipient, amount);
    }

    /// @inheritdoc IReceiptSettlement
    function setPrice(ModelId modelId, uint96 perToken) external {
        Price storage price = _prices[msg.sender][modelId];
        uint256 allowedAt = price.since == 0 ? 0 : uint256(price.since) + _challengeWindow + _maxReceiptAge;
        if (block.timestamp < allowedAt) revert ReceiptSettlementPriceChangeTooSoon(msg.sender, modelId, allowedAt);
        uint48 since = uint48(block.timestamp) + PRICE_NOTICE;
        (price.previous, price.current, price.since) = (price.current, perToken, since);
        emit PriceSet(msg.sender, modelId, perToken, since);
    }

    /// @inheritdoc IReceiptSettlement
    function commitBatch(bytes32 root, uint16 count, uint96 total, address enclave, bytes32 dataHash)
        external
        returns (uint256 batchId)
    {
        if (count == 0 || count > MAX_BATCH) revert ReceiptSettlementInvalidBatchSize(count, MAX_BATCH);
        uint256 credit = _credit[msg.sender];
        if (total > credit) revert ReceiptSettlementInsufficientCredit(msg.sender, credit, total);
        Bond storage bond = _bonds[msg.sender];
        uint256 free = bond.amount - bond.locked;
        if (free < _batchBond) revert ReceiptSettlementInsufficientBond(msg.sender, free, _batchBond);
        bytes32 measurement = _usableMeasurement(enclave);

        // total <= credit; locked + batchBond <= amount < 2**128.
        unchecked {
            _credit[msg.sender] = credit - total;
            bond.locked += _batchBond;
            batchId = ++_batchCount;
        }
        _batches[batchId] = Batch({
            operator: msg.sender,
            committedAt: uint48(block.timestamp),
            count: count,
            status: BatchStatus.Pending,
            unopened: 0,
            enclave: enclave,
            total: total,
            root: root,
            measurement: measurement
        });
        emit BatchCommitted(batchId, msg.sender, enclave, root, count, total, dataHash);
    }

    /* ANYONE */

    /// @inheritdoc IReceiptSettlement
    function finalize(uint256 batchId) external {
        Batch storage b = _pendingBatch(batchId);
        uint256 endsAt = uint256(b.committedAt) + _challengeWindow;
        if (block.timestamp < endsAt) revert ReceiptSettlementWindowOpen(batchId, endsAt);
        if (b.unopened != 0) revert ReceiptSettlementOpeningsPending(batchId, b.unopened);
        (address operator, uint96 total) = (b.operator, b.total);

        b.status = BatchStatus.Finalized;
        _bonds[operator].locked -= _batchBond;
        _balances[operator] += total;
        emit BatchFinalized(batchId, operator, total);
    }

    /// @inheritdoc IReceiptSettlement
    function commitChallenge(bytes32 commitment) external {
        _commitments[commitment] = block.number;
        emit ChallengeCommitted(commitment, msg.sender);
    }

    /// @inheritdoc IReceiptSettlement
    function challengeReceipt(uint256 batchId, LeafProof calldata leaf) external nonReentrant {
        Batch storage b = _challengeable(batchId);
        bytes32 hash = _provenLeaf(batchId, b, leaf);
        _useCommitment(batchId, hash, 0, 0);
        (bool faulty, Fault fault) = _receiptFault(b, leaf);
        if (!faulty) revert ReceiptSettlementNoFault(batchId);
        _cancel(batchId, b, fault, leaf.index, msg.sender);
    }

    /// @inheritdoc IReceiptSettlement
    function challengeSum(uint256 batchId, LeafProof calldata a, LeafProof calldata b) external nonReentrant {
        Batch storage batch_ = _challengeable(batchId);
        bytes32 hashA = _provenLeaf(batchId, batch_, a);
        bytes32 hashB = _provenLeaf(batchId, batch_, b);
        _useCommitment(batchId, hashA, batchId, hashB);
        if (uint256(b.index) != uint256(a.index) + 1 || uint256(a.cumulative) + b.receipt.price == b.cumulative) {
            revert ReceiptSettlementNoFault(batchId);
        }
        _cancel(batchId, batch_, Fault.BadSum, b.index, msg.sender);
    }

    /// @inheritdoc IReceiptSettlement
    function challengeDuplicate(uint256 batchId, LeafProof calldata a, uint256 otherId, LeafProof calldata b)
        external
        nonReentrant
    {
        Batch storage batch_ = _challengeable(batchId);
        Batch storage other = _batches[otherId];
        if (other.status == BatchStatus.None) revert ReceiptSettlementUnknownBatch(otherId);
        if (other.operator != batch_.operator) {
            revert ReceiptSettlementOperatorMismatch(batchId, batch_.operator, other.operator);
        }
        bytes32 hashA = _provenLeaf(batchId, batch_, a);
        bytes32 hashB = _provenLeaf(otherId, other, b);
        _useCommitment(batchId, hashA, otherId, hashB);
        bool sameLeaf = otherId == batchId && a.index == b.index;
        // A cancelled batch paid nothing: its receipts may be batched again.
        if (sameLeaf || other.status == BatchStatus.Cancelled || a.receipt.paymentId != b.receipt.paymentId) {
            revert ReceiptSettlementNoFault(batchId);
        }
        _cancel(batchId, batch_, Fault.DuplicatePayment, a.index, msg.sender);
    }

    /// @inheritdoc IReceiptSettlement
    function requestOpening(uint256 batchId, uint256 index) external nonReentrant {
        Batch storage b = _pendingBatch(batchId);
        uint256 endsAt = uint256(b.committedAt) + _challengeWindow / 2;
        if (block.timestamp >= endsAt) revert ReceiptSettlementOpeningClosed(batchId, endsAt);
        if (index >= b.count) revert ReceiptSettlementLeafOutOfRange(batchId, index, b.count);
        Opening storage o = _openings[batchId][index];
        if (o.requester != address(0)) revert ReceiptSettlementOpeningExists(batchId, index);

        (o.requester, o.fee) = (msg.sender, _openingFee);
        // At most one request per leaf, and a batch has at most MAX_BATCH leaves: fits 16 bits.
        unchecked {
            ++b.unopened;
        }
        emit OpeningRequested(batchId, index, msg.sender, _openingDeadline(b));
        if (_openingFee != 0) _pull(msg.sender, _openingFee);
    }

    /// @inheritdoc IReceiptSettlement
    function openLeaf(uint256 batchId, LeafProof calldata leaf) external {
        Batch storage b = _batches[batchId];
        Opening storage o = _openRequest(batchId, leaf.index);
        uint256 deadline = _openingDeadline(b);
        if (block.timestamp >= deadline) revert ReceiptSettlementOpeningDeadline(batchId, leaf.index, deadline);
        _provenLeaf(batchId, b, leaf);

        o.closed = true;
        --b.unopened;
        _balances[msg.sender] += o.fee;
        emit LeafOpened(batchId, leaf.index, leaf.receipt, leaf.signature, leaf.cumulative);
    }

    /// @inheritdoc IReceiptSettlement
    function slashUnopened(uint256 batchId, uint256 index) external nonReentrant {
        Batch storage b = _batches[batchId];
        Opening storage o = _openRequest(batchId, index);
        uint256 deadline = _openingDeadline(b);
        if (block.timestamp < deadline) revert ReceiptSettlementOpeningDeadline(batchId, index, deadline);
        (address requester, uint96 fee) = (o.requester, o.fee);

        o.closed = true;
        --b.unopened;
        _balances[requester] += fee;
        emit OpeningRefunded(batchId, index, requester, fee);
        if (b.status == BatchStatus.Pending) _cancel(batchId, b, Fault.Unopened, index, requester);
    }

    /// @inheritdoc IReceiptSettlement
    function withdraw(address recipient) external nonReentrant returns (uint256 amount) {
        if (recipient == address(0)) revert ReceiptSettlementInvalidRecipient(recipient);
        amount = _balances[msg.sender];
        if (amount == 0) revert ReceiptSettlementNothingToWithdraw(msg.sender);
        _balances[msg.sender] = 0;
        emit Withdrawn(msg.sender, recipient, amount);
        _token.safeTransfer(recipient, amount);
    }

    /* INTERNAL */

    /// @dev The measurement of `enclave` if it may sign a batch of the caller now.
    function _usableMeasurement(address enclave) internal view returns (bytes32 measurement) {
        ITeeVerifier.Enclave memory e = _teeVerifier.enclaveOf(enclave);
        if (e.operator != msg.sender) revert ReceiptSettlementEnclaveOperatorMismatch(enclave, e.operator, msg.sender);
        if (e.revoked) revert ReceiptSettlementEnclaveRevoked(enclave);
        if (block.timestamp >= e.expiresAt) revert ReceiptSettlementEnclaveExpired(enclave, e.expiresAt);
        measurement = e.measurement;
        if (_teeVerifier.measurementRevokedAt(measurement) != 0) {
            revert ReceiptSettlementMeasurementRevoked(measurement);
        }
    }

    function _pendingBatch(uint256 batchId) internal view returns (Batch storage b) {
        b = _batches[batchId];
        if (b.status == BatchStatus.None) revert ReceiptSettlementUnknownBatch(batchId);
        if (b.status != BatchStatus.Pending) revert ReceiptSettlementBatchNotPending(batchId, b.status);
    }

    /// @dev A pending batch within its window.
    function _challengeable(uint256 batchId) internal view returns (Batch storage b) {
        b = _pendingBatch(batchId);
        uint256 endsAt = uint256(b.committedAt) + _challengeWindow;
        if (block.timestamp >= endsAt) revert ReceiptSettlementWindowClosed(batchId, endsAt);
    }

    /// @dev The hash of `leaf`, which must be in batch `b`.
    function _provenLeaf(uint256 batchId, Batch storage b, LeafProof calldata leaf) internal view returns (bytes32) {
        bytes32 hash =
            ReceiptLib.leaf(ReceiptLib.digest(leaf.receipt, address(_teeVerifier)), leaf.signature, leaf.cumulative);
        if (!ReceiptLib.verify(b.root, b.count, hash, leaf.index, leaf.proof)) {
            revert ReceiptSettlementInvalidProof(batchId, leaf.index);
        }
        return hash;
    }

    /// @dev An outstanding opening request.
    function _openRequest(uint256 batchId, uint256 index) internal view returns (Opening storage o) {
        o = _openings[batchId][index];
        if (o.requester == address(0) || o.closed) revert ReceiptSettlementNoOpening(batchId, index);
    }

    /// @dev When openings of `b` are due: three quarters into its window, leaving the last quarter to challenge
    /// what they show.
    function _openingDeadline(Batch storage b) internal view returns (uint256) {
        return uint256(b.committedAt) + _challengeWindow * 3 / 4;
    }

    /// @dev Consumes the caller's commitment of this evidence, made in an earlier block.
    function _useCommitment(uint256 batchId, bytes32 leafA, uint256 otherId, bytes32 leafB) internal {
        bytes32 commitment = challengeCommitment(msg.sender, batchId, leafA, otherId, leafB);
        uint256 committedIn = _commitments[commitment];
        if (committedIn == 0 || committedIn >= block.number) revert ReceiptSettlementChallengeNotCommitted(commitment);
        delete _commitments[commitment];
    }

    /// @dev The first fault of one leaf of `b`, in the order of `Fault`.
    function _receiptFault(Batch storage b, LeafProof calldata leaf) internal view returns (bool, Fault) {
        Receipt calldata r = leaf.receipt;
        (address signer, ECDSA.RecoverError error,) =
            ECDSA.tryRecoverCalldata(ReceiptLib.digest(r, address(_teeVerifier)), leaf.signature);
        if (error != ECDSA.RecoverError.NoError || signer != b.enclave) return (true, Fault.BadSignature);
        if (r.settlement != address(this) || r.operator != b.operator || r.enclave != b.enclave) {
            return (true, Fault.WrongBinding);
        }
        if (r.issuedAt > b.committedAt || uint256(r.issuedAt) + _maxReceiptAge < b.committedAt) {
            return (true, Fault.OutOfTime);
        }
        if (!_isBound(r, b.measurement)) return (true, Fault.UnboundVersion);
        uint256 tokens = uint256(r.promptTokens) + r.completionTokens;
        if (r.price != tokens * priceOf(b.operator, r.modelId, r.issuedAt)) return (true, Fault.WrongPrice);
        bool first = leaf.index == 0 && leaf.cumulative != r.price;
        bool last = leaf.index == b.count - 1 && leaf.cumulative != b.total;
        if (first || last) return (true, Fault.BadSum);
        return (false, Fault.BadSignature);
    }

    /// @dev Whether the receipt's version binds `measurement` for TEE; an unknown model counts as unbound.
    function _isBound(Receipt calldata r, bytes32 measurement) internal view returns (bool) {
        try _registry.isBound(r.modelId, r.version, ModesLib.TEE, measurement) returns (bool bound) {
            return bound;
        } catch {
            return false;
        }
    }

    /// @dev Cancels batch `b`: its total back to the pool, its bond taken and shared out with `challenger`.
    function _cancel(uint256 batchId, Batch storage b, Fault fault, uint256 index, address challenger) internal {
        address operator = b.operator;
        uint256 bond = _batchBond;
        uint256 reward = bond * _challengerShareBps / BPS;

        b.status = BatchStatus.Cancelled;
        _credit[operator] += b.total;
        Bond storage operatorBond = _bonds[operator];
        // The batch locked `bond` of `amount`, so both hold at least that.
        unchecked {
            operatorBond.locked -= uint128(bond);
            operatorBond.amount -= uint128(bond);
        }
        _balances[challenger] += reward;
        _balances[_treasury] += bond - reward;
        emit BatchChallenged(batchId, challenger, operator, fault, index, bond, reward);
    }

    /// @dev Pulls `amount` and checks it all arrived.
    function _pull(address from, uint256 amount) internal {
        uint256 received = TokenLib.pull(_token, from, amount);
        if (received != amount) revert ReceiptSettlementTransferMismatch(amount, received);
    }

    function _checkBounds(string memory name, uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert ReceiptSettlementParameterOutOfBounds(name, value, min, max);
    }

    /* VIEWS */

    /// @inheritdoc IReceiptSettlement
    function batch(uint256 batchId) external view returns (Batch memory) {
        return _batches[batchId];
    }

    /// @inheritdoc IReceiptSettlement
    function batchCount() external view returns (uint256) {
        return _batchCount;
    }

    /// @inheritdoc IReceiptSettlement
    function creditOf(address operator) external view returns (uint256) {
        return _credit[operator];
    }

    /// @inheritdoc IReceiptSettlement
    function bondOf(address operator) external view returns (uint256 bond, uint256 locked) {
        Bond memory b = _bonds[operator];
        return (b.amount, b.locked);
    }

    /// @inheritdoc IReceiptSettlement
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @inheritdoc IReceiptSettlement
    function priceCard(address operator, ModelId modelId) external view returns (Price memory) {
        return _prices[operator][modelId];
    }

    /// @inheritdoc IReceiptSettlement
    function priceOf(address operator, ModelId modelId, uint64 issuedAt) public view returns (uint96) {
        Price memory price = _prices[operator][modelId];
        return issuedAt < price.since ? price.previous : price.current;
    }

    /// @inheritdoc IReceiptSettlement
    function receiptDigest(Receipt calldata receipt) external view returns (bytes32) {
        return ReceiptLib.digest(receipt, address(_teeVerifier));
    }

    /// @inheritdoc IReceiptSettlement
    function leafHash(LeafProof calldata leaf) external view returns (bytes32) {
        return ReceiptLib.leaf(ReceiptLib.digest(leaf.receipt, address(_teeVerifier)), leaf.signature, leaf.cumulative);
    }

    /// @inheritdoc IReceiptSettlement
    function challengeCommitment(address challenger, uint256 batchId, bytes32 leafA, uint256 otherId, bytes32 leafB)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(challenger, batchId, leafA, otherId, leafB));
    }

    /// @inheritdoc IReceiptSettlement
    function opening(uint256 batchId, uint256 index) external view returns (Opening memory) {
        return _openings[batchId][index];
    }

    /// @inheritdoc IReceiptSettlement
    function commitmentBlock(bytes32 commitment) external view returns (uint256) {
        return _commitments[commitment];
    }

    /// @inheritdoc IReceiptSettlement
    function parameters() external view returns (Parameters memory) {
        return Parameters({
            challengeWindow: _challengeWindow,
            maxReceiptAge: _maxReceiptAge,
            batchBond: _batchBond,
            challengerShareBps: _challengerShareBps,
            openingFee: _openingFee
        });
    }

    /// @inheritdoc IReceiptSettlement
    function token() external view returns (IERC20) {
        return _token;
    }

    /// @inheritdoc IReceiptSettlement
    function teeVerifier() external view returns (ITeeVerifier) {
        return _teeVerifier;
    }

    /// @inheritdoc IReceiptSettlement
    function registry() external view returns (IModelRegistry) {
        return _registry;
    }

    /// @inheritdoc IReceiptSettlement
    function treasury() external view returns (address) {
        return _treasury;
    }
}

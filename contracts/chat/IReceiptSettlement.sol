// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {ITeeVerifier} from "../interfaces/ITeeVerifier.sol";
import {ModelId} from "../types/Ids.sol";

/// @title IReceiptSettlement
/// @notice Batched settlement of signed inference receipts (chat and agents). Every answer of a TEE node carries a
/// `Receipt` signed by its enclave key (EIP-712 under the TeeVerifier's domain); the operator later commits its
/// receipts in batches, one transaction each, and is paid from its prepaid credit pool once the batch's challenge
/// window has passed without a successful challenge. Nothing is stored per receipt.
///
/// Payment. Buyers `deposit` into an operator's credit pool (anonymous prepaid credit: a buyer then obtains Privacy
/// Pass tokens or any bearer credential of the operator off-chain and spends one per request; its nonce is the
/// receipt's `paymentId`). A batch names no payer: it debits the pool by its `total` at once, and the operator is
/// credited that total at `finalize`, after the window. A successful challenge returns the total to the pool.
///
/// Batches. A batch commits to the root of an indexed binary Merkle tree (position order, depth
/// `ceil(log2(count))`; a node without a right sibling, at any level, is paired with `bytes32(0)`) over its `count`
/// leaves. Leaf `i` is
/// `keccak256(abi.encode(LEAF_TAG, digest, keccak256(signature), cumulative))`: the receipt's EIP-712 digest, the
/// enclave's 65-byte signature and the running sum of the prices of leaves 0..i. An inner node is
/// `keccak256(abi.encodePacked(left, right))`. A leaf preimage is 128 bytes and a node's 64, so neither can pass for
/// the other. One batch is signed by one enclave, checked at commit: registered to the operator, unrevoked,
/// unexpired, with an unrevoked measurement, which the batch records.
///
/// Faults (each proven by Merkle proofs of at most two leaves, during the window):
/// 1. A leaf whose signature does not recover to the batch's enclave, or whose receipt names another settlement
///    contract, operator or enclave (`challengeReceipt`).
/// 2. A receipt issued after the batch was committed, or more than `maxReceiptAge` before (`challengeReceipt`).
/// 3. A receipt for a model version that does not bind the batch's measurement for TEE (`challengeReceipt`).
/// 4. A receipt whose price is not the operator's published price per token for the model at `issuedAt` times its
///    tokens (`challengeReceipt`).
/// 5. A running sum that does not add up: leaf 0's is not its price, the last leaf's is not the batch's total
///    (`challengeReceipt`), or leaf i+1's is not leaf i's plus its price (`challengeSum`).
/// 6. Two leaves with the same payment id in the operator's batches, that one or another not cancelled
///    (`challengeDuplicate`).
/// 7. A leaf whose opening was requested (`requestOpening`, in the first half of the window, for `openingFee`) and
///    not opened (`openLeaf`, by anyone, usually the operator) by three quarters of the window (`slashUnopened`).
///    This is what makes a batch whose receipts are withheld, or whose count is padded with leaves no one can open,
///    challengeable: every position below `count` must open to a receipt, and an opened receipt is in the
///    `LeafOpened` event for faults 1 to 6 in the last quarter.
/// A successful challenge cancels the batch (its total goes back to the pool), takes the batch's bond from the
/// operator's settlement bond, and pays the challenger `challengerShareBps` of it (the rest to the treasury).
/// Challenges are committed (`commitChallenge`) in an earlier block than they are revealed, the commitment binding
/// the challenger and the evidence, so that a copier of a revealed challenge cannot take its reward.
///
/// @dev Who can profit, and can they cause it: a challenger profits only from a batch with a fault above, and every
/// fault is the operator's own doing: its enclave signs only for requests it served, with its fresh time, its
/// operator's published price (changes take effect `PRICE_NOTICE` after they are set, and a change cannot overwrite a
/// price a challengeable receipt may still use), and each payment id once; the operator posts only receipts of its
/// batch's enclave, in time, with the sums it computed. Governance revoking an enclave or a measurement after the
/// commit does not make a batch challengeable (the status is judged at commit); before the commit it stops the batch
/// being committed (the receipts go unpaid; no bond is lost). A model owner cannot unbind a version.
/// @dev Warning (operators): a client can spend one credential twice. The gateway must refuse a payment id it has
/// already accepted, forever, and the operator must never batch a payment id it batched before (in a batch not
/// cancelled): a duplicate is slashable however it came about.
/// @dev Opening requests: the fee goes to whoever opens the leaf (so a requester pays for the operator's gas, and
/// cannot grief it for free); a leaf not opened in time refunds the fee and cancels the batch with the bond's
/// reward to the requester (once: a batch already cancelled only refunds). An honest operator answers every request
/// while its window is open: it must be online for `3/4 * challengeWindow` after each commit.
/// @dev Warning (buyers): credit is prepaid value held for the operator, as a gift card: only batches of enclave-
/// signed receipts take it, and a watcher can force any leaf open, but only while the window is open: a pool trusts
/// its operator's batches to be watched. Deposit into pools of operators whose batches someone checks (`dataHash`
/// published, openings requested at random when it is not).
/// @dev Warning (privacy): a deposit links the buyer to the operator in public; a batch links nothing to payers. The
/// anonymity set of a credential is the operator's other buyers.
/// @dev Warning: the token must be a plain ERC-20 (NodeStaking's in the deployment); fee-on-transfer deposits revert.
interface IReceiptSettlement {
    /* TYPES */

    /// @notice What an enclave signs for one answer: EIP-712 type `InferenceReceipt`, domain the TeeVerifier's
    /// (`name` "InferenceTeeVerifier", `version` "1", the chain id, the TeeVerifier), which binds the chain.
    /// @param settlement This contract: a receipt cannot be settled on another.
    /// @param operator The operator whose gateway served it (the enclave's registered operator).
    /// @param enclave The enclave's signing address.
    /// @param requestHash keccak256 of the request as the client sent it (e.g. the chat request body).
    /// @param responseHash keccak256 of the complete response (for a stream, of the concatenated content).
    /// @param price What the request cost, in the token's units: `priceOf(operator, modelId, issuedAt)` times
    /// `promptTokens + completionTokens`.
    /// @param paymentId The credential spent, e.g. a Privacy Pass token's nonce; unique per operator.
    /// @param issuedAt When the enclave signed it (seconds); it must be committed within `maxReceiptAge`.
    // A hashed calldata struct: packing does not matter.
    // solhint-disable-next-line gas-struct-packing
    struct Receipt {
        address settlement;
        address operator;
        address enclave;
        ModelId modelId;
        uint32 version;
        bytes32 requestHash;
        bytes32 responseHash;
        uint32 promptTokens;
        uint32 completionTokens;
        uint96 price;
        bytes32 paymentId;
        uint64 issuedAt;
    }

    /// @notice A leaf of a batch with its Merkle proof.
    /// @param signature The enclave's 65-byte signature of the receipt.
    /// @param cumulative The sum of the prices of the batch's leaves 0..index.
    /// @param index The leaf's position.
    /// @param proof Its siblings from the leaf level up (exactly the tree's depth of them).
    // solhint-disable-next-line gas-struct-packing
    struct LeafProof {
        Receipt receipt;
        bytes signature;
        uint128 cumulative;
        uint32 index;
        bytes32[] proof;
    }

    /// @notice Where a batch stands.
    enum BatchStatus {
        None,
        Pending,
        Finalized,
        Cancelled
    }

    /// @notice A committed batch (all zero if unknown).
    /// @param unopened Opening requests not answered yet: the batch cannot be finalized while any is.
    /// @param measurement The enclave's measurement at the commit.
    struct Batch {
        address operator;
        uint48 committedAt;
        uint16 count;
        BatchStatus status;
        uint16 unopened;
        address enclave;
        uint96 total;
        bytes32 root;
        bytes32 measurement;
    }

    /// @notice An operator's price per token of a model: `previous` for receipts issued before `since`, `current`
    /// from then on.
    struct Price {
        uint96 previous;
        uint96 current;
        uint48 since;
    }

    /// @notice The fault a successful challenge proved.
    enum Fault {
        BadSignature,
        WrongBinding,
        OutOfTime,
        UnboundVersion,
        WrongPrice,
        BadSum,
        DuplicatePayment,
        Unopened
    }

    /// @notice A request to open leaf `index` of a batch (all zero if none).
    /// @param requester Who paid `fee`, and is refunded and rewarded if the leaf is not opened in time.
    /// @param closed Whether the request is answered (opened) or refunded.
    struct Opening {
        address requester;
        bool closed;
        uint96 fee;
    }

    /// @notice Fixed at deployment, each bounded in code.
    /// @param challengeWindow Seconds after a commit during which the batch can be challenged (1 hour to 7 days).
    /// @param maxReceiptAge Most seconds between a receipt's `issuedAt` and its batch's commit (1 hour to 7 days).
    /// @param batchBond Settlement bond each pending batch locks and a successful challenge takes (positive).
    /// @param challengerShareBps Share of a taken bond paid to the challenger (at most 5,000); the rest goes to the
    /// treasury, so that an operator challenging itself still loses at least half.
    /// @param openingFee What a request to open a leaf costs, paid to whoever opens it (at most `batchBond`).
    struct Parameters {
        uint64 challengeWindow;
        uint64 maxReceiptAge;
        uint128 batchBond;
        uint16 challengerShareBps;
        uint96 openingFee;
    }

    /* EVENTS */

    /// @notice Emitted when `payer` adds `amount` to `operator`'s credit pool.
    event CreditDeposited(address indexed operator, address indexed payer, uint256 amount);

    /// @notice Emitted when `operator` adds `amount` to its settlement bond.
    event BondDeposited(address indexed operator, uint256 amount);

    /// @notice Emitted when `operator` withdraws `amount` of its unlocked bond to `recipient`.
    event BondWithdrawn(address indexed operator, address indexed recipient, uint256 amount);

    /// @notice Emitted when `operator` sets its price per token of `modelId`, in force for receipts issued from
    /// `since`.
    event PriceSet(address indexed operator, ModelId indexed modelId, uint96 perToken, uint48 since);

    /// @notice Emitted when `operator` commits batch `batchId` of `count` receipts signed by `enclave`, totalling
    /// `total`, under `root`; `dataHash` is the SHA-256 of the batch's published receipts (see the SDK's format).
    event BatchCommitted(
        uint256 indexed batchId,
        address indexed operator,
        address indexed enclave,
        bytes32 root,
        uint16 count,
        uint96 total,
        bytes32 dataHash
    );

    /// @notice Emitted when batch `batchId` is finalized and `operator` credited `total`.
    event BatchFinalized(uint256 indexed batchId, address indexed operator, uint96 total);

    /// @notice Emitted when `challenger` commits `commitment` (see `challengeCommitment`).
    event ChallengeCommitted(bytes32 indexed commitment, address indexed challenger);

    /// @notice Emitted when `challenger` proves `fault` at leaf `index` of batch `batchId`: the batch is cancelled,
    /// its total returned to the pool, `bond` taken from the operator and `reward` of it credited to `challenger`.
    event BatchChallenged(
        uint256 indexed batchId,
        address indexed challenger,
        address indexed operator,
        Fault fault,
        uint256 index,
        uint256 bond,
        uint256 reward
    );

    /// @notice Emitted when `requester` asks for leaf `index` of batch `batchId` to be opened by `deadline`.
    event OpeningRequested(uint256 indexed batchId, uint256 index, address indexed requester, uint256 deadline);

    /// @notice Emitted when leaf `index` of batch `batchId` is opened: its receipt, signature and running sum.
    event LeafOpened(uint256 indexed batchId, uint256 index, Receipt receipt, bytes signature, uint128 cumulative);

    /// @notice Emitted when `requester` is refunded `fee` for an opening of leaf `index` of batch `batchId` that
    /// never came.
    event OpeningRefunded(uint256 indexed batchId, uint256 index, address indexed requester, uint256 fee);

    /// @notice Emitted when `account` withdraws `amount` of its balance to `recipient`.
    event Withdrawn(address indexed account, address indexed recipient, uint256 amount);

    /* ERRORS */

    /// @notice A parameter is outside its bounds.
    error ReceiptSettlementParameterOutOfBounds(string name, uint256 value, uint256 min, uint256 max);
    /// @notice The constructor argument `name` is the zero address or has no code where code is needed.
    error ReceiptSettlementInvalidAddress(string name, address account);
    /// @notice The amount must be positive.
    error ReceiptSettlementZeroAmount();
    /// @notice A batch holds 1 to `max` receipts, not `count`.
    error ReceiptSettlementInvalidBatchSize(uint256 count, uint256 max);
    /// @notice `operator`'s pool holds `credit`, less than the `needed` total.
    error ReceiptSettlementInsufficientCredit(address operator, uint256 credit, uint256 needed);
    /// @notice `operator`'s unlocked bond is `available`, less than `needed`.
    error ReceiptSettlementInsufficientBond(address operator, uint256 available, uint256 needed);
    /// @notice `enclave` is registered to `operator`, not to `caller` (zero if unknown).
    error ReceiptSettlementEnclaveOperatorMismatch(address enclave, address operator, address caller);
    /// @notice `enclave` is revoked.
    error ReceiptSettlementEnclaveRevoked(address enclave);
    /// @notice `enclave`'s registration expired at `expiresAt`.
    error ReceiptSettlementEnclaveExpired(address enclave, uint64 expiresAt);
    /// @notice The enclave's measurement `measurement` is revoked.
    error ReceiptSettlementMeasurementRevoked(bytes32 measurement);
    /// @notice No batch `batchId` exists.
    error ReceiptSettlementUnknownBatch(uint256 batchId);
    /// @notice Batch `batchId` is `status`, not pending.
    error ReceiptSettlementBatchNotPending(uint256 batchId, BatchStatus status);
    /// @notice Batch `batchId`'s challenge window is open until `endsAt` (exclusive).
    error ReceiptSettlementWindowOpen(uint256 batchId, uint256 endsAt);
    /// @notice Batch `batchId`'s challenge window closed at `endsAt`.
    error ReceiptSettlementWindowClosed(uint256 batchId, uint256 endsAt);
    /// @notice The proof of leaf `index` does not lead to batch `batchId`'s root.
    error ReceiptSettlementInvalidProof(uint256 batchId, uint256 index);
    /// @notice The evidence proves no fault in batch `batchId`.
    error ReceiptSettlementNoFault(uint256 batchId);
    /// @notice `commitment` was not committed in an earlier block (or was used).
    error ReceiptSettlementChallengeNotCommitted(bytes32 commitment);
    /// @notice The two batches belong to different operators (`operator`, `other`).
    error ReceiptSettlementOperatorMismatch(uint256 batchId, address operator, address other);
    /// @notice `operator` can change its price of `modelId` again from `allowedAt`.
    error ReceiptSettlementPriceChangeTooSoon(address operator, ModelId modelId, uint256 allowedAt);
    /// @notice Openings of batch `batchId` can be requested until `endsAt` (half its window).
    error ReceiptSettlementOpeningClosed(uint256 batchId, uint256 endsAt);
    /// @notice Leaf `index` is outside batch `batchId`'s `count` leaves.
    error ReceiptSettlementLeafOutOfRange(uint256 batchId, uint256 index, uint256 count);
    /// @notice Leaf `index` of batch `batchId` already has an opening request.
    error ReceiptSettlementOpeningExists(uint256 batchId, uint256 index);
    /// @notice Leaf `index` of batch `batchId` has no outstanding opening request.
    error ReceiptSettlementNoOpening(uint256 batchId, uint256 index);
    /// @notice The opening of leaf `index` of batch `batchId` is due by `deadline`: too late to open, or too early to
    /// call unopened.
    error ReceiptSettlementOpeningDeadline(uint256 batchId, uint256 index, uint256 deadline);
    /// @notice Batch `batchId` has `unopened` opening requests outstanding.
    error ReceiptSettlementOpeningsPending(uint256 batchId, uint256 unopened);
    /// @notice `account` has nothing to withdraw.
    error ReceiptSettlementNothingToWithdraw(address account);
    /// @notice The recipient must not be the zero address.
    error ReceiptSettlementInvalidRecipient(address recipient);
    /// @notice The token moved `received` instead of `expected`.
    error ReceiptSettlementTransferMismatch(uint256 expected, uint256 received);

    /* BUYERS */

    /// @notice Adds `amount` (pulled with `transferFrom`) to `operator`'s credit pool. Not refundable: only batches of
    /// `operator` take it (see the warning above).
    function deposit(address operator, uint256 amount) external;

    /* OPERATORS */

    /// @notice Adds `amount` (pulled with `transferFrom`) to the caller's settlement bond.
    function depositBond(uint256 amount) external;

    /// @notice Withdraws `amount` of the caller's bond not locked by pending batches to `recipient`.
    function withdrawBond(uint256 amount, address recipient) external;

    /// @notice Sets the caller's price per token of `modelId` for receipts issued from `PRICE_NOTICE` on. Allowed
    /// once the previous change has been in force for `challengeWindow + maxReceiptAge` (so no challengeable receipt
    /// can still need the price it replaces).
    function setPrice(ModelId modelId, uint96 perToken) external;

    /// @notice Commits a batch of `count` receipts (1 to `MAX_BATCH`) signed by the caller's enclave `enclave`,
    /// under `root`, totalling `total`, which is taken from the caller's pool; locks `batchBond` of the caller's
    /// bond until the batch is finalized or cancelled. `dataHash` is only emitted.
    /// @return batchId The new batch's id (ids are 1..`batchCount()`).
    function commitBatch(bytes32 root, uint16 count, uint96 total, address enclave, bytes32 dataHash)
        external
        returns (uint256 batchId);

    /* ANYONE */

    /// @notice Finalizes pending batch `batchId` once its window has passed and every opening request is answered:
    /// credits its operator its total and unlocks its bond.
    function finalize(uint256 batchId) external;

    /// @notice Records `commitment` (`challengeCommitment(msg.sender, ...)`) for a challenge revealed in a later
    /// block.
    function commitChallenge(bytes32 commitment) external;

    /// @notice Proves a fault of one leaf of pending batch `batchId` (faults 1 to 5 of the list above, leaf 0's and
    /// the last leaf's sums), with a commitment of `(msg.sender, batchId, leafHash(leaf), 0, 0)`.
    function challengeReceipt(uint256 batchId, LeafProof calldata leaf) external;

    /// @notice Proves that leaves `a` and `b` (`b.index == a.index + 1`) of pending batch `batchId` do not add up,
    /// with a commitment of `(msg.sender, batchId, leafHash(a), batchId, leafHash(b))`.
    function challengeSum(uint256 batchId, LeafProof calldata a, LeafProof calldata b) external;

    /// @notice Proves that leaf `a` of pending batch `batchId` and leaf `b` of batch `otherId` (the same, at another
    /// index, or another batch of the same operator, not cancelled) have the same payment id, with a commitment of
    /// `(msg.sender, batchId, leafHash(a), otherId, leafHash(b))`.
    function challengeDuplicate(uint256 batchId, LeafProof calldata a, uint256 otherId, LeafProof calldata b) external;

    /// @notice Asks for leaf `index` (below the batch's count) of pending batch `batchId` to be opened, in the first
    /// half of its window, for `openingFee` (pulled from the caller); the batch cannot be finalized until it is.
    function requestOpening(uint256 batchId, uint256 index) external;

    /// @notice Opens a requested leaf (its Merkle proof against the batch's root), by three quarters of the window:
    /// emits `LeafOpened` and credits the caller the request's fee. Opening a leaf of a cancelled batch only pays the
    /// fee.
    function openLeaf(uint256 batchId, LeafProof calldata leaf) external;

    /// @notice Once the opening of leaf `index` of batch `batchId` is overdue: refunds its fee to its requester and,
    /// if the batch is still pending, cancels it with the requester as the challenger (`Fault.Unopened`).
    function slashUnopened(uint256 batchId, uint256 index) external;

    /// @notice The opening request of leaf `index` of batch `batchId` (all zero if none).
    function opening(uint256 batchId, uint256 index) external view returns (Opening memory);

    /// @notice Withdraws all of the caller's balance (an operator's earnings, a challenger's rewards, the treasury's
    /// share) to `recipient`.
    function withdraw(address recipient) external returns (uint256 amount);

    /* VIEWS */

    /// @notice Batch `batchId` (all zero if unknown).
    function batch(uint256 batchId) external view returns (Batch memory);

    /// @notice The number of batches so far.
    function batchCount() external view returns (uint256);

    /// @notice What `operator`'s credit pool holds.
    function creditOf(address operator) external view returns (uint256);

    /// @notice `operator`'s settlement bond and how much of it pending batches lock.
    function bondOf(address operator) external view returns (uint256 bond, uint256 locked);

    /// @notice What `account` can withdraw.
    function balanceOf(address account) external view returns (uint256);

    /// @notice `operator`'s price card of `modelId`.
    function priceCard(address operator, ModelId modelId) external view returns (Price memory);

    /// @notice `operator`'s price per token of `modelId` for a receipt issued at `issuedAt`.
    function priceOf(address operator, ModelId modelId, uint64 issuedAt) external view returns (uint96);

    /// @notice The EIP-712 digest an enclave signs for `receipt`.
    function receiptDigest(Receipt calldata receipt) external view returns (bytes32);

    /// @notice The Merkle leaf of `leaf` (its proof and index ignored).
    function leafHash(LeafProof calldata leaf) external view returns (bytes32);

    /// @notice The commitment of a challenge by `challenger` of batch `batchId` with evidence leaves `leafA` and
    /// (for two-leaf challenges) `leafB` of batch `otherId` (zeros for a one-leaf challenge).
    function challengeCommitment(address challenger, uint256 batchId, bytes32 leafA, uint256 otherId, bytes32 leafB)
        external
        pure
        returns (bytes32);

    /// @notice The block in which `commitment` was committed (zero if not, or used).
    function commitmentBlock(bytes32 commitment) external view returns (uint256);

    /// @notice The parameters.
    function parameters() external view returns (Parameters memory);

    /// @notice The payment and bond token.
    function token() external view returns (IERC20);

    /// @notice The verifier whose enclaves sign receipts and whose EIP-712 domain they are signed under.
    function teeVerifier() external view returns (ITeeVerifier);

    /// @notice The registry whose TEE bindings the receipts' versions must list.
    function registry() external view returns (IModelRegistry);

    /// @notice Receives the part of taken bonds not paid to challengers.
    function treasury() external view returns (address);
}

// Transitional: the one revert decoder is src/core/revert.ts. Removed once the last importers move.
export { asRevertError as asContractError, decodeRevert, formatDecoded, revertDataOf, type CallContext } from "../core/revert";
export { isTransportError } from "../core/transport";

// Transitional names: the SDK's errors are core's (src/core/errors.ts). Removed once the last importers move.
export {
  BaseError as VinError,
  ConfigError,
  InputError,
  KeyError,
  TransportError as RpcError,
  RevertError as ContractError,
  StateError as StoreError,
  ConflictError as InstanceConflictError,
  TimeoutError,
  VerificationError,
  toBaseError as toVinError,
} from "../core/errors";
export { ModelError } from "../node/errors";

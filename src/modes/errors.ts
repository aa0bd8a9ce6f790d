import { UnsupportedError } from "../core/errors";

/**
 * The node does not serve the job's mode: it lacks what the mode needs (an enclave, a circuit loader), so the job
 * can never be computed here and is refused rather than retried.
 */
export class ModeNotServedError extends UnsupportedError {
  override name = "ModeNotServedError";
}

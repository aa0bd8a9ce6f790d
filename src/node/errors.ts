import { NotFoundError } from "../core/errors";

/**
 * The node cannot obtain, check or run a job's model version (missing or mismatching file, a mode it does not
 * serve): the job is refused for good rather than retried.
 */
export class ModelError extends NotFoundError {
  override name = "ModelError";
}

/** The bounded, retried log reader is core's; the SDK exports it under the same name. */
export { DEFAULT_MAX_BLOCK_RANGE, getLogsChunked, type GetLogsParams } from "../core/logs";

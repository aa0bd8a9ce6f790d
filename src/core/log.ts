/**
 * Structured logs: every process logs JSON lines through pino with one shape of call, `log.info({ jobId }, "msg")`.
 * Components take a {@link Logger} rather than creating one, so a host decides where lines go (stdout, a file).
 */
import pino, { type Logger } from "pino";

export type { Logger };

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level. Default `$VIN_LOG_LEVEL` or `info`. */
  level?: string;
  /** File descriptor or path to write to. Default 1 (stdout). */
  destination?: number | string;
}

/** JSON lines, written synchronously so nothing is lost when the process is killed. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.VIN_LOG_LEVEL ?? "info";
  const destination = pino.destination({ dest: options.destination ?? 1, sync: true, mkdir: true });
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** A logger that drops everything (tests, libraries used without a host). */
export const silentLogger: Logger = pino({ level: "silent" });

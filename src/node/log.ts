import pino, { type Logger } from "pino";

export type { Logger };

/** Structured JSON logs on stdout, written synchronously so nothing is lost when the process is killed. */
export function createLogger(level = process.env.VIN_LOG_LEVEL ?? "info"): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 1, sync: true }),
  );
}

/**
 * Fault injection for the fault tests: when `VIN_CRASH_AT` names this point, the process kills itself with
 * SIGKILL right there, as a power cut would. Never set in production.
 */
export function crashPoint(name: string): void {
  if (process.env.VIN_CRASH_AT === name) process.kill(process.pid, "SIGKILL");
}

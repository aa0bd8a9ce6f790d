import { closeSync, existsSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { ConflictError } from "../core/errors";

/** An exclusive lock on a data directory: a file holding the owner's pid, taken over only when that pid is gone. */
export class DataDirLock {
  private constructor(readonly file: string) {}

  /**
   * Takes the lock or throws an ConflictError naming the process that holds it.
   * @example const lock = DataDirLock.acquire(config.dataDir, "daemon"); ... lock.release();
   */
  static acquire(dataDir: string, purpose: string): DataDirLock {
    const file = path.join(dataDir, "vin.lock");
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, "wx");
        writeSync(fd, JSON.stringify({ pid: process.pid, purpose, since: new Date().toISOString() }));
        closeSync(fd);
        return new DataDirLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const holder = readHolder(file);
        if (holder !== undefined && isAlive(holder.pid)) {
          throw new ConflictError(
            `another vin process (pid ${holder.pid}, ${holder.purpose}) holds ${file}: stop it first, or use another data directory with another key`,
          );
        }
        unlinkSync(file); // stale: its owner died
      }
    }
    throw new ConflictError(`could not take the lock ${file}`);
  }

  release(): void {
    if (existsSync(this.file) && readHolder(this.file)?.pid === process.pid) unlinkSync(this.file);
  }
}

function readHolder(file: string): { pid: number; purpose: string } | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as { pid: number; purpose: string };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

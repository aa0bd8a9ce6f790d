import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";
import { DevEnclave } from "../tee/dev-enclave";

/**
 * DEVELOPMENT ONLY: the node's development enclave, its key kept in plain text in the data directory so the same
 * enclave (registered on-chain with its quotes: `vin enclave register`, or the daemon) survives restarts. Proves
 * nothing; see DevEnclave. Inside a TDX guest whose quotes come from configfs-tsm the same key is the TD's, and the
 * data directory must be storage only the TD reads (see enclave-registration.ts).
 */
export function loadDevEnclave(dataDir: string, options: { create?: boolean } = {}): DevEnclave | undefined {
  const file = path.join(dataDir, "dev-enclave.key");
  if (!existsSync(file)) {
    if (!options.create) return undefined;
    writeFileSync(file, `${Wallet.createRandom().privateKey}\n`, { mode: 0o600, flag: "wx" });
  }
  return new DevEnclave(readFileSync(file, "utf8").trim());
}

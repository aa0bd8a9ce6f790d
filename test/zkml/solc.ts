import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** ABI and creation bytecode of one compiled contract. */
export interface CompiledContract {
  abi: unknown[];
  bytecode: string;
}

interface SolcOutput {
  errors?: Array<{ severity: string; formattedMessage: string }>;
  contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
}

interface Solc {
  compile(input: string, callbacks: { import: (path: string) => { contents: string } | { error: string } }): string;
}

/**
 * Compiles Solidity sources with the pinned npm `solc` (same settings as hardhat.config.ts), resolving imports
 * from the repository and node_modules. Used by the ZK tests for generated verifiers and test-only mocks, which
 * are not part of the Hardhat build.
 */
export function compileSolidity(sources: Record<string, string>): Map<string, CompiledContract> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require("solc") as Solc;
  const input = {
    language: "Solidity",
    sources: Object.fromEntries(Object.entries(sources).map(([k, content]) => [k, { content }])),
    settings: {
      optimizer: { enabled: true, runs: 10_000 },
      evmVersion: "cancun",
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const findImport = (path: string): { contents: string } | { error: string } => {
    for (const base of [".", "node_modules"]) {
      const p = join(base, path);
      if (existsSync(p)) return { contents: readFileSync(p, "utf8") };
    }
    return { error: `not found: ${path}` };
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport })) as SolcOutput;
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  const result = new Map<string, CompiledContract>();
  for (const file of Object.values(out.contracts)) {
    for (const [name, c] of Object.entries(file))
      result.set(name, { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object });
  }
  return result;
}

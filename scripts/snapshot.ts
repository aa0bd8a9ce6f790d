/**
 * The committed gas and contract-size snapshots, so that a change in either shows in review (as Uniswap v4-core's
 * `.forge-snapshots` do). `npm run snapshot` measures and writes `snapshots/gas.json` and `snapshots/sizes.json`;
 * `npm run snapshot:check` (part of `npm test`) measures again and fails when anything moved: regenerate and commit
 * the snapshot with the change that moved it, and say why in the commit message. It also fails when a deployable
 * contract exceeds the EIP-170 limit or `JobEscrow` keeps less than 2 KiB of headroom under it.
 *
 * Gas is compared with a tolerance of `GAS_TOLERANCE` per operation: a TEE signature is made with a fresh enclave key
 * each run, and calldata costs 4 gas per zero byte and 16 per other byte.
 *
 * Run: npm run snapshot | npm run snapshot:check
 */
import hre from "hardhat";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { measureGas } from "../bench/lib/gas";

const GAS_TOLERANCE = 200;
const SIZE_LIMIT = 24_576;
const HEADROOM = { contract: "JobEscrow", bytes: 2_048 } as const;
const DIR = path.join(hre.config.paths.root, "snapshots");

type Snapshot = Record<string, number>;

/** Deployed bytecode size of every contract outside contracts/test and contracts/mocks, by name. */
async function measureSizes(): Promise<Snapshot> {
  const sizes: Snapshot = {};
  for (const name of (await hre.artifacts.getAllFullyQualifiedNames()).sort()) {
    if (!name.startsWith("contracts/") || name.startsWith("contracts/test/") || name.startsWith("contracts/mocks/"))
      continue;
    const artifact = await hre.artifacts.readArtifact(name);
    const bytes = (artifact.deployedBytecode.length - 2) / 2;
    if (bytes > 0) sizes[artifact.contractName] = bytes;
  }
  return sizes;
}

function read(file: string): Snapshot {
  if (!existsSync(file))
    throw new Error(`${path.relative(process.cwd(), file)} is missing: run \`npm run snapshot\` and commit it`);
  return JSON.parse(readFileSync(file, "utf8")) as Snapshot;
}

/** Lines describing every key whose value moved by more than `tolerance`, or that appeared or disappeared. */
function compare(kind: string, committed: Snapshot, measured: Snapshot, tolerance: number): string[] {
  const out: string[] = [];
  for (const key of new Set([...Object.keys(committed), ...Object.keys(measured)])) {
    const [before, after] = [committed[key], measured[key]];
    if (before === undefined) out.push(`${kind} ${key}: new (${after})`);
    else if (after === undefined) out.push(`${kind} ${key}: gone (was ${before})`);
    else if (Math.abs(after - before) > tolerance)
      out.push(`${kind} ${key}: ${before} -> ${after} (${after > before ? "+" : ""}${after - before})`);
  }
  return out;
}

function limits(sizes: Snapshot): string[] {
  const out = Object.entries(sizes)
    .filter(([, bytes]) => bytes > SIZE_LIMIT)
    .map(([name, bytes]) => `size ${name}: ${bytes} bytes, above the ${SIZE_LIMIT}-byte limit`);
  const escrow = sizes[HEADROOM.contract];
  if (escrow !== undefined && SIZE_LIMIT - escrow < HEADROOM.bytes) {
    out.push(
      `size ${HEADROOM.contract}: ${escrow} bytes leaves ${SIZE_LIMIT - escrow} of headroom, less than ${HEADROOM.bytes}`,
    );
  }
  return out;
}

async function main(): Promise<void> {
  await hre.run("compile", { quiet: true });
  const sizes = await measureSizes();
  const gas = Object.fromEntries((await measureGas()).map((row) => [row.key, row.value]));
  const files = { gas: path.join(DIR, "gas.json"), sizes: path.join(DIR, "sizes.json") };
  if (process.env.SNAPSHOT === "write") {
    writeFileSync(files.gas, `${JSON.stringify(gas, null, 2)}\n`);
    writeFileSync(files.sizes, `${JSON.stringify(sizes, null, 2)}\n`);
    console.log(`wrote ${path.relative(process.cwd(), files.gas)} and ${path.relative(process.cwd(), files.sizes)}`);
    const problems = limits(sizes);
    if (problems.length > 0) throw new Error(problems.join("\n"));
    return;
  }
  const problems = [
    ...compare("gas", read(files.gas), gas, GAS_TOLERANCE),
    ...compare("size", read(files.sizes), sizes, 0),
    ...limits(sizes),
  ];
  if (problems.length > 0) {
    console.error(
      `the gas or size snapshot moved:\n  ${problems.join("\n  ")}\nif intended, run \`npm run snapshot\` and commit snapshots/ with the change`,
    );
    process.exitCode = 1;
    return;
  }
  console.log(
    `snapshots match: ${Object.keys(gas).length} gas figures (±${GAS_TOLERANCE}), ${Object.keys(sizes).length} contract sizes`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? `error: ${error.message}` : error);
  process.exitCode = 1;
});

#!/usr/bin/env node
/**
 * `vin`: the command line of the verifiable inference network, for operators (init, stake, register, run, claim,
 * status), for dApps (request, job, verify), for local chains (faucet) and for the model hub (publish, pull,
 * search, hub serve). One file per command in commands/, each parsing its flags and calling the layer below.
 * Errors print one line and exit non-zero (see output.ts).
 */
import { Command, CommanderError } from "commander";
import * as agent from "./commands/agent";
import * as audit from "./commands/audit";
import * as chat from "./commands/chat";
import * as claim from "./commands/claim";
import * as enclave from "./commands/enclave";
import * as evaluation from "./commands/eval";
import * as faucet from "./commands/faucet";
import * as feed from "./commands/feed";
import * as hubServe from "./commands/hub-serve";
import * as init from "./commands/init";
import * as job from "./commands/job";
import * as network from "./commands/network";
import * as passes from "./commands/passes";
import * as credit from "./commands/credit";
import * as ipfs from "./commands/ipfs";
import * as pin from "./commands/pin";
import * as publish from "./commands/publish";
import * as pull from "./commands/pull";
import * as receipt from "./commands/receipt";
import * as register from "./commands/register";
import * as relay from "./commands/relay";
import * as request from "./commands/request";
import * as roi from "./commands/roi";
import * as run from "./commands/run";
import * as search from "./commands/search";
import * as stake from "./commands/stake";
import * as subscribe from "./commands/subscribe";
import * as status from "./commands/status";
import * as unstake from "./commands/unstake";
import * as verify from "./commands/verify";
import * as withdraw from "./commands/withdraw";
import type { GlobalOptions } from "./options";
import { reportError } from "./output";

/** Every command, in the order `vin --help` lists them. */
const COMMANDS = [
  init,
  stake,
  unstake,
  withdraw,
  register,
  enclave,
  claim,
  run,
  status,
  request,
  chat,
  agent,
  job,
  verify,
  receipt,
  subscribe,
  feed,
  faucet,
  publish,
  pull,
  pin,
  ipfs,
  search,
  hubServe,
  network,
  roi,
  relay,
  passes,
  credit,
  evaluation,
  audit,
];

export function buildProgram(): Command {
  const program = new Command("vin")
    .description("verifiable inference network: operator node and dApp client")
    .option("-c, --config <file>", "node/client config written by `vin init`", process.env.VIN_CONFIG ?? "vin.json")
    .option("--password-file <file>", "file holding the keystore password (default: $VIN_PASSWORD)")
    .option("--json", "print machine-readable JSON")
    .option("--ipfs-dir <dir>", "embedded IPFS store for publish and pull", process.env.VIN_IPFS_DIR ?? ".vin/ipfs")
    .option(
      "--kubo <url>",
      "use a Kubo node's RPC (e.g. http://127.0.0.1:5001) instead of the embedded store",
      process.env.VIN_KUBO_URL,
    )
    .exitOverride();
  const global = () => program.opts<GlobalOptions>();
  for (const command of COMMANDS) command.register(program, global);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    return reportError(error);
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
    if (code !== 0) process.exit(code);
  });
}

import { task, types } from "hardhat/config";

// Task actions import the deploy code lazily: it needs the TypeChain output, which `compile` creates.

task("deploy-system", "Deploys (or completes) the protocol and writes deployments/<network>.json")
  .addOptionalParam(
    "token",
    "ERC-20 used for fees and stake (required on non-local chains)",
    process.env.TOKEN_ADDRESS,
    types.string,
  )
  .addOptionalParam(
    "treasury",
    "Treasury address (defaults to the timelock)",
    process.env.TREASURY_ADDRESS,
    types.string,
  )
  .addOptionalParam(
    "guardian",
    "Pauser and enclave attestor (defaults to the deployer)",
    process.env.GUARDIAN_ADDRESS,
    types.string,
  )
  .addOptionalParam(
    "governor",
    "Timelock proposer (defaults to the deployer)",
    process.env.GOVERNOR_ADDRESS,
    types.string,
  )
  .addOptionalParam(
    "delay",
    "Timelock delay in seconds",
    process.env.TIMELOCK_DELAY === undefined ? undefined : Number(process.env.TIMELOCK_DELAY),
    types.int,
  )
  .setAction(
    async (args: { token?: string; treasury?: string; guardian?: string; governor?: string; delay?: number }, hre) => {
      await hre.run("compile", { quiet: true });
      const { deploySystem } = await import("../deploy/system");
      const system = await deploySystem(hre, {
        token: args.token,
        treasury: args.treasury,
        guardian: args.guardian,
        governor: args.governor,
        timelockDelay: args.delay,
        persist: true,
        log: (m) => console.log(m),
      });
      console.log(JSON.stringify(system.record, null, 2));
    },
  );

task("verify-system", "Verifies every contract of deployments/<network>.json on the block explorer").setAction(
  async (_args, hre) => {
    const { readFileSync } = await import("node:fs");
    const path = await import("node:path");
    const file = path.join(hre.config.paths.root, "deployments", `${hre.network.name}.json`);
    const record = JSON.parse(readFileSync(file, "utf8")) as {
      contracts: Record<string, { address: string; args: unknown[] }>;
    };
    for (const [name, { address, args }] of Object.entries(record.contracts)) {
      try {
        await hre.run("verify:verify", { address, constructorArguments: args });
        console.log(`verified ${name} at ${address}`);
      } catch (error) {
        console.log(
          `could not verify ${name} at ${address}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  },
);

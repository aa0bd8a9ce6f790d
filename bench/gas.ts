/**
 * Gas per protocol operation, on the in-process Hardhat network, against the targets of the protocol issue.
 * Figures are steady state: the accounts credited already hold a balance (an operator claims after many jobs),
 * except where a row says "cold".
 *
 * Run: npm run bench:gas
 */
import hre from "hardhat";
import { COLLATERAL } from "../test/fixtures/system";
import { measureGas } from "./lib/gas";
import { measureSubscriptionGas } from "./lib/subscription-gas";
import { measurePrivacyGas } from "./lib/privacy-gas";
import { measureDirectoryGas } from "./lib/directory-gas";
import { report } from "./lib/report";

async function main(): Promise<void> {
  const rows = [
    ...(await measureGas()),
    ...(await measureSubscriptionGas()),
    ...(await measurePrivacyGas()),
    ...(await measureDirectoryGas()),
  ];
  const solc = hre.config.solidity.compilers[0];
  const runs = solc?.settings?.optimizer?.runs as number | undefined;
  report(
    "gas",
    `Gas per operation (Hardhat network, solc ${solc?.version ?? "?"}, optimizer ${runs?.toLocaleString("en-US") ?? "?"} runs, collateral ${COLLATERAL / 10n ** 18n} tokens)`,
    rows,
    {
      network: hre.network.name,
    },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

import "@nomicfoundation/hardhat-toolbox";
import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig, NetworksUserConfig } from "hardhat/types";
import "./tasks";

const SOLC_VERSION = "0.8.28";

// The build must never download a compiler: take solc from the pinned npm `solc` package.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD).setAction(async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require("solc") as { version(): string };
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: solc.version(),
  };
});

/** A remote network defined entirely by environment variables (see README, "Deploying"). */
function envNetworks(): NetworksUserConfig {
  const url = process.env.RPC_URL;
  if (url === undefined || url === "") return {};
  const key = process.env.DEPLOYER_KEY;
  return {
    remote: {
      url,
      accounts: key !== undefined && key !== "" ? [key] : [],
      timeout: 60_000,
    },
  };
}

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 500 },
      evmVersion: "cancun",
      viaIR: false,
    },
  },
  networks: {
    hardhat: { enableRip7212: true },
    localhost: { url: process.env.LOCAL_RPC_URL ?? "http://127.0.0.1:8545" },
    ...envNetworks(),
  },
  etherscan: {
    apiKey: process.env.ETHERSCAN_API_KEY ?? "",
  },
  sourcify: { enabled: false },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
  mocha: { timeout: 600_000 },
  gasReporter: { enabled: false },
};

export default config;

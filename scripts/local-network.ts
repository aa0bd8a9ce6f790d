/**
 * The whole network on one machine: a Hardhat JSON-RPC node on 127.0.0.1, the protocol deployed to it, the
 * bundled model published, an operator staked, and one verified inference per mode, printed with its
 * transaction hashes. Then it keeps the chain running until Ctrl-C.
 *
 * Run: npm start   (hardhat run --network localhost scripts/local-network.ts)
 */
import hre from "hardhat";
import type { HttpNetworkConfig } from "hardhat/types";
import { deploySystem } from "../deploy/system";
import { startHardhatNode } from "../src/devnet/chain";
import { runEndToEnd } from "../src/devnet/end-to-end";
import { buildPenguinClassifier } from "../src/models/penguins";
import { publishBundledModel, startLocalHub, type LocalHub } from "../src/hub/local";
import path from "node:path";

const HUB_PORT = Number(process.env.HUB_PORT ?? 8787);

async function main(): Promise<void> {
  if (hre.network.name !== "localhost") throw new Error(`run with --network localhost (got ${hre.network.name})`);
  const port = Number(new URL((hre.network.config as HttpNetworkConfig).url).port || 8545);
  console.log(`starting a Hardhat node on 127.0.0.1:${port} ...`);
  const chain = await startHardhatNode({ port, cwd: hre.config.paths.root });
  let hub: LocalHub | undefined;
  const shutdown = async (code: number) => {
    await hub?.stop();
    await chain.stop();
    process.exit(code);
  };
  process.once("SIGINT", () => void shutdown(0));
  process.once("SIGTERM", () => void shutdown(0));
  try {
    const system = await deploySystem(hre, { persist: true, log: (m) => console.log(`  ${m}`) });
    console.log(`deployed to chain ${system.record.chainId}; addresses in deployments/localhost.json`);
    const [deployer, operator, requester, modelOwner] = await hre.ethers.getSigners();
    const contentStoreDir = path.join(hre.config.paths.root, ".vin", "ipfs");
    const model = buildPenguinClassifier();
    const published = await publishBundledModel({ signer: modelOwner!, registry: system.record.contracts.registry.address, contentStoreDir, model, log: (m) => console.log(`  ${m}`) });
    console.log(`published ${model.name} to the embedded IPFS store (${contentStoreDir}) and the registry as model ${published.modelId}`);
    hub = await startLocalHub({ rpcUrl: chain.url, deployment: system.record, contentStoreDir, port: HUB_PORT });
    console.log(`model hub (search, model pages) at ${hub.url}`);
    const reports = await runEndToEnd(system, { attestor: deployer!, operator: operator!, requester: requester!, modelOwner: modelOwner! }, model, (m) => console.log(`  ${m}`), published);
    console.log("\nverified inferences:");
    for (const r of reports) {
      console.log(`\n  [${r.mode}] job ${r.jobId}: input ${JSON.stringify(r.input)} -> ${r.label} (logits ${r.logits.join(", ")})`);
      console.log(`    output hash ${r.outputHash}`);
      for (const [step, hash] of Object.entries(r.txs)) console.log(`    ${step.padEnd(12)} ${hash}`);
    }
    console.log(`\nthe chain keeps running at ${chain.url} and the hub at ${hub.url}; press Ctrl-C to stop`);
    await new Promise(() => undefined);
  } catch (error) {
    console.error(error instanceof Error ? `error: ${error.message}` : error);
    await shutdown(1);
  }
}

void main();

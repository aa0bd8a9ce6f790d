/**
 * The whole network on one machine: a Hardhat JSON-RPC node on 127.0.0.1, the protocol deployed to it, the
 * bundled model published to an embedded IPFS store and the registry (with its ZK circuit: compiled, set up for
 * development and cached under .cache/zk, verifier deployed), the model hub, four operator daemons (vanilla, TEE,
 * both, ZK), and one verified inference per mode requested as a dApp would and served by the daemons, printed with
 * its transaction hashes. Then everything keeps running until Ctrl-C.
 *
 * Run: npm start   (hardhat run --network localhost scripts/local-network.ts)
 */
import hre from "hardhat";
import path from "node:path";
import { rmSync } from "node:fs";
import { toUtf8Bytes } from "ethers";
import type { HttpNetworkConfig } from "hardhat/types";
import { deploySystem } from "../deploy/system";
import { startHardhatNode } from "../src/devnet/chain";
import { buildPenguinClassifier } from "../src/models/penguins";
import { publishBundledModel, startLocalHub, type LocalHub } from "../src/hub/local";
import { launchOperators } from "../src/node/devnet";
import { addressesFromRecord, connectContracts } from "../src/sdk/contracts";
import { requestInference } from "../src/sdk/requestInference";
import { waitForResult } from "../src/sdk/waitForResult";
import { toJobId, toModelId } from "../src/sdk/jobs";
import { decodeClassification } from "../src/inference/onnx";
import { deployZkModel } from "../src/zkml/deploy";
import { decodeZkOutput } from "../src/zkml/claim";
import { clampToRange } from "../src/models";
import { Mode, MODE_NAMES } from "../src/protocol/modes";

const HUB_PORT = Number(process.env.HUB_PORT ?? 8787);
const TOKEN = 10n ** 18n;

async function main(): Promise<void> {
  if (hre.network.name !== "localhost") throw new Error(`run with --network localhost (got ${hre.network.name})`);
  const root = hre.config.paths.root;
  const port = Number(new URL((hre.network.config as HttpNetworkConfig).url).port || 8545);
  console.log(`starting a Hardhat node on 127.0.0.1:${port} ...`);
  const chain = await startHardhatNode({ port, cwd: root });
  let hub: LocalHub | undefined;
  let nodes: { stop(): Promise<void> } | undefined;
  const shutdown = async (code: number) => {
    await nodes?.stop();
    await hub?.stop();
    await chain.stop();
    process.exit(code);
  };
  process.once("SIGINT", () => void shutdown(0));
  process.once("SIGTERM", () => void shutdown(0));
  try {
    const system = await deploySystem(hre, { persist: true, log: (m) => console.log(`  ${m}`) });
    console.log(`deployed to chain ${system.record.chainId}; addresses in deployments/localhost.json`);
    const [deployer, requester, modelOwner] = await hre.ethers.getSigners();
    const workDir = path.join(root, ".vin");
    rmSync(path.join(workDir, "nodes"), { recursive: true, force: true });
    const contentStoreDir = path.join(workDir, "ipfs");

    const model = buildPenguinClassifier();
    console.log("building the model's ZK circuit (compile, development setup; cached in .cache/zk after the first run) ...");
    const zk = await deployZkModel(deployer!, { onnx: model.onnx, inputRange: model.inputRange, log: (m) => console.log(`  ${m}`) });
    console.log(`  ${zk.zk.nConstraints} constraints, verifier ${zk.verifier}, verifying-key hash ${zk.vkHash}`);
    const published = await publishBundledModel({ signer: modelOwner!, registry: system.record.contracts.registry.address, contentStoreDir, model, zk, log: (m) => console.log(`  ${m}`) });
    console.log(`published ${model.name} (held-out accuracy ${(model.accuracy * 100).toFixed(1)}%) to IPFS and the registry as model ${published.modelId}`);
    hub = await startLocalHub({ rpcUrl: chain.url, deployment: system.record, contentStoreDir, port: HUB_PORT });
    console.log(`model hub at ${hub.url}`);

    const contracts = connectContracts(addressesFromRecord(system.record), deployer!);
    console.log("starting four operator daemons ...");
    nodes = await launchOperators({
      contracts,
      deploymentFile: path.join(root, "deployments", "localhost.json"),
      rpcUrl: chain.url,
      funder: deployer!,
      attestor: deployer!,
      files: [model.onnx, toUtf8Bytes(model.card), ...zk.files.map((f) => f.bytes)],
      workDir: path.join(workDir, "nodes"),
      specs: [
        { name: "vanilla", modes: ["vanilla"] },
        { name: "tee", modes: ["tee"] },
        { name: "dual", modes: ["vanilla", "tee"] },
        { name: "zk", modes: ["zk"] },
      ],
      log: (l) => console.log(`  ${l}`),
    });

    await (await system.token.mint(await requester!.getAddress(), 1_000n * TOKEN)).wait();
    console.log("\nverified inferences (requested by a dApp, served by the daemons):");
    for (const mode of [Mode.Vanilla, Mode.Tee, Mode.Zk]) {
      // ZK: the input is committed (Poseidon, with a random salt) as the circuit commits it, within its input range.
      const input = mode === Mode.Zk ? clampToRange(model.example, model.inputRange) : model.example;
      const requested = await requestInference({
        contracts: connectContracts(addressesFromRecord(system.record), requester!),
        signer: requester!,
        modelId: toModelId(published.modelId),
        mode,
        input,
        feePerNode: TOKEN / 2n,
        collateral: 10n * TOKEN,
        zk: mode === Mode.Zk ? { model: zk.zk.model } : undefined,
      });
      const { job } = requested;
      const result = await waitForResult({ escrow: system.escrow, jobId: toJobId(job.id), timeoutMs: 180_000 });
      if (result.status !== "settled") throw new Error(`job ${job.id} was refunded`);
      const [claimed] = await system.escrow.queryFilter(system.escrow.filters.SlotClaimed(job.id));
      const [settled] = await system.escrow.queryFilter(system.escrow.filters.JobSettled(job.id));
      if (mode === Mode.Zk) {
        const decoded = decodeZkOutput(zk.zk.model, result.output);
        console.log(`\n  [zk] job ${job.id}: input ${JSON.stringify(input)} -> ${model.classes[decoded.classIndex!]} (class ${decoded.classIndex}, proved with Groth16, verified on-chain)`);
      } else {
        const decoded = decodeClassification(Uint8Array.from(Buffer.from(result.output.slice(2), "hex")));
        console.log(`\n  [${MODE_NAMES[mode]}] job ${job.id}: input ${JSON.stringify(input)} -> ${model.classes[decoded.label]} (logits ${decoded.logits.join(", ")})`);
      }
      console.log(`    served by    ${claimed?.args.node ?? "?"}`);
      console.log(`    output hash  ${result.outputHash}`);
      console.log(`    request      ${requested.transactionHash}`);
      console.log(`    claimSlot    ${claimed?.transactionHash ?? "?"}`);
      console.log(`    submit       ${settled?.transactionHash ?? "?"}`);
    }
    console.log(`\nchain ${chain.url}, hub ${hub.url}, four operator daemons (logs and configs in .vin/nodes); Ctrl-C stops everything`);
    await new Promise(() => undefined);
  } catch (error) {
    console.error(error instanceof Error ? `error: ${error.message}` : error);
    await shutdown(1);
  }
}

void main();

/**
 * The whole network on one machine: a Hardhat JSON-RPC node on 127.0.0.1, the protocol deployed to it, the
 * bundled models (penguins, Seattle weather, spam, S&P 500 volatility) published to an embedded IPFS store and the
 * registry, each with its ZK circuit (compiled, set up for development and cached under .cache/zk, verifier
 * deployed), the model hub, four operator daemons (vanilla, TEE, both, ZK), and one verified inference per model and
 * mode requested as a dApp would and served by the daemons, printed with its transaction hashes. Then everything
 * keeps running until Ctrl-C.
 *
 * Run: npm start   (hardhat run --network localhost scripts/local-network.ts)
 */
import hre from "hardhat";
import path from "node:path";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { getBytes, toUtf8Bytes } from "ethers";
import type { HttpNetworkConfig } from "hardhat/types";
import { deploySystem } from "../deploy/system";
import { startHardhatNode } from "../src/devnet/chain";
import { publishBundledModel, startLocalHub, type LocalHub } from "../src/hub/local";
import { launchOperators } from "../src/devnet/operators";
import { addressesFromRecord, connectContracts } from "../src/core/contracts";
import { requestInference } from "../src/sdk/requestInference";
import { waitForResult } from "../src/sdk/waitForResult";
import { toJobId, toModelId } from "../src/sdk/jobs";
import { decodeClassification } from "../src/inference/onnx";
import { deployZkModel, type ZkDeployment } from "../src/zkml/deploy";
import { decodeZkOutput } from "../src/zkml/claim";
import { bundledModels, clampToRange, type AnyBundledModel } from "../src/models";
import { Mode, MODE_NAMES } from "../src/core/modes";
import { createProvider } from "../src/core/provider";
import { fundAccount } from "../src/cli/faucet";

const HUB_PORT = Number(process.env.HUB_PORT ?? 8787);
const TOKEN = 10n ** 18n;

/** The setup size every bundled circuit uses (the largest, the spam classifier's, needs 2^12). */
const ZK_SETUP_POWER = 12;

function quality(model: AnyBundledModel): string {
  return model.kind === "classifier" ? `held-out accuracy ${(model.accuracy * 100).toFixed(1)}%` : `held-out MAE ${model.metrics.mae.toFixed(4)} (${model.metrics.baseline}: ${model.metrics.baselineMae.toFixed(4)})`;
}

function describeInput(input: readonly number[]): string {
  return input.length <= 6 ? JSON.stringify(input.map((v) => Number(v.toPrecision(4)))) : `${input.length} features (${input.filter((v) => v !== 0).length} non-zero)`;
}

function describeOutput(model: AnyBundledModel, mode: Mode, output: string, zk: ZkDeployment): string {
  if (mode === Mode.Zk) {
    const decoded = decodeZkOutput(zk.zk.model, output);
    const answer = model.kind === "classifier" ? model.classes[decoded.classIndex!] : `${decoded.value!.toFixed(4)} ${model.target}`;
    return `${answer} (Groth16 proof verified on-chain)`;
  }
  const decoded = decodeClassification(getBytes(output));
  return model.kind === "classifier" ? `${model.classes[decoded.label]} (logits ${decoded.logits.join(", ")})` : `${decoded.logits[0]} ${model.target}`;
}

interface ClientAccount {
  address: string;
  /** Paths relative to the repository root, as the user pastes them. */
  config: string;
  passwordFile: string;
}

/**
 * A dApp account for the user, made as `vin init` makes one (config and encrypted keystore, the password in a 0600
 * file) and funded by the faucet `vin faucet` uses.
 */
async function createClientAccount(root: string, rpcUrl: string, deploymentFile: string, token: string): Promise<ClientAccount> {
  const [config, passwordFile, dataDir] = [".vin/client.json", ".vin/client.password", ".vin/client"];
  for (const file of [config, passwordFile, dataDir]) rmSync(path.join(root, file), { recursive: true, force: true });
  writeFileSync(path.join(root, passwordFile), `${randomBytes(16).toString("hex")}\n`, { mode: 0o600 });
  const vin = path.join(root, "bin", "vin.js");
  const init = ["--config", config, "--password-file", passwordFile, "--json", "init", "--deployment", deploymentFile, "--rpc-url", rpcUrl, "--data-dir", dataDir, "--content-dir", ".vin/nodes/content"];
  const { stdout } = await promisify(execFile)(process.execPath, [vin, ...init], { cwd: root });
  const { address } = JSON.parse(stdout) as { address: string };
  const provider = createProvider(rpcUrl);
  try {
    await fundAccount({ provider, token, to: address });
  } finally {
    provider.destroy();
  }
  return { address, config, passwordFile };
}

async function main(): Promise<void> {
  if (hre.network.name !== "localhost") throw new Error(`run with --network localhost (got ${hre.network.name})`);
  const started = Date.now();
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

    // Every bundled model, each with its ZK circuit (one 2^12 setup serves them all, and the tests use the same).
    const published: { model: AnyBundledModel; zk: ZkDeployment; modelId: bigint }[] = [];
    for (const model of bundledModels()) {
      console.log(`${model.name}: building its ZK circuit (compile, development setup; cached in .cache/zk after the first run) ...`);
      const zk = await deployZkModel(deployer!, { onnx: model.onnx, inputRange: model.inputRange, minPower: ZK_SETUP_POWER, verifierFactory: system.record.contracts.verifierFactory.address, log: (m) => console.log(`  ${m}`) });
      console.log(`  ${zk.zk.nConstraints} constraints, verifier ${zk.verifier}, verifying-key hash ${zk.vkHash}`);
      const result = await publishBundledModel({ signer: modelOwner!, registry: system.record.contracts.registry.address, contentStoreDir, model, zk, log: (m) => console.log(`  ${m}`) });
      console.log(`published ${model.name} (${quality(model)}) to IPFS and the registry as model ${result.modelId}`);
      published.push({ model, zk, modelId: BigInt(result.modelId) });
    }
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
      files: published.flatMap(({ model, zk }) => [model.onnx, toUtf8Bytes(model.card), ...zk.files.map((f) => f.bytes)]),
      workDir: path.join(workDir, "nodes"),
      specs: [
        { name: "vanilla", modes: ["vanilla"] },
        { name: "tee", modes: ["tee"] },
        { name: "dual", modes: ["vanilla", "tee"] },
        { name: "zk", modes: ["zk"] },
      ],
      log: (l) => console.log(`  ${l}`),
    });

    const client = await createClientAccount(root, chain.url, path.join("deployments", "localhost.json"), system.record.contracts.token.address);
    await (await system.token.mint(await requester!.getAddress(), 1_000n * TOKEN)).wait();
    const dapp = connectContracts(addressesFromRecord(system.record), requester!);
    // One job per model and mode, all requested first (as a busy dApp would), then each result awaited.
    const requests = [];
    for (const entry of published) {
      for (const mode of [Mode.Vanilla, Mode.Tee, Mode.Zk]) {
        // ZK: the input is committed (Poseidon, with a random salt) as the circuit commits it, within its input range.
        const input = mode === Mode.Zk ? clampToRange(entry.model.example, entry.model.inputRange) : entry.model.example;
        const zk = mode === Mode.Zk ? { model: entry.zk.zk.model } : undefined;
        const requested = await requestInference({ contracts: dapp, signer: requester!, modelId: toModelId(entry.modelId), mode, input, feePerNode: TOKEN / 2n, collateral: 10n * TOKEN, zk });
        requests.push({ ...entry, mode, input, requested });
      }
    }
    console.log(`\nverified inferences (${requests.length} jobs requested by a dApp, served by the daemons):`);
    for (const { model, zk, mode, input, requested } of requests) {
      const { job } = requested;
      const result = await waitForResult({ escrow: system.escrow, jobId: toJobId(job.id), timeoutMs: 180_000 });
      if (result.status !== "settled") throw new Error(`job ${job.id} was refunded`);
      const [claimed] = await system.escrow.queryFilter(system.escrow.filters.SlotClaimed(job.id));
      const [settled] = await system.escrow.queryFilter(system.escrow.filters.JobSettled(job.id));
      console.log(`\n  [${MODE_NAMES[mode]}] job ${job.id} ${model.name}: ${describeInput(input)} -> ${describeOutput(model, mode, result.output, zk)}`);
      console.log(`    served by ${claimed?.args.node ?? "?"}; output hash ${result.outputHash}`);
      console.log(`    request ${requested.transactionHash}  claimSlot ${claimed?.transactionHash ?? "?"}  submit ${settled?.transactionHash ?? "?"}`);
    }
    console.log(`\n${requests.length} verified results ${((Date.now() - started) / 1000).toFixed(0)} s after start`);
    console.log(`chain ${chain.url}, hub ${hub.url}, four operator daemons (logs and configs in .vin/nodes); Ctrl-C stops everything`);
    const penguins = published.find((p) => p.model.name.startsWith("penguin")) ?? published[0]!;
    const vin = `npm run vin -- --config ${client.config} --password-file ${client.passwordFile}`;
    console.log(`\nyour first request, from a client account made for you (${client.address}, 10 ETH and 1000 test tokens; run \`npm run vin -- faucet <address>\` to fund another):`);
    console.log(`  ${vin} request --model ${penguins.modelId} --mode tee --input '${JSON.stringify(penguins.model.example)}' --wait`);
    console.log(`then, with the job id it prints:`);
    console.log(`  ${vin} job <id>`);
    console.log(`  ${vin} verify <id>`);
    console.log(`and the model hub: npm run vin -- search penguins, or ${hub.url}/ in a browser`);
    await new Promise(() => undefined);
  } catch (error) {
    console.error(error instanceof Error ? `error: ${error.message}` : error);
    await shutdown(1);
  }
}

void main();

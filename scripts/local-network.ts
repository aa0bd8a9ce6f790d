/**
 * The whole network on one machine: a Hardhat JSON-RPC node on 127.0.0.1, the protocol deployed to it, the
 * bundled models (penguins, Seattle weather, spam, S&P 500 volatility) published to an embedded IPFS store and the
 * registry, each with its ZK circuit (compiled, set up for development and cached under .cache/zk, verifier
 * deployed), the bundled text model (moby-dick-llama, TEE only), the model hub, four operator daemons (vanilla, TEE,
 * both, ZK), and one verified inference per model and mode requested as a dApp would and served by the daemons,
 * printed with its transaction hashes; a private inference through a relay; three agents chatting with the text model
 * through the private path, paid with prepaid credit, their receipts settled in one batch on ReceiptSettlement. Then
 * everything keeps running until Ctrl-C. The network is `startDevnet` (src/devnet/devnet.ts), as the node tests and bench:e2e start it.
 *
 * Run: npm start   (hardhat run --network localhost scripts/local-network.ts)
 */
import hre from "hardhat";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { formatUnits, getBytes } from "ethers";
import type { HttpNetworkConfig } from "hardhat/types";
import { startDevnet, type Devnet } from "../src/devnet/devnet";
import { requestInference } from "../src/sdk/requestInference";
import { waitForResult } from "../src/sdk/waitForResult";
import { privateInference } from "../src/sdk/privateInference";
import { buyGatewayPasses } from "../src/sdk/passes";
import { loadConfig } from "../src/node/config";
import { loadKeystore, readPassword } from "../src/node/keystore";
import { toJobId, toModelId } from "../src/core/ids";
import { decodeClassification } from "../src/inference/onnx";
import type { ZkDeployment } from "../src/zkml/deploy";
import { decodeZkOutput } from "../src/zkml/claim";
import { bundledModels, clampToRange, type AnyBundledModel } from "../src/models";
import { mobyDickLlama } from "../src/models/moby-dick-llama";
import { Mode, MODE_NAMES } from "../src/core/modes";
import { addressesFromRecord, connectContracts } from "../src/core/contracts";
import { renderConcentration } from "../src/economics";
import { networkStats } from "../src/cli/commands/network";
import { startDevnetSubscriptions } from "../src/devnet/subscription";
import { runDevnetEvaluations } from "../src/devnet/evaluations";
import { publisherGoesAway } from "../src/devnet/ipfs";
import { runDevnetAgents, type DevnetAgentsResult, type DevnetPersona } from "../src/devnet/agents";
import { CHAT_DEFAULTS } from "../src/node/config";

const HUB_PORT = Number(process.env.HUB_PORT ?? 8787);
/** The TEE operator's Oblivious HTTP gateway, and the two relays run by accounts that are not operators. */
const GATEWAY_PORT = Number(process.env.GATEWAY_PORT ?? 8443);
/** The client's pass wallet. */
const PASS_WALLET = ".vin/client-passes.json";
const RELAY_PORTS = [Number(process.env.RELAY_PORT ?? 8081), Number(process.env.RELAY_PORT ?? 8081) + 1];
const TOKEN = 10n ** 18n;

/** The TEE operator's chat price per token of the text model (tokens), which its node publishes on ReceiptSettlement. */
const CHAT_PRICE = "0.0001";
/** The agents `npm start` runs through the private path, each {@link AGENT_TURNS} turns. */
const PERSONAS: DevnetPersona[] = [
  {
    name: "ishmael",
    system: "You are Ishmael, a sailor who tells of the sea.",
    messages: ["Call me Ishmael.", "What of the whale?", "Tell me of the ship."],
  },
  {
    name: "starbuck",
    system: "You are Starbuck, the careful mate of the Pequod.",
    messages: ["The captain is mad.", "What say you of oil?", "Shall we turn home?"],
  },
  {
    name: "queequeg",
    system: "You are Queequeg, a harpooneer.",
    messages: ["Where is your harpoon?", "Tell me of your island.", "What is the sea to you?"],
  },
];
const AGENT_TURNS = 3;
/** The most tokens of one answer: the bundled text model's context is 128 tokens. */
const AGENT_MAX_TOKENS = 24;

/** The setup size every bundled circuit uses (the largest, the spam classifier's, needs 2^12). */
const ZK_SETUP_POWER = 12;

function quality(model: AnyBundledModel): string {
  return model.kind === "classifier"
    ? `held-out accuracy ${(model.accuracy * 100).toFixed(1)}%`
    : `held-out MAE ${model.metrics.mae.toFixed(4)} (${model.metrics.baseline}: ${model.metrics.baselineMae.toFixed(4)})`;
}

function textQuality(model: ReturnType<typeof mobyDickLlama>): string {
  const { parameters, heldOutPerplexity, unigramPerplexity } = model.facts;
  return `a ${(parameters / 1000).toFixed(0)}k-parameter toy: held-out perplexity ${heldOutPerplexity.toFixed(1)} per token, unigram ${unigramPerplexity.toFixed(1)}; Moby-Dick-flavoured babble`;
}

function describeInput(input: readonly number[]): string {
  return input.length <= 6
    ? JSON.stringify(input.map((v) => Number(v.toPrecision(4))))
    : `${input.length} features (${input.filter((v) => v !== 0).length} non-zero)`;
}

function describeOutput(model: AnyBundledModel, mode: Mode, output: string, zk: ZkDeployment): string {
  if (mode === Mode.Zk) {
    const decoded = decodeZkOutput(zk.zk.model, output);
    const answer =
      model.kind === "classifier" ? model.classes[decoded.classIndex!] : `${decoded.value!.toFixed(4)} ${model.target}`;
    return `${answer} (Groth16 proof verified on-chain)`;
  }
  const decoded = decodeClassification(getBytes(output));
  return model.kind === "classifier"
    ? `${model.classes[decoded.label]} (logits ${decoded.logits.join(", ")})`
    : `${decoded.logits[0]} ${model.target}`;
}

interface ClientAccount {
  address: string;
  /** Paths relative to the repository root, as the user pastes them. */
  config: string;
  passwordFile: string;
}

/**
 * A dApp account for the user, made as `vin init` makes one (config and encrypted keystore, the password in a 0600
 * file) and funded with 10 ETH and 1000 test tokens, as `vin faucet` funds one.
 */
async function createClientAccount(devnet: Devnet<AnyBundledModel>, root: string): Promise<ClientAccount> {
  const [config, passwordFile, dataDir] = [".vin/client.json", ".vin/client.password", ".vin/client"];
  for (const file of [config, passwordFile, dataDir]) rmSync(path.join(root, file), { recursive: true, force: true });
  const password = randomBytes(16).toString("hex");
  writeFileSync(path.join(root, passwordFile), `${password}\n`, { mode: 0o600 });
  const { address } = await devnet.addClient({
    config: path.join(root, config),
    dataDir: path.join(root, dataDir),
    contentDir: devnet.contentDir,
    password,
    tokens: 1_000n * TOKEN,
    // The publisher's store on this machine, read by `vin verify`/`vin audit` for circuit files.
    settings: { ipfsDir: path.join(root, ".vin", "ipfs") },
  });
  return { address, config, passwordFile };
}

async function main(): Promise<void> {
  if (hre.network.name !== "localhost") throw new Error(`run with --network localhost (got ${hre.network.name})`);
  const started = Date.now();
  const root = hre.config.paths.root;
  const port = Number(new URL((hre.network.config as HttpNetworkConfig).url).port || 8545);
  console.log(`starting a Hardhat node on 127.0.0.1:${port} ...`);
  const workDir = path.join(root, ".vin");
  rmSync(path.join(workDir, "nodes"), { recursive: true, force: true });
  let devnet: Devnet<AnyBundledModel> | undefined;
  const textModel = mobyDickLlama();
  const shutdown = async (code: number) => {
    await devnet?.stop();
    process.exit(code);
  };
  process.once("SIGINT", () => void shutdown(0));
  process.once("SIGTERM", () => void shutdown(0));
  try {
    // Every bundled model, each with its ZK circuit (one 2^12 setup serves them all, and the tests use the same),
    // published to IPFS; four operators (vanilla, TEE, both, ZK) whose daemons log to .vin/nodes/<name>.log.
    devnet = await startDevnet<AnyBundledModel>({
      hre,
      port,
      workDir: path.join(workDir, "nodes"),
      persist: true,
      ipfsDir: path.join(workDir, "ipfs"),
      models: bundledModels().map((model) => ({ model, zk: { minPower: ZK_SETUP_POWER }, summary: quality(model) })),
      // The bundled text model, TEE only: the TEE operator serves it through its chat API.
      textModels: [{ model: textModel, summary: textQuality(textModel) }],
      hub: { port: HUB_PORT },
      // Model files travel over IPFS: the publisher's peer, then the operators' copies (pinned, announced on-chain).
      p2p: true,
      operators: [
        { name: "vanilla", modes: ["vanilla"] },
        {
          name: "tee",
          modes: ["tee"],
          settings: {
            gatewayPort: GATEWAY_PORT,
            passPrice: "0.01",
            // Chat on the text models, paid with credit; the agents' receipts make one batch (or wait 5 s at most).
            chat: {
              ...CHAT_DEFAULTS,
              models: "all",
              pricePerToken: CHAT_PRICE,
              batchMax: PERSONAS.length * AGENT_TURNS,
              batchAgeMs: 5_000,
            },
          },
        },
        { name: "dual", modes: ["vanilla", "tee"] },
        { name: "zk", modes: ["zk"] },
      ],
      settings: { confirmations: 0 },
      log: (line) => console.log(line),
    });
    const { system, requester, models, chain } = devnet;
    const hub = devnet.hub!;

    const client = await createClientAccount(devnet, root);
    await (await system.token.mint(await requester.getAddress(), 1_000n * TOKEN)).wait();
    // One job per model and mode, all requested first (as a busy dApp would), then each result awaited.
    const dapp = connectContracts(addressesFromRecord(system.record), requester);
    const requests = [];
    for (const entry of models) {
      for (const mode of [Mode.Vanilla, Mode.Tee, Mode.Zk]) {
        // ZK: the input is committed (Poseidon, with a random salt) as the circuit commits it, within its input range.
        const input =
          mode === Mode.Zk ? clampToRange(entry.model.example, entry.model.inputRange) : entry.model.example;
        const zk = mode === Mode.Zk ? { model: entry.zk!.zk.model } : undefined;
        const requested = await requestInference({
          contracts: dapp,
          signer: requester,
          modelId: toModelId(entry.modelId),
          mode,
          input,
          feePerNode: TOKEN / 2n,
          collateral: 10n * TOKEN,
          zk,
        });
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
      console.log(
        `\n  [${MODE_NAMES[mode]}] job ${job.id} ${model.name}: ${describeInput(input)} -> ${describeOutput(model, mode, result.output, zk!)}`,
      );
      console.log(`    served by ${claimed?.args.node ?? "?"}; output hash ${result.outputHash}`);
      console.log(
        `    request ${requested.transactionHash}  claimSlot ${claimed?.transactionHash ?? "?"}  submit ${settled?.transactionHash ?? "?"}`,
      );
    }
    await privateRequest(devnet, models.find((p) => p.model.name.startsWith("penguin")) ?? models[0]!, client, root);
    const agents = await chatAgents(devnet, client, root);
    // The network's concentration once its jobs are served, as `vin network stats` prints it.
    console.log(
      `\n${renderConcentration(await networkStats(devnet.contracts, system.record.startBlock, await devnet.provider.getBlockNumber()), { symbol: "tokens" })}`,
    );
    // The publisher goes away: the operators' copies keep every model reachable, for new jobs and pulls.
    console.log("");
    await publisherGoesAway(devnet, { log: (line) => console.log(line) });
    console.log("every job from here on runs without the publisher");
    // Recurring verified inference: the volatility model every 20 s over a live S&P 500 feed, published as feeds.
    await startDevnetSubscriptions(devnet, { log: (line) => console.log(line) });
    // Each model's verified evaluation on its held-out rows, and the risk vault that acts only on verified models.
    for (const line of (await runDevnetEvaluations(devnet, { log: (l) => console.log(l) })).lines) console.log(line);
    console.log(`${requests.length} verified results ${((Date.now() - started) / 1000).toFixed(0)} s after start`);
    console.log(
      `chain ${chain.url}, hub ${hub.url}, four operator daemons and two relays (logs and configs in .vin/nodes); Ctrl-C stops everything`,
    );
    const penguins = models.find((p) => p.model.name.startsWith("penguin")) ?? models[0]!;
    const vin = `npm run vin -- --config ${client.config} --password-file ${client.passwordFile}`;
    console.log(
      `\nyour first request, from a client account made for you (${client.address}, 10 ETH and 1000 test tokens; run \`npm run vin -- faucet <address>\` to fund another):`,
    );
    console.log(
      `  ${vin} request --model ${penguins.modelId} --mode tee --input '${JSON.stringify(penguins.model.example)}' --wait`,
    );
    console.log(`a private one (through a relay to the TEE operator's gateway; nothing on-chain):`);
    console.log(
      `  echo '${JSON.stringify(penguins.model.example)}' | ${vin} chat --model ${penguins.modelId} --passes ${PASS_WALLET}`,
    );
    console.log(`then, with the job id the first prints:`);
    console.log(`  ${vin} job <id>`);
    console.log(`  ${vin} verify <id>`);
    const text = devnet.textModels[0]!;
    console.log(
      `an agent of your own, chatting with ${text.model.name} through the private path with the credit left in ${path.relative(root, agents.files.wallet)}, each receipt checked:`,
    );
    console.log(
      `  ${vin} agent create captain --model ${text.modelId}@1 --system "You are Ahab." --max-tokens ${AGENT_MAX_TOKENS} --context 128`,
    );
    console.log(
      `  ${vin} agent say captain "Where is the white whale?" --gateway ${devnet.operators.find((o) => o.name === "tee")!.address} --credit ${path.relative(root, agents.files.wallet)}`,
    );
    console.log(`  ${vin} agent show captain`);
    console.log(`and a receipt's inclusion in the settled batch ${agents.batch.id}:`);
    console.log(
      `  ${vin} receipt verify ${path.relative(root, agents.files.receipt)} --batch ${agents.batch.id} --data ${path.relative(root, agents.files.batchData)}`,
    );
    console.log(`and the model hub: npm run vin -- search penguins, or ${hub.url}/ in a browser`);
    console.log(`who serves a model's files now (the publisher's peer is gone), and a pull from the operators:`);
    console.log(`  ${vin} ipfs providers ${penguins.modelId}`);
    console.log(`  ${vin} --ipfs-dir .vin/pulled pull ${penguins.modelId} --out .vin/penguins --force`);
    await new Promise(() => undefined);
  } catch (error) {
    console.error(error instanceof Error ? `error: ${error.message}` : error);
    await shutdown(1);
  }
}

/**
 * Two relays run by accounts that are not operators, then one private inference through one of them to the TEE
 * operator's gateway, and what each party saw: the relay an address and sizes, the gateway the content and the
 * relay's address, the client the answer and its enclave-signed receipt.
 */
async function privateRequest(
  devnet: Devnet<AnyBundledModel>,
  entry: Devnet<AnyBundledModel>["models"][number],
  client: ClientAccount,
  root: string,
) {
  const relays = [];
  for (const [i, port] of RELAY_PORTS.entries()) relays.push(await devnet.startRelay(`relay-${i + 1}`, port));
  const tee = devnet.operators.find((o) => o.name === "tee")!;
  const registry = devnet.system.privacyRegistry;
  const deadline = Date.now() + 120_000;
  while ((await registry.gateway(tee.address)).url === "") {
    if (Date.now() > deadline)
      throw new Error(`operator tee did not list its gateway within 2 minutes (see .vin/nodes/tee.log)`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  // The client buys passes on-chain (its address and the count are public) and has them signed blindly.
  const wallet = path.join(root, PASS_WALLET);
  rmSync(wallet, { force: true });
  const signer = (
    await loadKeystore(
      loadConfig(path.join(root, client.config)).keystore,
      readPassword(path.join(root, client.passwordFile)),
    )
  ).connect(devnet.provider);
  const bought = await buyGatewayPasses({
    signer,
    contracts: devnet.contracts,
    operator: tee.address,
    count: 5,
    wallet,
    fromBlock: devnet.system.record.startBlock,
  });
  const chainId = BigInt(devnet.system.record.chainId);
  const version = await devnet.contracts.registry.versionCount(entry.modelId);
  const input = entry.model.example;
  const result = await privateInference({
    contracts: devnet.contracts,
    chainId,
    modelId: BigInt(entry.modelId),
    version,
    input,
    relay: relays[0]!.address,
    passes: { wallet, fromBlock: devnet.system.record.startBlock },
  });
  // Both log the exchange once it is closed, through their output pipes: wait for the lines to reach the files.
  let relayLine: Record<string, unknown> | undefined;
  let gatewayLine: Record<string, unknown> | undefined;
  for (let i = 0; i < 50 && (relayLine === undefined || gatewayLine === undefined); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    relayLine = lastLogLine(relays[0]!.logFile, "ohttp relay request");
    gatewayLine = lastLogLine(path.join(devnet.workDir, "tee.log"), "ohttp gateway request");
  }
  console.log(
    `\nprivate inference (${entry.model.name}, model ${entry.modelId}@${version}) through ${relays[0]!.name} to operator tee's gateway, paid with one of ${bought.tokens} Privacy Pass tokens the client bought (purchase ${bought.purchaseId}, ${formatUnits(bought.cost, 18)} tokens; ${PASS_WALLET}):`,
  );
  console.log(
    `  client:  ${describeInput(input)} -> ${describeOutput(entry.model, Mode.Tee, result.output, entry.zk!)}; receipt signed by enclave ${result.response.enclave}, checked against TeeVerifier`,
  );
  console.log(
    `  relay:   saw this client's address and ${relayLine?.bytesIn ?? "?"} encrypted bytes in, ${relayLine?.bytesOut ?? "?"} out, for ${result.gateway.url} (no content, no payer)`,
  );
  const { method, status, bytesIn, bytesOut, latencyMs } = gatewayLine ?? {};
  console.log(
    `  gateway: saw the model, the input and one unlinkable pass in clear, from the relay's address only; it logged ${JSON.stringify({ method, status, bytesIn, bytesOut, latencyMs })}`,
  );
  console.log(
    `  chain:   the client's purchase of ${bought.tokens} passes (address and count), not which requests they paid; the operator redeems spent passes in batches`,
  );
}

/**
 * A few agents chat with the text model through the private path (relay, then the TEE operator's gateway), paid
 * with prepaid credit; the operator's node settles their receipts in one batch, which the chain finalizes once its
 * clock passes the challenge window. Prints what happened and returns it.
 */
async function chatAgents(
  devnet: Devnet<AnyBundledModel>,
  client: ClientAccount,
  root: string,
): Promise<DevnetAgentsResult> {
  const text = devnet.textModels[0]!;
  const tee = devnet.operators.find((o) => o.name === "tee")!;
  const signer = (
    await loadKeystore(
      loadConfig(path.join(root, client.config)).keystore,
      readPassword(path.join(root, client.passwordFile)),
    )
  ).connect(devnet.provider);
  console.log(
    `\n${PERSONAS.length} agents chat with ${text.model.name} (model ${text.modelId}@1) through a relay to operator tee's gateway, paid with prepaid credit:`,
  );
  const started = Date.now();
  const result = await runDevnetAgents({
    provider: devnet.provider,
    contracts: devnet.contracts,
    modelId: text.modelId,
    operator: tee,
    client: { config: client.config, passwordFile: client.passwordFile, signer },
    personas: PERSONAS,
    turns: AGENT_TURNS,
    maxTokens: AGENT_MAX_TOKENS,
    contextTokens: 128,
    workDir: path.join(root, ".vin", "chat"),
    fromBlock: devnet.system.record.startBlock,
    log: (line) => console.log(line),
  });
  for (const a of result.agents)
    console.log(
      `  ${a.name}: ${a.turns} turns, ${a.receiptsVerified} receipts checked, ${a.promptTokens} + ${a.completionTokens} tokens, first token after ${a.ttftP50Ms ?? "?"} ms (median)`,
    );
  const { batch } = result;
  const gasPerReceipt = (batch.commitGas + batch.finalizeGas) / BigInt(batch.count);
  console.log(
    `  settled: batch ${batch.id} of ${batch.count} receipts, commit ${batch.commitGas} + finalize ${batch.finalizeGas} gas = ${gasPerReceipt} gas per receipt (at ${batch.count} per batch); operator tee paid ${formatUnits(batch.total, 18)} tokens (${formatUnits(result.perToken, 18)} per token), withdrew ${formatUnits(result.withdrawn, 18)}`,
  );
  console.log(
    `  agents ${result.agents.length}, turns ${result.turns}, receipts ${result.receiptsVerified}, batch ${batch.id}, ${gasPerReceipt} gas/receipt, paid ${formatUnits(batch.total, 18)} tokens, in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  return result;
}

/** The last JSON log line of `file` whose message is `msg`. */
function lastLogLine(file: string, msg: string): Record<string, unknown> | undefined {
  const lines = readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.includes(`"msg":"${msg}"`));
  return lines.length === 0 ? undefined : (JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>);
}

void main();

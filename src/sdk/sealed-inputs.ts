/**
 * Which nodes a requester seals a job's input to (src/core/sealed.ts), and with which keys: each node's X25519 key
 * from PrivacyRegistry (`nodeKey`), for a node registered in NodeStaking for the job's mode with the minimum stake;
 * for a mode that runs in an enclave (TEE, dual), the key must also be the HPKE key of an enclave registered to that
 * node in TeeVerifier that may serve the version now (unrevoked, unexpired, measurement unrevoked and bound).
 */
import { getAddress, isAddress, ZeroHash } from "ethers";
import { requirePrivacyRegistry, type Contracts } from "../core/contracts";
import { InputError, NotFoundError } from "../core/errors";
import { getLogsChunked } from "../core/logs";
import { MODE_NAMES, type Mode } from "../core/modes";
import { headBlockNumber } from "../core/provider";
import { withRetry, type RetryOptions } from "../core/retry";
import { MAX_SEALED_RECIPIENTS } from "../core/sealed";
import { modeModule, privateServingRefusal, readEnclave } from "../modes";

/** How many nodes "auto" seals to at most. */
export const AUTO_SEALING_NODES = 8;

/** A node an input may be sealed to. */
export interface SealingNode {
  node: string;
  /** Its X25519 key, as PrivacyRegistry holds it. */
  publicKey: string;
  /** For an enclave mode: the enclave (signing address) whose HPKE key this is. */
  enclave?: string;
}

export interface SealingNodesParams {
  contracts: Pick<Contracts, "privacyRegistry" | "staking" | "teeVerifier" | "registry" | "escrow">;
  mode: Mode;
  modelId: bigint;
  version: bigint;
  /** "auto": the nodes eligible for the mode with a published key (at most `max`); or the nodes to seal to. */
  to: "auto" | readonly string[];
  /** The block to read key and enclave events from (the deployment's start block). Default 0. */
  fromBlock?: number;
  /** Most nodes "auto" picks. Default {@link AUTO_SEALING_NODES}. */
  max?: number;
  retry?: RetryOptions;
}

/**
 * The nodes to seal a job's input to, with their keys. "auto" takes the nodes that published a key (latest first)
 * and may serve the job, up to `max`; a list is checked node by node.
 * @throws NotFoundError when "auto" finds no node with a usable key; InputError naming the node (and why) when a
 *   listed node cannot be sealed to; ConfigError when the deployment has no PrivacyRegistry.
 * @example const nodes = await sealingNodes({ contracts, mode: Mode.Vanilla, modelId: 1n, version: 1n, to: "auto" });
 */
export async function sealingNodes(params: SealingNodesParams): Promise<SealingNode[]> {
  const { to } = params;
  if (to === "auto") {
    const max = Math.min(params.max ?? AUTO_SEALING_NODES, MAX_SEALED_RECIPIENTS);
    const candidates = await keyedNodes(params);
    const nodes: SealingNode[] = [];
    const refusals: string[] = [];
    for (const node of candidates) {
      if (nodes.length >= max) break;
      const checked = await checkNode(params, node);
      if (typeof checked === "string") refusals.push(checked);
      else nodes.push(checked);
    }
    if (nodes.length === 0)
      throw new NotFoundError(
        `no node can take a sealed ${MODE_NAMES[params.mode]} job of model ${params.modelId}@${params.version}: ` +
          (candidates.length === 0
            ? "no node has published a key in PrivacyRegistry (a node publishes one when its daemon starts)"
            : refusals.join("; ")),
      );
    return nodes;
  }
  if (to.length === 0 || to.length > MAX_SEALED_RECIPIENTS)
    throw new InputError(`seal to 1..${MAX_SEALED_RECIPIENTS} nodes, not ${to.length}`);
  const nodes: SealingNode[] = [];
  for (const value of to) {
    if (!isAddress(value)) throw new InputError(`"${value}" is not a node address`);
    const checked = await checkNode(params, getAddress(value));
    if (typeof checked === "string") throw new InputError(`cannot seal the input to ${checked}`);
    if (nodes.some((n) => n.node === checked.node)) throw new InputError(`node ${checked.node} is named twice`);
    nodes.push(checked);
  }
  return nodes;
}

/** Every node that ever published a key, the latest publisher first. */
async function keyedNodes(params: SealingNodesParams): Promise<string[]> {
  const registry = requirePrivacyRegistry(params.contracts);
  const provider = registry.runner!.provider!;
  const toBlock = await headBlockNumber(provider, params.retry);
  const logs = await getLogsChunked(provider, {
    address: await registry.getAddress(),
    topics: [registry.interface.getEvent("NodeKeySet").topicHash],
    fromBlock: params.fromBlock ?? 0,
    toBlock,
    retry: params.retry,
  });
  const nodes = logs.map((log) => getAddress(registry.interface.parseLog(log)!.args.node as string)).reverse();
  return [...new Set(nodes)];
}

/** The node with its key, or why it cannot be sealed to (a sentence naming it). */
async function checkNode(params: SealingNodesParams, node: string): Promise<SealingNode | string> {
  const { contracts, mode, retry } = params;
  const registry = requirePrivacyRegistry(contracts);
  const [publicKey, operator, staking] = await Promise.all([
    withRetry("privacyRegistry.nodeKey", () => registry.nodeKey(node), retry),
    withRetry("staking.operatorOf", () => contracts.staking.operatorOf(node), retry),
    withRetry("staking.parameters", () => contracts.staking.parameters(), retry),
  ]);
  if (publicKey === ZeroHash) return `node ${node}: it has published no key in PrivacyRegistry`;
  if ((Number(operator.capabilities) & (1 << mode)) === 0)
    return `node ${node}: it is not registered for ${MODE_NAMES[mode]} mode`;
  if (operator.staked < staking.minimumStake)
    return `node ${node}: its stake ${operator.staked} is below the minimum ${staking.minimumStake}`;
  if (!modeModule(mode).needs.includes("enclave")) return { node, publicKey };
  const enclave = await enclaveWithKey(params, node, publicKey);
  if (enclave === undefined)
    return `node ${node}: its key ${publicKey} is not the HPKE key of an enclave registered to it in TeeVerifier`;
  const reading = await readEnclave(contracts, enclave, retry);
  const refusal = await privateServingRefusal(
    contracts,
    enclave,
    reading,
    node,
    { modelId: params.modelId, version: params.version },
    retry,
  );
  return refusal === undefined ? { node, publicKey, enclave } : `node ${node}: ${refusal}`;
}

/** The enclave registered to `node` (by quote) whose current HPKE key is `publicKey`, the latest first. */
async function enclaveWithKey(
  params: SealingNodesParams,
  node: string,
  publicKey: string,
): Promise<string | undefined> {
  const { teeVerifier } = params.contracts;
  const provider = teeVerifier.runner!.provider!;
  const toBlock = await headBlockNumber(provider, params.retry);
  const event = teeVerifier.interface.getEvent("EnclaveAttested");
  const logs = await getLogsChunked(provider, {
    address: await teeVerifier.getAddress(),
    topics: teeVerifier.interface.encodeFilterTopics(event, [null, node]),
    fromBlock: params.fromBlock ?? 0,
    toBlock,
    retry: params.retry,
  });
  const signers = logs
    .map((log) => teeVerifier.interface.parseLog(log)!.args)
    .filter((args) => (args.hpkePublicKey as string).toLowerCase() === publicKey.toLowerCase())
    .map((args) => args.signer as string)
    .reverse();
  for (const signer of new Set(signers)) {
    const record = await withRetry("teeVerifier.enclaveOf", () => teeVerifier.enclaveOf(signer), params.retry);
    if (record.operator === node && record.hpkePublicKey.toLowerCase() === publicKey.toLowerCase()) return signer;
  }
  return undefined;
}

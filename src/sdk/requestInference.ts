import {
  formatEther,
  formatUnits,
  getAddress,
  getBytes,
  isAddress,
  keccak256,
  ZeroAddress,
  ZeroHash,
  type Signer,
} from "ethers";
import { isLocalChain } from "../core/chains";
import { InputError as FundsError } from "../core/errors";
import { encodeSaltedInput, requestedJobs } from "../core/job";
import { Mode, MODE_NAMES } from "../core/modes";
import type { Contracts } from "../core/contracts";
import { InputError, BaseError } from "../core/errors";
import { type JobRequest } from "./jobs";
import { type ModelId } from "../core/ids";
import { withRetry } from "../core/retry";
import { asRevertError } from "../core/revert";
import { sealInput } from "../core/sealed";
import { modeModule, type PreparedInput, type RequestInput } from "../modes";
import { sealingNodes } from "./sealed-inputs";

export interface RequestInferenceParams {
  contracts: Contracts;
  signer: Signer;
  modelId: ModelId;
  /** Model version; default: the latest published version. */
  version?: number;
  mode: Mode;
  /** Features of one row; sent inline as JSON. */
  input: number[];
  /** Nodes that must agree (k): odd, 1 to 7 (1 for ZK). Default 1. */
  redundancy?: number;
  feePerNode: bigint;
  collateral: bigint;
  /** Seconds from now to the deadline. Default 600. */
  durationSeconds?: number;
  /** Most to escrow; default the current quote (reverts if the price rises before inclusion). */
  maxTotal?: bigint;
  /**
   * ZK mode: the quantized model the version's circuit computes (from its ONNX file and `zk.json`), so the input can
   * be committed as the circuit commits it; `salt` defaults to a random one. Required for `Mode.Zk`.
   */
  zk?: RequestInput["zk"];
  /**
   * Seals the input (for ZK its input and salt) to nodes' keys so that it never appears in clear on-chain: "auto"
   * (the nodes that may serve the job with a published key, at most 8) or the nodes to seal to. Only those nodes can
   * take the job. See `sealingNodes`.
   */
  encryptTo?: "auto" | readonly string[];
  /** With `encryptTo`: the block to read published keys from (the deployment's start block). Default 0. */
  keysFromBlock?: number;
  /**
   * The node that alone may serve the job (`requestFor`): it settles it with one `submit`, no claim, and no other
   * node can take it. k = 1 only. Nothing is locked or slashed if it does not serve: the job is refunded in full
   * after its deadline. Combine with `encryptTo: [node]` to seal the input to it.
   */
  node?: string;
}

export type RequestInferenceReturnType = JobRequest & {
  total: bigint;
  zkSalt?: bigint;
  /** With `encryptTo`: the nodes the input was sealed to. */
  sealedTo?: string[];
};

/**
 * Requests an inference: quotes the price, checks the signer can pay (ETH for gas, tokens for the quote; an
 * InputError naming what is missing and what to run otherwise), approves the escrow if needed, sends `request` (with
 * `node`: `requestFor`, the job assigned to that node) and returns the job's terms from its `JobRequested` event.
 * @example const { job } = await requestInference({ contracts, signer, modelId: toModelId(1), mode: Mode.Vanilla, input: [39.1, 18.7, 181, 3750], feePerNode: 10n ** 17n, collateral: 10n ** 18n });
 */
export async function requestInference(params: RequestInferenceParams): Promise<RequestInferenceReturnType> {
  const { contracts, signer, modelId, mode } = params;
  const prepared = modeModule(mode).prepareInput({ features: params.input, zk: params.zk });
  const escrow = contracts.escrow.connect(signer);
  const owner = await signer.getAddress();
  const modelCount = await withRetry("registry.modelCount", () => contracts.registry.modelCount());
  if (modelId < 1n || modelId > modelCount)
    throw new InputError(
      `model ${modelId} is not registered (the registry has models 1..${modelCount}): check --model`,
    );
  const version =
    params.version ?? Number(await withRetry("registry.versionCount", () => contracts.registry.versionCount(modelId)));
  const redundancy = params.redundancy ?? 1;
  const node = assignee(params.node, redundancy);
  await checkTerms(contracts, mode, redundancy, params.feePerNode, params.collateral);
  if (node !== undefined) await checkAssignee(contracts, node, mode);
  const [total] = await call("quote", () =>
    contracts.escrow.quote(modelId, version, mode, redundancy, params.feePerNode),
  );
  const escrowAddress = await contracts.escrow.getAddress();
  // Sealed before any transaction: a node without a key is an error, not an approval spent for nothing.
  const sealed =
    params.encryptTo === undefined
      ? undefined
      : await sealRequestInput(params, prepared, { requester: owner, escrow: escrowAddress, version: BigInt(version) });
  const allowance = await checkFunds(contracts, signer, owner, escrowAddress, total);
  if (allowance < total) {
    const tx = await callToken("approve", () => contracts.token.connect(signer).approve(escrowAddress, total));
    await tx.wait();
    const approved = await withRetry("token.allowance", () => contracts.token.allowance(owner, escrowAddress));
    if (approved < total) {
      throw new FundsError(
        `account ${owner} allows the escrow ${escrowAddress} to take ${tokenAmount(approved)}, the job needs ${tokenAmount(total)}, and approve ${tx.hash} did not raise it: approve the escrow for at least that from this account`,
      );
    }
  }
  const latest = await withRetry("eth_getBlock", () => signer.provider!.getBlock("latest"));
  const requestParams = {
    modelId,
    version,
    mode,
    redundancy,
    deadline: BigInt(latest!.timestamp + (params.durationSeconds ?? 600)),
    feePerNode: params.feePerNode,
    collateral: params.collateral,
    maxTotal: params.maxTotal ?? total,
    callback: ZeroAddress,
    callbackGasLimit: 0,
    inputCommitment: sealed?.inputCommitment ?? prepared.inputCommitment,
    input: sealed?.input ?? prepared.input,
    inputUri: "",
  };
  const tx =
    node === undefined
      ? await call("request", () => escrow.request(requestParams))
      : await call("requestFor", () => escrow.requestFor(requestParams, node));
  const receipt = await tx.wait();
  const [requested] = requestedJobs(contracts.escrow, receipt);
  if (requested === undefined || receipt === null)
    throw new BaseError(`request ${tx.hash} emitted no JobRequested event`);
  return {
    ...requested,
    blockNumber: receipt.blockNumber,
    transactionHash: receipt.hash,
    total,
    zkSalt: prepared.salt,
    sealedTo: sealed?.nodes,
  };
}

/**
 * The job's input sealed to the nodes `encryptTo` names (src/core/sealed.ts), bound to the job's terms, with the
 * plaintext's commitment: keccak256 of it when the mode commits to the input itself, else the mode's (ZK: Poseidon).
 * @throws InputError when the envelope is larger than the escrow takes inline.
 */
async function sealRequestInput(
  params: RequestInferenceParams,
  prepared: PreparedInput,
  terms: { requester: string; escrow: string; version: bigint },
): Promise<{ input: Uint8Array; inputCommitment: string; nodes: string[] }> {
  const { contracts, signer, modelId, mode } = params;
  const nodes = await sealingNodes({
    contracts,
    mode,
    modelId,
    version: terms.version,
    to: params.encryptTo!,
    fromBlock: params.keysFromBlock,
  });
  const redundancy = params.redundancy ?? 1;
  if (nodes.length < redundancy)
    throw new InputError(
      `the job needs ${redundancy} nodes and its input can be sealed to ${nodes.length} (${nodes.map((n) => n.node).join(", ")}): only recipients can take it`,
    );
  // A mode that commits to keccak256 of the input gets a salted plaintext: the commitment is public in JobRequested,
  // and an unsalted one would let anyone confirm a guess of the features. (ZK's Poseidon commitment is salted.)
  const plaintext = prepared.inputCommitment === ZeroHash ? encodeSaltedInput(params.input) : getBytes(prepared.input);
  const inputCommitment = prepared.inputCommitment === ZeroHash ? keccak256(plaintext) : prepared.inputCommitment;
  const network = await withRetry("eth_chainId", () => signer.provider!.getNetwork());
  const input = await sealInput({
    plaintext,
    recipients: nodes,
    context: {
      chainId: network.chainId,
      escrow: terms.escrow,
      requester: terms.requester,
      modelId,
      version: terms.version,
      mode,
      commitment: inputCommitment,
    },
  });
  if (input.length > MAX_INLINE_INPUT)
    throw new InputError(
      `the sealed input has ${input.length} bytes, more than the escrow takes inline (${MAX_INLINE_INPUT}): seal it to fewer nodes (${nodes.length} now) or send a smaller input`,
    );
  return { input, inputCommitment, nodes: nodes.map((n) => n.node) };
}

/** Longest inline input the escrow takes (`JobEscrow.MAX_INPUT_BYTES`). */
const MAX_INLINE_INPUT = 16_384;

/** Gas budgeted for `approve` and for `request` (about 110k with a small inline input; a large input costs more). */
const APPROVE_GAS = 60_000n;
const REQUEST_GAS = 300_000n;

const tokenAmount = (wei: bigint): string => `${formatUnits(wei, 18)} tokens`;

/**
 * Refuses, before any transaction, a request the signer cannot pay: too little ETH for the gas of approve and
 * request, or fewer tokens than the quote. Each error names the account, what is missing, how much, and what to run.
 * Returns the escrow's current allowance.
 */
async function checkFunds(
  contracts: Contracts,
  signer: Signer,
  owner: string,
  escrow: string,
  total: bigint,
): Promise<bigint> {
  const provider = signer.provider!;
  const [network, eth, fees, tokens, allowance] = await Promise.all([
    withRetry("eth_chainId", () => provider.getNetwork()),
    withRetry("eth_getBalance", () => provider.getBalance(owner)),
    withRetry("eth_feeData", () => provider.getFeeData()),
    withRetry("token.balanceOf", () => contracts.token.balanceOf(owner)),
    withRetry("token.allowance", () => contracts.token.allowance(owner, escrow)),
  ]);
  const local = isLocalChain(Number(network.chainId));
  const gas = (allowance < total ? APPROVE_GAS : 0n) + REQUEST_GAS;
  const ethNeeded = gas * (fees.maxFeePerGas ?? fees.gasPrice ?? 0n);
  if (eth === 0n || eth < ethNeeded) {
    const fix = local ? `on this local chain run \`vin faucet ${owner}\`` : "send it ETH from a wallet";
    throw new FundsError(
      `account ${owner} holds ${formatEther(eth)} ETH for gas, about ${formatEther(ethNeeded)} ETH is needed to approve and request: ${fix}`,
      { context: { owner, eth, ethNeeded } },
    );
  }
  if (tokens < total) {
    const fix = local
      ? `on this local chain run \`vin faucet ${owner}\``
      : `send it the payment token ${await contracts.token.getAddress()} from a wallet`;
    throw new FundsError(
      `account ${owner} holds ${tokenAmount(tokens)}, the job costs ${tokenAmount(total)} (model fee, node fees and protocol fee): ${fix}`,
      { context: { owner, tokens, total } },
    );
  }
  return allowance;
}

/**
 * A job assigned to a node that cannot serve its mode would only wait for its deadline: refused before anything is
 * sent. Stake that is locked now may be free by the time the node submits, so a shortfall is not refused here.
 */
async function checkAssignee(contracts: Pick<Contracts, "staking">, node: string, mode: Mode): Promise<void> {
  const eligible = await withRetry("staking.isEligible", () => contracts.staking.isEligible(node, mode, 0));
  if (!eligible)
    throw new InputError(
      `node ${node} cannot serve ${MODE_NAMES[mode]} jobs: it is not a staked operator registered for that mode, so the job would only wait for its deadline; name an operator that serves ${MODE_NAMES[mode]} (\`vin network stats\` lists them)`,
    );
}

/** The checksummed node a job is assigned to, or undefined; refused unless a valid nonzero address and k = 1. */
function assignee(node: string | undefined, redundancy: number): string | undefined {
  if (node === undefined) return undefined;
  if (!isAddress(node) || node === ZeroAddress)
    throw new InputError(`node ${node} is not an address: name the operator address of the node to assign the job to`);
  if (redundancy !== 1)
    throw new InputError(
      `a job assigned to one node has redundancy 1, not ${redundancy}: drop the node or the redundancy`,
    );
  return getAddress(node);
}

/** Highest redundancy the escrow accepts (`JobEscrow.MAX_REDUNDANCY`). */
const MAX_REDUNDANCY = 7;

/**
 * Refuses, before any transaction, the terms the escrow would revert on: an even or out-of-range redundancy, a
 * redundant ZK job, or a collateral outside `[minCollateral, feePerNode × maxCollateralRatio]`.
 */
async function checkTerms(
  contracts: Contracts,
  mode: Mode,
  redundancy: number,
  feePerNode: bigint,
  collateral: bigint,
): Promise<void> {
  if (!Number.isInteger(redundancy) || redundancy < 1 || redundancy > MAX_REDUNDANCY || redundancy % 2 === 0) {
    throw new InputError(
      `redundancy ${redundancy} is not allowed: use an odd number of nodes from 1 to ${MAX_REDUNDANCY} (with an even number one node could veto the job by splitting the vote)`,
    );
  }
  const refusal = modeModule(mode).redundancyRefusal(redundancy);
  if (refusal !== undefined) throw new InputError(refusal);
  const p = await withRetry("escrow.parameters", () => contracts.escrow.parameters());
  const max = feePerNode * p.maxCollateralRatio;
  if (collateral < p.minCollateral || collateral > max) {
    throw new InputError(
      `collateral ${tokenAmount(collateral)} is outside what the escrow accepts for a fee of ${tokenAmount(feePerNode)} per node: ` +
        `between ${tokenAmount(p.minCollateral)} and ${tokenAmount(max)} (${p.maxCollateralRatio.toString()} × the fee); lower the collateral or raise the fee`,
    );
  }
}

async function call<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw asRevertError(error, { contract: "escrow", call: name });
  }
}

async function callToken<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw asRevertError(error, { contract: "token", call: name });
  }
}

export { Mode };

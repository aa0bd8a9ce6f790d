/**
 * What an operator does besides serving jobs, as functions over an open {@link OperatorContext}: stake, register the
 * modes it serves, unstake, withdraw thawed stake, withdraw earned fees. Each transaction goes through the node's
 * outbox (signed once, recorded before it is sent) under its ABI function's name. `vin stake`, `vin register`, ...
 * and the devnet call these.
 */
import { formatUnits, type Interface } from "ethers";
import { requirePrivacyRegistry } from "../core/contracts";
import { InputError } from "../core/errors";
import { modeMask, MODE_BY_NAME, type ModeName } from "../core/modes";
import { withRetry } from "../core/retry";
import type { OperatorContext } from "./context";

/** A transaction an operator action sent: its hash, mined with status 1. */
export interface ActionReturnType {
  tx: string;
}

/**
 * Stakes `amount` token wei, approving the staking contract first if its allowance is short.
 * @throws InputError when the operator holds less than `amount`.
 * @example await stakeTokens(ctx, parseUnits("1000", 18));
 */
export async function stakeTokens(
  ctx: OperatorContext,
  amount: bigint,
): Promise<ActionReturnType & { staked: bigint }> {
  const me = ctx.wallet.address;
  const staking = await ctx.contracts.staking.getAddress();
  const balance = await withRetry("token.balanceOf", () => ctx.contracts.token.balanceOf(me));
  if (balance < amount)
    throw new InputError(`operator ${me} holds ${tokens(balance)}, cannot stake ${tokens(amount)}: fund it first`);
  if ((await withRetry("token.allowance", () => ctx.contracts.token.allowance(me, staking))) < amount)
    await sendAndWait(ctx, "token", "approve", [staking, amount]);
  return { staked: amount, tx: await sendAndWait(ctx, "staking", "stake", [amount]) };
}

/** Starts thawing `amount` token wei of stake. */
export async function unstakeTokens(
  ctx: OperatorContext,
  amount: bigint,
): Promise<ActionReturnType & { unstaked: bigint }> {
  return { unstaked: amount, tx: await sendAndWait(ctx, "staking", "unstake", [amount]) };
}

/** Withdraws thawed stake to the operator's address. */
export async function withdrawStake(ctx: OperatorContext): Promise<ActionReturnType> {
  return { tx: await sendAndWait(ctx, "staking", "withdraw", [ctx.wallet.address]) };
}

/**
 * Declares the modes this operator serves (its capabilities in NodeStaking).
 * @example await registerModes(ctx, ["vanilla", "tee"]);
 */
export async function registerModes(
  ctx: OperatorContext,
  modes: readonly ModeName[],
): Promise<ActionReturnType & { modes: readonly ModeName[] }> {
  return { modes, tx: await sendAndWait(ctx, "staking", "register", [modeMask(modes.map((m) => MODE_BY_NAME[m]))]) };
}

/**
 * Withdraws the fees the escrow holds for this operator to its address (`escrow.claim`).
 * @throws InputError when there is nothing to withdraw.
 */
export async function claimFees(ctx: OperatorContext): Promise<ActionReturnType & { claimed: bigint }> {
  const amount = await withRetry("escrow.claimable", () => ctx.contracts.escrow.claimable(ctx.wallet.address));
  if (amount === 0n) throw new InputError(`operator ${ctx.wallet.address} has nothing to claim`);
  return { claimed: amount, tx: await sendAndWait(ctx, "escrow", "claim", [ctx.wallet.address]) };
}

/**
 * Lists (or moves) this operator's Oblivious HTTP gateway in PrivacyRegistry: `url`, served with `enclave`'s HPKE
 * key. Sends nothing when the registry already says so. The enclave must be registered to this operator.
 * @returns the transaction, or undefined when the listing was already current.
 */
export async function publishGateway(
  ctx: OperatorContext,
  enclave: string,
  url: string,
): Promise<ActionReturnType | undefined> {
  const registry = requirePrivacyRegistry(ctx.contracts);
  const listed = await withRetry("privacyRegistry.gateway", () => registry.gateway(ctx.wallet.address));
  if (listed.enclave.toLowerCase() === enclave.toLowerCase() && listed.url === url) return undefined;
  return { tx: await sendAndWait(ctx, "privacyRegistry", "setGateway", [enclave, url]) };
}

async function sendAndWait(
  ctx: OperatorContext,
  contract: "staking" | "escrow" | "token" | "privacyRegistry",
  call: string,
  args: unknown[],
): Promise<string> {
  const target = (contract === "privacyRegistry"
    ? requirePrivacyRegistry(ctx.contracts)
    : ctx.contracts[contract]) as unknown as { interface: Interface; getAddress(): Promise<string> };
  const data = target.interface.encodeFunctionData(call, args);
  const tx = await ctx.sender.send({
    key: `${call}:${Date.now()}`,
    kind: call,
    to: await target.getAddress(),
    data,
    context: { contract, call },
  });
  const receipt = await ctx.sender.wait(tx);
  if (receipt.status !== 1) throw new InputError(`${contract}.${call} reverted in ${receipt.hash}`);
  return receipt.hash;
}

const tokens = (wei: bigint): string => `${formatUnits(wei, 18)} tokens`;

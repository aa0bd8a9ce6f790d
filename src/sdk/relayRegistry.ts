/** A relay's listing in `PrivacyRegistry`: list it with its bond, unlist it, take the bond back after unbonding. */
import { formatUnits, NonceManager, type ContractTransactionResponse, type Signer } from "ethers";
import { requirePrivacyRegistry, type Contracts } from "../core/contracts";
import { InputError } from "../core/errors";
import { withRetry } from "../core/retry";
import { asRevertError } from "../core/revert";

type RegistryContracts = Pick<Contracts, "privacyRegistry" | "token">;

/**
 * Lists the signer's relay at `url`, paying the current bond (approving the registry first when needed).
 * @throws InputError naming what the signer lacks (tokens for the bond); RevertError for a refused listing (a bad
 * URL, already listed).
 * @example await listRelay({ contracts, signer, url: "https://relay.example/" });
 */
export async function listRelay(params: {
  contracts: RegistryContracts;
  signer: Signer;
  url: string;
}): Promise<{ bond: bigint; hash: string }> {
  const { contracts, url } = params;
  // Approve and list back to back: a provider's short result cache would hand both the same nonce.
  const signer = new NonceManager(params.signer);
  const owner = await signer.getAddress();
  const registry = await requirePrivacyRegistry(contracts).getAddress();
  const { relayBond } = await withRetry("privacyRegistry.parameters", () =>
    requirePrivacyRegistry(contracts).parameters(),
  );
  const balance = await withRetry("token.balanceOf", () => contracts.token.balanceOf(owner));
  if (balance < relayBond)
    throw new InputError(
      `account ${owner} holds ${formatUnits(balance, 18)} tokens; listing a relay bonds ${formatUnits(relayBond, 18)}: fund it first`,
    );
  const allowance = await withRetry("token.allowance", () => contracts.token.allowance(owner, registry));
  if (allowance < relayBond)
    await mined("token", "approve", () => contracts.token.connect(signer).approve(registry, relayBond));
  const hash = await mined("privacyRegistry", "listRelay", () =>
    requirePrivacyRegistry(contracts).connect(signer).listRelay(url),
  );
  return { bond: relayBond, hash };
}

/** Unlists the signer's relay; its bond can be withdrawn once the unbonding period has passed. */
export async function unlistRelay(params: {
  contracts: RegistryContracts;
  signer: Signer;
}): Promise<{ hash: string; withdrawableAt: bigint }> {
  const { contracts, signer } = params;
  const hash = await mined("privacyRegistry", "unlistRelay", () =>
    requirePrivacyRegistry(contracts).connect(signer).unlistRelay(),
  );
  const relay = await withRetry("privacyRegistry.relay", () =>
    requirePrivacyRegistry(contracts).relay(signer.getAddress()),
  );
  return { hash, withdrawableAt: relay.withdrawableAt };
}

/** Withdraws the signer's unbonded relay bond to `recipient` (default the signer). */
export async function withdrawRelayBond(params: {
  contracts: RegistryContracts;
  signer: Signer;
  recipient?: string;
}): Promise<{ hash: string }> {
  const { contracts, signer } = params;
  const recipient = params.recipient ?? (await signer.getAddress());
  return {
    hash: await mined("privacyRegistry", "withdrawRelayBond", () =>
      requirePrivacyRegistry(contracts).connect(signer).withdrawRelayBond(recipient),
    ),
  };
}

async function mined(
  contract: string,
  call: string,
  send: () => Promise<ContractTransactionResponse>,
): Promise<string> {
  try {
    const tx = await send();
    await tx.wait();
    return tx.hash;
  } catch (error) {
    throw asRevertError(error, { contract, call });
  }
}

/** Which chains are local development chains, for every process that treats them differently. */

/**
 * Chain ids of local development chains (Hardhat 31337; Ganache and Anvil in development mode 1337): where
 * `vin faucet` funds accounts, where the deploy script may deploy a test token, and where a request short of funds
 * is told to run the faucet.
 */
export const LOCAL_CHAIN_IDS = [31337, 1337] as const;

/**
 * Whether `chainId` is a local development chain.
 * @example isLocalChain((await provider.getNetwork()).chainId) // true on a Hardhat node
 */
export function isLocalChain(chainId: number | bigint): boolean {
  return LOCAL_CHAIN_IDS.some((id) => BigInt(id) === BigInt(chainId));
}

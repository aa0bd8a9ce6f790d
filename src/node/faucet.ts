/**
 * The faucet of a local development chain: gas money from the chain's first unlocked account (Hardhat's account
 * #0) and the deployment's TestToken minted to an address, so a new key can pay for a request. `vin faucet` calls it.
 */
import { getAddress, isAddress, type JsonRpcProvider } from "ethers";
import { isLocalChain, LOCAL_CHAIN_IDS } from "../core/chains";
import { InputError, TransportError } from "../core/errors";
import { TestToken__factory } from "../../typechain-types/factories/contracts/mocks/TestToken__factory";

export interface FundAccountParams {
  /** A provider of the local chain; its first account (`eth_accounts`) must be unlocked and funded. */
  provider: JsonRpcProvider;
  /** The deployment's payment token (TestToken, whose `mint` is open). */
  token: string;
  /** The address to fund. */
  to: string;
  /** Wei of ETH to send for gas. Default 10 ETH. */
  eth?: bigint;
  /** Token units (18 decimals) to mint. Default 1,000 tokens. */
  tokens?: bigint;
}

export interface FundAccountReturnType {
  address: string;
  funder: string;
  eth: bigint;
  tokens: bigint;
  /** Hashes of the ETH transfer and the mint (undefined when the amount was zero). */
  ethTx?: string;
  mintTx?: string;
  /** Balances after funding. */
  balance: { eth: bigint; tokens: bigint };
}

const DEFAULT_ETH = 10n * 10n ** 18n;
const DEFAULT_TOKENS = 1_000n * 10n ** 18n;

/**
 * Funds `to` on a local chain: ETH from the node's first unlocked account, then TestToken minted to it.
 * @throws InputError on a chain that is not local (31337, 1337) or a node without an unlocked account.
 * @example await fundAccount({ provider, token: deployment.contracts.token.address, to: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" });
 */
export async function fundAccount(params: FundAccountParams): Promise<FundAccountReturnType> {
  const { provider } = params;
  if (!isAddress(params.to))
    throw new InputError(`"${params.to}" is not an address: pass a 0x-prefixed 20-byte address`);
  const to = getAddress(params.to);
  const eth = params.eth ?? DEFAULT_ETH;
  const tokens = params.tokens ?? DEFAULT_TOKENS;
  const chainId = await rpc("eth_chainId", async () => Number((await provider.getNetwork()).chainId));
  if (!isLocalChain(chainId)) {
    throw new InputError(
      `chain ${chainId} is not a local development chain (${LOCAL_CHAIN_IDS.join(" or ")}): the faucet only runs there; fund ${to} from a wallet`,
    );
  }
  const accounts = await rpc("eth_accounts", () => provider.send("eth_accounts", []) as Promise<string[]>);
  if (accounts.length === 0)
    throw new InputError(
      `the node serving chain ${chainId} has no unlocked account to pay from: start it with \`npx hardhat node\` (or \`npm start\`)`,
    );
  const funder = await provider.getSigner(accounts[0]);
  let ethTx: string | undefined;
  if (eth > 0n) {
    const tx = await rpc("eth_sendTransaction", () => funder.sendTransaction({ to, value: eth }));
    await tx.wait();
    ethTx = tx.hash;
  }
  const token = TestToken__factory.connect(params.token, funder);
  let mintTx: string | undefined;
  if (tokens > 0n) {
    const tx = await rpc("token.mint", () => token.mint(to, tokens));
    await tx.wait();
    mintTx = tx.hash;
  }
  const balance = { eth: await provider.getBalance(to), tokens: await token.balanceOf(to) };
  return { address: to, funder: getAddress(accounts[0]!), eth, tokens, ethTx, mintTx, balance };
}

async function rpc<T>(call: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    throw new TransportError(`${call} failed on the local chain: is it running (\`npm start\`)?`, { cause });
  }
}

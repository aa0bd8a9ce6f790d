import type { Command } from "commander";
import { isAddress } from "ethers";
import { requireReceiptSettlement } from "../../core/contracts";
import { InputError } from "../../core/errors";
import { loadKeystore, readPassword } from "../../node/keystore";
import { creditKey, DEFAULT_CREDIT_WALLET, depositCredit, issueCredit, listCredit } from "../../sdk/credit";
import { withChain } from "../context";
import { parseAmount, type Globals } from "../options";
import { print, tokens } from "../output";

/**
 * `vin credit`: prepaid chat credit with a TEE node — deposit into its operator's credit pool on ReceiptSettlement
 * and get credit tokens (Privacy Pass, one per chat request, sent in the `vin-payment` header) from the node's
 * issuer; ask again for a deposit's tokens; show the wallet and a pool.
 */
export function register(program: Command, global: Globals): void {
  const credit = program.command("credit").description("prepaid chat credit: deposit, tokens, balance");
  const walletOption = [
    "--wallet <file>",
    "the credit wallet",
    process.env.VIN_CREDIT ?? DEFAULT_CREDIT_WALLET,
  ] as const;

  credit
    .command("deposit")
    .description("deposit --amount into the credit pool of the node at --url and get its credit tokens")
    .requiredOption("--url <url>", "the node's gateway or direct chat URL (it serves /v1/credit/key)")
    .requiredOption("--amount <tokens>", "how much to deposit (e.g. 1 or 0.5); a token is worth the node's tokenValue")
    .option(...walletOption)
    .action(async (opts: { url: string; amount: string; wallet: string }) => {
      const g = global();
      const url = httpUrl(opts.url);
      const amount = parseAmount(opts.amount);
      await withChain(g, async (config, provider, contracts) => {
        const settlement = requireReceiptSettlement(contracts);
        const key = await creditKey(url, { timeoutMs: Math.max(config.rpcTimeoutMs, 30_000) });
        if (key.settlement.toLowerCase() !== (await settlement.getAddress()).toLowerCase())
          throw new InputError(
            `the node at ${url} settles on ${key.settlement}, not this deployment's ReceiptSettlement`,
          );
        if (amount < key.tokenValue)
          throw new InputError(`--amount buys no token: one is worth ${tokens(key.tokenValue)} at ${url}`);
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const { txHash } = await depositCredit({
          signer,
          settlement,
          token: contracts.token,
          operator: key.operator,
          amount,
        });
        const issued = await issueCredit({ signer, url, txHash, wallet: opts.wallet });
        print(
          !!g.json,
          { operator: key.operator, deposit: txHash, amount, tokenValue: key.tokenValue, ...issued },
          () =>
            `deposited ${tokens(amount)} into ${key.operator}'s credit pool (${txHash}); ${issued.tokens} credit tokens of ${tokens(key.tokenValue)} each in ${issued.wallet}` +
            `\nretry the tokens with \`vin credit tokens --url ${url} --tx ${txHash}\` if they did not arrive`,
        );
      });
    });

  credit
    .command("tokens")
    .description("ask the node at --url again for the tokens of a deposit of yours (--tx), after a failed issuance")
    .requiredOption("--url <url>", "the node's gateway or direct chat URL")
    .requiredOption("--tx <hash>", "the deposit transaction")
    .option("--count <n>", "how many tokens (default: all the deposit buys)")
    .option(...walletOption)
    .action(async (opts: { url: string; tx: string; count?: string; wallet: string }) => {
      const g = global();
      const url = httpUrl(opts.url);
      if (!/^0x[0-9a-fA-F]{64}$/.test(opts.tx)) throw new InputError(`--tx "${opts.tx}" is not a transaction hash`);
      if (opts.count !== undefined && !/^[1-9]\d{0,3}$/.test(opts.count))
        throw new InputError(`--count must be an integer from 1 to 1024, got "${opts.count}"`);
      await withChain(g, async (config, provider) => {
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const issued = await issueCredit({
          signer,
          url,
          txHash: opts.tx,
          wallet: opts.wallet,
          ...(opts.count === undefined ? {} : { count: Number(opts.count) }),
        });
        print(!!g.json, issued, () => `${issued.tokens} credit tokens of deposit ${opts.tx} added to ${issued.wallet}`);
      });
    });

  credit
    .command("balance")
    .description("the credit tokens in the wallet and, with --operator, what its credit pool holds")
    .option("--operator <address>", "an operator whose pool to read")
    .option(...walletOption)
    .action(async (opts: { operator?: string; wallet: string }) => {
      const g = global();
      const held = listCredit(opts.wallet);
      const lines = () =>
        held.length === 0
          ? [`no credit tokens in ${opts.wallet}`]
          : [`credit tokens in ${opts.wallet}:`, ...held.map((p) => `  ${p.count}  ${p.keyId}  ${p.issuerName}`)];
      if (opts.operator === undefined)
        return print(!!g.json, { wallet: opts.wallet, tokens: held }, () => lines().join("\n"));
      if (!isAddress(opts.operator)) throw new InputError(`--operator "${opts.operator}" is not an address`);
      await withChain(g, async (_config, _provider, contracts) => {
        const pool = await requireReceiptSettlement(contracts).creditOf(opts.operator!);
        print(!!g.json, { wallet: opts.wallet, tokens: held, operator: opts.operator, pool }, () =>
          [...lines(), `${opts.operator}'s credit pool holds ${tokens(pool)}`].join("\n"),
        );
      });
    });
}

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new InputError(`--url "${value}" is not a URL`, { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new InputError(`--url "${value}" must be an http:// or https:// URL`);
  return url.toString();
}

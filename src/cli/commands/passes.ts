import type { Command } from "commander";
import { InputError } from "../../core/errors";
import { loadKeystore, readPassword } from "../../node/keystore";
import type { Hex } from "../../privacypass";
import { buyPasses, DEFAULT_PASS_WALLET, issuePasses, listPasses } from "../../sdk/passes";
import { withChain } from "../context";
import type { Globals } from "../options";
import { print, tokens } from "../output";

/**
 * `vin passes`: Privacy Pass tokens that pay private requests without naming the payer — buy a batch on-chain from an
 * operator's issuer key and have it signed blindly (kept in a wallet file), retry the issuance of a purchase, and
 * list what the wallet holds.
 */
export function register(program: Command, global: Globals): void {
  const passes = program.command("passes").description("Privacy Pass tokens for private requests");
  const walletOption = ["--wallet <file>", "the pass wallet", process.env.VIN_PASSES ?? DEFAULT_PASS_WALLET] as const;

  passes
    .command("buy")
    .description("buy --count passes of issuer key --issuer, signed blindly by the issuer at --issuer-url")
    .requiredOption("--issuer <keyId>", "the issuer key id (bytes32 hex, as PrivacyPassEscrow records it)")
    .requiredOption("--count <n>", "how many passes (1..1024)")
    .requiredOption("--issuer-url <url>", "the issuer's URL, as its operator publishes it")
    .option(...walletOption)
    .action(async (opts: { issuer: string; count: string; issuerUrl: string; wallet: string }) => {
      const g = global();
      const keyId = bytes32("--issuer", opts.issuer);
      const count = integer("--count", opts.count, 1, 1_024);
      const issuerUrl = httpUrl("--issuer-url", opts.issuerUrl);
      await withChain(g, async (config, provider, contracts) => {
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const bought = await buyPasses({
          signer,
          contracts,
          keyId,
          count,
          issuerUrl,
          wallet: opts.wallet,
          fromBlock: config.contracts.startBlock,
          timeoutMs: Math.max(config.rpcTimeoutMs, 30_000),
        });
        print(
          !!g.json,
          { ...bought, purchaseId: bought.purchaseId.toString(), cost: bought.cost.toString() },
          () =>
            `bought ${bought.tokens} passes of ${keyId} for ${tokens(bought.cost)} (purchase ${bought.purchaseId}, ${bought.tx}); in ${bought.wallet}`,
        );
      });
    });

  passes
    .command("issue")
    .description("ask the issuer again to sign the passes of a purchase of yours (after a failed issuance)")
    .requiredOption("--purchase <id>", "the purchase id")
    .requiredOption("--issuer-url <url>", "the issuer's URL")
    .option(...walletOption)
    .action(async (opts: { purchase: string; issuerUrl: string; wallet: string }) => {
      const g = global();
      if (!/^[1-9]\d{0,18}$/.test(opts.purchase))
        throw new InputError(`--purchase "${opts.purchase}" is not a purchase id`);
      const issuerUrl = httpUrl("--issuer-url", opts.issuerUrl);
      await withChain(g, async (config, provider, contracts) => {
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const issued = await issuePasses({
          signer,
          contracts,
          purchaseId: BigInt(opts.purchase),
          issuerUrl,
          wallet: opts.wallet,
          fromBlock: config.contracts.startBlock,
        });
        print(!!g.json, issued, () => `${issued.tokens} passes of purchase ${opts.purchase} added to ${issued.wallet}`);
      });
    });

  passes
    .command("list")
    .description("the unspent passes in the wallet, per issuer key")
    .option(...walletOption)
    .action((opts: { wallet: string }) => {
      const g = global();
      const held = listPasses(opts.wallet);
      print(!!g.json, { wallet: opts.wallet, passes: held }, () =>
        held.length === 0
          ? `no passes in ${opts.wallet}`
          : [`passes in ${opts.wallet}:`, ...held.map((p) => `  ${p.count}  ${p.keyId}  ${p.issuerName}`)].join("\n"),
      );
    });
}

function bytes32(option: string, value: string): Hex {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) throw new InputError(`${option} "${value}" is not a 32-byte hex key id`);
  return value.toLowerCase() as Hex;
}

function integer(option: string, value: string, min: number, max: number): number {
  if (!/^\d{1,7}$/.test(value) || Number(value) < min || Number(value) > max)
    throw new InputError(`${option} must be an integer from ${min} to ${max}, got "${value}"`);
  return Number(value);
}

function httpUrl(option: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new InputError(`${option} "${value}" is not a URL`, { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new InputError(`${option} "${value}" must be an http:// or https:// URL`);
  return url.toString();
}

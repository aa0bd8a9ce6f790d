import type { Command } from "commander";
import { isAddress } from "ethers";
import { InputError } from "../../core/errors";
import { loadKeystore, readPassword } from "../../node/keystore";
import type { Hex } from "../../privacypass";
import { buyGatewayPasses, buyPasses, DEFAULT_PASS_WALLET, issuePasses, listPasses } from "../../sdk/passes";
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
    .description(
      "buy --count passes of an operator's gateway (--operator), or of issuer key --issuer signed at --issuer-url",
    )
    .option("--operator <address>", "the gateway operator: its issuer key and issuance URL are read from the chain")
    .option("--issuer <keyId>", "the issuer key id (bytes32 hex, as PrivacyPassEscrow records it)")
    .requiredOption("--count <n>", "how many passes (1..1024)")
    .option("--issuer-url <url>", "with --issuer: the issuer's URL")
    .option(...walletOption)
    .action(async (opts: { operator?: string; issuer?: string; count: string; issuerUrl?: string; wallet: string }) => {
      const g = global();
      if ((opts.operator === undefined) === (opts.issuer === undefined))
        throw new InputError("give either --operator <gateway operator> or --issuer <keyId> with --issuer-url <url>");
      if (opts.operator !== undefined && !isAddress(opts.operator))
        throw new InputError(`--operator "${opts.operator}" is not an address (see \`vin relay list\` for gateways)`);
      if (opts.issuer !== undefined && opts.issuerUrl === undefined)
        throw new InputError("--issuer needs --issuer-url <url> (or use --operator <address>)");
      const count = integer("--count", opts.count, 1, 1_024);
      await withChain(g, async (config, provider, contracts) => {
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const common = {
          signer,
          contracts,
          count,
          wallet: opts.wallet,
          fromBlock: config.contracts.startBlock,
          timeoutMs: Math.max(config.rpcTimeoutMs, 30_000),
        };
        const bought =
          opts.operator !== undefined
            ? await buyGatewayPasses({ ...common, operator: opts.operator })
            : {
                ...(await buyPasses({
                  ...common,
                  keyId: bytes32("--issuer", opts.issuer!),
                  issuerUrl: httpUrl("--issuer-url", opts.issuerUrl!),
                })),
                keyId: opts.issuer!,
              };
        print(
          !!g.json,
          { ...bought, purchaseId: bought.purchaseId.toString(), cost: bought.cost.toString() },
          () =>
            `bought ${bought.tokens} passes of ${bought.keyId} for ${tokens(bought.cost)} (purchase ${bought.purchaseId}, ${bought.tx}); in ${bought.wallet}` +
            ("otherBuyers" in bought
              ? bought.otherBuyers === 0
                ? "\nwarning: nobody else has bought passes of this key yet, so the gateway can tell that your requests are yours until others do"
                : `\n${bought.otherBuyers} other buyer(s) hold passes of this key: your requests hide among theirs`
              : ""),
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

import type { Command } from "commander";
import { getAddress, isAddress } from "ethers";
import { InputError } from "../../core/errors";
import { createLogger } from "../../core/log";
import { loadKeystore, readPassword } from "../../node/keystore";
import { listGateways, listRelays } from "../../sdk/privateInference";
import { listRelay, unlistRelay, withdrawRelayBond } from "../../sdk/relayRegistry";
import { startRelayService } from "../../sdk/relayService";
import { withChain } from "../context";
import type { Globals } from "../options";
import { print } from "../output";

/**
 * `vin relay`: an Oblivious HTTP relay for parties who are not operators — serve it, list it on-chain with a bond,
 * unlist it, withdraw the bond — and the relays and gateways the chain lists.
 */
export function register(program: Command, global: Globals): void {
  const relay = program.command("relay").description("Oblivious HTTP relays of the private path");

  relay
    .command("serve")
    .description("forward encapsulated requests to the gateways PrivacyRegistry lists, until Ctrl-C")
    .option("--port <port>", "HTTP port", "8081")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--rate <n>", "global limit, requests per second (all clients together)")
    .option(
      "--allow-private-gateways",
      "forward to listed gateways on loopback or private addresses (local devnets only: otherwise a listed URL could reach into this host's network)",
    )
    .action(async (opts: { port: string; host: string; rate?: string; allowPrivateGateways?: boolean }) => {
      const g = global();
      const port = integer("--port", opts.port, 65_535);
      const rate = opts.rate === undefined ? undefined : integer("--rate", opts.rate, 1_000_000);
      await withChain(g, async (config, _provider, contracts) => {
        const logger = createLogger();
        const running = await startRelayService({
          contracts,
          host: opts.host,
          port,
          logger,
          ...(rate === undefined ? {} : { ratePerSecond: rate }),
          allowPrivateGateways: opts.allowPrivateGateways === true,
          retry: { timeoutMs: config.rpcTimeoutMs },
        });
        logger.info({ url: running.url }, "relay listening");
        print(
          !!g.json,
          { url: running.url },
          () => `relay at ${running.url} (Ctrl-C to stop); list it with \`vin relay register --url <public url>\``,
        );
        await new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
        await running.close();
      });
    });

  relay
    .command("register")
    .description("list your relay in PrivacyRegistry at --url, paying the bond")
    .requiredOption("--url <url>", "the relay's public URL (http:// or https://)")
    .action(async (opts: { url: string }) => {
      const g = global();
      const url = httpUrl(opts.url);
      await withChain(g, async (config, provider, contracts) => {
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const { bond, hash } = await listRelay({ contracts, signer, url });
        print(
          !!g.json,
          { relay: signer.address, url, bond, tx: hash },
          () => `relay ${signer.address} listed at ${url} (bond ${bond} wei, ${hash})`,
        );
      });
    });

  relay
    .command("unlist")
    .description("remove your relay from PrivacyRegistry; the bond can be withdrawn after the unbonding period")
    .action(async () => {
      const g = global();
      await withChain(g, async (config, provider, contracts) => {
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const { hash, withdrawableAt } = await unlistRelay({ contracts, signer });
        print(
          !!g.json,
          { relay: signer.address, withdrawableAt, tx: hash },
          () =>
            `relay ${signer.address} unlisted (${hash}); bond withdrawable from ${new Date(Number(withdrawableAt) * 1000).toISOString()}`,
        );
      });
    });

  relay
    .command("withdraw")
    .description("withdraw your unlisted relay's bond once unbonded")
    .option("--to <address>", "recipient (default: your account)")
    .action(async (opts: { to?: string }) => {
      const g = global();
      if (opts.to !== undefined && !isAddress(opts.to)) throw new InputError(`--to "${opts.to}" is not an address`);
      await withChain(g, async (config, provider, contracts) => {
        const signer = (await loadKeystore(config.keystore, readPassword(g.passwordFile))).connect(provider);
        const { hash } = await withdrawRelayBond({
          contracts,
          signer,
          ...(opts.to === undefined ? {} : { recipient: getAddress(opts.to) }),
        });
        print(!!g.json, { tx: hash }, () => `bond withdrawn (${hash})`);
      });
    });

  relay
    .command("list")
    .description("the relays and gateways PrivacyRegistry lists")
    .action(async () => {
      const g = global();
      await withChain(g, async (config, _provider, contracts) => {
        const retry = { timeoutMs: config.rpcTimeoutMs };
        const [relays, gateways] = await Promise.all([listRelays(contracts, retry), listGateways(contracts, retry)]);
        print(!!g.json, { relays, gateways }, () =>
          [
            `relays (${relays.length}):`,
            ...relays.map((r) => `  ${r.address}  ${r.url}`),
            `gateways (${gateways.length}):`,
            ...gateways.map((gw) => `  operator ${gw.operator}  enclave ${gw.enclave}  ${gw.url}`),
          ].join("\n"),
        );
      });
    });
}

function integer(option: string, value: string, max: number): number {
  if (!/^\d{1,7}$/.test(value) || Number(value) > max)
    throw new InputError(`${option} must be an integer from 0 to ${max}, got "${value}"`);
  return Number(value);
}

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new InputError(`--url "${value}" is not a URL: give the relay's public http:// or https:// URL`, { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new InputError(`--url "${value}" must be http:// or https://`);
  return url.href;
}

/**
 * Providers from the chain: the operators that announce in `ProviderDirectory` the libp2p multiaddrs where they serve
 * content, read as core's {@link Provider}s. An announcement is a claim of availability only (every block fetched
 * is checked against its CID), so a reader keeps what it can dial and drops the rest: operators no longer staked
 * (the directory lists them until someone prunes them) and addresses that are not `/ip4|ip6|dns|dns4|dns6/<host>/tcp/
 * <port>/p2p/<peer id>` (the contract checks only their shape), and, unless allowed, addresses of private hosts. A
 * small parser does this here, so that core does not load libp2p.
 */
import { isIPv4, isIPv6 } from "node:net";
import { getAddress } from "ethers";
import type { Provider, ProviderSource } from "./content";
import { requireProviderDirectory, type Contracts } from "./contracts";
import { silentLogger, type Logger } from "./log";
import { isPrivateHost } from "./net";
import { withRetry } from "./retry";

/** Options of {@link readProviders}. */
export interface ReadProvidersOptions {
  /** Operators to leave out, e.g. the reader's own address (any case). */
  exclude?: string[];
  /** Time limit of each view call, in ms. Default 10 s. */
  timeoutMs?: number;
  /** Attempts per view call (transport failures and timeouts only). Default 3. */
  attempts?: number;
  /** View calls in flight at once. Default 8. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Where skipped operators and rejected addresses are logged (warn), with the reason. */
  log?: Logger;
  /**
   * Keep addresses whose host is, or resolves to, a loopback, private or link-local address (core/net). Default
   * false: an operator must not be able to aim every reader at services on the reader's own host or network. For
   * devnets, where every peer listens on 127.0.0.1.
   */
  allowPrivate?: boolean;
}

/** Options of {@link providerSource}: {@link ReadProvidersOptions} and how long a read is reused. */
export interface ProviderSourceOptions extends ReadProvidersOptions {
  /** How long one read of the directory is reused, in ms; 0 reads it on every call. */
  ttlMs: number;
}

/** What {@link parseProviderAddress} makes of one announced address. */
export type ParsedProviderAddress =
  { ok: true; host: string; port: number; peerId: string } | { ok: false; reason: string };

const HOSTS = new Set(["ip4", "ip6", "dns", "dns4", "dns6"]);
/** A DNS name (RFC 1123 labels), at most 253 characters. */
const DNS_NAME = /^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$/;
/** A peer id as text: base58btc multihash (`Qm…`, `12D3KooW…`, `16Uiu2…`) or a base32 CIDv1 (`b…`). */
const PEER_ID = /^([1-9A-HJ-NP-Za-km-z]{32,128}|b[a-z2-7]{32,128})$/;

/**
 * Checks that `text` is a multiaddr a reader can dial: `/<ip4|ip6|dns|dns4|dns6>/<host>/tcp/<port>/p2p/<peer id>`
 * and nothing more (TCP is the only transport the content peers dial). Never throws; the reason names the first
 * part that is wrong.
 * @example parseProviderAddress("/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…") // { ok: true, host, port: 4001, peerId }
 */
export function parseProviderAddress(text: string): ParsedProviderAddress {
  const fail = (reason: string): ParsedProviderAddress => ({ ok: false, reason });
  if (!text.startsWith("/")) return fail("does not start with /");
  const [protocol = "", host, tcp, port, p2p, peerId, ...rest] = text.slice(1).split("/");
  if (!HOSTS.has(protocol)) return fail(`starts with /${protocol}, not /ip4, /ip6, /dns, /dns4 or /dns6`);
  if (host === undefined) return fail(`has no host after /${protocol}`);
  if (protocol === "ip4" && !isIPv4(host)) return fail(`"${host}" is not an IPv4 address`);
  if (protocol === "ip6" && !isIPv6(host)) return fail(`"${host}" is not an IPv6 address`);
  if (protocol.startsWith("dns") && !DNS_NAME.test(host)) return fail(`"${host}" is not a DNS name`);
  if (tcp !== "tcp") return fail(`has ${tcp === undefined ? "nothing" : `/${tcp}`} where /tcp/<port> belongs`);
  if (port === undefined || !/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65_535)
    return fail(`"${port ?? ""}" is not a TCP port (1-65535)`);
  if (p2p !== "p2p") return fail(`has ${p2p === undefined ? "nothing" : `/${p2p}`} where /p2p/<peer id> belongs`);
  if (peerId === undefined || !PEER_ID.test(peerId)) return fail(`"${peerId ?? ""}" is not a peer id`);
  if (rest.length > 0) return fail(`has /${rest.join("/")} after the peer id`);
  return { ok: true, host, port: Number(port), peerId };
}

/**
 * The providers the chain announces now: every operator listed in the deployment's `ProviderDirectory` that is
 * still staked (`isStakedOperator`), with the announced addresses a reader can dial (deduplicated, in the announced
 * order), labelled by its checksummed address. Operators left with no address are dropped; every drop is logged with
 * its reason.
 * @throws ConfigError when `contracts` has no provider directory; TransportError or TimeoutError when the chain does
 * not answer.
 * @example const providers = await readProviders(contracts, { exclude: [myOperatorAddress], log });
 */
export async function readProviders(
  contracts: Pick<Contracts, "providerDirectory">,
  options: ReadProvidersOptions = {},
): Promise<Provider[]> {
  const directory = requireProviderDirectory(contracts);
  const log = options.log ?? silentLogger;
  const retry = { timeoutMs: options.timeoutMs ?? 10_000, attempts: options.attempts ?? 3, signal: options.signal };
  const exclude = new Set((options.exclude ?? []).map((a) => a.toLowerCase()));
  const operators = (await withRetry("providerDirectory.providers", () => directory.providers(), retry)).filter(
    (operator) => !exclude.has(operator.toLowerCase()),
  );
  const read = async (operator: string): Promise<Provider | undefined> => {
    const label = getAddress(operator);
    const staked = await withRetry(
      `providerDirectory.isStakedOperator(${label})`,
      () => directory.isStakedOperator(operator),
      retry,
    );
    if (!staked) {
      log.warn({ operator: label }, "provider skipped: the operator is no longer staked");
      return undefined;
    }
    const announced = await withRetry(
      `providerDirectory.addressesOf(${label})`,
      () => directory.addressesOf(operator),
      retry,
    );
    const multiaddrs: string[] = [];
    for (const address of announced) {
      const parsed = parseProviderAddress(address);
      if (!parsed.ok) log.warn({ operator: label, address }, `provider address ignored: it ${parsed.reason}`);
      else if (options.allowPrivate !== true && (await isPrivateHost(parsed.host)))
        log.warn(
          { operator: label, address },
          `provider address ignored: its host ${parsed.host} is a loopback, private or link-local address (or does not resolve); readers dial those only when allowed (ipfsAllowPrivate, for devnets)`,
        );
      else if (!multiaddrs.includes(address)) multiaddrs.push(address);
    }
    if (multiaddrs.length === 0) {
      log.warn({ operator: label }, "provider skipped: none of its announced addresses can be dialled");
      return undefined;
    }
    return { multiaddrs, label };
  };
  const found = await mapConcurrently(operators, options.concurrency ?? 8, read);
  return found.filter((p): p is Provider => p !== undefined);
}

/**
 * A {@link ProviderSource} over {@link readProviders} that reuses one read for `ttlMs`; calls made while a read is
 * in flight share it. When a later read fails, the last good list is served (and the failure logged) until one
 * succeeds; with no good list yet, the failure is thrown.
 * @throws ConfigError at once when `contracts` has no provider directory (check `contracts.providerDirectory` first
 * where it is optional).
 * @example const store = await PeerContentStore.open({ dir, providers: providerSource(contracts, { ttlMs: 60_000 }) });
 */
export function providerSource(
  contracts: Pick<Contracts, "providerDirectory">,
  options: ProviderSourceOptions,
): ProviderSource {
  requireProviderDirectory(contracts);
  const log = options.log ?? silentLogger;
  let cached: { providers: Provider[]; at: number } | undefined;
  let inFlight: Promise<Provider[]> | undefined;
  return async () => {
    if (cached !== undefined && Date.now() - cached.at < options.ttlMs) return cached.providers;
    inFlight ??= readProviders(contracts, options)
      .then((providers) => {
        cached = { providers, at: Date.now() };
        return providers;
      })
      .catch((error: unknown) => {
        if (cached === undefined) throw error;
        log.warn({ err: error }, "reading the provider directory failed: serving the last list read");
        return cached.providers;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

/** `fn` over `items`, at most `limit` at once, results in the order of `items`. */
async function mapConcurrently<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}

/**
 * An Oblivious HTTP relay for parties who are not operators (`vin relay serve`): it forwards encapsulated requests
 * only to gateways `PrivacyRegistry` lists, strips every identifying header and adds none, never retries, never logs
 * or keeps a body, and rate-limits all clients together, never one by one (src/ohttp/relay.ts does the forwarding).
 * The list of gateways is re-read from the chain every `refreshMs`.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Contracts } from "../core/contracts";
import { silentLogger, type Logger } from "../core/log";
import { isPrivateHost } from "../core/net";
import type { RetryOptions } from "../core/retry";
import { createRelayHandler, TokenBucket } from "../ohttp";
import { listGateways } from "./privateInference";

export interface RelayServiceOptions {
  contracts: Pick<Contracts, "privacyRegistry">;
  /** Default 127.0.0.1 and any free port. */
  host?: string;
  port?: number;
  /** How often the gateway list is re-read, in ms. Default 10 s. */
  refreshMs?: number;
  /** Global rate limit, requests per second. Default the handler's (10,000/s). */
  ratePerSecond?: number;
  logger?: Logger;
  retry?: RetryOptions;
  /**
   * Forward to gateways on loopback, private or link-local addresses. Default false: a listed URL pointing into
   * the relay's own network (a metadata service, a local RPC node) would make the relay a proxy into it. Devnets
   * on 127.0.0.1 need it.
   */
  allowPrivateGateways?: boolean;
}

export interface RunningRelay {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts a relay.
 * @example const relay = await startRelayService({ contracts, port: 8081 }); // then `vin relay register --url ...`
 */
export async function startRelayService(options: RelayServiceOptions): Promise<RunningRelay> {
  const gateways = new ListedGateways(options);
  await gateways.refresh();
  const server: Server = createServer(
    createRelayHandler({
      allowGateway: (url) => gateways.has(url),
      logger: options.logger ?? silentLogger,
      ...(options.ratePerSecond === undefined
        ? {}
        : { rateLimit: new TokenBucket({ ratePerSecond: options.ratePerSecond, burst: options.ratePerSecond * 2 }) }),
    }),
  );
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The listed gateways' URLs, re-read when older than `refreshMs` (the last good list is kept when a read fails). */
class ListedGateways {
  private urls = new Set<string>();
  private readAt = 0;
  private reading?: Promise<void>;

  constructor(private readonly options: RelayServiceOptions) {}

  async has(url: URL): Promise<boolean> {
    if (Date.now() - this.readAt > (this.options.refreshMs ?? 10_000)) await this.refresh().catch(() => undefined);
    if (!this.urls.has(url.href)) return false;
    return this.options.allowPrivateGateways === true || !(await isPrivateHost(url.hostname));
  }

  refresh(): Promise<void> {
    this.reading ??= listGateways(this.options.contracts, this.options.retry ?? { timeoutMs: 10_000 })
      .then((gateways) => {
        this.urls = new Set(gateways.flatMap((gateway) => normalized(gateway.url)));
        this.readAt = Date.now();
      })
      .finally(() => (this.reading = undefined));
    return this.reading;
  }
}

function normalized(url: string): string[] {
  try {
    return [new URL(url).href];
  } catch {
    return [];
  }
}

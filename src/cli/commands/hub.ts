/**
 * What the model hub's commands (`publish`, `pull`, `search`, `hub serve`, one file each beside this one) read from
 * the CLI: the config's chain, key, deployment and content store, each built when first used. Not a command itself.
 */
import { existsSync } from "node:fs";
import type { Provider, Signer } from "ethers";
import type { Provider as ContentProvider, ProviderSource } from "../../core/content";
import { connectContracts } from "../../core/contracts";
import { firstLine, InputError } from "../../core/errors";
import { parseProviderAddress, providerSource } from "../../core/providers";
import { createProvider } from "../../core/provider";
import type { HubDeployment } from "../../hub/local";
import { loadConfig } from "../../node/config";
import { loadKeystore, readPassword } from "../../node/keystore";
import { openContentStore, PeerContentStore, type ContentStore } from "../../storage";
import type { Globals } from "../options";

/** Where the CLI's IPFS store fetches content it lacks. */
export interface FetchSources {
  providers: ProviderSource;
  gateways: string[];
}

/**
 * The providers and gateways the CLI's IPFS store dials: `extra` (a command's flags), then, when the config file
 * exists, its `ipfsPeers` and `ipfsGateways` and the operators announced in its ProviderDirectory. Nothing else: no
 * public bootstrap peer or gateway. When the ProviderDirectory cannot be read, the configured peers are given alone
 * and `warn` (default: a line on stderr) is told once, until a read succeeds again.
 * @throws InputError naming a peer address that cannot be dialled.
 */
export async function fetchSources(
  global: Globals,
  provider: () => Promise<Provider>,
  extra: { peers?: string[]; gateways?: string[] } = {},
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<FetchSources> {
  const file = global().config;
  const config = existsSync(file) ? loadConfig(file) : undefined;
  const peers = [...(extra.peers ?? []), ...(config?.ipfsPeers ?? [])];
  for (const address of peers) {
    const parsed = parseProviderAddress(address);
    if (!parsed.ok) throw new InputError(`provider "${address}" cannot be dialled: it ${parsed.reason}`);
  }
  const given: ContentProvider[] = peers.map((address) => ({ multiaddrs: [address], label: address }));
  const announced =
    config?.contracts.providerDirectory === undefined
      ? undefined
      : providerSource(connectContracts(config.contracts, await provider()), {
          ttlMs: 60_000,
          allowPrivate: config.ipfsAllowPrivate,
        });
  let warned = false;
  const read = async (): Promise<ContentProvider[]> => {
    if (announced === undefined) return [];
    try {
      const providers = await announced();
      warned = false;
      return providers;
    } catch (error) {
      if (!warned) warn(`warning: cannot read the ProviderDirectory (${firstLine(error)}): using the configured peers`);
      warned = true;
      return [];
    }
  };
  return {
    providers: async () => [...given, ...(await read())],
    gateways: [...(extra.gateways ?? []), ...(config?.ipfsGateways ?? [])],
  };
}

/** What the hub's commands use; each is called only by the commands that need it (tests pass their own). */
export interface HubContext {
  /** Chain access for reading (pull) and indexing (hub serve). */
  provider(): Promise<Provider>;
  /** The account that publishes (becomes the model's owner). */
  signer(): Promise<Signer>;
  /** Addresses and start block of the selected network's deployment. */
  deployment(): Promise<HubDeployment>;
  /**
   * The configured content store: with `--kubo`, that node; else an IPFS peer over `--ipfs-dir` that only dials,
   * fetching what it lacks from the providers of {@link fetchSources}. The command closes it when done.
   */
  contentStore(): Promise<ContentStore>;
  /** Hub API asked by `search`, unless `--hub` is given. Default `http://127.0.0.1:8787`. */
  hubUrl?: string;
  /** Decimals of the payment token, for `--price`. Default 18. */
  tokenDecimals?: number;
  stdout?: (line: string) => void;
  stderr?: (line: string) => void;
}

/** The hub context of `vin`: the `--config` file's chain, keystore and contracts, and the `--ipfs-dir`/`--kubo` store. */
export function hubContext(global: Globals): HubContext {
  const config = () => loadConfig(global().config);
  const provider = async () => {
    const c = config();
    return createProvider(c.rpcUrl, { chainId: c.chainId, timeoutMs: c.rpcTimeoutMs });
  };
  return {
    provider,
    signer: async () =>
      (await loadKeystore(config().keystore, readPassword(global().passwordFile))).connect(await provider()),
    deployment: async () => {
      const c = config();
      const record = (address: string) => ({ address, args: [], block: c.contracts.startBlock });
      return {
        chainId: c.chainId,
        startBlock: c.contracts.startBlock,
        contracts: {
          registry: record(c.contracts.registry),
          escrow: record(c.contracts.escrow),
          token: record(c.contracts.token),
          teeVerifier: record(c.contracts.teeVerifier),
          staking: record(c.contracts.staking),
          ...(c.contracts.evaluationRegistry === undefined
            ? {}
            : { evaluationRegistry: record(c.contracts.evaluationRegistry) }),
          ...(c.contracts.subscriptionManager === undefined
            ? {}
            : { subscriptionManager: record(c.contracts.subscriptionManager) }),
        },
      };
    },
    contentStore: async () => {
      const { ipfsDir, kubo } = global();
      if (kubo !== undefined) return openContentStore({ kuboUrl: kubo });
      const sources = await fetchSources(global, provider);
      return PeerContentStore.open({ dir: ipfsDir, providers: sources.providers, gateways: sources.gateways });
    },
  };
}

/** The context's stdout and stderr, one line per call (the process's by default). */
export function hubOutput(context: HubContext): { out: (line: string) => void; err: (line: string) => void } {
  return {
    out: context.stdout ?? ((line: string) => process.stdout.write(`${line}\n`)),
    err: context.stderr ?? ((line: string) => process.stderr.write(`${line}\n`)),
  };
}

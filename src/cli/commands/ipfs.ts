/**
 * `vin ipfs serve`: the IPFS peer of a publisher (or anyone holding content): it serves the blocks of `--ipfs-dir` over
 * libp2p until stopped, so that operators can fetch and pin a version's files. `vin ipfs providers <model[@version]>`:
 * which providers serve every file of a version now, each probed alone.
 */
import type { Command } from "commander";
import { ModelRegistry__factory } from "../../../typechain-types";
import { cidString } from "../../core/cid";
import type { Provider } from "../../core/content";
import { InputError } from "../../core/errors";
import { parseModelRef } from "../../hub/pull";
import { loadConfig } from "../../node/config";
import { PeerContentStore } from "../../storage";
import type { Globals } from "../options";
import { fetchSources, hubContext, hubOutput, type HubContext } from "./hub";

const DEFAULT_LISTEN = "/ip4/127.0.0.1/tcp/4001";

/** A `--listen` multiaddr: TCP, without a peer id. */
function parseListen(value: string, previous: string[] = []): string[] {
  if (!/^\/(ip4|ip6|dns4|dns6|dns)\/[^/\s]+\/tcp\/\d{1,5}$/.test(value))
    throw new InputError(`--listen "${value}" is not a TCP multiaddr: give one such as ${DEFAULT_LISTEN}`);
  return [...previous, value];
}

export function register(program: Command, global: Globals, context: HubContext = hubContext(global)): void {
  const { out } = hubOutput(context);
  const ipfs = program.command("ipfs").description("the IPFS peer: serve content to peers, find who serves a version");
  ipfs
    .command("serve")
    .description("serve the blocks of --ipfs-dir to IPFS peers over libp2p until stopped (Ctrl-C)")
    .option("--listen <multiaddr>", `where to listen, repeatable (default ${DEFAULT_LISTEN})`, parseListen)
    .option("--json", "print the peer's id and addresses as one JSON line")
    .action(async (opts: { listen?: string[]; json?: boolean }) => {
      const store = await PeerContentStore.open({ dir: global().ipfsDir, listen: opts.listen ?? [DEFAULT_LISTEN] });
      const pins = await store.pins();
      if (opts.json || global().json)
        out(JSON.stringify({ peerId: store.peerId, multiaddrs: store.multiaddrs(), pins: pins.length }));
      else {
        out(`IPFS peer ${store.peerId} serving every block in ${global().ipfsDir} (${pins.length} pinned CIDs) at:`);
        for (const address of store.multiaddrs()) out(`  ${address}`);
        out("operators fetch from it with ipfsPeers in their config; Ctrl-C stops it");
      }
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await store.close();
    });
  ipfs
    .command("providers")
    .description(
      "probe each provider (announced on-chain, or a peer or gateway of the config) for every file of a version",
    )
    .argument("<model[@version]>", "model id, optionally @version (default: latest)")
    .option("--timeout <ms>", "time limit of one probe", "20000")
    .option("--json", "print the result as JSON")
    .action(async (ref: string, opts: { timeout: string; json?: boolean }) => {
      const timeoutMs = Number(opts.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 100)
        throw new InputError(`--timeout "${opts.timeout}" is not a number of milliseconds (at least 100)`);
      const parsed = parseModelRef(ref);
      const config = loadConfig(global().config);
      const provider = await context.provider();
      const registry = ModelRegistry__factory.connect(config.contracts.registry, provider);
      const version =
        parsed.version === undefined ? BigInt(await registry.versionCount(parsed.modelId)) : BigInt(parsed.version);
      if (version === 0n) throw new InputError(`model ${parsed.modelId} has no version`);
      const files = await registry.filesOf(parsed.modelId, version);
      const sources = await fetchSources(global, () => context.provider());
      const providers: (Provider | { gateway: string; label: string })[] = [
        ...(await sources.providers()),
        ...sources.gateways.map((gateway) => ({ gateway, label: gateway })),
      ];
      const store = await PeerContentStore.open({ dir: global().ipfsDir });
      try {
        const rows = [];
        for (const file of files) {
          const cid = cidString(file.cid);
          const serving = [];
          for (const p of providers) {
            const probe = await store.probe(cid, p, { timeoutMs });
            serving.push({ provider: p.label, ...probe });
          }
          rows.push({ path: file.path, cid, providers: serving });
        }
        const fewest = Math.min(...rows.map((r) => r.providers.filter((p) => p.ok).length));
        if (opts.json || global().json)
          out(JSON.stringify({ modelId: parsed.modelId.toString(), version: version.toString(), files: rows, fewest }));
        else {
          out(`model ${parsed.modelId} version ${version}: ${providers.length} providers known`);
          for (const row of rows) {
            const ok = row.providers.filter((p) => p.ok).map((p) => p.provider);
            out(`  ${row.path} ${row.cid}: served by ${ok.length} (${ok.join(", ") || "none"})`);
            for (const p of row.providers.filter((x) => !x.ok))
              out(`    ${p.provider}: ${"reason" in p ? p.reason : "failed"}`);
          }
          out(
            fewest < 2
              ? `WARNING: a file of this version is served by ${fewest} provider${fewest === 1 ? "" : "s"}: fewer than two`
              : `every file is served by at least ${fewest} providers`,
          );
        }
      } finally {
        await store.close();
      }
    });
}

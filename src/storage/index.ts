/** Content-addressed storage of model files: an embedded IPFS blockstore, an IPFS peer, or a Kubo node. */
export * from "./content-store";
export * from "./embedded";
export * from "./errors";
export * from "./gateway";
export * from "./kubo";
export * from "./peer";
export { canonicalCid, cidBytes, computeCid, parseCid } from "./unixfs";

import type { ContentStore } from "./content-store";
import { EmbeddedContentStore } from "./embedded";
import { KuboContentStore } from "./kubo";
import { PeerContentStore, type PeerContentStoreOptions } from "./peer";

/**
 * Where content lives: a directory for the embedded store (offline), an IPFS peer over a directory (listening,
 * fetching from providers and gateways), or a Kubo RPC URL.
 */
export type ContentStoreConfig =
  { dir: string } | { peer: PeerContentStoreOptions } | { kuboUrl: string; timeoutMs?: number; attempts?: number };

/**
 * Opens the configured content store.
 * @example const store = await openContentStore({ dir: ".vin/ipfs" });
 * @example const peer = await openContentStore({ peer: { dir: ".vin/ipfs", listen: ["/ip4/0.0.0.0/tcp/4001"], providers } });
 */
export async function openContentStore(config: ContentStoreConfig): Promise<ContentStore> {
  if ("peer" in config) return PeerContentStore.open(config.peer);
  if ("dir" in config) return EmbeddedContentStore.open(config.dir);
  return new KuboContentStore({ url: config.kuboUrl, timeoutMs: config.timeoutMs, attempts: config.attempts });
}

/** Content-addressed storage of model files: an embedded IPFS blockstore or a Kubo node. */
export * from "./content-store";
export * from "./embedded";
export * from "./errors";
export * from "./kubo";
export { canonicalCid, cidBytes, computeCid, parseCid } from "./unixfs";

import type { ContentStore } from "./content-store";
import { EmbeddedContentStore } from "./embedded";
import { KuboContentStore } from "./kubo";

/** Where content lives: a directory for the embedded store, or a Kubo RPC URL. */
export type ContentStoreConfig = { dir: string } | { kuboUrl: string; timeoutMs?: number; attempts?: number };

/**
 * Opens the configured content store.
 * @example const store = await openContentStore({ dir: ".vin/ipfs" });
 */
export async function openContentStore(config: ContentStoreConfig): Promise<ContentStore> {
  if ("dir" in config) return EmbeddedContentStore.open(config.dir);
  return new KuboContentStore({ url: config.kuboUrl, timeoutMs: config.timeoutMs, attempts: config.attempts });
}

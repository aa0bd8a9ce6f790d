import { cardHashOf, parseModelCard } from "../../src/hub/card";
import type { Mode } from "../../src/core/modes";
import { modelIdNumber } from "../../src/hub/ids";
import type { HubStore, VersionInput } from "../../src/hub/store";
import type { SyntheticCard } from "./corpus";

/** Options of {@link prepareCorpus}. */
export interface PrepareCorpusOptions {
  /** Consecutive cards become versions 1..n of one model. Default 1. */
  versionsPerModel?: number;
}

/** A card turned into what the chain indexer would hand the store: events plus the parsed card. */
export interface PreparedVersion {
  input: VersionInput;
  usage: readonly number[];
}

/**
 * Parses and hashes every card and builds the store inputs (the indexer's work before writing).
 * @example const prepared = prepareCorpus(generateCorpus(360, 42));
 */
export function prepareCorpus(cards: readonly SyntheticCard[], options: PrepareCorpusOptions = {}): PreparedVersion[] {
  const perModel = options.versionsPerModel ?? 1;
  return cards.map((card, index) => {
    const modelId = modelIdNumber(Math.floor(index / perModel) + 1);
    return { input: versionInput(card, modelId, (index % perModel) + 1, index + 1), usage: card.usage };
  });
}

/**
 * Writes prepared versions through the store's indexer API, `batchSize` per transaction: the model on its
 * first version, the version, then its verified usage.
 */
export function writeCorpus(store: HubStore, prepared: readonly PreparedVersion[], batchSize = 1000): void {
  for (let start = 0; start < prepared.length; start += batchSize) {
    store.batch(() => {
      for (const { input, usage } of prepared.slice(start, start + batchSize)) {
        const { modelId, version, block } = input;
        if (version === 1) store.upsertModel({ modelId, owner: addressOf(modelId), price: 10n ** 15n, block });
        store.upsertVersion(input);
        usage.forEach((jobs, mode) => {
          if (jobs > 0)
            store.addVerifiedUsage({
              modelId,
              version,
              mode: mode as Mode,
              jobs,
              paid: BigInt(jobs) * 10n ** 15n,
              block,
            });
        });
      }
    });
  }
}

/**
 * Prepares and writes synthetic cards; returns the model id of every card, in order.
 * @example indexCorpus(store, generateCorpus(360, 42));
 */
export function indexCorpus(
  store: HubStore,
  cards: readonly SyntheticCard[],
  options: PrepareCorpusOptions = {},
): number[] {
  const prepared = prepareCorpus(cards, options);
  writeCorpus(store, prepared);
  return prepared.map((p) => p.input.modelId);
}

function versionInput(card: SyntheticCard, modelId: number, version: number, block: number): VersionInput {
  const cardHash = cardHashOf(card.markdown);
  const cid = `bafkrei${cardHash.slice(2, 54)}`;
  return {
    modelId,
    version,
    publisher: addressOf(modelId),
    cardHash,
    cardCid: cid,
    files: [
      { path: "README.md", cid, sha256: cardHash },
      { path: "model.onnx", cid: `bafybei${cardHash.slice(10, 62)}`, sha256: `0x${cardHash.slice(4)}00` },
    ],
    modes: card.modes,
    publishedAt: card.publishedAt,
    block,
    card: parseModelCard(card.markdown),
  };
}

function addressOf(modelId: number): string {
  return `0x${(modelId * 2654435761).toString(16).padStart(40, "0").slice(-40)}`;
}

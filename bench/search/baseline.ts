import type { SyntheticCard } from "./corpus";

/** Characters the baseline treats as the same separator, as id search on a model hub effectively does. */
const SEPARATORS = /[\s_-]+/g;

/**
 * The baseline: case-insensitive substring match of the whole query in the model name (the behaviour of
 * the Hugging Face API's `search` parameter), ordered by verified usage, as a hub sorts by downloads.
 * Spaces, `-` and `_` are treated alike so multi-word queries get a fair chance.
 * @example nameSubstringSearch(cards, "yolo", 10) // ids of cards whose name contains "yolo"
 */
export function nameSubstringSearch(cards: readonly SyntheticCard[], query: string, limit: number): number[] {
  const needle = query.toLowerCase().replace(SEPARATORS, "-").trim();
  if (needle === "") return [];
  return cards
    .filter((c) => nameOf(c).toLowerCase().replace(SEPARATORS, "-").includes(needle))
    .sort((a, b) => total(b) - total(a) || a.id - b.id)
    .slice(0, limit)
    .map((c) => c.id);
}

function nameOf(card: SyntheticCard): string {
  return /^name: (.*)$/m.exec(card.markdown)?.[1] ?? "";
}

function total(card: SyntheticCard): number {
  return card.usage.reduce((a, b) => a + b, 0);
}

/**
 * A stronger name-only baseline, for context: the name must contain every query word (in any order).
 * @example nameAllWordsSearch(cards, "fraud lgbm", 10)
 */
export function nameAllWordsSearch(cards: readonly SyntheticCard[], query: string, limit: number): number[] {
  const words = query
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "");
  if (words.length === 0) return [];
  return cards
    .filter((c) => words.every((w) => nameOf(c).toLowerCase().includes(w)))
    .sort((a, b) => total(b) - total(a) || a.id - b.id)
    .slice(0, limit)
    .map((c) => c.id);
}

/**
 * The most lenient name-only baseline, for context: names containing any query word of 3+ letters,
 * those containing more words first, then by verified usage.
 */
export function nameAnyWordSearch(cards: readonly SyntheticCard[], query: string, limit: number): number[] {
  const words = query
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length >= 3);
  const matched = (c: SyntheticCard) => words.filter((w) => nameOf(c).toLowerCase().includes(w)).length;
  return cards
    .map((c) => ({ c, n: matched(c) }))
    .filter((x) => x.n > 0)
    .sort((a, b) => b.n - a.n || total(b.c) - total(a.c) || a.c.id - b.c.id)
    .slice(0, limit)
    .map((x) => x.c.id);
}

import type { ModelCard } from "./card";
import { FTS_COLUMNS } from "./schema";
import { normalizeForIndex } from "./text";

/** Longest part of a card body that is indexed; the rest of a very long card adds little but cost. */
const MAX_INDEXED_BODY = 20_000;
const MAX_SUMMARY = 240;

type FtsColumn = (typeof FTS_COLUMNS)[number]["name"];

/**
 * The full-text row of a card: one normalised string per `search_fts` column, in column order.
 * @example toSearchDocument(card)[0] // normalised name, e.g. "acme finbert sentiment"
 */
export function toSearchDocument(card: ModelCard): string[] {
  const columns: Record<FtsColumn, string> = {
    name: card.name,
    tags: card.tags.join(" "),
    task: card.task,
    lineage: [card.library ?? "", ...card.datasets, ...card.baseModels].join(" "),
    body: card.body.slice(0, MAX_INDEXED_BODY),
  };
  return FTS_COLUMNS.map((c) => normalizeForIndex(columns[c.name]));
}

/**
 * A one-line summary of a card body: its first paragraph of prose, without Markdown decoration.
 * @example summarize("# Title\n\nDetects **fraud**.\n") // "Detects fraud."
 */
export function summarize(body: string): string {
  const paragraph = body
    .split(/\r?\n\s*\r?\n/)
    .map((p) => p.trim())
    .find((p) => p !== "" && !p.startsWith("#") && !p.startsWith("|") && !p.startsWith("```") && !p.startsWith("<"));
  if (paragraph === undefined) return "";
  const plain = paragraph.replace(/[*_`>]/g, "").replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/\s+/g, " ");
  return plain.length <= MAX_SUMMARY ? plain : `${plain.slice(0, MAX_SUMMARY - 1)}…`;
}

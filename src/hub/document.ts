import type { ModelCard } from "./card";
import { languageCode, languagePairsInName, languageWords, taskOfTag, taskWords } from "./lexicon";
import { FTS_COLUMNS } from "./schema";
import { compoundWords, normalizeForIndex, summarizeMarkdown } from "./text";

/**
 * Longest part of a card body that is indexed and scored (its description; the tables and code further down a long
 * card add little but cost). The same text is matched by FTS5 and scored by BM25F, and kept in `search_docs`.
 */
export const MAX_INDEXED_BODY = 8_000;

type FtsColumn = (typeof FTS_COLUMNS)[number]["name"];

/**
 * The full-text row of a card: one normalised string per `search_fts` column, in column order (tokens joined by
 * spaces). FTS5 indexes it, BM25F scores it, and `search_docs` keeps it.
 * @example toSearchDocument(card)[0] // normalised name, e.g. "acme finbert sentiment"
 * @example toSearchDocument(card)[3] // facets, e.g. "fi finnish en english translation machine translation mt ..."
 */
export function toSearchDocument(card: ModelCard): string[] {
  const columns: Record<FtsColumn, string> = {
    name: [card.name, ...compoundWords(card.name)].join(" "),
    tags: card.tags.join(" "),
    task: card.task,
    facets: facetsOf(card).join(" "),
    lineage: [card.library ?? "", ...card.datasets, ...card.baseModels].join(" "),
    body: card.body.slice(0, MAX_INDEXED_BODY),
  };
  return FTS_COLUMNS.map((c) => normalizeForIndex(columns[c.name]));
}

/**
 * Words a card is known by without saying them: the names of its languages (from `language`, or a language
 * pair in its name such as `opus-mt-fi-en`), and the synonyms and acronyms of its task and of tags naming a task.
 */
function facetsOf(card: ModelCard): string[] {
  const codes = new Set<string>();
  for (const l of card.languages ?? []) {
    const code = languageCode(l);
    if (code !== undefined) codes.add(code);
  }
  for (const code of languagePairsInName(card.name)) codes.add(code);
  const tasks = new Set([card.task]);
  for (const tag of card.tags) {
    const task = taskOfTag(tag);
    if (task !== undefined) tasks.add(task);
  }
  return [...[...codes].flatMap(languageWords), ...[...tasks].flatMap(taskWords)];
}

/**
 * A one-line summary of a card body: its first paragraph of prose, without Markdown decoration.
 * @example summarize("# Title\n\nDetects **fraud**.\n") // "Detects fraud."
 */
export function summarize(body: string): string {
  return summarizeMarkdown(body);
}

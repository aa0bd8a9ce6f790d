import type { ModelCard } from "./card";
import { languageCode, languagePairsInName, languageWords, taskOfTag, taskWords } from "./lexicon";
import { FTS_COLUMNS } from "./schema";
import { compoundWords, normalizeForIndex, summarizeMarkdown } from "./text";

/** Longest part of a card body that is indexed; the rest of a very long card adds little but cost. */
const MAX_INDEXED_BODY = 20_000;
/** Longest part of a card body that ranking counts term frequencies in (its description, not its tables). */
export const MAX_SCORED_BODY = 4_000;

type FtsColumn = (typeof FTS_COLUMNS)[number]["name"];

/**
 * The full-text row of a card: one normalised string per `search_fts` column, in column order.
 * @example toSearchDocument(card)[0] // normalised name, e.g. "acme finbert sentiment"
 */
export function toSearchDocument(card: ModelCard): string[] {
  return fieldsOf(card, MAX_INDEXED_BODY);
}

/**
 * The fields ranking reads: as {@link toSearchDocument}, with the body cut at {@link MAX_SCORED_BODY}.
 * @example scoringDocument(card)[3] // "fi finnish en english translation machine translation mt ..."
 */
export function scoringDocument(card: ModelCard): string[] {
  return fieldsOf(card, MAX_SCORED_BODY);
}

function fieldsOf(card: ModelCard, maxBody: number): string[] {
  const columns: Record<FtsColumn, string> = {
    name: [card.name, ...compoundWords(card.name)].join(" "),
    tags: card.tags.join(" "),
    task: card.task,
    facets: facetsOf(card).join(" "),
    lineage: [card.library ?? "", ...card.datasets, ...card.baseModels].join(" "),
    body: card.body.slice(0, maxBody),
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

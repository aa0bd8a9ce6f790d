import type Database from "better-sqlite3";
import type { TermAlternative } from "./query";
import { FTS_COLUMNS } from "./schema";

/** BM25 saturation constant. */
const K1 = 1.2;

/** Corpus statistics BM25F needs: the number of documents and each field's average length. */
export interface FieldStats {
  documents: number;
  averageLengths: number[];
}

/**
 * Reads the average token count of every field from `search_docs`.
 * @example const stats = loadFieldStats(store.db, vocabulary.documents);
 */
export function loadFieldStats(db: Database.Database, documents: number): FieldStats {
  const columns = FTS_COLUMNS.map((c, i) => `avg(len_${c.name}) AS f${i}`).join(", ");
  const row = db.prepare(`SELECT ${columns} FROM search_docs`).get() as Record<string, number | null>;
  return { documents, averageLengths: FTS_COLUMNS.map((_, i) => Math.max(1, row[`f${i}`] ?? 1)) };
}

/** A query term as ranking sees it: its alternatives (itself, a prefix, close spellings) and their document count. */
export interface RankedTerm {
  alternatives: readonly TermAlternative[];
  documentFrequency: number;
}

/**
 * The fields of one document in `FTS_COLUMNS` order, as `search_docs` keeps them: normalised tokens joined by
 * single spaces, and each field's token count.
 */
export interface DocumentFields {
  texts: readonly string[];
  lengths: readonly number[];
}

/**
 * BM25F (Robertson and Zaragoza, 2009): each field's term frequency is normalised by that field's length and
 * weighted, the weighted frequencies are summed, and only then saturated, so a word in the name counts as
 * several body mentions and a long body does not dilute a name match.
 * @example bm25f(fields, [{ alternatives: [{ text: "finnish", prefix: false }], documentFrequency: 4 }], stats)
 */
export function bm25f(fields: DocumentFields, terms: readonly RankedTerm[], stats: FieldStats): number {
  let score = 0;
  for (const term of terms) {
    let tf = 0;
    for (let i = 0; i < FTS_COLUMNS.length; i++) {
      const text = fields.texts[i];
      if (text === undefined || text === "") continue;
      let raw = 0;
      for (const a of term.alternatives) raw += frequency(text, a);
      if (raw === 0) continue;
      const column = FTS_COLUMNS[i]!;
      const norm = 1 - column.b + (column.b * (fields.lengths[i] ?? 0)) / (stats.averageLengths[i] ?? 1);
      tf += (column.weight * raw) / norm;
    }
    if (tf > 0) score += idf(term.documentFrequency, stats.documents) * (tf / (K1 + tf));
  }
  return score;
}

function idf(df: number, n: number): number {
  const d = Math.min(Math.max(df, 1), Math.max(n, 1));
  return Math.log(1 + (n - d + 0.5) / (d + 0.5));
}

/**
 * Occurrences of an alternative (a token, or a prefix of tokens) in a field's space-separated tokens, found by
 * string search: no token list is built per document.
 */
export function frequency(field: string, alternative: TermAlternative): number {
  const { text, prefix } = alternative;
  let n = 0;
  for (let at = field.indexOf(text); at >= 0; at = field.indexOf(text, at + text.length)) {
    const end = at + text.length;
    if (
      (at === 0 || field.charCodeAt(at - 1) === SPACE) &&
      (prefix || end === field.length || field.charCodeAt(end) === SPACE)
    )
      n++;
  }
  return n;
}

const SPACE = 32;

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
 * Reads the average token count of every field from `search_lengths`.
 * @example const stats = loadFieldStats(store.db, vocabulary.documents);
 */
export function loadFieldStats(db: Database.Database, documents: number): FieldStats {
  const columns = FTS_COLUMNS.map((_, i) => `avg(json_extract(lengths, '$[${i}]')) AS f${i}`).join(", ");
  const row = db.prepare(`SELECT ${columns} FROM search_lengths`).get() as Record<string, number | null>;
  return { documents, averageLengths: FTS_COLUMNS.map((_, i) => Math.max(1, row[`f${i}`] ?? 1)) };
}

/** A query term as ranking sees it: its alternatives (itself, a prefix, close spellings) and their document count. */
export interface RankedTerm {
  alternatives: readonly TermAlternative[];
  documentFrequency: number;
}

/** The fields of one document, as token lists in `FTS_COLUMNS` order. */
export type DocumentFields = readonly (readonly string[])[];

/**
 * BM25F (Robertson and Zaragoza, 2009): each field's term frequency is normalised by that field's length and
 * weighted, the weighted frequencies are summed, and only then saturated, so a word in the name counts as
 * several body mentions and a long body does not dilute a name match.
 * @example bm25f(fields, [{ alternatives: [{ text: "finnish", prefix: false }], documentFrequency: 4 }], stats)
 */
export function bm25f(fields: DocumentFields, terms: readonly RankedTerm[], stats: FieldStats): number {
  const counts = fields.map(countTokens);
  let score = 0;
  for (const term of terms) {
    let tf = 0;
    counts.forEach((field, i) => {
      const column = FTS_COLUMNS[i];
      if (column === undefined) return;
      const raw = term.alternatives.reduce((sum, a) => sum + frequency(field, a), 0);
      if (raw === 0) return;
      const length = fields[i]?.length ?? 0;
      const norm = 1 - column.b + (column.b * length) / (stats.averageLengths[i] ?? 1);
      tf += (column.weight * raw) / norm;
    });
    if (tf > 0) score += idf(term.documentFrequency, stats.documents) * (tf / (K1 + tf));
  }
  return score;
}

function idf(df: number, n: number): number {
  const d = Math.min(Math.max(df, 1), Math.max(n, 1));
  return Math.log(1 + (n - d + 0.5) / (d + 0.5));
}

function countTokens(tokens: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}

function frequency(counts: Map<string, number>, alternative: TermAlternative): number {
  if (!alternative.prefix) return counts.get(alternative.text) ?? 0;
  let n = 0;
  for (const [token, count] of counts) if (token.startsWith(alternative.text)) n += count;
  return n;
}

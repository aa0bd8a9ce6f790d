import { isQueryStopword, stem, tokenize } from "./text";
import type { Vocabulary } from "./vocabulary";

/** Longest query text considered; the rest is ignored. */
export const MAX_QUERY_LENGTH = 256;
/** Most terms of a query considered. */
const MAX_TERMS = 12;
/** Shortest last token matched as a prefix: one letter would match half the vocabulary. */
const MIN_PREFIX_LENGTH = 2;

/** A query word after normalisation. `prefix` marks the last word while the user may still be typing it. */
export interface QueryTerm {
  token: string;
  prefix: boolean;
}

/** One alternative of an expanded term. */
export interface TermAlternative {
  text: string;
  prefix: boolean;
}

/** A query term with its alternatives (itself, or close known terms if it is misspelt). */
export interface ExpandedTerm {
  token: string;
  alternatives: TermAlternative[];
}

/**
 * Turns raw user text into query terms, without stopwords (a query of stopwords only gives none, and
 * browses). Every character that is not a letter or digit separates words,
 * so FTS5 syntax (`"`, `*`, `-`, `:`, `^`, parentheses) and SQL have no effect beyond the words in them.
 * @example parseQuery("finance risk sco") // [{token:"finance"}, {token:"risk"}, {token:"sco", prefix:true}]
 */
export function parseQuery(raw: string): QueryTerm[] {
  const text = raw.slice(0, MAX_QUERY_LENGTH);
  const all = [...new Set(tokenize(text).map(stem))];
  // A query of stopwords only ("the model") asks for nothing in particular: it browses.
  const tokens = all.filter((t) => !isQueryStopword(t)).slice(0, MAX_TERMS);
  const typing = !/\s$/.test(text);
  const lastRaw = tokenize(text).at(-1);
  return tokens.map((token, i) => ({
    token,
    prefix:
      typing &&
      i === tokens.length - 1 &&
      lastRaw !== undefined &&
      stem(lastRaw) === token &&
      token.length >= MIN_PREFIX_LENGTH,
  }));
}

/**
 * Expands terms against the vocabulary: a known term stays as is, a misspelt one becomes its close known
 * terms, and one with neither is dropped (it could only make an AND query empty).
 * @example expandTerms(parseQuery("sentimnet"), vocabulary) // [{token:"sentimnet", alternatives:[{text:"sentiment"}]}]
 */
export function expandTerms(terms: readonly QueryTerm[], vocabulary: Vocabulary): ExpandedTerm[] {
  return terms
    .map((t) => ({ token: t.token, alternatives: alternativesOf(t, vocabulary) }))
    .filter((t) => t.alternatives.length > 0);
}

function alternativesOf(term: QueryTerm, vocabulary: Vocabulary): TermAlternative[] {
  if (term.prefix && vocabulary.hasPrefix(term.token)) return [{ text: term.token, prefix: true }];
  if (vocabulary.has(term.token)) return [{ text: term.token, prefix: false }];
  return vocabulary.closeTerms(term.token).map((text) => ({ text, prefix: false }));
}

/**
 * The share of documents an expanded term matches (an upper bound), used to leave very common terms out
 * of a relaxed (OR) query, where they would match most of the index yet barely move BM25.
 */
export function documentShare(term: ExpandedTerm, vocabulary: Vocabulary): number {
  if (vocabulary.documents === 0) return 0;
  const df = term.alternatives.reduce((sum, a) => sum + vocabulary.documentFrequency(a.text, a.prefix), 0);
  return Math.min(1, df / vocabulary.documents);
}

/**
 * Renders expanded terms as an FTS5 MATCH expression. Every term is a quoted string, so nothing in it is
 * FTS5 syntax; the expression is always passed as a bound parameter.
 * @example toMatchExpression(terms, "AND") // '"credit" AND ("risk" OR "risc") AND "sco"*'
 */
export function toMatchExpression(terms: readonly ExpandedTerm[], operator: "AND" | "OR"): string {
  return terms
    .map((t) => {
      const alts = t.alternatives.map((a) => `"${a.text.replace(/"/g, '""')}"${a.prefix ? "*" : ""}`);
      return alts.length === 1 ? (alts[0] ?? "") : `(${alts.join(" OR ")})`;
    })
    .join(` ${operator} `);
}

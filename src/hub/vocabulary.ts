import type Database from "better-sqlite3";
import { stem } from "./text";

/** Shortest token for which spelling alternatives are looked up: short words have too many neighbours. */
const MIN_TYPO_LENGTH = 4;
/** Most alternatives a misspelt token expands to. */
const MAX_ALTERNATIVES = 3;

/**
 * The terms of the full-text index (read through the `search_vocab` fts5vocab table) with their document
 * counts, to tell known tokens from misspelt ones and to find close known terms.
 */
export class Vocabulary {
  private readonly sorted: string[];

  private constructor(
    private readonly docs: Map<string, number>,
    private readonly alphabet: string[],
    /** Number of documents in the index. */
    readonly documents: number,
  ) {
    this.sorted = [...docs.keys()].sort();
  }

  /**
   * Reads the vocabulary of `search_fts`.
   * @example const vocabulary = Vocabulary.load(store.db);
   */
  static load(db: Database.Database): Vocabulary {
    const rows = db.prepare("SELECT term, doc FROM search_vocab").all() as { term: string; doc: number }[];
    const docs = new Map(rows.map((r) => [r.term, r.doc]));
    const chars = new Set<string>();
    for (const r of rows) for (const c of r.term) chars.add(c);
    const { n } = db.prepare("SELECT count(*) AS n FROM search_docs").get() as { n: number };
    return new Vocabulary(docs, [...chars], n);
  }

  /** Number of distinct terms. */
  get size(): number {
    return this.docs.size;
  }

  /** Whether `term` is in the index. */
  has(term: string): boolean {
    return this.docs.has(term);
  }

  /** Whether some term in the index starts with `prefix`. */
  hasPrefix(prefix: string): boolean {
    const i = lowerBound(this.sorted, prefix);
    return i < this.sorted.length && (this.sorted[i] ?? "").startsWith(prefix);
  }

  /**
   * The known terms starting with `prefix`, in order, or `undefined` if there are more than `max`.
   * @example vocabulary.termsWithPrefix("classificat", 8) // ["classification"]
   */
  termsWithPrefix(prefix: string, max: number): string[] | undefined {
    const terms: string[] = [];
    for (let i = lowerBound(this.sorted, prefix); i < this.sorted.length; i++) {
      const t = this.sorted[i] ?? "";
      if (!t.startsWith(prefix)) break;
      if (terms.length === max) return undefined;
      terms.push(t);
    }
    return terms;
  }

  /**
   * Documents containing `term` (or, for a prefix, an upper bound: the sum over the terms it covers).
   * @example vocabulary.documentFrequency("risk", false) // 31250
   */
  documentFrequency(term: string, prefix: boolean): number {
    if (!prefix) return this.docs.get(term) ?? 0;
    let sum = 0;
    for (let i = lowerBound(this.sorted, term); i < this.sorted.length && sum < this.documents; i++) {
      const t = this.sorted[i] ?? "";
      if (!t.startsWith(term)) break;
      sum += this.docs.get(t) ?? 0;
    }
    return Math.min(sum, this.documents);
  }

  /**
   * Known terms at edit distance 1 (insertion, deletion, substitution, transposition) from `token`,
   * most frequent first; empty for short tokens.
   * @example vocabulary.closeTerms("sentimnet") // ["sentiment"]
   */
  closeTerms(token: string): string[] {
    if (token.length < MIN_TYPO_LENGTH || /^\d+$/.test(token)) return [];
    const found = new Set<string>();
    for (const edit of edits1(token, this.alphabet)) {
      if (this.docs.has(edit)) found.add(edit);
      const stemmed = stem(edit);
      if (this.docs.has(stemmed)) found.add(stemmed);
    }
    found.delete(token);
    return [...found].sort((a, b) => (this.docs.get(b) ?? 0) - (this.docs.get(a) ?? 0)).slice(0, MAX_ALTERNATIVES);
  }
}

/** All strings at Damerau edit distance 1 from `word` over `alphabet` (Norvig's `edits1`). */
function edits1(word: string, alphabet: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i <= word.length; i++) {
    const left = word.slice(0, i);
    const right = word.slice(i);
    if (right.length > 0) out.add(left + right.slice(1));
    if (right.length > 1) out.add(left + (right[1] ?? "") + (right[0] ?? "") + right.slice(2));
    for (const c of alphabet) {
      out.add(left + c + right);
      if (right.length > 0) out.add(left + c + right.slice(1));
    }
  }
  return out;
}

function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] ?? "") < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

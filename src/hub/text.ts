/**
 * Text normalisation shared by indexing and querying. Both sides must agree exactly, so the index stores
 * text already normalised here and SQLite's `unicode61` tokenizer only splits it again on spaces.
 */

/** Words dropped from queries (never from documents) unless the query has nothing else. */
const QUERY_STOPWORDS = new Set([
  "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "of", "on", "or",
  "that", "the", "this", "to", "with", "model", "models", "using", "based", "i", "me", "my", "we", "want",
  "need", "find", "some", "any", "which", "what", "can",
]);

/** Longest token kept; longer runs (hashes, base64) are cut so they cannot bloat the vocabulary. */
const MAX_TOKEN_LENGTH = 40;

/**
 * Splits text into lower-case, diacritic-free tokens of letters and digits.
 * @example tokenize("Café-BERT: NEAR*") // ["cafe", "bert", "near"]
 */
export function tokenize(text: string): string[] {
  // Pure ASCII (most cards) needs neither Unicode folding nor Unicode-aware splitting.
  // A range check over all of ASCII, not a search for control characters.
  // eslint-disable-next-line no-control-regex
  const ascii = /^[\x00-\x7f]*$/.test(text);
  const folded = ascii ? text.toLowerCase() : text.normalize("NFKD").replace(/\p{M}+/gu, "").toLowerCase();
  const tokens = folded.split(ascii ? /[^a-z0-9]+/ : /[^\p{L}\p{N}]+/u);
  return tokens.filter((t) => t.length > 0).map((t) => t.slice(0, MAX_TOKEN_LENGTH));
}

/**
 * A light plural stemmer (Harman's S-stemmer): conservative, so it never merges unrelated words.
 * @example stem("signals") // "signal"; stem("studies") // "study"; stem("class") // "class"
 */
export function stem(token: string): string {
  if (token.length <= 3 || /\d/.test(token)) return token;
  if (token.endsWith("ies") && !token.endsWith("eies") && !token.endsWith("aies")) return token.slice(0, -3) + "y";
  if (token.endsWith("es") && /(ss|sh|ch|x|z)es$/.test(token)) return token.slice(0, -2);
  if (token.endsWith("s") && !/(us|ss|is|os|as)$/.test(token)) return token.slice(0, -1);
  return token;
}

/**
 * Normalises text for the full-text index: tokens, stemmed, joined by spaces.
 * @example normalizeForIndex("Trading Signals") // "trading signal"
 */
export function normalizeForIndex(text: string): string {
  return tokenize(text).map(stem).join(" ");
}

/** Whether a (normalised) query token is a stopword. */
export function isQueryStopword(token: string): boolean {
  return QUERY_STOPWORDS.has(token);
}

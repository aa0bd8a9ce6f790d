/**
 * Text normalisation shared by indexing and querying. Both sides must agree exactly, so the index stores
 * text already normalised here and SQLite's `unicode61` tokenizer only splits it again on spaces.
 */

/** Words dropped from queries (never from documents) unless the query has nothing else. */
const QUERY_STOPWORDS = new Set([
  "a",
  "an",
  "and",
  "are",
  "as",
  "at",
  "be",
  "by",
  "for",
  "from",
  "in",
  "into",
  "is",
  "it",
  "of",
  "on",
  "or",
  "that",
  "the",
  "this",
  "to",
  "with",
  "model",
  "models",
  "using",
  "based",
  "i",
  "me",
  "my",
  "we",
  "want",
  "need",
  "find",
  "some",
  "any",
  "which",
  "what",
  "can",
]);

/**
 * Words ending in "s" that are not plurals (or whose singular is another word): `news` is not `new`,
 * `series` not `sery`. Checked before the plural rules.
 */
const UNSTEMMED = new Set([
  "news",
  "series",
  "species",
  "means",
  "lens",
  "physics",
  "mathematics",
  "linguistics",
  "economics",
  "genomics",
  "robotics",
  "analytics",
  "ethics",
  "politics",
  "diabetes",
  "herpes",
  "mumps",
  "measles",
  "biceps",
  "chaos",
  "glasses",
  "thanks",
  "aids",
  "alias",
  "atlas",
  "canvas",
  "corpus",
  "focus",
  "status",
  "virus",
  "bonus",
  "census",
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
  const folded = ascii
    ? text.toLowerCase()
    : text
        .normalize("NFKD")
        .replace(/\p{M}+/gu, "")
        .toLowerCase();
  const tokens = folded.split(ascii ? /[^a-z0-9]+/ : /[^\p{L}\p{N}]+/u);
  return tokens.filter((t) => t.length > 0).map((t) => t.slice(0, MAX_TOKEN_LENGTH));
}

/**
 * A light plural stemmer (Harman's S-stemmer): conservative, so it never merges unrelated words.
 * @example stem("signals") // "signal"; stem("studies") // "study"; stem("class") // "class"
 */
export function stem(token: string): string {
  if (token.length <= 3 || /\d/.test(token) || UNSTEMMED.has(token)) return token;
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

/**
 * Splits compound model names into their words and keeps the compound: camel case (`MobileBERT` → `mobile bert`,
 * `CodeBERTaPy` → `code berta py`), plus each pair of adjacent parts joined (`codeberta`, `bertapy`), so a user
 * typing either the whole name, a part, or a prefix of it finds the model.
 * @example compoundWords("CodeBERTaPy") // ["codebertapy", "code", "berta", "py", "codeberta", "bertapy"]
 */
export function compoundWords(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/[^\p{L}\p{N}]+/u)) {
    if (raw === "") continue;
    const parts = raw
      .replace(/(\p{Ll})(\p{Lu})/gu, "$1 $2")
      .split(" ")
      .map((p) => p.toLowerCase());
    if (parts.length < 2) continue;
    out.push(raw.toLowerCase(), ...parts);
    for (let i = 0; i + 2 <= parts.length; i++) out.push((parts[i] ?? "") + (parts[i + 1] ?? ""));
  }
  return out;
}

const MAX_SUMMARY = 240;

/**
 * A one-line summary of a Markdown body: its first paragraph of prose. Fenced code (even with blank lines in
 * it), HTML comments, headings, tables and images are skipped; a heading followed by prose in the same paragraph
 * gives that prose; emphasis marks are removed but identifiers keep their underscores (`from_pretrained`); HTML
 * tags such as `<br>` are removed whole.
 * @example summarizeMarkdown("# Title\nDetects **fraud** with `from_pretrained`.\n") // "Detects fraud with from_pretrained."
 */
export function summarizeMarkdown(body: string): string {
  const text = body
    .replace(/^[ \t]*(```|~~~)[^\n]*\n[\s\S]*?(?:^[ \t]*\1[ \t]*$|(?![\s\S]))/gm, "\n")
    .replace(/<!--[\s\S]*?(?:-->|$)/g, "\n");
  for (const paragraph of text.split(/\r?\n[ \t]*\r?\n/)) {
    const lines = paragraph
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(
        (l) =>
          l !== "" && !/^(#|\||!\[|<\/?(?:img|div|p|figure|a|center|details|summary|table)\b|-{3,}$|={3,}$)/i.test(l),
      );
    const prose = lines.join(" ");
    const plain = plainText(prose);
    if (plain.length >= 3 && /\p{L}/u.test(plain))
      return plain.length <= MAX_SUMMARY ? plain : `${plain.slice(0, MAX_SUMMARY - 1)}…`;
  }
  return "";
}

function plainText(markdown: string): string {
  return markdown
    .replace(/<br\s*\/?>/gi, " ")
    .replace(/<\/?[a-z][^>]*>/gi, "")
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/(\*{1,3}|`+)/g, "")
    .replace(/(^|[^\p{L}\p{N}])_{1,3}(?=\S)|(?<=\S)_{1,3}(?=$|[^\p{L}\p{N}_])/gu, "$1")
    .replace(/^>\s*/, "")
    .replace(/\s+/g, " ")
    .trim();
}

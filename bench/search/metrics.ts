/** Graded relevance of card ids for one query (missing ids are grade 0). */
export type Judgments = Record<string, number>;

/**
 * Normalised discounted cumulative gain at `k`, with gain `2^grade - 1`.
 * @example ndcgAt([3, 7], { "3": 3, "7": 1 }, 10) // 1
 */
export function ndcgAt(ranked: readonly number[], judgments: Judgments, k: number): number {
  const dcg = (grades: readonly number[]) =>
    grades.slice(0, k).reduce((s, g, i) => s + (2 ** g - 1) / Math.log2(i + 2), 0);
  const ideal = dcg(Object.values(judgments).sort((a, b) => b - a));
  return ideal === 0 ? 0 : dcg(ranked.map((id) => judgments[String(id)] ?? 0)) / ideal;
}

/**
 * Reciprocal rank of the first hit with grade at least `minGrade` (0 if none).
 * @example reciprocalRank([5, 3], { "3": 3 }, 2) // 0.5
 */
export function reciprocalRank(ranked: readonly number[], judgments: Judgments, minGrade: number): number {
  const i = ranked.findIndex((id) => (judgments[String(id)] ?? 0) >= minGrade);
  return i < 0 ? 0 : 1 / (i + 1);
}

/** Arithmetic mean (0 for an empty list). */
export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

import { createHash } from "node:crypto";
import { type Archetype, ARCHETYPES, FILLER, LICENSES, ORGS } from "./archetypes";
import { seededRandom } from "../../src/core/random";

/** The hidden attributes a card was generated from: what relevance judgments are computed from. */
export interface CardAttributes {
  topic: string;
  domain: Archetype["domain"];
  task: string;
  library: string;
  license: string;
  facet?: { name: string; value: string };
}

/** A generated card with its ground truth and on-chain extras. */
export interface SyntheticCard {
  /** 1-based; also the model id when indexed. */
  id: number;
  attributes: CardAttributes;
  markdown: string;
  /** Supported modes bitmask. */
  modes: number;
  /** Settled paid jobs per mode (index = mode). */
  usage: [number, number, number];
  publishedAt: number;
}

const FACET_WORDS: Record<string, string[]> = {
  en: ["English"],
  de: ["German", "Deutsch"],
  fr: ["French", "français"],
  es: ["Spanish", "español"],
  zh: ["Chinese", "Mandarin"],
  ar: ["Arabic"],
  multilingual: ["multilingual", "100+ languages"],
  equities: ["equities", "stocks", "S&P 500"],
  crypto: ["crypto", "bitcoin", "cryptocurrency"],
  fx: ["forex", "currency pairs"],
  futures: ["futures", "commodities"],
  xray: ["X-ray", "radiograph"],
  mri: ["MRI", "magnetic resonance"],
  ct: ["CT", "computed tomography"],
};
const VARIANTS = ["", "", "-v2", "-base", "-large", "-small", "-ft", "-2024", "-int8", "-distilled"];

/** Deterministic PRNG (mulberry32), shared: see src/core/random.ts. */
export const rng = seededRandom;

/**
 * Generates `count` model cards deterministically from `seed`, cycling through the archetypes.
 * @example const cards = generateCorpus(360, 42);
 */
export function generateCorpus(count: number, seed: number): SyntheticCard[] {
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const cards: SyntheticCard[] = [];
  for (let i = 0; i < count; i++) {
    const archetype = ARCHETYPES[i % ARCHETYPES.length] as Archetype;
    cards.push(generateCard(i + 1, archetype, random, pick));
  }
  return cards;
}

function generateCard(id: number, a: Archetype, random: () => number, pick: <T>(xs: readonly T[]) => T): SyntheticCard {
  const facetValue = a.facet === undefined ? undefined : pick(a.facet.values);
  const facetWord = facetValue === undefined ? undefined : pick(FACET_WORDS[facetValue] ?? [facetValue]);
  const library = pick(a.libraries);
  const license = pick(LICENSES);
  const suffix = facetValue !== undefined && facetValue !== "xray" && random() < 0.5 ? `-${facetValue}` : "";
  const name = `${pick(ORGS)}/${pick(a.stems)}${suffix}${pick(VARIANTS)}`;
  const tags = pickTags(a, random, pick);
  if (facetValue !== undefined && random() < 0.6) tags.push(facetValue === "xray" ? "x-ray" : facetValue);
  const [first, second] = shuffle([...a.phrases], random);
  const facetSentence = facetWord === undefined ? "" : ` ${facetSentenceFor(a.facet?.name, facetWord)}`;
  const datasets = shuffle([...a.datasets], random).slice(0, 1 + Math.floor(random() * 2));
  const front = [
    "---",
    `name: ${name}`,
    `task: ${a.task}`,
    `license: ${license}`,
    `library: ${library}`,
    "tags:",
    ...tags.map((t) => `  - ${t}`),
    "datasets:",
    ...datasets.map((d) => `  - ${d}`),
    ...(a.bases.length > 0 ? [`base_model: ${pick(a.bases)}`] : []),
    ...(facetValue !== undefined && a.facet?.name === "language" ? [`language: ${facetValue}`] : []),
    "---",
  ];
  const body = [
    `# ${name.split("/")[1]}`,
    "",
    `${first}${facetSentence}`,
    "",
    "## Model description",
    "",
    `${second ?? first} ${pick(FILLER)}`,
    "",
    "## Training data",
    "",
    `Trained on ${datasets.join(" and ")}.`,
    "",
    "## Limitations",
    "",
    pick(FILLER),
    "",
  ];
  const modes = 1 | (random() < 0.4 ? 2 : 0) | (random() < 0.25 ? 4 : 0);
  const usage: [number, number, number] = [0, 1, 2].map((m) =>
    (modes >> m) & 1 ? Math.floor(Math.exp(random() * 8)) - 1 : 0,
  ) as [number, number, number];
  const attributes: CardAttributes = { topic: a.topic, domain: a.domain, task: a.task, library, license };
  if (a.facet !== undefined && facetValue !== undefined) attributes.facet = { name: a.facet.name, value: facetValue };
  return {
    id,
    attributes,
    markdown: [...front, ...body].join("\n"),
    modes,
    usage,
    publishedAt: 1_700_000_000 + Math.floor(random() * 30_000_000),
  };
}

/** Two to four tag groups, one synonym from each: cards of one kind rarely share all their tags. */
function pickTags(a: Archetype, random: () => number, pick: <T>(xs: readonly T[]) => T): string[] {
  const groups = shuffle([...a.tags], random).slice(0, 2 + Math.floor(random() * 3));
  return groups.map((g) => pick(g));
}

function facetSentenceFor(facet: string | undefined, word: string): string {
  if (facet === "language") return `Supports ${word}.`;
  if (facet === "asset") return `Built for ${word} markets.`;
  return `Input modality: ${word}.`;
}

function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
  }
  return xs;
}

/** A digest of a corpus, recorded next to the judgments so a changed generator is noticed. */
export function corpusDigest(cards: readonly SyntheticCard[]): string {
  const hash = createHash("sha256");
  for (const c of cards) hash.update(c.markdown).update("\0");
  return hash.digest("hex");
}

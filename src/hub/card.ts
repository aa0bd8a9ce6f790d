import { parseDocument } from "yaml";
import {
  CardFieldError,
  CardHashMismatchError,
  CardFrontMatterMissingError,
  CardTooLargeError,
  CardYamlError,
} from "./errors";
import { taskOfTag } from "./lexicon";
import { sha256Hex } from "../core/hash";

/** A validated model card: YAML front matter in the style of Hugging Face cards, plus the Markdown body. */
export interface ModelCard {
  name: string;
  /** Task id in kebab case, e.g. `text-classification` (`task` or Hugging Face's `pipeline_tag`). */
  task: string;
  /** License id in lower case, e.g. `apache-2.0` (the first one if the card lists several). */
  license: string;
  /** Every license the card lists, as ids (`license` first); a license filter matches any of them. */
  licenses: string[];
  library: string | undefined;
  tags: string[];
  datasets: string[];
  /** `base_model` (a string or a list in the card). */
  baseModels: string[];
  /** `language`: ISO 639-1 codes in lower case, as given (a string or a list in the card). */
  languages: string[];
  /** Front-matter keys the hub does not interpret, kept verbatim. */
  extra: Record<string, unknown>;
  /** The Markdown after the front matter. */
  body: string;
  /** What was read leniently, as `huggingface_hub` would (a blank line before `---`, a list of licenses...). */
  warnings: string[];
}

/** Options of {@link parseModelCard}. */
export interface ParseModelCardOptions {
  /** Largest accepted card, in UTF-8 bytes. Default 256 KiB. */
  maxBytes?: number;
  /** Name used when the card has no `name` (e.g. the Hugging Face repository id it was copied from). */
  name?: string;
  /**
   * Read a card that lacks a license or a task as `license: unknown` / `task: other`, with a warning, instead of
   * refusing it. Default `false`: at publication the author can still fix the card; {@link verifyModelCard}
   * (cards already on chain, which refusing would only hide) defaults to `true`.
   */
  lenient?: boolean;
}

/** Default size limit of a card. */
export const DEFAULT_MAX_CARD_BYTES = 256 * 1024;

const MAX_STRING = 200;
const MAX_LIST = 64;
const KNOWN_KEYS = new Set([
  "name",
  "task",
  "pipeline_tag",
  "license",
  "library",
  "library_name",
  "tags",
  "datasets",
  "base_model",
  "language",
]);
const DELIMITER = /^---[ \t]*$/;
const CLOSER = /^(?:---|\.\.\.)[ \t]*$/;
const YAML_KEY = /^[A-Za-z_][\w-]*[ \t]*:/;

/** Where the front matter is: its YAML, the body after it, the card line its YAML starts on, and what was odd. */
interface FrontMatter {
  yaml: string;
  body: string;
  firstLine: number;
  warnings: string[];
}

/**
 * Parses and validates a model card. Real Hugging Face cards are read as `huggingface_hub` reads them: a blank
 * line before `---`, `pipeline_tag` for `task`, a list of licenses, a single tag... each with a warning in
 * `card.warnings`, so that a caller can show what was read leniently.
 * @throws {CardTooLargeError | CardFrontMatterMissingError | CardYamlError | CardFieldError}
 * @example
 * const card = parseModelCard("---\nname: finbert\ntask: text-classification\nlicense: mit\n---\n# FinBERT");
 * card.task // "text-classification"
 */
export function parseModelCard(text: string, options: ParseModelCardOptions = {}): ModelCard {
  const max = options.maxBytes ?? DEFAULT_MAX_CARD_BYTES;
  const size = Buffer.byteLength(text, "utf8");
  if (size > max) throw new CardTooLargeError(size, max);
  const front = splitFrontMatter(text, options.lenient === true);
  const meta = parseFrontMatter(front);
  const warnings = [...front.warnings];
  return { ...readFields(meta, options, warnings), body: front.body, warnings };
}

/**
 * Finds the front matter: `---` lines around YAML at the top. Leading blank lines, an opening `--` or `----`,
 * and a missing opening line before `key: value` lines are tolerated with a warning; the YAML is never left in
 * the body. When `lenient`, a card with no front matter at all is read as empty metadata, with a warning.
 */
function splitFrontMatter(text: string, lenient: boolean): FrontMatter {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const warnings: string[] = [];
  let start = 0;
  while (start < lines.length && (lines[start] ?? "").trim() === "") start++;
  if (start > 0 && start < lines.length)
    warnings.push(`${start} blank line(s) before the opening \`---\` were ignored`);
  const first = lines[start] ?? "";
  let open = start + 1;
  if (!DELIMITER.test(first)) {
    if (/^-{2,}[ \t]*$/.test(first))
      warnings.push(`the front matter opens with \`${first.trim()}\` instead of \`---\``);
    else if (YAML_KEY.test(first)) {
      open = start;
      warnings.push("the front matter has no opening `---` line; the lines before the first `---` were read as YAML");
    } else if (lenient) {
      // huggingface_hub reads a card without metadata as empty metadata and the whole text as its body.
      return {
        yaml: "",
        body: lines.join("\n"),
        firstLine: 1,
        warnings: ["the card has no front matter; read as empty metadata"],
      };
    } else throw new CardFrontMatterMissingError();
  }
  let close = open;
  while (close < lines.length && !CLOSER.test(lines[close] ?? "")) close++;
  if (close >= lines.length) throw new CardFrontMatterMissingError();
  return {
    yaml: lines.slice(open, close).join("\n"),
    body: lines.slice(close + 1).join("\n"),
    firstLine: open + 1,
    warnings,
  };
}

/** Parses the YAML of the front matter into a plain object; line numbers refer to the whole card. */
function parseFrontMatter(front: FrontMatter): Record<string, unknown> {
  let doc = parseDocument(front.yaml, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error !== undefined) {
    const repaired = indentQuotedContinuations(front.yaml);
    const retry =
      repaired === undefined ? undefined : parseDocument(repaired.yaml, { uniqueKeys: true, prettyErrors: true });
    if (retry === undefined || retry.errors.length > 0 || repaired === undefined) {
      const pos = error.linePos?.[0];
      throw new CardYamlError((pos?.line ?? 1) + front.firstLine - 1, pos?.col ?? 1, error);
    }
    doc = retry;
    front.warnings.push(
      `a quoted string continues at column 0 (line ${repaired.line + front.firstLine - 1}); read as one string`,
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (cause) {
    throw new CardYamlError(front.firstLine, 1, cause);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value))
    throw new CardFieldError("(front matter)", "must be a mapping");
  return value as Record<string, unknown>;
}

/**
 * PyYAML reads a quoted scalar whose continuation lines start at column 0; the YAML 1.2 parser does not. Indents
 * such lines under the key that opened the string. Returns `undefined` if nothing was changed.
 */
function indentQuotedContinuations(yaml: string): { yaml: string; line: number } | undefined {
  const lines = yaml.split("\n");
  let quote: string | undefined;
  let pad = "";
  let firstFixed = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (quote === undefined) {
      const m = /^(\s*(?:-\s+)*)((?:[^:#"']+:\s+)?)(["'])(.*)$/.exec(line);
      if (m !== null && !closes(m[4] ?? "", m[3] ?? "")) {
        quote = m[3];
        pad = " ".repeat((m[1] ?? "").length + 2);
      }
      continue;
    }
    if (/^\S/.test(line)) {
      lines[i] = pad + line;
      if (firstFixed < 0) firstFixed = i + 1;
    }
    if (closes(line, quote)) quote = undefined;
  }
  return firstFixed < 0 ? undefined : { yaml: lines.join("\n"), line: firstFixed };
}

function closes(rest: string, quote: string): boolean {
  const unescaped = quote === '"' ? rest.replace(/\\./g, "") : rest.replace(/''/g, "");
  return unescaped.includes(quote);
}

function readFields(
  meta: Record<string, unknown>,
  options: ParseModelCardOptions,
  warnings: string[],
): Omit<ModelCard, "body" | "warnings"> {
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) if (!KNOWN_KEYS.has(key)) extra[key] = value;
  const library = optionalString(meta, "library") ?? optionalString(meta, "library_name");
  const tags = stringList(meta, "tags", warnings);
  const licenses = [
    ...new Set(licensesOf(meta, options, warnings).map((l, i) => identifier(i === 0 ? "license" : `license[${i}]`, l))),
  ];
  return {
    name: nameOf(meta, options, warnings),
    task: identifier("task", taskOf(meta, tags, options, warnings)),
    license: licenses[0]!,
    licenses,
    library: library === undefined ? undefined : library.toLowerCase(),
    tags,
    datasets: stringList(meta, "datasets", warnings),
    baseModels: stringList(meta, "base_model", warnings),
    languages: stringList(meta, "language", warnings).map((l) => l.toLowerCase()),
    extra,
  };
}

function nameOf(meta: Record<string, unknown>, options: ParseModelCardOptions, warnings: string[]): string {
  const name =
    optionalString(meta, "name") ?? (options.name === undefined ? undefined : checkedString("name", options.name));
  if (name !== undefined) return name;
  const indexed = modelIndex(meta)?.name;
  if (typeof indexed === "string" && indexed.trim() !== "") {
    warnings.push("no `name`: the name of the first `model-index` entry is used");
    return checkedString("name", indexed);
  }
  throw new CardFieldError("name", "is required (add `name: <org>/<model>` to the front matter)");
}

/** `task`, else `pipeline_tag`, else the task of the first `model-index` result, else a tag naming a task. */
function taskOf(
  meta: Record<string, unknown>,
  tags: readonly string[],
  options: ParseModelCardOptions,
  warnings: string[],
): string {
  const given = optionalString(meta, "task") ?? optionalString(meta, "pipeline_tag");
  if (given !== undefined) return given;
  const results = modelIndex(meta)?.results;
  const fromIndex = Array.isArray(results)
    ? (results[0] as { task?: { type?: unknown } } | undefined)?.task?.type
    : undefined;
  if (typeof fromIndex === "string" && fromIndex.trim() !== "") {
    warnings.push(`no \`pipeline_tag\`: the task \`${fromIndex}\` of \`model-index\` is used`);
    return fromIndex;
  }
  for (const tag of tags) {
    const task = taskOfTag(tag);
    if (task !== undefined) {
      warnings.push(`no \`pipeline_tag\`: the task \`${task}\` is taken from the tag \`${tag}\``);
      return task;
    }
  }
  if (options.lenient === true) {
    warnings.push("no `pipeline_tag` and no tag naming a task: indexed under the task `other`");
    return "other";
  }
  throw new CardFieldError(
    "task",
    "is required (add `pipeline_tag: <task>`, e.g. `pipeline_tag: text-classification`)",
  );
}

/** `license` as a string or a list (Hugging Face accepts a list); never empty. */
function licensesOf(meta: Record<string, unknown>, options: ParseModelCardOptions, warnings: string[]): string[] {
  const value = meta.license;
  if (Array.isArray(value) && value.length > 0) {
    if (value.length > MAX_LIST) throw new CardFieldError("license", `must list at most ${MAX_LIST} licenses`);
    return value.map((item: unknown, i) => {
      if (typeof item !== "string")
        throw new CardFieldError(i === 0 ? "license" : `license[${i}]`, "must be a string or a list of strings");
      return checkedString("license", item);
    });
  }
  const license = Array.isArray(value) ? undefined : optionalString(meta, "license");
  if (license !== undefined) return [license];
  if (options.lenient === true) {
    warnings.push("no `license`: indexed with the license `unknown`");
    return ["unknown"];
  }
  throw new CardFieldError("license", "is required (add `license: <id>`, e.g. `license: apache-2.0`)");
}

function modelIndex(meta: Record<string, unknown>): Record<string, unknown> | undefined {
  const index = meta["model-index"];
  const first: unknown = Array.isArray(index) ? index[0] : undefined;
  return typeof first === "object" && first !== null ? (first as Record<string, unknown>) : undefined;
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
  if (!/^[a-z0-9][a-z0-9.+-]*$/.test(id))
    throw new CardFieldError(field, `must be an identifier like "text-classification", got "${value}"`);
  return id;
}

/**
 * A list of strings. A single string is a one-element list (as Hugging Face reads it); a number is read as
 * text; an entry written `name: description` (a one-key mapping, a common slip in `datasets`) is read as that
 * text. Each leniency adds a warning.
 */
function stringList(meta: Record<string, unknown>, field: string, warnings: string[]): string[] {
  const value = meta[field];
  if (value === undefined || value === null) return [];
  if (typeof value === "string") {
    if (field === "tags") warnings.push("`tags` is a single string; read as a list of one tag");
    return [checkedString(field, value)];
  }
  if (!Array.isArray(value)) throw new CardFieldError(field, `must be a list of strings, got ${describe(value)}`);
  if (value.length > MAX_LIST) throw new CardFieldError(field, `must have at most ${MAX_LIST} entries`);
  return value
    .filter((item: unknown) => item !== null)
    .map((item: unknown, i) => checkedString(`${field}[${i}]`, listItem(field, i, item, warnings)));
}

function listItem(field: string, i: number, item: unknown, warnings: string[]): string {
  if (typeof item === "string") return item;
  if (typeof item === "number") return String(item);
  const entries = typeof item === "object" && item !== null && !Array.isArray(item) ? Object.entries(item) : [];
  const [key, text] = entries[0] ?? [];
  if (field !== "tags" && entries.length === 1 && typeof text === "string") {
    warnings.push(`\`${field}[${i}]\` is written \`${String(key)}: ${text}\` (a mapping); read as that text`);
    return `${String(key)}: ${text}`;
  }
  throw new CardFieldError(`${field}[${i}]`, `must be a string, got ${describe(item)}`);
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
  return sha256Hex(text);
}

/**
 * Parses a card fetched by CID after checking it is the card published on chain. Leniently by default (see
 * {@link ParseModelCardOptions.lenient}): the card can no longer be changed, and refusing it would hide the model.
 * @throws {CardHashMismatchError} if its SHA-256 differs from `cardHash`; otherwise as {@link parseModelCard}.
 * @example const card = verifyModelCard(text, event.cardHash);
 */
export function verifyModelCard(text: string, cardHash: string, options: ParseModelCardOptions = {}): ModelCard {
  const actual = cardHashOf(text);
  if (actual !== cardHash.toLowerCase()) throw new CardHashMismatchError(cardHash.toLowerCase(), actual);
  return parseModelCard(text, { lenient: true, ...options });
}

/**
 * Byte-level BPE, the GPT-2 scheme llama.cpp runs for a GGUF with `tokenizer.ggml.model = "gpt2"` and
 * `tokenizer.ggml.pre = "gpt-2"`: text is split by the GPT-2 pre-tokenizer pattern, each piece's UTF-8 bytes are
 * mapped to printable characters ({@link byteToUnicode}), and merges are applied lowest rank first. Tokens and
 * merges are stored in that printable form, so a vocabulary trained here is the one llama.cpp tokenizes with.
 */
import { InputError } from "../../core/errors";

/** The GPT-2 pre-tokenizer pattern (llama.cpp's `LLAMA_VOCAB_PRE_TYPE_GPT2`). */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** The end-of-text token, the only special token of a vocabulary trained here. */
export const END_OF_TEXT = "<|endoftext|>";

/** A trained byte-level BPE vocabulary: 256 byte tokens, one token per merge, then the special tokens. */
export interface BpeVocabulary {
  /** Every token in printable form, by id. */
  tokens: string[];
  /** Merges in rank order, each `"left right"` in printable form. */
  merges: string[];
  /** Ids of control tokens (never produced by {@link BpeTokenizer.encode}). */
  special: number[];
}

let byteTable: string[] | undefined;

/**
 * GPT-2's reversible map from a byte to a printable character: printable Latin-1 bytes map to themselves, the
 * other 68 to U+0100 and up (so a space is `Ġ`, a newline `Ċ`).
 */
export function byteToUnicode(): readonly string[] {
  if (byteTable !== undefined) return byteTable;
  const table = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : next++);
  }
  byteTable = table;
  return table;
}

/** Splits `text` into the pieces merges never cross. */
export function pretokenize(text: string): string[] {
  return text.match(GPT2_PATTERN) ?? [];
}

/** A piece's UTF-8 bytes as printable characters. */
function printable(piece: string): string[] {
  const table = byteToUnicode();
  return Array.from(Buffer.from(piece, "utf8"), (b) => table[b]!);
}

/**
 * Learns `merges` merges from `text` (ties broken by the pair's first occurrence order, so training is
 * deterministic) and returns the vocabulary with {@link END_OF_TEXT} as its last token.
 *
 * @example
 * const vocab = trainBpe("the cat sat on the mat", 10);
 * new BpeTokenizer(vocab).decode(new BpeTokenizer(vocab).encode("the mat")) // "the mat"
 */
export function trainBpe(text: string, merges: number): BpeVocabulary {
  if (!Number.isInteger(merges) || merges < 0)
    throw new InputError(`merges must be a non-negative integer, got ${merges}`);
  const counts = new Map<string, number>();
  for (const piece of pretokenize(text)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  const words = [...counts].map(([piece, count]) => ({ symbols: printable(piece), count }));
  const tokens = [...byteToUnicode()];
  const learned: string[] = [];
  for (let m = 0; m < merges; m++) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words)
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    let best: string | undefined;
    let bestCount = 1;
    for (const [key, count] of pairs)
      if (count > bestCount) {
        best = key;
        bestCount = count;
      }
    if (best === undefined) break;
    const [left, right] = best.split(" ") as [string, string];
    for (const word of words) word.symbols = mergePair(word.symbols, left, right);
    learned.push(best);
    tokens.push(left + right);
  }
  tokens.push(END_OF_TEXT);
  return { tokens, merges: learned, special: [tokens.length - 1] };
}

function mergePair(symbols: string[], left: string, right: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      out.push(left + right);
      i++;
    } else out.push(symbols[i]!);
  }
  return out;
}

/**
 * Encodes and decodes with a {@link BpeVocabulary}.
 *
 * @example
 * const tokenizer = new BpeTokenizer(vocab);
 * tokenizer.decode(tokenizer.encode("Call me Ishmael.")) // "Call me Ishmael."
 */
export class BpeTokenizer {
  private readonly ids = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();
  private readonly bytesOf = new Map<string, number>();

  constructor(readonly vocabulary: BpeVocabulary) {
    vocabulary.tokens.forEach((token, id) => {
      if (!this.ids.has(token)) this.ids.set(token, id);
    });
    vocabulary.merges.forEach((merge, rank) => this.ranks.set(merge, rank));
    byteToUnicode().forEach((char, byte) => this.bytesOf.set(char, byte));
  }

  /** Number of tokens. */
  get size(): number {
    return this.vocabulary.tokens.length;
  }

  /** The token ids of `text` (no special tokens added). */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const piece of pretokenize(text)) out.push(...this.encodePiece(piece));
    return out;
  }

  /** The text of `ids`; control tokens decode to nothing, invalid UTF-8 to U+FFFD. */
  decode(ids: readonly number[]): string {
    return Buffer.from(this.bytes(ids)).toString("utf8");
  }

  /** The raw bytes of `ids` (a token may hold part of a UTF-8 character). */
  bytes(ids: readonly number[]): Uint8Array {
    const special = new Set(this.vocabulary.special);
    const out: number[] = [];
    for (const id of ids) {
      const token = this.vocabulary.tokens[id];
      if (token === undefined) throw new InputError(`token id ${id} is outside the vocabulary of ${this.size}`);
      if (special.has(id)) continue;
      for (const char of token) out.push(this.bytesOf.get(char)!);
    }
    return Uint8Array.from(out);
  }

  private encodePiece(piece: string): number[] {
    const cached = this.cache.get(piece);
    if (cached !== undefined) return cached;
    let symbols = printable(piece);
    for (;;) {
      let bestRank = Infinity;
      let best = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const rank = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      symbols = mergePair(symbols, symbols[best]!, symbols[best + 1]!);
    }
    const ids = symbols.map((s) => this.ids.get(s)!);
    if (this.cache.size < 65536) this.cache.set(piece, ids);
    return ids;
  }
}

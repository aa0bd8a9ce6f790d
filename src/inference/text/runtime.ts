/**
 * The text-generation runtime: one interface every causal language model is served through, whatever executes it.
 * A {@link TextGenerator} is a loaded model; a {@link TextSession} is one conversation on it, holding a KV cache so a
 * new turn only evaluates the tokens the cache does not already hold. Generation streams tokens as an async iterator
 * and ends with a {@link Generation} (text, tokens, counts, why it stopped).
 *
 * Contract shared by every implementation:
 * - Temperature 0 is greedy decoding and deterministic. Above 0, sampling is seeded: the same `seed`, prompt and
 *   session state give the same tokens.
 * - A stop sequence ends generation; the returned and streamed text never contains it (text that might begin one
 *   is held back until it is known not to). The tokens that formed it are counted.
 * - The end-of-generation token of the model ends generation and is neither streamed nor counted.
 * - An aborted `signal` ends generation with {@link GenerationAbortedError} (holding what was generated so far);
 *   the session stays usable, its cache holding every token evaluated before the abort.
 * - Errors are those of `core/errors`: bad requests are {@link InputError}s, bad model files
 *   {@link InputError}s naming the problem, calls on a closed generator or session {@link StateError}s.
 */
import { InputError, StateError, TimeoutError, type BaseErrorOptions } from "../../core/errors";

/** A message of a conversation. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** What to continue: raw text, token ids, or a conversation rendered with the model's chat template. */
export type Prompt = string | readonly number[] | { messages: readonly ChatMessage[] };

/** Options of one generation. */
export interface GenerateOptions {
  /** Most tokens to generate, 1 to the context size. Default 256 (capped by the space left in the context). */
  maxTokens?: number;
  /** 0 (the default) is greedy; otherwise sampling temperature, at most 2. */
  temperature?: number;
  /** Seed of the sampler (ignored at temperature 0). Default 0. */
  seed?: number;
  /** Keep only the `topK` most likely tokens when sampling (0: all). Default 40. */
  topK?: number;
  /** Nucleus sampling threshold in (0, 1]. Default 0.95. */
  topP?: number;
  /** Up to 4 strings that end generation (for chat prompts, added to the chat template's own). */
  stop?: readonly string[];
  signal?: AbortSignal;
}

/** A generation request. */
export interface GenerateRequest extends GenerateOptions {
  prompt: Prompt;
}

/**
 * One streamed step: the token generated (none in a final chunk that only releases held-back text) and the text it
 * released (empty while a character or a possible stop sequence is incomplete). Joining the chunks' `text` gives
 * {@link Generation.text}; concatenating their `tokens` gives {@link Generation.tokens}.
 */
export interface GenerationChunk {
  tokens: number[];
  text: string;
}

/** Why generation ended. */
export type FinishReason = "stop" | "length" | "eos";

/** A finished generation. */
export interface Generation {
  text: string;
  /** Every token generated (those of a stop sequence included). */
  tokens: number[];
  finishReason: FinishReason;
  usage: TokenUsage;
}

/** Token counts of one generation. */
export interface TokenUsage {
  /** Tokens of the prompt. */
  promptTokens: number;
  /** Of those, how many the session's KV cache already held (not evaluated again). */
  cachedTokens: number;
  completionTokens: number;
}

/** What a loaded model is. */
export interface TextModelInfo {
  /** `general.name`, or the file name. */
  name: string;
  /** `general.architecture`, e.g. `llama`. */
  architecture: string;
  /** Context size of the sessions this generator creates. */
  contextSize: number;
  /** Context length the model was trained with. */
  trainContextSize: number;
  vocabSize: number;
  /** Whether the model carries a chat template (otherwise a plain-text template is used). */
  hasChatTemplate: boolean;
}

/** Options of a session. */
export interface SessionOptions {
  /** Tokens its KV cache holds (prompt and generated), 2 to the model's training context. Default the generator's. */
  contextSize?: number;
}

/**
 * One conversation: a KV cache and the tokens in it. Each generation evaluates only the part of its prompt that
 * differs from the cached tokens, so passing the whole conversation every turn costs only the new turn.
 *
 * @example
 * const session = await generator.createSession();
 * const first = await session.generate({ prompt: { messages }, maxTokens: 64 });
 * messages.push({ role: "assistant", content: first.text }, { role: "user", content: "And then?" });
 * const second = await session.generate({ prompt: { messages } }); // second.usage.cachedTokens > 0
 */
export interface TextSession {
  /** Tokens the KV cache holds, in order. */
  readonly tokens: readonly number[];
  /** Most tokens the KV cache can hold. */
  readonly contextSize: number;
  /**
   * Generates, yielding each token as it is produced; the iterator's return value is the {@link Generation}.
   * Only one generation runs at a time in a session.
   */
  stream(request: GenerateRequest): AsyncGenerator<GenerationChunk, Generation, undefined>;
  /** {@link stream} run to the end. */
  generate(request: GenerateRequest): Promise<Generation>;
  /** Empties the KV cache. */
  reset(): Promise<void>;
  /** Frees the cache; the session cannot be used afterwards. Idempotent. */
  close(): Promise<void>;
}

/**
 * A loaded causal language model.
 *
 * @example
 * const generator = await loadTextGenerator({ path: "model.gguf" });
 * for await (const chunk of generator.stream({ prompt: "Call me", maxTokens: 20 })) process.stdout.write(chunk.text);
 * await generator.close();
 */
export interface TextGenerator {
  readonly info: TextModelInfo;
  /** Token ids of `text` (no BOS added; `special` parses control-token text such as `<|endoftext|>`). */
  tokenize(text: string, options?: { special?: boolean }): number[];
  /** Text of `tokens` (control tokens omitted). */
  detokenize(tokens: readonly number[]): string;
  /** The prompt tokens of a conversation, ending where the assistant's reply begins. */
  formatChat(messages: readonly ChatMessage[]): { tokens: number[]; stop: string[] };
  /** A new conversation with its own KV cache. */
  createSession(options?: SessionOptions): Promise<TextSession>;
  /** {@link TextSession.stream} in a new session closed at the end. */
  stream(request: GenerateRequest): AsyncGenerator<GenerationChunk, Generation, undefined>;
  /** {@link TextSession.generate} in a new session closed at the end. */
  generate(request: GenerateRequest): Promise<Generation>;
  /** Frees the model and every session. Idempotent. */
  close(): Promise<void>;
}

/* ERRORS */

/** A generation was aborted through its signal; `partial` is what had been generated. */
export class GenerationAbortedError extends TimeoutError {
  override readonly name = "GenerationAbortedError";
  constructor(
    readonly partial: Generation,
    options: BaseErrorOptions = {},
  ) {
    super(`generation aborted after ${partial.usage.completionTokens} tokens`, options);
  }
}

/** A request a generator cannot run: empty prompt, out-of-range option, prompt longer than the context. */
export class GenerationInputError extends InputError {
  override readonly name = "GenerationInputError";
}

/** A call on a closed generator or session, or a second generation at once in one session. */
export class GeneratorStateError extends StateError {
  override readonly name = "GeneratorStateError";
}

/* REQUEST CHECKS */

/** Most stop sequences per request (the OpenAI API's limit). */
export const MAX_STOP_SEQUENCES = 4;
export const DEFAULT_MAX_TOKENS = 256;

/** A request's options with defaults applied, checked against the context size. */
export interface ResolvedOptions {
  maxTokens: number;
  temperature: number;
  seed: number;
  topK: number;
  topP: number;
  stop: string[];
}

/**
 * Checks the options of a request and applies the defaults.
 *
 * @throws GenerationInputError naming the bad option and its range.
 */
export function resolveOptions(options: GenerateOptions, contextSize: number): ResolvedOptions {
  const maxTokens = options.maxTokens ?? Math.min(DEFAULT_MAX_TOKENS, contextSize);
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > contextSize)
    throw new GenerationInputError(`maxTokens must be an integer from 1 to ${contextSize}, got ${maxTokens}`);
  const temperature = options.temperature ?? 0;
  if (!Number.isFinite(temperature) || temperature < 0 || temperature > 2)
    throw new GenerationInputError(`temperature must be from 0 to 2, got ${temperature}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new GenerationInputError(`seed must be an integer from 0 to 2^32 - 1, got ${seed}`);
  const topK = options.topK ?? 40;
  if (!Number.isInteger(topK) || topK < 0)
    throw new GenerationInputError(`topK must be a non-negative integer, got ${topK}`);
  const topP = options.topP ?? 0.95;
  if (!(topP > 0 && topP <= 1)) throw new GenerationInputError(`topP must be in (0, 1], got ${topP}`);
  const stop = [...(options.stop ?? [])];
  if (stop.length > MAX_STOP_SEQUENCES || stop.some((s) => typeof s !== "string" || s.length === 0))
    throw new GenerationInputError(`stop must be at most ${MAX_STOP_SEQUENCES} non-empty strings`);
  return { maxTokens, temperature, seed, topK, topP, stop };
}

/* STOP SEQUENCES */

/**
 * Streams text through a set of stop sequences: {@link push} returns the text that can be released (no stop
 * sequence can still begin in it) and whether a stop sequence completed; {@link flush} releases the rest.
 *
 * @example
 * const stops = new StopScanner(["\n\n"]);
 * stops.push("Call me\n") // { text: "Call me", stopped: false }
 * stops.push("\nIshmael") // { text: "", stopped: true }
 */
export class StopScanner {
  private pending = "";
  /** Everything released so far. */
  released = "";

  constructor(private readonly stops: readonly string[]) {}

  push(text: string): { text: string; stopped: boolean } {
    this.pending += text;
    let cut = -1;
    for (const stop of this.stops) {
      const at = this.pending.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const out = this.pending.slice(0, cut);
      this.pending = "";
      this.released += out;
      return { text: out, stopped: true };
    }
    const keep = this.heldBack();
    const out = this.pending.slice(0, this.pending.length - keep);
    this.pending = this.pending.slice(this.pending.length - keep);
    this.released += out;
    return { text: out, stopped: false };
  }

  flush(): string {
    const out = this.pending;
    this.pending = "";
    this.released += out;
    return out;
  }

  /** Length of the longest suffix of the pending text that is a proper prefix of a stop sequence. */
  private heldBack(): number {
    let keep = 0;
    for (const stop of this.stops)
      for (let n = Math.min(stop.length - 1, this.pending.length); n > keep; n--)
        if (this.pending.endsWith(stop.slice(0, n))) {
          keep = n;
          break;
        }
    return keep;
  }
}

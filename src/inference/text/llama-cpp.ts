/**
 * {@link TextGenerator} on node-llama-cpp 3.21.1: GGUF models run by llama.cpp on the CPU, from the prebuilt binary
 * shipped inside the npm package. It never builds or downloads anything: `getLlama` is called with `build: "never"`,
 * `usePrebuiltBinaries: true`, `skipDownload: true` and `gpu: false`, so a machine without a matching prebuilt binary
 * gets an error instead of a compiler run.
 */
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type * as NodeLlamaCpp from "node-llama-cpp";
import { importEsm } from "../../core/esm";
import { BaseError, InputError } from "../../core/errors";
import { GGUF_MAGIC, readGguf } from "./gguf";
import {
  GenerationAbortedError,
  GenerationInputError,
  GeneratorStateError,
  StopScanner,
  resolveOptions,
  type ChatMessage,
  type FinishReason,
  type GenerateRequest,
  type Generation,
  type GenerationChunk,
  type Prompt,
  type SessionOptions,
  type TextGenerator,
  type TextModelInfo,
  type TextSession,
} from "./runtime";

type Llama = NodeLlamaCpp.Llama;
type LlamaModel = NodeLlamaCpp.LlamaModel;
type LlamaContext = NodeLlamaCpp.LlamaContext;
type LlamaContextSequence = NodeLlamaCpp.LlamaContextSequence;
type ChatWrapper = NodeLlamaCpp.ChatWrapper;

/** Where the model comes from: a GGUF file on disk, or its bytes (written to a private temporary file to load). */
export type ModelSource = { path: string } | { bytes: Uint8Array; name?: string };

export interface LoadTextGeneratorOptions {
  /** Context size of every session. Default the model's training context, at most 4096. */
  contextSize?: number;
  /**
   * CPU threads per evaluation. Default 1: llama.cpp's threads spin while they wait for each other, and when the
   * cores are busy with other work that stalls every step (measured here with the bundled model on 2 shared cores:
   * about 1 token/s with 2 threads, about 2,000 tokens/s with 1). Raise it on a machine with cores to spare.
   */
  threads?: number;
}

/** Raised when node-llama-cpp cannot load a model file, or its native binary cannot be loaded. */
export class ModelLoadError extends InputError {
  override readonly name = "ModelLoadError";
}

let llamaPromise: Promise<Llama> | undefined;

/** The process's llama.cpp binding, loaded once from the prebuilt binary; never built or downloaded. */
export function loadLlamaBinding(): Promise<Llama> {
  llamaPromise ??= (async () => {
    const { getLlama } = await importEsm<typeof NodeLlamaCpp>("node-llama-cpp");
    try {
      return await getLlama({
        gpu: false,
        build: "never",
        usePrebuiltBinaries: true,
        skipDownload: true,
        progressLogs: false,
        logLevel: "error" as NodeLlamaCpp.LlamaLogLevel,
      });
    } catch (cause) {
      llamaPromise = undefined;
      throw new ModelLoadError("node-llama-cpp has no usable prebuilt CPU binary for this machine", {
        cause,
        details: "it is never built or downloaded at run time: reinstall node-llama-cpp@3.21.1 with npm ci",
      });
    }
  })();
  return llamaPromise;
}

/**
 * Loads a GGUF model. Bytes are checked by the GGUF reader first (a non-GGUF or truncated file is refused with a
 * message saying so); a path is checked for the GGUF magic, the rest is left to llama.cpp.
 *
 * @throws GgufFormatError, UnsupportedError, ModelLoadError.
 * @example
 * const generator = await loadTextGenerator({ bytes: mobyDickLlama().gguf });
 * const { text } = await generator.generate({ prompt: "Call me Ishmael.", maxTokens: 32 });
 */
export async function loadTextGenerator(
  source: ModelSource,
  options: LoadTextGeneratorOptions = {},
): Promise<TextGenerator> {
  const llama = await loadLlamaBinding();
  if ("bytes" in source) {
    readGguf(source.bytes);
    const dir = await mkdtemp(path.join(tmpdir(), "vin-gguf-"));
    const file = path.join(dir, "model.gguf");
    try {
      await writeFile(file, source.bytes, { mode: 0o600 });
      return await LlamaCppGenerator.load(llama, file, source.name, options);
    } finally {
      // The model is read into memory (no mmap), so the file is not needed once loaded.
      await rm(dir, { recursive: true, force: true });
    }
  }
  await checkMagic(source.path);
  return LlamaCppGenerator.load(llama, source.path, undefined, options);
}

async function checkMagic(file: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch (cause) {
    throw new ModelLoadError(`cannot open model file ${file}`, { cause });
  }
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    if (bytesRead < 4 || head.readUInt32LE(0) !== GGUF_MAGIC)
      throw new ModelLoadError(`${file} is not a GGUF file: it does not start with the magic bytes GGUF`);
  } finally {
    await handle.close();
  }
}

class LlamaCppGenerator implements TextGenerator {
  private closed = false;
  private readonly sessions = new Set<LlamaCppSession>();

  private constructor(
    readonly llamaModel: LlamaModel,
    readonly info: TextModelInfo,
    private readonly chatWrapper: ChatWrapper,
    private readonly threads: number,
  ) {}

  static async load(llama: Llama, file: string, name: string | undefined, options: LoadTextGeneratorOptions) {
    const { resolveChatWrapper } = await importEsm<typeof NodeLlamaCpp>("node-llama-cpp");
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: file, gpuLayers: 0, useMmap: false });
    } catch (cause) {
      throw new ModelLoadError(`llama.cpp cannot load the model ${name ?? file}`, { cause });
    }
    const trainContextSize = model.trainContextSize;
    const contextSize = options.contextSize ?? Math.min(trainContextSize, 4096);
    if (!Number.isInteger(contextSize) || contextSize < 2) {
      await model.dispose();
      throw new GenerationInputError(`contextSize must be an integer of at least 2, got ${contextSize}`);
    }
    const meta = model.fileInfo.metadata as { general?: { name?: string; architecture?: string } } | undefined;
    const template = (model.fileInfo.metadata as { tokenizer?: { chat_template?: string } }).tokenizer?.chat_template;
    const info: TextModelInfo = {
      name: name ?? meta?.general?.name ?? path.basename(file),
      architecture: meta?.general?.architecture ?? "unknown",
      contextSize,
      trainContextSize,
      vocabSize: vocabSizeOf(model),
      hasChatTemplate: typeof template === "string" && template.length > 0,
    };
    const wrapper = resolveChatWrapper(model, { warningLogs: false });
    const threads = options.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) {
      await model.dispose();
      throw new GenerationInputError(`threads must be a positive integer, got ${threads}`);
    }
    return new LlamaCppGenerator(model, info, wrapper, threads);
  }

  tokenize(text: string, options: { special?: boolean } = {}): number[] {
    this.assertOpen();
    return this.llamaModel.tokenize(text, options.special ?? false) as number[];
  }

  detokenize(tokens: readonly number[]): string {
    this.assertOpen();
    return this.llamaModel.detokenize(tokens as NodeLlamaCpp.Token[], false);
  }

  formatChat(messages: readonly ChatMessage[]): { tokens: number[]; stop: string[] } {
    this.assertOpen();
    if (messages.length === 0) throw new GenerationInputError("a chat prompt needs at least one message");
    const chatHistory: NodeLlamaCpp.ChatHistoryItem[] = messages.map((m) => {
      if (!["system", "user", "assistant"].includes(m.role) || typeof m.content !== "string")
        throw new GenerationInputError(`a chat message needs a role (system, user, assistant) and text content`);
      return m.role === "assistant" ? { type: "model", response: [m.content] } : { type: m.role, text: m.content };
    });
    chatHistory.push({ type: "model", response: [] });
    const state = this.chatWrapper.generateContextState({ chatHistory });
    const tokens = state.contextText.tokenize(this.llamaModel.tokenizer) as number[];
    const stop = state.stopGenerationTriggers.flatMap((trigger) =>
      trigger.values.every((v) => typeof v === "string") ? [trigger.values.join("")] : [],
    );
    return { tokens, stop: stop.filter((s) => s.trim().length > 0) };
  }

  async createSession(options: SessionOptions = {}): Promise<TextSession> {
    this.assertOpen();
    const contextSize = options.contextSize ?? this.info.contextSize;
    if (!Number.isInteger(contextSize) || contextSize < 2 || contextSize > this.info.trainContextSize)
      throw new GenerationInputError(
        `contextSize must be an integer from 2 to ${this.info.trainContextSize}, got ${contextSize}`,
      );
    const context = await this.llamaModel.createContext({
      contextSize,
      sequences: 1,
      threads: this.threads,
    });
    const session = new LlamaCppSession(this, context, context.getSequence(), () => this.sessions.delete(session));
    this.sessions.add(session);
    return session;
  }

  async *stream(request: GenerateRequest): AsyncGenerator<GenerationChunk, Generation, undefined> {
    const session = await this.createSession();
    try {
      return yield* session.stream(request);
    } finally {
      await session.close();
    }
  }

  async generate(request: GenerateRequest): Promise<Generation> {
    const session = await this.createSession();
    try {
      return await session.generate(request);
    } finally {
      await session.close();
    }
  }

  /** Prompt tokens and the stop sequences the prompt's format adds. */
  promptTokens(prompt: Prompt): { tokens: number[]; stop: string[] } {
    if (typeof prompt === "string") return { tokens: this.tokenize(prompt), stop: [] };
    if (Array.isArray(prompt)) {
      const vocab = this.info.vocabSize;
      for (const t of prompt as readonly number[])
        if (!Number.isInteger(t) || t < 0 || (vocab > 0 && t >= vocab))
          throw new GenerationInputError(`prompt token ${t} is outside the vocabulary of ${vocab}`);
      return { tokens: [...(prompt as readonly number[])], stop: [] };
    }
    const messages = (prompt as { messages?: unknown }).messages;
    if (!Array.isArray(messages)) throw new GenerationInputError("a prompt is text, token ids or { messages }");
    return this.formatChat(messages as ChatMessage[]);
  }

  assertOpen(): void {
    if (this.closed) throw new GeneratorStateError(`the model ${this.info.name} is closed`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const session of [...this.sessions]) await session.close();
    await this.llamaModel.dispose();
  }
}

/** The vocabulary size: rows of the token embedding (node-llama-cpp skips reading the token list). */
function vocabSizeOf(model: LlamaModel): number {
  const embedding = model.fileInfo.tensorInfo?.find((t) => t.name === "token_embd.weight");
  const rows = embedding?.dimensions[1];
  return rows === undefined ? 0 : Number(rows);
}

class LlamaCppSession implements TextSession {
  private closed = false;
  private busy = false;

  constructor(
    private readonly generator: LlamaCppGenerator,
    private readonly context: LlamaContext,
    private readonly sequence: LlamaContextSequence,
    private readonly onClose: () => void,
  ) {}

  get contextSize(): number {
    return this.context.contextSize;
  }

  get tokens(): readonly number[] {
    return this.closed ? [] : (this.sequence.contextTokens as number[]);
  }

  async generate(request: GenerateRequest): Promise<Generation> {
    const iterator = this.stream(request);
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) return next.value;
    }
  }

  async *stream(request: GenerateRequest): AsyncGenerator<GenerationChunk, Generation, undefined> {
    this.assertOpen();
    if (this.busy) throw new GeneratorStateError("this session is already generating: wait for it, or use another");
    this.busy = true;
    try {
      return yield* this.run(request);
    } finally {
      this.busy = false;
    }
  }

  private async *run(request: GenerateRequest): AsyncGenerator<GenerationChunk, Generation, undefined> {
    const contextSize = this.contextSize;
    const options = resolveOptions(request, contextSize);
    const prompt = this.generator.promptTokens(request.prompt);
    if (prompt.tokens.length === 0) throw new GenerationInputError("the prompt is empty: it has no tokens");
    if (prompt.tokens.length >= contextSize)
      throw new GenerationInputError(
        `the prompt has ${prompt.tokens.length} tokens; the context holds ${contextSize}, with room for at least one generated token`,
      );
    const maxTokens = Math.min(options.maxTokens, contextSize - prompt.tokens.length);
    const cachedTokens = await this.reuseCache(prompt.tokens);
    const usage = { promptTokens: prompt.tokens.length, cachedTokens, completionTokens: 0 };
    const stops = new StopScanner([...options.stop, ...prompt.stop]);
    const generated: number[] = [];
    let decoded = 0;
    let finishReason: FinishReason = "eos";
    const result = (): Generation => ({
      text: stops.released,
      tokens: [...generated],
      finishReason,
      usage: { ...usage, completionTokens: generated.length },
    });
    const signal = request.signal;
    if (signal?.aborted) throw new GenerationAbortedError(result(), { cause: signal.reason });
    const evaluation = this.sequence.evaluate(prompt.tokens.slice(cachedTokens) as NodeLlamaCpp.Token[], {
      temperature: options.temperature,
      seed: options.seed,
      topK: options.topK,
      topP: options.topP,
      yieldEogToken: false,
    });
    try {
      for await (const token of evaluation) {
        if (signal?.aborted) throw new GenerationAbortedError(result(), { cause: signal.reason });
        generated.push(token);
        // Decode from the last clean boundary, so a character split over tokens is released whole.
        const piece = this.generator.llamaModel.detokenize(
          generated.slice(decoded) as NodeLlamaCpp.Token[],
          false,
          [...prompt.tokens, ...generated.slice(0, decoded)].slice(-8) as NodeLlamaCpp.Token[],
        );
        let text = "";
        let stopped = false;
        if (!piece.endsWith("\uFFFD")) {
          decoded = generated.length;
          ({ text, stopped } = stops.push(piece));
        }
        if (stopped) {
          finishReason = "stop";
          yield { tokens: [token], text };
          break;
        }
        yield { tokens: [token], text };
        if (generated.length >= maxTokens) {
          finishReason = "length";
          break;
        }
      }
    } catch (error) {
      if (error instanceof BaseError) throw error;
      throw new BaseError("llama.cpp failed while generating", { cause: error });
    } finally {
      await evaluation.return();
    }
    if (finishReason !== "stop") {
      if (decoded < generated.length)
        stops.push(this.generator.llamaModel.detokenize(generated.slice(decoded) as NodeLlamaCpp.Token[], false));
      const rest = stops.flush();
      if (rest.length > 0) yield { tokens: [], text: rest };
    }
    return result();
  }

  /** Drops the cached tokens after the longest prefix shared with `tokens`; returns how many are kept. */
  private async reuseCache(tokens: number[]): Promise<number> {
    const { firstDifferentIndex } = this.sequence.compareContextTokens(tokens as NodeLlamaCpp.Token[]);
    // At least one prompt token is evaluated, so the first generated token comes from fresh logits.
    const keep = Math.min(firstDifferentIndex, tokens.length - 1);
    if (keep < this.sequence.nextTokenIndex)
      await this.sequence.eraseContextTokenRanges([{ start: keep, end: this.sequence.nextTokenIndex }]);
    return keep;
  }

  async reset(): Promise<void> {
    this.assertOpen();
    await this.sequence.clearHistory();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    await this.context.dispose();
  }

  private assertOpen(): void {
    if (this.closed) throw new GeneratorStateError("this session is closed");
    this.generator.assertOpen();
  }
}

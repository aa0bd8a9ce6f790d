/**
 * A {@link LlamaWeights} model and its {@link BpeVocabulary} as a GGUF file llama.cpp loads (architecture `llama`,
 * tokenizer `gpt2`), and back. Weights need no reordering: {@link llamaForward} already uses llama.cpp's RoPE pairing,
 * which is why HF-converted checkpoints need their Q/K rows permuted and these do not.
 */
import { InputError } from "../../core/errors";
import type { BpeVocabulary } from "./bpe";
import {
  readGguf,
  requireMetadata,
  tensorValues,
  writeGguf,
  GgufFormatError,
  type GgufFile,
  type GgufTensorInput,
  type GgufTensorType,
  type GgufValue,
} from "./gguf";
import { BLOCK_TENSORS, blockShape, initLlama, type LlamaBlock, type LlamaConfig, type LlamaWeights } from "./llama";

/** llama.cpp's name of each block tensor. */
export const LLAMA_CPP_NAMES: Record<keyof LlamaBlock, string> = {
  attnNorm: "attn_norm",
  wq: "attn_q",
  wk: "attn_k",
  wv: "attn_v",
  wo: "attn_output",
  ffnNorm: "ffn_norm",
  gate: "ffn_gate",
  up: "ffn_up",
  down: "ffn_down",
};

/** llama.cpp token types. */
const NORMAL = 1;
const CONTROL = 3;

export interface LlamaGgufOptions {
  /** `general.name`. */
  name: string;
  /** Tensor type of the matrices (norms are always F32). Default F32. */
  type?: GgufTensorType;
}

/**
 * The GGUF bytes of a model and its tokenizer.
 *
 * @example
 * writeFileSync("model.gguf", llamaToGguf(weights, vocabulary, { name: "moby-dick-llama" }));
 */
export function llamaToGguf(weights: LlamaWeights, vocabulary: BpeVocabulary, options: LlamaGgufOptions): Uint8Array {
  const { config } = weights;
  if (vocabulary.tokens.length !== config.vocab)
    throw new InputError(`the vocabulary has ${vocabulary.tokens.length} tokens, the model ${config.vocab}`);
  const eot = vocabulary.special[0];
  if (eot === undefined) throw new InputError("the vocabulary has no end-of-text token");
  const special = new Set(vocabulary.special);
  const u32 = (value: number): GgufValue => ({ type: "uint32", value });
  const f32 = (value: number): GgufValue => ({ type: "float32", value });
  const metadata = new Map<string, GgufValue>([
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: options.name }],
    ["general.file_type", u32((options.type ?? "F32") === "F32" ? 0 : 1)],
    ["llama.context_length", u32(config.context)],
    ["llama.embedding_length", u32(config.dim)],
    ["llama.block_count", u32(config.layers)],
    ["llama.feed_forward_length", u32(config.ffn)],
    ["llama.attention.head_count", u32(config.heads)],
    ["llama.attention.head_count_kv", u32(config.heads)],
    ["llama.rope.dimension_count", u32(config.dim / config.heads)],
    ["llama.rope.freq_base", f32(config.ropeBase)],
    ["llama.attention.layer_norm_rms_epsilon", f32(config.normEps)],
    ["llama.vocab_size", u32(config.vocab)],
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
    ["tokenizer.ggml.pre", { type: "string", value: "gpt-2" }],
    ["tokenizer.ggml.tokens", { type: "array", itemType: "string", value: vocabulary.tokens }],
    ["tokenizer.ggml.scores", { type: "array", itemType: "float32", value: vocabulary.tokens.map((_, i) => -i) }],
    [
      "tokenizer.ggml.token_type",
      { type: "array", itemType: "int32", value: vocabulary.tokens.map((_, i) => (special.has(i) ? CONTROL : NORMAL)) },
    ],
    ["tokenizer.ggml.merges", { type: "array", itemType: "string", value: vocabulary.merges }],
    ["tokenizer.ggml.bos_token_id", u32(eot)],
    ["tokenizer.ggml.eos_token_id", u32(eot)],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: false }],
    ["tokenizer.ggml.add_eos_token", { type: "bool", value: false }],
  ]);
  const matrix = options.type ?? "F32";
  const tensor = (name: string, data: Float64Array, [rows, cols]: [number, number], type: GgufTensorType) => ({
    name,
    dims: rows === 1 ? [cols] : [cols, rows],
    type,
    data: Float32Array.from(data),
  });
  const tensors: GgufTensorInput[] = [
    tensor("token_embd.weight", weights.embed, [config.vocab, config.dim], matrix),
    ...weights.blocks.flatMap((block, l) =>
      BLOCK_TENSORS.map((name) => {
        const shape = blockShape(config, name);
        return tensor(`blk.${l}.${LLAMA_CPP_NAMES[name]}.weight`, block[name], shape, shape[0] === 1 ? "F32" : matrix);
      }),
    ),
    tensor("output_norm.weight", weights.outNorm, [1, config.dim], "F32"),
    tensor("output.weight", weights.output, [config.vocab, config.dim], matrix),
  ];
  return writeGguf(metadata, tensors);
}

/** A GGUF written by {@link llamaToGguf} (or any F32/F16 llama GGUF with a gpt2 tokenizer) as weights and vocabulary. */
export function ggufToLlama(bytes: Uint8Array): { weights: LlamaWeights; vocabulary: BpeVocabulary; file: GgufFile } {
  const file = readGguf(bytes);
  const arch = requireMetadata(file, "general.architecture").value;
  if (arch !== "llama") throw new GgufFormatError(`GGUF architecture is ${String(arch)}, not llama`);
  const num = (key: string) => Number(requireMetadata(file, key).value);
  const tokens = requireMetadata(file, "tokenizer.ggml.tokens").value as string[];
  const config: LlamaConfig = {
    vocab: tokens.length,
    dim: num("llama.embedding_length"),
    layers: num("llama.block_count"),
    heads: num("llama.attention.head_count"),
    ffn: num("llama.feed_forward_length"),
    context: num("llama.context_length"),
    ropeBase: num("llama.rope.freq_base"),
    normEps: num("llama.attention.layer_norm_rms_epsilon"),
  };
  const weights = initLlama(config, 0);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const load = (name: string, into: Float64Array) => {
    const t = byName.get(name);
    if (t === undefined) throw new GgufFormatError(`GGUF has no tensor ${name}`);
    const values = tensorValues(t);
    if (values.length !== into.length)
      throw new GgufFormatError(`GGUF tensor ${name} has ${values.length} values, expected ${into.length}`);
    into.set(values);
  };
  load("token_embd.weight", weights.embed);
  weights.blocks.forEach((block, l) => {
    for (const name of BLOCK_TENSORS) load(`blk.${l}.${LLAMA_CPP_NAMES[name]}.weight`, block[name]);
  });
  load("output_norm.weight", weights.outNorm);
  load("output.weight", weights.output);
  const types = requireMetadata(file, "tokenizer.ggml.token_type").value as number[];
  const merges = (file.metadata.get("tokenizer.ggml.merges")?.value ?? []) as string[];
  const special = types.flatMap((type, i) => (type === CONTROL ? [i] : []));
  return { weights, vocabulary: { tokens, merges, special }, file };
}

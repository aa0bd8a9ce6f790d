/**
 * Text generation: the {@link TextGenerator} runtime interface and its node-llama-cpp implementation, a GGUF v3
 * reader and writer, a byte-level BPE tokenizer, and a reference llama forward/backward pass with its trainer.
 */
export * from "./runtime";
export {
  loadTextGenerator,
  loadLlamaBinding,
  ModelLoadError,
  type ModelSource,
  type LoadTextGeneratorOptions,
} from "./llama-cpp";
export * from "./gguf";
export * from "./bpe";
export * from "./llama";
export { llamaToGguf, ggufToLlama, LLAMA_CPP_NAMES, type LlamaGgufOptions } from "./export";
export { trainLlama, evaluateLoss, learningRateAt, type TrainOptions, type TrainResult } from "./train";

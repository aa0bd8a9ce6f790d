import * as ort from "onnxruntime-node";
import { BaseError } from "../core/errors";

/** Raised when a model cannot be loaded or run; the message names the model and the problem. */
export class InferenceError extends BaseError {
  override readonly name = "InferenceError";
}

/** A loaded ONNX model with one float input and one float output, run on the CPU by onnxruntime-node. */
export class OnnxModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly name: string,
  ) {}

  /** Loads a model from its bytes. */
  static async load(bytes: Uint8Array, name = "model"): Promise<OnnxModel> {
    try {
      return new OnnxModel(await ort.InferenceSession.create(bytes), name);
    } catch (cause) {
      throw new InferenceError(`model ${name} could not be loaded by onnxruntime`, { cause });
    }
  }

  /** Runs one row of features and returns the output vector. */
  async run(features: number[]): Promise<number[]> {
    const inputName = this.session.inputNames[0];
    const outputName = this.session.outputNames[0];
    if (inputName === undefined || outputName === undefined)
      throw new InferenceError(`model ${this.name} has no input or output`);
    if (features.some((v) => !Number.isFinite(v)))
      throw new InferenceError(`model ${this.name}: input ${JSON.stringify(features)} is not a list of finite numbers`);
    try {
      const result = await this.session.run({
        [inputName]: new ort.Tensor("float32", Float32Array.from(features), [1, features.length]),
      });
      const tensor = result[outputName];
      if (tensor === undefined) throw new InferenceError(`model ${this.name} returned no ${outputName}`);
      return Array.from(tensor.data as Float32Array);
    } catch (cause) {
      if (cause instanceof InferenceError) throw cause;
      throw new InferenceError(`model ${this.name} failed on input ${JSON.stringify(features)}`, { cause });
    }
  }
}

/**
 * The on-chain encoding of a classifier's output: the class index (1 byte) and each logit as a big-endian int32
 * in units of 1e-4. Fixed-point logits make independent nodes agree byte for byte despite float noise below 1e-4.
 * Up to 7 classes fit the 31 bytes stored inline by the escrow.
 */
export function encodeClassification(logits: number[]): Uint8Array {
  const out = new Uint8Array(1 + 4 * logits.length);
  const view = new DataView(out.buffer);
  out[0] = logits.reduce((best, v, i) => (v > logits[best]! ? i : best), 0);
  logits.forEach((v, i) => view.setInt32(1 + 4 * i, Math.round(v * 1e4)));
  return out;
}

/** Decodes {@link encodeClassification}. */
export function decodeClassification(bytes: Uint8Array): { label: number; logits: number[] } {
  if (bytes.length < 1 || (bytes.length - 1) % 4 !== 0)
    throw new InferenceError(`an output of ${bytes.length} bytes is not a classification`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const logits = Array.from({ length: (bytes.length - 1) / 4 }, (_, i) => view.getInt32(1 + 4 * i) / 1e4);
  return { label: bytes[0]!, logits };
}

import { expect } from "chai";
import { UnsupportedError } from "../../src/core/errors";
import { trainBpe } from "../../src/inference/text/bpe";
import { ggufToLlama, llamaToGguf } from "../../src/inference/text/export";
import {
  fromFloat16,
  GgufFormatError,
  readGguf,
  tensorValues,
  toFloat16,
  writeGguf,
  type GgufValue,
} from "../../src/inference/text/gguf";
import { initLlama, tensorsOf } from "../../src/inference/text/llama";

const METADATA = new Map<string, GgufValue>([
  ["general.architecture", { type: "string", value: "llama" }],
  ["u8", { type: "uint8", value: 255 }],
  ["i8", { type: "int8", value: -128 }],
  ["u16", { type: "uint16", value: 65535 }],
  ["i16", { type: "int16", value: -32768 }],
  ["u32", { type: "uint32", value: 4294967295 }],
  ["i32", { type: "int32", value: -2147483648 }],
  ["f32", { type: "float32", value: 0.5 }],
  ["bool", { type: "bool", value: true }],
  ["u64", { type: "uint64", value: 2n ** 64n - 1n }],
  ["i64", { type: "int64", value: -(2n ** 63n) }],
  ["f64", { type: "float64", value: Math.PI }],
  ["unicode", { type: "string", value: "Ahab — ϰῆτος" }],
  ["strings", { type: "array", itemType: "string", value: ["Ġthe", "", "Ċ"] }],
  ["ints", { type: "array", itemType: "int32", value: [1, -2, 3] }],
  ["empty", { type: "array", itemType: "float32", value: [] }],
]);

function sample(): Uint8Array {
  return writeGguf(METADATA, [
    { name: "a", dims: [3], type: "F32", data: Float32Array.from([1, -2.5, 3.25]) },
    { name: "b", dims: [2, 3], type: "F16", data: Float32Array.from([0, 1, -1, 0.5, 65504, -0.000061035156]) },
    { name: "c", dims: [5], type: "F32", data: Float32Array.from([1e-30, 2, 3, 4, 5]) },
  ]);
}

describe("GGUF", () => {
  describe("writeGguf and readGguf", () => {
    it("round-trips every metadata value type, in order", () => {
      const file = readGguf(sample());
      expect(file.version).to.equal(3);
      expect([...file.metadata.keys()]).to.deep.equal([...METADATA.keys()]);
      for (const [key, value] of METADATA) expect(file.metadata.get(key), key).to.deep.equal(value);
    });

    it("round-trips F32 tensors exactly and F16 tensors to half precision", () => {
      const file = readGguf(sample());
      expect(file.tensors.map((t) => [t.name, t.dims, t.type])).to.deep.equal([
        ["a", [3], "F32"],
        ["b", [2, 3], "F16"],
        ["c", [5], "F32"],
      ]);
      expect([...tensorValues(file.tensors[0]!)]).to.deep.equal([1, -2.5, 3.25]);
      expect([...tensorValues(file.tensors[1]!)]).to.deep.equal([0, 1, -1, 0.5, 65504, -0.00006103515625]);
      expect(tensorValues(file.tensors[2]!)[0]).to.equal(Math.fround(1e-30));
    });

    it("reads a Buffer that is a view into a larger allocation", () => {
      const bytes = sample();
      const pool = Buffer.alloc(bytes.length + 3);
      pool.set(bytes, 3);
      const file = readGguf(pool.subarray(3));
      expect([...tensorValues(file.tensors[0]!)]).to.deep.equal([1, -2.5, 3.25]);
      expect(file.metadata.get("unicode")?.value).to.equal("Ahab — ϰῆτος");
    });

    it("aligns the data section and every tensor to 32 bytes, or to general.alignment", () => {
      const file = readGguf(sample());
      for (const t of file.tensors) expect(t.offset % 32).to.equal(0);
      expect(file.tensors[1]!.offset).to.equal(32);
      const wide = new Map(METADATA).set("general.alignment", { type: "uint32", value: 64 });
      const bytes = writeGguf(wide, [
        { name: "x", dims: [1], type: "F32", data: Float32Array.from([7]) },
        { name: "y", dims: [1], type: "F32", data: Float32Array.from([8]) },
      ]);
      const read = readGguf(bytes);
      expect(read.tensors[1]!.offset).to.equal(64);
      expect(bytes.length % 64).to.equal(0);
      expect(tensorValues(read.tensors[1]!)[0]).to.equal(8);
    });

    it("starts with the magic GGUF and version 3, little-endian", () => {
      const bytes = sample();
      expect(Buffer.from(bytes.subarray(0, 4)).toString("latin1")).to.equal("GGUF");
      expect(Buffer.from(bytes).readUInt32LE(4)).to.equal(3);
      expect(Buffer.from(bytes).readBigUInt64LE(8)).to.equal(3n);
      expect(Buffer.from(bytes).readBigUInt64LE(16)).to.equal(BigInt(METADATA.size));
    });

    it("refuses a tensor whose dims do not match its data", () => {
      expect(() => writeGguf(METADATA, [{ name: "a", dims: [2, 2], type: "F32", data: new Float32Array(3) }])).to.throw(
        /dims 2x2 hold 4 values, got 3/,
      );
    });
  });

  describe("bad files", () => {
    it("rejects bytes that are not GGUF", () => {
      expect(() => readGguf(Buffer.from("PK\x03\x04 a zip file"))).to.throw(GgufFormatError, /not a GGUF file/);
      expect(() => readGguf(new Uint8Array())).to.throw(GgufFormatError, /not a GGUF file/);
    });

    it("rejects a file cut short anywhere: header, metadata, tensor descriptors or data", () => {
      const bytes = sample();
      // The last tensor's 20 bytes end 12 bytes of padding before the end of the file.
      for (const length of [6, 20, 40, 200, bytes.length - 40, bytes.length - 13])
        expect(() => readGguf(bytes.subarray(0, length)), `cut at ${length}`).to.throw(GgufFormatError, /truncated/);
    });

    it("rejects other GGUF versions and unknown types as unsupported", () => {
      const v4 = Buffer.from(sample());
      v4.writeUInt32LE(4, 4);
      expect(() => readGguf(v4)).to.throw(UnsupportedError, /version 4/);
      const q4 = writeGguf(new Map(), [{ name: "q", dims: [1], type: "F32", data: new Float32Array(1) }]);
      const patched = Buffer.from(q4);
      // name "q": length (8) + 1 byte, then n_dims (4) + one dim (8), then the type.
      patched.writeUInt32LE(2, 24 + 8 + 1 + 4 + 8);
      expect(() => readGguf(patched)).to.throw(UnsupportedError, /ggml type 2/);
      const badValue = Buffer.from(writeGguf(new Map([["k", { type: "uint8", value: 1 }]]), []));
      badValue.writeUInt32LE(99, 24 + 8 + 1);
      expect(() => readGguf(badValue)).to.throw(GgufFormatError, /unknown value type 99/);
    });
  });

  describe("float16", () => {
    it("rounds to nearest even and keeps signs, infinities, subnormals and NaN", () => {
      const values = Float32Array.from([1 + 2 ** -11, 1 + 3 * 2 ** -11, -0, Infinity, -1e6, 2 ** -24, 2 ** -26, NaN]);
      const back = fromFloat16(toFloat16(values));
      expect([...back.subarray(0, 7)]).to.deep.equal([1, 1 + 2 ** -9, -0, Infinity, -Infinity, 2 ** -24, 0]);
      expect(Number.isNaN(back[7])).to.equal(true);
    });
  });

  describe("llamaToGguf and ggufToLlama", () => {
    const vocabulary = trainBpe("the whale, the whale! the white whale.", 12);
    const config = {
      vocab: vocabulary.tokens.length,
      dim: 16,
      layers: 2,
      heads: 2,
      ffn: 24,
      context: 32,
      ropeBase: 10000,
      normEps: 1e-5,
    };
    const weights = initLlama(config, 9);

    it("writes llama.cpp's metadata keys and tensor names, matrices as [in, out]", () => {
      const file = readGguf(llamaToGguf(weights, vocabulary, { name: "tiny" }));
      const value = (key: string) => file.metadata.get(key)?.value;
      expect(value("general.architecture")).to.equal("llama");
      expect(value("llama.block_count")).to.equal(2);
      expect(value("llama.embedding_length")).to.equal(16);
      expect(value("llama.feed_forward_length")).to.equal(24);
      expect(value("llama.attention.head_count_kv")).to.equal(2);
      expect(value("llama.rope.dimension_count")).to.equal(8);
      expect(value("tokenizer.ggml.model")).to.equal("gpt2");
      expect(value("tokenizer.ggml.pre")).to.equal("gpt-2");
      expect(value("tokenizer.ggml.tokens")).to.deep.equal(vocabulary.tokens);
      expect(value("tokenizer.ggml.merges")).to.deep.equal(vocabulary.merges);
      expect(value("tokenizer.ggml.eos_token_id")).to.equal(vocabulary.tokens.length - 1);
      const types = value("tokenizer.ggml.token_type") as number[];
      expect(types.at(-1)).to.equal(3);
      expect(types.slice(0, -1).every((t) => t === 1)).to.equal(true);
      const dims = Object.fromEntries(file.tensors.map((t) => [t.name, t.dims]));
      expect(dims["token_embd.weight"]).to.deep.equal([16, config.vocab]);
      expect(dims["blk.1.ffn_gate.weight"]).to.deep.equal([16, 24]);
      expect(dims["blk.1.ffn_down.weight"]).to.deep.equal([24, 16]);
      expect(dims["blk.0.attn_norm.weight"]).to.deep.equal([16]);
      expect(dims["output.weight"]).to.deep.equal([16, config.vocab]);
      expect(file.tensors).to.have.length(2 * 9 + 3);
    });

    it("reads back the same weights (rounded to float32) and vocabulary", () => {
      const { weights: back, vocabulary: vocab } = ggufToLlama(llamaToGguf(weights, vocabulary, { name: "tiny" }));
      expect(back.config).to.deep.equal({ ...config, normEps: Math.fround(1e-5) });
      expect(vocab).to.deep.equal(vocabulary);
      const original = tensorsOf(weights);
      tensorsOf(back).forEach((t, i) => expect([...t.data]).to.deep.equal([...Float32Array.from(original[i]!.data)]));
    });

    it("stores matrices as F16 when asked, norms as F32", () => {
      const file = readGguf(llamaToGguf(weights, vocabulary, { name: "tiny", type: "F16" }));
      const types = Object.fromEntries(file.tensors.map((t) => [t.name, t.type]));
      expect(types["blk.0.attn_q.weight"]).to.equal("F16");
      expect(types["blk.0.attn_norm.weight"]).to.equal("F32");
      expect(file.metadata.get("general.file_type")?.value).to.equal(1);
    });
  });
});

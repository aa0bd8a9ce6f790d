/**
 * Compiles an ONNX MLP to a circom circuit and runs the (development) trusted setup for it.
 *
 * Usage: npx ts-node scripts/zk/setup.ts <model.onnx> --input-range <r> [--scale-bits <s>] [--min-power <p>] [--cache <dir>]
 *
 * Prints a JSON manifest: chosen scale, constraint count, ptau power and hash, verifying-key hash (the ZK
 * ModeBinding's `bindings[0]`), sha256 of every artefact, and the constructor argument of the Solidity verifier.
 */
import { readFile } from "node:fs/promises";
import { buildZkModel } from "../../src/zkml/pipeline";
import { verifyingKeyArgs } from "../../src/zkml/solidity";

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const onnxPath = args[0];
  const range = flag(args, "--input-range");
  if (onnxPath === undefined || onnxPath.startsWith("--") || range === undefined) {
    throw new Error(
      "usage: setup.ts <model.onnx> --input-range <r> [--scale-bits <s>] [--min-power <p>] [--cache <dir>]",
    );
  }
  const scale = flag(args, "--scale-bits");
  const minPower = flag(args, "--min-power");
  const zk = await buildZkModel({
    onnx: await readFile(onnxPath),
    inputRange: Number(range),
    scaleBits: scale === undefined ? undefined : Number(scale),
    minPower: minPower === undefined ? undefined : Number(minPower),
    cacheDir: flag(args, "--cache"),
    log: (line) => console.error(line),
  });
  const manifest = {
    onnx: { path: onnxPath, sha256: zk.onnxHash },
    scaleBits: zk.model.scaleBits,
    inputRange: zk.model.inputRange,
    inputBits: zk.model.inputBits,
    layers: zk.model.layers.map((l) => ({
      name: l.name,
      in: l.weights[0].length,
      out: l.weights.length,
      relu: l.relu,
      quotientBits: l.quotientBits,
    })),
    constraints: zk.nConstraints,
    ptau: {
      power: zk.ptau.power,
      path: zk.ptau.path,
      sha256: zk.ptau.sha256,
      generationSeconds: zk.ptau.generationSeconds,
    },
    circuit: { circom: zk.circuit.circomPath, sourceHash: zk.circuit.sourceHash, compileSeconds: zk.compileSeconds },
    vkHash: zk.setup.vkHash,
    verifier: {
      contract: "contracts/verifiers/zk/Groth16Verifier.sol",
      constructorArgs: verifyingKeyArgs(zk.setup.vk).map((v) => v.toString()),
    },
    sha256: zk.setup.sha256,
    setupSeconds: zk.setup.generationSeconds,
  };
  console.log(JSON.stringify(manifest, null, 2));
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });

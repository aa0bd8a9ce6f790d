import { expect } from "chai";
import { readFile } from "node:fs/promises";
import * as snarkjs from "snarkjs";
import { ZkmlToolError } from "../../src/zkml/errors";
import { Groth16Key } from "../../src/zkml/groth16";
import type { ZkModel } from "../../src/zkml/pipeline";
import { buildCircuitInput, releaseSnarkjs } from "../../src/zkml/prover";
import { quantizeInput } from "../../src/zkml/quantize";
import { loadWitnessCalculator } from "../../src/zkml/witness";
import { zkModels } from "./fixtures";

/** The `.wtns` section holding the witness values (section 2 of the file the calculator writes). */
function witnessSection(wtns: Uint8Array): { offset: number; length: number } {
  const view = new DataView(wtns.buffer, wtns.byteOffset, wtns.byteLength);
  let o = 12;
  for (;;) {
    const id = view.getUint32(o, true);
    const size = Number(view.getBigUint64(o + 4, true));
    if (id === 2) return { offset: o + 12, length: size };
    o += 12 + size;
  }
}

describe("zkml/groth16", () => {
  let a: ZkModel;
  let key: Groth16Key;
  let wtns: Uint8Array;

  before(async () => {
    ({ a } = await zkModels());
    key = await Groth16Key.load(await readFile(a.setup.zkeyPath));
    const wc = await loadWitnessCalculator(a.circuit.wasmPath);
    const input = quantizeInput(a.model, [1.5, -2, 0.25, 3]);
    wtns = await wc.calculateWTNSBin(buildCircuitInput({ model: a.model, input, inputSalt: 77n }), true);
  });

  after(releaseSnarkjs);

  it("proves what snarkjs.groth16.prove proves: the same public signals, a proof snarkjs verifies", async () => {
    const ours = await key.prove(wtns);
    const theirs = await snarkjs.groth16.prove(
      { type: "mem", data: await readFile(a.setup.zkeyPath) },
      {
        type: "mem",
        data: wtns,
      },
    );
    expect(ours.publicSignals).to.deep.equal(theirs.publicSignals);
    expect(ours.proof.pi_a[2]).to.equal("1");
    expect(await snarkjs.groth16.verify(a.setup.vk, ours.publicSignals, ours.proof)).to.equal(true);
  });

  it("still proves after releaseSnarkjs ended the curve it was loaded with (a node's prover outlives it)", async () => {
    await releaseSnarkjs();
    const p = await key.prove(wtns);
    expect(await snarkjs.groth16.verify(a.setup.vk, p.publicSignals, p.proof)).to.equal(true);
  });

  it("gives a proof that does not verify when the witness does not satisfy the circuit", async () => {
    // A witness that claims another public signal (the claim plus one): the constraints no longer hold.
    const bad = Uint8Array.from(wtns);
    const { offset } = witnessSection(bad);
    bad[offset + 32] = (bad[offset + 32]! + 1) & 0xff;
    const p = await key.prove(bad);
    const honest = await key.prove(wtns);
    expect(p.publicSignals).to.not.deep.equal(honest.publicSignals);
    expect(await snarkjs.groth16.verify(a.setup.vk, p.publicSignals, p.proof)).to.equal(false);
    expect(await snarkjs.groth16.verify(a.setup.vk, honest.publicSignals, p.proof)).to.equal(false);
  });

  it("rejects a witness of another circuit (wrong length) with ZkmlToolError", async () => {
    const { offset, length } = witnessSection(wtns);
    const short = Uint8Array.from(wtns);
    new DataView(short.buffer).setBigUint64(offset - 8, BigInt(length - 32), true);
    const err = await key.prove(short.subarray(0, offset + length - 32)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ZkmlToolError);
    expect((err as Error).message).to.match(/invalid witness length/);
  });

  it("rejects bytes that are not a zkey with ZkmlToolError", async () => {
    const err = await Groth16Key.load(new TextEncoder().encode("not a proving key at all")).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ZkmlToolError);
  });
});

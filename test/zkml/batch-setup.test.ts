import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { buildSlotCircuit, type SlotCircuit } from "../../src/zkml/batch-circuit";
import { ZkmlSetupMismatchError } from "../../src/zkml/errors";
import type { ZkModel } from "../../src/zkml/pipeline";
import { releaseSnarkjs } from "../../src/zkml/prover";
import { verifySlotSetup } from "../../src/zkml/verify-setup";
import { zkModels } from "./fixtures";

const SLOTS = 4;

describe("zkml/verify-setup: verifySlotSetup", () => {
  let zk: ZkModel;
  let batch: SlotCircuit;
  let zkey: Uint8Array;
  let ptau: Uint8Array;

  before(async () => {
    ({ a: zk } = await zkModels());
    batch = await buildSlotCircuit({ model: zk.model, slots: SLOTS, minPower: 12 });
    zkey = await readFile(batch.setup.zkeyPath);
    ptau = await readFile(batch.ptau.path);
  });

  after(() => releaseSnarkjs());

  const options = (over: Partial<Parameters<typeof verifySlotSetup>[1]> = {}) => ({
    model: zk.model,
    optimization: 2 as const,
    slots: SLOTS,
    keyHash: batch.setup.vkHash,
    ...over,
  });

  async function refusal(run: Promise<unknown>): Promise<ZkmlSetupMismatchError> {
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(ZkmlSetupMismatchError);
    return error as ZkmlSetupMismatchError;
  }

  it("accepts the key bound for the version and returns the witness calculator compiled here", async () => {
    const { wasm } = await verifySlotSetup({ zkey, ptau }, options());
    expect(wasm).to.deep.equal(new Uint8Array(await readFile(batch.circuit.wasmPath)));
  });

  it("refuses a key whose verifying key is not the bound one", async () => {
    const wrong = `0x${"11".repeat(32)}`;
    const e = await refusal(verifySlotSetup({ zkey, ptau }, options({ keyHash: wrong })));
    expect(e.what).to.equal("slot verifying key");
    expect(e.expected).to.equal(wrong);
    expect(e.actual).to.equal(batch.setup.vkHash);
  });

  it("refuses a key of another circuit (the single-job key offered as the N-slot key)", async () => {
    const single = await readFile(zk.setup.zkeyPath);
    const e = await refusal(verifySlotSetup({ zkey: single, ptau }, options()));
    expect(e.what).to.equal("slot proving key");
  });

  it("refuses the key for another slot count", async () => {
    const e = await refusal(verifySlotSetup({ zkey, ptau }, options({ slots: 2 })));
    expect(e.what).to.equal("slot proving key");
  });
});

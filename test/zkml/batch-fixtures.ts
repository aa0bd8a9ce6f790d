import { toBeHex, toUtf8Bytes } from "ethers";
import { Mode, modeMask } from "../../src/core/modes";
import { buildSlotCircuit, type SlotCircuit } from "../../src/zkml/batch-circuit";
import { SlotProver, type SlotJob } from "../../src/zkml/batch-prover";
import { slotVerifyingKeyArgs } from "../../src/zkml/batch-solidity";
import { encodeZkOutput, inputCommitment, packedOutputOf } from "../../src/zkml/claim";
import { deployZkCircuit, registerZkModel } from "../../src/zkml/deploy";
import { writeMlpOnnx } from "../../src/zkml/onnx-writer";
import type { ZkModel } from "../../src/zkml/pipeline";
import { evaluateQuantized } from "../../src/zkml/reference";
import type { Job } from "../../src/core/job";
import { loadSystem, MODEL_PRICE, requestJob, type Fixture } from "../fixtures/system";
import { rng, zkModels } from "./fixtures";

/** Slots of the fixture's slot circuit. */
export const SLOTS = 4;

/** The deployed system with test model A published for ZK (model 2, owner `fx.owner`) and its 4-slot key bound. */
export interface SlotFixture {
  fx: Fixture;
  zk: ZkModel;
  batch: SlotCircuit;
  prover: SlotProver;
  modelId: bigint;
  slotKey: bigint[];
}

let built: Promise<{ zk: ZkModel; batch: SlotCircuit; prover: SlotProver; onnx: Uint8Array }> | undefined;

function circuits(): NonNullable<typeof built> {
  built ??= (async () => {
    const { a: zk, layersA } = await zkModels();
    const batch = await buildSlotCircuit({ model: zk.model, slots: SLOTS, minPower: 12 });
    const prover = await SlotProver.load({ wasm: batch.circuit.wasmPath, zkey: batch.setup.zkeyPath }, zk.model, SLOTS);
    return { zk, batch, prover, onnx: writeMlpOnnx(layersA, { name: "test-a" }) };
  })();
  return built;
}

/** {@link SlotFixture}, with the node `fx.nodes[0]` registered for ZK. */
export async function slotFixture(options: { bind?: boolean } = {}): Promise<SlotFixture> {
  const { zk, batch, prover, onnx } = await circuits();
  const fx = await loadSystem();
  const deployment = await deployZkCircuit(fx.deployer, zk, {
    verifierFactory: await fx.system.verifierFactory.getAddress(),
  });
  const { modelId } = await registerZkModel({
    registry: fx.system.registry.connect(fx.owner),
    deployment,
    onnx,
    card: toUtf8Bytes("---\nname: slots\ntask: classification\nlicense: mit\n---\n"),
    price: MODEL_PRICE,
  });
  await fx.system.staking.connect(fx.nodes[0]!).register(modeMask([Mode.Vanilla, Mode.Tee, Mode.Zk]));
  const slotKey = slotVerifyingKeyArgs(batch.setup.vk);
  if (options.bind ?? true) await fx.system.zkVerifier.connect(fx.owner).setSlotVerifier(modelId, 1, slotKey);
  return { fx, zk, batch, prover, modelId, slotKey };
}

/** A requested, claimed ZK job of the fixture's model, with its input, output and packed output. */
export interface SlotTestJob extends SlotJob {
  job: Job;
  packedOutput: bigint;
  output: string;
}

/** Requests `count` ZK jobs on random inputs and has `fx.nodes[0]` claim them. */
export async function slotJobs(s: SlotFixture, count: number, seed: number): Promise<SlotTestJob[]> {
  const { model } = s.zk;
  const lim = 1 << model.inputBits;
  const r = rng(seed);
  const jobs: SlotTestJob[] = [];
  for (let k = 0; k < count; k++) {
    const input = Array.from({ length: model.inputSize }, () => BigInt(Math.floor(r() * 2 * lim) - lim));
    const inputSalt = BigInt(seed * 1000 + k + 1);
    const job = await requestJob(s.fx, {
      modelId: s.modelId,
      mode: Mode.Zk,
      input: "0x01",
      inputCommitment: toBeHex(inputCommitment(model, input, inputSalt), 32),
    });
    await s.fx.system.escrow.connect(s.fx.nodes[0]!).claimSlot(job);
    const packedOutput = packedOutputOf(model, evaluateQuantized(model, input));
    jobs.push({ job, input, inputSalt, packedOutput, output: encodeZkOutput(packedOutput) });
  }
  return jobs;
}

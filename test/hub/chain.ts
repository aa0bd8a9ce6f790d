import hre from "hardhat";
import { toUtf8Bytes } from "ethers";
import { DEFAULT_ESCROW_PARAMETERS } from "../../deploy/system";
import type { IJobEscrow } from "../../typechain-types";
import {
  FEE_PER_NODE,
  governance,
  MEASUREMENT,
  MODEL_PRICE,
  requestJob,
  systemFixture,
  teeProof,
  type Fixture,
} from "../fixtures/system";
import type { Job } from "../../src/core/job";
import { Mode } from "../../src/core/modes";
import { type ModelFile, type ModeSpec, publishModel } from "../../src/hub/publish";
import { cidBytes, type ContentStore } from "../../src/storage";
import { sha256Hex } from "../../src/core/hash";

/** A card and a small stand-in ONNX file. */
export function modelFiles(name: string, words: string, extra: Record<string, string> = {}): ModelFile[] {
  const fields = Object.entries({ name, task: "tabular-classification", license: "mit", library: "onnx", ...extra })
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
  const card = `---\n${fields}\n---\n# ${name}\n\nA model about ${words}.\n\n- first point\n- second point\n\n\`\`\`\nvin pull\n\`\`\`\n`;
  return [
    { path: "README.md", bytes: toUtf8Bytes(card) },
    { path: "model.onnx", bytes: toUtf8Bytes(`onnx-weights-of-${name}`) },
  ];
}

export const VANILLA: ModeSpec = { mode: "vanilla" };
export const TEE: ModeSpec = { mode: "tee", measurements: [MEASUREMENT] };

/** Publishes through the hub's publish path as the fixture's model owner. */
export async function publishAs(
  fx: Fixture,
  store: ContentStore,
  files: ModelFile[],
  modes: ModeSpec[] = [VANILLA, TEE],
  modelId?: bigint,
) {
  return publishModel({
    registry: fx.system.registry.connect(fx.owner),
    store,
    files,
    modes,
    price: MODEL_PRICE,
    ...(modelId === undefined ? {} : { modelId }),
  });
}

/** Requests and settles a k = 1 job on (model, version, mode), with node 0 (which runs the fixture's enclave). */
export async function settleJob(
  fx: Fixture,
  modelId: bigint,
  version: number,
  mode: number,
  overrides: Partial<IJobEscrow.RequestParamsStruct> = {},
): Promise<bigint> {
  const job = await requestJob(fx, { modelId, version, mode, ...overrides });
  await settleRequested(fx, job);
  return job.id;
}

/** Claims and settles a requested k = 1 job with node 0. */
export async function settleRequested(fx: Fixture, job: Job): Promise<void> {
  const node = fx.nodes[0]!;
  await fx.system.escrow.connect(node).claimSlot(job);
  const output = "0x01";
  const proof = Number(job.mode) === Mode.Tee ? await teeProof(fx, job, output) : "0x";
  await fx.system.escrow.connect(node).submit(job, output, proof);
}

/** Sets the escrow's parameters through the timelock: the defaults with `changes`. */
export async function setEscrowParameters(fx: Fixture, changes: Partial<IJobEscrow.ParametersStruct>): Promise<void> {
  const { escrow } = fx.system;
  await (
    await governance(
      fx,
      escrow,
      escrow.interface.encodeFunctionData("setParameters", [{ ...DEFAULT_ESCROW_PARAMETERS, ...changes }]),
    )
  ).wait();
}

/** What a default k = 1 job on a fixture model pays in all: price, node fee and 5% protocol fee on both (3.15 tokens). */
export const PAID_PER_JOB = ((MODEL_PRICE + FEE_PER_NODE) * 10_500n) / 10_000n;

/**
 * Publishes a model with price 0 and settles a k = 1 job on it with node fee 0 and collateral 0 (minCollateral
 * lowered to 0 first): a job that pays no protocol fee. Returns the model id.
 */
export async function settleFreeJob(fx: Fixture, store: ContentStore): Promise<bigint> {
  await setEscrowParameters(fx, { minCollateral: 0n });
  const { modelId } = await publishModel({
    registry: fx.system.registry.connect(fx.owner),
    store,
    files: modelFiles("free/echo", "echoes for free"),
    modes: [VANILLA],
    price: 0n,
  });
  await settleJob(fx, modelId, 1, Mode.Vanilla, { feePerNode: 0n, collateral: 0n });
  return modelId;
}

/** The hub's test world on the in-process chain: the fixture's model 1 (card not stored) and three published models. */
export interface HubWorld {
  fx: Fixture;
  /** acme/penguin-mlp: vanilla + tee, 2 vanilla and 1 tee settled jobs. */
  penguins: bigint;
  /** mail/spam-guard: version 2 published, 1 vanilla job on version 1, one job requested but not settled. */
  spam: bigint;
  /** A model whose registered card hash is not the hash of its stored card. */
  badCard: bigint;
}

/** Builds {@link HubWorld}; wrap it in `loadFixture` with a content store that outlives the snapshots. */
export async function buildHubWorld(store: ContentStore): Promise<HubWorld> {
  const fx = await systemFixture();
  const penguins = (
    await publishAs(
      fx,
      store,
      modelFiles("acme/penguin-mlp", "penguins, flippers and beaks", { tags: "[biology, birds]" }),
    )
  ).modelId;
  const spam = (await publishAs(fx, store, modelFiles("mail/spam-guard", "spam emails and phishing"), [VANILLA]))
    .modelId;
  await settleJob(fx, penguins, 1, Mode.Vanilla);
  await settleJob(fx, penguins, 1, Mode.Vanilla);
  await settleJob(fx, penguins, 1, Mode.Tee);
  await settleJob(fx, spam, 1, Mode.Vanilla);
  await requestJob(fx, { modelId: spam, version: 1, mode: Mode.Vanilla });
  await publishAs(
    fx,
    store,
    modelFiles("mail/spam-guard", "spam emails, phishing and scams", { license: "apache-2.0" }),
    [VANILLA],
    spam,
  );
  const badCard = await registerWithWrongCardHash(fx, store);
  return { fx, penguins, spam, badCard };
}

/** Stores a card but registers the hash of another text. */
async function registerWithWrongCardHash(fx: Fixture, store: ContentStore): Promise<bigint> {
  const [card] = modelFiles("evil/walrus-tusk", "walruses");
  const cid = await store.add(card!.bytes);
  const tx = await fx.system.registry.connect(fx.other).createModelAndPublish(MODEL_PRICE, {
    cardHash: sha256Hex(toUtf8Bytes("another card")),
    cardCid: await cidBytes(cid),
    files: [{ path: "README.md", cid: await cidBytes(cid), sha256: sha256Hex(card!.bytes) }],
    modes: [{ mode: Mode.Vanilla, verifier: hre.ethers.ZeroAddress, bindings: [] }],
  });
  await tx.wait();
  return fx.system.registry.modelCount();
}

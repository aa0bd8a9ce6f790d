import { stringify } from "yaml";
import { cardHashOf, parseModelCard } from "../../src/hub/card";
import type { Mode } from "../../src/core/modes";
import { modelIdNumber } from "../../src/hub/ids";
import { SearchEngine } from "../../src/hub/search";
import { HubStore, type VersionInput } from "../../src/hub/store";

/** Front matter of a test card; `name`, `task` and `license` default to valid values. */
export type CardFields = Record<string, unknown>;

/** Builds card text from front-matter fields and a body. */
export function cardText(fields: CardFields, body = "# Model\n\nA test model.\n"): string {
  return `---\n${stringify({ name: "org/model", task: "text-classification", license: "mit", ...fields })}---\n${body}`;
}

/** A fresh in-memory store and a search engine that reloads its vocabulary after every change. */
export function freshHub(): { store: HubStore; engine: SearchEngine } {
  const store = HubStore.open(":memory:");
  return { store, engine: new SearchEngine(store, { vocabularyMaxAgeMs: 0 }) };
}

/** A test model id. */
export function id(n: number): number {
  return modelIdNumber(n);
}

/** A deterministic 20-byte address. */
export function address(n: number): string {
  return `0x${n.toString(16).padStart(40, "0")}`;
}

/** A deterministic 32-byte hash. */
export function hash(n: number): string {
  return `0x${n.toString(16).padStart(64, "0")}`;
}

/** What each job of {@link PublishOptions.usage} paid, in token wei (3.15 tokens: the fixture's price, fee and protocol fee). */
export const JOB_PAYMENT = 3_150_000_000_000_000_000n;

/** What {@link publish} needs; everything but `model` has a default. */
export interface PublishOptions {
  model: number;
  version?: number;
  fields?: CardFields;
  body?: string;
  modes?: number;
  usage?: Partial<Record<number, number>>;
  publishedAt?: number;
  block?: number;
  withCard?: boolean;
}

/** The version input {@link publish} writes. */
export function versionInput(o: PublishOptions): VersionInput {
  const text = cardText(o.fields ?? {}, o.body);
  const cardHash = cardHashOf(text);
  const input: VersionInput = {
    modelId: id(o.model),
    version: o.version ?? 1,
    publisher: address(o.model),
    cardHash,
    cardCid: `bafkrei-card-${o.model}-${o.version ?? 1}`,
    files: [
      {
        path: "model.onnx",
        cid: `bafybei-weights-${o.model}-${o.version ?? 1}`,
        sha256: hash(o.model * 100 + (o.version ?? 1)),
      },
    ],
    modes: o.modes ?? 1,
    publishedAt: o.publishedAt ?? 1_700_000_000 + o.model,
    block: o.block ?? o.model * 10 + (o.version ?? 1),
  };
  if (o.withCard !== false) input.card = parseModelCard(text);
  return input;
}

/** Creates the model if needed, publishes a version and adds its usage, as the chain indexer would. */
export function publish(store: HubStore, o: PublishOptions): void {
  const input = versionInput(o);
  store.batch(() => {
    if (store.getModel(input.modelId) === undefined)
      store.upsertModel({ modelId: input.modelId, owner: address(o.model), price: 1000n, block: input.block });
    store.upsertVersion(input);
    for (const [mode, jobs] of Object.entries(o.usage ?? {})) {
      if (jobs !== undefined && jobs > 0)
        store.addVerifiedUsage({
          modelId: input.modelId,
          version: input.version,
          mode: Number(mode) as Mode,
          jobs,
          paid: BigInt(jobs) * JOB_PAYMENT,
          block: input.block,
        });
    }
  });
}

/**
 * `vin pin <cid|model[@version]>`, `vin unpin <cid|model[@version]>` and `vin pin ls`: keep content in the local IPFS
 * peer store (`--ipfs-dir`), fetched from the peers and gateways given or configured and then served to others, or
 * ask a pinning service (IPFS Pinning Service API, `--service`) to keep it. A model reference stands for every file
 * of the version and its card, as the registry lists them.
 */
import type { Command } from "commander";
import { ModelRegistry__factory } from "../../../typechain-types";
import { cidString } from "../../core/cid";
import { ConfigError, InputError, UnsupportedError } from "../../core/errors";
import { parseModelRef } from "../../hub/pull";
import { decodeRegistryError } from "../../hub/registry-errors";
import { PeerContentStore } from "../../storage/peer";
import { PIN_STATES, PinningServiceClient, type PinStatus } from "../../storage/pinning";
import { canonicalCid } from "../../storage/unixfs";
import type { Globals } from "../options";
import { progressPrinter } from "../output";
import { fetchSources, hubContext, hubOutput, type FetchSources, type HubContext } from "./hub";

/** The local store as the commands use it. */
export type PinStore = Pick<PeerContentStore, "pin" | "unpin" | "pins" | "close">;

export type { FetchSources };

/** What `pin`/`unpin` read besides the hub's context (tests pass their own). */
export interface PinContext extends HubContext {
  /** The local IPFS peer store. Default: a {@link PeerContentStore} over `--ipfs-dir` that only dials. */
  peerStore?(sources: FetchSources): Promise<PinStore>;
  /** Where `--token-env` is looked up. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** One piece of content a target stands for. */
interface Content {
  cid: string;
  /** The file's path in the version ("(model card)" for a card that is not one of the files); absent for a CID. */
  path?: string;
}

/** A CID, or a version's files. */
interface Target {
  label: string;
  modelId?: bigint;
  version?: number;
  contents: Content[];
}

interface ServiceFlags {
  service?: string;
  tokenEnv: string;
}

interface PinFlags extends ServiceFlags {
  name?: string;
  origin?: string[];
  wait?: boolean;
  waitTimeout: string;
  pollInterval: string;
  provider?: string[];
  gateway?: string[];
  json?: boolean;
}

const DEFAULT_TOKEN_ENV = "VIN_PINNING_TOKEN";
const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command, global: Globals, context: PinContext = hubContext(global)): void {
  const { out, err } = hubOutput(context);
  const json = (flag?: boolean) => flag === true || global().json === true;
  const withServiceFlags = (command: Command) =>
    command
      .option("--service <url>", "a pinning service (IPFS Pinning Service API) instead of the local IPFS store")
      .option("--token-env <VAR>", "environment variable holding the service's access token", DEFAULT_TOKEN_ENV);

  const pin = withServiceFlags(
    program
      .command("pin")
      .description("keep a CID or every file of a model version: in the local IPFS store, or at a pinning service")
      .argument("[cid|model[@version]]", "a CID, or a model id, optionally @version (default: latest)"),
  )
    .option("--name <name>", "with --service: the pin's name (a model's files get <name>/<path>)")
    .option("--origin <multiaddr>", "with --service: a peer that has the content, repeatable", collect)
    .option("--wait", "with --service: wait until the service reports every pin pinned")
    .option("--wait-timeout <seconds>", "with --wait: how long to wait in all", "600")
    .option("--poll-interval <seconds>", "with --wait: how often to ask the service", "2")
    .option("--provider <multiaddr>", "a peer to fetch from (…/p2p/<peer id>), repeatable", collect)
    .option("--gateway <url>", "a trustless HTTP gateway to fetch from, repeatable", collect)
    .option("--json", "print the result as JSON")
    .action(async (ref: string | undefined, opts: PinFlags) => {
      if (ref === undefined) throw new InputError("give a CID or a model reference to pin (or `vin pin ls`)");
      const target = await resolveTarget(ref, context);
      if (opts.service !== undefined) {
        const service = serviceClient(opts, context);
        const results = [];
        for (const content of target.contents) results.push(await pinAtService(service, target, content, opts, err));
        return report(
          json(opts.json),
          results,
          (r) =>
            `${r.status.status} ${describe(r.content)} (request ${r.status.requestid}${r.reused ? ", already requested" : ""})`,
          out,
        );
      }
      const store = await openPeerStore(context, global, opts);
      try {
        for (const content of target.contents) {
          await store.pin(content.cid, { onProgress: progressPrinter(err, json(opts.json)) });
          if (!json(opts.json)) out(`pinned ${describe(content)}`);
        }
      } finally {
        await store.close();
      }
      if (json(opts.json)) out(JSON.stringify(summary(target), null, 2));
    });

  // `pin`'s own flags (--service, --token-env, --json) are parsed by `pin` wherever they stand, so `ls` reads them there.
  pin
    .command("ls")
    .description("list the local pins, or the service's pin requests with --service (flags as for pin)")
    .action(async () => {
      const opts = pin.opts<PinFlags>();
      if (opts.service !== undefined) {
        const pins = await serviceClient(opts, context).listAll({ status: [...PIN_STATES], limit: 1000 });
        return report(
          json(opts.json),
          pins,
          (p) => `${p.status} ${p.pin.cid}${p.pin.name === undefined ? "" : ` ${p.pin.name}`} (request ${p.requestid})`,
          out,
        );
      }
      const store = await openPeerStore(context, global, {});
      try {
        const cids = (await store.pins()).sort();
        if (json(opts.json)) out(JSON.stringify(cids, null, 2));
        else for (const cid of cids) out(cid);
      } finally {
        await store.close();
      }
    });

  withServiceFlags(
    program
      .command("unpin")
      .description("stop keeping a CID or a model version's files: in the local IPFS store, or at a pinning service")
      .argument("<cid|model[@version]>", "a CID, or a model id, optionally @version (default: latest)"),
  )
    .option("--json", "print the result as JSON")
    .action(async (ref: string, opts: ServiceFlags & { json?: boolean }) => {
      const target = await resolveTarget(ref, context);
      if (opts.service !== undefined) {
        const service = serviceClient(opts, context);
        const results = [];
        for (const content of target.contents) {
          const requests = await service.listAll({ cid: [content.cid], status: [...PIN_STATES] });
          for (const request of requests) await service.remove(request.requestid);
          results.push({ ...content, removed: requests.map((r) => r.requestid) });
        }
        return report(
          json(opts.json),
          results,
          (r) =>
            `${r.removed.length === 0 ? "no pin request for" : `removed ${r.removed.length} pin request(s) of`} ${describe(r)}`,
          out,
        );
      }
      const store = await openPeerStore(context, global, {});
      try {
        const pinned = new Set(await store.pins());
        // Unpinning deletes a CID's blocks: a file another pinned version of the model lists too stays pinned.
        const keep = await pinnedElsewhere(target, pinned, context);
        const results = [];
        for (const content of target.contents) {
          const keptFor = pinned.has(content.cid) ? keep.get(content.cid) : undefined;
          const was = pinned.has(content.cid) && keptFor === undefined;
          if (was) await store.unpin(content.cid);
          results.push({ ...content, unpinned: was, ...(keptFor === undefined ? {} : { keptFor }) });
        }
        report(json(opts.json), results, unpinLine, out);
      } finally {
        await store.close();
      }
    });
}

/** A CID as given (in its canonical CIDv1 form), or the files and card of a model version as the registry lists them. */
async function resolveTarget(ref: string, context: PinContext): Promise<Target> {
  if (/^\d/.test(ref.trim())) return versionTarget(ref, context);
  let cid: string;
  try {
    cid = await canonicalCid(ref.trim());
  } catch (cause) {
    throw new InputError(`"${ref}" is neither a CID nor a model reference like 7 or 7@2`, { cause });
  }
  return { label: cid, contents: [{ cid }] };
}

async function versionTarget(ref: string, context: PinContext): Promise<Target> {
  const { modelId, version: asked } = parseModelRef(ref);
  const registry = await registryReader(context);
  const version = asked ?? (await registry.versionCount(modelId));
  if (version === 0) throw new InputError(`model ${modelId} has no published version`);
  return {
    label: `model ${modelId}@${version}`,
    modelId,
    version,
    contents: await registry.contents(modelId, version),
  };
}

/** The registry reads of a model reference, each failure decoded. */
async function registryReader(context: PinContext) {
  const { contracts } = await context.deployment();
  const registry = ModelRegistry__factory.connect(contracts.registry.address, await context.provider());
  const read = async <T>(call: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw decodeRegistryError(registry.interface, call, error);
    }
  };
  return {
    versionCount: async (modelId: bigint) => Number(await read("versionCount", () => registry.versionCount(modelId))),
    /** A version's files and its card, as the registry lists them. */
    contents: async (modelId: bigint, version: number): Promise<Content[]> => {
      const [files, card] = await Promise.all([
        read("filesOf", () => registry.filesOf(modelId, version)),
        read("cardCidOf", () => registry.cardCidOf(modelId, version)),
      ]);
      const contents: Content[] = files.map((f) => ({ cid: cidString(f.cid), path: f.path }));
      const cardCid = cidString(card);
      if (!contents.some((c) => c.cid === cardCid)) contents.push({ cid: cardCid, path: "(model card)" });
      return contents;
    },
  };
}

/**
 * For a model version's target: each of its CIDs that another version of the same model lists too, when every file
 * of that version is pinned here, mapped to that version ("7@1"). Nothing for a bare CID (who else pinned it, and
 * why, is not known here).
 */
async function pinnedElsewhere(
  target: Target,
  pinned: ReadonlySet<string>,
  context: PinContext,
): Promise<Map<string, string>> {
  const keep = new Map<string, string>();
  if (target.modelId === undefined || !target.contents.some((c) => pinned.has(c.cid))) return keep;
  const registry = await registryReader(context);
  const count = await registry.versionCount(target.modelId);
  for (let version = 1; version <= count; version++) {
    if (version === target.version) continue;
    const contents = await registry.contents(target.modelId, version);
    if (!contents.every((c) => pinned.has(c.cid))) continue;
    for (const c of contents) if (!keep.has(c.cid)) keep.set(c.cid, `${target.modelId}@${version}`);
  }
  return keep;
}

function unpinLine(r: Content & { unpinned: boolean; keptFor?: string }): string {
  if (r.keptFor !== undefined) return `kept ${describe(r)}: model ${r.keptFor}, pinned here, lists it too`;
  return `${r.unpinned ? "unpinned" : "was not pinned:"} ${describe(r)}`;
}

/** The client of `--service`, its token read from the variable `--token-env` names (never from a flag). */
function serviceClient(opts: ServiceFlags, context: PinContext): PinningServiceClient {
  const variable = opts.tokenEnv;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable))
    throw new InputError(`--token-env "${variable}" is not an environment variable name`);
  const token = (context.env ?? process.env)[variable];
  if (token === undefined || token === "")
    throw new ConfigError(`set $${variable} to the access token of ${opts.service} (or name another with --token-env)`);
  return new PinningServiceClient({ url: opts.service!, token, tokenSource: `the access token in $${variable}` });
}

async function pinAtService(
  service: PinningServiceClient,
  target: Target,
  content: Content,
  opts: PinFlags,
  err: (line: string) => void,
): Promise<{ content: Content; status: PinStatus; reused: boolean }> {
  // Asking again for content already requested would add a second request the publisher pays for: reuse it.
  const [existing] = await service.listAll({ cid: [content.cid], status: ["queued", "pinning", "pinned"] });
  let status = existing ?? (await service.add(servicePin(target, content, opts)));
  if (opts.wait === true && status.status !== "pinned") {
    const timeoutMs = parseSeconds("--wait-timeout", opts.waitTimeout) * 1000;
    const pollMs = parseSeconds("--poll-interval", opts.pollInterval) * 1000;
    err(`waiting for ${describe(content)} to be pinned (${status.status})`);
    status = await service.waitPinned(status.requestid, { timeoutMs, pollMs });
  }
  return { content, status, reused: existing !== undefined };
}

function servicePin(target: Target, content: Content, opts: PinFlags) {
  const base = opts.name ?? (target.modelId === undefined ? undefined : target.label.replace(/ /g, "-"));
  const name = content.path === undefined ? base : `${base}/${content.path}`;
  const meta =
    target.modelId === undefined
      ? undefined
      : { "vin.model": String(target.modelId), "vin.version": String(target.version), "vin.path": content.path! };
  return {
    cid: content.cid,
    ...(name === undefined ? {} : { name }),
    ...(opts.origin === undefined ? {} : { origins: opts.origin }),
    ...(meta === undefined ? {} : { meta }),
  };
}

/**
 * The local store: the context's, or a {@link PeerContentStore} over `--ipfs-dir` that dials only the peers and
 * gateways of the flags and, when there is a config file, its `ipfsPeers` and `ipfsGateways` and the operators that
 * announce in its ProviderDirectory.
 */
async function openPeerStore(
  context: PinContext,
  global: Globals,
  opts: Pick<PinFlags, "provider" | "gateway">,
): Promise<PinStore> {
  const { ipfsDir, kubo } = global();
  if (kubo !== undefined)
    throw new UnsupportedError("vin pin manages the embedded IPFS store: with a Kubo node, use `ipfs pin add`/`rm`");
  const sources = await fetchSources(
    global,
    () => context.provider(),
    { peers: opts.provider, gateways: opts.gateway },
    hubOutput(context).err,
  );
  if (context.peerStore !== undefined) return context.peerStore(sources);
  return PeerContentStore.open({ dir: ipfsDir, providers: sources.providers, gateways: sources.gateways });
}

function parseSeconds(flag: string, value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new InputError(`${flag} "${value}" is not a positive number of seconds`);
  return seconds;
}

function describe(content: Content): string {
  return content.path === undefined ? content.cid : `${content.path} ${content.cid}`;
}

function summary(target: Target) {
  return {
    target: target.label,
    ...(target.modelId === undefined ? {} : { modelId: target.modelId.toString(), version: target.version }),
    pinned: target.contents,
  };
}

function report<T>(asJson: boolean, rows: T[], line: (row: T) => string, out: (line: string) => void): void {
  if (asJson) out(JSON.stringify(rows, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2));
  else for (const row of rows) out(line(row));
}

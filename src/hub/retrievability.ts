/**
 * Retrievability: whether anyone but the publisher serves a model version's files. On a schedule the hub asks every
 * known provider (the operators' on-chain announcements, and the trustless HTTP gateways of its config) for every file
 * it indexes, one provider at a time per probe, and keeps each (file, provider) pair's last result. A version's figure
 * is the number of independent providers whose last probe of a file succeeded, at its least-served file; fewer than
 * two is a warning: one machine going away would make the version unretrievable.
 *
 * Independence is counted by libp2p peer id (the `/p2p/<id>` of a provider's addresses), a gateway by its URL: labels
 * (operator addresses) announcing the same peer id count once, whatever addresses they give (a staked account that
 * announces another operator's or the publisher's peer adds nothing), and the file's `shared` lists them. What is
 * left: two peer ids run by one party still count as two. The figure is what the hub saw, not a proof of independent
 * copies.
 *
 * The hub serves only a failure's category ({@link ProbeFailure}), never the probe's own words (which name the
 * host:port pairs an operator announced and how each answered: a port scan read off a public hub); the full reason is
 * logged locally at debug level.
 */
import type Database from "better-sqlite3";
import type { Provider, ProviderSource } from "../core/content";
import { firstLine, StateError } from "../core/errors";
import { type Logger, silentLogger } from "../core/log";
import { withTimeout } from "../core/retry";
import type { FileInput, HubStore } from "./store";

/** What one probe found: the provider alone served every block of the CID (verified), or why not. */
export type ProbeResult = { ok: true; bytes: number; ms: number } | { ok: false; reason: string; ms: number };

/**
 * Asks one provider (a libp2p peer, or a trustless gateway by base URL) for every block of `cid`; the signature of
 * `PeerContentStore.probe` (src/storage/peer.ts). Never throws for a provider's failure: it answers `ok: false`.
 */
export type Probe = (
  cid: string,
  provider: Provider | { gateway: string },
  options?: { timeoutMs?: number; signal?: AbortSignal },
) => Promise<ProbeResult>;

/** Options of {@link RetrievabilityProber}. */
export interface RetrievabilityOptions {
  /** The probe (`(cid, provider, options) => contentStore.probe(cid, provider, options)`). */
  probe: Probe;
  /** The providers to probe, asked once per round (e.g. the operators' announcements read from the chain). */
  providers?: ProviderSource;
  /** Trustless HTTP gateways (base URLs), probed as providers labelled by their URL. */
  gateways?: readonly string[];
  /** Time between the end of a round and the start of the next. Default 10 minutes. */
  intervalMs?: number;
  /** A probe that has not answered by then is recorded as failed (`timed out after … ms`). Default 60 s. */
  timeoutMs?: number;
  /** Probes in flight at once. Default 4. */
  concurrency?: number;
  logger?: Logger;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Why a probe failed, as the hub records and serves it. */
export type ProbeFailure =
  "unreachable" | "stalled" | "does not have the content" | "served a corrupted block" | "too large" | "error";

/** The last probe of a file from one provider. */
export interface ProviderProbe {
  label: string;
  ok: boolean;
  /** Why it failed, as a category only (null when it succeeded). */
  reason: ProbeFailure | null;
  /** The libp2p peer ids the label announced when probed (sorted; empty for a gateway). */
  peerIds: string[];
  /** How long the probe took. */
  ms: number;
  /** When it finished, in seconds since the epoch. */
  probedAt: number;
}

/** A file's retrievability: who served it at their last probe. */
export interface FileRetrievability {
  path: string;
  cid: string;
  /** Labels of the providers whose last probe of this file succeeded, sorted. */
  providers: string[];
  /** Independent providers among them: distinct peer ids (labels sharing one count once), gateways by URL. */
  independent: number;
  /** Labels among `providers` counted as one because they announced a common peer id, with those peer ids. */
  shared: { labels: string[]; peerIds: string[] }[];
  /** The last round that probed this file ended then (seconds since the epoch); null: not probed yet. */
  probedAt: number | null;
  /** Every provider's last probe of this file, successes first, then by label. */
  probes: ProviderProbe[];
}

/** A version's retrievability, as `/api/models/:id` shows it on each version. */
export interface VersionRetrievability {
  /** Distinct providers serving its least-served file; null until every file has been probed once. */
  providers: number | null;
  /** True when `providers` is below {@link MIN_INDEPENDENT_PROVIDERS}. */
  warning: boolean;
  /** The oldest of its files' last probe times (the figure is as of then); null until every file is probed. */
  probedAt: number | null;
  files: FileRetrievability[];
}

/** What one round did. */
export interface ProbeRound {
  /** Distinct CIDs probed. */
  files: number;
  /** Distinct provider labels (gateways included). */
  providers: number;
  /** Probes that succeeded, and that failed (timeouts included). */
  succeeded: number;
  failed: number;
}

/** Fewer distinct providers than this for any file of a version is a warning. */
export const MIN_INDEPENDENT_PROVIDERS = 2;

/**
 * Last probe per (file CID, provider label), and when each CID was last covered by a round (so a round with no
 * provider at all still marks its files as probed, served by nobody). Written only by {@link RetrievabilityProber}.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS hub_probe_results (cid TEXT NOT NULL, label TEXT NOT NULL, ok INTEGER NOT NULL, reason TEXT,
  ms INTEGER NOT NULL, probed_at INTEGER NOT NULL, peer_ids TEXT NOT NULL DEFAULT '[]', PRIMARY KEY (cid, label))
  WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hub_probed_files (cid TEXT PRIMARY KEY, probed_at INTEGER NOT NULL) WITHOUT ROWID;
`;

interface ProbeRow {
  label: string;
  ok: number;
  reason: string | null;
  ms: number;
  probed_at: number;
  peer_ids: string;
}

/**
 * A provider as probed: one per label (several entries with one label are merged, their addresses joined), with the
 * peer ids of its addresses.
 */
type Target = { label: string; provider: Provider | { gateway: string }; peerIds: string[] };

/**
 * Probes every indexed file from every known provider on a schedule, and answers each version's retrievability.
 * @example
 * const prober = new RetrievabilityProber(store, {
 *   probe: (cid, provider, o) => peerStore.probe(cid, provider, o),
 *   providers: () => readProviders(contracts),
 *   gateways: ["http://127.0.0.1:8080"],
 * });
 * prober.start();
 * prober.ofVersion(files).warning; // fewer than two independent providers
 * await prober.stop();
 */
export class RetrievabilityProber {
  private readonly db: Database.Database;
  private readonly options: RetrievabilityOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private controller: AbortController | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(store: HubStore, options: RetrievabilityOptions) {
    this.db = store.db;
    this.options = options;
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.db.exec(SCHEMA);
    // An index file written before peer ids were recorded: its rows count by label until probed again.
    const columns = this.db.prepare("PRAGMA table_info(hub_probe_results)").all() as { name: string }[];
    if (!columns.some((c) => c.name === "peer_ids"))
      this.db.exec("ALTER TABLE hub_probe_results ADD COLUMN peer_ids TEXT NOT NULL DEFAULT '[]'");
  }

  /** Runs a round now, then one every `intervalMs` after the previous ends, until {@link stop}. */
  start(): void {
    if (this.controller !== undefined) throw new StateError("the retrievability prober is already running");
    const controller = new AbortController();
    this.controller = controller;
    const loop = () => {
      this.running = this.probeOnce(controller.signal)
        .then(
          (round) => this.log.info(round, "retrievability probe round done"),
          (error: unknown) => {
            if (!controller.signal.aborted) this.log.warn({ err: error }, "retrievability probe round failed");
          },
        )
        .then(() => {
          if (!controller.signal.aborted) this.timer = setTimeout(loop, this.options.intervalMs ?? 600_000);
        });
    };
    loop();
  }

  /** Stops the schedule; probes in flight are abandoned and not recorded. */
  async stop(): Promise<void> {
    this.controller?.abort(new StateError("the retrievability prober stopped"));
    clearTimeout(this.timer);
    await this.running;
    this.controller = undefined;
    this.running = undefined;
  }

  /**
   * One round: every distinct file CID the hub indexes, probed from every provider (bounded concurrency, each probe
   * under `timeoutMs`), each result recorded as it comes; at the end, providers no longer listed are forgotten.
   * @throws whatever the provider source throws (nothing is recorded then); a StateError-carrying abort on `signal`.
   */
  async probeOnce(signal?: AbortSignal): Promise<ProbeRound> {
    const targets = await this.targets();
    const cids = (this.db.prepare("SELECT DISTINCT cid FROM files ORDER BY cid").all() as { cid: string }[]).map(
      (r) => r.cid,
    );
    const pairs = cids.flatMap((cid) => targets.map((target) => ({ cid, target })));
    const round: ProbeRound = { files: cids.length, providers: targets.length, succeeded: 0, failed: 0 };
    let next = 0;
    const worker = async () => {
      while (next < pairs.length) {
        const { cid, target } = pairs[next++]!;
        const result = await this.probeOne(cid, target, signal);
        if (signal?.aborted) return;
        this.record(cid, target, result);
        if (result.ok) round.succeeded++;
        else round.failed++;
      }
    };
    const concurrency = Math.max(1, this.options.concurrency ?? 4);
    await Promise.all(Array.from({ length: Math.min(concurrency, pairs.length) }, worker));
    signal?.throwIfAborted();
    this.finishRound(cids, targets);
    return round;
  }

  /** The retrievability of a version with these files (as `HubStore.getModel` lists them). */
  ofVersion(files: readonly FileInput[]): VersionRetrievability {
    const rows = files.map((f) => this.ofFile(f));
    const probed = rows.length > 0 && rows.every((f) => f.probedAt !== null);
    const providers = probed ? Math.min(...rows.map((f) => f.independent)) : null;
    return {
      providers,
      warning: providers !== null && providers < MIN_INDEPENDENT_PROVIDERS,
      probedAt: probed ? Math.min(...rows.map((f) => f.probedAt!)) : null,
      files: rows,
    };
  }

  private ofFile(file: FileInput): FileRetrievability {
    const round = this.db.prepare("SELECT probed_at FROM hub_probed_files WHERE cid = ?").get(file.cid) as
      { probed_at: number } | undefined;
    const probes = (
      this.db
        .prepare(
          "SELECT label, ok, reason, ms, probed_at, peer_ids FROM hub_probe_results WHERE cid = ? ORDER BY ok DESC, label",
        )
        .all(file.cid) as ProbeRow[]
    ).map((r): ProviderProbe => ({
      label: r.label,
      ok: r.ok === 1,
      // Rows of an older index file hold the probe's own words: served as their category all the same.
      reason: r.reason === null ? null : probeFailure(r.reason),
      peerIds: JSON.parse(r.peer_ids) as string[],
      ms: r.ms,
      probedAt: seconds(r.probed_at),
    }));
    const serving = probes.filter((p) => p.ok);
    const groups = independentGroups(serving);
    return {
      path: file.path,
      cid: file.cid,
      providers: serving.map((p) => p.label),
      independent: groups.length,
      shared: groups.filter((g) => g.labels.length > 1),
      probedAt: round === undefined ? null : seconds(round.probed_at),
      probes,
    };
  }

  /** The round's providers, one per label, then the gateways (labelled by URL). */
  private async targets(): Promise<Target[]> {
    const byLabel = new Map<string, string[]>();
    for (const p of (await this.options.providers?.()) ?? [])
      byLabel.set(p.label, [...new Set([...(byLabel.get(p.label) ?? []), ...p.multiaddrs])]);
    const targets: Target[] = [...byLabel].map(([label, multiaddrs]) => ({
      label,
      provider: { label, multiaddrs },
      peerIds: peerIdsOf(multiaddrs),
    }));
    for (const gateway of new Set(this.options.gateways ?? []))
      if (!byLabel.has(gateway)) targets.push({ label: gateway, provider: { gateway }, peerIds: [] });
    return targets;
  }

  /** One probe under the timeout; a timeout, or a probe that throws, is a failure with its reason. */
  private async probeOne(cid: string, target: Target, signal: AbortSignal | undefined): Promise<ProbeResult> {
    const timeoutMs = this.options.timeoutMs ?? 60_000;
    const started = this.now();
    try {
      return await withTimeout(
        `probe of ${cid} from ${target.label}`,
        timeoutMs,
        (s) => abortable(this.options.probe(cid, target.provider, { timeoutMs, signal: s }), s),
        signal,
      );
    } catch (error) {
      return { ok: false, reason: firstLine(error), ms: this.now() - started };
    }
  }

  /** Records a result; of a failure, only its category (the full reason goes to the local log, at debug level). */
  private record(cid: string, target: Target, result: ProbeResult): void {
    if (!result.ok)
      this.log.debug({ cid, provider: target.label, reason: result.reason }, "retrievability probe failed");
    this.db
      .prepare(
        `INSERT INTO hub_probe_results (cid, label, ok, reason, ms, probed_at, peer_ids) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (cid, label) DO UPDATE SET ok = excluded.ok, reason = excluded.reason, ms = excluded.ms,
           probed_at = excluded.probed_at, peer_ids = excluded.peer_ids`,
      )
      .run(
        cid,
        target.label,
        result.ok ? 1 : 0,
        result.ok ? null : probeFailure(result.reason),
        Math.round(result.ms),
        this.now(),
        JSON.stringify(target.peerIds),
      );
  }

  /** Marks the round's files probed, and forgets providers the round no longer listed (an operator that withdrew). */
  private finishRound(cids: readonly string[], targets: readonly Target[]): void {
    const at = this.now();
    const labels = JSON.stringify(targets.map((t) => t.label));
    const mark = this.db.prepare(
      "INSERT INTO hub_probed_files (cid, probed_at) VALUES (?, ?) ON CONFLICT (cid) DO UPDATE SET probed_at = excluded.probed_at",
    );
    this.db.transaction(() => {
      for (const cid of cids) mark.run(cid, at);
      this.db.prepare("DELETE FROM hub_probe_results WHERE label NOT IN (SELECT value FROM json_each(?))").run(labels);
    })();
  }
}

/**
 * The category of a probe's failure reason (the words of `PeerContentStore.probe` in src/storage/peer.ts, or of the
 * prober's timeout): all the hub keeps of it. Idempotent: a category maps to itself.
 */
export function probeFailure(reason: string): ProbeFailure {
  const text = reason.toLowerCase();
  if (text.startsWith("unreachable") || text.startsWith("announces no address")) return "unreachable";
  if (text.startsWith("stalled")) return "stalled";
  if (text.includes("corrupted")) return "served a corrupted block";
  if (text.includes("does not have")) return "does not have the content";
  if (text.includes("too large") || text.includes("more than the limit")) return "too large";
  if (text.includes("timed out") || text.includes("timeout")) return "stalled";
  return "error";
}

/** The `/p2p/<id>` peer ids of `multiaddrs`, distinct and sorted. */
function peerIdsOf(multiaddrs: readonly string[]): string[] {
  const ids = multiaddrs.map((a) => /\/p2p\/([^/]+)/.exec(a)?.[1]).filter((id): id is string => id !== undefined);
  return [...new Set(ids)].sort();
}

/**
 * The serving probes grouped into independent providers: labels joined when they share a peer id (transitively: a
 * label announcing two peer ids joins both groups); a gateway, or a label with no peer id, is a group of its own.
 */
function independentGroups(serving: readonly ProviderProbe[]): { labels: string[]; peerIds: string[] }[] {
  const groups: { labels: string[]; peerIds: string[] }[] = [];
  for (const probe of serving) {
    const joined = groups.filter((g) => g.peerIds.some((id) => probe.peerIds.includes(id)));
    const merged = {
      labels: [...joined.flatMap((g) => g.labels), probe.label].sort(),
      peerIds: [...new Set([...joined.flatMap((g) => g.peerIds), ...probe.peerIds])].sort(),
    };
    for (const g of joined) groups.splice(groups.indexOf(g), 1);
    groups.push(merged);
  }
  return groups;
}

/** Parses the `:version` of `/api/models/:id/versions/:version/providers`; undefined when it is not a version number. */
export function parseVersionParam(raw: string): number | undefined {
  return /^[1-9]\d{0,9}$/.test(raw) && Number(raw) <= 0xffffffff ? Number(raw) : undefined;
}

/** Rejects as soon as `signal` aborts, for a probe that ignores its signal (a stalled peer must not hold a worker). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/**
 * Storage benchmark (`npm run bench:storage`): how long a fresh reader takes to fetch a model file from IPFS peers
 * on loopback, against reading the same file from its local disk through the same verification, and how fast a
 * publisher adds. Writes bench/results/storage.json.
 *
 * Processes. The publisher, three operators and every reader are peers (test/storage/peer-fixtures/peer.ts), each in
 * its own process as on its own host. The publisher adds a 10 MB and a 100 MB file of random bytes; the operators pin
 * both from it (untimed). Each timed fetch is a `cat` by a reader started for it with an empty store, timed inside
 * the reader from the call to the verified bytes: every block checked against its CID as it arrives, written to the
 * reader's blockstore, the file assembled and its CID recomputed (`verifyContent`). The local figure is the same
 * `cat` by a reader whose store already holds every block (written beforehand), so it is disk read + assembly +
 * the same verification. Both run with a warm page cache on the provider side and on the local side.
 *
 * "From 3 providers" gives the reader three operators in its provider list. The store asks providers one at a time
 * (so a block is known to come from the provider under test), so this measures the cost of the longer list, not a
 * parallel download.
 *
 * Publish throughput: `add` of the 100 MB file in this process (chunking, hashing, writing blocks), in MB/s.
 *
 * Each figure is the median of BENCH_STORAGE_RUNS runs (default 3), each with a fresh reader.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { EmbeddedContentStore, PeerContentStore } from "../src/storage";
import { startPeer, type PeerProcess } from "../test/storage/peer-fixtures/harness";
import type { CatResult } from "../test/storage/peer-fixtures/peer";
import { report, type Row } from "./lib/report";

const MB = 1_000_000;
const RUNS = Number(process.env.BENCH_STORAGE_RUNS ?? 3);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), "vin-bench-storage-"));
  const peers: PeerProcess[] = [];
  const start = async (label: string, dir = mkdtempSync(path.join(root, "peer-"))): Promise<PeerProcess> => {
    const peer = await startPeer(label, dir, { stallMs: 30_000 });
    peers.push(peer);
    return peer;
  };
  try {
    const files = { small: randomBytes(10 * MB), large: randomBytes(100 * MB) };
    const paths = { small: path.join(root, "10mb.bin"), large: path.join(root, "100mb.bin") };
    writeFileSync(paths.small, files.small);
    writeFileSync(paths.large, files.large);

    // Publish throughput, in this process.
    const publishTimes: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const store = await PeerContentStore.open({ dir: mkdtempSync(path.join(root, "publish-")) });
      const started = performance.now();
      await store.add(files.large);
      publishTimes.push((performance.now() - started) / 1000);
      await store.close();
    }

    const publisher = await start("publisher");
    const cids = {
      small: await publisher.call<string>({ op: "add", file: paths.small }),
      large: await publisher.call<string>({ op: "add", file: paths.large }),
    };
    const operators = await Promise.all(["operator-1", "operator-2", "operator-3"].map((label) => start(label)));
    for (const operator of operators) {
      for (const cid of Object.values(cids)) {
        await operator.call({ op: "pin", cid, providers: [publisher.provider()] });
      }
    }
    await publisher.kill();
    console.log(`publisher added ${cids.small} (10 MB), ${cids.large} (100 MB); 3 operators pinned both`);

    const fetchOnce = async (cid: string, providers: PeerProcess[], dir?: string): Promise<number> => {
      const reader = await start("reader", dir);
      const result = await reader.call<CatResult>({ op: "cat", cid, providers: providers.map((p) => p.provider()) });
      await reader.close();
      return result.ms / 1000;
    };
    const measure = async (what: string, fn: () => Promise<number>): Promise<number> => {
      const times: number[] = [];
      for (let run = 0; run < RUNS; run++) times.push(await fn());
      console.log(`${what}: ${times.map((t) => t.toFixed(3)).join(", ")} s`);
      return median(times);
    };

    const fetch10 = await measure("fetch 10 MB from 1", () => fetchOnce(cids.small, [operators[0]!]));
    const fetch100 = await measure("fetch 100 MB from 1", () => fetchOnce(cids.large, [operators[0]!]));
    const fetch100From3 = await measure("fetch 100 MB from 3", () => fetchOnce(cids.large, operators));
    const local100 = await measure("local 100 MB", async () => {
      const dir = mkdtempSync(path.join(root, "local-"));
      const embedded = await EmbeddedContentStore.open(dir);
      await embedded.add(files.large);
      await embedded.close();
      return fetchOnce(cids.large, [], dir);
    });
    const publish = 100 / median(publishTimes);

    const rows: Row[] = [
      { key: "fetch10MbS", value: fetch10, unit: "s", note: "fresh reader, 10 MB from one operator over bitswap" },
      { key: "fetch100MbS", value: fetch100, unit: "s", note: "fresh reader, 100 MB from one operator over bitswap" },
      {
        key: "fetch100MbFrom3S",
        value: fetch100From3,
        unit: "s",
        note: "the same with three operators listed (asked one at a time)",
      },
      { key: "local100MbS", value: local100, unit: "s", note: "the same cat with every block on local disk" },
      {
        key: "publishMbPerS",
        value: publish,
        unit: "MB/s",
        higherIsBetter: true,
        note: "add of 100 MB (chunk, hash, write blocks)",
      },
      {
        key: "ratioVsLocal",
        value: fetch100 / local100,
        unit: "x",
        target: 2,
        note: "fetch100MbS / local100MbS",
      },
    ];
    report("storage", "Storage: IPFS peers on loopback (separate processes)", rows, {
      runs: RUNS,
      cpus: os.cpus().length,
      cids,
    });
  } finally {
    await Promise.all(peers.map((peer) => peer.kill()));
    rmSync(root, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

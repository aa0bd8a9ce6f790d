import { expect } from "chai";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { cidToString } from "../../src/core/cid";
import { rawCid } from "../../src/core/cid";
import {
  EmbeddedContentStore,
  KuboContentStore,
  StorageIntegrityError,
  StorageNotFoundError,
  StorageRequestError,
  StorageTooLargeError,
  computeCid,
} from "../../src/storage";
import { FakeKubo } from "./fake-kubo";

/** Deterministic bytes spanning `size` (several 256 KiB chunks when large). */
function bytesOf(size: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed) % 251);
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe("content storage", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), "vin-store-"));
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  describe("computeCid", () => {
    it("gives a single-chunk file the raw-leaf CIDv1 that IPFS gives it", async () => {
      const data = new TextEncoder().encode("hello world\n");
      expect(await computeCid(data)).to.equal(cidToString(rawCid(data)));
      expect(await computeCid(data)).to.equal("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4");
    });

    it("gives a multi-chunk file a dag-pb CIDv1", async () => {
      expect(await computeCid(bytesOf(600_000))).to.match(/^bafybei[a-z2-7]+$/);
    });
  });

  describe("EmbeddedContentStore", () => {
    let dir: string;
    let store: EmbeddedContentStore;
    beforeEach(async () => {
      dir = tempDir();
      store = await EmbeddedContentStore.open(dir, { maxBytes: 2_000_000 });
    });
    afterEach(() => store.close());

    it("adds and cats small and chunked content under the CID computeCid predicts", async () => {
      for (const data of [bytesOf(10), bytesOf(600_000)]) {
        const cid = await store.add(data);
        expect(cid).to.equal(await computeCid(data));
        expect(Buffer.from(await store.cat(cid)).equals(Buffer.from(data))).to.equal(true);
        expect(await store.has(cid)).to.equal(true);
      }
    });

    it("keeps content on disk across reopening", async () => {
      const cid = await store.add(bytesOf(1000, 7));
      await store.close();
      store = await EmbeddedContentStore.open(dir);
      expect(Buffer.from(await store.cat(cid)).equals(Buffer.from(bytesOf(1000, 7)))).to.equal(true);
    });

    it("fails with StorageNotFoundError for content it does not hold, without searching a network", async () => {
      const cid = await computeCid(bytesOf(99));
      expect(await store.has(cid)).to.equal(false);
      const error = await store.cat(cid).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(StorageNotFoundError);
      expect((error as StorageNotFoundError).cid).to.equal(cid);
    });

    it("fails with StorageIntegrityError naming the CID when a stored block was altered", async () => {
      const cid = await store.add(bytesOf(500));
      const [block] = files(path.join(dir, "blocks"));
      writeFileSync(block!, bytesOf(500, 2));
      const error = await store.cat(cid).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(StorageIntegrityError);
      expect((error as Error).message).to.contain(cid);
    });

    it("refuses content above its size limit", async () => {
      const error = await store.add(bytesOf(2_000_001)).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(StorageTooLargeError);
    });
  });

  describe("KuboContentStore", () => {
    let backend: EmbeddedContentStore;
    let kubo: FakeKubo;
    let store: KuboContentStore;
    before(async () => {
      backend = await EmbeddedContentStore.open(tempDir());
      kubo = await FakeKubo.start(backend);
    });
    beforeEach(() => {
      Object.assign(kubo.faults, { failNext: 0, hangNext: 0, tamper: false });
      kubo.requests.length = 0;
      store = new KuboContentStore({ url: kubo.url, timeoutMs: 1_000, attempts: 3 });
    });
    after(async () => {
      await kubo.stop();
      await backend.close();
    });

    it("adds with CIDv1 and raw leaves, pinned, and cats what it added", async () => {
      const data = bytesOf(600_000, 3);
      const cid = await store.add(data);
      expect(cid).to.equal(await computeCid(data));
      expect(kubo.requests[0]).to.match(
        /^POST \/api\/v0\/add\?cid-version=1&raw-leaves=true&chunker=size-262144&pin=true/,
      );
      expect(Buffer.from(await store.cat(cid)).equals(Buffer.from(data))).to.equal(true);
      expect(await store.has(cid)).to.equal(true);
      expect(await store.has(await computeCid(bytesOf(5, 5)))).to.equal(false);
    });

    it("retries after a server error and after a timeout", async () => {
      const cid = await store.add(bytesOf(100, 4));
      kubo.faults.failNext = 1;
      kubo.faults.hangNext = 1;
      expect((await store.cat(cid)).length).to.equal(100);
      expect(kubo.requests.filter((r) => r.startsWith("POST /api/v0/cat"))).to.have.length(3);
    });

    it("gives up with StorageRequestError after its attempts", async () => {
      kubo.faults.failNext = 3;
      const error = await store.add(bytesOf(10, 9)).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(StorageRequestError);
      expect((error as Error).message).to.contain("/api/v0/add");
    });

    it("fails with StorageIntegrityError naming the CID when the node returns other bytes", async () => {
      const cid = await store.add(bytesOf(100, 6));
      kubo.faults.tamper = true;
      const error = await store.cat(cid).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(StorageIntegrityError);
      expect((error as StorageIntegrityError).cid).to.equal(cid);
    });

    it("fails with StorageNotFoundError for content the node does not have", async () => {
      const error = await store.cat(await computeCid(bytesOf(77, 8))).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(StorageNotFoundError);
    });
  });
});

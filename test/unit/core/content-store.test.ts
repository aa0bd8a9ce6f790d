import { expect } from "chai";
import { hexlify } from "ethers";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { cidFromString, cidToString, rawCid } from "../../../src/core/cid";
import { fetchVerified } from "../../../src/core/content";
import { IntegrityError, NotFoundError } from "../../../src/core/errors";
import { sha256Hex } from "../../../src/core/hash";
import { ContentStores, FsContentStore, openNodeContent } from "../../../src/node/content-store";
import { ModelError } from "../../../src/node/errors";
import { readVersionFile } from "../../../src/node/models";
import { EmbeddedContentStore, computeCid } from "../../../src/storage";
import { expectRejection } from "../../fixtures/assert";

const bytesOf = (text: string) => new TextEncoder().encode(text);
/** Larger than one UnixFS chunk (256 KiB): `ipfs add` gives it a dag-pb CID, not its raw-block CID. */
const large = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251);

describe("content stores of the operator node (core's ContentStore)", () => {
  let root: string;
  let dir: string;
  let store: FsContentStore;

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), "vin-content-"));
    dir = path.join(root, "content");
    store = new FsContentStore(dir);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  describe("FsContentStore", () => {
    it("adds bytes under their raw-block CID and reads them back", async () => {
      const data = bytesOf("penguins");
      const cid = await store.add(data);
      expect(cid).to.equal(cidToString(rawCid(data)));
      expect(cid).to.match(/^bafkrei/);
      expect(await store.has(cid)).to.equal(true);
      expect(await store.cat(cid)).to.deep.equal(data);
    });

    it("refuses a file whose bytes are not the content of its raw CID, with an IntegrityError naming the file", async () => {
      const cid = await store.add(bytesOf("the model"));
      writeFileSync(path.join(dir, cid), bytesOf("another model"));
      const error = await expectRejection(
        store.cat(cid),
        IntegrityError,
        new RegExp(
          `${path.join(dir, cid).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} holds content with CID bafkrei[a-z2-7]+, not the ${cid}`,
        ),
      );
      expect((error as IntegrityError).context).to.include({
        cid,
        actual: cidToString(rawCid(bytesOf("another model"))),
      });
    });

    it("stores and reads a file under the UnixFS CID `ipfs add` gives it, checked by recomputing that CID", async () => {
      const cid = await computeCid(large);
      expect(cid).to.not.equal(cidToString(rawCid(large)));
      await store.put(cid, large);
      expect(await store.cat(cid)).to.deep.equal(large);
      const tampered = Uint8Array.from(large);
      tampered[123_456] ^= 1;
      writeFileSync(path.join(dir, cid), tampered);
      await expectRejection(
        store.cat(cid),
        IntegrityError,
        new RegExp(`holds content with CID ${await computeCid(tampered)}, not the ${cid}`),
      );
    });

    it("refuses to put bytes under a CID that is not theirs, storing nothing", async () => {
      const cid = cidToString(rawCid(bytesOf("a")));
      await expectRejection(
        store.put(cid, bytesOf("b")),
        IntegrityError,
        new RegExp(`refusing to store content with CID ${cidToString(rawCid(bytesOf("b")))} under ${cid}`),
      );
      expect(await store.has(cid)).to.equal(false);
    });

    it("throws NotFoundError for content it does not hold, and for a name that is not a base32 CIDv1 (never a path)", async () => {
      const cid = cidToString(rawCid(bytesOf("absent")));
      expect(await store.has(cid)).to.equal(false);
      await expectRejection(
        store.cat(cid),
        NotFoundError,
        new RegExp(`content ${cid} is not in ${dir}: copy the file there under that name`),
      );
      writeFileSync(path.join(root, "secret"), "x");
      expect(await store.has("../secret")).to.equal(false);
      await expectRejection(
        store.cat("../secret"),
        NotFoundError,
        /is not in .*: its files are named by base32 CIDv1s/,
      );
    });

    it("serves core's fetchVerified: the recorded SHA-256 is checked on top of the CID", async () => {
      const data = bytesOf("model.onnx bytes");
      const cid = await store.add(data);
      expect(await fetchVerified(store, { path: "model.onnx", cid, sha256: sha256Hex(data) })).to.deep.equal(data);
      await expectRejection(
        fetchVerified(store, { path: "model.onnx", cid, sha256: sha256Hex(bytesOf("other")) }),
        IntegrityError,
        /model\.onnx \(bafkrei[a-z2-7]+\) hashes to 0x[0-9a-f]{64}, not the recorded/,
      );
      const missing = cidToString(rawCid(bytesOf("missing")));
      await expectRejection(
        fetchVerified(store, { path: "zk/zk.json", cid: missing, sha256: sha256Hex(bytesOf("missing")) }),
        NotFoundError,
        new RegExp(`zk/zk\\.json \\(${missing}\\) is not available from the content store`),
      );
    });
  });

  describe("ContentStores", () => {
    it("answers from the first store that holds the content, and adds to the first", async () => {
      const second = new FsContentStore(path.join(root, "second"));
      const chain = new ContentStores([
        { store, where: dir },
        { store: second, where: "the second directory" },
      ]);
      const onlyInSecond = await second.add(bytesOf("second"));
      expect(await chain.cat(onlyInSecond)).to.deep.equal(bytesOf("second"));
      expect(await chain.has(onlyInSecond)).to.equal(true);
      const added = await chain.add(bytesOf("first"));
      expect(await store.has(added)).to.equal(true);
      expect(await second.has(added)).to.equal(false);
    });

    it("throws one NotFoundError naming every store when none holds the content", async () => {
      const ipfs = await EmbeddedContentStore.open(path.join(root, "ipfs"));
      const chain = new ContentStores([
        { store, where: dir },
        { store: ipfs, where: "the IPFS store ipfs" },
      ]);
      const cid = cidToString(rawCid(bytesOf("nowhere")));
      try {
        expect(await chain.has(cid)).to.equal(false);
        await expectRejection(
          chain.cat(cid),
          NotFoundError,
          new RegExp(
            `content ${cid} is in none of the node's content stores \\(content ${cid} is not in ${dir}: copy the file there under that name; not in the IPFS store ipfs\\)`,
          ),
        );
      } finally {
        await chain.close();
      }
    });

    it("does not pass over a store whose copy is corrupted: the IntegrityError is thrown", async () => {
      const second = new FsContentStore(path.join(root, "second"));
      const chain = new ContentStores([
        { store, where: dir },
        { store: second, where: "the second directory" },
      ]);
      const cid = await second.add(bytesOf("good"));
      await store.add(bytesOf("bad"));
      writeFileSync(path.join(dir, cid), bytesOf("bad"));
      await expectRejection(chain.cat(cid), IntegrityError, /holds content with CID/);
    });
  });

  describe("readVersionFile (the node's model files)", () => {
    it("returns a registered file, and refuses with a ModelError naming the version what is missing, mismatching or corrupted", async () => {
      const onnx = bytesOf("onnx");
      const cid = await store.add(onnx);
      // As `registry.filesOf` lists a file: the CID in binary form, as hex.
      const file = { path: "model.onnx", cid: hexlify(cidFromString(cid)), sha256: sha256Hex(onnx) };
      expect(await readVersionFile(store, "model 1@1", file)).to.deep.equal(onnx);
      await expectRejection(
        readVersionFile(store, "model 1@1", { ...file, sha256: sha256Hex(bytesOf("other")) }),
        ModelError,
        /^model 1@1: model\.onnx \(bafkrei[a-z2-7]+\) hashes to 0x[0-9a-f]{64}, not the recorded/,
      );
      await expectRejection(
        readVersionFile(store, "model 1@1", { ...file, cid: hexlify(rawCid(bytesOf("absent"))) }),
        ModelError,
        /^model 1@1: model\.onnx \(bafkrei[a-z2-7]+\) is not available from the content store/,
      );
      writeFileSync(path.join(dir, cid), bytesOf("tampered"));
      await expectRejection(
        readVersionFile(store, "model 1@1", file),
        ModelError,
        /^model 1@1: .* holds content with CID bafkrei[a-z2-7]+, not the/,
      );
    });
  });

  describe("openNodeContent", () => {
    it("reads the content directory first, then the embedded IPFS store", async () => {
      const ipfsDir = path.join(root, "ipfs");
      const ipfs = await EmbeddedContentStore.open(ipfsDir);
      const inIpfs = await ipfs.add(large);
      await ipfs.close();
      const inDir = await store.add(bytesOf("local"));
      const content = await openNodeContent({ contentDir: dir, ipfsDir, timeoutMs: 1_000 });
      try {
        expect(await content.store.cat(inDir)).to.deep.equal(bytesOf("local"));
        expect(await content.store.cat(inIpfs)).to.deep.equal(large);
      } finally {
        await content.close();
      }
    });
  });
});

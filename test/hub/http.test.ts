import { expect } from "chai";
import { type RunningHubServer, startHubServer } from "../../src/hub/http";
import type { HubStore } from "../../src/hub/store";
import { Mode } from "../../src/core/modes";
import { freshHub, id, JOB_PAYMENT, publish } from "./fixtures";

interface JsonResponse {
  status: number;
  body: Record<string, unknown>;
}

describe("hub HTTP API", () => {
  let store: HubStore;
  let server: RunningHubServer;
  const staticPaths: string[] = [];

  const get = async (path: string): Promise<JsonResponse> => {
    const res = await fetch(server.url + path);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    const hub = freshHub();
    store = hub.store;
    publish(store, { model: 1, fields: { name: "acme/txn-guard", tags: ["fraud-detection"] }, usage: { 0: 3 } });
    publish(store, { model: 1, version: 2, fields: { name: "acme/txn-guard", tags: ["fraud-detection"] } });
    publish(store, { model: 2, fields: { name: "acme/loan-scorer" }, usage: { 0: 3 } });
    store.addBelowFloorUsage({ modelId: id(2), version: 1, mode: Mode.Vanilla, jobs: 2, block: 99 });
    publish(store, { model: 3, fields: { name: "helsinki/opus-mt-fi-en", task: "translation" } });
    server = await startHubServer({
      store,
      engine: hub.engine,
      port: 0,
      staticHandler: (req, res) => {
        if (req.url !== "/index.html") return false;
        staticPaths.push(req.url);
        res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html>");
        return true;
      },
    });
  });

  after(async () => {
    await server.close();
    store.close();
  });

  it("binds to 127.0.0.1 by default", () => {
    expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  describe("GET /api/search", () => {
    it("answers hits with provenance as JSON", async () => {
      const { status, body } = await get("/api/search?q=fraud&mode=vanilla&sort=usage&page=1");
      expect(status).to.equal(200);
      const hits = body.hits as { modelId: number; version: number; cardCid: string }[];
      expect(hits.map((h) => [h.modelId, h.version])).to.deep.equal([[1, 2]]);
      expect(hits[0]?.cardCid).to.equal("bafkrei-card-1-2");
    });

    for (const [query, param] of [
      ["minUsage=-1", "minUsage"],
      ["minUsage=ten", "minUsage"],
      ["mode=quantum", "mode"],
      ["mode=32", "mode"],
      ["sort=best", "sort"],
      ["page=0", "page"],
      ["pageSize=500", "pageSize"],
      ["task=a&task=b", "task"],
      ["colour=red", "colour"],
      ["language=klingon", "language"],
      ["language=a&language=b", "language"],
      [`q=${"a".repeat(300)}`, "q"],
    ]) {
      it(`answers 400 naming \`${param}\` for ?${query.slice(0, 30)}`, async () => {
        const { status, body } = await get(`/api/search?${query}`);
        expect(status).to.equal(400);
        expect(body).to.include({ error: "HubParamError", param });
      });
    }

    it("gives each hit its verified jobs, paid volume as an exact decimal string, and jobs below the usage floor", async () => {
      const { body } = await get("/api/search?q=loan&sort=usage");
      const [hit] = body.hits as Record<string, unknown>[];
      expect(hit).to.deep.include({
        name: "acme/loan-scorer",
        verifiedJobs: 3,
        paidVolume: "9450000000000000000", // above 2^63
        belowFloorJobs: 2,
        usage: [{ mode: 0, jobs: 3, paid: (3n * JOB_PAYMENT).toString(), belowFloor: 2 }],
      });
    });

    it("filters by language, given as an ISO 639-1 code or an English name", async () => {
      for (const language of ["fi", "Finnish"]) {
        const { status, body } = await get(`/api/search?language=${language}`);
        expect(status).to.equal(200);
        expect((body.hits as { name: string }[]).map((h) => h.name)).to.deep.equal(["helsinki/opus-mt-fi-en"]);
      }
    });

    it("says what a language must be when it is not one", async () => {
      const { status, body } = await get("/api/search?language=klingon");
      expect(status).to.equal(400);
      expect(body).to.deep.equal({
        error: "HubParamError",
        param: "language",
        message: "Invalid parameter `language`: must be an ISO 639-1 code or a language name, e.g. fi or Finnish.",
      });
    });

    it("keeps serving after bad requests", async () => {
      await get("/api/search?mode=quantum");
      await get("/api/models/%E0%A4%A");
      await fetch(`${server.url}/api/search`, { method: "POST", body: "x" });
      expect((await get("/api/search?q=txn")).status).to.equal(200);
    });

    it("answers hostile query text with 200", async () => {
      const q = encodeURIComponent("\"'; DROP TABLE versions; -- NEAR(a*) name:x");
      expect((await get(`/api/search?q=${q}`)).status).to.equal(200);
      expect(store.stats().versions).to.equal(4);
    });
  });

  describe("GET /api/models/:id", () => {
    it("answers the model with versions, files and usage", async () => {
      const { status, body } = await get("/api/models/1");
      expect(status).to.equal(200);
      const versions = body.versions as {
        version: number;
        files: unknown[];
        usage: unknown[];
        card: { name: string };
      }[];
      expect(versions.map((v) => v.version)).to.deep.equal([2, 1]);
      expect(versions[1]?.usage).to.deep.equal([
        { mode: 0, jobs: 3, paid: (3n * JOB_PAYMENT).toString(), belowFloor: 0 },
      ]);
      expect(body).to.include({ verifiedJobs: 3, paidVolume: (3n * JOB_PAYMENT).toString(), belowFloorJobs: 0 });
      expect(versions[0]?.files).to.have.length(1);
      expect(versions[0]?.card.name).to.equal("acme/txn-guard");
      expect(body.searchVersion).to.equal(2);
    });

    it("answers 404 for an unknown model", async () => {
      expect((await get("/api/models/99")).status).to.equal(404);
    });

    for (const raw of ["abc", "0", "-1", "1.5", "99999999999999999999", "%E0%A4%A"]) {
      it(`answers 400 naming \`id\` for ${raw}`, async () => {
        const { status, body } = await get(`/api/models/${raw}`);
        expect(status).to.equal(400);
        expect(body).to.include({ param: "id" });
      });
    }
  });

  describe("other routes", () => {
    it("answers 405 to other methods", async () => {
      expect((await fetch(`${server.url}/api/search`, { method: "DELETE" })).status).to.equal(405);
    });

    it("hands paths outside /api/ to the static handler", async () => {
      const res = await fetch(`${server.url}/index.html`);
      expect(res.status).to.equal(200);
      expect(await res.text()).to.equal("<!doctype html>");
      expect(staticPaths).to.deep.equal(["/index.html"]);
    });

    it("answers 404 when nothing serves the path", async () => {
      expect((await get("/nowhere")).status).to.equal(404);
      expect((await get("/api/nowhere")).status).to.equal(404);
    });

    it("answers 404 to /api/network when the hub reads no chain", async () => {
      const { status, body } = await get("/api/network");
      expect(status).to.equal(404);
      expect(body).to.deep.equal({ error: "NotFound", message: "This hub does not read the network's chain events." });
    });
  });
});

import { expect } from "chai";
import pino from "pino";
import { cidToString, rawCid } from "../../src/core/cid";
import { ConfigError, InputError, NotFoundError, TimeoutError, TransportError } from "../../src/core/errors";
import {
  PinningAuthError,
  PinningFailedError,
  PinningNotFoundError,
  PinningRequestError,
  PinningResponseError,
  PinningServiceClient,
  PinningUnavailableError,
  MAX_PINNING_RESPONSE_BYTES,
  type PinState,
  type PinningServiceOptions,
} from "../../src/storage/pinning";
import { FakePinningService } from "./fake-pinning-service";

const TOKEN = "secret-token";
const cidOf = (n: number) => cidToString(rawCid(new TextEncoder().encode(`content ${n}`)));

/** The error `promise` rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  return outcome.error as Error;
}

describe("PinningServiceClient (IPFS Pinning Service API)", () => {
  let service: FakePinningService;
  const client = (options: Partial<PinningServiceOptions> = {}) =>
    new PinningServiceClient({ url: service.url, token: TOKEN, backoffMs: 10, timeoutMs: 2_000, ...options });

  beforeEach(async () => {
    service = await FakePinningService.start();
  });
  afterEach(() => service.stop());

  describe("endpoints", () => {
    it("adds a pin (POST /pins) with the bearer token, its name, origins and meta, and gets it back queued", async () => {
      const cid = cidOf(1);
      const status = await client().add({
        cid,
        name: "model.onnx",
        origins: ["/ip4/10.0.0.1/tcp/4001"],
        meta: { v: "1" },
      });
      expect(status.status).to.equal("queued");
      expect(status.pin).to.deep.equal({
        cid,
        name: "model.onnx",
        origins: ["/ip4/10.0.0.1/tcp/4001"],
        meta: { v: "1" },
      });
      expect(status.delegates).to.have.length(1);
      const [post] = service.seen("POST");
      expect(post!.authorization).to.equal(`Bearer ${TOKEN}`);
      expect(post!.body).to.deep.equal({
        cid,
        name: "model.onnx",
        origins: ["/ip4/10.0.0.1/tcp/4001"],
        meta: { v: "1" },
      });
      expect(service.pins.get(status.requestid)!.pin.cid).to.equal(cid);
    });

    it("reads a pin request (GET /pins/{requestid}) as the service moves it on", async () => {
      const { requestid } = await client().add({ cid: cidOf(1) });
      expect((await client().get(requestid)).status).to.equal("queued");
      service.setStatus(requestid, "pinning");
      expect((await client().get(requestid)).status).to.equal("pinning");
      service.setStatus(requestid, "pinned");
      const pinned = await client().get(requestid);
      expect(pinned.status).to.equal("pinned");
      expect(pinned.requestid).to.equal(requestid);
    });

    it("lists pins (GET /pins): only pinned ones without a status filter, and by cid, name, status, meta and limit", async () => {
      const c = client();
      const a = await c.add({ cid: cidOf(1), name: "Penguins/model.onnx", meta: { model: "7" } });
      const b = await c.add({ cid: cidOf(2), name: "penguins/README.md", meta: { model: "7" } });
      await c.add({ cid: cidOf(3), name: "other" });
      service.setStatus(a.requestid, "pinned");

      expect((await c.list()).results.map((p) => p.requestid)).to.deep.equal([a.requestid]);
      const all: PinState[] = ["queued", "pinning", "pinned", "failed"];
      expect((await c.list({ status: all })).count).to.equal(3);
      expect((await c.list({ status: ["queued"] })).count).to.equal(2);
      expect((await c.list({ status: all, cid: [cidOf(2), cidOf(3)] })).count).to.equal(2);
      expect((await c.list({ status: all, name: "penguins/README.md" })).results[0]!.requestid).to.equal(b.requestid);
      expect((await c.list({ status: all, name: "penguins", match: "ipartial" })).count).to.equal(2);
      expect((await c.list({ status: all, meta: { model: "7" } })).count).to.equal(2);
      const page = await c.list({ status: all, limit: 1 });
      expect(page.count).to.equal(3);
      expect(page.results).to.have.length(1);
      const query = service.seen("GET", "/pins").at(-1)!.query;
      expect(query.getAll("status")).to.deep.equal(all);
      expect(query.get("limit")).to.equal("1");
    });

    it("reads every page with listAll, newest first, each page asked `before` the oldest of the last", async () => {
      const c = client();
      const added = [];
      for (let i = 0; i < 23; i++) added.push(await c.add({ cid: cidOf(i) }));
      const all = await c.listAll({ status: ["queued"], limit: 10 });
      expect(all.map((p) => p.requestid)).to.deep.equal(added.map((p) => p.requestid).reverse());
      const gets = service.seen("GET", "/pins");
      expect(gets).to.have.length(3);
      expect(gets[0]!.query.get("before")).to.equal(null);
      expect(gets[1]!.query.get("before")).to.equal(added[13]!.created);
      expect(gets[2]!.query.get("before")).to.equal(added[3]!.created);
    });

    it("refuses a service whose pages never get older", async () => {
      const c = client();
      await c.add({ cid: cidOf(1) });
      await c.add({ cid: cidOf(2) });
      const stuck = await c.list({ status: ["queued"], limit: 1 });
      const body = JSON.stringify({ count: 2, results: stuck.results });
      service.script.push({ status: 200, body }, { status: 200, body }, { status: 200, body });
      const error = await rejection(c.listAll({ status: ["queued"], limit: 1 }));
      expect(error).to.be.instanceOf(PinningResponseError);
      expect(error.message).to.contain("pagination stalled");
    });

    it("replaces a pin (POST /pins/{requestid}): a new request for the new CID, the old one gone", async () => {
      const c = client();
      const old = await c.add({ cid: cidOf(1), name: "v1" });
      const replaced = await c.replace(old.requestid, { cid: cidOf(2), name: "v2" });
      expect(replaced.requestid).to.not.equal(old.requestid);
      expect(replaced.pin).to.deep.equal({ cid: cidOf(2), name: "v2" });
      expect(await rejection(c.get(old.requestid))).to.be.instanceOf(PinningNotFoundError);
    });

    it("removes a pin (DELETE /pins/{requestid})", async () => {
      const c = client();
      const { requestid } = await c.add({ cid: cidOf(1) });
      await c.remove(requestid);
      expect(service.pins.has(requestid)).to.equal(false);
      const error = await rejection(c.remove(requestid));
      expect(error).to.be.instanceOf(PinningNotFoundError).and.instanceOf(NotFoundError);
      expect(error.message).to.contain("NOT_FOUND");
    });

    it("counts a retried DELETE that finds the pin gone as removed (the first answer was lost)", async () => {
      const c = client();
      const { requestid } = await c.add({ cid: cidOf(1) });
      service.script.push({ status: 502, applied: true });
      await c.remove(requestid);
      expect(service.seen("DELETE")).to.have.length(2);
      expect(service.pins.has(requestid)).to.equal(false);
    });
  });

  describe("waitPinned", () => {
    it("reads the request until it is pinned, through queued and pinning", async () => {
      const c = client();
      const { requestid } = await c.add({ cid: cidOf(1) });
      const seen: PinState[] = [];
      const next: Partial<Record<PinState, PinState>> = { queued: "pinning", pinning: "pinned" };
      const done = await c.waitPinned(requestid, {
        pollMs: 10,
        onStatus: (s) => {
          seen.push(s.status);
          const to = next[s.status];
          if (to !== undefined) service.setStatus(requestid, to);
        },
      });
      expect(done.status).to.equal("pinned");
      expect(seen).to.deep.equal(["queued", "pinning", "pinned"]);
    });

    it("fails with PinningFailedError and the service's details when the pin fails", async () => {
      const c = client();
      const { requestid } = await c.add({ cid: cidOf(1) });
      service.setStatus(requestid, "failed", { status_details: "content not found on the network" });
      const error = await rejection(c.waitPinned(requestid, { pollMs: 10 }));
      expect(error).to.be.instanceOf(PinningFailedError);
      expect(error.message).to.contain("content not found on the network");
    });

    it("strips terminal escapes from the details of a failed pin", async () => {
      const c = client();
      const { requestid } = await c.add({ cid: cidOf(1) });
      service.setStatus(requestid, "failed", { status_details: "content \u001b[31mnot found\u001b[0m" });
      const error = await rejection(c.waitPinned(requestid, { pollMs: 10 }));
      expect(error).to.be.instanceOf(PinningFailedError);
      expect(error.message).to.contain("content not found").and.not.contain("\u001b");
    });

    it("times out naming the last status when the pin stays queued", async () => {
      const c = client();
      const { requestid } = await c.add({ cid: cidOf(1) });
      const error = await rejection(c.waitPinned(requestid, { pollMs: 20, timeoutMs: 150 }));
      expect(error).to.be.instanceOf(TimeoutError);
      expect(error.message).to.contain(`pin request ${requestid} is not pinned after 150 ms (last status: queued)`);
      expect(service.seen("GET", `/pins/${requestid}`).length).to.be.at.least(2);
    });
  });

  describe("errors", () => {
    it("maps a missing or wrong token (401) to a ConfigError naming the token's source, never the token", async () => {
      const wrong = "wrong-token-value";
      const error = await rejection(client({ token: wrong, tokenSource: "$PIN_TOKEN" }).list());
      expect(error).to.be.instanceOf(PinningAuthError).and.instanceOf(ConfigError);
      expect(error.message).to.contain("$PIN_TOKEN").and.contain("401 UNAUTHORIZED");
      expect(error.message).to.not.contain(wrong);
      expect(JSON.stringify((error as PinningAuthError).context)).to.not.contain(wrong);
      expect(service.seen("GET")).to.have.length(1);
    });

    it("maps a token the service refuses to write with (403) to PinningAuthError", async () => {
      const error = await rejection(client({ token: "read-only-token" }).add({ cid: cidOf(1) }));
      expect(error).to.be.instanceOf(PinningAuthError);
      expect((error as PinningAuthError).status).to.equal(403);
    });

    it("maps 404 to NotFoundError", async () => {
      const error = await rejection(client().get("no-such-request"));
      expect(error).to.be.instanceOf(PinningNotFoundError).and.instanceOf(NotFoundError);
      expect(error.message).to.contain("pin request no-such-request");
    });

    it("does not retry a 400 and puts the service's reason and details in the error", async () => {
      const error = await rejection(client().add({ cid: "not-a-cid" }));
      expect(error).to.be.instanceOf(PinningRequestError).and.instanceOf(InputError);
      expect(error.message).to.contain("HTTP 400 BAD_REQUEST").and.contain('"not-a-cid" is not a CID');
      expect(service.seen("POST")).to.have.length(1);
      const get = await rejection(client().list({ limit: 5000 }));
      expect(get).to.be.instanceOf(PinningRequestError);
      expect(service.seen("GET")).to.have.length(1);
    });

    it("strips terminal escapes and control characters from the service's reason and details", async () => {
      const reason = "BAD_\u001b[31mREQUEST\u001b[0m";
      const details = "no\u001b]0;owned\u0007 such\r\u001b[2Kthing\u0000";
      service.script.push({ status: 400, body: JSON.stringify({ error: { reason, details } }) });
      const error = await rejection(client().list());
      expect(error).to.be.instanceOf(PinningRequestError);
      expect(error.message).to.contain("HTTP 400 BAD_REQUEST").and.contain("no such thing");
      for (const control of ["\u001b", "\u0007", "\r", "\u0000"]) expect(error.message).to.not.contain(control);
    });

    it("keeps a 400 final even when the service's reason reads like a network failure", async () => {
      service.script.push({ status: 400, body: JSON.stringify({ error: { reason: "network error" } }) });
      const error = await rejection(client().list());
      expect(error).to.be.instanceOf(PinningRequestError);
      expect(service.seen("GET")).to.have.length(1);
    });

    it("puts a 409 INSUFFICIENT_FUNDS reason in the error, without retrying", async () => {
      service.script.push({ status: 409, body: JSON.stringify({ error: { reason: "INSUFFICIENT_FUNDS" } }) });
      const error = await rejection(client().add({ cid: cidOf(1) }));
      expect(error).to.be.instanceOf(PinningRequestError);
      expect((error as PinningRequestError).reason).to.equal("INSUFFICIENT_FUNDS");
      expect(service.seen("POST")).to.have.length(1);
    });

    it("refuses a token with a line break before sending it, without echoing it", () => {
      expect(() => client({ token: "abc\nInjected: 1" }))
        .to.throw(ConfigError)
        .that.satisfies((e: Error) => !e.message.includes("Injected"));
      expect(() => client({ url: "http://user:pw@127.0.0.1:1" })).to.throw(ConfigError);
    });
  });

  describe("retries and time limits", () => {
    it("retries a read on 503 and succeeds when the service recovers", async () => {
      const c = client();
      const { requestid } = await c.add({ cid: cidOf(1) });
      const failure = JSON.stringify({ error: { reason: "INTERNAL_SERVER_ERROR" } });
      service.script.push({ status: 503, body: failure }, { status: 503, body: failure });
      expect((await c.get(requestid)).requestid).to.equal(requestid);
      expect(service.seen("GET")).to.have.length(3);
    });

    it("gives up with PinningUnavailableError (a TransportError) after every attempt answers 503", async () => {
      for (let i = 0; i < 3; i++) service.script.push({ status: 503 });
      const error = await rejection(client({ attempts: 3 }).list());
      expect(error).to.be.instanceOf(PinningUnavailableError).and.instanceOf(TransportError);
      expect(service.seen("GET")).to.have.length(3);
    });

    it("does not repeat an add on 503 (it may have been created) but does on 429 (nothing was done)", async () => {
      service.script.push({ status: 503 });
      expect(await rejection(client().add({ cid: cidOf(1) }))).to.be.instanceOf(PinningUnavailableError);
      expect(service.seen("POST")).to.have.length(1);
      service.script.push({ status: 429, body: JSON.stringify({ error: { reason: "TOO_MANY_REQUESTS" } }) });
      expect((await client().add({ cid: cidOf(1) })).status).to.equal("queued");
      expect(service.seen("POST")).to.have.length(3);
      expect(service.pins.size).to.equal(1);
    });

    it("times out each attempt on a service that never answers, and retries reads", async () => {
      service.script.push("hang", "hang");
      const error = await rejection(client({ timeoutMs: 100, attempts: 2 }).list());
      expect(error).to.be.instanceOf(TimeoutError);
      expect(error.message).to.contain("timed out after 100 ms");
      expect(service.seen("GET")).to.have.length(2);
      service.script.push("hang");
      expect((await client({ timeoutMs: 100, attempts: 2 }).list()).count).to.equal(0);
    });

    it("logs retries without the token", async () => {
      const lines: string[] = [];
      const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
      service.script.push({ status: 500 });
      await client({ log }).list();
      expect(lines).to.have.length(1);
      expect(lines[0]).to.contain("list pins: retrying");
      expect(lines.join("")).to.not.contain(TOKEN);
    });
  });

  describe("response validation", () => {
    const refused = async (body: string, problem: string, call: (c: PinningServiceClient) => Promise<unknown>) => {
      service.script.push({ status: 200, body });
      const error = await rejection(call(client()));
      expect(error).to.be.instanceOf(PinningResponseError).and.instanceOf(TransportError);
      expect(error.message).to.contain(problem);
    };
    const status = {
      requestid: "r1",
      status: "queued",
      created: "2026-01-01T00:00:00Z",
      pin: { cid: cidOf(1) },
      delegates: ["/ip4/127.0.0.1/tcp/4001"],
    };

    it("refuses an answer larger than 1 MiB, without retrying it", async () => {
      // Valid JSON, and a valid PinStatus, once its padding is read.
      const padded = " ".repeat(MAX_PINNING_RESPONSE_BYTES) + JSON.stringify(status);
      await refused(padded, `more than ${MAX_PINNING_RESPONSE_BYTES}`, (c) => c.get("r1"));
      expect(service.seen("GET")).to.have.length(1);
    });

    it("refuses an answer that is not JSON, without retrying it", async () => {
      await refused("<html>oops</html>", "not JSON", (c) => c.get("r1"));
      expect(service.seen("GET")).to.have.length(1);
    });

    it("refuses a PinStatus with a field missing or of the wrong type, naming the field", async () => {
      await refused(JSON.stringify({ ...status, requestid: undefined }), '"requestid" is missing', (c) => c.get("r1"));
      await refused(JSON.stringify({ ...status, status: "done" }), '"status" is "done"', (c) => c.get("r1"));
      await refused(JSON.stringify({ ...status, created: "yesterday" }), '"created"', (c) => c.get("r1"));
      await refused(JSON.stringify({ ...status, pin: {} }), '"pin"', (c) => c.get("r1"));
      await refused(JSON.stringify({ ...status, delegates: "x" }), '"delegates"', (c) => c.get("r1"));
      await refused(JSON.stringify({ ...status, info: { n: 1 } }), '"info"', (c) => c.add({ cid: cidOf(1) }));
    });

    it("refuses PinResults whose count or results are wrong, naming the bad entry", async () => {
      await refused(JSON.stringify({ count: -1, results: [] }), '"count" is -1', (c) => c.list());
      await refused(JSON.stringify({ count: 1, results: {} }), '"results" is not an array', (c) => c.list());
      await refused(
        JSON.stringify({ count: 1, results: [{ ...status, status: 7 }] }),
        'list pins (results[0]): the pinning service\'s answer is malformed: "status" is 7',
        (c) => c.list(),
      );
    });
  });
});

/**
 * Client → relay → gateway over HTTP on 127.0.0.1 (ephemeral ports): the full path with both AEADs and chunked
 * streaming, what the relay forwards and logs, a tampering relay, unknown keys, replays, and bad input on every
 * endpoint.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect } from "node:net";
import { expect } from "chai";
import { TransportError } from "../../src/core/errors";
import { isTransportError } from "../../src/core/transport";
import { AEAD } from "../../src/ohttp/algorithms";
import { decodeResponse, encodeRequest } from "../../src/ohttp/bhttp";
import { ohttpFetch } from "../../src/ohttp/client";
import { MEDIA_TYPES, PROBLEM_TYPES } from "../../src/ohttp/constants";
import { encapsulateRequest } from "../../src/ohttp/encapsulation";
import {
  OhttpDecryptionError,
  OhttpRejectedError,
  OhttpTooLargeError,
  OhttpUnknownKeyError,
} from "../../src/ohttp/errors";
import { createGatewayHandler, type GatewayHandler } from "../../src/ohttp/gateway";
import { BodyMeter, readBody } from "../../src/ohttp/http";
import { generateGatewayKey, KeyRing, type GatewayKey } from "../../src/ohttp/keys";
import { TokenBucket } from "../../src/ohttp/rate";
import { createRelayHandler, relayResourceUrl, type RelayOptions } from "../../src/ohttp/relay";
import { ReplayCache } from "../../src/ohttp/replay";
import { capturedLogger, listen } from "./helpers";

type Closer = () => Promise<void>;

const SECRET = "my salary is 123456 and my prompt is confidential";

/** The application behind the gateway. */
const application: GatewayHandler = async (request, { signal }) => {
  const url = new URL(request.url);
  if (url.pathname === "/echo") {
    return Response.json({
      method: request.method,
      url: request.url,
      body: await request.text(),
      date: request.headers.get("date"),
    });
  }
  if (url.pathname === "/stream") {
    let i = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (i === 10) return controller.close();
          controller.enqueue(new TextEncoder().encode(`tok${i++} `));
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  }
  if (url.pathname === "/slow")
    return new Promise<Response>((resolve) => signal.addEventListener("abort", () => resolve(new Response("late"))));
  throw new Error(`no route ${url.pathname}: ${SECRET}`);
};

async function problemOf(response: Response): Promise<{ status: number; type?: string; title: string }> {
  expect(response.headers.get("content-type")).to.equal(MEDIA_TYPES.problem);
  return (await response.json()) as { status: number; type?: string; title: string };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

function post(
  url: string | URL,
  type: string,
  body: Uint8Array | string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": type, ...headers }, body });
}

describe("ohttp over http", function () {
  const closers: Closer[] = [];
  let key: GatewayKey;
  let gatewayUrl: string;
  let relayUrl: string;
  let relayLog: string[];
  let gatewayLog: string[];
  let replay: ReplayCache;
  let calls = 0;

  async function server(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    const { url, close } = await listen(handler);
    closers.push(close);
    return url;
  }

  async function relay(options: Partial<RelayOptions> = {}): Promise<string> {
    return server(createRelayHandler({ allowGateway: (url) => url.origin === new URL(gatewayUrl).origin, ...options }));
  }

  before(async function () {
    key = await generateGatewayKey({ keyId: 1 });
    replay = new ReplayCache({ windowMs: 60_000 });
    const gateway = capturedLogger();
    gatewayLog = gateway.lines;
    const counted: GatewayHandler = (request, context) => (calls++, application(request, context));
    gatewayUrl = `${await server(createGatewayHandler({ keys: new KeyRing([key]), handler: counted, logger: gateway.logger, replay, handlerTimeoutMs: 300, maxBodyBytes: 64 * 1024 }))}/ohttp`;
    const captured = capturedLogger();
    relayLog = captured.lines;
    relayUrl = relayResourceUrl(await relay({ logger: captured.logger }), gatewayUrl).href;
  });

  after(async function () {
    for (const close of closers) await close();
  });

  describe("end to end", function () {
    for (const [name, aeadId] of [
      ["AES-128-GCM", AEAD.AES_128_GCM],
      ["ChaCha20-Poly1305", AEAD.CHACHA20_POLY1305],
    ] as const) {
      it(`carries a request and its response through the relay with ${name}`, async function () {
        const response = await ohttpFetch(
          relayUrl,
          key.config,
          new Request("https://gateway.example/echo?q=1", { method: "POST", body: SECRET }),
          { aeadId },
        );
        const echo = (await response.json()) as { method: string; url: string; body: string; date: string };
        expect([response.status, echo.method, echo.url, echo.body]).to.deep.equal([
          200,
          "POST",
          "https://gateway.example/echo?q=1",
          SECRET,
        ]);
        expect(Math.abs(Date.parse(echo.date) - Date.now())).to.be.below(60_000);
      });
    }

    it("streams a chunked response through the relay, token by token", async function () {
      const response = await ohttpFetch(relayUrl, key.config, new Request("https://gateway.example/stream"), {
        chunked: true,
      });
      expect([response.status, response.headers.get("content-type")]).to.deep.equal([200, "text/event-stream"]);
      const pieces: string[] = [];
      for await (const piece of response.body!) pieces.push(new TextDecoder().decode(piece));
      expect(pieces.length).to.be.greaterThan(1);
      expect(pieces.join("")).to.equal(Array.from({ length: 10 }, (_, i) => `tok${i} `).join(""));
    });

    it("carries a chunked request larger than one chunk", async function () {
      const body = "x".repeat(40_000) + SECRET;
      const response = await ohttpFetch(
        relayUrl,
        key.config,
        new Request("https://gateway.example/echo", { method: "POST", body }),
        { chunked: true, aeadId: AEAD.CHACHA20_POLY1305 },
      );
      expect(((await response.json()) as { body: string }).body).to.equal(body);
    });

    it("logs one line per request at the relay with method, status, sizes and latency — no body, no path, no address", async function () {
      await ohttpFetch(
        relayUrl,
        key.config,
        new Request("https://gateway.example/echo", { method: "POST", body: SECRET }),
      );
      expect(relayLog.length).to.be.greaterThan(0);
      const all = relayLog.join("\n");
      const secret = Buffer.from(SECRET);
      for (const form of [
        SECRET,
        secret.toString("hex"),
        secret.toString("base64"),
        "salary",
        "127.0.0.1",
        "gateway.example",
        "/ohttp",
        "echo",
      ])
        expect(all).to.not.include(form);
      for (const line of relayLog) {
        const record = JSON.parse(line) as Record<string, unknown>;
        expect(Object.keys(record).sort()).to.deep.equal([
          "bytesIn",
          "bytesOut",
          "hostname",
          "latencyMs",
          "level",
          "method",
          "msg",
          "pid",
          "status",
          "time",
        ]);
      }
      expect(gatewayLog.join("\n")).to.not.include("salary");
    });
  });

  describe("relay", function () {
    it("forwards the body and its Content-Type only: no client field, no Via, no Forwarded", async function () {
      const seen: { headers: string[]; body: Buffer }[] = [];
      const spy = await server(async (req, res) => {
        const parts: Buffer[] = [];
        for await (const chunk of req) parts.push(chunk as Buffer);
        seen.push({ headers: Object.keys(req.headers).sort(), body: Buffer.concat(parts) });
        res
          .writeHead(200, { "content-type": MEDIA_TYPES.response, "set-cookie": "track=1", server: "spy" })
          .end("sealed");
      });
      const through = relayResourceUrl(await relay({ allowGateway: () => true }), `${spy}/g`);
      const answer = await post(through, MEDIA_TYPES.request, "ciphertext", {
        "x-forwarded-for": "10.1.2.3",
        forwarded: "for=10.1.2.3",
        via: "1.1 client",
        cookie: "id=42",
        "user-agent": "me",
        authorization: "Bearer t",
      });
      expect(seen).to.have.length(1);
      expect(seen[0]!.headers).to.deep.equal(["connection", "content-length", "content-type", "host"]);
      expect(seen[0]!.body.toString()).to.equal("ciphertext");
      expect([
        answer.status,
        answer.headers.get("content-type"),
        answer.headers.get("set-cookie"),
        answer.headers.get("server"),
        await answer.text(),
      ]).to.deep.equal([200, MEDIA_TYPES.response, null, null, "sealed"]);
    });

    it("answers bad input with clear problems: method, media type, size, path, gateway, empty body", async function () {
      const small = await relay({ maxBodyBytes: 1024 });
      const to = relayResourceUrl(small, gatewayUrl);
      expect((await problemOf(await fetch(to))).status).to.equal(405);
      expect((await problemOf(await post(to, "text/plain", "hi"))).title).to.equal("unsupported media type");
      expect((await problemOf(await post(to, MEDIA_TYPES.request, new Uint8Array(2048)))).status).to.equal(413);
      expect((await problemOf(await post(`${small}/not-a-url`, MEDIA_TYPES.request, "x"))).status).to.equal(404);
      expect(
        (await problemOf(await post(relayResourceUrl(small, "http://127.0.0.1:9/elsewhere"), MEDIA_TYPES.request, "x")))
          .status,
      ).to.equal(403);
      expect((await problemOf(await post(to, MEDIA_TYPES.request, ""))).title).to.equal("empty encapsulated request");
      // Garbage of the right type reaches the gateway, whose unencrypted problem comes back unchanged.
      expect(await problemOf(await post(to, MEDIA_TYPES.request, Uint8Array.of(1, 0, 0x20)))).to.deep.include({
        status: 400,
        title: "malformed encapsulated request",
      });
    });

    it("rate-limits with one global bucket (429), telling no client apart", async function () {
      const limited = relayResourceUrl(
        await relay({ rateLimit: new TokenBucket({ ratePerSecond: 0.001, burst: 1 }) }),
        gatewayUrl,
      );
      expect((await post(limited, MEDIA_TYPES.request, "x")).status).to.not.equal(429);
      const refused = await post(limited, MEDIA_TYPES.request, "x");
      expect([refused.status, refused.headers.get("retry-after")]).to.deep.equal([429, "1"]);
    });

    it("answers 502 when the gateway drops the connection, without retrying", async function () {
      let attempts = 0;
      const dropper = await server((req) => {
        attempts++;
        req.socket.destroy();
      });
      const through = relayResourceUrl(await relay({ allowGateway: () => true }), dropper);
      expect((await problemOf(await post(through, MEDIA_TYPES.request, "x"))).status).to.equal(502);
      expect(attempts).to.equal(1);
      const closedPort = relayResourceUrl(await relay({ allowGateway: () => true }), "http://127.0.0.1:9/");
      expect((await problemOf(await post(closedPort, MEDIA_TYPES.request, "x"))).title).to.equal(
        "the gateway is unreachable",
      );
    });

    it("answers 504 when the gateway does not answer within the core timeout", async function () {
      const silent = await server(() => undefined);
      const through = relayResourceUrl(await relay({ allowGateway: () => true, upstreamTimeoutMs: 150 }), silent);
      expect((await problemOf(await post(through, MEDIA_TYPES.request, "x"))).status).to.equal(504);
    });
  });

  describe("a tampering relay", function () {
    async function tamperingRelay(): Promise<string> {
      return server(async (req, res) => {
        const parts: Buffer[] = [];
        for await (const chunk of req) parts.push(chunk as Buffer);
        const upstream = await post(gatewayUrl, req.headers["content-type"]!, Buffer.concat(parts));
        const body = new Uint8Array(await upstream.arrayBuffer());
        body[body.length - 20]! ^= 0x01;
        res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type")! }).end(body);
      });
    }

    it("makes the client fail with OhttpDecryptionError, not a wrong answer", async function () {
      const error = await rejection(
        ohttpFetch(
          await tamperingRelay(),
          key.config,
          new Request("https://gateway.example/echo", { method: "POST", body: SECRET }),
        ),
      );
      expect(error).to.be.instanceOf(OhttpDecryptionError);
      expect((error as OhttpDecryptionError).shortMessage).to.equal(
        "the encapsulated response failed AES-128-GCM authentication: it was modified in transit or sealed for another request",
      );
    });

    it("makes a chunked response fail when read, with OhttpDecryptionError", async function () {
      const response = await ohttpFetch(
        await tamperingRelay(),
        key.config,
        new Request("https://gateway.example/stream"),
        { chunked: true },
      );
      expect(await rejection(response.text())).to.be.instanceOf(OhttpDecryptionError);
    });
  });

  describe("gateway", function () {
    it("answers an unknown key id with 400 and the ohttp-key problem type, which the client reports as OhttpUnknownKeyError", async function () {
      const stranger = await generateGatewayKey({ keyId: 9 });
      const { encapsulated } = await encapsulateRequest(
        stranger.config,
        await encodeRequest(new Request("https://gateway.example/echo")),
      );
      expect(await problemOf(await post(gatewayUrl, MEDIA_TYPES.request, encapsulated))).to.deep.include({
        status: 400,
        type: PROBLEM_TYPES.key,
        title: "key identifier unknown",
      });
      const error = await rejection(ohttpFetch(relayUrl, stranger.config, new Request("https://gateway.example/echo")));
      expect(error).to.be.instanceOf(OhttpUnknownKeyError).with.property("keyId", 9);
      expect((error as Error).message).to.match(/fetch its current key configuration/);
    });

    it("refuses a replayed encapsulated request, through the relay too, and runs the handler once", async function () {
      const { encapsulated, context } = await encapsulateRequest(
        key.config,
        await encodeRequest(new Request("https://gateway.example/echo", { method: "POST", body: "once" })),
      );
      const before = calls;
      const first = await post(relayUrl, MEDIA_TYPES.request, encapsulated);
      expect(
        decodeResponse(await context.decapsulateResponse(new Uint8Array(await first.arrayBuffer()))).status,
      ).to.equal(200);
      expect(await problemOf(await post(relayUrl, MEDIA_TYPES.request, encapsulated))).to.deep.include({
        status: 400,
        title: "replayed request",
      });
      expect(await problemOf(await post(gatewayUrl, MEDIA_TYPES.request, encapsulated))).to.deep.include({
        status: 400,
        title: "replayed request",
      });
      expect(calls - before).to.equal(1);
    });

    it("answers 503 when its replay record is full of live entries, without calling the handler", async function () {
      const full = await server(
        createGatewayHandler({
          keys: new KeyRing([key]),
          handler: application,
          replay: new ReplayCache({ maxEntries: 1 }),
        }),
      );
      const send = async () =>
        post(
          full,
          MEDIA_TYPES.request,
          (await encapsulateRequest(key.config, await encodeRequest(new Request("https://gateway.example/echo"))))
            .encapsulated,
        );
      expect((await send()).status).to.equal(200);
      const refused = await send();
      expect([refused.status, refused.headers.get("retry-after"), (await problemOf(refused)).title]).to.deep.equal([
        503,
        "1",
        "replay record full",
      ]);
    });

    it("answers a request dated outside the window inside the encapsulation, with the date problem type and its clock", async function () {
      const stale = new Request("https://gateway.example/echo", {
        headers: { date: new Date(Date.now() - 3_600_000).toUTCString() },
      });
      const response = await ohttpFetch(relayUrl, key.config, stale);
      expect(await problemOf(response)).to.deep.include({ status: 400, type: PROBLEM_TYPES.date });
      expect(Math.abs(Date.parse(response.headers.get("date")!) - Date.now())).to.be.below(60_000);
    });

    it("answers a failing handler with an encapsulated 500 and a slow one with an encapsulated 504, logging no content", async function () {
      expect((await ohttpFetch(relayUrl, key.config, new Request("https://gateway.example/missing"))).status).to.equal(
        500,
      );
      expect((await ohttpFetch(relayUrl, key.config, new Request("https://gateway.example/slow"))).status).to.equal(
        504,
      );
      expect(gatewayLog.join("\n")).to.not.include("salary");
    });

    it("answers a malformed binary HTTP request inside the encapsulation with 400", async function () {
      const { encapsulated, context } = await encapsulateRequest(key.config, Uint8Array.of(0x09, 0x01));
      const answer = await post(gatewayUrl, MEDIA_TYPES.request, encapsulated);
      expect(answer.headers.get("content-type")).to.equal(MEDIA_TYPES.response);
      const inner = decodeResponse(await context.decapsulateResponse(new Uint8Array(await answer.arrayBuffer())));
      expect([inner.status, ((await inner.json()) as { title: string }).title]).to.deep.equal([
        400,
        "malformed encapsulated request",
      ]);
    });

    it("answers bad input with clear problems: method, media type, size, garbage, undecryptable, truncated chunked", async function () {
      expect((await problemOf(await fetch(gatewayUrl))).status).to.equal(405);
      expect((await problemOf(await post(gatewayUrl, "application/json", "{}"))).status).to.equal(415);
      expect((await problemOf(await post(gatewayUrl, MEDIA_TYPES.request, new Uint8Array(65 * 1024)))).status).to.equal(
        413,
      );
      expect(await problemOf(await post(gatewayUrl, MEDIA_TYPES.request, Uint8Array.of(1, 0, 0x20)))).to.deep.include({
        status: 400,
        title: "malformed encapsulated request",
      });
      // Text is read as a key identifier first ("g" = 103), as RFC 9458 §4.3 orders the checks.
      expect(await problemOf(await post(gatewayUrl, MEDIA_TYPES.request, "garbage"))).to.deep.include({
        status: 400,
        type: PROBLEM_TYPES.key,
      });
      const undecryptable = new Uint8Array(7 + 32 + 40).fill(7);
      undecryptable.set([1, 0, 0x20, 0, 1, 0, 1]);
      expect(await problemOf(await post(gatewayUrl, MEDIA_TYPES.request, undecryptable))).to.deep.include({
        status: 422,
        type: PROBLEM_TYPES.key,
      });
      const { encapsulated } = await encapsulateRequest(key.config, Uint8Array.of(0));
      const header = encapsulated.subarray(0, 39);
      expect(await problemOf(await post(gatewayUrl, MEDIA_TYPES.chunkedRequest, header))).to.deep.include({
        status: 400,
        title: "encapsulated request truncated",
      });
    });
  });

  describe("readBody", function () {
    /** What readBody (limit 1 KiB) made of the raw HTTP/1.1 request `head` + `body`, sent on a socket then ended or cut. */
    async function read(head: string, body: Buffer, cut: boolean): Promise<{ result: unknown; bytes: number }> {
      let meter = new BodyMeter(0);
      const result = new Promise<unknown>((resolve) => {
        void server((req, res) => {
          meter = new BodyMeter(1024);
          readBody(req, meter).then(resolve, resolve);
          res.on("error", () => undefined);
        }).then((url) => {
          const socket = connect(Number(new URL(url).port), "127.0.0.1", () => {
            socket.write(head);
            socket.write(body, () => (cut ? socket.destroy() : undefined));
          });
          socket.on("error", () => undefined);
        });
      });
      return { result: await result, bytes: meter.bytes };
    }

    it("collects a body sent in several pieces", async function () {
      const { result } = await read(
        "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
        Buffer.from("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
        false,
      );
      expect(Buffer.from(result as Uint8Array).toString()).to.equal("abcde");
    });

    it("stops at the limit without a Content-Length, with OhttpTooLargeError", async function () {
      const piece = `400\r\n${"x".repeat(1024)}\r\n`;
      const { result, bytes } = await read(
        "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
        Buffer.from(piece.repeat(4)),
        false,
      );
      expect(result).to.be.instanceOf(OhttpTooLargeError);
      expect(bytes).to.be.greaterThan(1024);
    });

    it("refuses a declared Content-Length over the limit before reading, and fails with a transport error when the connection closes mid-body", async function () {
      const declared = await read("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2048\r\n\r\n", Buffer.alloc(0), false);
      expect([declared.result instanceof OhttpTooLargeError, declared.bytes]).to.deep.equal([true, 0]);
      const cut = await read("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n", Buffer.alloc(10), true);
      expect(isTransportError(cut.result), String(cut.result)).to.equal(true);
    });
  });

  describe("client", function () {
    it("reports an unreachable relay as a TransportError and a refusal as OhttpRejectedError", async function () {
      const error = await rejection(
        ohttpFetch("http://127.0.0.1:9/r", key.config, new Request("https://gateway.example/echo")),
      );
      expect(error).to.be.instanceOf(TransportError);
      const refused = await rejection(
        ohttpFetch(
          relayResourceUrl(new URL(relayUrl).origin, "http://127.0.0.1:9/x"),
          key.config,
          new Request("https://gateway.example/echo"),
        ),
      );
      expect(refused).to.be.instanceOf(OhttpRejectedError).with.property("status", 403);
    });
  });
});

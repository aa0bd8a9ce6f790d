import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { AEAD } from "../../src/ohttp/algorithms";
import { encodeContentChunk, encodeResponseHead, readResponse, RESPONSE_END } from "../../src/ohttp/bhttp";
import { ChunkedRequestSender, openChunkedRequest, split, type ChunkedResponseSealer } from "../../src/ohttp/chunked";
import { OhttpDecryptionError, OhttpMalformedError, OhttpTruncatedError } from "../../src/ohttp/errors";
import { generateGatewayKey, KeyRing, type GatewayKey } from "../../src/ohttp/keys";
import { decodeVarint, varintLength } from "../../src/ohttp/varint";
import { collect, concat, hex } from "./helpers";

/** Splits a framed chunked message (after its `prefix` bytes) into its framed chunks. */
function framedChunks(message: Uint8Array, prefix: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = prefix; offset < message.length;) {
    const size = varintLength(message[offset]!);
    const length = decodeVarint(message.subarray(offset));
    const end = length === 0 ? message.length : offset + size + length;
    chunks.push(message.subarray(offset, end));
    offset = end;
  }
  return chunks;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/** A chunked request of `pieces` (the last one final, possibly empty) and what the gateway reads of it. */
async function exchange(key: GatewayKey, pieces: Uint8Array[], aeadId: number = AEAD.AES_128_GCM) {
  const sender = await ChunkedRequestSender.create(key.config, { aeadId });
  const framed = [sender.header];
  for (const [index, piece] of pieces.entries()) framed.push(await sender.seal(piece, index === pieces.length - 1));
  return { sender, message: concat(framed) };
}

describe("chunked ohttp", function () {
  let key: GatewayKey;
  let ring: KeyRing;

  before(async function () {
    key = await generateGatewayKey({ keyId: 4 });
    ring = new KeyRing([key]);
  });

  for (const [name, aeadId] of [
    ["AES-128-GCM", AEAD.AES_128_GCM],
    ["ChaCha20-Poly1305", AEAD.CHACHA20_POLY1305],
  ] as const) {
    it(`round-trips 200 request chunks and 300 response chunks with ${name}, read in 7-byte network pieces`, async function () {
      const pieces = Array.from({ length: 200 }, (_, i) => randomBytes(1 + (i % 50)));
      const { sender, message } = await exchange(key, pieces, aeadId);
      const receiver = await openChunkedRequest(ring, split(message, 7));
      expect(hex(concat(await collect(receiver.chunks())))).to.equal(hex(concat(pieces)));

      const sealer = await receiver.responseSealer();
      const replies = Array.from({ length: 300 }, (_, i) => randomBytes(1 + (i % 70)));
      const response = concat([
        sealer.nonce,
        ...replies.map((reply, i) => sealer.seal(reply, i === replies.length - 1)),
      ]);
      expect(hex(concat(await collect(sender.openResponse(split(response, 7)))))).to.equal(hex(concat(replies)));
    });
  }

  it("accepts an empty final chunk and yields nothing for it", async function () {
    const { message } = await exchange(key, [Uint8Array.of(1, 2, 3), new Uint8Array(0)]);
    const chunks = framedChunks(message, 39);
    expect(hex(chunks[1]!.subarray(0, 1))).to.equal("00");
    expect(chunks[1]!.length).to.equal(1 + 16);
    const receiver = await openChunkedRequest(ring, [message]);
    expect((await collect(receiver.chunks())).map(hex)).to.deep.equal(["010203"]);
  });

  it("fails with OhttpTruncatedError when the request stream ends without its final chunk", async function () {
    const { message } = await exchange(key, [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]);
    const chunks = framedChunks(message, 39);
    const truncated = concat([message.subarray(0, 39), chunks[0]!, chunks[1]!]);
    const receiver = await openChunkedRequest(ring, [truncated]);
    const read: Uint8Array[] = [];
    const error = await rejection(
      (async () => {
        for await (const chunk of receiver.chunks()) read.push(chunk);
      })(),
    );
    expect(error)
      .to.be.instanceOf(OhttpTruncatedError)
      .with.property("shortMessage")
      .that.matches(/without its final chunk/);
    expect(read.map(hex)).to.deep.equal(["01", "02"]);
  });

  it("fails with OhttpDecryptionError when two request chunks are swapped", async function () {
    const { message } = await exchange(key, [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]);
    const [a, b, final] = framedChunks(message, 39) as [Uint8Array, Uint8Array, Uint8Array];
    const receiver = await openChunkedRequest(ring, [concat([message.subarray(0, 39), b, a, final])]);
    expect(await rejection(collect(receiver.chunks()))).to.be.instanceOf(OhttpDecryptionError);
  });

  it("fails with OhttpDecryptionError when a request chunk is altered or a non-final chunk is relabelled final", async function () {
    const { message } = await exchange(key, [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]);
    const tampered = message.slice();
    tampered[42]! ^= 1;
    expect(await rejection(collect((await openChunkedRequest(ring, [tampered])).chunks()))).to.be.instanceOf(
      OhttpDecryptionError,
    );
    const [a] = framedChunks(message, 39) as [Uint8Array];
    // The first chunk presented as final (length 0): its AAD was empty, not "final".
    const promoted = concat([message.subarray(0, 39), Uint8Array.of(0), a.subarray(1)]);
    expect(await rejection(collect((await openChunkedRequest(ring, [promoted])).chunks()))).to.be.instanceOf(
      OhttpDecryptionError,
    );
  });

  it("refuses to seal an empty non-final chunk, and treats one on the wire as a decryption error", async function () {
    const { sender, message } = await exchange(key, [Uint8Array.of(1)]);
    expect(await rejection(sender.seal(new Uint8Array(0), false))).to.be.instanceOf(OhttpMalformedError);
    const sealer = await (await openChunkedRequest(ring, [message])).responseSealer();
    // Forge an empty non-final chunk with the real response key (white box: the sealer itself refuses to).
    const cipher = (sealer as unknown as { cipher: { seal(plaintext: Uint8Array, final: boolean): Uint8Array } })
      .cipher;
    const forged = concat([
      sealer.nonce,
      Uint8Array.of(16),
      cipher.seal(new Uint8Array(0), false),
      sealer.seal(Uint8Array.of(9), true),
    ]);
    const error = await rejection(collect(sender.openResponse([forged])));
    expect(error)
      .to.be.instanceOf(OhttpDecryptionError)
      .with.property("shortMessage")
      .that.matches(/empty but not final/);
  });

  describe("responses", function () {
    async function sealed(replies: Uint8Array[]): Promise<{
      sender: ChunkedRequestSender;
      nonce: Uint8Array;
      chunks: Uint8Array[];
      sealer: ChunkedResponseSealer;
    }> {
      const { sender, message } = await exchange(key, [Uint8Array.of(1)]);
      const receiver = await openChunkedRequest(ring, [message]);
      const sealer = await receiver.responseSealer();
      return {
        sender,
        nonce: sealer.nonce,
        chunks: replies.map((reply, i) => sealer.seal(reply, i === replies.length - 1)),
        sealer,
      };
    }

    it("fails with OhttpTruncatedError when the response ends before its final chunk", async function () {
      const { sender, nonce, chunks } = await sealed([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]);
      const read: Uint8Array[] = [];
      const error = await rejection(
        (async () => {
          for await (const chunk of sender.openResponse([nonce, chunks[0]!, chunks[1]!])) read.push(chunk);
        })(),
      );
      expect(error).to.be.instanceOf(OhttpTruncatedError);
      expect(read.map(hex)).to.deep.equal(["01", "02"]);
      expect(await rejection(collect(sender.openResponse([nonce.subarray(0, 5)])))).to.be.instanceOf(
        OhttpTruncatedError,
      );
    });

    it("fails with OhttpDecryptionError when response chunks are reordered or altered", async function () {
      const { sender, nonce, chunks } = await sealed([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]);
      expect(
        await rejection(collect(sender.openResponse([nonce, chunks[1]!, chunks[0]!, chunks[2]!]))),
      ).to.be.instanceOf(OhttpDecryptionError);
      const altered = chunks[2]!.slice();
      altered[5]! ^= 1;
      expect(await rejection(collect(sender.openResponse([nonce, chunks[0]!, chunks[1]!, altered])))).to.be.instanceOf(
        OhttpDecryptionError,
      );
    });

    it("streams a binary HTTP response: the head arrives before the body is complete", async function () {
      const { sender, sealer } = await sealed([]);
      const head = sealer.seal(encodeResponseHead(200, new Headers({ "content-type": "text/event-stream" })), false);
      const first = sealer.seal(encodeContentChunk(new TextEncoder().encode("tok1 ")), false);
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      async function* network(): AsyncGenerator<Uint8Array> {
        yield sealer.nonce;
        yield head;
        yield first;
        await gate;
        yield sealer.seal(encodeContentChunk(new TextEncoder().encode("tok2")), false);
        yield sealer.seal(RESPONSE_END, true);
      }
      const response = await readResponse(sender.openResponse(network()));
      expect([response.status, response.headers.get("content-type")]).to.deep.equal([200, "text/event-stream"]);
      const reader = response.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).to.equal("tok1 ");
      release();
      expect(new TextDecoder().decode((await reader.read()).value)).to.equal("tok2");
      expect((await reader.read()).done).to.equal(true);
    });
  });
});

import { expect } from "chai";
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { AEAD, hpkeSuite, KDF, KEM } from "../../src/ohttp/algorithms";
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, readResponse } from "../../src/ohttp/bhttp";
import {
  decapsulateRequest,
  encapsulateRequest,
  HEADER_LENGTH,
  requestHeader,
  requestInfo,
  selectSuite,
} from "../../src/ohttp/encapsulation";
import { LABELS } from "../../src/ohttp/constants";
import {
  OhttpDecryptionError,
  OhttpMalformedError,
  OhttpUnknownKeyError,
  OhttpUnsupportedError,
} from "../../src/ohttp/errors";
import {
  decodeKeyConfig,
  decodeKeyConfigs,
  encodeKeyConfig,
  encodeKeyConfigs,
  exportGatewayPrivateKey,
  generateGatewayKey,
  importGatewayKey,
  KeyRing,
  type KeyConfig,
} from "../../src/ohttp/keys";
import { problemOf } from "../../src/ohttp/problem";
import { decodeVarint, encodeVarint } from "../../src/ohttp/varint";
import { hex, unhex } from "./helpers";

const AEADS = [
  ["AES-128-GCM", AEAD.AES_128_GCM, 16],
  ["ChaCha20-Poly1305", AEAD.CHACHA20_POLY1305, 32],
] as const;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("ohttp key configurations", function () {
  it("round-trips several configurations as application/ohttp-keys, including a P-256 one it cannot use", async function () {
    const a = (await generateGatewayKey({ keyId: 1 })).config;
    const b = (
      await generateGatewayKey({ keyId: 2, symmetric: [{ kdfId: KDF.HKDF_SHA256, aeadId: AEAD.CHACHA20_POLY1305 }] })
    ).config;
    const p256: KeyConfig = {
      keyId: 3,
      kemId: KEM.P256_SHA256,
      publicKey: new Uint8Array(65).fill(4),
      symmetric: [{ kdfId: 1, aeadId: 2 }],
    };
    const list = encodeKeyConfigs([a, b, p256]);
    expect(list[0]! * 256 + list[1]!).to.equal(encodeKeyConfig(a).length);
    expect(decodeKeyConfigs(list)).to.deep.equal([a, b, p256]);
  });

  it("rejects a whole list with one badly encoded configuration (RFC 9458 §3.2)", async function () {
    const good = encodeKeyConfigs([(await generateGatewayKey({ keyId: 1 })).config]);
    const lyingPrefix = good.slice();
    lyingPrefix[1] = lyingPrefix[1]! + 1;
    for (const bad of [
      lyingPrefix,
      good.subarray(0, good.length - 1),
      Buffer.concat([good, Uint8Array.of(0)]),
      new Uint8Array(0),
    ]) {
      expect(() => decodeKeyConfigs(bad)).to.throw(OhttpMalformedError);
    }
  });

  it("rejects a configuration with trailing bytes, an unknown KEM, or a symmetric length that is not a multiple of 4", function () {
    const rfc = unhex("01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003");
    expect(() => decodeKeyConfig(Buffer.concat([rfc, Uint8Array.of(0)]))).to.throw(OhttpMalformedError, /trailing/);
    const unknownKem = rfc.slice();
    unknownKem[2] = 0x99;
    expect(() => decodeKeyConfig(unknownKem)).to.throw(OhttpMalformedError, /0x0099/);
    const oddLength = rfc.slice();
    oddLength[36] = 6;
    expect(() => decodeKeyConfig(oddLength)).to.throw(OhttpMalformedError, /multiple of 4/);
  });

  it("refuses a key identifier beyond 8 bits and two keys with one identifier", async function () {
    const key = await generateGatewayKey({ keyId: 7 });
    expect(() => encodeKeyConfig({ ...key.config, keyId: 256 })).to.throw(OhttpMalformedError, /8-bit/);
    expect(() => new KeyRing([key, key])).to.throw(OhttpMalformedError, /share key identifier 7/);
  });

  it("exports and re-imports a gateway key to the same configuration", async function () {
    const key = await generateGatewayKey({ keyId: 9 });
    const again = await importGatewayKey({ keyId: 9, privateKey: await exportGatewayPrivateKey(key) });
    expect(hex(again.config.publicKey)).to.equal(hex(key.config.publicKey));
  });
});

describe("ohttp encapsulation", function () {
  for (const [name, aeadId, nonceLength] of AEADS) {
    it(`round-trips a request and a response with ${name} (response nonce of max(Nn, Nk) = ${nonceLength} bytes)`, async function () {
      const key = await generateGatewayKey({ keyId: 5 });
      const request = await encodeRequest(
        new Request("https://gateway.example/v1/infer?model=7", {
          method: "POST",
          body: "prompt: hello",
          headers: { "content-type": "text/plain" },
        }),
      );
      const { encapsulated, context } = await encapsulateRequest(key.config, request, { aeadId });
      expect(hex(encapsulated.subarray(0, 7))).to.equal(`050020${"0001"}${aeadId.toString(16).padStart(4, "0")}`);
      const opened = await decapsulateRequest(new KeyRing([key]), encapsulated);
      const decoded = decodeRequest(opened.request);
      expect([decoded.method, decoded.url, await decoded.text()]).to.deep.equal([
        "POST",
        "https://gateway.example/v1/infer?model=7",
        "prompt: hello",
      ]);
      const answer = await opened.context.encapsulateResponse(
        await encodeResponse(new Response("tokens", { status: 201 })),
      );
      expect(answer.length).to.equal(
        nonceLength + (await encodeResponse(new Response("tokens", { status: 201 }))).length + 16,
      );
      const response = decodeResponse(await context.decapsulateResponse(answer));
      expect([response.status, await response.text()]).to.deep.equal([201, "tokens"]);
    });
  }

  it("chooses the first suite of the configuration, or the AEAD asked for", async function () {
    const { config } = await generateGatewayKey({ keyId: 1 });
    expect(selectSuite(config).aeadId).to.equal(AEAD.AES_128_GCM);
    expect(selectSuite(config, { aeadId: AEAD.CHACHA20_POLY1305 }).aeadId).to.equal(AEAD.CHACHA20_POLY1305);
    const only = { ...config, symmetric: [{ kdfId: KDF.HKDF_SHA256, aeadId: AEAD.CHACHA20_POLY1305 }] };
    expect(() => selectSuite(only, { aeadId: AEAD.AES_128_GCM })).to.throw(OhttpUnsupportedError, /AES-128-GCM/);
  });

  it("answers an unknown key identifier with the ohttp-key problem (RFC 9458 §5.3)", async function () {
    const [known, other] = [await generateGatewayKey({ keyId: 1 }), await generateGatewayKey({ keyId: 2 })];
    const { encapsulated } = await encapsulateRequest(other.config, Uint8Array.of(0));
    const error = await rejection(decapsulateRequest(new KeyRing([known]), encapsulated));
    expect(error).to.be.instanceOf(OhttpUnknownKeyError).with.property("keyId", 2);
    expect(problemOf(error)).to.include({
      status: 400,
      type: "https://iana.org/assignments/http-problem-types#ohttp-key",
      title: "key identifier unknown",
    });
  });

  it("refuses a suite the key does not list, and a request that is not for this KEM", async function () {
    const key = await generateGatewayKey({
      keyId: 1,
      symmetric: [{ kdfId: KDF.HKDF_SHA256, aeadId: AEAD.AES_128_GCM }],
    });
    const chacha = { ...key.config, symmetric: [{ kdfId: KDF.HKDF_SHA256, aeadId: AEAD.CHACHA20_POLY1305 }] };
    const { encapsulated } = await encapsulateRequest(chacha, Uint8Array.of(0));
    expect(await rejection(decapsulateRequest(new KeyRing([key]), encapsulated))).to.be.instanceOf(
      OhttpUnsupportedError,
    );
    const otherKem = encapsulated.slice();
    otherKem[2] = 0x10;
    expect(await rejection(decapsulateRequest(new KeyRing([key]), otherKem))).to.be.instanceOf(OhttpUnknownKeyError);
  });

  it("fails with OhttpDecryptionError (422, ohttp-key) when a byte of the request is changed", async function () {
    const key = await generateGatewayKey({ keyId: 1 });
    const { encapsulated } = await encapsulateRequest(
      key.config,
      unhex("00034745540568747470730b6578616d706c652e636f6d012f"),
    );
    for (const index of [10, encapsulated.length - 1]) {
      const tampered = encapsulated.slice();
      tampered[index]! ^= 1;
      const error = await rejection(decapsulateRequest(new KeyRing([key]), tampered));
      expect(error).to.be.instanceOf(OhttpDecryptionError);
      expect(problemOf(error).status).to.equal(422);
    }
  });

  it("fails with OhttpMalformedError on a request shorter than its header, enc and tag", async function () {
    const key = await generateGatewayKey({ keyId: 1 });
    for (const bytes of [
      Uint8Array.of(1, 0),
      unhex("01002000010001"),
      new Uint8Array(7 + 32 + 15).fill(0).map((_, i) => (i === 0 ? 1 : i === 2 ? 0x20 : i === 4 || i === 6 ? 1 : 0)),
    ]) {
      const error = await rejection(decapsulateRequest(new KeyRing([key]), bytes));
      expect(error).to.be.instanceOf(OhttpMalformedError);
      expect(problemOf(error).status).to.equal(400);
    }
  });

  it("fails on the client when the response is changed, truncated or sealed for another request", async function () {
    const key = await generateGatewayKey({ keyId: 1 });
    const first = await encapsulateRequest(key.config, Uint8Array.of(0));
    const second = await encapsulateRequest(key.config, Uint8Array.of(0));
    const { context } = await decapsulateRequest(new KeyRing([key]), first.encapsulated);
    const answer = await context.encapsulateResponse(unhex("0140c8"));
    const flipped = answer.slice();
    flipped[answer.length - 3]! ^= 0x80;
    expect(await rejection(first.context.decapsulateResponse(flipped)))
      .to.be.instanceOf(OhttpDecryptionError)
      .with.property("shortMessage")
      .that.matches(/modified in transit/);
    expect(await rejection(first.context.decapsulateResponse(answer.subarray(0, 20)))).to.be.instanceOf(
      OhttpMalformedError,
    );
    expect(await rejection(second.context.decapsulateResponse(answer))).to.be.instanceOf(OhttpDecryptionError);
  });
});

describe("ohttp HPKE on node:crypto", function () {
  /** `@hpke/core`'s own suites, all WebCrypto (and `@hpke/chacha20poly1305`): the reference for ours. */
  const reference = (aeadId: number) =>
    new CipherSuite({
      kem: new DhkemX25519HkdfSha256(),
      kdf: new HkdfSha256(),
      aead: aeadId === AEAD.AES_128_GCM ? new Aes128Gcm() : new Chacha20Poly1305(),
    });
  const text = new TextEncoder().encode("a prompt that must stay between the client and the gateway");

  for (const [name, aeadId] of AEADS) {
    it(`interoperates with @hpke/core's WebCrypto suite both ways with ${name}, exports included`, async function () {
      const key = await generateGatewayKey({ keyId: 1 });
      const suite = { kemId: KEM.X25519_SHA256, kdfId: KDF.HKDF_SHA256, aeadId };
      const info = requestInfo(LABELS.request, requestHeader(1, suite));
      const recipientPublicKey = await reference(aeadId).kem.deserializePublicKey(key.config.publicKey);
      const ours = hpkeSuite(suite);
      const theirs = reference(aeadId);
      for (const [sealer, opener] of [
        [ours, theirs],
        [theirs, ours],
      ] as const) {
        const sender = await sealer.createSenderContext({ recipientPublicKey, info });
        const sealed = [await sender.seal(text), await sender.seal(text)];
        const recipient = await opener.createRecipientContext({ recipientKey: key.keyPair, enc: sender.enc, info });
        expect(new Uint8Array(await recipient.open(sealed[0]!))).to.deep.equal(text);
        expect(new Uint8Array(await recipient.open(sealed[1]!))).to.deep.equal(text);
        expect(hex(new Uint8Array(await recipient.export(Uint8Array.of(1, 2), 32)))).to.equal(
          hex(new Uint8Array(await sender.export(Uint8Array.of(1, 2), 32))),
        );
      }
    });
  }

  it("refuses an enc that is a small-order X25519 point (all-zero shared secret) as a decryption error", async function () {
    const key = await generateGatewayKey({ keyId: 1 });
    const { encapsulated } = await encapsulateRequest(key.config, Uint8Array.of(0));
    for (const point of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      const forged = encapsulated.slice();
      forged.set(point, HEADER_LENGTH);
      const error = await rejection(decapsulateRequest(new KeyRing([key]), forged));
      expect(error).to.be.instanceOf(OhttpDecryptionError);
      expect((error as OhttpDecryptionError).shortMessage).to.match(/cannot set up HPKE/);
    }
  });
});

describe("ohttp binary HTTP", function () {
  it("keeps the query string that bhttp-js's own encoder drops", async function () {
    const bytes = await encodeRequest(new Request("https://h.example/a/b?x=1&y=2"));
    expect(decodeRequest(bytes).url).to.equal("https://h.example/a/b?x=1&y=2");
  });

  it("reads a known-length response incrementally, a byte at a time", async function () {
    const bytes = await encodeResponse(new Response("hello", { status: 200, headers: { "x-model": "7" } }));
    const response = await readResponse([...bytes].map((byte) => Uint8Array.of(byte)));
    expect([response.status, response.headers.get("x-model"), await response.text()]).to.deep.equal([
      200,
      "7",
      "hello",
    ]);
  });

  it("refuses a response with a bad framing indicator or status", async function () {
    expect(await rejection(readResponse([Uint8Array.of(0)]))).to.be.instanceOf(OhttpMalformedError);
    expect(await rejection(readResponse([Uint8Array.of(3, 0x40, 50)])))
      .to.be.instanceOf(OhttpMalformedError)
      .with.property("shortMessage")
      .that.matches(/status 50/);
    expect(() => decodeRequest(unhex("09"))).to.throw(OhttpMalformedError);
  });

  it("encodes varints in the shortest form and reads any form", function () {
    for (const [value, encoded] of [
      [37, "25"],
      [15293, "7bbd"],
      [494878333, "9d7f3e7d"],
      [2 ** 40, "c000010000000000"],
    ] as const) {
      expect(hex(encodeVarint(value))).to.equal(encoded);
      expect(decodeVarint(unhex(encoded))).to.equal(value);
    }
    expect(decodeVarint(unhex("4025"))).to.equal(37);
  });
});

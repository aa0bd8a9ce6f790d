/**
 * Published test vectors, byte for byte: RFC 9458 Appendix A (one request and response, X25519, HKDF-SHA256,
 * AES-128-GCM) and the example of draft-ietf-ohai-chunked-ohttp (Appendix A: three request chunks, three
 * response chunks). The ephemeral key and the response nonce come in through the test-only seam.
 */
import { expect } from "chai";
import { AEAD } from "../../src/ohttp/algorithms";
import { decodeRequest, decodeResponse } from "../../src/ohttp/bhttp";
import { ChunkedRequestSender, openChunkedRequest } from "../../src/ohttp/chunked";
import { LABELS } from "../../src/ohttp/constants";
import { decapsulateRequest, encapsulateRequest, requestHeader, requestInfo } from "../../src/ohttp/encapsulation";
import { decodeKeyConfig, encodeKeyConfig, importGatewayKey, KeyRing } from "../../src/ohttp/keys";
import { collect, hex, unhex } from "./helpers";

/** RFC 9458 Appendix A. */
const RFC = {
  serverSecret: "3c168975674b2fa8e465970b79c8dcf09f1c741626480bd4c6162fc5b6a98e1a",
  keyConfig: "01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003",
  request: "00034745540568747470730b6578616d706c652e636f6d012f",
  ephemeralSecret: "bc51d5e930bda26589890ac7032f70ad12e4ecb37abb1b65b1256c9c48999c73",
  ephemeralPublic: "4b28f881333e7c164ffc499ad9796f877f4e1051ee6d31bad19dec96c208b472",
  info: "6d6573736167652f626874747020726571756573740001002000010001",
  encapsulatedRequest:
    "010020000100014b28f881333e7c164ffc499ad9796f877f4e1051ee6d31bad19dec96c208b4726374e469135906992e1268c594d2a10c695d858c40a026e7965e7d86b83dd440b2c0185204b4d63525",
  response: "0140c8",
  secret: "62d87a6ba569ee81014c2641f52bea36",
  responseNonce: "c789e7151fcba46158ca84b04464910d",
  prk: "979aaeae066cf211ab407b31ae49767f344e1501e475c84e8aff547cc5a683db",
  key: "5d0172a080e428b16d298c4ea0db620d",
  nonce: "f6bf1aeb88d6df87007fa263",
  encapsulatedResponse: "c789e7151fcba46158ca84b04464910d86f9013e404feea014e7be4a441f234f857fbd",
};

/** draft-ietf-ohai-chunked-ohttp, Appendix A (Example). */
const CHUNKED = {
  serverSecret: "1c190d72acdbe4dbc69e680503bb781a932c70a12c8f3754434c67d8640d8698",
  keyConfig: "010020668eb21aace159803974a4c67f08b4152d29bed10735fd08f98ccdd6fe09570800080001000100010003",
  request: "00034745540568747470730b6578616d706c652e636f6d012f",
  ephemeralSecret: "b26d565f3f875ed480d1abced3d665159650c99174fd0b124ac4bda0c64ae324",
  ephemeralPublic: "8811eb457e100811c40a0aa71340a1b81d804bb986f736f2f566a7199761a032",
  info: "6d6573736167652f6268747470206368756e6b656420726571756573740001002000010001",
  requestHeader: "01002000010001" + "8811eb457e100811c40a0aa71340a1b81d804bb986f736f2f566a7199761a032",
  requestChunks: [
    "1c2ad24942d4d692563012f2980c8fef437a336b9b2fc938ef77a5834f",
    "1d2e33d8fd25577afe31bd1c79d094f76b6250ae6549b473ecd950501311",
    "001c6c1395d0ef7c1022297966307b8a7f",
  ],
  secret: "1d4484834ae36102a6ac42a5523454d9",
  responseNonce: "bcce7f4cb921309ba5d62edf1769ef09",
  prk: "3967884b5f7b4bce4a5320a3e3f79fdc97389f7deba1c1e11c5ea62278187786",
  key: "8209f78f2a1610d80c7125009b00aff0",
  nonce: "fead854635d2d5527d64f546",
  responseChunks: [
    "1179bf1cc87fa0e2c02de4546945aa3d1e48",
    "12b348b5bd4c594c16b6170b07b475845d1f32",
    "00ed9d8a796617a5b27265f4d73247f639",
  ],
};

describe("ohttp test vectors", function () {
  describe("RFC 9458 Appendix A", function () {
    it("derives the published key configuration from the gateway's X25519 secret", async function () {
      const key = await importGatewayKey({ keyId: 1, privateKey: unhex(RFC.serverSecret) });
      expect(hex(encodeKeyConfig(key.config))).to.equal(RFC.keyConfig);
      expect(decodeKeyConfig(unhex(RFC.keyConfig))).to.deep.equal(key.config);
    });

    it("builds the HPKE info from the label and header", function () {
      const header = requestHeader(1, { kemId: 0x20, kdfId: 1, aeadId: 1 });
      expect(hex(requestInfo(LABELS.request, header))).to.equal(RFC.info);
    });

    it("encapsulates the request byte for byte with the published ephemeral key", async function () {
      const config = decodeKeyConfig(unhex(RFC.keyConfig));
      const { encapsulated, context } = await encapsulateRequest(config, unhex(RFC.request), {
        aeadId: AEAD.AES_128_GCM,
        testOnlyEphemeralKey: unhex(RFC.ephemeralSecret),
      });
      expect(hex(context.enc)).to.equal(RFC.ephemeralPublic);
      expect(hex(encapsulated)).to.equal(RFC.encapsulatedRequest);
    });

    it("decapsulates the request and encapsulates the response byte for byte with the published nonce", async function () {
      const ring = new KeyRing([await importGatewayKey({ keyId: 1, privateKey: unhex(RFC.serverSecret) })]);
      const { request, context } = await decapsulateRequest(ring, unhex(RFC.encapsulatedRequest));
      expect(hex(request)).to.equal(RFC.request);
      const keys = await context.responseKeys(unhex(RFC.responseNonce));
      expect([hex(keys.secret), hex(keys.prk), hex(keys.key), hex(keys.nonce)]).to.deep.equal([
        RFC.secret,
        RFC.prk,
        RFC.key,
        RFC.nonce,
      ]);
      expect(
        hex(
          await context.encapsulateResponse(unhex(RFC.response), { testOnlyResponseNonce: unhex(RFC.responseNonce) }),
        ),
      ).to.equal(RFC.encapsulatedResponse);
    });

    it("opens the published response on the client and decodes both binary HTTP messages", async function () {
      const config = decodeKeyConfig(unhex(RFC.keyConfig));
      const { context } = await encapsulateRequest(config, unhex(RFC.request), {
        aeadId: AEAD.AES_128_GCM,
        testOnlyEphemeralKey: unhex(RFC.ephemeralSecret),
      });
      const keys = await context.responseKeys(unhex(RFC.responseNonce));
      expect(hex(keys.secret)).to.equal(RFC.secret);
      const response = await context.decapsulateResponse(unhex(RFC.encapsulatedResponse));
      expect(hex(response)).to.equal(RFC.response);
      const request = decodeRequest(unhex(RFC.request));
      expect([request.method, request.url]).to.deep.equal(["GET", "https://example.com/"]);
      expect(decodeResponse(response).status).to.equal(200);
    });
  });

  describe("draft-ietf-ohai-chunked-ohttp Appendix A", function () {
    it("derives the published key configuration", async function () {
      const key = await importGatewayKey({ keyId: 1, privateKey: unhex(CHUNKED.serverSecret) });
      expect(hex(encodeKeyConfig(key.config))).to.equal(CHUNKED.keyConfig);
      expect(hex(requestInfo(LABELS.chunkedRequest, requestHeader(1, { kemId: 0x20, kdfId: 1, aeadId: 1 })))).to.equal(
        CHUNKED.info,
      );
    });

    it("seals the request as 12 bytes, 13 bytes and an empty final chunk, byte for byte", async function () {
      const request = unhex(CHUNKED.request);
      const sender = await ChunkedRequestSender.create(decodeKeyConfig(unhex(CHUNKED.keyConfig)), {
        aeadId: AEAD.AES_128_GCM,
        testOnlyEphemeralKey: unhex(CHUNKED.ephemeralSecret),
      });
      expect(hex(sender.header)).to.equal(CHUNKED.requestHeader);
      const chunks = [
        await sender.seal(request.subarray(0, 12), false),
        await sender.seal(request.subarray(12), false),
        await sender.seal(new Uint8Array(0), true),
      ];
      expect(chunks.map(hex)).to.deep.equal(CHUNKED.requestChunks);
    });

    it("opens the request and seals the response as 1 byte, 2 bytes and an empty final chunk, byte for byte", async function () {
      const ring = new KeyRing([await importGatewayKey({ keyId: 1, privateKey: unhex(CHUNKED.serverSecret) })]);
      const receiver = await openChunkedRequest(ring, [unhex(CHUNKED.requestHeader + CHUNKED.requestChunks.join(""))]);
      expect((await collect(receiver.chunks())).map(hex)).to.deep.equal([
        CHUNKED.request.slice(0, 24),
        CHUNKED.request.slice(24),
      ]);
      const keys = await receiver.responseKeys(unhex(CHUNKED.responseNonce));
      expect([hex(keys.secret), hex(keys.prk), hex(keys.key), hex(keys.nonce)]).to.deep.equal([
        CHUNKED.secret,
        CHUNKED.prk,
        CHUNKED.key,
        CHUNKED.nonce,
      ]);
      const sealer = await receiver.responseSealer({ testOnlyResponseNonce: unhex(CHUNKED.responseNonce) });
      const response = unhex("0140c8");
      const chunks = [
        sealer.seal(response.subarray(0, 1), false),
        sealer.seal(response.subarray(1), false),
        sealer.seal(new Uint8Array(0), true),
      ];
      expect(hex(sealer.nonce)).to.equal(CHUNKED.responseNonce);
      expect(chunks.map(hex)).to.deep.equal(CHUNKED.responseChunks);
    });

    it("opens the published response on the client", async function () {
      const sender = await ChunkedRequestSender.create(decodeKeyConfig(unhex(CHUNKED.keyConfig)), {
        aeadId: AEAD.AES_128_GCM,
        testOnlyEphemeralKey: unhex(CHUNKED.ephemeralSecret),
      });
      const plaintexts = await collect(
        sender.openResponse([unhex(CHUNKED.responseNonce + CHUNKED.responseChunks.join(""))]),
      );
      expect(plaintexts.map(hex)).to.deep.equal(["01", "40c8"]);
    });
  });
});

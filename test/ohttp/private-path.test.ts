/**
 * The private path end to end on 127.0.0.1: a TEE operator's gateway (its enclave's registered HPKE key, listed in
 * PrivacyRegistry), two relays listed by parties who are not operators, and the SDK's client taking everything it
 * trusts from the chain.
 */
import path from "node:path";
import { Worker } from "node:worker_threads";
import { expect } from "chai";
import hre from "hardhat";
import { getBytes, hexlify, keccak256, randomBytes, type HDNodeWallet } from "ethers";
import { addressesFromRecord, connectContracts, type Contracts } from "../../src/core/contracts";
import { IntegrityError, InputError, NotFoundError } from "../../src/core/errors";
import { encodeInput } from "../../src/core/job";
import { encodePrivateRequest, PRIVATE_INFER_PATH } from "../../src/core/private";
import { DevEnclave } from "../../src/tee";
import { startPrivateGateway, type RunningGateway } from "../../src/node/gateway";
import { independentRelays, privateInference } from "../../src/sdk/privateInference";
import { startRelayService, type RunningRelay } from "../../src/sdk/relayService";
import {
  decodeKeyConfig,
  encapsulateRequest,
  encodeRequest,
  ohttpFetch,
  OhttpUnknownKeyError,
  relayResourceUrl,
} from "../../src/ohttp";
import type { ModelSource } from "../../src/modes";
import { governor, loadSystem, TOKEN, type Fixture } from "../fixtures/system";
import { capturedLogger, listen } from "./helpers";

/** A stand-in classifier (the path is under test, not the model): two logits from the features' sum. */
const MODEL: ModelSource = {
  load: () =>
    Promise.resolve({ run: (features: number[]) => Promise.resolve([features.reduce((a, b) => a + b, 0) / 1e4, 0.5]) }),
};
const FEATURES = [39.1, 18.7, 181, 3750];
/** The plaintext as it travels inside the encrypted request, and a marker no ciphertext contains by chance. */
const PLAINTEXT = new TextDecoder().decode(encodeInput(FEATURES));

describe("private path (OHTTP relays, in-enclave gateway, keys on-chain)", function () {
  let fx: Fixture;
  let contracts: Contracts;
  let chainId: bigint;
  let gateway: RunningGateway;
  let gatewayLog: string[];
  let relays: RunningRelay[];
  let relayLogs: string[][];
  let relayAccounts: string[];

  async function listRelay(account: Fixture["other"], url: string): Promise<void> {
    const registry = fx.system.privacyRegistry;
    const { relayBond } = await registry.parameters();
    await (await fx.system.token.mint(account.address, relayBond)).wait();
    await (await fx.system.token.connect(account).approve(await registry.getAddress(), relayBond)).wait();
    await (await registry.connect(account).listRelay(url)).wait();
  }

  before(async function () {
    fx = await loadSystem();
    contracts = connectContracts(addressesFromRecord(fx.system.record), hre.ethers.provider);
    chainId = (await hre.ethers.provider.getNetwork()).chainId;
    const operator = fx.nodes[0]!;
    const enclave = new DevEnclave((fx.enclave as HDNodeWallet).privateKey);
    const captured = capturedLogger();
    gatewayLog = captured.lines;
    gateway = await startPrivateGateway({
      enclave,
      operator: operator.address,
      contracts,
      chainId,
      models: MODEL,
      log: captured.logger,
    });
    await (await fx.system.privacyRegistry.connect(operator).setGateway(enclave.address, gateway.url)).wait();
    relays = [];
    relayLogs = [];
    const signers = await hre.ethers.getSigners();
    const accounts = [signers[8]!, signers[9]!];
    relayAccounts = accounts.map((a) => a.address);
    for (const account of accounts) {
      const log = capturedLogger();
      const relay = await startRelayService({
        contracts,
        logger: log.logger,
        refreshMs: 0,
        allowPrivateGateways: true,
      });
      await listRelay(account, relay.url);
      relays.push(relay);
      relayLogs.push(log.lines);
    }
  });

  after(async function () {
    await Promise.all([gateway?.close(), ...(relays ?? []).map((relay) => relay.close())]);
  });

  it("serves a private inference through each of two relays, with a receipt its enclave signed", async function () {
    for (const relay of relayAccounts) {
      const result = await privateInference({ contracts, chainId, modelId: 1n, version: 1n, input: FEATURES, relay });
      expect(result.relay.address).to.equal(relay);
      expect(result.gateway.operator).to.equal(fx.nodes[0]!.address);
      expect(result.response.enclave).to.equal(new DevEnclave((fx.enclave as HDNodeWallet).privateKey).address);
      expect(result.response.inputHash).to.equal(keccak256(encodeInput(FEATURES)));
      expect(getBytes(result.output)[0]).to.equal(1); // 0.5 beats the sum's 0.398...
    }
  });

  it("leaves no plaintext in the relays' logs and no client address in the gateway's", async function () {
    await privateInference({ contracts, chainId, modelId: 1n, version: 1n, input: FEATURES, relay: relayAccounts[0] });
    const relayText = relayLogs.flat().join("\n");
    expect(relayLogs[0]!.length, "the relay logs each request").to.be.greaterThan(0);
    expect(relayText).to.not.include(PLAINTEXT);
    expect(relayText).to.not.include("39.1");
    const gatewayText = gatewayLog.join("\n");
    expect(gatewayLog.length, "the gateway logs each request").to.be.greaterThan(0);
    expect(gatewayText).to.not.match(/\b127\.0\.0\.\d+\b/);
    expect(gatewayText).to.not.match(/forwarded|x-forwarded|remoteAddress|"ip"/i);
    expect(gatewayText).to.not.include(PLAINTEXT);
  });

  it("leaves no plaintext in a relay's memory (a heap snapshot of its own thread)", async function () {
    const worker = new Worker(
      `require("ts-node").register({ transpileOnly: true }); require(${JSON.stringify(path.join(__dirname, "relay-worker.ts"))});`,
      { eval: true, workerData: { gateway: gateway.url } },
    );
    const logs: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      worker.on("message", (message: { url?: string; log?: string }) => {
        if (message.log !== undefined) logs.push(message.log);
        if (message.url !== undefined) resolve(message.url);
      });
      worker.once("error", reject);
    });
    try {
      const account = (await hre.ethers.getSigners())[12]!;
      await listRelay(account, url);
      const result = await privateInference({
        contracts,
        chainId,
        modelId: 1n,
        version: 1n,
        input: FEATURES,
        relay: account.address,
      });
      const chunks: Buffer[] = [];
      for await (const chunk of await worker.getHeapSnapshot()) chunks.push(Buffer.from(chunk as Uint8Array));
      const heap = Buffer.concat(chunks).toString("utf8");
      expect(
        logs.some((line) => line.includes("ohttp relay request")),
        "the relay forwarded the request",
      ).to.equal(true);
      expect(heap, "the snapshot holds the relay's own strings").to.include(gateway.url);
      for (const secret of [PLAINTEXT, result.response.requestId.slice(2), result.response.signature.slice(2)])
        expect(heap.includes(secret), `the relay's heap holds ${secret.slice(0, 24)}...`).to.equal(false);
      expect(logs.join("\n")).to.not.include(PLAINTEXT);
    } finally {
      worker.postMessage({ close: true });
      await new Promise((resolve) => worker.once("exit", resolve));
    }
  });

  it("refuses a relay listed by the gateway's own operator", async function () {
    const operator = fx.nodes[0]!;
    const own = { address: operator.address, url: "http://127.0.0.1:1/" };
    const gatewayEntry = { operator: operator.address, enclave: fx.enclave.address, url: gateway.url };
    expect(independentRelays([own, { address: relayAccounts[0]!, url: "x" }], gatewayEntry)).to.have.length(1);
    await listRelay(operator, "http://127.0.0.1:1/");
    const error = await privateInference({
      contracts,
      chainId,
      modelId: 1n,
      version: 1n,
      input: FEATURES,
      relay: operator.address,
    }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(InputError);
    expect((error as Error).message).to.match(/not a listed relay independent of the gateway's operator/);
  });

  it("fails with a clear error when a relay tampers with the answer", async function () {
    const signers = await hre.ethers.getSigners();
    const tamperer = signers[10]!;
    const honest = relays[0]!;
    const proxy = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        void fetch(new URL(req.url!, honest.url), {
          method: "POST",
          headers: { "content-type": req.headers["content-type"]! },
          body: Buffer.concat(chunks),
        }).then(async (answer) => {
          const body = Buffer.from(await answer.arrayBuffer());
          body[body.length - 1] ^= 0x01;
          res.writeHead(answer.status, { "content-type": answer.headers.get("content-type")! });
          res.end(body);
        });
      });
    });
    try {
      await listRelay(tamperer, `${proxy.url}/`);
      const error = await privateInference({
        contracts,
        chainId,
        modelId: 1n,
        version: 1n,
        input: FEATURES,
        relay: tamperer.address,
      }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(IntegrityError);
      expect((error as Error).message).to.match(/did not decrypt: it was altered on the way/);
    } finally {
      await proxy.close();
    }
  });

  it("answers a request under an unknown key id with the problem RFC 9458 names", async function () {
    const config = decodeKeyConfig(getBytes(await contracts.teeVerifier.ohttpKeyConfig(fx.enclave.address)));
    const request = new Request(new URL(PRIVATE_INFER_PATH, gateway.url), { method: "POST", body: "{}" });
    const error = await ohttpFetch(
      relayResourceUrl(relays[0]!.url, gateway.url),
      { ...config, keyId: 7 },
      request,
    ).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(OhttpUnknownKeyError);
  });

  it("refuses a replayed request", async function () {
    const config = decodeKeyConfig(getBytes(await contracts.teeVerifier.ohttpKeyConfig(fx.enclave.address)));
    const body = encodePrivateRequest({
      modelId: 1n,
      version: 1n,
      input: hexlify(encodeInput(FEATURES)),
      requestId: hexlify(randomBytes(32)),
    });
    const inner = new Request(new URL(PRIVATE_INFER_PATH, gateway.url), {
      method: "POST",
      headers: { date: new Date().toUTCString(), "content-type": "application/json" },
      body,
    });
    const { encapsulated } = await encapsulateRequest(config, await encodeRequest(inner));
    const send = () =>
      fetch(relayResourceUrl(relays[0]!.url, gateway.url), {
        method: "POST",
        headers: { "content-type": "message/ohttp-req" },
        body: encapsulated,
      });
    expect((await send()).status).to.equal(200);
    const replay = await send();
    expect(replay.status).to.equal(400);
    expect(await replay.text()).to.match(/replay/i);
  });

  it("refuses, before sending anything, a gateway whose enclave is no longer registered", async function () {
    const before = gatewayLog.length;
    await (await fx.system.teeVerifier.connect(await governor(fx)).revokeEnclave(fx.enclave.address)).wait();
    const error = await privateInference({ contracts, chainId, modelId: 1n, version: 1n, input: FEATURES }).catch(
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(NotFoundError);
    expect((error as Error).message).to.match(/no listed gateway may serve model 1@1 now .*was revoked/);
    expect(gatewayLog.length, "nothing reached the gateway").to.equal(before);
  });

  describe("bad input", function () {
    it("a relay refuses a gateway the chain does not list, and anything but POST", async function () {
      const unlisted = await fetch(relayResourceUrl(relays[0]!.url, "http://127.0.0.1:9/"), {
        method: "POST",
        headers: { "content-type": "message/ohttp-req" },
        body: new Uint8Array(64),
      });
      expect(unlisted.status).to.be.within(400, 499);
      const get = await fetch(relayResourceUrl(relays[0]!.url, gateway.url));
      expect(get.status).to.equal(405);
    });

    it("a relay refuses by default a listed gateway on a loopback or private address", async function () {
      const strict = await startRelayService({ contracts, refreshMs: 0 });
      try {
        const refused = await fetch(relayResourceUrl(strict.url, gateway.url), {
          method: "POST",
          headers: { "content-type": "message/ohttp-req" },
          body: new Uint8Array(64),
        });
        expect(refused.status).to.be.within(400, 499);
      } finally {
        await strict.close();
      }
    });

    it("the gateway answers a malformed request with 400 naming the field, inside the encryption", async function () {
      const config = decodeKeyConfig(getBytes(await contracts.teeVerifier.ohttpKeyConfig(fx.enclave.address)));
      for (const [body, field] of [
        ["not json", /JSON object/],
        [JSON.stringify({ modelId: "1", version: 1, input: "0x", requestId: hexlify(randomBytes(32)) }), /"input"/],
        [JSON.stringify({ modelId: "x", version: 1 }), /"modelId"/],
      ] as const) {
        const answer = await ohttpFetch(
          relayResourceUrl(relays[1]!.url, gateway.url),
          config,
          new Request(new URL(PRIVATE_INFER_PATH, gateway.url), { method: "POST", body }),
        );
        expect(answer.status).to.equal(400);
        expect(((await answer.json()) as { detail: string }).detail).to.match(field);
      }
      const missing = await ohttpFetch(
        relayResourceUrl(relays[1]!.url, gateway.url),
        config,
        new Request(new URL("/v1/other", gateway.url), { method: "POST", body: "{}" }),
      );
      expect(missing.status).to.equal(404);
    });

    it("listRelay refuses a URL that is not http(s), and a second listing", async function () {
      const signers = await hre.ethers.getSigners();
      const account = signers[11]!;
      await fx.system.token.mint(account.address, 1_000n * TOKEN);
      await fx.system.token.connect(account).approve(await fx.system.privacyRegistry.getAddress(), 1_000n * TOKEN);
      await expect(fx.system.privacyRegistry.connect(account).listRelay("ftp://relay.example/")).to.be.reverted;
      await expect(fx.system.privacyRegistry.connect(signers[8]!).listRelay("http://relay.example/")).to.be.reverted;
    });
  });
});

/**
 * Paying the private path with Privacy Pass tokens: a gateway whose operator registered an issuer key takes one
 * unspent token of that key per request inside the encrypted request, refuses a missing, foreign or spent token
 * (402), and gives a token back when it fails to serve; the client pays from its pass wallet.
 */
import { expect } from "chai";
import hre from "hardhat";
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { getBytes, hexlify, randomBytes, type HDNodeWallet } from "ethers";
import { addressesFromRecord, connectContracts, type Contracts } from "../../src/core/contracts";
import { InputError } from "../../src/core/errors";
import { encodeInput } from "../../src/core/job";
import { encodePrivateRequest, PRIVATE_INFER_PATH } from "../../src/core/private";
import { decodeKeyConfig, ohttpFetch, relayResourceUrl } from "../../src/ohttp";
import type { ModelSource } from "../../src/modes";
import { createPassRedeemer } from "../../src/node/issuer";
import { startPrivateGateway, type RunningGateway } from "../../src/node/gateway";
import {
  encodeToken,
  generateIssuerKey,
  issueTokens,
  issuerName,
  prepareTokenRequests,
  SqliteSpentTokens,
  tokenChallenge,
  tokenNonce,
  type IssuerKey,
  type TokenChallenge,
} from "../../src/privacypass";
import { listPasses, returnPass, type PassEntry } from "../../src/sdk/passes";
import { PassRefusedError, privateInference } from "../../src/sdk/privateInference";
import { startRelayService, type RunningRelay } from "../../src/sdk/relayService";
import { DevEnclave } from "../../src/tee";
import { loadSystem, type Fixture } from "../fixtures/system";
import { capturedLogger } from "./helpers";

const FEATURES = [39.1, 18.7, 181, 3750];

describe("private path paid with Privacy Pass tokens", function () {
  let fx: Fixture;
  let contracts: Contracts;
  let chainId: bigint;
  let gateway: RunningGateway;
  let relay: RunningRelay;
  let key: IssuerKey;
  let challenge: TokenChallenge;
  let spent: SqliteSpentTokens;
  let failing = false;
  let dir: string;

  /** `count` tokens of `issuer` signed blindly, as wallet entries. */
  function mint(issuer: IssuerKey, count: number): PassEntry[] {
    const name = issuerName({
      chainId,
      escrow: fx.system.record.contracts.privacyPassEscrow.address,
      keyId: issuer.keyId,
    });
    const prepared = prepareTokenRequests(issuer.publicKey, tokenChallenge({ issuerName: name }), count);
    return prepared.finalize(issueTokens(issuer, prepared.requests)).map((token) => ({
      keyId: issuer.keyId,
      issuerName: name,
      token: Buffer.from(encodeToken(token)).toString("base64url"),
      purchaseId: "1",
    }));
  }

  const ask = (extra: Partial<Parameters<typeof privateInference>[0]> = {}) =>
    privateInference({ contracts, chainId, modelId: 1n, version: 1n, input: FEATURES, ...extra });

  before(async function () {
    fx = await loadSystem();
    contracts = connectContracts(addressesFromRecord(fx.system.record), hre.ethers.provider);
    chainId = (await hre.ethers.provider.getNetwork()).chainId;
    dir = mkdtempSync(path.join(os.tmpdir(), "vin-passes-"));
    const operator = fx.nodes[0]!;
    key = await generateIssuerKey();
    await (await fx.system.privacyPassEscrow.connect(operator).registerIssuer(key.publicKey, 10n ** 16n)).wait();
    challenge = tokenChallenge({
      issuerName: issuerName({ chainId, escrow: await fx.system.privacyPassEscrow.getAddress(), keyId: key.keyId }),
    });
    spent = new SqliteSpentTokens(new Database(":memory:"));
    const models: ModelSource = {
      load: () =>
        failing
          ? Promise.reject(new Error("model file unavailable"))
          : Promise.resolve({ run: (features: number[]) => Promise.resolve([features[0]! / 100, 0.5]) }),
    };
    const enclave = new DevEnclave((fx.enclave as HDNodeWallet).privateKey);
    gateway = await startPrivateGateway({
      enclave,
      operator: operator.address,
      contracts,
      chainId,
      models,
      log: capturedLogger().logger,
      passes: createPassRedeemer({ key, challenge, spent }),
    });
    await (await fx.system.privacyRegistry.connect(operator).setGateway(enclave.address, gateway.url)).wait();
    relay = await startRelayService({ contracts, refreshMs: 0, allowPrivateGateways: true });
    const lister = (await hre.ethers.getSigners())[9]!;
    const registry = fx.system.privacyRegistry;
    const { relayBond } = await registry.parameters();
    await (await fx.system.token.mint(lister.address, relayBond)).wait();
    await (await fx.system.token.connect(lister).approve(await registry.getAddress(), relayBond)).wait();
    await (await registry.connect(lister).listRelay(relay.url)).wait();
  });

  after(async function () {
    await Promise.all([gateway?.close(), relay?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a request without a pass with 402, saying how to buy one", async function () {
    const error = await ask().catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PassRefusedError);
    expect((error as Error).message).to.match(/takes one Privacy Pass token per request.*vin passes buy --operator/);
  });

  it("pays each request with one pass from the wallet, and the gateway records each spent nonce once", async function () {
    const wallet = path.join(dir, "two.json");
    const entries = mint(key, 2);
    for (const entry of entries) returnPass(entry, wallet);
    await ask({ passes: { wallet } });
    await ask({ passes: { wallet } });
    expect(listPasses(wallet)).to.deep.equal([]);
    const nonces = entries.map((e) => tokenNonce(new Uint8Array(Buffer.from(e.token, "base64url"))));
    for (const nonce of nonces) expect(spent.markSpent(key.keyId, nonce), "already spent").to.equal(false);
    const error = await ask({ passes: { wallet } }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(InputError);
    expect((error as Error).message).to.match(/holds none of its keys/);
  });

  it("refuses a double-spent pass and one of another issuer key", async function () {
    const [pass] = mint(key, 1);
    await ask({ pass: pass!.token });
    const again = await ask({ pass: pass!.token }).catch((e: unknown) => e);
    expect(again).to.be.instanceOf(PassRefusedError);
    expect((again as Error).message).to.match(/spent already/);
    const [foreign] = mint(await generateIssuerKey(), 1);
    const other = await ask({ pass: foreign!.token }).catch((e: unknown) => e);
    expect(other).to.be.instanceOf(PassRefusedError);
    expect((other as Error).message).to.match(/not valid/);
  });

  it("refuses a request that does not pay with 402 before it reads the chain; a paid one for a version it cannot serve gets 503 and its pass back", async function () {
    const config = decodeKeyConfig(getBytes(await contracts.teeVerifier.ohttpKeyConfig(fx.enclave.address)));
    const send = async (modelId: bigint, pass?: string) => {
      const body = encodePrivateRequest({
        modelId,
        version: 1n,
        input: hexlify(encodeInput(FEATURES)),
        requestId: hexlify(randomBytes(32)),
        ...(pass === undefined ? {} : { pass }),
      });
      const inner = new Request(new URL(PRIVATE_INFER_PATH, gateway.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      const response = await ohttpFetch(relayResourceUrl(relay.url, gateway.url), config, inner);
      return { status: response.status, detail: ((await response.json()) as { detail: string }).detail };
    };
    // Model 999 does not exist: the chain would refuse it, but a request without a pass never gets that far.
    const unpaid = await send(999n);
    expect(unpaid.status).to.equal(402);
    expect(unpaid.detail).to.match(/takes one Privacy Pass token per request/);
    const [pass] = mint(key, 1);
    const paid = await send(999n, pass!.token);
    expect(paid.status).to.equal(503);
    expect(paid.detail).to.match(/cannot serve model 999@1 now: .*the pass, if any, was not spent$/);
    const nonce = tokenNonce(new Uint8Array(Buffer.from(pass!.token, "base64url")));
    expect(spent.markSpent(key.keyId, nonce), "the pass was given back").to.equal(true);
  });

  it("gives the pass back when the gateway fails to serve, and it pays a later request", async function () {
    const wallet = path.join(dir, "refund.json");
    returnPass(mint(key, 1)[0]!, wallet);
    failing = true;
    try {
      const error = await ask({ passes: { wallet } }).catch((e: unknown) => e);
      expect((error as Error).message).to.match(/the pass, if any, was not spent/);
    } finally {
      failing = false;
    }
    expect(listPasses(wallet)[0]?.count).to.equal(1);
    await ask({ passes: { wallet } });
    expect(listPasses(wallet)).to.deep.equal([]);
  });
});

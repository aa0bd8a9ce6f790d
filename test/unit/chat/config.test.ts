import { expect } from "chai";
import { ConfigError } from "../../../src/core/errors";
import { validateConfig } from "../../../src/node/config";

const ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const BASE = {
  rpcUrl: "http://127.0.0.1:8545",
  chainId: 31337,
  contracts: {
    escrow: ADDRESS,
    staking: ADDRESS,
    registry: ADDRESS,
    teeVerifier: ADDRESS,
    token: ADDRESS,
    startBlock: 0,
  },
  keystore: "k.json",
  dataDir: "d",
  contentDir: "c",
  modes: ["tee"],
};

function chat(value: unknown, modes: string[] = ["tee"]) {
  return validateConfig({ ...BASE, modes, chat: value }, "vin.json").chat;
}

function refused(value: unknown, message: RegExp, modes?: string[]): void {
  expect(() => chat(value, modes))
    .to.throw(ConfigError)
    .with.property("message")
    .that.matches(message);
}

describe("node config: chat", function () {
  it("is absent unless configured", function () {
    expect(validateConfig(BASE, "vin.json").chat).to.equal(undefined);
  });

  it("fills the defaults around the models", function () {
    expect(chat({ models: "all" })).to.deep.equal({
      models: "all",
      maxConcurrent: 4,
      maxQueued: 64,
      queueTimeoutMs: 10_000,
      maxTokens: 256,
      port: 0,
      batchMax: 1_000,
      batchAgeMs: 600_000,
    });
  });

  it("keeps every setting given", function () {
    const given = {
      models: ["7", "12"],
      pricePerToken: "0.000001",
      maxConcurrent: 16,
      maxQueued: 0,
      queueTimeoutMs: 2_000,
      maxTokens: 512,
      port: 8080,
      batchMax: 4096,
      batchAgeMs: 60_000,
    };
    expect(chat(given)).to.deep.equal(given);
  });

  it("needs the tee mode", function () {
    refused({ models: "all" }, /"chat" needs the "tee" mode/, ["vanilla"]);
  });

  it("refuses bad models, prices, limits and unknown settings, naming the field", function () {
    refused({ models: [] }, /"chat.models" must be "all" or a non-empty list of model ids/);
    refused({ models: [7] }, /"chat.models"/);
    refused({ models: "all", pricePerToken: "0" }, /"chat.pricePerToken" must be a positive token amount/);
    refused({ models: "all", pricePerToken: 1 }, /"chat.pricePerToken"/);
    refused({ models: "all", batchMax: 4097 }, /"chat.batchMax" must be an integer from 1 to 4096/);
    refused({ models: "all", batchAgeMs: 10 }, /"chat.batchAgeMs"/);
    refused({ models: "all", port: 70_000 }, /"chat.port" must be an integer from 0 to 65535/);
    refused({ models: "all", maxConcurrent: 0 }, /"chat.maxConcurrent"/);
    refused({ models: "all", maxQueued: -1 }, /"chat.maxQueued" must be an integer from 0 to 65536/);
    refused({ models: "all", queueTimeoutMs: 0 }, /"chat.queueTimeoutMs" must be an integer from 1 to 600000/);
    refused({ models: "all", maxtokens: 5 }, /"chat.maxtokens" is not a chat setting/);
    refused("all", /"chat" must be an object/);
  });
});

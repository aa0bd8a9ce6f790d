import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError } from "../../src/core/errors";
import { CONFIG_DEFAULTS, loadConfig, tokenAmount } from "../../src/node/config";

const ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

/** A minimal valid config file, with `patch` applied. */
function configFile(patch: Record<string, unknown> = {}): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), "vin-config-")), "vin.json");
  const contracts = {
    escrow: ADDRESS,
    staking: ADDRESS,
    registry: ADDRESS,
    teeVerifier: ADDRESS,
    token: ADDRESS,
    startBlock: 0,
  };
  writeFileSync(
    file,
    JSON.stringify({
      rpcUrl: "http://127.0.0.1:8545",
      chainId: 31337,
      contracts,
      keystore: "k.json",
      dataDir: "d",
      contentDir: "c",
      modes: ["vanilla"],
      ...patch,
    }),
  );
  return file;
}

describe("operator node: config (maxCollateral)", () => {
  it("defaults maxCollateral to 50 tokens", () => {
    expect(CONFIG_DEFAULTS.maxCollateral).to.equal("50");
    expect(loadConfig(configFile()).maxCollateral).to.equal("50");
    expect(tokenAmount(loadConfig(configFile()).maxCollateral)).to.equal(50n * 10n ** 18n);
  });

  it("takes the flag over the environment, the environment over the file, and the file over the default", () => {
    const file = configFile({ maxCollateral: "12.5" });
    expect(loadConfig(file).maxCollateral).to.equal("12.5");
    expect(loadConfig(file, { env: { VIN_MAX_COLLATERAL: "7" } }).maxCollateral).to.equal("7");
    expect(
      loadConfig(file, { env: { VIN_MAX_COLLATERAL: "7" }, flags: { maxCollateral: "3" } }).maxCollateral,
    ).to.equal("3");
    expect(loadConfig(file, { env: { VIN_MAX_COLLATERAL: "" } }).maxCollateral).to.equal("12.5");
    expect(loadConfig(configFile(), { flags: { maxCollateral: undefined } }).maxCollateral).to.equal("50");
  });

  it("reports a malformed amount with one ConfigError naming where it came from", () => {
    const file = configFile({ maxCollateral: 50 });
    expect(() => loadConfig(file)).to.throw(
      ConfigError,
      `"maxCollateral" in ${file}: must be a token amount as a decimal string (e.g. "50" or "12.5"), got 50`,
    );
    expect(() => loadConfig(configFile(), { env: { VIN_MAX_COLLATERAL: "-1" } })).to.throw(
      ConfigError,
      'environment variable VIN_MAX_COLLATERAL: must be a token amount as a decimal string (e.g. "50" or "12.5"), got "-1"',
    );
    expect(() => loadConfig(configFile(), { flags: { maxCollateral: "1e3" } })).to.throw(
      ConfigError,
      'flag --max-collateral: must be a token amount as a decimal string (e.g. "50" or "12.5"), got "1e3"',
    );
  });
});

describe("operator node: config (IPFS peer)", () => {
  const PEER = "12D3KooWSAnF4Lq3e3b7ocTg8j32kphcr9mHrFiCepVL5CXXQS51";

  it("runs no peer by default and pins every model once one runs", () => {
    const config = loadConfig(configFile());
    expect(config.p2pListen).to.equal(undefined);
    expect(config.ipfsPeers).to.equal(undefined);
    expect(config.pinModels).to.equal("all");
  });

  it("accepts listen and announce addresses, peers with their id, gateways, and a list of models to pin", () => {
    const config = loadConfig(
      configFile({
        p2pListen: ["/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/4001"],
        p2pAnnounce: ["/dns4/node.example/tcp/4001"],
        ipfsPeers: [`/ip4/10.0.0.2/tcp/4001/p2p/${PEER}`],
        ipfsGateways: ["http://127.0.0.1:8787"],
        pinModels: ["1", "7"],
      }),
    );
    expect(config).to.deep.include({
      p2pListen: ["/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/4001"],
      p2pAnnounce: ["/dns4/node.example/tcp/4001"],
      ipfsPeers: [`/ip4/10.0.0.2/tcp/4001/p2p/${PEER}`],
      ipfsGateways: ["http://127.0.0.1:8787"],
      pinModels: ["1", "7"],
    });
  });

  const refusals: [string, Record<string, unknown>, string][] = [
    ["a listen address that is not TCP", { p2pListen: ["/ip4/127.0.0.1/udp/4001/quic"] }, '"p2pListen" must list'],
    ["a port above 65535", { p2pListen: ["/ip4/127.0.0.1/tcp/70000"] }, '"p2pListen" must list'],
    ["an empty list", { p2pListen: [] }, '"p2pListen" must be a list of 1 to 16'],
    [
      "an announce address without a listen address",
      { p2pAnnounce: ["/dns4/a.example/tcp/1"] },
      '"p2pAnnounce" needs p2pListen',
    ],
    [
      "an announce address with a peer id",
      { p2pListen: ["/ip4/0.0.0.0/tcp/1"], p2pAnnounce: [`/ip4/1.2.3.4/tcp/1/p2p/${PEER}`] },
      '"p2pAnnounce" must list',
    ],
    ["a peer without its id", { ipfsPeers: ["/ip4/10.0.0.2/tcp/4001"] }, '"ipfsPeers" must list multiaddrs ending'],
    ["a gateway that is not a URL", { ipfsGateways: ["127.0.0.1:8787"] }, '"ipfsGateways" must list http(s)'],
    ["models as numbers", { pinModels: [1] }, '"pinModels" must be "all", "none" or a list'],
  ];
  for (const [what, patch, message] of refusals)
    it(`refuses ${what}, naming the field`, () => {
      const file = configFile(patch);
      expect(() => loadConfig(file)).to.throw(ConfigError, message);
    });
});

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

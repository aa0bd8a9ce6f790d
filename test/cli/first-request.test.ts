import { expect } from "chai";
import path from "node:path";
import { formatUnits, JsonRpcProvider, parseEther } from "ethers";
import { InputError } from "../../src/core/errors";
import { fundAccount } from "../../src/node/faucet";
import { freePort, startDevnet, TOKEN, vin, type Devnet } from "../node/harness";

/**
 * A newcomer's first request, as issue #11 tried it: a fresh key from `vin init` holds nothing; `vin request`
 * says what is missing and what to run, `vin faucet` funds it, then the request goes through.
 */
describe("first request from a new account (against a real hardhat node)", () => {
  let net: Devnet;
  let config: string;
  let address: string;
  const request = () =>
    vin([
      "--config",
      config,
      "request",
      "--model",
      net.modelId.toString(),
      "--mode",
      "tee",
      "--input",
      "[39.1,18.7,181,3750]",
    ]);
  const faucet = (...flags: string[]) =>
    vin(["faucet", address, "--rpc-url", net.chain.url, "--deployment", net.deploymentFile, ...flags]);

  before(async () => {
    net = await startDevnet();
    config = path.join(net.workDir, "newcomer.json");
    const init = await vin([
      "--config",
      config,
      "--json",
      "init",
      "--deployment",
      net.deploymentFile,
      "--rpc-url",
      net.chain.url,
      "--data-dir",
      path.join(net.workDir, "newcomer"),
      "--scrypt-n",
      "1024",
    ]);
    expect(init.code, init.stderr).to.equal(0);
    ({ address } = JSON.parse(init.stdout) as { address: string });
  });

  after(async () => {
    await net?.chain.stop();
  });

  describe("vin request", () => {
    it("exits 2 naming the account, its ETH, the gas it needs and `vin faucet <address>` when the account holds no ETH", async () => {
      const result = await request();
      expect(result.code, result.stderr).to.equal(2);
      expect(result.stderr).to.match(
        new RegExp(
          `^error: account ${address} holds 0\\.0 ETH for gas, about 0\\.\\d+ ETH is needed to approve and request: on this local chain run \`vin faucet ${address}\`\\n$`,
        ),
      );
      expect(await net.provider.getTransactionCount(address)).to.equal(0);
    });

    it("exits 2 naming the tokens it holds, the quote and `vin faucet <address>` when the account has gas but no tokens", async () => {
      expect((await faucet("--eth", "1", "--tokens", "0")).code).to.equal(0);
      const [total] = await net.contracts.escrow.quote(net.modelId, 1, 1, 1, TOKEN / 2n);
      const result = await request();
      expect(result.code, result.stderr).to.equal(2);
      const quoted = formatUnits(total, 18);
      expect(result.stderr).to.equal(
        `error: account ${address} holds 0.0 tokens, the job costs ${quoted} tokens (model fee, node fees and protocol fee): on this local chain run \`vin faucet ${address}\`\n`,
      );
      expect(await net.provider.getTransactionCount(address)).to.equal(0);
    });

    it("approves and requests once the account is funded", async () => {
      expect((await faucet("--eth", "0", "--tokens", "100")).code).to.equal(0);
      const before = await net.contracts.escrow.jobCount();
      const result = await request();
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.match(
        new RegExp(`^requested job ${before + 1n} \\(escrowed [\\d.]+ tokens, 0x[0-9a-f]{64}\\)\\n$`),
      );
      const [requested] = await net.contracts.escrow.queryFilter(
        net.contracts.escrow.filters.JobRequested(before + 1n),
      );
      expect(requested?.args.requester).to.equal(address);
    });
  });

  describe("vin faucet", () => {
    it("sends the ETH and mints the tokens asked for, and prints the balances", async () => {
      const [eth, tokens] = [await net.provider.getBalance(address), await net.contracts.token.balanceOf(address)];
      const result = await faucet("--eth", "2.5", "--tokens", "40");
      expect(result.code, result.stderr).to.equal(0);
      expect(await net.provider.getBalance(address)).to.equal(eth + parseEther("2.5"));
      expect(await net.contracts.token.balanceOf(address)).to.equal(tokens + 40n * TOKEN);
      expect(result.stdout).to.match(
        new RegExp(
          `^sent 2\\.5 ETH to ${address} from 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 \\(0x[0-9a-f]{64}\\)\\nminted 40\\.0 test tokens to ${address} \\(0x[0-9a-f]{64}\\)\\nbalance now [\\d.]+ ETH, [\\d.]+ tokens\\n$`,
        ),
      );
    });

    it("exits 2 for an argument that is not an address", async () => {
      const result = await vin(["faucet", "0x1234", "--rpc-url", net.chain.url, "--deployment", net.deploymentFile]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.equal(`error: "0x1234" is not an address: pass a 0x-prefixed 20-byte address\n`);
    });

    it("refuses a chain that is not local with an InputError, before any transaction", async () => {
      const mainnet = new JsonRpcProvider(net.chain.url, 1, { staticNetwork: true });
      const nonce = await net.provider.getTransactionCount(await net.deployer.getAddress());
      try {
        const refused = await fundAccount({
          provider: mainnet,
          token: await net.contracts.token.getAddress(),
          to: address,
        }).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(refused).to.be.instanceOf(InputError);
        expect((refused as InputError).shortMessage).to.equal(
          `chain 1 is not a local development chain (31337 or 1337): the faucet only runs there; fund ${address} from a wallet`,
        );
      } finally {
        mainnet.destroy();
      }
      expect(await net.provider.getTransactionCount(await net.deployer.getAddress())).to.equal(nonce);
    });
  });

  describe("hub commands through vin", () => {
    it("vin search exits 4 (transport) with one error line when the hub is unreachable", async () => {
      const hub = `http://127.0.0.1:${await freePort()}`;
      const result = await vin(["search", "penguins", "--hub", hub]);
      expect(result.code).to.equal(4);
      expect(result.stderr).to.match(new RegExp(`^error: Cannot reach the hub at ${hub} .*\\n$`));
    });

    it("vin pull exits 2 (input) with one error line for a reference that is not a model id", async () => {
      const result = await vin(["--config", config, "pull", "abc", "--out", path.join(net.workDir, "pulled")]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/^error: .*"abc" is not a model reference like 7 or 7@2.*\n$/);
    });
  });
});

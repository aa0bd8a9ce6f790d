import { expect } from "chai";
import { hexlify, Wallet } from "ethers";
import { encodeInput } from "../../src/core/job";
import { isSealed } from "../../src/core/sealed";
import {
  createClient,
  createOperator,
  DaemonProcess,
  startDevnet,
  vin,
  type Devnet,
  type Operator,
} from "../node/harness";

const FEATURES = [39.1, 18.7, 181, 3750];

/**
 * `vin request --encrypt [--to]` and `vin verify` of a sealed job, as a client runs them against a real hardhat node
 * with one vanilla operator: refused with a clear error while no node has published a key, then sealed to the node,
 * served, and verified; the `JobRequested` event carries the envelope, not the input.
 */
describe("vin request --encrypt (against a real hardhat node)", () => {
  let net: Devnet;
  let config: string;
  let client: string;
  let operator: Operator;
  let daemon: DaemonProcess | undefined;
  const request = (...flags: string[]) =>
    vin([
      "--config",
      config,
      "--json",
      "request",
      "--model",
      net.modelId.toString(),
      "--input",
      JSON.stringify(FEATURES),
      ...flags,
    ]);

  before(async () => {
    net = await startDevnet();
    ({ config, address: client } = await createClient(net, "client"));
    operator = await createOperator(net, "sealed-cli", { modes: "vanilla", patch: { confirmations: 0 } });
  });

  after(async () => {
    await daemon?.stop();
    await net?.chain.stop();
  });

  it("exits 8 saying that no node has published a key, before any transaction", async () => {
    const jobs = await net.contracts.escrow.jobCount();
    const result = await request("--encrypt");
    expect(result.code, result.stderr).to.equal(8);
    expect(result.stderr).to.include("no node has published a key in PrivacyRegistry");
    expect(await net.contracts.escrow.jobCount()).to.equal(jobs);
    expect(await net.provider.getTransactionCount(client), "not even an approval").to.equal(0);
  });

  it("exits 2 for --to without --encrypt, for a --to that is not an address, and for a node without a key", async () => {
    const stranger = Wallet.createRandom().address;
    const cases: [string[], string][] = [
      [["--to", operator.address], "--to names the nodes to seal the input to: add --encrypt"],
      [["--encrypt", "--to", "0x1234"], '--to: "0x1234" is not a node address'],
      [["--encrypt", "--to", stranger], `node ${stranger}: it has published no key in PrivacyRegistry`],
    ];
    for (const [flags, message] of cases) {
      const result = await request(...flags);
      expect(result.code, result.stderr).to.equal(2);
      expect(result.stderr).to.include(message);
    }
  });

  it("seals the input to the node once its daemon published its key; the job settles and `vin verify` verifies it", async () => {
    daemon = new DaemonProcess(operator);
    await daemon.waitForLog(/"msg":"node key published for sealed inputs"/);
    const result = await request("--encrypt", "--wait", "--timeout", "120");
    expect(result.code, `${result.stderr}\n${daemon.output.slice(-2_000)}`).to.equal(0);
    const { jobId, verified } = JSON.parse(result.stdout) as { jobId: string; verified: { ok: boolean } };
    expect(verified.ok).to.equal(true);
    const [event] = await net.contracts.escrow.queryFilter(net.contracts.escrow.filters.JobRequested(BigInt(jobId)));
    expect(isSealed(event!.args.input)).to.equal(true);
    expect(event!.args.input).to.not.include(hexlify(encodeInput(FEATURES)).slice(2));
    const verify = await vin(["--config", config, "verify", jobId]);
    expect(verify.code, verify.stderr).to.equal(0);
    expect(verify.stdout).to.match(new RegExp(`^job ${jobId} \\(vanilla\\): VERIFIED\\n`));
  });

  it("names the nodes it sealed to with --to", async () => {
    const result = await request("--encrypt", "--to", operator.address);
    expect(result.code, result.stderr).to.equal(0);
    expect((JSON.parse(result.stdout) as { sealedTo: string[] }).sealedTo).to.deep.equal([operator.address]);
    const text = await vin([
      "--config",
      config,
      "request",
      "--model",
      net.modelId.toString(),
      "--input",
      JSON.stringify(FEATURES),
      "--encrypt",
    ]);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.match(new RegExp(`\\ninput sealed to ${operator.address}\\n$`));
  });
});

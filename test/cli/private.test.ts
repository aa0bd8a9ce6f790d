import { expect } from "chai";
import { spawn } from "node:child_process";
import path from "node:path";
import { hexlify } from "ethers";
import { encodeClassification, OnnxModel } from "../../src/inference/onnx";
import {
  createClient,
  createOperator,
  DaemonProcess,
  eventually,
  freePort,
  ROOT,
  startDevnet,
  vin,
  type Devnet,
} from "../node/harness";

const FEATURES = [39.1, 18.7, 181, 3750];

/**
 * The private path from the command line, against a real hardhat node: a TEE operator's daemon serving its gateway
 * (listed by itself once its enclave is registered), two relays run as `vin relay serve` by accounts that are not
 * operators, and a client using `vin relay list`, `vin request --private` and `vin chat`.
 */
describe("vin chat / request --private / relay (against a real hardhat node)", () => {
  let net: Devnet;
  let daemon: DaemonProcess | undefined;
  let client: string;

  before(async () => {
    net = await startDevnet();
    const operator = await createOperator(net, "gateway", {
      modes: "tee",
      patch: { confirmations: 0, gatewayPort: await freePort() },
    });
    daemon = new DaemonProcess(operator);
    await daemon.waitForLog(/gateway listed in PrivacyRegistry/);
    for (const name of ["relay-a", "relay-b"]) await net.devnet.startRelay(name, await freePort());
    ({ config: client } = await createClient(net, "private-client"));
  });

  after(async () => {
    await daemon?.stop();
    await net?.devnet.stop();
  });

  it("lists the relays and the gateway the chain knows", async () => {
    const result = await vin(["--config", client, "--json", "relay", "list"]);
    expect(result.code, result.stderr).to.equal(0);
    const listed = JSON.parse(result.stdout) as { relays: { address: string }[]; gateways: { operator: string }[] };
    expect(listed.relays.map((r) => r.address)).to.have.members(net.devnet.relays.map((r) => r.address));
    expect(listed.gateways.map((g) => g.operator)).to.deep.equal([daemon!.operator.address]);
  });

  it("serves `vin request --private` with the enclave's receipt, through the relay asked for", async () => {
    const relay = net.devnet.relays[1]!;
    const result = await vin([
      "--config",
      client,
      "--json",
      "request",
      "--private",
      "--model",
      net.modelId.toString(),
      "--input",
      JSON.stringify(FEATURES),
      "--relay",
      relay.address,
    ]);
    expect(result.code, result.stderr).to.equal(0);
    const answer = JSON.parse(result.stdout) as { output: string; relay: string; operator: string };
    expect(answer.relay).to.equal(relay.url);
    expect(answer.operator).to.equal(daemon!.operator.address);
    const expected = hexlify(encodeClassification(await (await OnnxModel.load(net.model.onnx)).run(FEATURES)));
    expect(answer.output).to.equal(expected);
  });

  it("answers each line of `vin chat`, and reports a bad line without stopping", async () => {
    const child = spawn(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        path.join(ROOT, "src/cli/main.ts"),
        "--config",
        client,
        "--json",
        "chat",
        "--model",
        net.modelId.toString(),
      ],
      { cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1" }, stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(`${JSON.stringify(FEATURES)}\nnot json\n${JSON.stringify(FEATURES.map((f) => f * 1.01))}\n`);
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    const answers = stdout
      .trim()
      .split("\n")
      .filter((line) => line.startsWith("{"));
    expect(answers, stderr).to.have.length(2);
    expect(stderr).to.match(/the line is not JSON/);
    expect(code, "a bad line makes the exit code non-zero").to.not.equal(0);
  });

  it("refuses flags that do not go together, naming them, before anything is sent", async () => {
    const base = [
      "--config",
      client,
      "request",
      "--model",
      net.modelId.toString(),
      "--input",
      JSON.stringify(FEATURES),
    ];
    const both = await vin([...base, "--private", "--encrypt"]);
    expect(both.code).to.not.equal(0);
    expect(both.stderr).to.match(/--private .* drop --encrypt/);
    const stray = await vin([...base, "--relay", daemon!.operator.address]);
    expect(stray.code).to.not.equal(0);
    expect(stray.stderr).to.match(/--gateway and --relay choose the private path: add --private/);
    const own = await vin([...base, "--private", "--relay", daemon!.operator.address]);
    expect(own.code).to.not.equal(0);
    expect(own.stderr).to.match(/not a listed relay independent of the gateway's operator/);
    const badUrl = await vin(["--config", client, "relay", "register", "--url", "ftp://x"]);
    expect(badUrl.code).to.not.equal(0);
    expect(badUrl.stderr).to.match(/--url "ftp:\/\/x" must be http:\/\/ or https:\/\//);
  });

  it("keeps serving after the gateway's state is re-read (the listing stays current)", async () => {
    const entry = await eventually("gateway entry", async () => {
      const gw = await net.contracts.privacyRegistry!.gateway(daemon!.operator.address);
      return gw.url === "" ? undefined : gw;
    });
    expect(entry.enclave).to.equal(daemon!.operator.enclave);
  });
});

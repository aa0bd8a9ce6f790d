import { expect } from "chai";
import { hexlify } from "ethers";
import { OnnxModel, encodeClassification } from "../../src/inference/onnx";
import { Mode } from "../../src/core/modes";
import { requestInference } from "../../src/sdk/requestInference";
import { toJobId, toModelId } from "../../src/core/ids";
import { waitForResult } from "../../src/sdk/waitForResult";
import {
  createClient,
  createOperator,
  DaemonProcess,
  jobEvents,
  startDevnet,
  TOKEN,
  vin,
  type Devnet,
} from "./harness";

describe("operator node: jobs assigned to one node (requestFor, against a real hardhat node)", () => {
  let net: Devnet;
  let expected: string;
  const daemons: DaemonProcess[] = [];

  before(async () => {
    net = await startDevnet();
    expected = hexlify(encodeClassification(await (await OnnxModel.load(net.model.onnx)).run(net.model.example)));
  });

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop()));
  });

  after(async () => {
    await net?.chain.stop();
  });

  it("the assignee settles with one submit and no claim; another node skips the job, saying whose it is", async () => {
    const [chosen, other] = [
      await createOperator(net, "chosen", { modes: "vanilla" }),
      await createOperator(net, "bystander", { modes: "vanilla" }),
    ];
    for (const operator of [chosen, other]) daemons.push(new DaemonProcess(operator));
    for (const daemon of daemons) await daemon.waitForLog(/operator node started/);
    const { job } = await requestInference({
      contracts: net.contracts,
      signer: net.requester,
      modelId: toModelId(net.modelId),
      mode: Mode.Vanilla,
      input: net.model.example,
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      node: chosen.address,
    });
    const result = await waitForResult({ escrow: net.contracts.escrow, jobId: toJobId(job.id), pollIntervalMs: 200 });
    expect(result.status === "settled" && result.output).to.equal(expected);
    expect(await jobEvents(net, "SlotClaimed", job.id)).to.have.length(0);
    const [settled] = await jobEvents(net, "JobSettled", job.id);
    const tx = await net.provider.getTransaction(settled!.transactionHash);
    expect(tx?.from).to.equal(chosen.address);
    expect(await net.contracts.escrow.lockedStake(chosen.address)).to.equal(0n);
    await daemons[1]!.waitForLog(new RegExp(`"jobId":"${job.id}".*assigned to node ${chosen.address}`));

    // The CLI: vin request --node, waiting for the verified result.
    const client = await createClient(net, "assigning-dapp");
    const requested = await vin([
      "--config",
      client.config,
      "--json",
      "request",
      "--model",
      `${net.modelId}@1`,
      "--input",
      JSON.stringify(net.model.example),
      "--node",
      chosen.address,
      "--wait",
    ]);
    expect(requested.code, requested.stderr).to.equal(0);
    const answer = JSON.parse(requested.stdout) as { jobId: string; output: string; verified: { ok: boolean } };
    expect(answer.output).to.equal(expected);
    expect(answer.verified.ok).to.equal(true);
    expect(await jobEvents(net, "SlotClaimed", BigInt(answer.jobId))).to.have.length(0);

    // A node that does not serve the mode is refused before anything is sent: the job would only wait.
    const before = await net.contracts.escrow.jobCount();
    const refused = await vin([
      "--config",
      client.config,
      "request",
      "--model",
      `${net.modelId}@1`,
      "--mode",
      "tee",
      "--input",
      JSON.stringify(net.model.example),
      "--node",
      chosen.address,
    ]);
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.match(
      new RegExp(`node ${chosen.address} cannot serve tee jobs: it is not a staked operator registered for that mode`),
    );
    expect(await net.contracts.escrow.jobCount()).to.equal(before);
  });
});

import { expect } from "chai";
import path from "node:path";
import { ZeroAddress, getBytes, hexlify, keccak256, toUtf8Bytes } from "ethers";
import { OnnxModel, encodeClassification } from "../../src/inference/onnx";
import { Mode } from "../../src/core/modes";
import { encodeInput } from "../../src/core/job";
import { toJobId } from "../../src/core/ids";
import { waitForResult } from "../../src/sdk/waitForResult";
import { EmbeddedContentStore, computeCid } from "../../src/storage";
import {
  createOperator,
  DaemonProcess,
  eventually,
  readDatabase,
  startDevnet,
  TOKEN,
  type Devnet,
  type Operator,
} from "./harness";

const OTHER_INPUT = [46.5, 13.5, 210, 4550];

describe("operator node: inputs given only by URI (against a real hardhat node)", () => {
  let net: Devnet;
  let ipfsDir: string;
  let operator: Operator;
  let daemon: DaemonProcess;

  /** Adds `bytes` to the embedded IPFS store the node reads (as a requester publishing its input would). */
  const publish = async (bytes: Uint8Array): Promise<string> => {
    const store = await EmbeddedContentStore.open(ipfsDir);
    try {
      return await store.add(bytes);
    } finally {
      await store.close();
    }
  };
  /** Requests a vanilla job whose input is only `uri`, committed to by `inputHash`. */
  const requestByUri = async (uri: string, inputHash: string): Promise<bigint> => {
    const escrow = net.contracts.escrow.connect(net.requester);
    const latest = await net.provider.getBlock("latest");
    const tx = await escrow.request({
      modelId: net.modelId,
      version: 1,
      mode: Mode.Vanilla,
      redundancy: 1,
      deadline: BigInt(latest!.timestamp + 3_600),
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      maxTotal: 100n * TOKEN,
      callback: ZeroAddress,
      callbackGasLimit: 0,
      inputCommitment: inputHash,
      input: "0x",
      inputUri: uri,
    });
    const receipt = await tx.wait();
    return escrow.interface.parseLog(receipt!.logs.find((l) => l.address === receipt!.to)!)!.args.jobId as bigint;
  };
  const jobRow = (jobId: bigint) =>
    readDatabase(
      operator,
      (db) =>
        db.prepare("SELECT state, input, reason FROM jobs WHERE job_id = ?").get(jobId.toString()) as
          { state: string; input: string; reason: string | null } | undefined,
    );
  /** The job's row once the node has decided about it (anything but `seen`). */
  const decided = (jobId: bigint) =>
    eventually(
      `a decision on job ${jobId}`,
      async () => {
        const row = jobRow(jobId);
        return row !== undefined && row.state !== "seen" ? row : undefined;
      },
      daemon,
    );

  before(async () => {
    net = await startDevnet();
    ipfsDir = path.join(net.workDir, "ipfs");
    await (
      await net.contracts.token.connect(net.requester).approve(await net.contracts.escrow.getAddress(), 1_000n * TOKEN)
    ).wait();
    operator = await createOperator(net, "uri", { modes: "vanilla", patch: { ipfsDir, confirmations: 0 } });
    daemon = new DaemonProcess(operator);
    await daemon.waitForLog(/operator node started/);
  });

  after(async () => {
    await daemon?.stop();
    await net?.chain.stop();
  });

  it("fetches an ipfs:// input once it is published, checks it against the input hash, and settles the job", async () => {
    const bytes = getBytes(encodeInput(OTHER_INPUT));
    // The requester commits to the input and names its CID before publishing it.
    const cid = await computeCid(bytes);
    const jobId = await requestByUri(`ipfs://${cid}`, keccak256(bytes));
    // The node keeps the job and tries again later (it would be slashed if it claimed a job it cannot compute).
    const waiting = new RegExp(`"jobId":"${jobId}".*"msg":"input not available yet; will retry"`);
    const first = await eventually(
      "the node's first look at the job",
      async () => {
        const row = jobRow(jobId);
        return row !== undefined && (row.state !== "seen" || waiting.test(daemon.output)) ? row : undefined;
      },
      daemon,
    );
    expect(first.state, first.reason ?? "").to.equal("seen");
    expect(await publish(bytes)).to.equal(cid);

    const row = await decided(jobId);
    expect(["claimed", "computed", "submitted", "settled"], row.reason ?? "").to.include(row.state);
    const result = await waitForResult({ escrow: net.contracts.escrow, jobId: toJobId(jobId), pollIntervalMs: 200 });
    const expected = hexlify(encodeClassification(await (await OnnxModel.load(net.model.onnx)).run(OTHER_INPUT)));
    expect(result.status === "settled" && result.output).to.equal(expected);
    await daemon.waitForLog(new RegExp(`"jobId":"${jobId}".*"msg":"job settled"`));
    expect(jobRow(jobId)).to.deep.include({ state: "settled", input: hexlify(bytes) });
  });

  it("refuses a job whose content at its URI does not hash to its input hash: no claim, no submission", async () => {
    const cid = await publish(getBytes(encodeInput(OTHER_INPUT)));
    const committed = keccak256(toUtf8Bytes(JSON.stringify(net.model.example)));
    const jobId = await requestByUri(`ipfs://${cid}`, committed);
    const row = await decided(jobId);
    expect(row.state).to.equal("skipped");
    expect(row.reason).to.match(
      new RegExp(
        `the input at ipfs://${cid}: it hashes to 0x[0-9a-f]{64}, but the job commits to ${committed}; refusing to compute on it`,
      ),
    );
    expect(row.input).to.equal("0x");
    const txs = readDatabase(
      operator,
      (db) => db.prepare("SELECT key FROM txs WHERE job_id = ?").all(jobId.toString()) as { key: string }[],
    );
    expect(txs).to.deep.equal([]);
    const claims = await net.contracts.escrow.queryFilter(
      net.contracts.escrow.filters.SlotClaimed(jobId),
      net.system.record.startBlock,
    );
    expect(claims).to.deep.equal([]);
  });

  it("refuses an input URI it cannot fetch from (not ipfs://)", async () => {
    const jobId = await requestByUri("https://example.com/input.json", keccak256(getBytes(encodeInput(OTHER_INPUT))));
    const row = await decided(jobId);
    expect(row.state).to.equal("skipped");
    expect(row.reason).to.match(
      /input URI "https:\/\/example\.com\/input\.json" is not supported: this node fetches ipfs:\/\/<cid> only/,
    );
  });
});

import { expect } from "chai";
import path from "node:path";
import { getBytes, hexlify, keccak256, toBeHex, toUtf8Bytes, ZeroAddress } from "ethers";
import { addressesFromRecord, connectContracts, type Contracts } from "../../src/core/contracts";
import { toJobId, toModelId } from "../../src/core/ids";
import { encodeInput } from "../../src/core/job";
import { Mode } from "../../src/core/modes";
import { isSealed, parseSealedInput, sealInput } from "../../src/core/sealed";
import { clampToRange } from "../../src/models";
import { FsContentStore } from "../../src/node/content-store";
import { requestInference, type RequestInferenceReturnType } from "../../src/sdk/requestInference";
import { sealingNodes } from "../../src/sdk/sealed-inputs";
import { verifyResult } from "../../src/sdk/verifyResult";
import { waitForResult } from "../../src/sdk/waitForResult";
import { EmbeddedContentStore } from "../../src/storage";
import { encodeZkJobInput } from "../../src/zkml/job";
import { releaseSnarkjs } from "../../src/zkml/prover";
import type { ZkDeployment } from "../../src/zkml/deploy";
import { ZK_POWER } from "../zkml/fixtures";
import {
  createOperator,
  DaemonProcess,
  eventually,
  jobEvents,
  publishZkModel,
  readDatabase,
  startDevnet,
  TOKEN,
  type Devnet,
  type Operator,
} from "./harness";

/**
 * Sealed inputs end to end on a real hardhat node: a requester seals a job's input to nodes' keys published in
 * PrivacyRegistry; `JobRequested` (and the request's calldata) carry the envelope and the commitment, never the
 * plaintext; vanilla, TEE and ZK jobs settle and re-verify; a node that is not a recipient skips the job; a tampered
 * envelope is refused by every node before it claims.
 */
describe("operator node: sealed inputs (against a real hardhat node)", () => {
  let net: Devnet;
  let contracts: Contracts;
  let zkModelId: bigint;
  let deployment: ZkDeployment;
  /** Serves vanilla, TEE and ZK: its key is its enclave's HPKE key. */
  let enclaveNode: Operator;
  /** Serves vanilla only: its key is a file in its data directory. */
  let plainNode: Operator;
  let daemons: DaemonProcess[];
  /** The plain node's embedded IPFS store, where a requester publishes an input given by URI. */
  let ipfsDir: string;

  const jobRow = (operator: Operator, jobId: bigint) =>
    readDatabase(
      operator,
      (db) =>
        db.prepare("SELECT state, reason, input FROM jobs WHERE job_id = ?").get(jobId.toString()) as
          { state: string; reason: string | null; input: string } | undefined,
    );

  /** The raw `JobRequested` log data and the request's calldata of a job: everything the chain holds of its input. */
  const onChain = async (requested: RequestInferenceReturnType): Promise<string> => {
    const receipt = await net.provider.getTransactionReceipt(requested.transactionHash);
    const tx = await net.provider.getTransaction(requested.transactionHash);
    const topic = net.contracts.escrow.interface.getEvent("JobRequested").topicHash;
    const log = receipt!.logs.find((l) => l.topics[0] === topic)!;
    return `${log.data}${tx!.data.slice(2)}`.toLowerCase();
  };

  const settle = async (requested: RequestInferenceReturnType) => {
    const result = await waitForResult({
      escrow: net.contracts.escrow,
      jobId: toJobId(requested.job.id),
      pollIntervalMs: 200,
      timeoutMs: 300_000,
    });
    expect(result.status, daemons.map((d) => d.output.slice(-1_500)).join("\n")).to.equal("settled");
    const report = await verifyResult({
      contracts: net.contracts,
      provider: net.provider,
      jobId: toJobId(requested.job.id),
      fromBlock: requested.blockNumber,
      content: new FsContentStore(net.contentDir),
    });
    expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
    return report;
  };

  const request = (mode: Mode, input: number[], extra: Partial<Parameters<typeof requestInference>[0]> = {}) =>
    requestInference({
      contracts,
      signer: net.requester,
      modelId: toModelId(net.modelId),
      mode,
      input,
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      keysFromBlock: net.system.record.startBlock,
      ...extra,
    });

  before(async () => {
    net = await startDevnet();
    contracts = connectContracts(addressesFromRecord(net.system.record), net.requester);
    ({ modelId: zkModelId, deployment } = await publishZkModel(net, ZK_POWER));
    await (await contracts.token.approve(await contracts.escrow.getAddress(), 10_000n * TOKEN)).wait();
    enclaveNode = await createOperator(net, "sealed-enclave", {
      modes: "vanilla,tee,zk",
      patch: { confirmations: 0, zkBatchMax: 1 },
    });
    ipfsDir = path.join(net.workDir, "ipfs");
    plainNode = await createOperator(net, "sealed-plain", { modes: "vanilla", patch: { ipfsDir, confirmations: 0 } });
    daemons = [new DaemonProcess(enclaveNode), new DaemonProcess(plainNode)];
    for (const daemon of daemons) await daemon.waitForLog(/operator node started/);
  });

  after(async () => {
    await Promise.all((daemons ?? []).map((d) => d.stop()));
    await net?.chain.stop();
    await releaseSnarkjs();
  });

  it("publishes each node's key at start: the enclave's HPKE key for the TEE node, a file key for the other", async () => {
    const registry = contracts.privacyRegistry!;
    const enclave = await net.contracts.teeVerifier.enclaveOf(enclaveNode.enclave!);
    expect(await registry.nodeKey(enclaveNode.address)).to.equal(enclave.hpkePublicKey);
    const plainKey = await registry.nodeKey(plainNode.address);
    expect(plainKey).to.match(/^0x[0-9a-f]{64}$/);
    expect(plainKey).to.not.equal(enclave.hpkePublicKey);
    for (const daemon of daemons) await daemon.waitForLog(/"msg":"node key published for sealed inputs"/);
  });

  it("settles a vanilla job sealed to one node; the other node skips it at info, as sealed to another, also when it sees the request and the settlement together; nothing on-chain holds the input", async () => {
    const features = net.model.test.x[0]!;
    // The enclave node is stopped while the job is requested and settled, and restarted after: it reads the request
    // and the settlement in one pass (as a node that lags does) and must still name the sealing as the reason.
    await daemons[0]!.stop();
    const plaintext = hexlify(encodeInput(features));
    const requested = await request(Mode.Vanilla, features, { encryptTo: [plainNode.address] });
    expect(requested.sealedTo).to.deep.equal([plainNode.address]);
    expect(isSealed(requested.input)).to.equal(true);
    // The sealed plaintext is salted: the public commitment does not confirm a guess of the features.
    expect(requested.job.inputHash).to.not.equal(keccak256(plaintext));
    const chain = await onChain(requested);
    expect(chain).to.not.include(plaintext.slice(2));
    expect(chain).to.not.include(hexlify(toUtf8Bytes(String(features[0]))).slice(2));
    await settle(requested);
    const id = requested.job.id.toString();
    daemons[0] = new DaemonProcess(enclaveNode);
    const skipped = await eventually(
      "the restarted enclave node records the job",
      async () => {
        const row = jobRow(enclaveNode, requested.job.id);
        return row !== undefined && row.state !== "seen" ? row : undefined;
      },
      daemons[0],
    );
    expect(skipped.state).to.equal("skipped");
    expect(skipped.reason).to.match(/sealed to 1 other node/);
    await daemons[0].waitForLog(
      new RegExp(`"level":30[^\\n]*"jobId":"${id}"[^\\n]*sealed to 1 other node[^\\n]*"job skipped"`),
    );
    const served = jobRow(plainNode, requested.job.id)!;
    expect(served.state).to.equal("settled");
    // The node stores what the event carried (the envelope), and never logs the plaintext.
    expect(served.input).to.equal(hexlify(requested.input));
    for (const daemon of daemons) {
      expect(daemon.output).to.not.include(plaintext.slice(2));
      expect(daemon.output).to.not.include(JSON.stringify(features));
    }
    const claimed = await jobEvents(net, "SlotClaimed", requested.job.id);
    expect(claimed.map((l) => net.contracts.escrow.interface.parseLog(l)!.args.node)).to.deep.equal([
      plainNode.address,
    ]);
  });

  it("settles a TEE job sealed with encryptTo 'auto': only the enclave node's key qualifies", async () => {
    const features = net.model.test.x[1]!;
    const plaintext = hexlify(encodeInput(features));
    const requested = await request(Mode.Tee, features, { encryptTo: "auto" });
    expect(requested.sealedTo).to.deep.equal([enclaveNode.address]);
    expect(await onChain(requested)).to.not.include(plaintext.slice(2));
    const report = await settle(requested);
    expect(report.enclave?.signer).to.equal(enclaveNode.enclave);
  });

  it("settles a ZK job sealed to the enclave node: neither its input nor its salt appears on-chain", async () => {
    const x = clampToRange(net.model.test.x[3]!, net.model.inputRange);
    const salt = 0x1234567890abcdef1234567890abcdefn;
    const requested = await request(Mode.Zk, x, {
      modelId: toModelId(zkModelId),
      encryptTo: "auto",
      zk: { model: deployment.zk.model, salt },
    });
    expect(requested.sealedTo).to.deep.equal([enclaveNode.address]);
    expect(requested.zkSalt).to.equal(salt);
    const chain = await onChain(requested);
    expect(chain).to.not.include(encodeZkJobInput({ x, salt }).slice(2));
    expect(chain).to.not.include(toBeHex(salt, 32).slice(2));
    expect(chain).to.not.include(salt.toString(16));
    expect(chain).to.not.include(hexlify(toUtf8Bytes(salt.toString())).slice(2));
    await settle(requested);
  });

  /** `plaintext` sealed to `nodes` for a vanilla job of the penguin model requested by the requester. */
  const sealVanilla = async (plaintext: Uint8Array, nodes: string[]): Promise<Uint8Array> =>
    sealInput({
      plaintext,
      recipients: await sealingNodes({ contracts, mode: Mode.Vanilla, modelId: net.modelId, version: 1n, to: nodes }),
      context: {
        chainId: (await net.provider.getNetwork()).chainId,
        escrow: await contracts.escrow.getAddress(),
        requester: await net.requester.getAddress(),
        modelId: net.modelId,
        version: 1n,
        mode: Mode.Vanilla,
        commitment: keccak256(plaintext),
      },
    });

  /** A vanilla job requested directly from the escrow, its input inline or at `inputUri`. */
  const requestVanilla = async (commitment: string, input: Uint8Array | string, inputUri = ""): Promise<bigint> => {
    const latest = await net.provider.getBlock("latest");
    const receipt = await (
      await contracts.escrow.request({
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
        inputCommitment: commitment,
        input,
        inputUri,
      })
    ).wait();
    return contracts.escrow.interface.parseLog(receipt!.logs.find((l) => l.address === receipt!.to)!)!.args
      .jobId as bigint;
  };

  it("fetches a sealed input given by URI, opens it and settles; the node stores the envelope it fetched", async () => {
    const plaintext = encodeInput(net.model.test.x[5]!);
    const envelope = await sealVanilla(plaintext, [plainNode.address]);
    const store = await EmbeddedContentStore.open(ipfsDir);
    let cid: string;
    try {
      cid = await store.add(envelope);
    } finally {
      await store.close();
    }
    const jobId = await requestVanilla(keccak256(plaintext), "0x", `ipfs://${cid}`);
    const result = await waitForResult({
      escrow: net.contracts.escrow,
      jobId: toJobId(jobId),
      pollIntervalMs: 200,
      timeoutMs: 120_000,
    });
    expect(result.status, daemons[1]!.output.slice(-2_000)).to.equal("settled");
    expect(jobRow(plainNode, jobId)?.input).to.equal(hexlify(envelope));
    expect(daemons[1]!.output).to.not.include(hexlify(plaintext).slice(2));
  });

  it("refuses, before claiming, a sealed input modified after sealing: every recipient skips it", async () => {
    const plaintext = encodeInput(net.model.test.x[2]!);
    const envelope = await sealVanilla(plaintext, [enclaveNode.address, plainNode.address]);
    const tampered = envelope.slice();
    tampered[tampered.length - 20] ^= 0x01; // in the ciphertext
    expect(parseSealedInput(tampered).recipients).to.have.length(2);
    const jobId = await requestVanilla(keccak256(plaintext), tampered);
    for (const [i, operator] of [enclaveNode, plainNode].entries()) {
      await daemons[i]!.waitForLog(new RegExp(`"jobId":"${jobId}"[^\\n]*does not authenticate[^\\n]*"job skipped"`));
      expect(jobRow(operator, jobId)?.state).to.equal("skipped");
    }
    expect(await jobEvents(net, "SlotClaimed", jobId)).to.have.length(0);
  });

  it("costs more gas sealed than clear, by the envelope's bytes (reported)", async () => {
    const features = net.model.test.x[4]!;
    const gas = async (extra: Partial<Parameters<typeof requestInference>[0]>) => {
      const requested = await request(Mode.Vanilla, features, extra);
      const receipt = await net.provider.getTransactionReceipt(requested.transactionHash);
      return { gas: receipt!.gasUsed, bytes: getBytes(requested.input).length, requested };
    };
    const clear = await gas({});
    const one = await gas({ encryptTo: [plainNode.address] });
    const two = await gas({ encryptTo: [plainNode.address, enclaveNode.address] });
    // The salted plaintext adds {"x": ... ,"salt":"0x<64 hex>"} (82 bytes) to the JSON features.
    expect(one.bytes).to.equal(clear.bytes + 82 + 8 + 6 + 1 + 100 + 12 + 16);
    expect(two.bytes).to.equal(one.bytes + 100);
    expect(one.gas > clear.gas && two.gas > one.gas).to.equal(true);
    console.log(
      `      request gas: clear ${clear.gas} (${clear.bytes} B input), sealed to 1 node ${one.gas} (${one.bytes} B), to 2 nodes ${two.gas} (${two.bytes} B)`,
    );
    for (const r of [clear, one, two]) await settle(r.requested);
  });
});

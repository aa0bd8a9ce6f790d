/**
 * The protocol end to end with no daemon: one operator driven by hand (stake, capabilities, a development enclave),
 * one job per mode requested, claimed, computed with onnxruntime, submitted, settled and paid. For
 * end-to-end.test.ts; the local network with real daemons is src/devnet.
 */
import { hexlify, keccak256, toUtf8Bytes, type Signer } from "ethers";
import type { System } from "../../deploy/system";
import { requestedJobs, type Job } from "../../src/core/job";
import { Mode, MODE_NAMES, modeMask } from "../../src/core/modes";
import { rawFileRef, versionInput } from "../../src/core/registry";
import { teeDomain } from "../../src/core/tee";
import { OnnxModel, decodeClassification, encodeClassification } from "../../src/inference/onnx";
import { modeModule } from "../../src/modes";
import { DevEnclave } from "../../src/tee/dev-enclave";
import { withoutPckChain } from "../../src/tee/quote";
import type { BundledModel } from "../../src/models/penguins";

const TOKEN = 10n ** 18n;

export interface Actors {
  operator: Signer;
  requester: Signer;
  modelOwner: Signer;
}

export interface JobReport {
  mode: string;
  jobId: bigint;
  input: number[];
  label: string;
  logits: number[];
  outputHash: string;
  txs: { request: string; claimSlot: string; submit: string; claimReward: string };
}

/**
 * Sets up one operator (stake, capabilities, a development enclave) and runs one job per mode (vanilla, TEE) end to
 * end: request, claim a slot, compute with onnxruntime, submit, settle, claim the reward. Every result is read back
 * from the chain and checked against the local computation. `model` is published first unless `modelId` names its
 * published version 1 (bound to the development TD's measurement for TEE).
 */
export async function runEndToEnd(
  system: System,
  actors: Actors,
  model: BundledModel,
  log: (m: string) => void = () => undefined,
  published?: { modelId: bigint },
): Promise<JobReport[]> {
  const { escrow, staking, token, teeVerifier, dcapVerifier } = system;
  const enclave = new DevEnclave();
  const operator = await actors.operator.getAddress();
  const onnx = await OnnxModel.load(model.onnx, model.name);

  const modelId = published?.modelId ?? (await publishWithRawCids(system, actors.modelOwner, model));
  log(`model ${modelId} version 1 is ${model.name} (held-out accuracy ${(model.accuracy * 100).toFixed(1)}%)`);

  for (const signer of [actors.operator, actors.requester]) {
    await (await token.mint(await signer.getAddress(), 10_000n * TOKEN)).wait();
  }
  await (await token.connect(actors.operator).approve(await staking.getAddress(), 1_000n * TOKEN)).wait();
  await (await staking.connect(actors.operator).stake(1_000n * TOKEN)).wait();
  await (await staking.connect(actors.operator).register(modeMask([Mode.Vanilla, Mode.Tee]))).wait();
  // The operator registers its enclave itself with a development quote, its platform's certificates cached first.
  const provider = actors.operator.provider!;
  const anchor = (await provider.getBlock((await provider.getBlockNumber()) - 1))!;
  const attestation = enclave.attest({
    operator,
    chainId: (await provider.getNetwork()).chainId,
    verifier: await teeVerifier.getAddress(),
    anchorBlock: BigInt(anchor.number),
    anchorBlockHash: anchor.hash!,
  });
  if ((await dcapVerifier.certificateOf(attestation.pckCertificate)).notAfter === 0n) {
    await (
      await dcapVerifier
        .connect(actors.operator)
        .verifyCertificate(attestation.ca, await dcapVerifier.rootCertificate())
    ).wait();
    await (
      await dcapVerifier.connect(actors.operator).verifyCertificate(attestation.pck, keccak256(attestation.ca))
    ).wait();
  }
  await (
    await teeVerifier
      .connect(actors.operator)
      .registerEnclaveWithQuote(
        withoutPckChain(attestation.quote),
        attestation.pckCertificate,
        enclave.address,
        enclave.hpkePublicKey,
        BigInt(anchor.number),
      )
  ).wait();
  await (await token.connect(actors.requester).approve(await escrow.getAddress(), 10_000n * TOKEN)).wait();
  log(
    `operator ${operator} staked 1000 tokens, serves vanilla and tee; development enclave ${enclave.address} registered`,
  );

  const { chainId } = await escrow.runner!.provider!.getNetwork();
  const reports: JobReport[] = [];
  for (const mode of [Mode.Vanilla, Mode.Tee]) {
    const input = model.example;
    const block = await actors.requester.provider!.getBlock("latest");
    const requestTx = await escrow.connect(actors.requester).request({
      modelId,
      version: 1,
      mode,
      redundancy: 1,
      deadline: BigInt(block!.timestamp) + 600n,
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      maxTotal: 10n * TOKEN,
      callback: "0x0000000000000000000000000000000000000000",
      callbackGasLimit: 0,
      inputCommitment: "0x0000000000000000000000000000000000000000000000000000000000000000",
      input: toUtf8Bytes(JSON.stringify(input)),
      inputUri: "",
    });
    const [requested] = requestedJobs(escrow, await requestTx.wait());
    if (requested === undefined) throw new Error("the request emitted no JobRequested event");
    const job: Job = requested.job;
    const claimTx = await escrow.connect(actors.operator).claimSlot(job);
    await claimTx.wait();

    const features = JSON.parse(
      new TextDecoder().decode(Uint8Array.from(Buffer.from(requested.input.slice(2), "hex"))),
    ) as number[];
    const output = encodeClassification(await onnx.run(features));
    const proof =
      mode === Mode.Tee
        ? await enclave.sign(teeDomain(chainId, await teeVerifier.getAddress()), {
            escrow: await escrow.getAddress(),
            jobId: job.id,
            modelId: job.modelId,
            version: job.version,
            inputHash: job.inputHash,
            outputHash: keccak256(output),
            node: operator,
          })
        : "0x";
    const submitTx = await escrow.connect(actors.operator).submit(job, output, proof);
    await submitTx.wait();

    const [outputHash, stored] = await escrow.resultOf(job.id);
    if (stored !== hexlify(output))
      throw new Error(`job ${job.id}: the chain holds ${stored}, the node computed ${hexlify(output)}`);
    const claimRewardTx = await escrow.connect(actors.operator).claim(operator);
    await claimRewardTx.wait();
    const decoded = decodeClassification(Uint8Array.from(Buffer.from(stored.slice(2), "hex")));
    reports.push({
      mode: MODE_NAMES[mode],
      jobId: job.id,
      input,
      label: model.classes[decoded.label] ?? String(decoded.label),
      logits: decoded.logits,
      outputHash,
      txs: { request: requestTx.hash, claimSlot: claimTx.hash, submit: submitTx.hash, claimReward: claimRewardTx.hash },
    });
  }
  return reports;
}

/** Registers version 1 of `model` with raw-block CIDs (no IPFS node needed), serving vanilla and TEE. */
async function publishWithRawCids(system: System, owner: Signer, model: BundledModel): Promise<bigint> {
  const card = toUtf8Bytes(model.card);
  const input = versionInput({
    files: [rawFileRef("model.onnx", model.onnx), rawFileRef("README.md", card)],
    card: "README.md",
    modes: [
      modeModule(Mode.Vanilla).binding({}),
      modeModule(Mode.Tee).binding({ bindings: [DevEnclave.TD_MEASUREMENT] }),
    ],
  });
  await (await system.registry.connect(owner).createModelAndPublish(TOKEN, input)).wait();
  return system.registry.modelCount();
}

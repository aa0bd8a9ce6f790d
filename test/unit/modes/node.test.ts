import { expect } from "chai";
import { hexlify, keccak256, verifyTypedData, Wallet, ZeroAddress } from "ethers";
import { InputError, TransportError } from "../../../src/core/errors";
import { encodeInput, type Job } from "../../../src/core/job";
import { Mode } from "../../../src/core/modes";
import { INFERENCE_RESULT_TYPES, teeDomain } from "../../../src/core/tee";
import { encodeClassification } from "../../../src/inference/onnx";
import { modeModule, type ClaimChecks, type ModelSource, type ZkCircuitSource } from "../../../src/modes";
import { Computer } from "../../../src/node/compute";
import { ModelError } from "../../../src/node/errors";
import { DevEnclave } from "../../../src/tee/dev-enclave";
import { expectRejection } from "../../fixtures/assert";

const CHAIN_ID = 31337n;
const ESCROW = Wallet.createRandom().address;
const NODE = Wallet.createRandom().address;
const INPUT = hexlify(encodeInput([5.1, 3.5, 1.4, 0.2]));
const LOGITS = [0.25, 1.5, -2];

/** A job of `mode` over {@link INPUT}. */
function jobOf(mode: number | bigint, overrides: Partial<Job> = {}): Job {
  return {
    id: 7n, requester: ZeroAddress, modelId: 1n, version: 1n, mode: BigInt(mode), redundancy: 1n, deadline: 0n, revealDeadline: 0n,
    inputHash: keccak256(INPUT), modelOwner: ZeroAddress, verifier: Wallet.createRandom().address, modelFee: 0n, feePerNode: 0n,
    protocolFee: 0n, collateral: 0n, callback: ZeroAddress, callbackGasLimit: 0n, slashBeneficiaryBps: 0n, ...overrides,
  };
}

/** A model loader whose every model answers {@link LOGITS}, recording the features it was given. */
function models(seen: number[][] = []): ModelSource {
  return { load: () => Promise.resolve({ run: (features: number[]) => (seen.push(features), Promise.resolve(LOGITS)) }) };
}

/** Asserts that `promise` rejects with a `type` whose message is `message`. */
async function rejects(promise: Promise<unknown>, type: new (...args: never[]) => Error, message: string): Promise<void> {
  const literal = message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  await expectRejection(promise, type, new RegExp(`^${literal}$`));
}

/** Chain checks that find `registered` the enclaves in it, and no other. */
const checks = (...registered: string[]): ClaimChecks => ({ enclaveRegistered: (enclave) => Promise.resolve(registered.includes(enclave)) });
const refusingChecks: ClaimChecks = { enclaveRegistered: () => Promise.reject(new Error("not asked for this mode")) };

describe("mode modules, as a node runs them (Computer)", () => {
  describe("compute", () => {
    it("vanilla: runs the model on the inline input, no proof", async () => {
      const seen: number[][] = [];
      const result = await new Computer(models(seen), CHAIN_ID, ESCROW, NODE, undefined).compute(jobOf(Mode.Vanilla), INPUT);
      expect(result).to.deep.equal({ output: hexlify(encodeClassification(LOGITS)), proof: "0x", salt: undefined });
      expect(seen).to.deep.equal([[5.1, 3.5, 1.4, 0.2]]);
    });

    it("draws a commit-reveal salt for k > 1", async () => {
      const result = await new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined).compute(jobOf(Mode.Vanilla, { redundancy: 3n }), INPUT);
      expect(result.salt).to.match(/^0x[0-9a-f]{64}$/);
    });

    it("TEE: the enclave signs the result for this escrow, job and node", async () => {
      const enclave = new DevEnclave();
      const job = jobOf(Mode.Tee);
      const result = await new Computer(models(), CHAIN_ID, ESCROW, NODE, enclave).compute(job, INPUT);
      const message = { escrow: ESCROW, jobId: job.id, modelId: job.modelId, version: job.version, inputHash: job.inputHash, outputHash: keccak256(result.output), node: NODE };
      expect(verifyTypedData(teeDomain(CHAIN_ID, job.verifier), INFERENCE_RESULT_TYPES, message, result.proof)).to.equal(enclave.address);
    });

    it("throws InputError when the input does not hash to the job's input hash", async () => {
      const job = jobOf(Mode.Vanilla, { inputHash: keccak256("0x00") });
      await rejects(new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined).compute(job, INPUT), InputError, "job 7: the inline input does not hash to the job's inputHash");
    });

    it("throws ModelError for a mode the node lacks what it needs for, or an unknown mode", async () => {
      const computer = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
      await rejects(computer.compute(jobOf(Mode.Tee), INPUT), ModelError, 'job 7: TEE mode needs the development enclave (serve "tee" in the config)');
      await rejects(computer.compute(jobOf(Mode.Zk), INPUT), ModelError, 'job 7: ZK mode is not served by this node (serve "zk" in the config)');
      await rejects(computer.compute(jobOf(5), INPUT), ModelError, "job 7: mode 5 is not supported by this node");
    });
  });

  describe("before a claim", () => {
    it("refuses a ZK job for more than one node, and nothing else for its terms", () => {
      const computer = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
      expect(computer.claimRefusal(jobOf(Mode.Zk, { redundancy: 3n }))).to.equal("a ZK job takes one node (redundancy 1), not 3: its proof settles the answer by itself");
      expect([Mode.Vanilla, Mode.Tee, Mode.Zk].map((m) => computer.claimRefusal(jobOf(m)))).to.deep.equal([undefined, undefined, undefined]);
      expect(computer.claimRefusal(jobOf(Mode.Tee, { redundancy: 3n }))).to.equal(undefined);
    });

    it("TEE: refuses without an enclave, or with one not registered to the node; asks the chain only in TEE mode", async () => {
      const enclave = new DevEnclave();
      const without = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
      const withEnclave = new Computer(models(), CHAIN_ID, ESCROW, NODE, enclave);
      expect(await without.readiness(jobOf(Mode.Tee), checks(enclave.address))).to.equal("no development enclave");
      expect(await withEnclave.readiness(jobOf(Mode.Tee), checks(NODE))).to.equal(`enclave ${enclave.address} is not registered to this node: ask the attestor to register it`);
      expect(await withEnclave.readiness(jobOf(Mode.Tee), checks(enclave.address))).to.equal(undefined);
      expect(await without.readiness(jobOf(Mode.Vanilla), refusingChecks)).to.equal(undefined);
      expect(await without.readiness(jobOf(Mode.Zk), refusingChecks)).to.equal(undefined);
    });

    it("vanilla and TEE: refuse an input that does not hash to the job's commitment", async () => {
      const computer = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
      for (const mode of [Mode.Vanilla, Mode.Tee]) {
        expect(await computer.refusal(jobOf(mode), INPUT)).to.equal(undefined);
        expect(await computer.refusal(jobOf(mode), "0x00")).to.equal(`it hashes to ${keccak256("0x00")}, but the job commits to ${keccak256(INPUT)}; refusing to compute on it`);
      }
    });

    it("ZK: refuses when the node serves no ZK or cannot serve the version's circuit; other failures are thrown", async () => {
      const refusing = (error: Error): ZkCircuitSource => ({ load: () => Promise.reject(error) });
      const job = jobOf(Mode.Zk);
      expect(await new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined).refusal(job, INPUT)).to.equal('ZK mode is not served by this node (serve "zk" in the config)');
      const missing = new ModelError("model 1@1: zk/zk.json has sha256 0x01, the registry records 0x02; refusing to use it");
      expect(await new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined, refusing(missing)).refusal(job, INPUT)).to.equal(missing.message);
      const outage = new TransportError("registry.filesOf timed out");
      const thrown = await expectRejection(new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined, refusing(outage)).refusal(job, INPUT), TransportError, /timed out/);
      expect(thrown).to.equal(outage);
    });

    it("refuses a job of a mode no module implements", async () => {
      const computer = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
      expect(await computer.refusal(jobOf(3), INPUT)).to.equal("mode 3 is not supported by this node");
      expect(computer.claimRefusal(jobOf(3))).to.equal("mode 3 is not supported by this node");
    });
  });

  it("batches only ZK submissions", () => {
    const computer = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
    expect([Mode.Vanilla, Mode.Tee, Mode.Zk, 9].map((m) => computer.batchable(jobOf(m)))).to.deep.equal([false, false, true, false]);
    expect(modeModule(Mode.Zk).needs).to.deep.equal(["zk"]);
    expect(modeModule(Mode.Tee).needs).to.deep.equal(["enclave"]);
  });
});

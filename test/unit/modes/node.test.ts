import { expect } from "chai";
import { hexlify, keccak256, verifyTypedData, Wallet, ZeroAddress, ZeroHash } from "ethers";
import { InputError, TransportError } from "../../../src/core/errors";
import { encodeInput, type Job } from "../../../src/core/job";
import { Mode } from "../../../src/core/modes";
import { INFERENCE_RESULT_TYPES, teeDomain } from "../../../src/core/tee";
import { encodeClassification } from "../../../src/inference/onnx";
import {
  modeModule,
  type ClaimChecks,
  type EnclaveReading,
  type ModelSource,
  type ZkCircuitSource,
} from "../../../src/modes";
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
    id: 7n,
    requester: ZeroAddress,
    modelId: 1n,
    version: 1n,
    mode: BigInt(mode),
    redundancy: 1n,
    deadline: 0n,
    revealDeadline: 0n,
    inputHash: keccak256(INPUT),
    modelOwner: ZeroAddress,
    verifier: Wallet.createRandom().address,
    modelFee: 0n,
    feePerNode: 0n,
    protocolFee: 0n,
    collateral: 0n,
    callback: ZeroAddress,
    callbackGasLimit: 0n,
    slashBeneficiaryBps: 0n,
    ...overrides,
  };
}

/** A model loader whose every model answers {@link LOGITS}, recording the features it was given. */
function models(seen: number[][] = []): ModelSource {
  return {
    load: () => Promise.resolve({ run: (features: number[]) => (seen.push(features), Promise.resolve(LOGITS)) }),
  };
}

/** Asserts that `promise` rejects with a `type` whose message is `message`. */
async function rejects(
  promise: Promise<unknown>,
  type: new (...args: never[]) => Error,
  message: string,
): Promise<void> {
  const literal = message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  await expectRejection(promise, type, new RegExp(`^${literal}$`));
}

const MEASUREMENT = keccak256("0x01");
const NOW = 1_000_000n;

/**
 * Chain checks for `job` in which `enclave` reads as `reading` says (default: registered to {@link NODE} until a day
 * from {@link NOW}, unrevoked, with {@link MEASUREMENT}) and the job's version binds `bound` for TEE; every
 * `isBound` question is recorded in `asked`.
 */
function checksFor(
  job: Job,
  enclave: string,
  reading: Partial<EnclaveReading> = {},
  bound: string[] = [MEASUREMENT],
  asked: string[] = [],
): ClaimChecks {
  const record: EnclaveReading = {
    operator: NODE,
    expiresAt: NOW + 86_400n,
    revoked: false,
    measurement: MEASUREMENT,
    measurementRevokedAt: 0n,
    now: NOW,
    ...reading,
  };
  return {
    job,
    enclave: (signer) =>
      Promise.resolve(
        signer === enclave ? record : { ...record, operator: ZeroAddress, expiresAt: 0n, measurement: ZeroHash },
      ),
    isBound: (modelId, version, mode, binding) => {
      asked.push(`${modelId}@${version}:${mode}:${binding}`);
      return Promise.resolve(
        modelId === job.modelId && version === job.version && mode === Mode.Tee && bound.includes(binding),
      );
    },
  };
}

/** Checks that fail the test if a mode asks the chain anything. */
const refusingChecks = (job: Job): ClaimChecks => ({
  job,
  enclave: () => Promise.reject(new Error("not asked for this mode")),
  isBound: () => Promise.reject(new Error("not asked for this mode")),
});

describe("mode modules, as a node runs them (Computer)", () => {
  describe("compute", () => {
    it("vanilla: runs the model on the inline input, no proof", async () => {
      const seen: number[][] = [];
      const result = await new Computer(models(seen), CHAIN_ID, ESCROW, NODE, undefined).compute(
        jobOf(Mode.Vanilla),
        INPUT,
      );
      expect(result).to.deep.equal({ output: hexlify(encodeClassification(LOGITS)), proof: "0x", salt: undefined });
      expect(seen).to.deep.equal([[5.1, 3.5, 1.4, 0.2]]);
    });

    it("draws a commit-reveal salt for k > 1", async () => {
      const result = await new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined).compute(
        jobOf(Mode.Vanilla, { redundancy: 3n }),
        INPUT,
      );
      expect(result.salt).to.match(/^0x[0-9a-f]{64}$/);
    });

    it("TEE: the enclave signs the result for this escrow, job and node", async () => {
      const enclave = new DevEnclave();
      const job = jobOf(Mode.Tee);
      const result = await new Computer(models(), CHAIN_ID, ESCROW, NODE, enclave).compute(job, INPUT);
      const message = {
        escrow: ESCROW,
        jobId: job.id,
        modelId: job.modelId,
        version: job.version,
        inputHash: job.inputHash,
        outputHash: keccak256(result.output),
        node: NODE,
      };
      expect(
        verifyTypedData(teeDomain(CHAIN_ID, job.verifier), INFERENCE_RESULT_TYPES, message, result.proof),
      ).to.equal(enclave.address);
    });

    it("throws InputError when the input does not hash to the job's input hash", async () => {
      const job = jobOf(Mode.Vanilla, { inputHash: keccak256("0x00") });
      await rejects(
        new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined).compute(job, INPUT),
        InputError,
        "job 7: the inline input does not hash to the job's inputHash",
      );
    });

    it("throws ModelError for a mode the node lacks what it needs for, or an unknown mode", async () => {
      const computer = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
      await rejects(
        computer.compute(jobOf(Mode.Tee), INPUT),
        ModelError,
        'job 7: TEE mode needs the development enclave (serve "tee" in the config)',
      );
      await rejects(
        computer.compute(jobOf(Mode.Zk), INPUT),
        ModelError,
        'job 7: ZK mode is not served by this node (serve "zk" in the config)',
      );
      await rejects(computer.compute(jobOf(5), INPUT), ModelError, "job 7: mode 5 is not supported by this node");
    });
  });

  describe("before a claim", () => {
    it("refuses a ZK job for more than one node, and nothing else for its terms", () => {
      const computer = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
      expect(computer.claimRefusal(jobOf(Mode.Zk, { redundancy: 3n }))).to.equal(
        "a ZK job takes one node (redundancy 1), not 3: its proof settles the answer by itself",
      );
      expect([Mode.Vanilla, Mode.Tee, Mode.Zk].map((m) => computer.claimRefusal(jobOf(m)))).to.deep.equal([
        undefined,
        undefined,
        undefined,
      ]);
      expect(computer.claimRefusal(jobOf(Mode.Tee, { redundancy: 3n }))).to.equal(undefined);
    });

    describe("TEE readiness: the node claims only a job its enclave can settle", () => {
      const enclave = new DevEnclave();
      const computer = new Computer(models(), CHAIN_ID, ESCROW, NODE, enclave);
      const job = jobOf(Mode.Tee, { modelId: 3n, version: 2n, deadline: NOW + 3_600n, revealDeadline: NOW + 3_600n });
      const ready = (reading: Partial<EnclaveReading> = {}, bound?: string[], j: Job = job) =>
        computer.readiness(j, checksFor(j, enclave.address, reading, bound));

      it("is ready with an enclave registered to the node, live past the deadline, its measurement unrevoked and bound by the job's version", async () => {
        const asked: string[] = [];
        expect(await computer.readiness(job, checksFor(job, enclave.address, {}, [MEASUREMENT], asked))).to.equal(
          undefined,
        );
        expect(asked).to.deep.equal([`3@2:${Mode.Tee}:${MEASUREMENT}`]);
        // Live exactly until the deadline: the last second a submission can land is before both.
        expect(await ready({ expiresAt: job.deadline })).to.equal(undefined);
      });

      it("refuses without an enclave", async () => {
        const without = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
        expect(await without.readiness(job, checksFor(job, enclave.address))).to.equal("no development enclave");
      });

      it("refuses an enclave not registered, or registered to another operator, and says how to register it", async () => {
        expect(await computer.readiness(job, checksFor(job, NODE))).to.equal(
          `enclave ${enclave.address} is not registered: run \`vin enclave register\``,
        );
        const other = Wallet.createRandom().address;
        expect(await ready({ operator: other })).to.equal(
          `enclave ${enclave.address} is registered to ${other}, not to this node`,
        );
      });

      it("refuses a revoked enclave, or one whose measurement is revoked", async () => {
        expect(await ready({ revoked: true })).to.equal(
          `enclave ${enclave.address} was revoked: it never serves again`,
        );
        expect(await ready({ measurementRevokedAt: NOW - 5n })).to.equal(
          `the measurement ${MEASUREMENT} of enclave ${enclave.address} was revoked at ${NOW - 5n}`,
        );
      });

      it("refuses an expired registration", async () => {
        expect(await ready({ expiresAt: NOW })).to.equal(
          `the registration of enclave ${enclave.address} expired at ${NOW} (chain time ${NOW}): run \`vin enclave register\``,
        );
      });

      it("refuses a job whose deadline is past the enclave's expiry: an expiry excuses nothing", async () => {
        expect(await ready({ expiresAt: job.deadline - 1n })).to.equal(
          `the registration of enclave ${enclave.address} expires at ${job.deadline - 1n}, before the job's deadline ${job.deadline}: run \`vin enclave register\` to renew it`,
        );
      });

      it("for k > 1, needs the enclave until the reveal deadline (the result is verified at the reveal)", async () => {
        const k3 = jobOf(Mode.Tee, {
          modelId: 3n,
          version: 2n,
          redundancy: 3n,
          deadline: NOW + 3_600n,
          revealDeadline: NOW + 4_200n,
        });
        expect(await ready({ expiresAt: NOW + 4_000n }, undefined, k3)).to.equal(
          `the registration of enclave ${enclave.address} expires at ${NOW + 4_000n}, before the job's reveal deadline ${NOW + 4_200n}: run \`vin enclave register\` to renew it`,
        );
        expect(await ready({ expiresAt: NOW + 4_200n }, undefined, k3)).to.equal(undefined);
      });

      it("refuses a job whose version does not bind the enclave's measurement", async () => {
        expect(await ready({}, [keccak256("0x02")])).to.equal(
          `model 3@2 does not bind the measurement ${MEASUREMENT} of enclave ${enclave.address} for TEE mode`,
        );
      });
    });

    it("vanilla and ZK: ask the chain nothing before a claim", async () => {
      const without = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
      for (const mode of [Mode.Vanilla, Mode.Zk])
        expect(await without.readiness(jobOf(mode), refusingChecks(jobOf(mode)))).to.equal(undefined);
    });

    it("vanilla and TEE: refuse an input that does not hash to the job's commitment", async () => {
      const computer = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
      for (const mode of [Mode.Vanilla, Mode.Tee]) {
        expect(await computer.refusal(jobOf(mode), INPUT)).to.equal(undefined);
        expect(await computer.refusal(jobOf(mode), "0x00")).to.equal(
          `it hashes to ${keccak256("0x00")}, but the job commits to ${keccak256(INPUT)}; refusing to compute on it`,
        );
      }
    });

    it("ZK: refuses when the node serves no ZK or cannot serve the version's circuit; other failures are thrown", async () => {
      const refusing = (error: Error): ZkCircuitSource => ({ load: () => Promise.reject(error) });
      const job = jobOf(Mode.Zk);
      expect(await new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined).refusal(job, INPUT)).to.equal(
        'ZK mode is not served by this node (serve "zk" in the config)',
      );
      const missing = new ModelError(
        "model 1@1: zk/zk.json has sha256 0x01, the registry records 0x02; refusing to use it",
      );
      expect(
        await new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined, refusing(missing)).refusal(job, INPUT),
      ).to.equal(missing.message);
      const outage = new TransportError("registry.filesOf timed out");
      const thrown = await expectRejection(
        new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined, refusing(outage)).refusal(job, INPUT),
        TransportError,
        /timed out/,
      );
      expect(thrown).to.equal(outage);
    });

    it("refuses a job of a mode no module implements", async () => {
      const computer = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
      expect(await computer.refusal(jobOf(4), INPUT)).to.equal("mode 4 is not supported by this node");
      expect(computer.claimRefusal(jobOf(4))).to.equal("mode 4 is not supported by this node");
    });
  });

  it("batches only ZK submissions", () => {
    const computer = new Computer(models(), CHAIN_ID, ESCROW, NODE, undefined);
    expect([Mode.Vanilla, Mode.Tee, Mode.Zk, 9].map((m) => computer.batchable(jobOf(m)))).to.deep.equal([
      false,
      false,
      true,
      false,
    ]);
    expect(modeModule(Mode.Zk).needs).to.deep.equal(["zk"]);
    expect(modeModule(Mode.Tee).needs).to.deep.equal(["enclave"]);
  });
});

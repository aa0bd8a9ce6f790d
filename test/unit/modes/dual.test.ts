import { expect } from "chai";
import { keccak256, verifyTypedData, Wallet, ZeroAddress, ZeroHash } from "ethers";
import { InputError } from "../../../src/core/errors";
import type { Job } from "../../../src/core/job";
import { Mode, MODES, modeMask, modesOf, parseModes } from "../../../src/core/modes";
import { INFERENCE_RESULT_TYPES, teeDomain } from "../../../src/core/tee";
import {
  decodeDualProof,
  encodeDualProof,
  modeModule,
  ModeNotServedError,
  type ClaimChecks,
  type ModeNode,
} from "../../../src/modes";
import { DevEnclave } from "../../../src/tee/dev-enclave";
import { expectRejection } from "../../fixtures/assert";

const NODE = Wallet.createRandom().address;
const dual = modeModule(Mode.Dual);

function jobOf(overrides: Partial<Job> = {}): Job {
  return {
    id: 7n,
    requester: ZeroAddress,
    modelId: 1n,
    version: 1n,
    mode: BigInt(Mode.Dual),
    redundancy: 1n,
    deadline: 5_000n,
    revealDeadline: 0n,
    inputHash: keccak256("0x01"),
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

/** Chain checks in which `enclave` is registered to NODE until `expiresAt` with a measurement the version binds. */
function checksFor(job: Job, enclave: string, expiresAt = 10_000n): ClaimChecks {
  const measurement = keccak256("0x02");
  return {
    job,
    enclave: (signer) =>
      Promise.resolve({
        operator: signer === enclave ? NODE : ZeroAddress,
        expiresAt,
        revoked: false,
        measurement,
        measurementRevokedAt: 0n,
        now: 1_000n,
      }),
    isBound: (_m, _v, mode, binding) => Promise.resolve(mode === Mode.Tee && binding === measurement),
  };
}

describe("dual mode module (ZK + TEE)", () => {
  it("is mode 3 in the core list, named dual, shown as ZK + TEE", () => {
    expect(MODES.map((m) => [m.mode, m.name, m.label])).to.deep.include([3, "dual", "ZK + TEE"]);
    expect([dual.mode, dual.name, dual.label]).to.deep.equal([3, "dual", "ZK + TEE"]);
    expect(modeModule("dual")).to.equal(dual);
    expect(parseModes("zk,dual")).to.deep.equal([Mode.Zk, Mode.Dual]);
    expect(modesOf(modeMask([Mode.Tee, Mode.Dual]))).to.deep.equal([Mode.Tee, Mode.Dual]);
  });

  it("binds no verifier and no values (the version's zk and tee bindings serve it), and refuses either", () => {
    expect(dual.binding({})).to.deep.equal({ mode: 3, verifier: ZeroAddress, bindings: [] });
    expect(() => dual.binding({ verifier: Wallet.createRandom().address })).to.throw(InputError, /takes no verifier/);
    expect(() => dual.binding({ bindings: [keccak256("0x02")] })).to.throw(InputError, /takes no bindings/);
  });

  it("follows the ZK rules for requests, needs an enclave and a circuit, settles by submit only, one job at a time", () => {
    expect(dual.redundancyRefusal(1)).to.equal(undefined);
    expect(dual.redundancyRefusal(3)).to.equal(modeModule(Mode.Zk).redundancyRefusal(3));
    expect(dual.needs).to.deep.equal(["enclave", "zk"]);
    expect(dual.batchable).to.equal(false);
    expect(dual.settlingCalls).to.deep.equal(["submit"]);
    expect(() => dual.prepareInput({ features: [1, 2] })).to.throw(InputError, /quantized circuit model/);
  });

  it("is ready only when the TEE checks pass: no enclave, or one expiring before the deadline, is refused", async () => {
    const job = jobOf();
    const enclave = new DevEnclave(Wallet.createRandom().privateKey);
    const node: ModeNode = {
      chainId: 31337n,
      escrow: ZeroAddress,
      address: NODE,
      models: { load: () => Promise.reject(new Error("unused")) },
    };
    expect(await dual.readiness(node, checksFor(job, enclave.address))).to.equal("no development enclave");
    const withEnclave = { ...node, enclave };
    expect(await dual.readiness(withEnclave, checksFor(job, enclave.address))).to.equal(undefined);
    expect(await dual.readiness(withEnclave, checksFor(job, enclave.address, 4_000n))).to.match(
      /expires at 4000, before the job's deadline 5000/,
    );
  });

  it("refuses to compute without an enclave before proving anything (ModeNotServedError)", async () => {
    const node: ModeNode = {
      chainId: 31337n,
      escrow: ZeroAddress,
      address: NODE,
      models: { load: () => Promise.reject(new Error("unused")) },
    };
    await expectRejection(dual.compute(jobOf(), "0x", node), ModeNotServedError, /dual mode needs an enclave/);
  });

  it("encodes the proof as abi.encode(bytes zkProof, bytes signature) and decodes it back; refuses other bytes", async () => {
    const enclave = new DevEnclave(Wallet.createRandom().privateKey);
    const job = jobOf();
    const message = {
      escrow: ZeroAddress,
      jobId: job.id,
      modelId: job.modelId,
      version: job.version,
      inputHash: job.inputHash,
      outputHash: ZeroHash,
      node: NODE,
    };
    const signature = await enclave.sign(teeDomain(31337n, job.verifier), message);
    const proof = encodeDualProof("0x1234", signature);
    expect(decodeDualProof(proof)).to.deep.equal({ zkProof: "0x1234", signature });
    expect(
      verifyTypedData(
        teeDomain(31337n, job.verifier),
        INFERENCE_RESULT_TYPES,
        message,
        decodeDualProof(proof).signature,
      ),
    ).to.equal(enclave.address);
    expect(() => decodeDualProof("0x1234")).to.throw(InputError, /abi.encode\(bytes zkProof, bytes signature\)/);
  });
});

import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { hexlify, JsonRpcSigner, keccak256, toUtf8Bytes, ZeroAddress, ZeroHash } from "ethers";
import { toJobId, toModelId } from "../../src/core/ids";
import { Mode } from "../../src/core/modes";
import { rawFileRef, versionInput } from "../../src/core/registry";
import { InputError, UnsupportedError } from "../../src/core/errors";
import { modeModule } from "../../src/modes";
import { readTsmQuote } from "../../src/node/configfs-tsm";
import { openOperator, type OperatorContext } from "../../src/node/context";
import {
  attestEnclave,
  enclaveStatus,
  maintainEnclave,
  parseQuoteSource,
  registerEnclave,
  registrationContext,
  type RegistrationContext,
} from "../../src/node/enclave-registration";
import { silentLogger } from "../../src/core/log";
import { registerModes } from "../../src/node/operator-actions";
import { requestInference } from "../../src/sdk/requestInference";
import { verifyResult } from "../../src/sdk/verifyResult";
import { waitForResult } from "../../src/sdk/waitForResult";
import { developmentPlatform, DevEnclave } from "../../src/tee";
import { DcapVerifier__factory } from "../../typechain-types";
import { expectRejection } from "../fixtures/assert";
import {
  createOperator,
  DaemonProcess,
  PASSWORD,
  readDatabase,
  startDevnet,
  TOKEN,
  vin,
  type Devnet,
  type Operator,
} from "./harness";

const CA = keccak256(developmentPlatform().ca.der);
const PCK = keccak256(developmentPlatform().pck.der);

describe("enclave registration with quotes (against a real hardhat node)", () => {
  let net: Devnet;
  let operator: Operator;
  const daemons: DaemonProcess[] = [];

  /** Runs `fn` with the operator's registration context (its outbox, its development enclave), closed after. */
  async function withEnclave<T>(fn: (ctx: RegistrationContext, operator: OperatorContext) => Promise<T>): Promise<T> {
    const ctx = await openOperator({
      configFile: operator.config,
      password: PASSWORD,
      purpose: "test",
      log: silentLogger,
    });
    try {
      return await fn(registrationContext(ctx), ctx);
    } finally {
      ctx.close();
    }
  }

  /** Publishes a new model whose version 1 (the penguin classifier's files) serves TEE with `measurements` bound. */
  async function publishTeeModel(measurements: string[]): Promise<bigint> {
    const { registry } = net.contracts;
    const input = versionInput({
      files: [rawFileRef("model.onnx", net.model.onnx), rawFileRef("README.md", toUtf8Bytes(net.model.card))],
      card: "README.md",
      modes: [modeModule(Mode.Tee).binding({ bindings: measurements })],
    });
    await (await registry.connect(net.devnet.modelOwner).createModelAndPublish(TOKEN, input)).wait();
    return registry.modelCount();
  }

  const request = (modelId: bigint, durationSeconds = 3_600) =>
    requestInference({
      contracts: net.contracts,
      signer: net.requester,
      modelId: toModelId(modelId),
      mode: Mode.Tee,
      input: net.model.example,
      feePerNode: TOKEN / 2n,
      collateral: 10n * TOKEN,
      durationSeconds,
    });

  before(async () => {
    net = await startDevnet();
    // A vanilla operator that then registers for TEE itself: its enclave key does not exist yet, nothing registered it.
    operator = await createOperator(net, "quote", { modes: "vanilla" });
    await withEnclave((_, ctx) => registerModes(ctx, ["vanilla", "tee"]));
  });

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop()));
  });

  after(async () => {
    await net?.chain.stop();
  });

  describe("the node layer", () => {
    it("enclaveStatus: an enclave nothing registered reads as such", async () => {
      const status = await withEnclave((ctx) => enclaveStatus({ ...ctx, signer: ctx.enclave.address }));
      expect([
        status.registered,
        status.operator,
        status.expiresAt,
        status.measurement,
        status.renewalDue,
        status.boundBy,
      ]).to.deep.equal([false, ZeroAddress, 0n, ZeroHash, false, []]);
    });

    it("registerEnclave: registers from a development quote, caching the platform's CA and PCK certificates it lacks first", async () => {
      const dcap = DcapVerifier__factory.connect(
        await net.contracts.teeVerifier.parameters().then((p) => p.dcapVerifier),
        net.provider,
      );
      const uncached = [];
      for (const hash of [CA, PCK]) if ((await dcap.certificateOf(hash)).notAfter === 0n) uncached.push(hash);
      const r = await withEnclave((ctx) => registerEnclave(ctx));
      const enclave = nodeEnclave();
      expect([r.signer, r.operator, r.measurement, r.hpkePublicKey, r.attempts, r.source]).to.deep.equal([
        enclave.address,
        operator.address,
        DevEnclave.TD_MEASUREMENT,
        enclave.hpkePublicKey,
        1,
        "development",
      ]);
      expect(r.cachedCertificates).to.deep.equal(uncached);
      for (const hash of [CA, PCK]) expect((await dcap.certificateOf(hash)).notAfter).to.not.equal(0n);
      const receipt = (await net.provider.getTransactionReceipt(r.tx))!;
      const [attested] = receipt.logs
        .map((l) => net.contracts.teeVerifier.interface.parseLog(l))
        .filter((e) => e?.name === "EnclaveAttested");
      expect(attested?.args.anchorBlock).to.equal(r.anchorBlock);
      const { maxEnclaveAge } = await net.contracts.teeVerifier.parameters();
      expect(r.expiresAt).to.equal(
        BigInt((await net.provider.getBlock(receipt.blockNumber))!.timestamp) + maxEnclaveAge,
      );
      expect(r.anchorBlock < BigInt(receipt.blockNumber)).to.equal(true);
    });

    it("enclaveStatus: the registration's expiry, measurement and HPKE key, and the model versions that bind the measurement", async () => {
      const read = () => withEnclave((ctx) => enclaveStatus({ ...ctx, signer: ctx.enclave.address }));
      const before = await read();
      expect([
        before.registered,
        before.revoked,
        before.expired,
        before.renewalDue,
        before.measurement,
        before.measurementRevokedAt,
      ]).to.deep.equal([true, false, false, false, DevEnclave.TD_MEASUREMENT, 0n]);
      expect(before.hpkePublicKey).to.equal(nodeEnclave().hpkePublicKey);
      const modelId = await publishTeeModel([keccak256("0x01"), DevEnclave.TD_MEASUREMENT]);
      const after = await read();
      expect(after.boundBy).to.deep.equal([...before.boundBy!, { modelId, version: 1n }]);
    });

    it("registerEnclave: a quote whose anchor left the 256-block window is refused (TeeVerifierStaleQuote) and made again once, freshly anchored", async () => {
      const stale = await withEnclave((ctx) => attestEnclave(ctx));
      await net.provider.send("hardhat_mine", ["0x12c"]);
      const r = await withEnclave((ctx) => registerEnclave(ctx, { attestation: stale }));
      expect([r.attempts, r.cachedCertificates]).to.deep.equal([2, []]);
      expect(r.anchorBlock > stale.binding.anchorBlock + 256n).to.equal(true);
    });

    it("maintainEnclave: keeps a fresh registration, and renews it once less than a quarter of maxEnclaveAge is left", async () => {
      const first = await withEnclave((ctx) => maintainEnclave(ctx));
      expect([first.action, first.registration]).to.deep.equal(["kept", undefined]);
      const { maxEnclaveAge } = await net.contracts.teeVerifier.parameters();
      const left = first.status.expiresAt - first.status.now;
      await net.provider.send("evm_increaseTime", [Number(left - maxEnclaveAge / 4n) + 60]);
      await net.provider.send("evm_mine", []);
      const second = await withEnclave((ctx) => maintainEnclave(ctx));
      expect([second.action, second.status.renewalDue, second.status.expired]).to.deep.equal(["renewed", true, false]);
      expect(second.registration!.expiresAt > first.status.expiresAt).to.equal(true);
      const status = await withEnclave((ctx) => enclaveStatus({ ...ctx, signer: ctx.enclave.address }));
      expect([status.expiresAt, status.renewalDue]).to.deep.equal([second.registration!.expiresAt, false]);
    });

    it("maintainEnclave: does not try to bring back a revoked enclave", async () => {
      const other = await createOperator(net, "revoked", { modes: "vanilla" });
      const ctx = await openOperator({
        configFile: other.config,
        password: PASSWORD,
        purpose: "test",
        log: silentLogger,
      });
      try {
        await registerModes(ctx, ["vanilla", "tee"]);
        const rc = registrationContext(ctx);
        expect((await maintainEnclave(rc)).action).to.equal("registered");
        // Governance (the timelock) revokes it.
        const timelock = await net.system.timelock.getAddress();
        await net.provider.send("hardhat_impersonateAccount", [timelock]);
        await net.provider.send("hardhat_setBalance", [timelock, "0x56bc75e2d63100000"]);
        await (
          await net.contracts.teeVerifier
            .connect(new JsonRpcSigner(net.provider, timelock))
            .revokeEnclave(rc.enclave.address)
        ).wait();
        const nonce = await net.provider.getTransactionCount(other.address);
        const blocked = await maintainEnclave(rc);
        expect([blocked.action, blocked.reason]).to.deep.equal([
          "blocked",
          `enclave ${rc.enclave.address} was revoked: a revoked key never comes back (a new enclave key is needed)`,
        ]);
        expect(await net.provider.getTransactionCount(other.address)).to.equal(nonce);
      } finally {
        ctx.close();
      }
    });

    it("quote sources: configfs-tsm needs a TDX guest; an unknown source is an InputError", async () => {
      await expectRejection(
        readTsmQuote(new Uint8Array(64), { dir: path.join(net.workDir, "no-tsm") }),
        UnsupportedError,
        /no-tsm not found: quotes from configfs-tsm need an Intel TDX guest/,
      );
      await expectRejection(
        withEnclave((ctx) =>
          attestEnclave({ ...ctx, quotes: "configfs-tsm", tsmDir: path.join(net.workDir, "no-tsm") }),
        ),
        UnsupportedError,
        /not found/,
      );
      expect(parseQuoteSource("configfs-tsm")).to.equal("configfs-tsm");
      expect(() => parseQuoteSource("sgx-dcap")).to.throw(
        InputError,
        'quote source "sgx-dcap" is not one of development, configfs-tsm',
      );
    });
  });

  describe("vin enclave", () => {
    it("status --json: the registration as the node layer reads it", async () => {
      const result = await vin(["--config", operator.config, "--json", "enclave", "status"]);
      expect(result.code, result.stderr).to.equal(0);
      const status = JSON.parse(result.stdout) as {
        registered: boolean;
        operator: string;
        measurement: string;
        expiresAt: string;
      };
      const record = await net.contracts.teeVerifier.enclaveOf(nodeEnclave().address);
      expect(status).to.deep.include({
        registered: true,
        operator: operator.address,
        measurement: DevEnclave.TD_MEASUREMENT,
        expiresAt: record.expiresAt.toString(),
      });
    });

    it("attest --out: writes the quote, which binds this operator and the block before the latest", async () => {
      const out = path.join(net.workDir, "quote.bin");
      const result = await vin(["--config", operator.config, "--json", "enclave", "attest", "--out", out]);
      expect(result.code, result.stderr).to.equal(0);
      const a = JSON.parse(result.stdout) as {
        operator: string;
        source: string;
        teeType: string;
        measurement: string;
        quote: string;
      };
      expect([a.operator, a.source, a.teeType, a.measurement]).to.deep.equal([
        operator.address,
        "development",
        "Tdx",
        DevEnclave.TD_MEASUREMENT,
      ]);
      expect(hexlify(readFileSync(out))).to.equal(a.quote);
    });

    it("register: renews the registration and says until when", async () => {
      const result = await vin(["--config", operator.config, "enclave", "register"]);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.match(
        /^enclave 0x[0-9a-fA-F]{40} registered to 0x[0-9a-fA-F]{40} until \d{4}-\d\d-\d\dT[\d:.]+Z \(0x[0-9a-f]{64}\)\n {2}measurement 0x[0-9a-f]{64} \(DEVELOPMENT quote: proves nothing\)\n/,
      );
      expect(result.stdout).to.include("certificates cached now: none (the platform's were cached)");
    });

    it("exits 2 for a quote source that is not there or not known", async () => {
      const tsm = await vin(["--config", operator.config, "enclave", "attest", "--quotes", "configfs-tsm"]);
      expect(tsm.code).to.equal(2);
      expect(tsm.stderr).to.match(
        /^error: \/sys\/kernel\/config\/tsm\/report not found: quotes from configfs-tsm need an Intel TDX guest/,
      );
      const unknown = await vin(["--config", operator.config, "enclave", "register"], { VIN_TEE_QUOTES: "nitro" });
      expect(unknown.code).to.equal(2);
      expect(unknown.stderr).to.equal(
        'error: environment variable VIN_TEE_QUOTES: quote source "nitro" is not one of development, configfs-tsm\n',
      );
    });
  });

  describe("the daemon serving TEE with a quote-registered enclave", () => {
    it("refuses a job whose version does not bind its measurement or whose deadline is past its expiry, and settles one it can", async () => {
      writeFileSync(
        operator.config,
        JSON.stringify(
          { ...(JSON.parse(readFileSync(operator.config, "utf8")) as object), modes: ["vanilla", "tee"] },
          null,
          2,
        ),
      );
      const daemon = new DaemonProcess(operator);
      daemons.push(daemon);
      await daemon.waitForLog(/operator node started/);
      const elsewhere = await publishTeeModel([keccak256("0x02")]);
      const attested = await publishTeeModel([DevEnclave.TD_MEASUREMENT]);
      const enclave = nodeEnclave().address;
      const { expiresAt } = await net.contracts.teeVerifier.enclaveOf(enclave);

      const unbound = await request(elsewhere);
      const reason = `model ${elsewhere}@1 does not bind the measurement ${DevEnclave.TD_MEASUREMENT} of enclave ${enclave} for TEE mode`;
      await daemon.waitForLog(new RegExp(`"jobId":"${unbound.job.id}","reason":"${reason}","msg":"job skipped"`));

      const late = await request(attested, 9 * 24 * 3600);
      expect(late.job.deadline > expiresAt).to.equal(true);
      await daemon.waitForLog(
        new RegExp(
          `"jobId":"${late.job.id}","reason":"the registration of enclave ${enclave} expires at ${expiresAt}, before the job's deadline ${late.job.deadline}: run \`vin enclave register\` to renew it"`,
        ),
      );
      expect(
        readDatabase(operator, (db) =>
          db
            .prepare("SELECT state FROM jobs WHERE job_id IN (?, ?)")
            .all(unbound.job.id.toString(), late.job.id.toString()),
        ),
      ).to.deep.equal([{ state: "skipped" }, { state: "skipped" }]);

      const { job } = await request(attested);
      const result = await waitForResult({ escrow: net.contracts.escrow, jobId: toJobId(job.id), pollIntervalMs: 200 });
      expect(result.status).to.equal("settled");
      const report = await verifyResult({
        contracts: net.contracts,
        provider: net.provider,
        jobId: toJobId(job.id),
        fromBlock: net.system.record.startBlock,
      });
      expect(report.checks.filter((c) => !c.ok)).to.deep.equal([]);
      expect(report.enclave).to.deep.include({
        signer: enclave,
        operator: operator.address,
        measurement: DevEnclave.TD_MEASUREMENT,
      });
    });
  });

  /** The operator's enclave, read from its data directory without opening the node (a daemon may hold its lock). */
  function nodeEnclave(): DevEnclave {
    return new DevEnclave(readFileSync(path.join(operator.dataDir, "dev-enclave.key"), "utf8").trim());
  }
});

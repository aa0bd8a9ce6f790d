import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { toBeHex, toUtf8String } from "ethers";
import { poseidon2 } from "poseidon-lite";
import {
  MockAggregator__factory,
  RoundInputEncoder__factory,
  RoundInputHarness__factory,
  type RoundInputEncoder,
  type RoundInputHarness,
} from "../../../typechain-types";
import { decodeInput } from "../../../src/core/job";
import { fixedToDecimal, roundInput, volatilitySourceArgs } from "../../../src/core/subscription";
import { inputCommitment } from "../../../src/zkml/claim";
import { decodeZkJobInput, openZkJobInput } from "../../../src/zkml/job";
import { quantizeInput } from "../../../src/zkml/quantize";
import { buildVolatilityRegressor, quantizeForCircuit } from "../../../src/models";
import { logReturns, realisedVolatility } from "../../../src/models/volatility";
import { loadSp500Daily } from "../../../src/models/datasets";
import { FEED_DECIMALS, loadSubscriptions, MAX_AGE } from "./subscriptions.fixture";

const FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

describe("RoundInputLib", () => {
  let encoder: RoundInputEncoder;
  let harness: RoundInputHarness;

  before(async () => {
    const [deployer] = await hre.ethers.getSigners();
    encoder = await new RoundInputEncoder__factory(deployer).deploy();
    harness = await new RoundInputHarness__factory(deployer).deploy();
  });

  describe("json", () => {
    it("writes each value exactly in decimal, as the node decodes it", async () => {
      const values = [0n, 1n, -1n, 65536n, -98304n, 3n * 65536n + 1n, (1n << 53n) - 1n, -((1n << 53n) - 1n), 12345678n];
      const [input, commitment] = await encoder.encode(values, 16, false, 0, 0);
      expect(commitment).to.equal(toBeHex(0, 32));
      expect(input).to.equal(roundInput(values, 16, false));
      expect(decodeInput(input)).to.deep.equal(values.map((v) => Number(v) / 2 ** 16));
      expect(toUtf8String(input)).to.match(
        /^\[0,0\.0000152587890625,-0\.0000152587890625,1,-1\.5,3\.0000152587890625,/,
      );
    });

    it("writes whole numbers without a point, for every fraction width from 0 to 32 bits", async () => {
      for (const bits of [0, 1, 7, 16, 31, 32]) {
        const values = [5n << BigInt(bits), -7n, 1n];
        const [input] = await encoder.encode(values, bits, false, 0, 0);
        expect(toUtf8String(input)).to.equal(`[${values.map((v) => fixedToDecimal(v, bits)).join(",")}]`);
        expect(decodeInput(input)).to.deep.equal(values.map((v) => Number(v) / 2 ** bits));
      }
    });

    it("reverts with RoundInputOutOfRange beyond 2^53 - 1 in magnitude (a double would round it)", async () => {
      await expect(encoder.encode([1n, 1n << 53n], 16, false, 0, 0))
        .to.be.revertedWithCustomError(encoder, "RoundInputOutOfRange")
        .withArgs(1, 1n << 53n, (1n << 53n) - 1n);
      await expect(encoder.encode([-(1n << 53n)], 0, true, 12, 17)).to.be.revertedWithCustomError(
        encoder,
        "RoundInputOutOfRange",
      );
    });
  });

  describe("zk", () => {
    it("commits as the node's circuit does: Poseidon(0, packed quantized input), low 200 bits", async () => {
      const model = quantizeForCircuit(buildVolatilityRegressor());
      const x = [-1.4383470345338525, 3.5166256867442995, 5.594966960694253, 0.5];
      const values = x.map((v) => BigInt(Math.round(v * 2 ** 16)));
      const [input, commitment] = await encoder.encode(values, 16, true, model.scaleBits, model.inputBits);
      expect(input).to.equal(roundInput(values, 16, true));
      const decoded = decodeZkJobInput(input);
      expect(decoded.salt).to.equal(0n);
      const expected = inputCommitment(model, quantizeInput(model, decoded.x), 0n);
      expect(BigInt(commitment)).to.equal(expected);
      // The node's own check before it claims: the input opens the commitment.
      expect(openZkJobInput(model, input, commitment).quantized).to.deep.equal(quantizeInput(model, decoded.x));
    });

    it("quantizes as Math.round does (ties toward +infinity) when the source has more fraction bits", async () => {
      for (const [value, from, to] of [
        [3n, 2, 1],
        [-3n, 2, 1],
        [-1n, 2, 1],
        [1n, 2, 1],
        [12345n, 16, 12],
        [-12345n, 16, 12],
        [5n, 4, 8],
      ] as const) {
        const expected = BigInt(Math.round((Number(value) / 2 ** from) * 2 ** to));
        expect(await harness.quantize(value, from, to)).to.equal(expected);
      }
    });

    it("reverts with RoundInputOutOfRange for a quantized input outside the circuit's [-2^inputBits, 2^inputBits)", async () => {
      await expect(encoder.encode([1n << 20n], 16, true, 16, 20))
        .to.be.revertedWithCustomError(encoder, "RoundInputOutOfRange")
        .withArgs(0, 1n << 20n, 1n << 20n);
      await encoder.encode([-(1n << 20n)], 16, true, 16, 20);
    });
  });

  describe("PoseidonT3Lib", () => {
    it("hashes as poseidon-lite's poseidon2 (circomlib's Poseidon(2))", async () => {
      const pairs: [bigint, bigint][] = [
        [0n, 0n],
        [0n, 1n],
        [1n, 2n],
        [FIELD - 1n, FIELD - 1n],
        [0n, (1n << 253n) - 1n],
      ];
      for (let i = 0; i < 6; i++) {
        pairs.push([
          BigInt(hre.ethers.keccak256(toBeHex(i))) % FIELD,
          BigInt(hre.ethers.keccak256(toBeHex(i + 100))) % FIELD,
        ]);
      }
      for (const [a, b] of pairs) expect(await harness.poseidon(a, b)).to.equal(poseidon2([a, b]));
      expect(await harness.poseidonGas(1, 2)).to.be.lessThan(40_000n);
    });
  });

  describe("answers", () => {
    it("reads a vanilla or TEE regressor's value (units of 10^-4) and a classifier's label; other lengths are rejected", async () => {
      expect(await harness.answerOfPlain("0x00ffffff85", false)).to.deep.equal([true, -123n]);
      expect(await harness.answerOfPlain("0x0000003039", false)).to.deep.equal([true, 12345n]);
      expect(await harness.answerOfPlain("0x020000000100000002ffffffff", true)).to.deep.equal([true, 2n]);
      for (const [output, label] of [
        ["0x", false],
        ["0x000000303900", false],
        ["0x01", true],
        ["0x000000000100", true],
      ] as const) {
        expect(await harness.answerOfPlain(output, label)).to.deep.equal([false, 0n]);
      }
    });

    it("reads a ZK output: a class index, or a fixed-point value in units of 10^-4 rounded half away from zero", async () => {
      const offset = 1n << 47n;
      const zk = (packed: bigint) => toBeHex(packed, 6);
      expect(await harness.answerOfZk(zk(3n), true, 12)).to.deep.equal([true, 3n]);
      // 1.5 at scale 2^12 -> 15000; -0.25 -> -2500; 1/4096 -> 0.000244 -> 2 (rounded)
      expect(await harness.answerOfZk(zk(offset + 6144n), false, 12)).to.deep.equal([true, 15_000n]);
      expect(await harness.answerOfZk(zk(offset - 1024n), false, 12)).to.deep.equal([true, -2_500n]);
      expect(await harness.answerOfZk(zk(offset + 1n), false, 12)).to.deep.equal([true, 2n]);
      expect(await harness.answerOfZk(zk(offset - 1n), false, 12)).to.deep.equal([true, -2n]);
      // 0.5 * 10^-4 at scale 2^1: exactly half a unit, away from zero.
      expect(await harness.answerOfZk(zk(offset + 7n), false, 0)).to.deep.equal([true, 70_000n]);
      expect(await harness.answerOfZk("0x0000000000", false, 12)).to.deep.equal([false, 0n]);
    });
  });
});

describe("input sources", () => {
  it("RealizedVolatilitySource computes the volatility model's features from the feed as the training code does", async () => {
    const fx = await loadSubscriptions();
    const { close } = loadSp500Daily();
    const closes = close.slice(1000, 1100);
    const fresh = await new MockAggregator__factory(fx.deployer).deploy(fx.deployer.address, FEED_DECIMALS, "S&P 500");
    const answers = closes.map((c) => BigInt(Math.round(c * 10 ** FEED_DECIMALS)));
    await (await fresh.updateAnswers(answers)).wait();
    const now = BigInt(await time.latest());
    const args = volatilitySourceArgs(await fresh.getAddress(), MAX_AGE);
    const values = await fx.volatility.read(args, now + 1n);
    expect(await fx.volatility.inputSize(args)).to.equal(4n);
    expect(await fx.volatility.fractionBits()).to.equal(16n);
    // The training features (src/models/volatility.ts) of the day of the last close, from the same (rounded) closes.
    const r = logReturns(answers.map((a) => Number(a) / 10 ** FEED_DECIMALS));
    const last = [
      r.at(-1)!,
      realisedVolatility(r.slice(-5)),
      realisedVolatility(r.slice(-22)),
      realisedVolatility(r.slice(-66)),
    ];
    expect(values.length).to.equal(4);
    for (let i = 0; i < 4; i++) {
      expect(Math.abs(Number(values[i]!) / 2 ** 16 - last[i]!)).to.be.lessThan(2 ** -15);
    }
  });

  it("refuses malformed arguments, a history shorter than 67 answers, a non-positive price and a jump beyond 3x", async () => {
    const fx = await loadSubscriptions();
    const factory = new MockAggregator__factory(fx.deployer);
    const feed = await factory.deploy(fx.deployer.address, 8, "x");
    const address = await feed.getAddress();
    const args = volatilitySourceArgs(address, MAX_AGE);
    await expect(fx.volatility.inputSize("0x")).to.be.revertedWithCustomError(fx.volatility, "InputSourceInvalidArgs");
    const zeroAge = hre.ethers.AbiCoder.defaultAbiCoder().encode(["address", "uint32"], [address, 0]);
    await expect(fx.volatility.inputSize(zeroAge)).to.be.revertedWithCustomError(
      fx.volatility,
      "InputSourceInvalidArgs",
    );
    await feed.updateAnswers(Array.from({ length: 66 }, () => 100n));
    let now = BigInt(await time.latest());
    await expect(fx.volatility.read(args, now + 1n))
      .to.be.revertedWithCustomError(fx.volatility, "InputSourceHistoryTooShort")
      .withArgs(address, 66, 67);
    await feed.updateAnswers([0n]);
    now = BigInt(await time.latest());
    await expect(fx.volatility.read(args, now + 1n))
      .to.be.revertedWithCustomError(fx.volatility, "InputSourceInvalidAnswer")
      .withArgs(address, 67, 0);
    const jumpy = await factory.deploy(fx.deployer.address, 8, "x");
    await jumpy.updateAnswers([...Array.from({ length: 66 }, () => 100n), 301n]);
    now = BigInt(await time.latest());
    await expect(fx.volatility.read(volatilitySourceArgs(await jumpy.getAddress(), MAX_AGE), now + 1n))
      .to.be.revertedWithCustomError(fx.volatility, "InputSourceInvalidAnswer")
      .withArgs(await jumpy.getAddress(), 67, 301);
    // A ratio of exactly 3 is the largest accepted.
    const steep = await factory.deploy(fx.deployer.address, 8, "x");
    await steep.updateAnswers([...Array.from({ length: 66 }, () => 100n), 300n]);
    now = BigInt(await time.latest());
    const [lastReturn] = await fx.volatility.read(volatilitySourceArgs(await steep.getAddress(), MAX_AGE), now + 1n);
    expect(Math.abs(Number(lastReturn) / 2 ** 16 - 100 * Math.log(3))).to.be.lessThan(2 ** -15);
    // Before any answer of the feed: nothing was written before the due time.
    const empty = await factory.deploy(fx.deployer.address, 8, "x");
    await empty.updateAnswers([1n]);
    await expect(fx.volatility.read(volatilitySourceArgs(await empty.getAddress(), MAX_AGE), 1n))
      .to.be.revertedWithCustomError(fx.volatility, "InputSourceNoRoundBefore")
      .withArgs(await empty.getAddress(), 1);
  });

  it("FeedWindowSource returns the last answers before the due time, walking back at most 32 rounds", async () => {
    const fx = await loadSubscriptions();
    const address = await fx.aggregator.getAddress();
    const args = hre.ethers.AbiCoder.defaultAbiCoder().encode(["address", "uint16", "uint32"], [address, 3, MAX_AGE]);
    const due = BigInt(await time.latest()) + 1n;
    const before = await fx.window.read(args, due);
    const [, answer70] = await fx.aggregator.getRoundData(70);
    expect(before[2]).to.equal((answer70 << 16n) / 10n ** 8n);
    await time.increase(10);
    await fx.aggregator.updateAnswers(Array.from({ length: 32 }, (_, i) => BigInt(i + 1)));
    expect(await fx.window.read(args, due)).to.deep.equal(before);
    await fx.aggregator.updateAnswers([5n]);
    await expect(fx.window.read(args, due))
      .to.be.revertedWithCustomError(fx.window, "InputSourceNoRoundBefore")
      .withArgs(address, due);
    expect(await fx.window.fractionBits()).to.equal(16n);
  });

  it("FeedWindowSource refuses arguments of the wrong length, a zero feed, 0 or more than 64 answers, and a zero age", async () => {
    const fx = await loadSubscriptions();
    const coder = hre.ethers.AbiCoder.defaultAbiCoder();
    const feed = await fx.aggregator.getAddress();
    for (const args of [
      "0x",
      coder.encode(["address", "uint32"], [feed, MAX_AGE]),
      coder.encode(["address", "uint16", "uint32"], [hre.ethers.ZeroAddress, 4, MAX_AGE]),
      coder.encode(["address", "uint16", "uint32"], [feed, 0, MAX_AGE]),
      coder.encode(["address", "uint16", "uint32"], [feed, 65, MAX_AGE]),
      coder.encode(["address", "uint16", "uint32"], [feed, 4, 0]),
    ]) {
      await expect(fx.window.inputSize(args))
        .to.be.revertedWithCustomError(fx.window, "InputSourceInvalidArgs")
        .withArgs(args);
    }
    expect(await fx.window.inputSize(coder.encode(["address", "uint16", "uint32"], [feed, 64, MAX_AGE]))).to.equal(64n);
  });

  it("RealizedVolatilitySource refuses a zero feed, a fall below a third and a non-positive earlier price", async () => {
    const fx = await loadSubscriptions();
    const coder = hre.ethers.AbiCoder.defaultAbiCoder();
    const zeroFeed = coder.encode(["address", "uint32"], [hre.ethers.ZeroAddress, MAX_AGE]);
    await expect(fx.volatility.inputSize(zeroFeed))
      .to.be.revertedWithCustomError(fx.volatility, "InputSourceInvalidArgs")
      .withArgs(zeroFeed);
    const factory = new MockAggregator__factory(fx.deployer);
    const falling = await factory.deploy(fx.deployer.address, 8, "x");
    await falling.updateAnswers([...Array.from({ length: 66 }, () => 300n), 99n]);
    let now = BigInt(await time.latest());
    await expect(fx.volatility.read(volatilitySourceArgs(await falling.getAddress(), MAX_AGE), now + 1n))
      .to.be.revertedWithCustomError(fx.volatility, "InputSourceInvalidAnswer")
      .withArgs(await falling.getAddress(), 67, 99);
    const negative = await factory.deploy(fx.deployer.address, 8, "x");
    await negative.updateAnswers([-5n, ...Array.from({ length: 66 }, () => 300n)]);
    now = BigInt(await time.latest());
    await expect(fx.volatility.read(volatilitySourceArgs(await negative.getAddress(), MAX_AGE), now + 1n))
      .to.be.revertedWithCustomError(fx.volatility, "InputSourceInvalidAnswer")
      .withArgs(await negative.getAddress(), 1, -5);
  });
});

import { expect } from "chai";
import { hexlify, keccak256 } from "ethers";
import { InputError } from "../../../src/core/errors";
import { decodeInput, encodeInput, encodeSaltedInput } from "../../../src/core/job";

describe("salted inputs (the plaintext of a sealed, keccak-committed input)", function () {
  const features = [39.1, 18.7, 181, 3750];

  it("decodes to the same features as the plain encoding", function () {
    expect(decodeInput(hexlify(encodeSaltedInput(features)))).to.deep.equal(features);
    expect(decodeInput(hexlify(encodeInput(features)))).to.deep.equal(features);
  });

  it("commits to something a guess of the features cannot confirm: each salt gives another keccak256", function () {
    const guess = keccak256(encodeInput(features));
    const a = keccak256(encodeSaltedInput(features));
    const b = keccak256(encodeSaltedInput(features));
    expect(a).to.not.equal(guess);
    expect(a).to.not.equal(b);
    const salt = `0x${"11".repeat(32)}`;
    expect(keccak256(encodeSaltedInput(features, salt))).to.equal(keccak256(encodeSaltedInput(features, salt)));
  });

  it("refuses a salted input whose salt is not 32 bytes of hex, or whose features are not numbers", function () {
    const bad = (value: unknown) => hexlify(new TextEncoder().encode(JSON.stringify(value)));
    expect(() => decodeInput(bad({ x: features, salt: "0x1234" }))).to.throw(InputError, /"salt" as 32 bytes/);
    expect(() => decodeInput(bad({ x: features }))).to.throw(InputError, /"salt" as 32 bytes/);
    expect(() => decodeInput(bad({ x: ["a"], salt: `0x${"00".repeat(32)}` }))).to.throw(InputError, /array of numbers/);
  });
});

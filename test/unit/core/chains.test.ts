import { expect } from "chai";
import { isLocalChain, LOCAL_CHAIN_IDS } from "../../../src/core/chains";

describe("isLocalChain", () => {
  it("holds for Hardhat (31337) and Ganache/Anvil (1337), as numbers or bigints", () => {
    expect(LOCAL_CHAIN_IDS).to.deep.equal([31337, 1337]);
    for (const id of [31337, 1337, 31337n, 1337n]) expect(isLocalChain(id), String(id)).to.equal(true);
  });

  it("does not hold for public chains", () => {
    for (const id of [1, 10, 8453, 11155111n, 0]) expect(isLocalChain(id), String(id)).to.equal(false);
  });
});

import { expect } from "chai";
import { hexlify, keccak256, randomBytes, Wallet, type HDNodeWallet } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  FEE_PER_NODE,
  MODEL_PRICE,
  STAKE,
  loadSystem,
  registerByQuote,
  requestJob,
  teeProof,
  type Fixture,
} from "../fixtures/system";
import { resultCommitment, type Job } from "../../src/core/job";
import { Mode } from "../../src/core/modes";

const RIGHT = "0x01";
const WRONG = "0x02";

/** Development enclaves for every node (node 0 keeps the fixture's): their keys sign whatever their operator asks. */
async function devEnclaves(fx: Fixture): Promise<HDNodeWallet[]> {
  const enclaves = [fx.enclave, Wallet.createRandom(), Wallet.createRandom()];
  for (const i of [1, 2]) await registerByQuote(fx.system, fx.nodes[i]!, enclaves[i]!);
  return enclaves;
}

/** Every node commits to `outputs[i]` and reveals it, with its enclave's signature in TEE mode; returns the last reveal. */
async function commitAndReveal(fx: Fixture, job: Job, outputs: string[], enclaves: HDNodeWallet[] | undefined) {
  const salts = fx.nodes.map(() => hexlify(randomBytes(32)));
  for (const [i, node] of fx.nodes.entries()) {
    await fx.system.escrow.connect(node).commit(job, resultCommitment(job.id, node.address, outputs[i]!, salts[i]!));
  }
  const reveal = async (i: number) => {
    const node = fx.nodes[i]!;
    const proof =
      enclaves === undefined
        ? "0x"
        : await teeProof(fx, job, outputs[i]!, { signer: enclaves[i]!, node: node.address });
    return fx.system.escrow.connect(node).reveal(job, outputs[i]!, salts[i]!, proof);
  };
  await reveal(0);
  await reveal(1);
  return reveal(2);
}

/** The token balance of each account plus what the escrow owes it and what it has staked. */
async function worth(fx: Fixture, accounts: HardhatEthersSigner[]): Promise<bigint> {
  let total = 0n;
  for (const a of accounts) {
    const position = await fx.system.staking.operatorOf(a.address);
    total +=
      (await fx.system.token.balanceOf(a.address)) +
      (await fx.system.escrow.claimable(a.address)) +
      position.staked +
      position.thawing;
  }
  return total;
}

describe("attack: a requester's Sybil majority on a k = 3 job (issue #10 §1)", () => {
  for (const [name, mode] of [
    ["vanilla", Mode.Vanilla],
    ["TEE with development enclaves", Mode.Tee],
  ] as const) {
    it(`${name}: two requester-controlled nodes outvote the honest one; the job settles on their output, the honest node is neither slashed nor paid, the attacker nets at most 0`, async () => {
      const fx = await loadSystem();
      const { escrow, staking } = fx.system;
      const enclaves = mode === Mode.Tee ? await devEnclaves(fx) : undefined;
      const [honest, sybilA, sybilB] = fx.nodes as [HardhatEthersSigner, HardhatEthersSigner, HardhatEthersSigner];
      const attacker = [fx.requester, sybilA, sybilB];
      const before = await worth(fx, attacker);
      // The largest collateral the rules allow: 20 node fees, all of which an honest dissenter used to lose.
      const collateral = FEE_PER_NODE * 20n;
      const job = await requestJob(fx, { mode, redundancy: 3, collateral });
      for (const node of [honest, sybilA, sybilB]) await escrow.connect(node).claimSlot(job);
      const last = await commitAndReveal(fx, job, [RIGHT, WRONG, WRONG], enclaves);

      await expect(last).to.emit(escrow, "JobSettled").withArgs(job.id, keccak256(WRONG), 2, WRONG);
      await expect(last).not.to.emit(escrow, "NodeSlashed");
      await expect(last).not.to.emit(escrow, "NodeExcused");
      await expect(last).not.to.emit(staking, "Slashed");
      expect((await staking.operatorOf(honest.address)).staked).to.equal(STAKE);
      expect(await escrow.lockedStake(honest.address)).to.equal(0n);
      expect(await staking.availableStake(honest.address)).to.equal(STAKE);
      expect(await escrow.claimable(honest.address)).to.equal(0n);

      const kept = (job.protocolFee * (MODEL_PRICE + 2n * FEE_PER_NODE)) / (MODEL_PRICE + 3n * FEE_PER_NODE);
      expect(await escrow.protocolFees()).to.equal(kept);
      expect(await escrow.claimable(fx.requester.address)).to.equal(FEE_PER_NODE + job.protocolFee - kept);
      for (const sybil of [sybilA, sybilB]) expect(await escrow.claimable(sybil.address)).to.equal(FEE_PER_NODE);

      // What the attacker (requester and both Sybils) has after withdrawing everything, against before the job.
      for (const a of attacker) await escrow.connect(a).claim(a.address);
      const net = (await worth(fx, attacker)) - before;
      expect(net).to.equal(-(MODEL_PRICE + kept));
      expect(net <= 0n).to.equal(true);
      // Even an attacker that also owns the model (and so gets the model price back) loses the protocol fee it paid.
      expect(net + job.modelFee).to.equal(-kept);
      expect(net + job.modelFee <= 0n).to.equal(true);
      // What stays in the escrow is exactly what the model owner and the protocol are owed.
      expect(await fx.system.token.balanceOf(await escrow.getAddress())).to.equal(job.modelFee + kept);
    });
  }
});

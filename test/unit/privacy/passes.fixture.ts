import hre from "hardhat";
import { generateKeyPairSync } from "node:crypto";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { sha256 } from "ethers";
import { DEFAULT_PASSES_PARAMETERS } from "../../../deploy/system";
import { systemFixture, TOKEN, type Fixture } from "../../fixtures/system";
import { PrivacyPassEscrow__factory, type PrivacyPassEscrow } from "../../../typechain-types";

/** The issue window the deployment's escrow starts with: a day. */
export const ISSUE_WINDOW = Number(DEFAULT_PASSES_PARAMETERS.issueWindow);
/** The price per token of the fixture's first key. */
export const PRICE = TOKEN / 100n;

/**
 * An RSA-2048 public key as Privacy Pass token type 0x0002 publishes it: a SubjectPublicKeyInfo with the RSASSA-PSS
 * OID and SHA-384 parameters (RFC 9578 section 6.5), DER. Fresh per call.
 */
export function issuerPublicKey(): Uint8Array {
  const { publicKey } = generateKeyPairSync("rsa-pss", {
    modulusLength: 2048,
    hashAlgorithm: "sha384",
    mgf1HashAlgorithm: "sha384",
    // @types/node declares `saltLength` a string; Node takes the number of bytes.
    saltLength: 48 as unknown as string,
  });
  return new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
}

/** An RSA-2048 SubjectPublicKeyInfo with the plain rsaEncryption OID (294 bytes). */
export function rsaEncryptionPublicKey(): Uint8Array {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
}

/** Privacy Pass's `token_key_id` of `publicKey`: its SHA-256. */
export function keyIdOf(publicKey: Uint8Array): string {
  return sha256(publicKey);
}

/** `n` distinct 32-byte nonces, labelled so that two calls with different labels never collide. */
export function nonces(n: number, label = "nonce"): string[] {
  return Array.from({ length: n }, (_, i) => sha256(new TextEncoder().encode(`${label}/${i}`)));
}

export interface PassesFixture extends Fixture {
  passes: PrivacyPassEscrow;
  /** Node 0: the operator of `keyId`. */
  operator: HardhatEthersSigner;
  /** Node 1: another registered operator. */
  rival: HardhatEthersSigner;
  /** The requester: funded and approved. */
  buyer: HardhatEthersSigner;
  publicKey: Uint8Array;
  keyId: string;
}

/**
 * Deploys another PrivacyPassEscrow on the system's staking, paid in `token` (default: the system's), governed by the
 * timelock, with the fixture's issue window (the deployment's default).
 */
export async function deployPasses(fx: Fixture, token?: string): Promise<PrivacyPassEscrow> {
  return new PrivacyPassEscrow__factory(fx.deployer).deploy(
    token ?? (await fx.system.token.getAddress()),
    await fx.system.staking.getAddress(),
    await fx.system.timelock.getAddress(),
    { issueWindow: ISSUE_WINDOW },
  );
}

/**
 * The deployed system (through the production deploy script) with its PrivacyPassEscrow, the buyer and `other`
 * approved, and node 0's key registered at `PRICE`.
 */
async function passesFixture(): Promise<PassesFixture> {
  const fx = await systemFixture();
  const passes = fx.system.privacyPassEscrow;
  for (const account of [fx.requester, fx.other]) {
    await fx.system.token.connect(account).approve(await passes.getAddress(), hre.ethers.MaxUint256);
  }
  const [operator, rival] = fx.nodes as [HardhatEthersSigner, HardhatEthersSigner];
  const publicKey = issuerPublicKey();
  await (await passes.connect(operator).registerIssuer(publicKey, PRICE)).wait();
  return { ...fx, passes, operator, rival, buyer: fx.requester, publicKey, keyId: keyIdOf(publicKey) };
}

/** The fixture, restored from its snapshot, with one block mined (as `loadSystem`). */
export async function loadPasses(): Promise<PassesFixture> {
  const fx = await loadFixture(passesFixture);
  await mine();
  return fx;
}

/** Has `buyer` buy `count` tokens of `keyId` and returns the purchase id. */
export async function buyTokens(
  fx: PassesFixture,
  count: number,
  keyId = fx.keyId,
  buyer: HardhatEthersSigner = fx.buyer,
): Promise<bigint> {
  const id = await fx.passes.connect(buyer).buy.staticCall(keyId, count, hre.ethers.MaxUint256);
  await (await fx.passes.connect(buyer).buy(keyId, count, hre.ethers.MaxUint256)).wait();
  return id;
}

/** Buys `count` tokens of the fixture's key and has its operator acknowledge them; returns the purchase id. */
export async function acknowledgedPurchase(fx: PassesFixture, count: number): Promise<bigint> {
  const id = await buyTokens(fx, count);
  await (await fx.passes.connect(fx.operator).acknowledge([id])).wait();
  return id;
}

/** Moves time to purchase `id`'s `issueBy` (the next block has that timestamp). */
export async function toIssueBy(fx: PassesFixture, id: bigint, offset = 0n): Promise<void> {
  const { issueBy } = await fx.passes.purchase(id);
  await time.setNextBlockTimestamp(issueBy + offset);
}

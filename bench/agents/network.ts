/**
 * The agents benchmark's network on the in-process Hardhat chain: the system deployed by the production deploy script
 * with the receipt settlement, up to four TEE operators (staked, an enclave each registered by a development quote,
 * bonded and priced on ReceiptSettlement, a buyer's credit in each pool, the gateway listed in PrivacyRegistry), each
 * running as a node process (./node-process), and two relays (sdk/relayService, as `vin relay serve` runs them)
 * listed in PrivacyRegistry by two accounts that run no node. Clients read gateways, relays and key configurations
 * from the chain, as sdk/privateInference does.
 */
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, type HDNodeWallet } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { Mode, modeMask } from "../../src/core/modes";
import { type KeyConfig } from "../../src/ohttp";
import { startRelayService, type RunningRelay } from "../../src/sdk/relayService";
import { gatewayKeyConfig, independentRelays, listGateways, listRelays } from "../../src/sdk/privateInference";
import { receiptsSystemFixture, registerByQuote, STAKE, TOKEN, type Fixture } from "../../test/fixtures/system";
import { PRICE_NOTICE } from "../../test/unit/chat/receipts.fixture";
import type { ReceiptSettlement } from "../../typechain-types";
import { startNodeProcess, type NodeProcess } from "./node-process";

/** The operators' price per token (ReceiptSettlement `setPrice`). */
export const PER_TOKEN = 10n ** 12n;
/** Each operator's settlement bond: room for many batches pending at once (each locks the batch bond). */
const BOND = 10_000n * TOKEN;
/** The buyer's credit in each operator's pool. */
const CREDIT = 10_000n * TOKEN;

export interface Operator {
  index: number;
  signer: HardhatEthersSigner;
  enclave: HDNodeWallet;
  node: NodeProcess;
  /** From the chain: the gateway URL PrivacyRegistry lists and its key configuration (TeeVerifier). */
  gatewayUrl: string;
  keyConfig: KeyConfig;
  /** The relays a client may use with this gateway (not listed by its operator), from PrivacyRegistry. */
  relays: string[];
}

export interface Network {
  fx: Fixture;
  settlement: ReceiptSettlement;
  settlementAddress: string;
  chainId: bigint;
  teeVerifier: string;
  operators: Operator[];
  relays: RunningRelay[];
  /** The model's API id, `"<modelId>@<version>"`. */
  model: string;
  /** Every receipt the nodes' enclaves signed, in arrival order. */
  signed: { file: string; node: number }[];
  /** Tells every node the chain's current clock offset. */
  syncClocks(): Promise<void>;
  close(): Promise<void>;
}

export interface NetworkOptions {
  nodes: number;
  maxConcurrent: number;
  maxQueued: number;
  queueTimeoutMs: number;
  maxTokens: number;
}

/** Chain time minus wall time, in seconds. */
async function clockOffset(): Promise<number> {
  return (await time.latest()) - Date.now() / 1000;
}

/** Deploys and starts everything; `close` stops the node processes and the relays. */
export async function startNetwork(options: NetworkOptions): Promise<Network> {
  const fx = await receiptsSystemFixture();
  const { system } = fx;
  const settlement = system.receiptSettlement!;
  const settlementAddress = await settlement.getAddress();
  const signers = await hre.ethers.getSigners();
  const [buyer] = [fx.requester];
  const accounts = [...fx.nodes, ...signers.slice(7, 7 + Math.max(0, options.nodes - fx.nodes.length))];
  const relayAccounts = [fx.other, signers[12]!];

  await system.token.connect(buyer).approve(settlementAddress, hre.ethers.MaxUint256);
  for (const account of [...accounts, ...relayAccounts, buyer])
    await system.token.mint(account.address, 100_000n * TOKEN);
  const enclaves: HDNodeWallet[] = [];
  for (const [i, account] of accounts.slice(0, options.nodes).entries()) {
    if (i >= fx.nodes.length) {
      await system.token.connect(account).approve(await system.staking.getAddress(), hre.ethers.MaxUint256);
      await system.staking.connect(account).stake(STAKE);
      await system.staking.connect(account).register(modeMask([Mode.Vanilla, Mode.Tee]));
    }
    const enclave = i === 0 ? fx.enclave : Wallet.createRandom();
    if (i > 0) await registerByQuote(system, account, enclave);
    enclaves.push(enclave);
    await system.token.connect(account).approve(settlementAddress, hre.ethers.MaxUint256);
    await settlement.connect(account).depositBond(BOND);
    await settlement.connect(account).setPrice(fx.modelId, PER_TOKEN);
    await settlement.connect(buyer).deposit(account.address, CREDIT);
  }
  await time.increase(PRICE_NOTICE);

  const chainId = (await hre.ethers.provider.getNetwork()).chainId;
  const teeVerifier = await system.teeVerifier.getAddress();
  const signed: Network["signed"] = [];
  const offset = await clockOffset();
  const nodes = await Promise.all(
    enclaves.map((enclave, i) =>
      startNodeProcess(
        i,
        {
          type: "start",
          enclaveKey: enclave.privateKey,
          operator: accounts[i]!.address,
          settlement: settlementAddress,
          chainId: chainId.toString(),
          teeVerifier,
          modelId: fx.modelId.toString(),
          version: "1",
          perToken: PER_TOKEN.toString(),
          clockOffset: offset,
          maxConcurrent: options.maxConcurrent,
          maxQueued: options.maxQueued,
          queueTimeoutMs: options.queueTimeoutMs,
          maxTokens: options.maxTokens,
        },
        (file, node) => signed.push({ file, node }),
      ),
    ),
  );
  for (const node of nodes)
    await system.privacyRegistry
      .connect(accounts[node.index]!)
      .setGateway(enclaves[node.index]!.address, node.gatewayUrl);

  const relays: RunningRelay[] = [];
  for (const account of relayAccounts) {
    await system.token.connect(account).approve(await system.privacyRegistry.getAddress(), hre.ethers.MaxUint256);
    const relay = await startRelayService({ contracts: system, allowPrivateGateways: true, ratePerSecond: 100_000 });
    await system.privacyRegistry.connect(account).listRelay(relay.url);
    relays.push(relay);
  }

  // What a client reads from the chain.
  const gateways = await listGateways(system);
  const listedRelays = await listRelays(system);
  const operators: Operator[] = [];
  for (const node of nodes) {
    const signer = accounts[node.index]!;
    const gateway = gateways.find((g) => g.operator === signer.address);
    if (gateway === undefined) throw new Error(`the gateway of operator ${signer.address} is not listed`);
    operators.push({
      index: node.index,
      signer,
      enclave: enclaves[node.index]!,
      node,
      gatewayUrl: gateway.url,
      keyConfig: await gatewayKeyConfig(system, gateway.enclave),
      relays: independentRelays(listedRelays, gateway).map((r) => r.url),
    });
  }
  return {
    fx,
    settlement,
    settlementAddress,
    chainId,
    teeVerifier,
    operators,
    relays,
    model: `${fx.modelId}@1`,
    signed,
    syncClocks: async () => {
      const now = await clockOffset();
      for (const node of nodes) node.setClock(now);
    },
    close: async () => {
      await Promise.all(nodes.map((node) => node.close()));
      await Promise.all(relays.map((relay) => relay.close()));
    },
  };
}

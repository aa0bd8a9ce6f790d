/**
 * One TEE node of the agents benchmark in its own process, so that killing it (SIGKILL) is a real crash: its sockets
 * reset, its generations stop, and it refunds nothing. It serves the bundled model with the chat API twice, directly
 * (src/node/chat-api `startChatApi`, 127.0.0.1) and behind its OHTTP gateway (src/node/gateway), two handlers over one
 * model, signer and ledger, each with the node's limit of generations at once and its queue of requests waiting for
 * one (a run drives one path at a time).
 *
 * The parent is the operator's side that the process does not hold: it sends the enclave key, the settlement's
 * address and the chain's clock; the node reports every receipt its enclave signs (`receipt` messages) before the
 * answer that carries it leaves, which is what a node's receipt store would hold and settle. Payments are the bench's
 * {@link CredentialLedger}: a credential names the payment id the client chose; the node refuses one it has spent.
 */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { TypedDataDomain } from "ethers";
import type { Contracts } from "../../src/core/contracts";
import { InputError } from "../../src/core/errors";
import { silentLogger } from "../../src/core/log";
import { encodeReceiptFile, type Receipt } from "../../src/core/receipts";
import { loadTextGenerator } from "../../src/inference/text/llama-cpp";
import type { ModelSource } from "../../src/modes";
import { createChatApi, fixedPrice, startChatApi, type PaymentRedeemer } from "../../src/node/chat-api";
import { startPrivateGateway } from "../../src/node/gateway";
import { teeDomain } from "../../src/core/tee";
import { DevEnclave } from "../../src/tee";

export const MODEL_FILE = path.join(__dirname, "../../src/models/moby-dick-llama.gguf");

/** What the parent tells a node at start. */
export interface NodeStart {
  type: "start";
  enclaveKey: string;
  operator: string;
  settlement: string;
  chainId: string;
  teeVerifier: string;
  modelId: string;
  version: string;
  perToken: string;
  /** Chain time minus wall time, in seconds (receipts' `issuedAt` follow the chain's clock). */
  clockOffset: number;
  maxConcurrent: number;
  /** Requests that may wait for a generation slot (node/chat-api `maxQueued`; 0: 429 at once). */
  maxQueued: number;
  /** Longest a request waits for a slot before its 429 (node/chat-api `queueTimeoutMs`). */
  queueTimeoutMs: number;
  maxTokens: number;
}

type ToNode = NodeStart | { type: "clock"; offset: number };
type FromNode =
  | { type: "ready"; chatUrl: string; gatewayUrl: string }
  | { type: "receipt"; file: string }
  | { type: "error"; message: string };

/** The parent's handle on a node process. */
export interface NodeProcess {
  index: number;
  /** Base URL of the direct chat API (ends in `/v1`). */
  chatUrl: string;
  /** The gateway's URL as listed on-chain. */
  gatewayUrl: string;
  /** Sets the chain-minus-wall offset used for `issuedAt`. */
  setClock(offset: number): void;
  /** SIGKILL: the node dies with whatever it is serving. */
  kill(): void;
  readonly alive: boolean;
  /** Stops the process (SIGTERM: its servers die with it) and waits for it to exit. */
  close(): Promise<void>;
}

/** Forks a node process and waits until both its servers listen. Every receipt it signs goes to `onReceipt`. */
export async function startNodeProcess(
  index: number,
  start: NodeStart,
  onReceipt: (file: string, node: number) => void,
): Promise<NodeProcess> {
  const child: ChildProcess = fork(__filename, ["--node"], {
    execArgv: ["-r", "ts-node/register/transpile-only"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let alive = true;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => (alive = false));
  const ready = await new Promise<{ chatUrl: string; gatewayUrl: string }>((resolve, reject) => {
    child.on("message", (message: FromNode) => {
      if (message.type === "receipt") onReceipt(message.file, index);
      else if (message.type === "ready") resolve(message);
      else reject(new Error(`node ${index} failed to start: ${message.message}`));
    });
    child.once("exit", (code) => reject(new Error(`node ${index} exited with ${code} before it was ready`)));
    child.send(start satisfies ToNode);
  });
  return {
    index,
    ...ready,
    setClock: (offset) => void (alive && child.send({ type: "clock", offset } satisfies ToNode)),
    kill: () => void child.kill("SIGKILL"),
    get alive() {
      return alive;
    },
    close: async () => {
      if (alive) child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * Spends credentials, each once: a credential is the 32-byte payment id the client chose for one turn at one
 * operator (a prepaid balance's voucher, in effect); spent ones are refused, refunded ones may be spent again.
 */
export class CredentialLedger implements PaymentRedeemer {
  private readonly spent = new Set<string>();

  redeem(credential: string): Promise<{ paymentId: string; refund(): void }> {
    const id = credential.toLowerCase();
    if (!/^0x[0-9a-f]{64}$/.test(id)) return Promise.reject(new InputError("a credential is a 32-byte hex payment id"));
    if (this.spent.has(id)) return Promise.reject(new InputError(`the credential ${id} is spent`));
    this.spent.add(id);
    return Promise.resolve({ paymentId: id, refund: () => void this.spent.delete(id) });
  }
}

/* THE CHILD */

async function serve(start: NodeStart): Promise<void> {
  const enclave = new DevEnclave(start.enclaveKey);
  let offset = start.clockOffset;
  process.on("message", (message: ToNode) => {
    if (message.type === "clock") offset = message.offset;
  });
  const generator = await loadTextGenerator({ path: MODEL_FILE });
  // The node's receipt store: every receipt is reported (and acknowledged) before the answer carrying it is sent.
  const signer = {
    address: enclave.address,
    signReceipt: async (domain: TypedDataDomain, receipt: Receipt) => {
      const signature = await enclave.signReceipt(domain, receipt);
      const file = encodeReceiptFile({
        receipt,
        signature,
        chainId: BigInt(start.chainId),
        teeVerifier: start.teeVerifier,
      });
      await new Promise<void>((resolve, reject) =>
        process.send!({ type: "receipt", file } satisfies FromNode, (error: Error | null) =>
          error === null ? resolve() : reject(error),
        ),
      );
      return signature;
    },
  };
  // Two handlers over one model, one signer and one ledger: the direct API and the gateway's. A run drives one path
  // at a time, so each path meets the node's limit of generations at once.
  const options = {
    models: [{ modelId: BigInt(start.modelId), version: BigInt(start.version), generator }],
    receipts: {
      signer,
      operator: start.operator,
      settlement: start.settlement,
      domain: teeDomain(BigInt(start.chainId), start.teeVerifier),
      price: fixedPrice(BigInt(start.perToken)),
      now: () => Promise.resolve(BigInt(Math.floor(Date.now() / 1000 + offset))),
    },
    payments: new CredentialLedger(),
    maxConcurrent: start.maxConcurrent,
    maxQueued: start.maxQueued,
    queueTimeoutMs: start.queueTimeoutMs,
    maxTokens: start.maxTokens,
  };
  const direct = await startChatApi(options);
  // The chat API never reads the chain; the gateway does only for POST /v1/infer, which this bench never sends.
  const noChain = {} as Pick<Contracts, "teeVerifier" | "escrow" | "registry">;
  const noClassifier: ModelSource = { load: () => Promise.reject(new Error("this node serves no classifier")) };
  const gateway = await startPrivateGateway({
    enclave,
    operator: start.operator,
    contracts: noChain,
    chainId: BigInt(start.chainId),
    models: noClassifier,
    log: silentLogger,
    chat: createChatApi(options),
  });
  process.send!({ type: "ready", chatUrl: direct.url, gatewayUrl: gateway.url } satisfies FromNode);
}

if (process.argv.includes("--node") && process.send !== undefined)
  process.once("message", (message: ToNode) => {
    if (message.type !== "start") return;
    serve(message).catch((error: unknown) => {
      process.send!({ type: "error", message: (error as Error).stack ?? String(error) } satisfies FromNode);
      process.exit(1);
    });
  });

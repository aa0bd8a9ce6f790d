/**
 * The X25519 key a node opens sealed job inputs with (src/core/sealed.ts), and its publication in PrivacyRegistry
 * (`setNodeKey`), where requesters read it. A TEE node's key is its enclave's HPKE key, opened inside the enclave; any
 * other node keeps one in its data directory.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { getBytes, hexlify, isHexString } from "ethers";
import { requirePrivacyRegistry } from "../core/contracts";
import { KeyError, RevertError } from "../core/errors";
import { withRetry } from "../core/retry";
import { generateX25519PrivateKey, openInput, x25519PublicKeyOf, type SealedOpening } from "../core/sealed";
import type { DevEnclave } from "../tee/dev-enclave";
import type { OperatorContext } from "./context";
import type { Logger } from "../core/log";

/** The file holding a non-TEE node's X25519 private key (hex, mode 0600). */
export const NODE_KEY_FILE = "node-hpke.key";

/** What opens sealed inputs addressed to this node. */
export interface NodeKey {
  /** The X25519 public key (32 bytes, 0x hex) requesters seal to: what PrivacyRegistry should hold for the node. */
  readonly publicKey: string;
  /** Where the private half lives. */
  readonly source: "enclave" | "file";
  /** Opens an envelope addressed to the node (see `openInput` for what each failure throws). */
  open(opening: SealedOpening): Promise<Uint8Array>;
}

/**
 * The node's sealed-input key: its enclave's HPKE key when it has an enclave (the private key stays in the
 * enclave), else the key in `<dataDir>/node-hpke.key`, created when absent if `create` is set.
 * @throws KeyError when the key file is not 32 bytes of hex.
 * @example const key = loadNodeKey(config.dataDir, { enclave, create: true })!; await publishNodeKey(ctx, key, log);
 */
export function loadNodeKey(
  dataDir: string,
  options: { enclave?: Pick<DevEnclave, "hpkePublicKey" | "openSealed">; create?: boolean } = {},
): NodeKey | undefined {
  const { enclave } = options;
  if (enclave !== undefined)
    return { publicKey: enclave.hpkePublicKey, source: "enclave", open: (opening) => enclave.openSealed(opening) };
  const file = path.join(dataDir, NODE_KEY_FILE);
  if (!existsSync(file)) {
    if (!options.create) return undefined;
    writeFileSync(file, `${hexlify(generateX25519PrivateKey())}\n`, { mode: 0o600, flag: "wx" });
  }
  const text = readFileSync(file, "utf8").trim();
  if (!isHexString(text, 32)) throw new KeyError(`${file} does not hold a 32-byte hex X25519 private key`);
  const privateKey = getBytes(text);
  return {
    publicKey: x25519PublicKeyOf(privateKey),
    source: "file",
    open: (opening) => openInput({ ...opening, privateKey }),
  };
}

/** What {@link publishNodeKey} did. */
export interface PublishNodeKeyReturnType {
  action: "unchanged" | "published";
  /** The key PrivacyRegistry held before. */
  previous: string;
  /** The `setNodeKey` transaction, when one was sent. */
  tx?: string;
}

/**
 * Makes PrivacyRegistry hold `key.publicKey` for the operator: reads `nodeKey(operator)` and sends `setNodeKey`
 * through the operator's outbox when it is absent or different.
 * @throws ConfigError when the config names no PrivacyRegistry; RevertError (decoded) when the registry refuses, e.g.
 *   PrivacyRegistryNotOperator for an unregistered node.
 * @example const { action } = await publishNodeKey(ctx, key, log);
 */
export async function publishNodeKey(
  ctx: Pick<OperatorContext, "contracts" | "sender" | "wallet" | "config">,
  key: Pick<NodeKey, "publicKey">,
  log?: Logger,
): Promise<PublishNodeKeyReturnType> {
  const registry = requirePrivacyRegistry(ctx.contracts);
  const node = ctx.wallet.address;
  const previous = await withRetry("privacyRegistry.nodeKey", () => registry.nodeKey(node), {
    timeoutMs: ctx.config.rpcTimeoutMs,
  });
  if (previous.toLowerCase() === key.publicKey.toLowerCase()) return { action: "unchanged", previous };
  const context = { contract: "privacyRegistry", call: "setNodeKey" };
  const to = await registry.getAddress();
  const data = registry.interface.encodeFunctionData("setNodeKey", [key.publicKey]);
  const tx = await ctx.sender.send({
    key: `setNodeKey:${key.publicKey}:${Date.now()}`,
    kind: "setNodeKey",
    to,
    data,
    context,
  });
  const receipt = await ctx.sender.wait(tx);
  if (receipt.status !== 1) {
    // Simulated again to name the reason (the state changed between the send's simulation and inclusion).
    await ctx.sender.simulate({ to, data, context });
    throw new RevertError(`privacyRegistry.setNodeKey reverted in ${receipt.hash}`, undefined, {}, { context });
  }
  log?.info({ node, key: key.publicKey, previous, tx: receipt.hash }, "node key published for sealed inputs");
  return { action: "published", previous, tx: receipt.hash };
}

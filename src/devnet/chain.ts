import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { JsonRpcProvider } from "ethers";
import { BaseError } from "../core/errors";

/** Raised when the local chain cannot be started or reached. */
export class LocalChainError extends BaseError {
  override readonly name = "LocalChainError";
}

export interface LocalChain {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `hardhat node` as a real JSON-RPC server on 127.0.0.1 and waits until it answers `eth_chainId`.
 * Each probe has its own timeout; the whole wait is bounded by `readyTimeoutMs`.
 */
export async function startHardhatNode(options: {
  port: number;
  cwd: string;
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}): Promise<LocalChain> {
  const url = `http://127.0.0.1:${options.port}`;
  if (await answers(url, 1_000)) {
    throw new LocalChainError(
      `port ${options.port} already serves a JSON-RPC node (another \`npm start\`?): stop it first`,
    );
  }
  const child = spawn(
    "npx",
    ["hardhat", "--network", "hardhat", "node", "--hostname", "127.0.0.1", "--port", String(options.port)],
    {
      cwd: options.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  let output = "";
  child.stdout?.on(
    "data",
    (chunk: Buffer) => (output += chunk.toString()).length > 20_000 && (output = output.slice(-10_000)),
  );
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    options.log?.(chunk.toString().trim());
  });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new LocalChainError(`hardhat node exited with code ${child.exitCode}:\n${output.slice(-2_000)}`);
    if (await answers(url, 1_000)) {
      return { url, process: child, stop: () => stopProcess(child) };
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await stopProcess(child);
  throw new LocalChainError(
    `hardhat node did not answer on ${url} within ${options.readyTimeoutMs ?? 120_000} ms:\n${output.slice(-2_000)}`,
  );
}

async function answers(url: string, timeoutMs: number): Promise<boolean> {
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true });
  try {
    await Promise.race([
      provider.send("eth_chainId", []),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), timeoutMs)),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    provider.destroy();
  }
}

/** Sends SIGTERM to the process group, then SIGKILL if it has not exited within 5 s. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      /* already gone */
    }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts {@link ./peer.ts} peers in child processes and talks to them (tests and bench/storage.ts). */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { PeerRequest } from "./peer";
import type { Provider } from "../../../src/storage";

const PEER_SCRIPT = path.join(__dirname, "peer.ts");

type Request = PeerRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

/** A peer running in a child process. */
export interface PeerProcess {
  label: string;
  peerId: string;
  multiaddrs: string[];
  /** Its trustless gateway (base URL). */
  gateway: string;
  child: ChildProcess;
  provider(): Provider;
  call<T>(request: Request): Promise<T>;
  /** Closes the store and waits for the process to exit. */
  close(): Promise<void>;
  /** SIGKILL, as a machine that goes away. */
  kill(): Promise<void>;
}

/** Starts a peer over `dir` (blocks in `<dir>/blocks`). */
export async function startPeer(
  label: string,
  dir: string,
  options: { stallMs?: number; dialMs?: number } = {},
): Promise<PeerProcess> {
  const child = fork(PEER_SCRIPT, [], {
    // PEER_NODE_FLAGS: node flags of the peers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (profiles on close).
    execArgv: [
      ...(process.env.PEER_NODE_FLAGS ?? "").split(" ").filter(Boolean),
      "-r",
      "ts-node/register/transpile-only",
    ],
    env: {
      ...process.env,
      PEER_DIR: dir,
      PEER_STALL_MS: String(options.stallMs ?? 10_000),
      PEER_DIAL_MS: String(options.dialMs ?? 5_000),
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 1;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = await new Promise<{ peerId: string; multiaddrs: string[]; gateway: string }>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`peer ${label} exited with ${code} before it was ready`)));
    child.on("message", (message: { ready?: boolean; id?: number; ok?: boolean; result?: unknown; error?: Error }) => {
      if (message.ready) return resolve(message as never);
      const waiter = pending.get(message.id as number);
      if (waiter === undefined) return;
      pending.delete(message.id as number);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(Object.assign(new Error(message.error?.message), { name: message.error?.name }));
    });
  });
  child.on("exit", () => {
    for (const waiter of pending.values()) waiter.reject(new Error(`peer ${label} exited`));
    pending.clear();
  });
  const peer: PeerProcess = {
    label,
    ...ready,
    child,
    provider: () => ({ label, multiaddrs: ready.multiaddrs }),
    call: <T>(request: Request) =>
      new Promise<T>((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...request, id });
      }),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await peer.call({ op: "close" }).catch(() => undefined);
      await exited;
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
  return peer;
}

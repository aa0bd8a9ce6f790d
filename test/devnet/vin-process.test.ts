import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnVin } from "../../src/devnet/vin-process";

/** The devnet's one spawner of `vin` child processes: readiness from an output line, the log file, early exits. */
describe("devnet spawnVin", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(os.tmpdir(), "vin-process-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("resolves with what `ready` reads from a line, and writes the output to the log file", async () => {
    const logFile = path.join(dir, "help.log");
    const lines: string[] = [];
    const vin = spawnVin({
      args: ["--help"],
      name: "vin --help",
      logFile,
      ready: (line) => /^Usage: (\S+)/.exec(line)?.[1],
      onLine: (line) => lines.push(line),
    });
    expect(await vin.ready).to.equal("vin");
    expect((await vin.exited).code).to.equal(0);
    expect(lines.length).to.be.greaterThan(3);
    expect(readFileSync(logFile, "utf8")).to.contain("Usage: vin");
  });

  it("rejects, naming the process, how it ended and its log, when it exits before it is ready", async () => {
    const logFile = path.join(dir, "bad.log");
    const vin = spawnVin({
      args: ["--no-such-option"],
      name: "relay r9",
      readyWord: "listened",
      logFile,
      ready: (line) => (line.includes("never printed") ? true : undefined),
    });
    const error = await vin.ready.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).to.match(/^relay r9 exited \(code [1-9]\d*\) before it listened; its log: .*bad\.log$/);
    expect(readFileSync(logFile, "utf8")).to.contain("unknown option");
  });

  it("stops a process that never becomes ready", async () => {
    const vin = spawnVin({
      args: ["ipfs", "serve", "--ipfs-dir", path.join(dir, "ipfs"), "--listen", "/ip4/127.0.0.1/tcp/0"],
      name: "peer",
      ready: () => undefined,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await vin.stop();
    const exit = await vin.exited;
    expect(exit.code !== null || exit.signal !== null).to.equal(true);
    await vin.ready.then(
      () => expect.fail("a process that was stopped is not ready"),
      (e: Error) => expect(e.message).to.match(/^peer exited/),
    );
  });
});

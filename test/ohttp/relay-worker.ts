/**
 * A relay in its own thread (its own V8 heap), for the test that searches a relay's memory: forwards to the one
 * gateway it is given, logs through the parent. Does nothing when loaded outside a worker (mocha loads every file
 * under test/).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import pino from "pino";
import { createRelayHandler } from "../../src/ohttp/relay";

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const { gateway } = workerData as { gateway: string };
  const logger = pino({ level: "info" }, { write: (line: string) => port.postMessage({ log: line }) });
  const server = createServer(createRelayHandler({ allowGateway: (url) => url.href === gateway, logger }));
  server.listen(0, "127.0.0.1", () => {
    port.postMessage({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` });
  });
  port.on("message", (message: { close?: boolean }) => {
    if (message.close === true) {
      server.closeAllConnections();
      server.close(() => process.exit(0));
    }
  });
}

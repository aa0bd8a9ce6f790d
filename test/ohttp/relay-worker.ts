/**
 * A relay in its own thread (its own V8 heap), for the test that searches a relay's memory: forwards to the one
 * gateway it is given, logs through the parent.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import pino from "pino";
import { createRelayHandler } from "../../src/ohttp/relay";

const { gateway } = workerData as { gateway: string };
const logger = pino({ level: "info" }, { write: (line: string) => parentPort!.postMessage({ log: line }) });
const server = createServer(createRelayHandler({ allowGateway: (url) => url.href === gateway, logger }));
server.listen(0, "127.0.0.1", () => {
  parentPort!.postMessage({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` });
});
parentPort!.on("message", (message: { close?: boolean }) => {
  if (message.close === true) {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});

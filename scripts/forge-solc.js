#!/usr/bin/env node
/**
 * A solc executable for forge, backed by the pinned npm `solc` package: forge cannot download compilers here.
 * forge calls `--version` to identify the compiler and `--standard-json` (input on stdin) to compile.
 */
"use strict";
const solc = require("solc");

function readStdin() {
  const chunks = [];
  const fd = 0;
  const buffer = Buffer.alloc(1 << 16);
  for (;;) {
    let read;
    try {
      read = require("node:fs").readSync(fd, buffer, 0, buffer.length, null);
    } catch (error) {
      if (error.code === "EAGAIN") continue;
      if (error.code === "EOF") break;
      throw error;
    }
    if (read === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, read)));
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Resolves imports forge did not inline (it normally sends every source, so this is a fallback). */
function findImports(importPath) {
  const fs = require("node:fs");
  const path = require("node:path");
  for (const candidate of [importPath, path.join("node_modules", importPath)]) {
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `File not found: ${importPath}` };
}

const args = process.argv.slice(2);
if (args.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
} else if (args.includes("--standard-json")) {
  process.stdout.write(solc.compile(readStdin(), { import: findImports }));
} else {
  process.stderr.write(`forge-solc: unsupported arguments: ${args.join(" ")}\n`);
  process.exit(2);
}

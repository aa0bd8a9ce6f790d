#!/usr/bin/env node
// `vin` without a build step: the CLI runs from its TypeScript sources through ts-node (transpile only).
require("ts-node").register({
  transpileOnly: true,
  project: require("node:path").join(__dirname, "..", "tsconfig.json"),
});
require("../src/cli/main")
  .main(process.argv)
  .then((code) => {
    if (code !== 0) process.exit(code);
  });

// solidity-coverage (`npx hardhat coverage`): measure the protocol's contracts, not the test doubles.
module.exports = {
  // Paths relative to contracts/: attacker and test-only contracts, and the development token.
  skipFiles: ["test/", "mocks/"],
  istanbulReporter: ["text", "text-summary", "json-summary", "html"],
  // The mocha suites that exercise Solidity; the zkml/hub suites test TypeScript and only slow coverage down.
  mocha: { timeout: 600_000 },
};

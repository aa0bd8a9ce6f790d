import { expect } from "chai";
import { isPrivateAddress, isPrivateHost } from "../../../src/core/net";

describe("core/net", () => {
  it("isPrivateAddress: loopback, RFC 1918, CGNAT, link-local, unspecified and ULA are private, in v4, v6 and v4-mapped v6", () => {
    for (const address of [
      "127.0.0.1",
      "127.255.0.9",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.254",
      "192.168.1.1",
      "100.64.0.1",
      "169.254.169.254",
      "0.0.0.0",
      "::1",
      "::",
      "fc00::1",
      "fd12:3456::1",
      "fe80::1",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
    ])
      expect(isPrivateAddress(address), address).to.equal(true);
  });

  it("isPrivateAddress: public v4 and v6 addresses, v4-mapped ones included, are not, nor is anything that is not an IP", () => {
    for (const address of [
      "8.8.8.8",
      "1.1.1.1",
      "203.0.113.7",
      "172.32.0.1",
      "100.128.0.1",
      "2001:4860:4860::8888",
      "::ffff:8.8.8.8",
      "example.com",
      "",
    ])
      expect(isPrivateAddress(address), address).to.equal(false);
  });

  it("isPrivateHost: literal addresses (bracketed v6 too) and names that resolve to a private address", async () => {
    expect(await isPrivateHost("8.8.8.8")).to.equal(false);
    expect(await isPrivateHost("[2001:4860:4860::8888]")).to.equal(false);
    expect(await isPrivateHost("[::1]")).to.equal(true);
    expect(await isPrivateHost("localhost")).to.equal(true);
    // A name that does not resolve has nothing public to reach.
    expect(await isPrivateHost("no-such-host.invalid")).to.equal(true);
  });
});

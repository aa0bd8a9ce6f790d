import { expect } from "chai";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import pino from "pino";
import { STAKE, systemFixture, type Fixture } from "../../fixtures/system";
import { ConfigError } from "../../../src/core/errors";
import { parseProviderAddress, providerSource, readProviders } from "../../../src/core/providers";
import type { ProviderDirectory } from "../../../typechain-types";

const PEER = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
const PEER_V0 = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
const PEER_B32 = "bafzaajaiaejcbqeqbd3ajeiqhs3mkwqgs4bhoxpzs5z2yapvvm2djlkf3jd7xuhc";
const GOOD = `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`;
const GOOD6 = `/ip6/::1/tcp/4002/p2p/${PEER}`;
const UDP = `/ip4/127.0.0.1/udp/4001/quic-v1/p2p/${PEER}`;

interface Lines {
  lines: Record<string, unknown>[];
  log: pino.Logger;
}

/** A logger whose warnings land in `lines`. */
function capture(): Lines {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line) as never) });
  return { lines, log };
}

async function load(): Promise<Fixture> {
  const fx = await loadFixture(systemFixture);
  await mine();
  return fx;
}

/** A directory double: `providers()` answers from `answers` in turn (an Error is thrown). */
function fakeDirectory(answers: (string[] | Error)[]): { providerDirectory: ProviderDirectory; calls: () => number } {
  let calls = 0;
  const directory = {
    providers: async () => {
      const answer = answers[Math.min(calls++, answers.length - 1)]!;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    isStakedOperator: async () => true,
    addressesOf: async () => [GOOD],
  };
  return { providerDirectory: directory as unknown as ProviderDirectory, calls: () => calls };
}

describe("core/providers", () => {
  describe("parseProviderAddress", () => {
    it("accepts /ip4, /ip6, /dns, /dns4 and /dns6 hosts with a TCP port and a peer id (base58 or base32)", () => {
      for (const [text, host, port, peerId] of [
        [GOOD, "127.0.0.1", 4001, PEER],
        [GOOD6, "::1", 4002, PEER],
        [`/dns/provider.example/tcp/1/p2p/${PEER_V0}`, "provider.example", 1, PEER_V0],
        [`/dns4/a.b-c.example/tcp/65535/p2p/${PEER}`, "a.b-c.example", 65535, PEER],
        [`/dns6/localhost/tcp/4001/p2p/${PEER_B32}`, "localhost", 4001, PEER_B32],
      ] as const) {
        expect(parseProviderAddress(text), text).to.deep.equal({ ok: true, host, port, peerId });
      }
    });

    it("refuses everything else, saying why", () => {
      for (const [text, reason] of [
        ["ip4/127.0.0.1/tcp/4001", /does not start with \//],
        ["/", /starts with \/, not \/ip4/],
        ["/ip4", /has no host after \/ip4/],
        ["/ip4/127.0.0.1", /has nothing where \/tcp\/<port> belongs/],
        ["/ip4/127.0.0.1/tcp/4001", /has nothing where \/p2p\/<peer id> belongs/],
        ["/ip4/127.0.0.1/tcp", /"" is not a TCP port/],
        ["/ip4/127.0.0.1/tcp/4001/p2p", /"" is not a peer id/],
        [`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}/`, /has \/ after the peer id/],
        [`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}/p2p-circuit`, /has \/p2p-circuit after the peer id/],
        [`/ip4/127.0.0.1/tcp/4001/ws/p2p/${PEER}`, /has \/ws where \/p2p\/<peer id> belongs/],
        [`/dnsaddr/bootstrap.example/tcp/4001/p2p/${PEER}`, /starts with \/dnsaddr/],
        [`/ip4/256.0.0.1/tcp/4001/p2p/${PEER}`, /"256.0.0.1" is not an IPv4 address/],
        [`/ip6/127.0.0.1/tcp/4001/p2p/${PEER}`, /"127.0.0.1" is not an IPv6 address/],
        [`/dns4/-bad.example/tcp/4001/p2p/${PEER}`, /is not a DNS name/],
        [`/dns4/a..example/tcp/4001/p2p/${PEER}`, /is not a DNS name/],
        [UDP, /has \/udp where \/tcp\/<port> belongs/],
        [`/ip4/127.0.0.1/tcp/0/p2p/${PEER}`, /"0" is not a TCP port/],
        [`/ip4/127.0.0.1/tcp/65536/p2p/${PEER}`, /"65536" is not a TCP port/],
        [`/ip4/127.0.0.1/tcp/04001/p2p/${PEER}`, /"04001" is not a TCP port/],
        [`/ip4/127.0.0.1/tcp/4001/ipfs/${PEER}`, /has \/ipfs where \/p2p/],
        [`/ip4/127.0.0.1/tcp/4001/p2p/0OIl${PEER.slice(4)}`, /is not a peer id/],
        [`/ip4/127.0.0.1/tcp/4001/p2p/short`, /is not a peer id/],
      ] as const) {
        const parsed = parseProviderAddress(text);
        expect(parsed.ok, text).to.equal(false);
        if (!parsed.ok) expect(parsed.reason, text).to.match(reason);
      }
    });
  });

  describe("readProviders", () => {
    it("returns the staked operators' dialable addresses, labelled by checksummed address, logging every drop", async () => {
      const { system, nodes } = await load();
      const directory = system.providerDirectory;
      const [a, b, c] = [nodes[0]!, nodes[1]!, nodes[2]!];
      await directory.connect(a).announce([GOOD, UDP, GOOD6, GOOD]);
      await directory.connect(b).announce([UDP]);
      await directory.connect(c).announce([GOOD]);
      await system.staking.connect(c).unstake(STAKE);
      const { lines, log } = capture();
      const providers = await readProviders({ providerDirectory: directory }, { log, allowPrivate: true });
      expect(providers).to.deep.equal([{ label: a.address, multiaddrs: [GOOD, GOOD6] }]);
      expect(a.address).to.not.equal(a.address.toLowerCase()); // the label is checksummed, not lowercase
      // Operators are read concurrently: the lines come in any order.
      expect(lines.map((l) => `${String(l.operator)} ${String(l.msg)}`)).to.have.members([
        `${a.address} provider address ignored: it has /udp where /tcp/<port> belongs`,
        `${b.address} provider address ignored: it has /udp where /tcp/<port> belongs`,
        `${b.address} provider skipped: none of its announced addresses can be dialled`,
        `${c.address} provider skipped: the operator is no longer staked`,
      ]);
      expect(lines.every((l) => l.level === 40)).to.equal(true); // warn
    });

    it("leaves out the excluded operators, in any case, and returns [] for an empty directory", async () => {
      const { system, nodes } = await load();
      const directory = system.providerDirectory;
      expect(await readProviders({ providerDirectory: directory })).to.deep.equal([]);
      await directory.connect(nodes[0]!).announce([GOOD]);
      await directory.connect(nodes[1]!).announce([GOOD6]);
      const providers = await readProviders(
        { providerDirectory: directory },
        { exclude: [nodes[0]!.address.toLowerCase()], concurrency: 1, allowPrivate: true },
      );
      expect(providers).to.deep.equal([{ label: nodes[1]!.address, multiaddrs: [GOOD6] }]);
    });

    it("drops, unless allowed, addresses whose host is loopback, private or link-local, or a name that resolves to one", async () => {
      const { system, nodes } = await load();
      const directory = system.providerDirectory;
      const PUBLIC = `/ip4/203.0.113.7/tcp/4001/p2p/${PEER}`;
      const privates = [
        GOOD,
        GOOD6,
        `/ip4/10.1.2.3/tcp/4001/p2p/${PEER}`,
        `/ip4/192.168.0.9/tcp/4001/p2p/${PEER}`,
        `/ip4/169.254.169.254/tcp/80/p2p/${PEER}`,
        `/dns4/localhost/tcp/4001/p2p/${PEER}`,
      ];
      await directory.connect(nodes[0]!).announce([privates[0]!, PUBLIC, privates[2]!, privates[4]!]);
      await directory.connect(nodes[1]!).announce([privates[1]!, privates[3]!, privates[5]!]);
      const { lines, log } = capture();
      const providers = await readProviders({ providerDirectory: directory }, { log, concurrency: 1 });
      expect(providers, JSON.stringify(lines)).to.deep.equal([{ label: nodes[0]!.address, multiaddrs: [PUBLIC] }]);
      const ignored = lines.filter((l) => /ignored: its host/.test(String(l.msg))).map((l) => l.address);
      expect(ignored).to.have.members(privates);
      expect(String(lines[0]!.msg)).to.match(/is a loopback, private or link-local address .*ipfsAllowPrivate/);
      expect(lines.map((l) => String(l.msg))).to.include(
        "provider skipped: none of its announced addresses can be dialled",
      );
      // Allowed (a devnet), every one of them is kept.
      const allowed = await readProviders({ providerDirectory: directory }, { allowPrivate: true, concurrency: 1 });
      expect(allowed.flatMap((p) => p.multiaddrs)).to.have.members([...privates, PUBLIC]);
    });

    it("throws ConfigError when the contracts have no provider directory", async () => {
      let error: unknown;
      try {
        await readProviders({});
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(ConfigError);
      expect((error as Error).message).to.match(/no "providerDirectory" address is configured/);
    });
  });

  describe("providerSource", () => {
    it("reuses a read for ttlMs; with ttlMs 0 it reads the chain on every call", async () => {
      const { system, nodes } = await load();
      const directory = system.providerDirectory;
      await directory.connect(nodes[0]!).announce([GOOD]);
      const cached = providerSource({ providerDirectory: directory }, { ttlMs: 3_600_000, allowPrivate: true });
      const fresh = providerSource({ providerDirectory: directory }, { ttlMs: 0, allowPrivate: true });
      expect((await cached()).length).to.equal(1);
      expect((await fresh()).length).to.equal(1);
      await directory.connect(nodes[1]!).announce([GOOD6]);
      expect((await cached()).length).to.equal(1);
      expect((await fresh()).map((p) => p.label)).to.have.members([nodes[0]!.address, nodes[1]!.address]);
    });

    it("calls made while a read is in flight share it", async () => {
      const fake = fakeDirectory([["0x" + "11".repeat(20)]]);
      const source = providerSource(fake, { ttlMs: 0, allowPrivate: true });
      const [one, two] = await Promise.all([source(), source()]);
      expect(fake.calls()).to.equal(1);
      expect(one).to.equal(two);
      await source();
      expect(fake.calls()).to.equal(2);
    });

    it("serves the last good list when a refresh fails, logging it; with none yet, throws the failure", async () => {
      const operator = "0x" + "ab".repeat(20);
      const fake = fakeDirectory([[operator], new Error("boom")]);
      const { lines, log } = capture();
      const source = providerSource(fake, { ttlMs: 0, log, allowPrivate: true });
      const first = await source();
      expect(await source()).to.deep.equal(first);
      expect(lines.map((l) => l.msg)).to.deep.equal([
        "reading the provider directory failed: serving the last list read",
      ]);
      const failing = providerSource(fakeDirectory([new Error("boom")]), { ttlMs: 0 });
      let error: unknown;
      try {
        await failing();
      } catch (caught) {
        error = caught;
      }
      expect((error as Error).message).to.equal("boom");
    });

    it("throws ConfigError at once when the contracts have no provider directory", () => {
      expect(() => providerSource({}, { ttlMs: 0 })).to.throw(ConfigError, /no "providerDirectory"/);
    });
  });
});

/**
 * Which hosts are private: loopback, RFC 1918 and ULA, link-local, CGNAT and unspecified addresses. A process that
 * dials or forwards to an address someone else chose (a relay to a gateway listed on-chain, a node to a provider
 * announced on-chain) refuses these by default, so that an entry on-chain cannot aim it at services on its own host
 * or network; devnets, where everything listens on 127.0.0.1, allow them explicitly.
 */
import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

const PRIVATE = (() => {
  const list = new BlockList();
  for (const [net, prefix] of [
    ["0.0.0.0", 8],
    ["10.0.0.0", 8],
    ["100.64.0.0", 10],
    ["127.0.0.0", 8],
    ["169.254.0.0", 16],
    ["172.16.0.0", 12],
    ["192.168.0.0", 16],
  ] as const)
    list.addSubnet(net, prefix, "ipv4");
  for (const [net, prefix] of [
    ["::", 128],
    ["::1", 128],
    ["fc00::", 7],
    ["fe80::", 10],
  ] as const)
    list.addSubnet(net, prefix, "ipv6");
  // No ::ffff:0:0/96 entry: BlockList matches IPv4 addresses against it, so it would make every IPv4 address
  // private; IPv4-mapped IPv6 addresses are matched against the IPv4 ranges above.
  return list;
})();

/**
 * Whether an IP address (v4 or v6, without brackets) is in a private range; false for anything that is not an IP.
 * @example isPrivateAddress("10.1.2.3") // true; isPrivateAddress("8.8.8.8") // false
 */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && PRIVATE.check(address, family === 6 ? "ipv6" : "ipv4");
}

/**
 * Whether `hostname` is, or resolves to, an address in a private range (any of its addresses). A name that does not
 * resolve counts as private: there is nothing public to reach.
 * @example if (await isPrivateHost(new URL(url).hostname)) throw new InputError(`${url} is not public`);
 */
export async function isPrivateHost(hostname: string): Promise<boolean> {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (isIP(host) !== 0) return isPrivateAddress(host);
  const addresses = await lookup(host, { all: true }).catch(() => [] as { address: string }[]);
  return addresses.length === 0 || addresses.some(({ address }) => isPrivateAddress(address));
}

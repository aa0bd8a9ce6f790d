/**
 * The gas of the provider directory (issue #18), on a fresh in-process deployment: a staked operator's first
 * announcement of two typical addresses (an IPv4 and an IPv6 TCP multiaddr with an Ed25519 peer id, 82 bytes each),
 * its replacement, and its withdrawal.
 */
import type { ContractTransactionResponse } from "ethers";
import { systemFixture } from "../../test/fixtures/system";
import type { Row } from "./report";

const PEER = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
const ADDRESSES = [`/ip4/203.0.113.7/tcp/4001/p2p/${PEER}`, `/ip6/2001:db8::7/tcp/4001/p2p/${PEER}`];

async function gas(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("no receipt");
  return Number(receipt.gasUsed);
}

export async function measureDirectoryGas(): Promise<Row[]> {
  const fx = await systemFixture();
  const directory = fx.system.providerDirectory.connect(fx.nodes[0]!);
  const bytes = ADDRESSES.map((a) => a.length).join(" + ");
  return [
    {
      key: "announceProviders",
      value: await gas(directory.announce(ADDRESSES)),
      unit: "gas",
      note: `an operator's first announcement: two multiaddrs (${bytes} bytes)`,
    },
    {
      key: "reannounceProviders",
      value: await gas(directory.announce([...ADDRESSES].reverse())),
      unit: "gas",
      note: "the same two multiaddrs announced again, in the other order (every slot rewritten)",
    },
    {
      key: "withdrawProviders",
      value: await gas(directory.withdraw()),
      unit: "gas",
      note: "the announcement withdrawn (its slots cleared)",
    },
  ];
}

/**
 * The gas of the private path (issue #13), on a fresh in-process deployment: listing a relay, a gateway and a node's
 * sealed-input key in PrivacyRegistry, and the Privacy Pass money path of PrivacyPassEscrow (register an issuer key,
 * buy a batch, acknowledge it, redeem spent nonces, withdraw), plus a vanilla request with its input in clear and
 * sealed to one node, whose difference is the price of keeping an on-chain job's input private.
 */
import { hexlify, keccak256, toUtf8Bytes, type ContractTransactionResponse } from "ethers";
import { encodeSaltedInput } from "../../src/core/job";
import { Mode } from "../../src/core/modes";
import { sealInput } from "../../src/core/sealed";
import { generateIssuerKey } from "../../src/privacypass";
import { DevEnclave } from "../../src/tee";
import { requestParams, systemFixture } from "../../test/fixtures/system";
import type { Row } from "./report";

async function gas(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("no receipt");
  return Number(receipt.gasUsed);
}

export async function measurePrivacyGas(): Promise<Row[]> {
  const fx = await systemFixture();
  const { privacyRegistry, privacyPassEscrow, token, escrow } = fx.system;
  const [operator] = fx.nodes;
  if (operator === undefined) throw new Error("fixture has no nodes");
  const rows: Row[] = [];

  const { relayBond } = await privacyRegistry.parameters();
  await token.connect(fx.other).approve(await privacyRegistry.getAddress(), relayBond);
  rows.push({
    key: "listRelay",
    value: await gas(privacyRegistry.connect(fx.other).listRelay("https://relay.example/ohttp")),
    unit: "gas",
    note: "a relay listed with its bond (28-byte URL)",
  });
  rows.push({
    key: "setGateway",
    value: await gas(privacyRegistry.connect(operator).setGateway(fx.enclave.address, "https://gateway.example/")),
    unit: "gas",
    note: "a TEE operator lists its enclave's gateway (enclave checks in TeeVerifier, key configuration hash)",
  });
  const nodeKey = new DevEnclave(fx.enclave.privateKey).hpkePublicKey;
  rows.push({
    key: "setNodeKey",
    value: await gas(privacyRegistry.connect(operator).setNodeKey(nodeKey)),
    unit: "gas",
    note: "a node publishes its X25519 key for sealed inputs",
  });

  const issuer = await generateIssuerKey();
  rows.push({
    key: "registerIssuer",
    value: await gas(privacyPassEscrow.connect(operator).registerIssuer(issuer.publicKey, 10n ** 16n)),
    unit: "gas",
    note: `an issuer key registered (${issuer.publicKey.length}-byte RSA-PSS SPKI)`,
  });
  await token.connect(fx.requester).approve(await privacyPassEscrow.getAddress(), 10n ** 20n);
  await (await privacyPassEscrow.connect(fx.requester).buy(issuer.keyId, 1, 10n ** 20n)).wait();
  rows.push({
    key: "buyPasses100",
    value: await gas(privacyPassEscrow.connect(fx.requester).buy(issuer.keyId, 100, 10n ** 20n)),
    unit: "gas",
    note: "a buyer's second purchase, 100 passes",
  });
  rows.push({
    key: "acknowledgePurchases2",
    value: await gas(privacyPassEscrow.connect(operator).acknowledge([1n, 2n])),
    unit: "gas",
    note: "the issuer acknowledges two purchases",
  });
  const nonces = Array.from({ length: 100 }, (_, i) => keccak256(toUtf8Bytes(`bench:gas pass ${i}`)));
  await (await privacyPassEscrow.connect(operator).redeem(issuer.keyId, nonces.slice(0, 1))).wait();
  const redeem100 = await gas(privacyPassEscrow.connect(operator).redeem(issuer.keyId, nonces.slice(1, 100)));
  rows.push({
    key: "redeemPassesPerToken",
    value: Math.round(redeem100 / 99),
    unit: "gas",
    note: `per redeemed pass in a batch of 99 (${redeem100.toLocaleString("en-US")} in all): one spent-nonce slot each`,
  });

  const clear = await requestParams({ input: toUtf8Bytes("[39.1,18.7,181,3750]") });
  await token.connect(fx.requester).approve(await escrow.getAddress(), 10n ** 21n);
  await (await escrow.connect(fx.requester).request(clear)).wait(); // warm: the first request writes cold slots
  const requestClear = await gas(escrow.connect(fx.requester).request(clear));
  const requester = fx.requester.address;
  // What the SDK seals: the features with a salt, so that the public commitment cannot confirm a guess.
  const plaintext = encodeSaltedInput([39.1, 18.7, 181, 3750]);
  const commitment = keccak256(plaintext);
  const sealed = await sealInput({
    plaintext,
    recipients: [{ node: operator.address, publicKey: nodeKey }],
    context: {
      chainId: (await fx.requester.provider.getNetwork()).chainId,
      escrow: await escrow.getAddress(),
      requester,
      modelId: 1n,
      version: 1n,
      mode: Mode.Vanilla,
      commitment,
    },
  });
  const requestSealed = await gas(
    escrow.connect(fx.requester).request(await requestParams({ input: sealed, inputCommitment: commitment })),
  );
  rows.push({
    key: "requestSealedExtra",
    value: requestSealed - requestClear,
    unit: "gas",
    note: `a vanilla request sealed to one node minus the same in clear (${requestSealed.toLocaleString("en-US")} vs ${requestClear.toLocaleString("en-US")}; ${hexlify(sealed).length / 2 - 1}-byte envelope)`,
  });
  return rows;
}

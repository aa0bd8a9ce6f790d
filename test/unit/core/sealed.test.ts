import { expect } from "chai";
import { hexlify, keccak256, toUtf8Bytes, Wallet } from "ethers";
import { IntegrityError, InputError } from "../../../src/core/errors";
import {
  generateX25519PrivateKey,
  isSealed,
  MAX_SEALED_PLAINTEXT,
  MAX_SEALED_RECIPIENTS,
  openInput,
  parseSealedInput,
  sealedOverhead,
  sealInput,
  SealedInputIntegrityError,
  SealedInputMalformedError,
  SealedInputNotRecipientError,
  unwrapContentKey,
  x25519PublicKeyOf,
  type SealedInputContext,
} from "../../../src/core/sealed";

interface TestNode {
  node: string;
  privateKey: Uint8Array;
  publicKey: string;
}

function makeNode(): TestNode {
  const privateKey = generateX25519PrivateKey();
  return { node: Wallet.createRandom().address, privateKey, publicKey: x25519PublicKeyOf(privateKey) };
}

const plaintext = toUtf8Bytes(JSON.stringify([39.1, 18.7, 181, 3750]));
const context: SealedInputContext = {
  chainId: 31337n,
  escrow: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  requester: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  modelId: 1n,
  version: 2n,
  mode: 0,
  commitment: keccak256(plaintext),
};

/** Offsets of a one-recipient envelope's regions (see the format in src/core/sealed.ts). */
const REGIONS = {
  magic: 0,
  suite: 8,
  count: 14,
  node: 15,
  enc: 35,
  wrappedKey: 67,
  nonce: 115,
  ciphertext: 127,
};

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] ^= 0x01;
  return copy;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

describe("sealed inputs", () => {
  const a = makeNode();
  const b = makeNode();

  describe("sealInput and openInput", () => {
    it("round-trips the plaintext for its recipient, with the private key or an unwrap callback", async () => {
      const envelope = await sealInput({ plaintext, recipients: [a], context });
      expect(isSealed(envelope)).to.equal(true);
      expect(hexlify(await openInput({ envelope, node: a.node, privateKey: a.privateKey, context }))).to.equal(
        hexlify(plaintext),
      );
      let unwrapped = 0;
      const opened = await openInput({
        envelope: hexlify(envelope),
        node: a.node.toLowerCase(),
        context,
        unwrap: (wrapped) => {
          unwrapped++;
          return unwrapContentKey(a.privateKey, wrapped);
        },
      });
      expect(hexlify(opened)).to.equal(hexlify(plaintext));
      expect(unwrapped).to.equal(1);
    });

    it("opens for each of several recipients, and the envelope is the plaintext plus the documented overhead", async () => {
      const nodes = [a, b, makeNode()];
      const envelope = await sealInput({ plaintext, recipients: nodes, context });
      expect(envelope.length).to.equal(plaintext.length + sealedOverhead(3));
      expect(parseSealedInput(envelope).recipients.map((r) => r.node)).to.deep.equal(nodes.map((n) => n.node));
      for (const n of nodes)
        expect(hexlify(await openInput({ envelope, node: n.node, privateKey: n.privateKey, context }))).to.equal(
          hexlify(plaintext),
        );
    });

    it("never contains the plaintext, and two seals of one plaintext differ", async () => {
      const one = hexlify(await sealInput({ plaintext, recipients: [a], context }));
      const two = hexlify(await sealInput({ plaintext, recipients: [a], context }));
      expect(one).to.not.equal(two);
      expect(one).to.not.include(hexlify(plaintext).slice(2));
      expect(one).to.not.include(hexlify(plaintext.subarray(0, 8)).slice(2));
    });

    it("is not sealed when the bytes are a clear input, or not hex", () => {
      expect(isSealed(plaintext)).to.equal(false);
      expect(isSealed(hexlify(plaintext))).to.equal(false);
      expect(isSealed("VINSEAL1")).to.equal(false);
      expect(isSealed("0x")).to.equal(false);
    });
  });

  describe("openInput failures", () => {
    it("throws SealedInputNotRecipientError for a node that is not a recipient", async () => {
      const envelope = await sealInput({ plaintext, recipients: [a], context });
      const error = await rejection(openInput({ envelope, node: b.node, privateKey: b.privateKey, context }));
      expect(error).to.be.instanceOf(SealedInputNotRecipientError).and.instanceOf(InputError);
      expect(error.message).to.include(a.node).and.include(b.node);
    });

    it("throws SealedInputIntegrityError at the key stage for the wrong private key", async () => {
      const envelope = await sealInput({ plaintext, recipients: [a], context });
      const error = await rejection(openInput({ envelope, node: a.node, privateKey: b.privateKey, context }));
      expect(error).to.be.instanceOf(SealedInputIntegrityError).and.instanceOf(IntegrityError);
      expect((error as SealedInputIntegrityError).stage).to.equal("key");
    });

    const otherTerms: [string, Partial<SealedInputContext>][] = [
      ["chainId", { chainId: 1n }],
      ["escrow", { escrow: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512" }],
      ["requester", { requester: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" }],
      ["modelId", { modelId: 2n }],
      ["version", { version: 1n }],
      ["mode", { mode: 1 }],
    ];
    for (const [field, change] of otherTerms)
      it(`throws SealedInputIntegrityError at the key stage when the job's ${field} differs`, async () => {
        const envelope = await sealInput({ plaintext, recipients: [a], context });
        const error = await rejection(
          openInput({ envelope, node: a.node, privateKey: a.privateKey, context: { ...context, ...change } }),
        );
        expect(error).to.be.instanceOf(SealedInputIntegrityError);
        expect((error as SealedInputIntegrityError).stage).to.equal("key");
      });

    it("throws SealedInputIntegrityError at the payload stage when the job commits to another input", async () => {
      const envelope = await sealInput({ plaintext, recipients: [a], context });
      const error = await rejection(
        openInput({
          envelope,
          node: a.node,
          privateKey: a.privateKey,
          context: { ...context, commitment: keccak256("0x01") },
        }),
      );
      expect(error).to.be.instanceOf(SealedInputIntegrityError);
      expect((error as SealedInputIntegrityError).stage).to.equal("payload");
    });

    const tampered: [keyof typeof REGIONS, new (...args: never[]) => Error, string][] = [
      ["magic", SealedInputMalformedError, "magic"],
      ["suite", SealedInputMalformedError, "suite"],
      ["count", SealedInputMalformedError, "recipient count"],
      ["node", SealedInputNotRecipientError, ""],
      ["enc", SealedInputIntegrityError, "key"],
      ["wrappedKey", SealedInputIntegrityError, "key"],
      ["nonce", SealedInputIntegrityError, "payload"],
      ["ciphertext", SealedInputIntegrityError, "payload"],
    ];
    for (const [region, kind, detail] of tampered)
      it(`refuses an envelope whose ${region} was modified with ${kind.name}`, async () => {
        const envelope = await sealInput({ plaintext, recipients: [a], context });
        const error = await rejection(
          openInput({ envelope: flip(envelope, REGIONS[region]), node: a.node, privateKey: a.privateKey, context }),
        );
        expect(error).to.be.instanceOf(kind);
        if (error instanceof SealedInputMalformedError) expect(error.field).to.equal(detail);
        if (error instanceof SealedInputIntegrityError) expect(error.stage).to.equal(detail);
      });

    it("refuses an envelope whose tag (its last byte) was modified, at the payload stage", async () => {
      const envelope = await sealInput({ plaintext, recipients: [a], context });
      const error = await rejection(
        openInput({ envelope: flip(envelope, envelope.length - 1), node: a.node, privateKey: a.privateKey, context }),
      );
      expect((error as SealedInputIntegrityError).stage).to.equal("payload");
    });

    it("refuses, at the payload stage, an envelope whose other recipient's entry was modified", async () => {
      const envelope = await sealInput({ plaintext, recipients: [a, b], context });
      // b's entry follows a's: flip a byte of b's wrapped key, which a never opens.
      const error = await rejection(
        openInput({
          envelope: flip(envelope, REGIONS.wrappedKey + 100),
          node: a.node,
          privateKey: a.privateKey,
          context,
        }),
      );
      expect((error as SealedInputIntegrityError).stage).to.equal("payload");
    });

    it("refuses an envelope cut at each region with SealedInputMalformedError naming the field", async () => {
      const envelope = await sealInput({ plaintext, recipients: [a], context });
      const cuts: [number, string][] = [
        [4, "magic"],
        [10, "suite"],
        [60, "recipients"],
        [120, "nonce"],
        [REGIONS.ciphertext + 16, "ciphertext"],
      ];
      for (const [length, field] of cuts) {
        const error = await rejection(
          openInput({ envelope: envelope.subarray(0, length), node: a.node, privateKey: a.privateKey, context }),
        );
        expect(error, field).to.be.instanceOf(SealedInputMalformedError);
        expect((error as SealedInputMalformedError).field, field).to.equal(field);
      }
    });

    it("refuses odd hex, a bad node address, a short private key and a bad commitment, naming each", async () => {
      const envelope = await sealInput({ plaintext, recipients: [a], context });
      const cases: [Promise<unknown>, string][] = [
        [openInput({ envelope: "0x123", node: a.node, privateKey: a.privateKey, context }), "envelope"],
        [openInput({ envelope, node: "0x1234", privateKey: a.privateKey, context }), "node"],
        [openInput({ envelope, node: a.node, privateKey: a.privateKey.subarray(1), context }), "private key"],
        [
          openInput({ envelope, node: a.node, privateKey: a.privateKey, context: { ...context, commitment: "0x12" } }),
          "context.commitment",
        ],
      ];
      for (const [promise, field] of cases) {
        const error = await rejection(promise);
        expect(error, field).to.be.instanceOf(SealedInputMalformedError);
        expect((error as SealedInputMalformedError).field, field).to.equal(field);
      }
    });
  });

  describe("bounds", () => {
    it("seals 1 and MAX_SEALED_PLAINTEXT bytes, and refuses 0 and one more", async () => {
      for (const size of [1, MAX_SEALED_PLAINTEXT]) {
        const data = new Uint8Array(size).fill(7);
        const envelope = await sealInput({ plaintext: data, recipients: [a], context });
        expect(envelope.length).to.equal(size + sealedOverhead(1));
        const opened = await openInput({ envelope, node: a.node, privateKey: a.privateKey, context });
        expect(opened.length).to.equal(size);
      }
      for (const size of [0, MAX_SEALED_PLAINTEXT + 1]) {
        const error = await rejection(sealInput({ plaintext: new Uint8Array(size), recipients: [a], context }));
        expect(error, String(size)).to.be.instanceOf(SealedInputMalformedError);
        expect((error as SealedInputMalformedError).field).to.equal("plaintext");
      }
    });

    it("seals to 1..16 recipients and refuses 0, 17 and a node named twice", async () => {
      const many = Array.from({ length: MAX_SEALED_RECIPIENTS + 1 }, () => makeNode());
      const envelope = await sealInput({ plaintext, recipients: many.slice(0, MAX_SEALED_RECIPIENTS), context });
      const last = many[MAX_SEALED_RECIPIENTS - 1]!;
      expect(hexlify(await openInput({ envelope, node: last.node, privateKey: last.privateKey, context }))).to.equal(
        hexlify(plaintext),
      );
      for (const recipients of [[], many, [a, { ...b, node: a.node }]]) {
        const error = await rejection(sealInput({ plaintext, recipients, context }));
        expect(error).to.be.instanceOf(SealedInputMalformedError);
        expect((error as SealedInputMalformedError).field).to.match(/^recipients/);
      }
    });

    it("refuses a recipient key that is not 32 bytes, or all zero", async () => {
      for (const publicKey of ["0x1234", `0x${"00".repeat(32)}`]) {
        const error = await rejection(sealInput({ plaintext, recipients: [{ node: a.node, publicKey }], context }));
        expect((error as SealedInputMalformedError).field).to.equal("recipients[0].publicKey");
      }
    });

    it("refuses an envelope naming 0 or 17 recipients, or one node twice", async () => {
      const envelope = await sealInput({ plaintext, recipients: [a, b], context });
      for (const count of [0, 17]) {
        const bad = envelope.slice();
        bad[REGIONS.count] = count;
        expect(() => parseSealedInput(bad)).to.throw(SealedInputMalformedError, "recipient count");
      }
      const twice = envelope.slice();
      twice.set(envelope.subarray(REGIONS.node, REGIONS.node + 20), REGIONS.node + 100);
      expect(() => parseSealedInput(twice)).to.throw(SealedInputMalformedError, "a second time");
    });
  });
});

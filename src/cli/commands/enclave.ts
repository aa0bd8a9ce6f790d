import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { hexlify, ZeroAddress } from "ethers";
import { resolveSetting } from "../../core/config";
import { NotFoundError } from "../../core/errors";
import type { NodeConfig } from "../../node/config";
import { loadDevEnclave } from "../../node/enclave";
import {
  attestEnclave,
  enclaveStatus,
  parseQuoteSource,
  registerEnclave,
  registrationContext,
  type EnclaveStatus,
  type QuoteSource,
} from "../../node/enclave-registration";
import { keystoreAddress } from "../../node/operator-status";
import { TeeType } from "../../tee/quote";
import { withChain, withOperator } from "../context";
import type { Globals } from "../options";
import { print } from "../output";

const QUOTES_HELP =
  "where quotes come from: development (proves nothing; local chains) or configfs-tsm (inside an Intel TDX guest); over $VIN_TEE_QUOTES, default development";

/** `vin enclave attest | register | status`: the node's enclave in TeeVerifier (see node/enclave-registration.ts). */
export function register(program: Command, global: Globals): void {
  const enclave = program
    .command("enclave")
    .description("the node's TEE enclave: make a quote, register it with TeeVerifier, read its registration");

  enclave
    .command("attest")
    .description(
      "make a quote of the enclave binding its keys to this operator, chain, verifier and the block before the latest",
    )
    .option("--quotes <source>", QUOTES_HELP)
    .option("--out <file>", "also write the quote's bytes to this file")
    .action(async (opts: { quotes?: string; out?: string }) => {
      const g = global();
      const quotes = quoteSource(opts.quotes);
      await withChain(g, async (config, provider, contracts) => {
        const a = await attestEnclave({
          provider,
          contracts,
          operator: keystoreAddress(config.keystore),
          enclave: nodeEnclave(config),
          quotes,
          rpcTimeoutMs: config.rpcTimeoutMs,
        });
        if (opts.out !== undefined) writeFileSync(opts.out, a.quote);
        const { signer, operator, hpkePublicKey, anchorBlock, anchorBlockHash } = a.binding;
        const result = {
          enclave: signer,
          operator,
          hpkePublicKey,
          source: a.source,
          teeType: TeeType[a.teeType],
          measurement: a.measurement,
          anchorBlock,
          anchorBlockHash,
          pckCertificate: a.pckCertificate,
          quote: hexlify(a.quote),
          out: opts.out,
        };
        print(!!g.json, result, () =>
          [
            `enclave     ${signer}${a.source === "development" ? " (DEVELOPMENT quote: proves nothing)" : ""}`,
            `operator    ${operator}`,
            `anchor      block ${anchorBlock} (${anchorBlockHash}): register within 256 blocks`,
            `measurement ${a.measurement} (${TeeType[a.teeType]})`,
            `quote       ${a.quote.length} bytes, PCK certificate ${a.pckCertificate}${opts.out === undefined ? "" : `, written to ${opts.out}`}`,
          ].join("\n"),
        );
      });
    });

  enclave
    .command("register")
    .description(
      "register (or renew) the enclave with TeeVerifier from a fresh quote, caching the platform's certificates first if needed",
    )
    .option("--quotes <source>", QUOTES_HELP)
    .action(async (opts: { quotes?: string }) => {
      const g = global();
      const quotes = quoteSource(opts.quotes);
      const r = await withOperator(g, "enclave register", (ctx) =>
        registerEnclave(registrationContext(ctx, { quotes })),
      );
      print(!!g.json, r, () =>
        [
          `enclave ${r.signer} registered to ${r.operator} until ${isoTime(r.expiresAt)} (${r.tx})`,
          `  measurement ${r.measurement}${r.source === "development" ? " (DEVELOPMENT quote: proves nothing)" : ""}`,
          `  quote anchored at block ${r.anchorBlock}${r.attempts > 1 ? " (a second quote: the first one's anchor had left the window)" : ""}`,
          `  certificates cached now: ${r.cachedCertificates.length === 0 ? "none (the platform's were cached)" : r.cachedCertificates.join(", ")}`,
        ].join("\n"),
      );
    });

  enclave
    .command("status")
    .description(
      "the enclave's registration: operator, expiry, revocations, measurement, HPKE key and the model versions that bind it",
    )
    .action(async () => {
      const g = global();
      await withChain(g, async (config, provider, contracts) => {
        const status = await enclaveStatus({
          provider,
          contracts,
          operator: keystoreAddress(config.keystore),
          signer: nodeEnclave(config).address,
          rpcTimeoutMs: config.rpcTimeoutMs,
        });
        print(!!g.json, status, () => describeStatus(status));
      });
    });
}

/** The `--quotes` flag over `VIN_TEE_QUOTES`, default development. */
function quoteSource(flag: string | undefined): QuoteSource {
  return resolveSetting(
    "teeQuotes",
    {
      flag: { name: "--quotes", value: flag },
      env: { name: "VIN_TEE_QUOTES", value: process.env.VIN_TEE_QUOTES },
      default: "development" as QuoteSource,
    },
    parseQuoteSource,
  );
}

/** The node's enclave key, which `vin init --modes tee` (or the daemon, or `vin enclave register`) creates. */
function nodeEnclave(config: NodeConfig) {
  const enclave = loadDevEnclave(config.dataDir);
  if (enclave === undefined)
    throw new NotFoundError(`no enclave key in ${config.dataDir}: \`vin enclave register\` creates and registers one`);
  return enclave;
}

function describeStatus(s: EnclaveStatus): string {
  const registration =
    s.operator === ZeroAddress
      ? "not registered: run `vin enclave register`"
      : s.registered
        ? `${s.operator} (this operator)`
        : `${s.operator} (ANOTHER operator)`;
  const lines = [`enclave     ${s.signer}`, `operator    ${registration}`];
  if (s.operator === ZeroAddress) return lines.join("\n");
  const expiry = s.expired
    ? "EXPIRED"
    : s.renewalDue
      ? "renewal due: `vin enclave register` (or a running daemon) renews it"
      : `${(Number(s.expiresAt - s.now) / 3600).toFixed(1)} h left`;
  const bound =
    s.boundBy === undefined
      ? "not scanned (too many model versions)"
      : s.boundBy.length === 0
        ? "no model version"
        : s.boundBy.map((v) => `model ${v.modelId}@${v.version}`).join(", ");
  return [
    ...lines,
    `expires     ${isoTime(s.expiresAt)} (${expiry})`,
    `revoked     ${s.revoked ? "YES: it never serves again" : "no"}`,
    `measurement ${s.measurement}${s.measurementRevokedAt === 0n ? "" : ` REVOKED at ${isoTime(s.measurementRevokedAt)}`}`,
    `hpke key    ${s.hpkePublicKey}`,
    `bound by    ${bound}`,
  ].join("\n");
}

const isoTime = (seconds: bigint): string => new Date(Number(seconds) * 1000).toISOString();

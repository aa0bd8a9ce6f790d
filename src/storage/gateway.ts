/**
 * Trustless HTTP gateways (the IPFS "trustless gateway" spec, raw blocks only): a client that fetches one block and
 * checks it against its CID, and a `node:http` handler that serves the blocks a store holds. A gateway is trusted
 * for availability only: every block it returns is hashed and compared with the CID asked for.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { CID } from "multiformats/cid";
import { InputError, IntegrityError, NotFoundError, TransportError, UnsupportedError } from "../core/errors";
import { withRetry } from "../core/retry";
import { readCappedBody } from "../core/transport";
import { parseCid } from "./unixfs";

/** The media type of one raw block. */
export const RAW_BLOCK_TYPE = "application/vnd.ipld.raw";

/**
 * Largest body read from a gateway for one block: a UnixFS block is at most 1 MiB (Kubo's chunks are 256 KiB), so
 * anything larger is not a block and is refused without being read whole.
 */
export const MAX_GATEWAY_BLOCK_BYTES = 2 * 1024 * 1024;

const SHA2_256 = 0x12;
const IDENTITY = 0x00;

/**
 * Checks that `bytes` is the block named by `cid` (sha2-256 or identity multihash).
 * @throws {IntegrityError} when it is not; {UnsupportedError} for another hash function.
 */
export function verifyBlock(cid: CID, bytes: Uint8Array): void {
  const { code, digest } = cid.multihash;
  let actual: Uint8Array;
  if (code === SHA2_256) actual = createHash("sha256").update(bytes).digest();
  else if (code === IDENTITY) actual = bytes;
  else throw new UnsupportedError(`Block ${cid} uses hash function 0x${code.toString(16)}, which is not supported.`);
  if (!Buffer.from(actual).equals(Buffer.from(digest))) {
    throw new IntegrityError(`Block ${cid} does not match its CID (corrupted block)`, {
      context: { cid: cid.toString(), actual: Buffer.from(actual).toString("hex") },
    });
  }
}

/** Options of {@link fetchGatewayBlock}. */
export interface GatewayFetchOptions {
  signal?: AbortSignal;
  /** Time limit of each attempt. Default 10 s. */
  timeoutMs?: number;
  /** Attempts in all. Default 3. */
  attempts?: number;
}

/**
 * Fetches one raw block from a trustless gateway (`GET <base>/ipfs/<cid>?format=raw`) and verifies it.
 * @throws {NotFoundError} when the gateway answers 404/410; {IntegrityError} when the block does not match its CID;
 *   {TransportError} when the gateway cannot be reached or answers otherwise, after retries.
 * @example const block = await fetchGatewayBlock("http://127.0.0.1:8787", cid, { timeoutMs: 5_000 });
 */
export async function fetchGatewayBlock(
  base: string,
  cid: CID,
  options: GatewayFetchOptions = {},
): Promise<Uint8Array> {
  const url = `${base.replace(/\/+$/, "")}/ipfs/${cid.toString()}?format=raw`;
  const bytes = await withRetry(
    `GET ${url}`,
    async (signal) => {
      const response = await fetch(url, { headers: { accept: RAW_BLOCK_TYPE }, signal });
      if (response.status === 404 || response.status === 410) {
        throw new NotFoundError(`Gateway ${base} does not have block ${cid}`);
      }
      // A server error may pass; a refusal (400, 406, ...) will not.
      if (response.status >= 500) throw new TransportError(`Gateway ${base} answered ${response.status} for ${cid}`);
      if (!response.ok) throw new UnsupportedError(`Gateway ${base} answered ${response.status} for block ${cid}`);
      return readBlockBody(response, base, cid);
    },
    { signal: options.signal, timeoutMs: options.timeoutMs ?? 10_000, attempts: options.attempts ?? 3 },
  );
  verifyBlock(cid, bytes);
  return bytes;
}

/**
 * The body of a block answer, refused (before reading it when its content-length says so) once it passes
 * {@link MAX_GATEWAY_BLOCK_BYTES}.
 * @throws {IntegrityError} for a body too large to be a block.
 */
async function readBlockBody(response: Response, base: string, cid: CID): Promise<Uint8Array> {
  return readCappedBody(
    response,
    MAX_GATEWAY_BLOCK_BYTES,
    (size) =>
      new IntegrityError(
        `Gateway ${base} answered ${size} bytes for block ${cid}, more than a block can hold (${MAX_GATEWAY_BLOCK_BYTES})`,
      ),
  );
}

/** What {@link trustlessGatewayHandler} reads blocks from: the block's bytes, or undefined when not held. */
export interface BlockSource {
  block(cid: string): Promise<Uint8Array | undefined>;
}

/**
 * A `node:http` request handler serving the blocks of `store` as a trustless gateway: `GET`/`HEAD
 * /ipfs/<cid>?format=raw` (or with `Accept: application/vnd.ipld.raw`) answers 200 with the one block, 400 for a
 * CID that does not parse, 404 for a block the store does not hold, 406 for another format (a CAR, a whole file),
 * 405 for another method. Returns false, without answering, when the path is not under `/ipfs/`, so a server can
 * mount it before its own routes.
 * @example
 * const gateway = trustlessGatewayHandler(store);
 * createServer((req, res) => { if (!gateway(req, res)) routes(req, res); });
 */
export function trustlessGatewayHandler(store: BlockSource): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://gateway");
    const match = /^\/ipfs\/([^/]+)\/?$/.exec(url.pathname);
    if (match === null) {
      if (!url.pathname.startsWith("/ipfs/")) return false;
      answer(res, 400, "only /ipfs/<cid> is served (one raw block)");
      return true;
    }
    void serveBlock(store, req, res, match[1], url).catch((error) => {
      if (!res.headersSent) answer(res, 500, error instanceof Error ? error.message : "internal error");
      else res.destroy();
    });
    return true;
  };
}

async function serveBlock(
  store: BlockSource,
  req: IncomingMessage,
  res: ServerResponse,
  cidText: string,
  url: URL,
): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") return answer(res, 405, "only GET and HEAD");
  if (!wantsRawBlock(req, url)) return answer(res, 406, `only ?format=raw (${RAW_BLOCK_TYPE}) is served`);
  let cid: CID;
  try {
    cid = await parseCid(decodeURIComponent(cidText));
  } catch (error) {
    if (error instanceof InputError) return answer(res, 400, error.message);
    throw error;
  }
  const block = await store.block(cid.toString());
  if (block === undefined) return answer(res, 404, `block ${cid} is not held here`);
  res.writeHead(200, {
    "content-type": RAW_BLOCK_TYPE,
    "content-length": block.length,
    "x-content-type-options": "nosniff",
    // A block never changes under its CID.
    "cache-control": "public, max-age=29030400, immutable",
    etag: `"${cid.toString()}.raw"`,
  });
  res.end(req.method === "HEAD" ? undefined : block);
}

function wantsRawBlock(req: IncomingMessage, url: URL): boolean {
  const format = url.searchParams.get("format");
  if (format !== null) return format === "raw";
  return (req.headers.accept ?? "").split(",").some((type) => type.trim().split(";")[0] === RAW_BLOCK_TYPE);
}

function answer(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(`${message}\n`);
}

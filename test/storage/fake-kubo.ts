import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ContentStore } from "../../src/storage";

/** Test switches of a {@link FakeKubo}. */
export interface FakeKuboFaults {
  /** Answer the next n requests with HTTP 500. */
  failNext: number;
  /** Never answer the next n requests. */
  hangNext: number;
  /** Flip a byte of every `cat` answer. */
  tamper: boolean;
}

/** A Kubo RPC API (`add`, `cat`, `block/stat`) on 127.0.0.1 over another content store, with injectable faults. */
export class FakeKubo {
  readonly faults: FakeKuboFaults = { failNext: 0, hangNext: 0, tamper: false };
  readonly requests: string[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(backend: ContentStore): Promise<FakeKubo> {
    // Assigned once the server exists; the request handler only reads it after that.
    // eslint-disable-next-line prefer-const
    let fake: FakeKubo | undefined;
    const server = createServer((req, res) => void fake!.handle(backend, req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    fake = new FakeKubo(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return fake;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(backend: ContentStore, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://kubo.invalid");
    this.requests.push(`${req.method} ${url.pathname}?${url.searchParams.toString()}`);
    const body = Buffer.concat(await req.toArray());
    if (this.faults.hangNext > 0) return void this.faults.hangNext--;
    if (this.faults.failNext > 0) {
      this.faults.failNext--;
      return void res.writeHead(500).end("internal error");
    }
    const arg = url.searchParams.get("arg") ?? "";
    try {
      if (url.pathname === "/api/v0/add") {
        const form = await new Response(body, {
          headers: { "content-type": req.headers["content-type"] ?? "" },
        }).formData();
        const file = form.get("file") as Blob;
        const cid = await backend.add(new Uint8Array(await file.arrayBuffer()));
        return void res.writeHead(200).end(`${JSON.stringify({ Name: cid, Hash: cid, Size: String(file.size) })}\n`);
      }
      if (url.pathname === "/api/v0/cat") {
        const bytes = Buffer.from(await backend.cat(arg));
        if (this.faults.tamper) bytes[0] ^= 1;
        return void res.writeHead(200).end(bytes);
      }
      if (url.pathname === "/api/v0/block/stat") {
        if (!(await backend.has(arg)))
          return void res.writeHead(500).end(JSON.stringify({ Message: "block was not found locally (offline)" }));
        return void res.writeHead(200).end(JSON.stringify({ Key: arg }));
      }
      res.writeHead(404).end("404 page not found");
    } catch (error) {
      res.writeHead(500).end(JSON.stringify({ Message: `could not find ${arg}: ${String(error)}` }));
    }
  }
}

import { readFileSync } from "node:fs";
import path from "node:path";
import { MODES } from "../core/modes";
import type { StaticHandler } from "./http";

/** Addresses the page's request snippet needs; served as `/hub-config.json`. */
export interface HubPageConfig {
  chainId?: number;
  registry?: string;
  escrow?: string;
  token?: string;
}

/** Options of {@link createWebHandler}. */
export interface WebHandlerOptions {
  config?: HubPageConfig;
  /** Directory of the page's files. Default `src/hub/web` (beside this module). */
  dir?: string;
}

const FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/markdown.js": { file: "markdown.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
  "/feeds.html": { file: "feeds.html", type: "text/html; charset=utf-8" },
  "/feeds.js": { file: "feeds.js", type: "text/javascript; charset=utf-8" },
};

/**
 * Nothing but this server's own scripts, styles and API: no inline script or style, no other origin,
 * no framing. The page writes data only through `textContent`, and this policy is the second line.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * The hub's web page as a `staticHandler` for `startHubServer`: a fixed set of files read once at start
 * (no path from the request ever reaches the file system) and `/hub-config.json`.
 * @example await startHubServer({ store, engine, staticHandler: createWebHandler({ config: { chainId: 31337, escrow } }) });
 */
export function createWebHandler(options: WebHandlerOptions = {}): StaticHandler {
  const dir = options.dir ?? path.join(__dirname, "web");
  const bodies = new Map<string, Buffer>();
  for (const [route, { file }] of Object.entries(FILES))
    bodies.set(
      route,
      file === "index.html"
        ? withModes(readFileSync(path.join(dir, file), "utf8"))
        : readFileSync(path.join(dir, file)),
    );
  const config = Buffer.from(JSON.stringify(options.config ?? {}));
  return (req, res) => {
    const pathname = new URL(req.url ?? "/", "http://hub.invalid").pathname;
    const entry = FILES[pathname];
    const body = entry === undefined ? (pathname === "/hub-config.json" ? config : undefined) : bodies.get(pathname);
    if (body === undefined) return false;
    res.writeHead(200, {
      "content-type": entry?.type ?? "application/json; charset=utf-8",
      "content-length": body.length,
      "content-security-policy": CONTENT_SECURITY_POLICY,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-cache",
    });
    res.end(req.method === "HEAD" ? undefined : body);
    return true;
  };
}

/** The page with one option of its mode filter per mode of the core list (the page reads mode names from them). */
function withModes(html: string): Buffer {
  const options = MODES.map((m) => `<option value="${m.name}" data-mode="${m.mode}">${m.name}</option>`).join(
    "\n              ",
  );
  return Buffer.from(html.replace("<!-- MODES: one option per mode, from src/core/modes.ts (web.ts) -->", options));
}

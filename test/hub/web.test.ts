import { expect } from "chai";
import { MODES } from "../../src/core/modes";
import { type RunningHubServer, startHubServer } from "../../src/hub/http";
import { CONTENT_SECURITY_POLICY, createWebHandler } from "../../src/hub/web";
import { freshHub } from "./fixtures";

describe("hub web handler", () => {
  let server: RunningHubServer;
  const hub = freshHub();

  before(async () => {
    server = await startHubServer({
      ...hub,
      port: 0,
      staticHandler: createWebHandler({
        config: { chainId: 31337, escrow: "0x00000000000000000000000000000000000000e5" },
      }),
    });
  });
  after(async () => {
    await server.close();
    hub.store.close();
  });

  for (const [route, type] of [
    ["/", "text/html"],
    ["/app.js", "text/javascript"],
    ["/markdown.js", "text/javascript"],
    ["/style.css", "text/css"],
  ] as const) {
    it(`serves ${route} as ${type} under the content security policy`, async () => {
      const res = await fetch(server.url + route);
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.contain(type);
      expect(res.headers.get("content-security-policy")).to.equal(CONTENT_SECURITY_POLICY);
      expect(res.headers.get("x-content-type-options")).to.equal("nosniff");
    });
  }

  it("serves the page's configuration", async () => {
    const res = await fetch(`${server.url}/hub-config.json`);
    expect(await res.json()).to.deep.equal({ chainId: 31337, escrow: "0x00000000000000000000000000000000000000e5" });
  });

  it("answers 404 for any other path, traversal attempts included", async () => {
    for (const route of ["/web/app.js", "/..%2fpackage.json", "/%2e%2e/%2e%2e/package.json", "/index.htm"]) {
      expect((await fetch(server.url + route)).status, route).to.equal(404);
    }
  });

  it("writes the mode filter's options from the core list of modes, which the page reads mode names from", async () => {
    const html = await (await fetch(`${server.url}/`)).text();
    const options = [...html.matchAll(/<option value="(\w+)" data-mode="(\d+)">(\w+)<\/option>/g)].map((m) => [
      m[1],
      Number(m[2]),
      m[3],
    ]);
    expect(options).to.deep.equal(MODES.map((m) => [m.name, m.mode, m.name]));
  });

  it("uses no inline script or style, and loads nothing from another origin", async () => {
    const html = await (await fetch(`${server.url}/`)).text();
    expect(html).not.to.match(/<script>(?!<\/script>)|\sstyle=|\son\w+=|https?:\/\//i);
    for (const file of ["/app.js", "/markdown.js"]) {
      const js = await (await fetch(server.url + file)).text();
      expect(js, file).not.to.match(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    }
  });
});

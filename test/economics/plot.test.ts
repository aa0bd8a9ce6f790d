import { expect } from "chai";
import { InputError } from "../../src/core/errors";
import { barChart, escapeXml, lineChart } from "../../src/economics/plot";
import { findAll, parseXml, type XmlElement } from "./xml";

/** The `<g>` groups whose `<title>` names a plotted item, by that name. */
function items(svg: XmlElement): Map<string, XmlElement> {
  return new Map(
    findAll(svg, "g").flatMap((g) =>
      g.children[0]?.name === "title" ? [[g.children[0].text, g.children[1]!] as const] : [],
    ),
  );
}

function points(shape: XmlElement): string[] {
  return shape.attributes.points!.split(" ");
}

describe("economics: SVG plots", () => {
  describe("the XML checker itself", () => {
    it("rejects what is not well-formed", () => {
      for (const bad of [
        "<a><b></a>",
        '<a x="1" x="2"/>',
        "<a>1 < 2</a>",
        "<a>R&D</a>",
        "<a/><b/>",
        "<a x=1/>",
        "<a>",
      ]) {
        expect(() => parseXml(bad), bad).to.throw(/not well-formed/);
      }
      expect(parseXml('<?xml version="1.0"?>\n<a t="&lt;&amp;">x &gt; y<b/></a>\n')).to.deep.equal({
        name: "a",
        attributes: { t: "<&" },
        text: "x > y",
        children: [{ name: "b", attributes: {}, children: [], text: "" }],
      });
    });
  });

  describe("lineChart", () => {
    const chart = () =>
      lineChart({
        title: "Cash flow",
        xLabel: "month",
        yLabel: "USD",
        series: [
          {
            name: "median",
            points: [
              [0, 0],
              [5, 50],
              [10, 100],
            ],
          },
          {
            name: "zero demand",
            points: [
              [0, 0],
              [10, 20],
            ],
          },
        ],
        bands: [
          {
            name: "5th–95th",
            lower: [
              [0, 0],
              [10, 80],
            ],
            upper: [
              [0, 10],
              [10, 100],
            ],
          },
        ],
      });

    it("is a well-formed SVG 1.1 document with a title, axis labels and ticks", () => {
      const svg = parseXml(chart());
      expect(svg.name).to.equal("svg");
      expect(svg.attributes).to.include({
        xmlns: "http://www.w3.org/2000/svg",
        version: "1.1",
        width: "720",
        height: "400",
        viewBox: "0 0 720 400",
      });
      expect(svg.children[0]).to.deep.include({ name: "title", text: "Cash flow" });
      const texts = findAll(svg, "text").map((t) => t.text);
      expect(texts).to.include.members([
        "Cash flow",
        "month",
        "USD",
        "0",
        "100",
        "10",
        "median",
        "zero demand",
        "5th–95th",
      ]);
    });

    it("draws one polyline per series with every point, and one polygon per band", () => {
      const svg = parseXml(chart());
      const plotted = items(svg);
      expect(findAll(svg, "polyline")).to.have.length(2);
      expect(findAll(svg, "polygon")).to.have.length(1);
      expect(points(plotted.get("median")!)).to.have.length(3);
      expect(points(plotted.get("zero demand")!)).to.have.length(2);
      expect(points(plotted.get("5th–95th")!)).to.have.length(4); // upper forth, lower back
    });

    it("maps data to pixels linearly inside the margins: (0, 0) bottom left, (10, 100) top right", () => {
      // Plot area: x 80..696, y 48..344 (720 x 400 less margins); ticks make the domain [0, 10] x [0, 100].
      const median = items(parseXml(chart())).get("median")!;
      expect(points(median)).to.deep.equal(["80,344", "388,196", "696,48"]);
    });

    it("escapes text, so a name cannot break the document", () => {
      const title = `<script>alert("x")</script> & 'more'\u0001`;
      const raw = lineChart({ title, xLabel: "a<b", yLabel: "c&d", series: [{ name: "]]></g>", points: [[1, 1]] }] });
      const svg = parseXml(raw);
      expect(raw).to.not.include("<script>");
      expect(svg.children[0]!.text).to.equal(`<script>alert("x")</script> & 'more'`);
      expect(findAll(svg, "text").map((t) => t.text)).to.include.members(["a<b", "c&d", "]]></g>"]);
      expect(escapeXml(`a<b & "c" 'd'`)).to.equal("a&lt;b &amp; &quot;c&quot; &apos;d&apos;");
    });

    it("rejects nothing to plot, points that are not finite and sizes out of range with InputError", () => {
      const base = { title: "t", xLabel: "x", yLabel: "y" };
      expect(() => lineChart({ ...base, series: [] })).to.throw(InputError, /no series/);
      expect(() => lineChart({ ...base, series: [{ name: "s", points: [] }] })).to.throw(InputError, /no points/);
      expect(() => lineChart({ ...base, series: [{ name: "s", points: [[1, NaN]] }] })).to.throw(
        InputError,
        /not finite/,
      );
      expect(() => lineChart({ ...base, width: 10, series: [{ name: "s", points: [[1, 1]] }] })).to.throw(
        InputError,
        /size 10x400/,
      );
    });
  });

  describe("barChart", () => {
    it("draws one bar per value, positive bars up from the zero line and negative bars down", () => {
      const svg = parseXml(
        barChart({
          title: "Return by operators",
          xLabel: "operators",
          yLabel: "USD",
          bars: [
            { label: "1", value: 10 },
            { label: "2", value: -10 },
          ],
        }),
      );
      const bars = items(svg);
      // Domain [-10, 10] over y 48..344: zero at 196, 148 pixels per 10.
      expect(bars.get("1: 10")!.attributes).to.include({ y: "48", height: "148" });
      expect(bars.get("2: -10")!.attributes).to.include({ y: "196", height: "148" });
      expect(findAll(svg, "text").map((t) => t.text)).to.include.members([
        "Return by operators",
        "operators",
        "USD",
        "1",
        "2",
      ]);
    });

    it("rejects no bars and values that are not finite with InputError", () => {
      const base = { title: "t", xLabel: "x", yLabel: "y" };
      expect(() => barChart({ ...base, bars: [] })).to.throw(InputError, /no bars/);
      expect(() => barChart({ ...base, bars: [{ label: "a", value: Infinity }] })).to.throw(
        InputError,
        /bar "a" with value Infinity/,
      );
    });
  });
});

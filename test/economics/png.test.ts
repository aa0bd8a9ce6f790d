import { expect } from "chai";
import { crc32, inflateSync } from "node:zlib";
import { InputError } from "../../src/core/errors";
import { barChart, lineChart } from "../../src/economics/plot";
import { svgToPng } from "../../src/economics/png";

/** A decoded 8-bit RGBA (colour type 6) or RGB (2) PNG: its size and pixels, every chunk's CRC checked. */
interface Image {
  width: number;
  height: number;
  /** RGBA, row by row. */
  pixel(x: number, y: number): [number, number, number, number];
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function decodePng(bytes: Uint8Array): Image {
  const png = Buffer.from(bytes);
  expect(png.subarray(0, 8).equals(SIGNATURE), "PNG signature").to.equal(true);
  const chunks: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    expect(png.readUInt32BE(at + 8 + length), `CRC of ${type}`).to.equal(crc32(png.subarray(at + 4, at + 8 + length)));
    chunks.push({ type, data });
    at += 12 + length;
  }
  expect(chunks[0]!.type).to.equal("IHDR");
  expect(chunks.at(-1)!.type).to.equal("IEND");
  const header = chunks[0]!.data;
  const [width, height, depth, colour] = [header.readUInt32BE(0), header.readUInt32BE(4), header[8]!, header[9]!];
  expect(depth, "bit depth").to.equal(8);
  expect([2, 6], "colour type").to.include(colour);
  expect(header[12], "interlace").to.equal(0);
  const channels = colour === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === "IDAT").map((c) => c.data)));
  const stride = width * channels;
  expect(raw.length).to.equal(height * (stride + 1));
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= channels ? pixels[y * stride + i - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i]! : 0;
      const c = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels]! : 0;
      const paeth = () => {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      };
      const predictor = [0, a, b, (a + b) >> 1, 0][filter] ?? 0;
      pixels[y * stride + i] = (x + (filter === 4 ? paeth() : predictor)) & 0xff;
    }
  }
  return {
    width,
    height,
    pixel: (x, y) => {
      const at = y * stride + x * channels;
      return [pixels[at]!, pixels[at + 1]!, pixels[at + 2]!, channels === 4 ? pixels[at + 3]! : 255];
    },
  };
}

/** Pixels of `image` inside the box that are not white. */
function inkIn(image: Image, box: { x0: number; y0: number; x1: number; y1: number }): number {
  let ink = 0;
  for (let y = box.y0; y < box.y1; y++)
    for (let x = box.x0; x < box.x1; x++) {
      const [r, g, b] = image.pixel(x, y);
      if (r < 200 || g < 200 || b < 200) ink++;
    }
  return ink;
}

const chart = () =>
  lineChart({
    title: "Cumulative cash flow",
    xLabel: "month",
    yLabel: "USD",
    series: [
      {
        name: "median", // drawn in the first colour, #1f77b4
        points: [
          [0, -3_000],
          [12, -1_000],
          [24, 1_500],
        ],
      },
    ],
  });

describe("economics: PNG plots", () => {
  it("renders a plot's SVG to a PNG of its size times the scale, on a white background", () => {
    const svg = chart();
    const [, width, height] = /width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
    const image = decodePng(svgToPng(svg));
    expect([image.width, image.height]).to.deep.equal([2 * width!, 2 * height!]);
    expect(image.pixel(1, 1)).to.deep.equal([255, 255, 255, 255]);
    const once = decodePng(svgToPng(svg, { scale: 1 }));
    expect([once.width, once.height]).to.deep.equal([width, height]);
  });

  it("draws the series and the text: the title's box has ink, the series' colour appears", () => {
    const image = decodePng(svgToPng(chart(), { scale: 1 }));
    // The title is centred at y = 24, 15 px bold: its band holds dark pixels only if a font was found.
    expect(inkIn(image, { x0: 0, y0: 10, x1: image.width, y1: 30 })).to.be.greaterThan(50);
    let blue = 0;
    for (let y = 0; y < image.height; y++)
      for (let x = 0; x < image.width; x++) {
        const [r, g, b] = image.pixel(x, y);
        if (Math.abs(r - 0x1f) < 20 && Math.abs(g - 0x77) < 20 && Math.abs(b - 0xb4) < 20) blue++;
      }
    expect(blue).to.be.greaterThan(20);
  });

  it("renders a bar chart", () => {
    const svg = barChart({
      title: "Returns as operators join",
      xLabel: "operators",
      yLabel: "USD",
      bars: [
        { label: "1", value: 100 },
        { label: "5", value: -40 },
      ],
    });
    const image = decodePng(svgToPng(svg));
    expect(image.width).to.be.greaterThan(0);
    expect(inkIn(image, { x0: 0, y0: 0, x1: image.width, y1: image.height })).to.be.greaterThan(100);
  });

  it("rejects a scale out of range and text that is not SVG with InputError", () => {
    for (const scale of [0, -1, 9, Number.NaN])
      expect(() => svgToPng(chart(), { scale }), String(scale)).to.throw(InputError, /scale/);
    expect(() => svgToPng("not svg")).to.throw(InputError, /not an SVG document/);
  });
});

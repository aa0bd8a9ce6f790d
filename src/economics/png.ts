/**
 * The SVG plots of plot.ts as PNG, rasterised by resvg (`@resvg/resvg-js`: a Rust renderer whose prebuilt binary
 * ships inside its npm package, so nothing is downloaded at install or run time). Text is drawn in the system's
 * sans-serif font; a machine without any font gets the plot without its text rather than an error.
 */
import { Resvg } from "@resvg/resvg-js";
import { InputError } from "../core/errors";

/** Options of {@link svgToPng}. */
export interface PngOptions {
  /** Pixels per SVG unit: 2 (default) gives a 1,440 × 840 image of a 720 × 420 plot, sharp on high-density screens. */
  scale?: number;
}

/**
 * `svg` rendered to a PNG image, `scale` pixels per SVG unit.
 * @throws InputError when `scale` is out of range or `svg` is not an SVG document.
 * @example writeFileSync("monthly.png", svgToPng(roiCharts(result).monthly));
 */
export function svgToPng(svg: string, options: PngOptions = {}): Uint8Array {
  const scale = options.scale ?? 2;
  if (!(Number.isFinite(scale) && scale > 0 && scale <= 8))
    throw new InputError(`scale ${scale} is out of range: a number above 0, at most 8`, {
      context: { parameter: "scale" },
    });
  let renderer: Resvg;
  try {
    renderer = new Resvg(svg, {
      fitTo: { mode: "zoom", value: scale },
      font: { loadSystemFonts: true, defaultFontFamily: "sans-serif" },
    });
  } catch (cause) {
    throw new InputError("the plot is not an SVG document resvg can read", { cause });
  }
  return renderer.render().asPng();
}

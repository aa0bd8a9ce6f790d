/**
 * Network economics from chain state: concentration figures (operators per mode, stake distribution, Nakamoto
 * coefficients, HHI, job shares, models servable by k independent operators, and their history), an operator ROI
 * simulator with hardware depreciation, SVG plots and text/JSON reports. Pure computation over plain inputs, plus
 * one reader of the chain's events; the CLI and the hub call it.
 */
export * from "./concentration";
export * from "./events";
export * from "./figures";
export * from "./plot";
export * from "./png";
export * from "./report";
export * from "./roi";

/** The model hub: card parsing, SQLite store, search, HTTP API and web page, chain indexer, publish and pull. */
export * from "./card";
export * from "./errors";
export * from "./http";
export * from "./ids";
export * from "./indexer";
export * from "./params";
export * from "./publish";
export * from "./pull";
export * from "./search";
export * from "./store";
export * from "./web";

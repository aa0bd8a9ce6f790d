/** The model hub's search engine: card parsing, SQLite store, search and HTTP API. */
export * from "./card";
export * from "./cid";
export * from "./errors";
export * from "./http";
export * from "./ids";
export * from "./params";
export * from "./search";
export * from "./store";

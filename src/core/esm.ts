/**
 * Loads an ESM-only package from this CommonJS code base. TypeScript compiles `import()` to `require()` under
 * `module: commonjs`, which cannot load ESM; a dynamic import built at run time is left alone.
 */
const dynamicImport = new Function("specifier", "return import(specifier)") as <T>(specifier: string) => Promise<T>;

const cache = new Map<string, Promise<unknown>>();

/**
 * Imports an ES module once per process.
 * @example const { unixfs } = await importEsm<typeof import("@helia/unixfs")>("@helia/unixfs");
 */
export function importEsm<T>(specifier: string): Promise<T> {
  let loaded = cache.get(specifier);
  if (loaded === undefined) {
    loaded = dynamicImport<T>(specifier);
    cache.set(specifier, loaded);
  }
  return loaded as Promise<T>;
}

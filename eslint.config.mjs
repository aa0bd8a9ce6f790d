// ESLint (flat config): the recommended and type-aware rules of typescript-eslint over all TypeScript we write.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import layers from "./eslint/layers.mjs";

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "typechain-types/",
      "artifacts/",
      "cache/",
      "coverage/",
      "out/",
      "cache_forge/",
      ".cache/",
      ".scratch/",
      "build/",
      "src/hub/web/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The layers of src/ (eslint/layers.mjs): core < storage, zkml, inference, tee < models < sdk, node, hub < cli, devnet.
    files: ["src/**/*.ts"],
    plugins: { layers },
    rules: { "layers/direction": "error" },
  },
  {
    // chai assertions are expressions: `expect(x).to.be.true`.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-unused-expressions": "off" },
  },
  {
    files: ["**/*.js", "**/*.cjs"],
    languageOptions: {
      sourceType: "commonjs",
      globals: {
        require: "readonly",
        module: "writable",
        process: "readonly",
        console: "readonly",
        __dirname: "readonly",
        Buffer: "readonly",
      },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);

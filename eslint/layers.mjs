// The layers of the off-chain code, kept by a lint rule: every folder of src/ has a level, and a file may import
// only from its own folder or from folders of a lower level. With no imports within a level and none upwards,
// folders cannot form a cycle. Code outside src/ that src/ may use: typechain-types (generated, below everything).
// Entry points (cli, devnet) are the top of src/; deploy/, scripts/, bench/ and test/ sit above src/ and are never
// imported from it.
import { statSync } from "node:fs";
import path from "node:path";

/** Level of each folder of src/: 0 core, 1 components without chain logic, 2 models and modes, 3 components, 4 entry points. */
export const LEVELS = {
  core: 0,
  storage: 1,
  zkml: 1,
  inference: 1,
  tee: 1,
  ohttp: 1,
  economics: 1,
  privacypass: 1,
  models: 2,
  modes: 2,
  sdk: 3,
  node: 3,
  hub: 3,
  cli: 4,
  devnet: 4,
};

const ENTRY = 4;
const NAMES = ["core", "storage/zkml/inference/tee/ohttp/economics", "models/modes", "sdk/node/hub", "cli/devnet"];

function folderOf(root, file) {
  const rel = path.relative(path.join(root, "src"), file);
  if (rel.startsWith("..") || path.isAbsolute(rel)) return undefined;
  const [first, ...rest] = rel.split(path.sep);
  // `import "../storage"` names the folder (its index.ts), not a file at the root of src/.
  return rest.length === 0 && !isDirectory(file) ? "(root)" : first;
}

function isDirectory(file) {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

function outsideOf(root, file) {
  const rel = path.relative(root, file);
  const [first] = rel.split(path.sep);
  return ["deploy", "scripts", "bench", "test"].includes(first) ? first : undefined;
}

/** @type {import("eslint").Rule.RuleModule} */
const direction = {
  meta: {
    type: "problem",
    docs: {
      description: "imports in src/ point down the layers (core < components < entry points) and never out of src/",
    },
    schema: [],
  },
  create(context) {
    const root = context.cwd;
    const file = context.filename;
    const from = folderOf(root, file);
    if (from === undefined) return {};
    const check = (node) => {
      const spec = node.source?.value;
      if (typeof spec !== "string" || !spec.startsWith(".")) return;
      const target = path.resolve(path.dirname(file), spec);
      const outside = outsideOf(root, target);
      // Entry points may call the deploy script (the devnet deploys the system); nothing else in src/ may.
      if (outside === "deploy" && LEVELS[from] === ENTRY) return;
      if (outside !== undefined) {
        context.report({
          node: node.source,
          message: `src/${from} imports ${outside}/: src/ never depends on ${outside}/ (move what it needs into src/)`,
        });
        return;
      }
      const to = folderOf(root, target);
      if (to === undefined || to === from) return;
      const [a, b] = [LEVELS[from], LEVELS[to]];
      if (a === undefined || b === undefined) {
        context.report({
          node: node.source,
          message: `src/${a === undefined ? from : to} has no layer: add it to LEVELS in eslint/layers.mjs`,
        });
        return;
      }
      if (b >= a) {
        context.report({
          node: node.source,
          message: `src/${from} (${NAMES[a]}) may not import src/${to} (${NAMES[b]}): imports point down the layers only; move shared code into a lower layer (src/core for mechanisms every part uses)`,
        });
      }
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check };
  },
};

export default { rules: { direction } };

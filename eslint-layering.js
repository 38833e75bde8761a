/**
 * The dependency order of src/ as eslint configuration: a folder imports only folders to its left, another
 * folder only through its index.ts, and never src/lab (lab, tests and bench may import anything).
 *
 * Written with the built-in no-restricted-imports (static imports and re-exports; its message quotes the
 * import) and no-restricted-syntax (dynamic import(), which the CLI uses for lazy loading). Import paths
 * are relative, so each folder gets one block per file depth, with the `../` prefix that leaves the folder.
 */
export const LAYERS = [
  "util",
  "config",
  "cluster",
  "keystore",
  "image",
  "job",
  "agent",
  "vm",
  "net",
  "slurm",
  "cli",
];
const MAX_DEPTH = 4;

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** [regex source, message] for every import a file of `folder` may not make, `depth` folders below src/. */
function forbidden(folder, depth) {
  const up = escape("../".repeat(depth));
  const i = LAYERS.indexOf(folder);
  const rules = [[`^${up}lab(/|$)`, `production code may not import src/lab`]];
  for (const above of LAYERS.slice(i + 1))
    rules.push([`^${up}${above}(/|$)`, `${folder} may not import ${above} (layers: ${LAYERS.join(" ← ")})`]);
  for (const below of LAYERS.slice(0, i))
    rules.push([`^${up}${below}/(?!index\\.js$)`, `import through src/${below}/index.ts`]);
  return rules;
}

function block(folder, depth) {
  const rules = forbidden(folder, depth);
  return {
    files: [`src/${folder}/${"*/".repeat(depth - 1)}*.ts`],
    rules: {
      "no-restricted-imports": ["error", { patterns: rules.map(([regex, message]) => ({ regex, message })) }],
      "no-restricted-syntax": [
        "error",
        ...rules.map(([regex, message]) => ({
          // esquery reads a regex literal, so its slashes are escaped
          selector: `ImportExpression[source.value=/${regex.replace(/\//g, "\\/")}/]`,
          message: `${message} (dynamic import)`,
        })),
      ],
    },
  };
}

export const layering = LAYERS.flatMap((folder) =>
  Array.from({ length: MAX_DEPTH }, (_, d) => block(folder, d + 1)),
);

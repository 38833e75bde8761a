import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import { beforeAll, describe, expect, it } from "vitest";

// The repository's own eslint.config.js, minus type information: the layering rules read import paths only.
const eslint = new ESLint({
  cwd: fileURLToPath(new URL("../../..", import.meta.url)),
  overrideConfig: [
    {
      files: ["**/*.ts"],
      languageOptions: { parserOptions: { projectService: false } },
      rules: {
        "@typescript-eslint/no-floating-promises": "off",
        "@typescript-eslint/no-misused-promises": "off",
      },
    },
  ],
});

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

const uses = (spec: string, name = "x") => `import { ${name} } from "${spec}";\nexport const y = ${name};\n`;

describe("layering lint", () => {
  beforeAll(async () => {
    await problems("src/util/warm-up.ts", "export {};\n"); // loads the config once, outside the timed tests
  }, 60_000);

  it("refuses an upward import, naming the import and the rule", async () => {
    const found = await problems("src/net/x.ts", uses("../slurm/index.js"));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^no-restricted-imports: '\.\.\/slurm\/index\.js' import is restricted/);
    expect(found[0]).toContain("net may not import slurm");
  });

  it("refuses a cross-folder import that bypasses the folder's index.ts", async () => {
    const found = await problems("src/net/x.ts", uses("../vm/qmp.js"));
    expect(found).toHaveLength(1);
    expect(found[0]).toContain("'../vm/qmp.js'");
    expect(found[0]).toContain("import through src/vm/index.ts");
    const deeper = await problems("src/cli/commands/x.ts", uses("../../vm/qmp.js"));
    expect(deeper.join("\n")).toContain("import through src/vm/index.ts");
  });

  it("refuses upward dynamic imports and re-exports too", async () => {
    const dynamic = await problems(
      "src/keystore/x.ts",
      'export const m = () => import("../image/index.js");\n',
    );
    expect(dynamic).toEqual([
      expect.stringMatching(/^no-restricted-syntax: keystore may not import image .*\(dynamic import\)$/),
    ]);
    const reexport = await problems("src/config/x.ts", 'export { x } from "../cluster/index.js";\n');
    expect(reexport.join("\n")).toContain("config may not import cluster");
  });

  it("places job between image and vm, even before the folder exists", async () => {
    expect((await problems("src/job/x.ts", uses("../vm/index.js"))).join("\n")).toContain(
      "job may not import vm",
    );
    expect(await problems("src/vm/x.ts", uses("../job/index.js"))).toEqual([]);
  });

  it("keeps src/lab out of production code, but not out of lab, tests or bench", async () => {
    expect((await problems("src/slurm/x.ts", uses("../lab/index.js"))).join("\n")).toContain(
      "production code may not import src/lab",
    );
    expect(await problems("src/lab/x.ts", uses("../slurm/alloc.js"))).toEqual([]);
    expect(await problems("test/unit/x.test.ts", uses("../../src/net/plan.js"))).toEqual([]);
  });

  it("passes downward imports through index.ts and imports inside the folder", async () => {
    const code =
      'import { a } from "../vm/index.js";\nimport { b } from "../util/index.js";\n' +
      'import { c } from "./ovs.js";\nexport const y = [a, b, c];\n';
    expect(await problems("src/net/x.ts", code)).toEqual([]);
    expect(await problems("src/cli/commands/x.ts", uses("../vm-target.js"))).toEqual([]);
  });
});

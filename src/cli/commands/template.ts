import type { Command } from "commander";

export function register(program: Command): void {
  const template = program.command("template").description("list and show VM templates");
  template
    .command("list")
    .description("list the user and system templates")
    .option("--json", "print a JSON array instead of tables")
    .action(async (opts: { json?: boolean }) => {
      const { templateList } = await import("../template-output.js");
      process.stdout.write(await templateList(opts));
    });
  template
    .command("show")
    .description("show a template's settings and whether they are inherited")
    .argument("<template>", "template name")
    .option("--json", "print JSON instead of a table")
    .action(async (name: string, opts: { json?: boolean }) => {
      const { templateShow } = await import("../template-output.js");
      process.stdout.write(await templateShow(name, opts));
    });
}

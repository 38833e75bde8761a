import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("help")
    .description("Show the manual page of a command, configuration file or guide (no TOPIC: list them)")
    .argument("[topic...]", "e.g. alloc, templates.yaml, getting-started")
    .action(async (topic: string[]) => {
      const { showHelp } = await import("../manual/show.js");
      process.exitCode = await showHelp(topic);
    });
}

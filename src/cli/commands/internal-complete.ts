import type { Command } from "commander";

/**
 * `pcocc internal complete -- CWORD WORDS...`: the candidates for bash's completion of WORDS[CWORD], one per
 * line; `--bash` prints the completion script that calls it.
 */
export function register(program: Command): void {
  const internal =
    program.commands.find((c) => c.name() === "internal") ??
    program.command("internal", { hidden: true }).description("pcocc's own building blocks");
  internal
    .command("complete")
    .description("shell completion: candidates for word CWORD of WORDS (or --bash: the bash script)")
    .option("--bash", "print the bash completion script")
    .argument("[cword]", "index of the word being completed")
    .argument("[words...]", "the command line, pcocc first")
    .action(async (cword: string | undefined, words: string[], o: { bash?: boolean }) => {
      const [{ BASH_COMPLETION, complete }, { buildProgram }] = await Promise.all([
        import("../completion.js"),
        import("../program.js"),
      ]);
      if (o.bash) {
        process.stdout.write(BASH_COMPLETION);
        return;
      }
      const candidates = await complete(await buildProgram([]), Number(cword ?? 0), words);
      process.stdout.write(candidates.map((c) => `${c}\n`).join(""));
    });
}

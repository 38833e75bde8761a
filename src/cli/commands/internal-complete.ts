import type { Command } from "commander";

/**
 * `pcocc internal complete -- CWORD WORDS...`: the candidates for the shell's completion of WORDS[CWORD],
 * one per line; `--bash` and `--zsh` print the completion script that calls it.
 */
export function register(program: Command): void {
  const internal =
    program.commands.find((c) => c.name() === "internal") ??
    program.command("internal", { hidden: true }).description("pcocc's own building blocks");
  internal
    .command("complete")
    .description("shell completion: candidates for word CWORD of WORDS (or --bash/--zsh: the script)")
    .option("--bash", "print the bash completion script")
    .option("--zsh", "print the zsh completion script")
    .argument("[cword]", "index of the word being completed")
    .argument("[words...]", "the command line, pcocc first")
    .action(async (cword: string | undefined, words: string[], o: { bash?: boolean; zsh?: boolean }) => {
      const [{ BASH_COMPLETION, ZSH_COMPLETION, complete }, { buildProgram }] = await Promise.all([
        import("../completion.js"),
        import("../program.js"),
      ]);
      if (o.bash || o.zsh) {
        process.stdout.write(o.bash ? BASH_COMPLETION : ZSH_COMPLETION);
        return;
      }
      const candidates = await complete(await buildProgram([]), Number(cword ?? 0), words);
      process.stdout.write(candidates.map((c) => `${c}\n`).join(""));
    });
}

import type { Command, Option } from "commander";

/**
 * Bash and zsh completion ask pcocc itself (`pcocc internal complete CWORD WORDS...`), so verbs and options
 * always are those of the program definition `--help` shows; without candidates the shell completes file
 * names.
 */
export const BASH_COMPLETION = `# bash completion for pcocc
_pcocc() {
  local IFS=$'\\n'
  COMPREPLY=($(pcocc internal complete -- "$COMP_CWORD" "\${COMP_WORDS[@]}" 2>/dev/null))
}
complete -o default -F _pcocc pcocc
`;

/**
 * Sourced (`source <(pcocc internal complete --zsh)`, after compinit) it registers itself; installed as
 * `_pcocc` in $fpath, compinit autoloads it on the first completion and it completes at once.
 */
export const ZSH_COMPLETION = `#compdef pcocc
# zsh completion for pcocc
_pcocc() {
  local -a candidates
  candidates=("\${(@f)$(pcocc internal complete -- $((CURRENT - 1)) "\${words[@]}" 2>/dev/null)}")
  candidates=("\${(@)candidates:#}")
  if (( \${#candidates} )); then
    compadd -- "\${candidates[@]}"
  else
    _files
  fi
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _pcocc "$@"
else
  compdef _pcocc pcocc
fi
`;

/** What a positional argument holds, by its name in the program definition. */
type ArgKind = "template" | "vm" | "definition" | "image" | undefined;

/** How the image verbs describe an argument that names an existing image. */
export const IMAGE_URI = "[REPO:]NAME[@REV]";

function argKind(cmd: Command, index: number): ArgKind {
  const args = cmd.registeredArguments;
  const arg = args[Math.min(index, args.length - 1)];
  const name = arg?.name();
  if (name === "template") return "template";
  if (arg?.description === IMAGE_URI && index < args.length) return "image";
  if (name === "vm" || name === "vms") return index < args.length ? "vm" : undefined;
  if (cmd.name() === "alloc" || cmd.name() === "batch") return "definition";
  if (["ssh", "nc"].includes(cmd.name())) return "vm";
  return undefined;
}

function takesValue(opt: Option): boolean {
  return opt.required || opt.optional;
}

function findOption(cmds: Command[], word: string): Option | undefined {
  for (const c of cmds) {
    const o = c.options.find((opt) => opt.short === word || opt.long === word);
    if (o) return o;
  }
  return undefined;
}

/** The command the words before the cursor lead to, its positional count, and whether an option value is due. */
function walk(program: Command, before: string[]) {
  let cmd = program;
  const chain = [program];
  let positional = 0;
  let wantsValue = false;
  for (const w of before) {
    if (wantsValue) {
      wantsValue = false;
      continue;
    }
    if (w.startsWith("-")) {
      const opt = findOption(chain, w);
      wantsValue = opt !== undefined && takesValue(opt) && !w.includes("=");
      continue;
    }
    const sub = positional === 0 ? cmd.commands.find((c) => c.name() === w) : undefined;
    if (sub) {
      cmd = sub;
      chain.unshift(sub);
    } else positional++;
  }
  return { cmd, chain, positional, wantsValue };
}

async function templateNames(): Promise<string[]> {
  const { loadConfig } = await import("../config/index.js");
  return Object.keys((await loadConfig()).templates).sort();
}

/** `REPO:NAME` of every image in the configured repositories. */
async function imageUris(): Promise<string[]> {
  const [{ loadConfig }, { listImages }] = await Promise.all([
    import("../config/index.js"),
    import("../image/index.js"),
  ]);
  const repos = await listImages(await loadConfig());
  return repos.flatMap((r) => r.images.map((i) => `${r.repo}:${i.name}`));
}

/** Inside an allocation there is one SLURM task per VM: vm0 … vm(N-1), no etcd round-trip needed. */
function currentVmNames(env: NodeJS.ProcessEnv): string[] {
  const n = Number(env.SLURM_NTASKS ?? env.SLURM_NPROCS ?? 0);
  return Number.isInteger(n) && n > 0 ? Array.from({ length: n }, (_, i) => `vm${i}`) : [];
}

async function positionalCandidates(kind: ArgKind, current: string): Promise<string[]> {
  if (kind === "template") return templateNames();
  if (kind === "vm") return currentVmNames(process.env);
  if (kind === "image") return imageUris();
  if (kind === "definition") {
    // after a comma, the next item of `tplA:2,tplB`
    const head = current.slice(0, current.lastIndexOf(",") + 1);
    return (await templateNames()).map((t) => `${head}${t}`);
  }
  return [];
}

/** Candidates for the word at `cword` of `words` (`words[0]` is `pcocc`), one per line. */
export async function complete(program: Command, cword: number, words: string[]): Promise<string[]> {
  const current = words[cword] ?? "";
  const { cmd, chain, positional, wantsValue } = walk(program, words.slice(1, cword));
  if (wantsValue) return [];
  let out: string[];
  if (current.startsWith("-")) {
    const flags = chain.flatMap((c) => c.options.filter((o) => !o.hidden).flatMap((o) => [o.long, o.short]));
    out = [...flags.filter((o): o is string => o !== undefined), "--help"];
  } else {
    const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden: boolean })._hidden);
    out =
      subs.length > 0 && positional === 0
        ? subs.map((c) => c.name())
        : await positionalCandidates(argKind(cmd, positional), current).catch(() => []);
  }
  return [...new Set(out)].filter((c) => c.startsWith(current));
}

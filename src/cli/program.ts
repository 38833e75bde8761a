import { Command } from "commander";
import { createRequire } from "node:module";
import { PcoccError, setVerbosity } from "../util/index.js";

type VerbModule = { register(program: Command): void };

/**
 * Every verb lives in `commands/<verb>.ts` and exports `register(program)`; verb modules only declare
 * options and import the code behind them inside their action. Only the modules of the top-level verb
 * being run are loaded (all of them for `--help` or an unknown verb), so start-up stays cheap.
 * Add one entry per verb module here.
 */
const verbs: Record<string, Array<() => Promise<VerbModule>>> = {
  template: [() => import("./commands/template.js")],
  config: [() => import("./commands/config.js")],
  image: [() => import("./commands/image.js")],
  alloc: [() => import("./commands/alloc.js")],
  batch: [() => import("./commands/batch.js")],
  ps: [() => import("./commands/ps.js")],
  ssh: [() => import("./commands/ssh.js")],
  scp: [() => import("./commands/scp.js")],
  nc: [() => import("./commands/nc.js")],
  console: [() => import("./commands/console.js")],
  reset: [() => import("./commands/reset.js")],
  "monitor-cmd": [() => import("./commands/monitor-cmd.js")],
  dump: [() => import("./commands/dump.js")],
  save: [() => import("./commands/save.js")],
  display: [() => import("./commands/display.js")],
  ckpt: [() => import("./commands/ckpt.js")],
  exec: [() => import("./commands/exec.js")],
  agent: [() => import("./commands/agent.js")],
  run: [() => import("./commands/run.js")],
  help: [() => import("./commands/help.js")],
  internal: [
    () => import("./commands/internal-launcher.js"),
    () => import("./commands/internal-run.js"),
    () => import("./commands/internal-setup.js"),
    () => import("./commands/internal-agent-relay.js"),
    () => import("./commands/internal-complete.js"),
  ],
};

/** pcocc's verbs that this version does not have: they say so instead of "unknown command". */
const NOT_BUILT = ["docker", "image cache", "agent attach"];

function addUnbuiltVerbs(program: Command): void {
  for (const path of NOT_BUILT) {
    const words = path.split(" ");
    const name = words.pop()!;
    const parent = words.reduce<Command | undefined>(
      (cmd, w) => cmd?.commands.find((c) => c.name() === w),
      program,
    );
    if (!parent || parent.commands.some((c) => c.name() === name)) continue;
    parent
      .command(name, { hidden: true })
      .argument("[args...]")
      .allowUnknownOption()
      .helpOption(false)
      .action(() => {
        throw new PcoccError(`'pcocc ${path}' is not available in this version`);
      });
  }
}

/** The top-level verb named by argv: the first argument that is not a global option. */
function requestedVerb(argv: readonly string[]): string | undefined {
  const first = argv.find((arg) => !/^-v+$|^--verbose$/.test(arg));
  return first !== undefined && Object.hasOwn(verbs, first) ? first : undefined;
}

export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const version = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;
  const program = new Command("pcocc")
    .description("Private cloud on a compute cluster: virtual clusters of VMs inside SLURM jobs")
    .version(version)
    .option("-v, --verbose", "more output; repeat for debug (-vv)", (_v, prev: number) => prev + 1, 0)
    .exitOverride()
    // usage errors in the same shape as ours; commander's exit status is mapped to 2 by main
    .configureOutput({ outputError: (text, write) => write(`pcocc: ${text.replace(/^error: /, "")}`) })
    .hook("preAction", (cmd) => setVerbosity(cmd.optsWithGlobals<{ verbose: number }>().verbose));
  const verb = requestedVerb(argv);
  const loaders = verb === undefined ? Object.values(verbs).flat() : verbs[verb]!;
  for (const mod of await Promise.all(loaders.map((load) => load()))) mod.register(program);
  addUnbuiltVerbs(program);
  return program;
}

import { Option, type Command } from "commander";
import { PcoccError } from "../../util/index.js";

interface RunFlags {
  jobid?: string;
  jobname?: string;
  nodelist?: string;
  process?: string;
  core?: string;
  user?: string | false;
  cwd?: string;
  env: string[];
  mirrorEnv?: boolean;
  pty?: boolean;
  prefix: boolean;
  [unbuilt: string]: unknown;
}

/** pcocc's container, module and host-runner options: refused, each under the flag the user typed. */
const UNBUILT: Array<[flags: string, key: string, shown: string]> = [
  ["-I, --image <image>", "image", "-I/--image"],
  ["-M, --module <module>", "module", "-M/--module"],
  ["-s, --singleton", "singleton", "-s/--singleton"],
  ["-N, --node <n>", "node", "-N/--node"],
  ["-p, --partition <partition>", "partition", "-p/--partition"],
  ["--script <path>", "script", "--script"],
  ["--mount <mount>", "mount", "--mount"],
  ["--entry-point <cmd>", "entryPoint", "--entry-point"],
  ["--path-prefix <p>", "pathPrefix", "--path-prefix"],
  ["--path-suffix <p>", "pathSuffix", "--path-suffix"],
  ["--no-defaults", "defaults", "--no-defaults"],
];

const collect = (v: string, prev: string[]) => [...prev, v];

function refuseUnbuilt(o: RunFlags): void {
  for (const [flags, key, shown] of UNBUILT) {
    if (flags.startsWith("--no-") ? o[key] === false : o[key] !== undefined)
      throw new PcoccError(`'pcocc run ${shown}' is not available in this version`);
  }
  if (o.user === false) throw new PcoccError("'pcocc run --no-user' is not available in this version");
}

/**
 * Like pcocc, `run` stops reading options at the command: `pcocc run sh -c CMD` gives `-c` to sh, and
 * `pcocc run ls -v` gives `-v` to ls (global options go before `run`). The program hands `run` all its
 * arguments in order, and `run` puts `--` before the first one that is neither an option nor its value.
 */
function stopAtCommand(program: Command, cmd: Command): void {
  const programParse = program.parseOptions.bind(program);
  program.parseOptions = (argv: string[]) => {
    const verb = argv.findIndex((arg) => !arg.startsWith("-"));
    if (argv[verb] !== cmd.name()) return programParse(argv);
    const head = programParse(argv.slice(0, verb));
    return { operands: [cmd.name()], unknown: [...head.unknown, ...argv.slice(verb + 1)] };
  };
  const parse = cmd.parseOptions.bind(cmd);
  cmd.parseOptions = (argv: string[]) => {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (arg === "--") break;
      if (!arg.startsWith("-") || arg === "-") return parse([...argv.slice(0, i), "--", ...argv.slice(i)]);
      const flag = arg.startsWith("--") ? arg.split("=")[0]! : arg.slice(0, 2);
      const opt = cmd.options.find((op) => op.long === flag || op.short === flag);
      const attached = arg.startsWith("--") ? arg.includes("=") : arg.length > 2;
      if (opt && (opt.required || opt.optional) && !attached) i++;
    }
    return parse(argv);
  };
}

export function register(program: Command): void {
  const run = program
    .command("run")
    .description("Run processes in the VMs of a cluster through their guest agents")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("-J, --jobname <name>", "name of the job of the virtual cluster")
    .option("-w, --nodelist <vms>", "VMs to run in, such as vm[0-3] (default every VM)")
    .option("-n, --process <n>", "processes, placed round-robin over the VMs (default one per VM)")
    .option(
      "-c, --core <c>",
      "guest CPUs per process: each is pinned to its own (refused beyond a VM's vCPUs)",
    )
    .option("-u, --user <user>", "run as this user in the guest (default root)")
    .option("--cwd <dir>", "working directory in the guest")
    .option("-e, --env <var>", "VAR=VALUE, VAR (copied from here) or re(REGEX); repeatable", collect, [])
    .option("--mirror-env", "give the commands this whole environment")
    .option("--pty", "run the one process in a terminal in the guest (raw mode here when on a terminal)")
    .option("--no-prefix", "do not prefix output lines with their process and VM")
    .argument("<cmd...>", "command and arguments");
  for (const [flags] of UNBUILT) run.addOption(new Option(flags).hideHelp());
  run.addOption(new Option("--no-user").hideHelp());
  stopAtCommand(program, run);
  run.action(async (argv: string[], o: RunFlags) => {
    refuseUnbuilt(o);
    const [slurm, { parseVmSet }] = await Promise.all([
      import("../../slurm/index.js"),
      import("../../vm/index.js"),
    ]);
    const processes = slurm.parseCount("-n", o.process);
    if (o.pty && processes !== undefined && processes > 1) throw slurm.ptyForOneProcess(processes);
    process.exitCode = await slurm.runInVms({
      jobId: o.jobid,
      jobName: o.jobname,
      vms: o.nodelist === undefined ? "all" : parseVmSet(o.nodelist),
      processes,
      cores: slurm.parseCount("-c", o.core),
      pty: o.pty === true,
      argv,
      guestUser: o.user === false ? undefined : o.user,
      cwd: o.cwd,
      env: slurm.buildRunEnv(o.env, o.mirrorEnv === true, process.env),
      prefix: o.prefix ? undefined : false,
    });
  });
}
